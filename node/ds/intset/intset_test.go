package intset

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func build(vals ...int64) []byte {
	is := New()
	for _, v := range vals {
		is, _ = Add(is, v)
	}
	return is
}

// The blobs below are the intset payloads of DUMP replies from
// redis-server 7.0.15 (RDB type 11): SADD s1 3 1 2, SADD s2 -5 70000 1,
// SADD s3 1 5000000000 -2.
func TestGoldenLayout(t *testing.T) {
	tests := []struct {
		name string
		vals []int64
		want []byte
	}{
		{"int16", []int64{3, 1, 2}, []byte("\x02\x00\x00\x00\x03\x00\x00\x00\x01\x00\x02\x00\x03\x00")},
		{"int32", []int64{-5, 70000, 1}, []byte("\x04\x00\x00\x00\x03\x00\x00\x00\xfb\xff\xff\xff\x01\x00\x00\x00p\x11\x01\x00")},
		{"int64", []int64{1, 5000000000, -2}, []byte("\x08\x00\x00\x00\x03\x00\x00\x00\xfe\xff\xff\xff\xff\xff\xff\xff\x01\x00\x00\x00\x00\x00\x00\x00\x00\xf2\x05*\x01\x00\x00\x00")},
		{"empty", nil, []byte("\x02\x00\x00\x00\x00\x00\x00\x00")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := build(tt.vals...)
			if !bytes.Equal(got, tt.want) {
				t.Fatalf("blob = %q, want %q", got, tt.want)
			}
			if BlobLen(got) != len(tt.want) {
				t.Fatalf("BlobLen = %d, want %d", BlobLen(got), len(tt.want))
			}
		})
	}
}

func TestAddRemoveFind(t *testing.T) {
	is := New()
	var added bool
	if is, added = Add(is, 5); !added {
		t.Fatal("first add of 5 not reported")
	}
	if _, added = Add(is, 5); added {
		t.Fatal("second add of 5 reported as added")
	}
	is, _ = Add(is, -1)
	is, _ = Add(is, 10)
	if got := Len(is); got != 3 {
		t.Fatalf("Len = %d, want 3", got)
	}
	for _, tt := range []struct {
		v    int64
		want bool
	}{{5, true}, {-1, true}, {10, true}, {0, false}, {math.MaxInt64, false}, {math.MinInt32, false}} {
		if got := Find(is, tt.v); got != tt.want {
			t.Errorf("Find(%d) = %v, want %v", tt.v, got, tt.want)
		}
	}
	var removed bool
	if is, removed = Remove(is, 5); !removed {
		t.Fatal("Remove(5) reported missing")
	}
	if _, removed = Remove(is, 5); removed {
		t.Fatal("Remove(5) twice reported present")
	}
	if _, removed = Remove(is, 1<<40); removed {
		t.Fatal("Remove of a wider value reported present")
	}
	if got := []int64{Get(is, 0), Get(is, 1)}; !slices.Equal(got, []int64{-1, 10}) {
		t.Fatalf("elements = %v, want [-1 10]", got)
	}
}

func TestUpgradeKeepsOrder(t *testing.T) {
	tests := []struct {
		start []int64
		add   int64
		enc   int
	}{
		{[]int64{1, 2}, 40000, Enc32},
		{[]int64{1, 2}, -40000, Enc32},
		{[]int64{1, 2}, 1 << 40, Enc64},
		{[]int64{1, 70000}, -(1 << 40), Enc64},
	}
	for _, tt := range tests {
		is := build(tt.start...)
		is, _ = Add(is, tt.add)
		if Encoding(is) != tt.enc {
			t.Errorf("after adding %d: encoding %d, want %d", tt.add, Encoding(is), tt.enc)
		}
		want := slices.Sorted(slices.Values(append(slices.Clone(tt.start), tt.add)))
		var got []int64
		Each(is, func(v int64) bool { got = append(got, v); return true })
		if !slices.Equal(got, want) {
			t.Errorf("after adding %d: %v, want %v", tt.add, got, want)
		}
		if err := Validate(is, true); err != nil {
			t.Errorf("after adding %d: %v", tt.add, err)
		}
	}
}

// TestRandomOps checks the set against a map under random adds and
// removes across all three encodings.
func TestRandomOps(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	is := New()
	ref := map[int64]bool{}
	for i := 0; i < 20000; i++ {
		var v int64
		switch r.IntN(3) {
		case 0:
			v = int64(r.IntN(200)) - 100
		case 1:
			v = int64(r.Int32()) - math.MaxInt32/2
		default:
			v = int64(r.Uint64())
		}
		if r.IntN(3) == 0 {
			var ok bool
			is, ok = Remove(is, v)
			if ok != ref[v] {
				t.Fatalf("Remove(%d) = %v, want %v", v, ok, ref[v])
			}
			delete(ref, v)
		} else {
			var ok bool
			is, ok = Add(is, v)
			if ok == ref[v] {
				t.Fatalf("Add(%d) = %v with present=%v", v, ok, ref[v])
			}
			ref[v] = true
		}
	}
	if Len(is) != len(ref) {
		t.Fatalf("Len = %d, want %d", Len(is), len(ref))
	}
	prev := int64(math.MinInt64)
	for i := 0; i < Len(is); i++ {
		v := Get(is, i)
		if !ref[v] || (i > 0 && v <= prev) {
			t.Fatalf("element %d = %d: unknown or out of order", i, v)
		}
		prev = v
	}
}

func TestValidate(t *testing.T) {
	good := build(1, 2, 3)
	tests := []struct {
		name string
		b    []byte
		deep bool
		ok   bool
	}{
		{"good", good, true, true},
		{"short", good[:5], false, false},
		{"bad encoding", append([]byte{3, 0, 0, 0}, good[4:]...), false, false},
		{"length mismatch", good[:len(good)-1], false, false},
		{"empty", New(), false, false},
		{"unsorted shallow", []byte("\x02\x00\x00\x00\x02\x00\x00\x00\x02\x00\x01\x00"), false, true},
		{"unsorted deep", []byte("\x02\x00\x00\x00\x02\x00\x00\x00\x02\x00\x01\x00"), true, false},
		{"duplicate deep", []byte("\x02\x00\x00\x00\x02\x00\x00\x00\x01\x00\x01\x00"), true, false},
		{"huge length", []byte("\x08\x00\x00\x00\xff\xff\xff\xff"), true, false},
	}
	for _, tt := range tests {
		err := Validate(tt.b, tt.deep)
		if (err == nil) != tt.ok {
			t.Errorf("%s: Validate = %v, want ok=%v", tt.name, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: error %v is not ErrCorrupt", tt.name, err)
		}
	}
}

func TestRemoveShrinks(t *testing.T) {
	is := New()
	for i := int64(0); i < 1000; i++ {
		is, _ = Add(is, i)
	}
	for i := int64(0); i < 990; i++ {
		is, _ = Remove(is, i)
	}
	if cap(is) > 4*BlobLen(is) && cap(is) > 64 {
		t.Fatalf("capacity %d kept for a %d-byte set", cap(is), BlobLen(is))
	}
}

// FuzzValidate feeds arbitrary blobs to Validate and, for the ones it
// accepts, checks that every read stays in bounds and the set is sorted.
func FuzzValidate(f *testing.F) {
	f.Add(build(1, 2, 3))
	f.Add(build(-5, 70000, 1))
	f.Add(build(1, 5000000000, -2))
	f.Add([]byte("\x02\x00\x00\x00\x01\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if Validate(b, true) != nil {
			return
		}
		n := Len(b)
		for i := 1; i < n; i++ {
			if Get(b, i) <= Get(b, i-1) {
				t.Fatalf("validated blob not ascending at %d", i)
			}
		}
		c := Clone(b)
		for i := 0; i < n; i++ {
			if !Find(c, Get(b, i)) {
				t.Fatalf("element %d not found", i)
			}
		}
		c, _ = Add(c, math.MinInt64)
		if Validate(c, true) != nil {
			t.Fatalf("adding to a valid set made it invalid")
		}
	})
}
