// Package dict is a hash table of string keys with Redis's dict semantics
// where the commands can see them: SCAN-style cursors that return every
// element present for the whole iteration even across resizes (Redis's
// reverse-binary cursor), uniformly random elements, and DEBUG
// HTSTATS-style statistics. It backs the "hashtable" encoding of sets and
// the dict half of the "skiplist" encoding of sorted sets.
//
// Entries live in one slab slice linked into bucket chains by int32
// index: a set of N strings costs the strings, 24 bytes per entry plus
// the value, and 4 bytes per bucket, with one pointer (the key) per entry
// for the garbage collector to trace.
//
// A Dict is not safe for concurrent use.
package dict

import (
	"fmt"
	"hash/maphash"
	"math/bits"
	"math/rand/v2"
	"strings"
)

// seed is fixed for the life of the process: hashes are never persisted.
var seed = maphash.MakeSeed()

const (
	nilIdx      = -1
	minBuckets  = 4
	freeMarkTop = -2 // next values <= this mark free slots
)

type entry[V any] struct {
	key  string
	val  V
	hash uint32
	// next links the bucket chain (an index, or -1). A free slot stores
	// freeMarkTop-1-nextFree, so that live and free slots are told apart
	// without a flag.
	next int32
}

func (e *entry[V]) live() bool { return e.next > freeMarkTop }

// Dict maps string keys to values of type V.
type Dict[V any] struct {
	ents    []entry[V]
	free    int32 // head of the free slot list, or -1
	buckets []int32
	used    int
}

// New returns an empty dict with room for hint entries.
func New[V any](hint int) *Dict[V] {
	d := &Dict[V]{free: nilIdx}
	if hint > 0 {
		d.ents = make([]entry[V], 0, hint)
		d.rehash(nextPow2(hint))
	}
	return d
}

func nextPow2(n int) int {
	if n <= minBuckets {
		return minBuckets
	}
	return 1 << bits.Len(uint(n-1))
}

func hashString(s string) uint32 { return uint32(maphash.String(seed, s)) }

func hashBytes(b []byte) uint32 { return uint32(maphash.Bytes(seed, b)) }

// Len returns the number of entries.
func (d *Dict[V]) Len() int { return d.used }

// Buckets returns the size of the bucket array.
func (d *Dict[V]) Buckets() int { return len(d.buckets) }

// rehash rebuilds the bucket array with n buckets (a power of two) and,
// when the slab has many free slots, compacts it.
func (d *Dict[V]) rehash(n int) {
	if d.free != nilIdx && d.used*2 < len(d.ents) {
		d.compact()
	}
	if cap(d.buckets) >= n && cap(d.buckets) <= 4*n {
		d.buckets = d.buckets[:n]
	} else {
		d.buckets = make([]int32, n)
	}
	for i := range d.buckets {
		d.buckets[i] = nilIdx
	}
	mask := uint32(n - 1)
	for i := range d.ents {
		e := &d.ents[i]
		if !e.live() {
			continue
		}
		b := e.hash & mask
		e.next = d.buckets[b]
		d.buckets[b] = int32(i)
	}
}

// compact moves the live entries to the front of a right-sized slab. The
// caller rebuilds the chains.
func (d *Dict[V]) compact() {
	ents := make([]entry[V], 0, d.used+d.used/4+1)
	for i := range d.ents {
		if d.ents[i].live() {
			ents = append(ents, d.ents[i])
		}
	}
	d.ents = ents
	d.free = nilIdx
}

func (d *Dict[V]) find(key string, h uint32) int32 {
	if len(d.buckets) == 0 {
		return nilIdx
	}
	for i := d.buckets[h&uint32(len(d.buckets)-1)]; i != nilIdx; {
		e := &d.ents[i]
		if e.hash == h && e.key == key {
			return i
		}
		i = e.next
	}
	return nilIdx
}

func (d *Dict[V]) findBytes(key []byte, h uint32) int32 {
	if len(d.buckets) == 0 {
		return nilIdx
	}
	for i := d.buckets[h&uint32(len(d.buckets)-1)]; i != nilIdx; {
		e := &d.ents[i]
		if e.hash == h && e.key == string(key) {
			return i
		}
		i = e.next
	}
	return nilIdx
}

// Get returns the value at key.
func (d *Dict[V]) Get(key string) (V, bool) {
	if i := d.find(key, hashString(key)); i != nilIdx {
		return d.ents[i].val, true
	}
	var zero V
	return zero, false
}

// GetBytes is Get for a key in a byte slice, without converting it.
func (d *Dict[V]) GetBytes(key []byte) (V, bool) {
	if i := d.findBytes(key, hashBytes(key)); i != nilIdx {
		return d.ents[i].val, true
	}
	var zero V
	return zero, false
}

// Has reports whether key is present.
func (d *Dict[V]) Has(key string) bool { return d.find(key, hashString(key)) != nilIdx }

// HasBytes reports whether key is present.
func (d *Dict[V]) HasBytes(key []byte) bool { return d.findBytes(key, hashBytes(key)) != nilIdx }

// Ptr returns a pointer to the value at key, valid until the next
// insertion or deletion, or nil.
func (d *Dict[V]) Ptr(key string) *V {
	if i := d.find(key, hashString(key)); i != nilIdx {
		return &d.ents[i].val
	}
	return nil
}

// Add inserts key with v unless it is present; it reports whether it
// inserted. The dict keeps key itself (strings are immutable): callers
// that built it from a reused buffer must pass a copy.
func (d *Dict[V]) Add(key string, v V) bool {
	h := hashString(key)
	if d.find(key, h) != nilIdx {
		return false
	}
	d.insert(key, h, v)
	return true
}

// Set inserts or replaces key's value; it reports whether key was new.
func (d *Dict[V]) Set(key string, v V) bool {
	h := hashString(key)
	if i := d.find(key, h); i != nilIdx {
		d.ents[i].val = v
		return false
	}
	d.insert(key, h, v)
	return true
}

// AddNew inserts a key the caller knows is absent (conversions, copies).
func (d *Dict[V]) AddNew(key string, v V) { d.insert(key, hashString(key), v) }

func (d *Dict[V]) insert(key string, h uint32, v V) {
	if d.used >= len(d.buckets) {
		d.rehash(nextPow2(d.used + 1))
	}
	var i int32
	if d.free != nilIdx {
		i = d.free
		d.free = freeMarkTop - 1 - d.ents[i].next
	} else {
		i = int32(len(d.ents))
		d.ents = append(d.ents, entry[V]{})
	}
	b := h & uint32(len(d.buckets)-1)
	d.ents[i] = entry[V]{key: key, val: v, hash: h, next: d.buckets[b]}
	d.buckets[b] = i
	d.used++
}

// Delete removes key and reports whether it was present.
func (d *Dict[V]) Delete(key string) bool {
	_, ok := d.remove(key, hashString(key), nil)
	return ok
}

// DeleteBytes removes key and reports whether it was present.
func (d *Dict[V]) DeleteBytes(key []byte) bool {
	_, ok := d.remove("", hashBytes(key), key)
	return ok
}

// Pop removes key and returns its value.
func (d *Dict[V]) Pop(key string) (V, bool) { return d.remove(key, hashString(key), nil) }

// remove unlinks the entry for key (or keyBytes when not nil).
func (d *Dict[V]) remove(key string, h uint32, keyBytes []byte) (V, bool) {
	var zero V
	if len(d.buckets) == 0 {
		return zero, false
	}
	b := h & uint32(len(d.buckets)-1)
	prev := int32(nilIdx)
	for i := d.buckets[b]; i != nilIdx; {
		e := &d.ents[i]
		match := e.hash == h
		if match {
			if keyBytes != nil {
				match = e.key == string(keyBytes)
			} else {
				match = e.key == key
			}
		}
		if !match {
			prev, i = i, e.next
			continue
		}
		if prev == nilIdx {
			d.buckets[b] = e.next
		} else {
			d.ents[prev].next = e.next
		}
		v := e.val
		*e = entry[V]{next: freeMarkTop - 1 - d.free}
		d.free = i
		d.used--
		d.shrinkIfNeeded()
		return v, true
	}
	return zero, false
}

// shrinkIfNeeded resizes a table that fell below 10% fill, as Redis's
// htNeedsResize + dictResize, and releases an empty one.
func (d *Dict[V]) shrinkIfNeeded() {
	if d.used == 0 {
		d.ents, d.buckets, d.free = nil, nil, nilIdx
		return
	}
	if len(d.buckets) > minBuckets && d.used*10 < len(d.buckets) {
		d.rehash(nextPow2(d.used))
	}
}

// Each calls f for every entry until f returns false. f must not insert
// or delete.
func (d *Dict[V]) Each(f func(key string, v V) bool) {
	for i := range d.ents {
		e := &d.ents[i]
		if e.live() && !f(e.key, e.val) {
			return
		}
	}
}

// Keys returns the keys in iteration order.
func (d *Dict[V]) Keys() []string {
	keys := make([]string, 0, d.used)
	d.Each(func(k string, _ V) bool { keys = append(keys, k); return true })
	return keys
}

// Scan calls f for the entries of one bucket chain at cursor and returns
// the next cursor, 0 when the iteration is complete. As Redis's dictScan,
// it increments the reversed bits of the cursor, so that an entry present
// from the first call to the last is returned at least once even if the
// table grows or shrinks in between (it may be returned more than once).
// f must not insert or delete.
func (d *Dict[V]) Scan(cursor uint64, f func(key string, v V)) uint64 {
	if d.used == 0 {
		return 0
	}
	mask := uint64(len(d.buckets) - 1)
	for i := d.buckets[cursor&mask]; i != nilIdx; i = d.ents[i].next {
		e := &d.ents[i]
		f(e.key, e.val)
	}
	cursor |= ^mask
	cursor = bits.Reverse64(cursor)
	cursor++
	return bits.Reverse64(cursor)
}

// Random returns a uniformly random entry; the dict must not be empty.
func (d *Dict[V]) Random(r *rand.Rand) (string, V) {
	// Every live slot is equally likely; the slab is kept at least half
	// full (rehash compacts it), so the expected number of draws is < 2,
	// except transiently after many deletions without a shrink.
	for {
		e := &d.ents[r.IntN(len(d.ents))]
		if e.live() {
			return e.key, e.val
		}
	}
}

// Stats formats the table's statistics as Redis 7.0's dictGetStats does
// for DEBUG HTSTATS-KEY (one table: this dict resizes at once, so it is
// never seen rehashing).
func (d *Dict[V]) Stats() string {
	var b strings.Builder
	if d.used == 0 {
		b.WriteString("Hash table 0 stats (main hash table):\nNo stats available for empty dictionaries\n")
		return b.String()
	}
	const statsVectLen = 50
	var clvector [statsVectLen]int
	slots, maxChain, totChain := 0, 0, 0
	for _, head := range d.buckets {
		if head == nilIdx {
			clvector[0]++
			continue
		}
		slots++
		n := 0
		for i := head; i != nilIdx; i = d.ents[i].next {
			n++
		}
		clvector[min(n, statsVectLen-1)]++
		maxChain = max(maxChain, n)
		totChain += n
	}
	fmt.Fprintf(&b, "Hash table 0 stats (main hash table):\n table size: %d\n number of elements: %d\n"+
		" different slots: %d\n max chain length: %d\n avg chain length (counted): %.02f\n"+
		" avg chain length (computed): %.02f\n Chain length distribution:\n",
		len(d.buckets), d.used, slots, maxChain, float32(totChain)/float32(slots), float32(d.used)/float32(slots))
	for i, n := range clvector[:statsVectLen-1] {
		if n == 0 {
			continue
		}
		fmt.Fprintf(&b, "   %d: %d (%.02f%%)\n", i, n, float32(n)/float32(len(d.buckets))*100)
	}
	return b.String()
}
