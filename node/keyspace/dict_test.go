package keyspace

import (
	"fmt"
	"math/rand/v2"
	"runtime"
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
// main cost): 72-byte entry, one 24-byte allocation for name and value,
// and the bucket arrays. redis-server 7.0.15 uses about 88 bytes per key
// for the same data (INFO used_memory).
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
	if perKey > 108 {
		t.Errorf("%.1f heap bytes per key, want at most 108", perKey)
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
