package keyspace

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"unsafe"
)

// BenchmarkLookupRandom looks up random keys of a table bigger than the
// CPU's caches, as redis-benchmark -r does: the cost is the cache misses
// of bucket, entry and key.
func BenchmarkLookupRandom(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			d := New()
			keys := make([][]byte, n)
			for i := range keys {
				keys[i] = fmt.Appendf(nil, "key:%012d", i)
				d.SetString(keys[i], []byte("xxx"), false)
			}
			r := rand.New(rand.NewPCG(1, 2))
			order := make([]int32, 1<<16)
			for i := range order {
				order[i] = int32(r.IntN(n))
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if o, _ := d.Lookup(keys[order[i&(len(order)-1)]]); o == nil {
					b.Fatal("missing")
				}
			}
		})
	}
}

// TestEntryIsOneCacheLine: a lookup reads one line of the entry only if
// entries are 64 bytes and pages keep them aligned.
func TestEntryIsOneCacheLine(t *testing.T) {
	if got := unsafe.Sizeof(entry{}); got != 64 {
		t.Fatalf("entry is %d bytes, want 64", got)
	}
	if got := pageSize * unsafe.Sizeof(entry{}); got%8192 != 0 {
		t.Fatalf("a page is %d bytes: not a multiple of the runtime's page, so entries may straddle lines", got)
	}
}

// BenchmarkLookupBatch looks keys up in batches of 16, as a pipelined
// batch runs, with and without Prefetch ahead of the batch.
func BenchmarkLookupBatch(b *testing.B) {
	const n = 1_000_000
	d := New()
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "key:%012d", i)
		d.SetString(keys[i], []byte("xxx"), false)
	}
	r := rand.New(rand.NewPCG(1, 2))
	batch := make([][]byte, 1<<16)
	for i := range batch {
		batch[i] = keys[r.IntN(n)]
	}
	for _, pre := range []bool{false, true} {
		b.Run(fmt.Sprint("prefetch=", pre), func(b *testing.B) {
			for i := 0; i < b.N; i += 16 {
				off := i & (len(batch) - 1)
				bt := batch[off : off+16]
				if pre {
					d.Prefetch(bt)
				}
				for _, k := range bt {
					if o, _ := d.Lookup(k); o == nil {
						b.Fatal("missing")
					}
				}
			}
		})
	}
}
