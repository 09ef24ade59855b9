package hll

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"strconv"
	"testing"
)

const defaultSparseMax = 3000

func addAll(t testing.TB, v *[]byte, prefix string, n int, sparseMax int64) {
	t.Helper()
	for i := 0; i < n; i++ {
		if _, err := Add(v, []byte(prefix+strconv.Itoa(i)), sparseMax); err != nil {
			t.Fatalf("add %d: %v", i, err)
		}
	}
}

func sha(b []byte) string {
	h := sha1.Sum(b)
	return hex.EncodeToString(h[:])
}

// TestGolden compares values and estimates with what redis-server 7.0.15
// stored and replied for the same adds (PFADD one element at a time, then
// PFCOUNT, which caches the estimate in the header).
func TestGolden(t *testing.T) {
	if got := New(); !bytes.Equal(got, []byte("HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x7f\xff")) {
		t.Fatalf("New() = %q", got)
	}

	v := New()
	for _, e := range []string{"a", "b", "c"} {
		if _, err := Add(&v, []byte(e), defaultSparseMax); err != nil {
			t.Fatal(err)
		}
	}
	want := "HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80`\xf3\x80P\xb1\x84K\xfb\x80BZ"
	if string(v) != want {
		t.Fatalf("a b c: %q, want %q", v, want)
	}
	if d := Decode(v); d != "Z:8436 v:1,1 Z:4274 v:2,1 Z:3068 v:1,1 Z:603" {
		t.Fatalf("decode: %s", d)
	}
	if n, err := Count(v); err != nil || n != 3 {
		t.Fatalf("count = %d, %v", n, err)
	}

	for _, tc := range []struct {
		prefix       string
		n            int
		enc          string
		card         uint64
		before, hash string // the value's SHA1 before and after the cached count
		length       int
	}{
		{"e", 1000, "sparse", 1008, "26dc3c41142e0317d54eb6adc1e29ccff5ca6941", "5b90d5bb9790139af3f5b0b6e8ffc2ab1fcc86da", 1906},
		{"x", 20000, "dense", 19985, "", "8cb1da29bbe00263daa09555f3dfdeb82a694020", DenseSize},
	} {
		v := New()
		addAll(t, &v, tc.prefix, tc.n, defaultSparseMax)
		if IsDense(v) {
			// PFADD invalidates the cache of a dense value once per command.
			InvalidateCache(v)
		}
		if Encoding(v) != tc.enc || len(v) != tc.length {
			t.Fatalf("%s%d: %s, %d bytes; want %s, %d", tc.prefix, tc.n, Encoding(v), len(v), tc.enc, tc.length)
		}
		if tc.before != "" && sha(v) != tc.before {
			t.Fatalf("%s%d: value differs from redis-server's", tc.prefix, tc.n)
		}
		if _, ok := CachedCard(v); ok {
			t.Fatalf("%s%d: cache still valid after adds", tc.prefix, tc.n)
		}
		card, err := Count(v)
		if err != nil || card != tc.card {
			t.Fatalf("%s%d: count %d, %v; want %d", tc.prefix, tc.n, card, err, tc.card)
		}
		SetCachedCard(v, card)
		if got, ok := CachedCard(v); !ok || got != card {
			t.Fatalf("cached %d %v", got, ok)
		}
		if sha(v) != tc.hash {
			t.Fatalf("%s%d: value with cached count differs from redis-server's", tc.prefix, tc.n)
		}
	}
}

func TestMurmurHash64A(t *testing.T) {
	// Every tail length, against the reference algorithm written out
	// bytewise here.
	ref := func(key []byte, seed uint64) uint64 {
		const m = 0xc6a4a7935bd1e995
		h := seed ^ uint64(len(key))*m
		i := 0
		for ; i+8 <= len(key); i += 8 {
			var k uint64
			for j := 7; j >= 0; j-- {
				k = k<<8 | uint64(key[i+j])
			}
			k *= m
			k ^= k >> 47
			k *= m
			h ^= k
			h *= m
		}
		if rest := key[i:]; len(rest) > 0 {
			for j := len(rest) - 1; j >= 0; j-- {
				h ^= uint64(rest[j]) << (8 * j)
			}
			h *= m
		}
		h ^= h >> 47
		h *= m
		h ^= h >> 47
		return h
	}
	key := []byte("the quick brown fox jumps")
	for n := 0; n <= len(key); n++ {
		if got, want := MurmurHash64A(key[:n], hashSeed), ref(key[:n], hashSeed); got != want {
			t.Errorf("len %d: %x, want %x", n, got, want)
		}
	}
}

func TestDenseRegisters(t *testing.T) {
	regs := make([]byte, DenseSize-HeaderSize)
	r := rand.New(rand.NewPCG(1, 2))
	want := make([]uint8, Registers)
	for round := 0; round < 20; round++ {
		for i := range want {
			want[i] = uint8(r.IntN(64))
			DenseSetReg(regs, i, want[i])
		}
		for i := range want {
			if got := DenseGet(regs, i); got != want[i] {
				t.Fatalf("register %d: %d, want %d", i, got, want[i])
			}
		}
	}
}

// TestSparseDenseAgree adds the same elements to a sparse and a dense
// value: the estimates must be identical at every size, and the sparse
// one must turn dense past hll-sparse-max-bytes with the same registers.
func TestSparseDenseAgree(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, sparseMax := range []int64{0, 100, 3000, 20000} {
		sparse := New()
		dense := New()
		if err := SparseToDense(&dense); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 5000; i++ {
			e := []byte(strconv.FormatUint(r.Uint64(), 36))
			c1, err := Add(&sparse, e, sparseMax)
			if err != nil {
				t.Fatal(err)
			}
			c2, _ := Add(&dense, e, sparseMax)
			if c1 != c2 {
				t.Fatalf("max %d, add %d: sparse changed %v, dense %v", sparseMax, i, c1, c2)
			}
			if !IsDense(sparse) && int64(len(sparse)) > max(sparseMax, 18) {
				t.Fatalf("max %d: sparse value of %d bytes", sparseMax, len(sparse))
			}
			if i%97 == 0 {
				n1, err1 := Count(sparse)
				n2, err2 := Count(dense)
				if err1 != nil || err2 != nil || n1 != n2 {
					t.Fatalf("max %d, add %d: sparse %d %v, dense %d %v", sparseMax, i, n1, err1, n2, err2)
				}
			}
		}
		var a, b [Registers]uint8
		if Merge(&a, sparse) != nil || Merge(&b, dense) != nil || a != b {
			t.Fatalf("max %d: registers differ", sparseMax)
		}
		if got, want := CountRegisters(&a), mustCount(t, dense); got != want {
			t.Fatalf("raw count %d, dense %d", got, want)
		}
		if IsDense(sparse) {
			// A promoted value keeps its header bytes.
			if !bytes.Equal(sparse[HeaderSize:], dense[HeaderSize:]) {
				t.Fatalf("max %d: promoted registers differ", sparseMax)
			}
		}
	}
}

func mustCount(t *testing.T, v []byte) uint64 {
	t.Helper()
	n, err := Count(v)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestEstimateError(t *testing.T) {
	v := New()
	checkpoint := 10
	for i := 1; i <= 200000; i++ {
		if _, err := Add(&v, []byte("el:"+strconv.Itoa(i)), defaultSparseMax); err != nil {
			t.Fatal(err)
		}
		if i == checkpoint {
			n := float64(mustCount(t, v))
			if d := n - float64(i); d > 0.05*float64(i)+1 || d < -0.05*float64(i)-1 {
				t.Errorf("cardinality %d estimated %v", i, n)
			}
			checkpoint *= 10
		}
	}
}

func TestCorrupted(t *testing.T) {
	base := New()
	addAll(t, &base, "c", 50, defaultSparseMax)
	for _, tc := range []struct {
		name  string
		value []byte
		valid bool
	}{
		{"short", []byte("HYLL\x01"), false},
		{"magic", append([]byte("HYLX"), base[4:]...), false},
		{"encoding", append([]byte("HYLL\x02"), base[5:]...), false},
		{"dense length", append([]byte("HYLL\x00"), base[5:]...), false},
		{"tail", append(append([]byte(nil), base...), "hello"...), true},
		{"missing", base[:len(base)-1], true},
		{"cut xzero", append(append([]byte(nil), base[:HeaderSize]...), 0x40), true},
		{"too many", append(append([]byte(nil), base...), 0x7f, 0xff), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if Valid(tc.value) != tc.valid {
				t.Fatalf("Valid = %v", !tc.valid)
			}
			if !tc.valid {
				return
			}
			if _, err := Count(tc.value); !errors.Is(err, ErrInvalid) {
				t.Errorf("Count: %v", err)
			}
			var regs [Registers]uint8
			if err := Merge(&regs, tc.value); !errors.Is(err, ErrInvalid) {
				t.Errorf("Merge: %v", err)
			}
			v := append([]byte(nil), tc.value...)
			if err := SparseToDense(&v); !errors.Is(err, ErrInvalid) {
				t.Errorf("SparseToDense: %v", err)
			}
		})
	}
}

// FuzzHLL feeds arbitrary bytes behind a valid header to every decoder
// and to updates: nothing may panic, a value that decodes must count the
// same sparse and dense, and updates must leave a value that Valid
// accepts.
func FuzzHLL(f *testing.F) {
	v := New()
	f.Add(v[HeaderSize:], []byte("a"), uint16(3000))
	addAll(f, &v, "s", 300, defaultSparseMax)
	f.Add(v[HeaderSize:], []byte("b"), uint16(3000))
	f.Add([]byte{0x40}, []byte("x"), uint16(10))
	f.Add([]byte{0x7f, 0xff, 0x80, 0x81}, []byte("yy"), uint16(20))
	f.Fuzz(func(t *testing.T, body, ele []byte, sparseMax uint16) {
		val := append([]byte("HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80"), body...)
		if !Valid(val) {
			t.Fatal("a sparse header is always valid")
		}
		_ = Decode(val)
		n, cerr := Count(val)
		var regs [Registers]uint8
		merr := Merge(&regs, val)
		dense := append([]byte(nil), val...)
		derr := SparseToDense(&dense)
		if (cerr == nil) != (merr == nil) {
			t.Fatalf("Count %v, Merge %v", cerr, merr)
		}
		if derr == nil {
			if len(dense) != DenseSize || !Valid(dense) {
				t.Fatalf("dense value of %d bytes", len(dense))
			}
			var dregs [Registers]uint8
			if Merge(&dregs, dense) != nil || (merr == nil && dregs != regs) {
				t.Fatal("dense registers differ from the sparse ones")
			}
			if cerr == nil && mustCount(t, dense) != n {
				t.Fatal("dense and sparse estimates differ")
			}
		}
		upd := append([]byte(nil), val...)
		for i := 0; i < 3; i++ {
			e := append(ele, byte(i))
			if _, err := Add(&upd, e, int64(sparseMax)); err != nil {
				break
			}
			if !Valid(upd) {
				t.Fatalf("update left an invalid value %q", upd)
			}
			if !IsDense(upd) && int64(len(upd)) > max(int64(sparseMax), int64(len(val))) {
				t.Fatalf("sparse value grew to %d bytes past %d", len(upd), sparseMax)
			}
		}
	})
}
