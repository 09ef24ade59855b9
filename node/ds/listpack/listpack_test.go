package listpack

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// goldenCase is a sequence of hash operations run both on a real
// redis-server 7.0.15 (whose hash listpack is then DUMPed) and on a
// Listpack with the operations a listpack-encoded hash performs.
type goldenCase struct {
	name string
	ops  [][2]string // {field, value}; value "\x00del" deletes the field
	// fresh says every set adds a new field, so the replay can skip the
	// quadratic search (the many-entries cases).
	fresh bool
}

const delOp = "\x00del"

func repeat(c byte, n int) string { return strings.Repeat(string(c), n) }

func goldenCases() []goldenCase {
	ints := []string{"0", "1", "127", "128", "-1", "-4096", "4095", "4096", "-4097",
		"32767", "-32768", "32768", "-32769", "8388607", "-8388608", "8388608", "-8388609",
		"2147483647", "-2147483648", "2147483648", "-2147483649",
		"9223372036854775807", "-9223372036854775808"}
	notInts := []string{"01", "-0", "+1", " 1", "1 ", "9223372036854775808",
		"-9223372036854775809", "", "12345678901234567890", "1.5", "0x10", "-"}
	var cs []goldenCase
	add := func(name string, vals []string) {
		c := goldenCase{name: name}
		for i, v := range vals {
			c.ops = append(c.ops, [2]string{"f" + strconv.Itoa(i), v})
		}
		cs = append(cs, c)
	}
	add("ints", ints)
	add("not-ints", notInts)
	var lens []string
	for _, n := range []int{1, 62, 63, 64, 65, 123, 124, 125, 126, 127, 128, 4093, 4094, 4095, 4096, 4097,
		16376, 16377, 16378, 16379, 16380, 16381, 16382, 16383} {
		lens = append(lens, repeat('a'+byte(n%26), n))
	}
	add("string-lengths", lens)
	// Fields that are integers, and overwrites that change the size.
	cs = append(cs, goldenCase{name: "replace", ops: [][2]string{
		{"1", "a"}, {"2", "b"}, {"-5000", "c"}, {"1", repeat('x', 100)}, {"2", "12"},
		{"1", "7"}, {"-5000", repeat('y', 5000)}, {"-5000", "z"}, {"big", "-9223372036854775808"},
	}})
	cs = append(cs, goldenCase{name: "delete", ops: [][2]string{
		{"a", "1"}, {"b", "2"}, {"c", repeat('q', 300)}, {"d", "4"}, {"b", delOp},
		{"a", delOp}, {"e", "5"}, {"d", delOp}, {"c", delOp},
	}})
	// More than 65535 entries: the header count saturates.
	many := goldenCase{name: "many-entries", fresh: true}
	for i := 0; i < 33000; i++ {
		many.ops = append(many.ops, [2]string{"k" + strconv.Itoa(i), strconv.Itoa(i * 7)})
	}
	cs = append(cs, many)
	shrink := goldenCase{name: "count-back-below-65535", fresh: true}
	shrink.ops = append(shrink.ops, many.ops...)
	for i := 0; i < 1000; i++ {
		shrink.ops = append(shrink.ops, [2]string{"k" + strconv.Itoa(i), delOp})
	}
	cs = append(cs, shrink)
	return cs
}

// applyHash performs the ops as a listpack-encoded hash does.
func applyHash(ops [][2]string, fresh bool) Listpack {
	lp := New()
	for _, op := range ops {
		f, v := []byte(op[0]), []byte(op[1])
		p := -1
		if first := lp.First(); first >= 0 && (!fresh || op[1] == delOp) {
			p = lp.Find(first, f, 1)
		}
		switch {
		case op[1] == delOp:
			if p >= 0 {
				lp.DeleteAt(p, 2)
				// HDEL asks the length to delete an empty hash, and
				// lpLength stores a count that fits again.
				lp.Len()
			}
		case p >= 0:
			lp.Replace(lp.Next(p), v)
		default:
			lp.Append(f)
			lp.Append(v)
		}
	}
	return lp
}

func digest(b []byte) string {
	if len(b) <= 512 {
		return hex.EncodeToString(b)
	}
	sum := sha256.Sum256(b)
	return fmt.Sprintf("sha256:%x:%d", sum, len(b))
}

const goldenFile = "testdata/redis-7.0.15-hash-listpacks.txt"

// TestGoldenRedisBytes compares listpacks built here with the bytes real
// redis-server 7.0.15 holds for the same hash operations. Regenerate with
// LISTPACK_REGEN=1 (needs redis-server on PATH).
func TestGoldenRedisBytes(t *testing.T) {
	if os.Getenv("LISTPACK_REGEN") != "" {
		regenerate(t)
	}
	f, err := os.Open(goldenFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, d, ok := strings.Cut(sc.Text(), " ")
		if ok {
			want[name] = d
		}
	}
	for _, c := range goldenCases() {
		t.Run(c.name, func(t *testing.T) {
			w, ok := want[c.name]
			if !ok {
				t.Fatalf("no golden bytes for %s", c.name)
			}
			lp := applyHash(c.ops, c.fresh)
			if got := digest(lp); got != w {
				t.Fatalf("bytes differ from redis-server:\n got %s\nwant %s", got, w)
			}
			if err := Validate(lp, nil); err != nil {
				t.Fatalf("our own listpack does not validate: %v", err)
			}
		})
	}
}

func regenerate(t *testing.T) {
	port := 17000 + rand.IntN(900)
	dir := t.TempDir()
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--dir", dir, "--rdbcompression", "no",
		"--hash-max-listpack-entries", "100000", "--hash-max-listpack-value", "100000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	rc := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port), Protocol: 2, ReadTimeout: 5 * time.Minute})
	defer rc.Close()
	ctx := context.Background()
	deadline := time.Now().Add(10 * time.Second)
	for rc.Ping(ctx).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatal("redis-server did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	var out bytes.Buffer
	for _, c := range goldenCases() {
		rc.Del(ctx, "h")
		pipe := rc.Pipeline()
		for _, op := range c.ops {
			if op[1] == delOp {
				pipe.HDel(ctx, "h", op[0])
			} else {
				pipe.HSet(ctx, "h", op[0], op[1])
			}
		}
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if enc := rc.ObjectEncoding(ctx, "h").Val(); enc != "listpack" {
			t.Fatalf("%s: encoding %s", c.name, enc)
		}
		dump, err := rc.Dump(ctx, "h").Result()
		if err != nil {
			t.Fatal(err)
		}
		lp, err := dumpListpack([]byte(dump))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		fmt.Fprintf(&out, "%s %s\n", c.name, digest(lp))
	}
	if err := os.WriteFile(goldenFile, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// dumpListpack extracts the listpack of a DUMP payload of a hash
// (RDB type 16, uncompressed string).
func dumpListpack(d []byte) ([]byte, error) {
	if len(d) < 2 || d[0] != 16 {
		return nil, errors.New("not a hash listpack dump")
	}
	d = d[1:]
	var n uint64
	switch d[0] >> 6 {
	case 0:
		n, d = uint64(d[0]&0x3f), d[1:]
	case 1:
		n, d = uint64(d[0]&0x3f)<<8|uint64(d[1]), d[2:]
	case 2:
		if d[0] == 0x80 {
			n = uint64(d[1])<<24 | uint64(d[2])<<16 | uint64(d[3])<<8 | uint64(d[4])
			d = d[5:]
		} else {
			n = 0
			for i := 1; i <= 8; i++ {
				n = n<<8 | uint64(d[i])
			}
			d = d[9:]
		}
	default:
		return nil, errors.New("compressed or special string encoding")
	}
	if uint64(len(d)) < n {
		return nil, errors.New("short dump")
	}
	return d[:n], nil
}

func TestStringToInt64(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"-0", 0, false}, {"00", 0, false}, {"1", 1, true}, {"-1", -1, true},
		{"9223372036854775807", 9223372036854775807, true},
		{"9223372036854775808", 0, false},
		{"-9223372036854775808", -9223372036854775808, true},
		{"-9223372036854775809", 0, false},
		{"18446744073709551616", 0, false}, {"", 0, false}, {"-", 0, false},
		{"+5", 0, false}, {"5 ", 0, false}, {"012", 0, false}, {"123456789012345678901", 0, false},
	}
	for _, tt := range tests {
		got, ok := StringToInt64([]byte(tt.in))
		if ok != tt.ok || got != tt.want {
			t.Errorf("StringToInt64(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// model checks a Listpack against a plain slice of strings.
func checkModel(t *testing.T, lp Listpack, model []string) {
	t.Helper()
	if err := Validate(lp, nil); err != nil {
		t.Fatalf("invalid: %v", err)
	}
	if lp.Len() != len(model) {
		t.Fatalf("Len %d, model %d", lp.Len(), len(model))
	}
	got := lp.Entries()
	for i := range model {
		if got[i] != model[i] {
			t.Fatalf("entry %d = %q, want %q", i, got[i], model[i])
		}
	}
	// Walk backwards too.
	i := len(model) - 1
	for p := lp.Last(); p >= 0; p = lp.Prev(p) {
		if s := lp.Get(p).String(); s != model[i] {
			t.Fatalf("backward entry %d = %q, want %q", i, s, model[i])
		}
		i--
	}
	if i != -1 {
		t.Fatalf("backward walk stopped at %d", i)
	}
	for _, idx := range []int{0, len(model) / 2, len(model) - 1, -1, -len(model)} {
		if len(model) == 0 {
			break
		}
		j := idx
		if j < 0 {
			j += len(model)
		}
		if s := lp.Get(lp.Seek(idx)).String(); s != model[j] {
			t.Fatalf("Seek(%d) = %q, want %q", idx, s, model[j])
		}
	}
	if lp.Seek(len(model)) != -1 || lp.Seek(-len(model)-1) != -1 {
		t.Fatal("Seek out of range found something")
	}
}

func randValue(r *rand.Rand) string {
	switch r.IntN(6) {
	case 0:
		return strconv.Itoa(r.IntN(300) - 150)
	case 1:
		return strconv.FormatInt(int64(r.Uint64()), 10)
	case 2:
		return repeat('a'+byte(r.IntN(26)), r.IntN(70))
	case 3:
		return repeat('b', 4090+r.IntN(10))
	case 4:
		return strconv.Itoa(r.IntN(1 << 24))
	default:
		return fmt.Sprintf("v%d", r.IntN(1000))
	}
}

func TestRandomOpsAgainstModel(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	lp := New()
	var model []string
	for step := 0; step < 3000; step++ {
		v := randValue(r)
		switch op := r.IntN(8); {
		case op == 0:
			lp.Append([]byte(v))
			model = append(model, v)
		case op == 1:
			lp.Prepend([]byte(v))
			model = append([]string{v}, model...)
		case op == 2 && len(model) > 0:
			i := r.IntN(len(model))
			where := Where(r.IntN(2))
			lp.Insert(lp.Seek(i), where, []byte(v))
			j := i + int(where)
			model = append(model[:j], append([]string{v}, model[j:]...)...)
		case op == 3 && len(model) > 0:
			i := r.IntN(len(model))
			lp.Replace(lp.Seek(i), []byte(v))
			model[i] = v
		case op == 4 && len(model) > 0:
			i := r.IntN(len(model))
			next := lp.Delete(lp.Seek(i))
			model = append(model[:i], model[i+1:]...)
			if i < len(model) && lp.Get(next).String() != model[i] {
				t.Fatal("Delete returned the wrong next position")
			}
			if i == len(model) && next != -1 {
				t.Fatal("Delete of the last entry returned a position")
			}
		case op == 5 && len(model) > 0:
			i := r.IntN(len(model))
			n := r.IntN(4)
			lp.DeleteRange(i, n)
			model = append(model[:i], model[min(i+n, len(model)):]...)
		case op == 6 && len(model) > 0:
			want := model[r.IntN(len(model))]
			p := lp.Find(lp.First(), []byte(want), 0)
			if p < 0 || lp.Get(p).String() != want {
				t.Fatalf("Find(%q) = %d", want, p)
			}
		case op == 7:
			n, _ := strconv.ParseInt(v, 10, 64)
			lp.AppendInt(n)
			model = append(model, strconv.FormatInt(n, 10))
		}
		if step%50 == 0 {
			checkModel(t, lp, model)
		}
	}
	checkModel(t, lp, model)
}

func TestMerge(t *testing.T) {
	for _, sizes := range [][2]int{{0, 0}, {3, 0}, {0, 3}, {5, 50}, {50, 5}} {
		a, b := New(), New()
		var model []string
		for i := 0; i < sizes[0]; i++ {
			a.Append([]byte("a" + strconv.Itoa(i)))
			model = append(model, "a"+strconv.Itoa(i))
		}
		for i := 0; i < sizes[1]; i++ {
			b.AppendInt(int64(i * 1000))
			model = append(model, strconv.Itoa(i*1000))
		}
		checkModel(t, Merge(a, b), model)
	}
}

func TestValidateRejects(t *testing.T) {
	good := New()
	good.Append([]byte("hello"))
	good.AppendInt(1 << 40)
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"short", []byte{7, 0, 0, 0, 0}},
		{"total mismatch", append(good.Clone(), 0xFF)},
		{"no terminator", func() []byte { b := good.Clone(); b[len(b)-1] = 0; return b }()},
		{"bad count", func() []byte { b := good.Clone(); b[4] = 3; return b }()},
		{"bad backlen", func() []byte { b := good.Clone(); b[HeaderSize+6] = 9; return b }()},
		{"string too long", func() []byte { b := good.Clone(); b[HeaderSize] = 0x80 | 60; return b }()},
		{"bad encoding", func() []byte { b := good.Clone(); b[HeaderSize] = 0xF5; return b }()},
	}
	if err := Validate(good, nil); err != nil {
		t.Fatalf("good listpack rejected: %v", err)
	}
	for _, tt := range tests {
		if err := Validate(tt.b, nil); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: Validate = %v, want ErrCorrupt", tt.name, err)
		}
	}
	stop := errors.New("stop")
	if err := Validate(good, func(Entry) error { return stop }); err != stop {
		t.Errorf("callback error not returned: %v", err)
	}
}

// FuzzValidate feeds arbitrary bytes to Validate; whatever it accepts
// must then be safe to walk, read and change.
func FuzzValidate(f *testing.F) {
	for _, c := range goldenCases() {
		if lp := applyHash(c.ops, c.fresh); len(lp) < 4096 {
			f.Add([]byte(lp))
		}
	}
	f.Add([]byte(New()))
	f.Fuzz(func(t *testing.T, b []byte) {
		var n int
		if err := Validate(b, func(Entry) error { n++; return nil }); err != nil {
			return
		}
		lp := Listpack(append([]byte(nil), b...))
		if lp.Len() != n {
			t.Fatalf("Len %d, validated %d", lp.Len(), n)
		}
		fwd := lp.Entries()
		var back []string
		for p := lp.Last(); p >= 0; p = lp.Prev(p) {
			back = append(back, lp.Get(p).String())
		}
		if len(back) != len(fwd) {
			t.Fatalf("forward %d entries, backward %d", len(fwd), len(back))
		}
		for i := range fwd {
			if fwd[i] != back[len(back)-1-i] {
				t.Fatal("forward and backward walks differ")
			}
		}
		for i := range fwd {
			if s := lp.Get(lp.Seek(i)).String(); s != fwd[i] {
				t.Fatalf("Seek(%d) = %q, want %q", i, s, fwd[i])
			}
		}
		if n > 0 {
			lp.Replace(lp.First(), []byte("x"))
			lp.Delete(lp.Last())
			lp.Append([]byte("tail"))
			if err := Validate(lp, nil); err != nil {
				t.Fatalf("changed listpack invalid: %v", err)
			}
		}
	})
}

func BenchmarkFindField(b *testing.B) {
	lp := New()
	for i := 0; i < 64; i++ {
		lp.Append([]byte("field:" + strconv.Itoa(i)))
		lp.Append([]byte("value:" + strconv.Itoa(i)))
	}
	key := []byte("field:63")
	for b.Loop() {
		if lp.Find(lp.First(), key, 1) < 0 {
			b.Fatal("not found")
		}
	}
}

// TestGrowReservesRoom: after Grow, inserts of the reserved size do not
// reallocate, and the room is not given back while it is being filled.
func TestGrowReservesRoom(t *testing.T) {
	vals := []string{"field", "12", "a longer value than the others", "-70000", "x"}
	need := 0
	for _, v := range vals {
		need += EntrySize([]byte(v))
	}
	for _, lp := range []Listpack{nil, NewCap(HeaderSize + 1 + need), New()} {
		lp.Grow(need)
		base := &lp[:1][0]
		for i, v := range vals {
			if i%2 == 0 {
				lp.Append([]byte(v))
			} else {
				lp.Prepend([]byte(v))
			}
			if &lp[0] != base {
				t.Fatalf("insert %d reallocated inside the reserved room", i)
			}
		}
		if len(lp) != HeaderSize+1+need {
			t.Fatalf("listpack is %d bytes, want %d", len(lp), HeaderSize+1+need)
		}
		if err := Validate(lp, nil); err != nil {
			t.Fatal(err)
		}
	}
}
