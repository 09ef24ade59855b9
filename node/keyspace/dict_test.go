package keyspace

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
)

func str(s string) Object { return Object{Type: TypeString, Str: []byte(s)} }

func TestSetLookupDelete(t *testing.T) {
	d := New()
	const n = 5000
	for i := 0; i < n; i++ {
		if _, isNew := d.Set([]byte(fmt.Sprint("k", i)), str(fmt.Sprint(i)), false); !isNew {
			t.Fatalf("key %d not new", i)
		}
	}
	if d.Len() != n {
		t.Fatalf("Len = %d", d.Len())
	}
	for i := 0; i < n; i += 2 {
		if _, ok := d.Delete([]byte(fmt.Sprint("k", i))); !ok {
			t.Fatalf("delete %d failed", i)
		}
	}
	for i := 0; i < n; i++ {
		o, _ := d.Lookup([]byte(fmt.Sprint("k", i)))
		if (o != nil) != (i%2 == 1) {
			t.Fatalf("key %d presence wrong", i)
		}
		if o != nil && string(o.Str) != fmt.Sprint(i) {
			t.Fatalf("key %d value %q", i, o.Str)
		}
	}
	// The empty key is a valid key.
	d.Set(nil, str("empty"), false)
	if o, _ := d.Lookup([]byte{}); o == nil || string(o.Str) != "empty" {
		t.Fatal("empty key lost")
	}
	seen := 0
	d.Each(func(KeyRef) bool { seen++; return true })
	if seen != d.Len() {
		t.Fatalf("Each saw %d of %d", seen, d.Len())
	}
}

func TestExpireVolatile(t *testing.T) {
	d := New()
	for i := 0; i < 100; i++ {
		d.Set([]byte(fmt.Sprint(i)), str("v"), false)
	}
	for i := 0; i < 100; i += 3 {
		d.SetExpire([]byte(fmt.Sprint(i)), int64(1000+i))
	}
	if d.VolatileLen() != 34 {
		t.Fatalf("volatile = %d", d.VolatileLen())
	}
	d.Delete([]byte("0"))
	d.Set([]byte("3"), str("x"), false) // overwrite drops the TTL
	d.Set([]byte("6"), str("x"), true)  // KEEPTTL keeps it
	if d.VolatileLen() != 32 {
		t.Fatalf("volatile after delete/overwrite = %d", d.VolatileLen())
	}
	if _, exp := d.Lookup([]byte("6")); exp != 1006 {
		t.Fatalf("KEEPTTL lost expiry: %d", exp)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 100; i++ {
		k, ok := d.RandomVolatile(r)
		if !ok || k.Expire == 0 {
			t.Fatal("RandomVolatile returned a persistent key")
		}
	}
}

// TestScanGuarantee checks Redis's SCAN contract: every key present for the
// whole iteration is returned, while the table grows and shrinks under it.
func TestScanGuarantee(t *testing.T) {
	d := New()
	for i := 0; i < 1000; i++ {
		d.Set([]byte(fmt.Sprint("stay", i)), str("v"), false)
	}
	seen := map[string]bool{}
	var cursor uint64
	step := 0
	for {
		cursor = d.Scan(cursor, func(k KeyRef) { seen[k.Key] = true })
		step++
		// Churn: add keys (forcing growth) and remove them (forcing shrink).
		for j := 0; j < 50; j++ {
			d.Set([]byte(fmt.Sprint("tmp", step, "-", j)), str("v"), false)
		}
		if step%7 == 0 {
			for s := step - 6; s <= step; s++ {
				for j := 0; j < 50; j++ {
					d.Delete([]byte(fmt.Sprint("tmp", s, "-", j)))
				}
			}
			d.Resize()
		}
		d.Rehash(3)
		if cursor == 0 {
			break
		}
	}
	for i := 0; i < 1000; i++ {
		if !seen[fmt.Sprint("stay", i)] {
			t.Fatalf("SCAN missed stay%d", i)
		}
	}
}

func TestRandomKey(t *testing.T) {
	d := New()
	r := rand.New(rand.NewPCG(3, 4))
	if _, ok := d.RandomKey(r); ok {
		t.Fatal("RandomKey on empty db")
	}
	for i := 0; i < 10; i++ {
		d.Set([]byte(fmt.Sprint(i)), str("v"), false)
	}
	got := map[string]bool{}
	for i := 0; i < 1000; i++ {
		k, _ := d.RandomKey(r)
		got[k.Key] = true
	}
	if len(got) != 10 {
		t.Fatalf("RandomKey reached %d of 10 keys", len(got))
	}
}

func BenchmarkSetGet(b *testing.B) {
	d := New()
	keys := make([][]byte, 1<<16)
	for i := range keys {
		keys[i] = []byte(fmt.Sprint("key:", i))
	}
	v := str("0123456789")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := keys[i&(len(keys)-1)]
		d.Set(k, v, false)
		d.Lookup(k)
	}
}

func TestExpiredBoundary(t *testing.T) {
	tests := []struct {
		at, now int64
		want    bool
	}{
		{0, 1 << 40, false}, // no expiry
		{1000, 999, false},
		{1000, 1000, false}, // alive during its last millisecond, as Redis
		{1000, 1001, true},
		{-5, 0, true},
	}
	for _, tc := range tests {
		if got := Expired(tc.at, tc.now); got != tc.want {
			t.Errorf("Expired(%d, %d) = %v, want %v", tc.at, tc.now, got, tc.want)
		}
	}
}

// TestVolatileWalk: walking VolatileAt by index while deleting (and looking
// at the same index again after a delete) visits every volatile key once.
func TestVolatileWalk(t *testing.T) {
	d := New()
	for i := 0; i < 300; i++ {
		k := []byte(fmt.Sprint("k", i))
		d.Set(k, str("v"), false)
		if i%2 == 0 {
			d.SetExpire(k, int64(i+1))
		}
	}
	seen := map[string]bool{}
	for i := 0; i < d.VolatileLen(); {
		ref := d.VolatileAt(i)
		if seen[ref.Key] {
			t.Fatalf("%s visited twice", ref.Key)
		}
		seen[ref.Key] = true
		if ref.Expire%3 == 0 {
			d.Delete([]byte(ref.Key))
			continue
		}
		i++
	}
	if len(seen) != 150 {
		t.Fatalf("visited %d of 150 volatile keys", len(seen))
	}
	if d.Len() != 300-50 || d.VolatileLen() != 100 {
		t.Fatalf("Len %d, VolatileLen %d after deleting 50", d.Len(), d.VolatileLen())
	}
}

// TestMemoryPerKey bounds the live heap per small string key (the cache's
// main cost): 64-byte entry, one 24-byte allocation for name (with its
// length) and value, and the bucket arrays. redis-server 7.0.15 uses
// about 88 bytes per key for the same data (INFO used_memory).
func TestMemoryPerKey(t *testing.T) {
	const n = 200_000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	d := New()
	val := []byte("0123456789")
	key := make([]byte, 0, 16)
	for i := 0; i < n; i++ {
		key = fmt.Appendf(key[:0], "key:%09d", i)
		d.SetString(key, val, false)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perKey := float64(after.HeapAlloc-before.HeapAlloc) / n
	t.Logf("%.1f heap bytes per key", perKey)
	if perKey > 100 {
		t.Errorf("%.1f heap bytes per key, want at most 100", perKey)
	}
	runtime.KeepAlive(d)
	if o, _ := d.Lookup([]byte("key:000012345")); o == nil || string(o.Str) != "0123456789" {
		t.Fatal("value lost")
	}
}

// TestSetStringSharesNothing: a value written in place never changes the
// key's bytes that share its allocation, and a grown value moves out.
func TestSetStringSharesNothing(t *testing.T) {
	d := New()
	d.SetString([]byte("name"), []byte("abc"), false)
	o, _ := d.SetString([]byte("name"), []byte("xyz"), false)
	o.Str = append(o.Str, "-grown"...)
	var keys []string
	d.Each(func(r KeyRef) bool { keys = append(keys, r.Key); return true })
	if len(keys) != 1 || keys[0] != "name" {
		t.Fatalf("keys = %q", keys)
	}
	if o, _ := d.Lookup([]byte("name")); string(o.Str) != "xyz-grown" {
		t.Fatalf("value = %q", o.Str)
	}
	// Empty values are empty, not nil.
	o, _ = d.SetString([]byte("e"), nil, false)
	if o.Str == nil || len(o.Str) != 0 {
		t.Fatalf("empty value = %#v", o.Str)
	}
}

// modelCheck compares d with a map model: every key, value and expiry,
// the counts, and that Each and the volatile array agree with them.
func modelCheck(t *testing.T, d *DB, model map[string]string, expires map[string]int64) {
	t.Helper()
	if d.Len() != len(model) {
		t.Fatalf("Len %d, model %d", d.Len(), len(model))
	}
	if d.VolatileLen() != len(expires) {
		t.Fatalf("VolatileLen %d, model %d", d.VolatileLen(), len(expires))
	}
	for k, v := range model {
		o, at := d.Lookup([]byte(k))
		if o == nil || string(o.Str) != v || at != expires[k] {
			t.Fatalf("key %q: got %v at %d, want %q at %d", k, o, at, v, expires[k])
		}
	}
	seen := 0
	d.Each(func(r KeyRef) bool {
		if model[r.Key] != string(r.Obj.Str) || r.Expire != expires[r.Key] {
			t.Fatalf("Each: %q = %q at %d", r.Key, r.Obj.Str, r.Expire)
		}
		seen++
		return true
	})
	if seen != len(model) {
		t.Fatalf("Each saw %d of %d", seen, len(model))
	}
	for i := 0; i < d.VolatileLen(); i++ {
		r := d.VolatileAt(i)
		if expires[r.Key] != r.Expire {
			t.Fatalf("VolatileAt(%d) = %q at %d", i, r.Key, r.Expire)
		}
	}
}

// runProgram interprets ops as operations on a DB and a model.
func runProgram(t *testing.T, ops []byte) {
	d := New()
	model := map[string]string{}
	expires := map[string]int64{}
	for i := 0; i+2 < len(ops); i += 3 {
		// The op's high bits widen the key space so that tables grow,
		// rehash and shrink.
		op, k, v := ops[i]%8, fmt.Sprint("k", int(ops[i]>>3)<<8|int(ops[i+1])), fmt.Sprint("v", ops[i+2])
		if ops[i+2]%7 == 0 {
			v = fmt.Sprint(strings.Repeat("x", 150), ops[i+2]) // not co-allocated
		}
		switch {
		case ops[i+1] == 255:
			k = "" // an empty name is a key too
		case ops[i+1]%11 == 0:
			k += strings.Repeat("y", 130) // a two-byte length in front of the name
		}
		switch op {
		case 0, 1:
			d.SetString([]byte(k), []byte(v), op == 1)
			model[k] = v
			if op == 0 {
				delete(expires, k)
			}
		case 2:
			d.Set([]byte(k), str(v), false)
			model[k] = v
			delete(expires, k)
		case 3:
			_, ok := d.Delete([]byte(k))
			if _, had := model[k]; ok != had {
				t.Fatalf("Delete %q = %v, model %v", k, ok, had)
			}
			delete(model, k)
			delete(expires, k)
		case 4:
			at := int64(ops[i+2]) // 0 removes the expiry
			if ok := d.SetExpire([]byte(k), at); ok {
				if at == 0 {
					delete(expires, k)
				} else {
					expires[k] = at
				}
			} else if _, had := model[k]; had {
				t.Fatalf("SetExpire %q failed on an existing key", k)
			}
		case 5:
			d.Rehash(int(ops[i+2] % 4))
			d.Prefetch([][]byte{[]byte(k), []byte(v), nil})
		case 6:
			d.Resize()
		case 7:
			// Mutate in place as APPEND does; the key must not change.
			if o, _ := d.Lookup([]byte(k)); o != nil {
				o.Str = append(o.Str, 'z')
				model[k] += "z"
			}
		}
	}
	modelCheck(t, d, model, expires)
}

func TestDictRandomModel(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	for round := 0; round < 50; round++ {
		ops := make([]byte, 3*2000)
		for i := range ops {
			ops[i] = byte(r.Uint32())
		}
		runProgram(t, ops)
	}
}

func FuzzDict(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 1, 0, 4, 1, 9, 5, 0, 3})
	f.Fuzz(func(t *testing.T, ops []byte) { runProgram(t, ops) })
}
