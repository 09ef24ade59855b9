package keyspace

import (
	"encoding/binary"
	"hash/maphash"
	"math/bits"
	"math/rand/v2"
	"unsafe"
)

// The table is a Redis-style chained hash table with two bucket arrays and
// incremental rehashing, which gives SCAN its guarantee (every key present
// for the whole iteration is returned) and keeps resizes free of long
// pauses. Entries live in fixed-size pages that never move, so an *Object
// handed out stays valid until its key is deleted, and chains link by
// int32 index instead of pointer, keeping the GC's work small.
//
// Memory per key is what a cache sells, and a lookup's cost is its cache
// misses, so an entry is 64 bytes, one cache line (pages are 64 KiB
// allocations, so entries never straddle two lines): hashes are not
// stored (they are recomputed when a rehash moves an entry), expiry times
// live in the side array of volatile keys, and the key is one pointer to
// an allocation that holds its length (a uvarint) and its bytes, followed
// for a new small string key by its value. A hit then reads the bucket,
// the entry, and one more line for the key and the value.

const (
	pageBits = 10
	pageSize = 1 << pageBits
	nilIdx   = -1
	initSize = 4
)

type entry struct {
	// kp points at the key's allocation: its length as a uvarint, then
	// its bytes (see newKey). nil in a free slot.
	kp   *byte
	next int32 // next in the bucket chain, or in the free list
	vpos int32 // position in DB.volatile, or -1
	obj  Object
}

// newKey allocates a key's name with its length in front and room for
// extra bytes after it; it returns the allocation and the offset of the
// byte after the name.
func newKey(key []byte, extra int) ([]byte, int) {
	var hdr [binary.MaxVarintLen64]byte
	w := binary.PutUvarint(hdr[:], uint64(len(key)))
	buf := make([]byte, w+len(key)+extra)
	copy(buf, hdr[:w])
	copy(buf[w:], key)
	return buf, w + len(key)
}

// key returns the entry's name. It aliases the allocation, whose name
// bytes are never written again.
func (e *entry) key() string {
	p := e.kp
	if n := *p; n < 0x80 {
		return unsafe.String((*byte)(unsafe.Add(unsafe.Pointer(p), 1)), int(n))
	}
	n, w := binary.Uvarint(unsafe.Slice(p, binary.MaxVarintLen64))
	return unsafe.String((*byte)(unsafe.Add(unsafe.Pointer(p), w)), int(n))
}

// keyIs reports whether the entry's name is key, reading the one-byte
// length of a short name before its bytes.
func (e *entry) keyIs(key []byte) bool {
	p := e.kp
	if n := *p; n < 0x80 {
		return int(n) == len(key) && unsafe.String((*byte)(unsafe.Add(unsafe.Pointer(p), 1)), int(n)) == string(key)
	}
	return e.key() == string(key)
}

// volatileKey is a key with an expiry: its entry and the time (unix ms).
type volatileKey struct {
	idx int32
	at  int64
}

// volatileList is an array of volatile keys in fixed-size pages, so that
// growing it never copies (and pauses on) millions of elements.
type volatileList struct {
	pages [][]volatileKey
	n     int
}

const volatilePageBits = 12

func (l *volatileList) at(i int32) *volatileKey {
	return &l.pages[i>>volatilePageBits][i&(1<<volatilePageBits-1)]
}

func (l *volatileList) push(v volatileKey) {
	if l.n>>volatilePageBits == len(l.pages) {
		l.pages = append(l.pages, make([]volatileKey, 1<<volatilePageBits))
	}
	*l.at(int32(l.n)) = v
	l.n++
}

// pop drops the last element, and the last page once a whole spare page
// follows the used ones (keeping one avoids churn at a page boundary).
func (l *volatileList) pop() {
	l.n--
	if used := (l.n + 1<<volatilePageBits - 1) >> volatilePageBits; len(l.pages) > used+1 {
		l.pages[len(l.pages)-1] = nil
		l.pages = l.pages[:len(l.pages)-1]
	}
}

type table struct {
	buckets []int32
	mask    uint64
	used    int
}

// DB is one logical database.
type DB struct {
	pages    [][]entry
	free     int32 // head of the free list
	nslots   int32 // slots handed out from pages so far
	tables   [2]table
	rehash   int // next bucket of tables[0] to move; -1 when not rehashing
	volatile volatileList
	seed     maphash.Seed
	// pauseRehash counts active safe iterators; rehash steps are skipped
	// while any is open, as in Redis.
	pauseRehash int
	// prefetchSink keeps Prefetch's loads from being optimised away.
	prefetchSink byte
}

// New returns an empty database.
func New() *DB {
	return &DB{free: nilIdx, rehash: -1, seed: maphash.MakeSeed()}
}

func (d *DB) at(i int32) *entry { return &d.pages[i>>pageBits][i&(pageSize-1)] }

func (d *DB) hashOf(key []byte) uint64 { return maphash.Bytes(d.seed, key) }

// hashOfEntry recomputes an entry's hash (equal to hashOf its key bytes).
func (d *DB) hashOfEntry(e *entry) uint64 { return maphash.String(d.seed, e.key()) }

// expireOf returns the entry's expiry, 0 when it has none.
func (d *DB) expireOf(e *entry) int64 {
	if e.vpos == nilIdx {
		return 0
	}
	return d.volatile.at(e.vpos).at
}

// Len is the number of keys, expired ones not yet reclaimed included.
func (d *DB) Len() int { return d.tables[0].used + d.tables[1].used }

// VolatileLen is the number of keys with an expiry.
func (d *DB) VolatileLen() int { return d.volatile.n }

// Buckets reports the bucket counts of both tables, for DEBUG HTSTATS.
func (d *DB) Buckets() (main, rehashing int) {
	return len(d.tables[0].buckets), len(d.tables[1].buckets)
}

func (d *DB) isRehashing() bool { return d.rehash >= 0 }

func (d *DB) alloc() int32 {
	if d.free != nilIdx {
		i := d.free
		d.free = d.at(i).next
		return i
	}
	i := d.nslots
	if int(i>>pageBits) == len(d.pages) {
		d.pages = append(d.pages, make([]entry, pageSize))
	}
	d.nslots++
	return i
}

func (d *DB) release(i int32) {
	e := d.at(i)
	*e = entry{next: d.free, vpos: nilIdx}
	d.free = i
}

// rehashStep moves n buckets from the old table to the new one.
func (d *DB) rehashStep(n int) bool {
	if !d.isRehashing() || d.pauseRehash > 0 {
		return false
	}
	t0, t1 := &d.tables[0], &d.tables[1]
	empty := n * 10
	for ; n > 0 && t0.used > 0; n-- {
		for t0.buckets[d.rehash] == 0 {
			d.rehash++
			if empty--; empty == 0 {
				return true
			}
		}
		i := t0.buckets[d.rehash] - 1
		for i != nilIdx {
			e := d.at(i)
			next := e.next
			b := d.hashOfEntry(e) & t1.mask
			e.next = t1.buckets[b] - 1
			t1.buckets[b] = i + 1
			t0.used--
			t1.used++
			i = next
		}
		t0.buckets[d.rehash] = 0
		d.rehash++
	}
	if t0.used == 0 {
		d.tables[0] = d.tables[1]
		d.tables[1] = table{}
		d.rehash = -1
		return false
	}
	return true
}

// RehashMs performs rehash steps for roughly the given budget of buckets;
// the caller's cron bounds it in time.
func (d *DB) Rehash(buckets int) bool { return d.rehashStep(buckets) }

func newTable(size int) table {
	// Buckets hold an entry index plus one, so that zero means empty and a
	// new table needs no initialising pass: a big resize costs no pause.
	return table{buckets: make([]int32, size), mask: uint64(size - 1)}
}

func nextPow2(n int) int {
	if n < initSize {
		return initSize
	}
	return 1 << bits.Len(uint(n-1))
}

func (d *DB) resizeTo(size int) {
	if d.isRehashing() {
		return
	}
	size = nextPow2(size)
	if size == len(d.tables[0].buckets) {
		return
	}
	if d.tables[0].buckets == nil {
		d.tables[0] = newTable(size)
		return
	}
	d.tables[1] = newTable(size)
	d.rehash = 0
}

func (d *DB) expandIfNeeded() {
	if d.isRehashing() {
		return
	}
	t0 := &d.tables[0]
	if t0.buckets == nil {
		d.resizeTo(initSize)
		return
	}
	if t0.used >= len(t0.buckets) {
		d.resizeTo(t0.used + 1)
	}
}

// Resize shrinks the table when it is less than 10% full, as Redis's cron
// does. Returns true if a resize started.
func (d *DB) Resize() bool {
	if d.isRehashing() || d.pauseRehash > 0 {
		return false
	}
	size, used := len(d.tables[0].buckets), d.tables[0].used
	if size > initSize && used*100/size < 10 {
		d.resizeTo(max(used, initSize))
		return d.isRehashing()
	}
	return false
}

func (d *DB) find(key []byte, h uint64) int32 {
	for t := 0; t < 2; t++ {
		tb := &d.tables[t]
		if tb.buckets == nil {
			break
		}
		for i := tb.buckets[h&tb.mask] - 1; i != nilIdx; {
			e := d.at(i)
			if e.keyIs(key) {
				return i
			}
			i = e.next
		}
		if !d.isRehashing() {
			break
		}
	}
	return nilIdx
}

// Lookup returns the object at key and its expiry (0: none), without
// checking expiry. The pointer is valid until the key is deleted.
func (d *DB) Lookup(key []byte) (*Object, int64) {
	if d.Len() == 0 {
		return nil, 0
	}
	if d.isRehashing() {
		d.rehashStep(1)
	}
	i := d.find(key, d.hashOf(key))
	if i == nilIdx {
		return nil, 0
	}
	e := d.at(i)
	return &e.obj, d.expireOf(e)
}

// Set stores obj at key, keeping an existing expiry only if keepTTL.
// It returns the stored object's pointer and whether the key was new.
func (d *DB) Set(key []byte, obj Object, keepTTL bool) (*Object, bool) {
	if d.isRehashing() {
		d.rehashStep(1)
	}
	h := d.hashOf(key)
	if i := d.find(key, h); i != nilIdx {
		e := d.at(i)
		e.obj = obj
		if !keepTTL && e.vpos != nilIdx {
			d.unsetVolatile(i)
		}
		return &e.obj, false
	}
	kp, _ := newKey(key, 0)
	e := d.insert(h, &kp[0])
	e.obj = obj
	return &e.obj, true
}

// insert links a new entry for a key known to be absent.
func (d *DB) insert(h uint64, kp *byte) *entry {
	d.expandIfNeeded()
	i := d.alloc()
	e := d.at(i)
	*e = entry{kp: kp, vpos: nilIdx}
	t := &d.tables[0]
	if d.isRehashing() {
		t = &d.tables[1]
	}
	b := h & t.mask
	e.next = t.buckets[b] - 1
	t.buckets[b] = i + 1
	t.used++
	return e
}

// EntryBytes is what a key's entry takes in its page, for memory
// accounting.
const EntryBytes = 64

// The entry is exactly EntryBytes: a change of its layout fails here.
var (
	_ [EntryBytes - unsafe.Sizeof(entry{})]byte
	_ [unsafe.Sizeof(entry{}) - EntryBytes]byte
)

// NameBytes is the size of the allocation holding a key's name of n
// bytes followed by extra bytes (a co-allocated value), for memory
// accounting: SetString co-allocates when n+extra <= CoallocMax.
func NameBytes(n, extra int) int {
	var hdr [binary.MaxVarintLen64]byte
	return binary.PutUvarint(hdr[:], uint64(n)) + n + extra
}

// CoallocMax is coallocMax, for memory accounting.
const CoallocMax = coallocMax

// coallocMax bounds the key plus value size stored in one allocation:
// beyond it the saving is small and a replaced value would stay pinned by
// the key.
const coallocMax = 128

// SetString stores a string value at key, copying val, and returns the
// stored object and whether the key was new. An existing string whose
// buffer fits is overwritten in place; a new key gets its name and value
// in one allocation. The caller sets Enc, and LRU for a new key (an
// overwritten key keeps its LRU field). Unless keepTTL, an expiry is
// removed.
func (d *DB) SetString(key, val []byte, keepTTL bool) (*Object, bool) {
	if d.isRehashing() {
		d.rehashStep(1)
	}
	h := d.hashOf(key)
	if i := d.find(key, h); i != nilIdx {
		e := d.at(i)
		if e.obj.Type == TypeString && cap(e.obj.Str) >= len(val) && cap(e.obj.Str) <= 2*len(val)+32 {
			e.obj.Str = append(e.obj.Str[:0], val...)
		} else {
			e.obj = Object{Type: TypeString, LRU: e.obj.LRU, Str: append(make([]byte, 0, len(val)), val...)}
		}
		if !keepTTL && e.vpos != nilIdx {
			d.unsetVolatile(i)
		}
		return &e.obj, false
	}
	var kb, str []byte
	if len(key)+len(val) <= coallocMax {
		// The name's bytes are never written again: the value's slice is
		// capped at its own length, so growing it reallocates elsewhere.
		var off int
		kb, off = newKey(key, len(val))
		copy(kb[off:], val)
		str = kb[off:len(kb):len(kb)]
	} else {
		kb, _ = newKey(key, 0)
		str = append(make([]byte, 0, len(val)), val...)
	}
	e := d.insert(h, &kb[0])
	e.obj = Object{Type: TypeString, Str: str}
	return &e.obj, true
}

// Delete removes key and returns the removed object, if any.
func (d *DB) Delete(key []byte) (Object, bool) {
	if d.Len() == 0 {
		return Object{}, false
	}
	if d.isRehashing() {
		d.rehashStep(1)
	}
	h := d.hashOf(key)
	for t := 0; t < 2; t++ {
		tb := &d.tables[t]
		if tb.buckets == nil {
			break
		}
		b := h & tb.mask
		prev := int32(nilIdx)
		for i := tb.buckets[b] - 1; i != nilIdx; {
			e := d.at(i)
			if e.keyIs(key) {
				if prev == nilIdx {
					tb.buckets[b] = e.next + 1
				} else {
					d.at(prev).next = e.next
				}
				tb.used--
				if e.vpos != nilIdx {
					d.unsetVolatile(i)
				}
				obj := e.obj
				d.release(i)
				return obj, true
			}
			prev = i
			i = e.next
		}
		if !d.isRehashing() {
			break
		}
	}
	return Object{}, false
}

// SetExpire sets the absolute expiry (unix ms) of an existing key; 0
// removes it. It returns false if the key does not exist.
func (d *DB) SetExpire(key []byte, at int64) bool {
	i := d.find(key, d.hashOf(key))
	if i == nilIdx {
		return false
	}
	e := d.at(i)
	if at == 0 {
		if e.vpos != nilIdx {
			d.unsetVolatile(i)
		}
		return true
	}
	if e.vpos == nilIdx {
		e.vpos = int32(d.volatile.n)
		d.volatile.push(volatileKey{idx: i, at: at})
	} else {
		d.volatile.at(e.vpos).at = at
	}
	return true
}

func (d *DB) unsetVolatile(i int32) {
	e := d.at(i)
	p := e.vpos
	if p == nilIdx {
		return
	}
	last := int32(d.volatile.n - 1)
	if p != last {
		moved := *d.volatile.at(last)
		*d.volatile.at(p) = moved
		d.at(moved.idx).vpos = p
	}
	d.volatile.pop()
	e.vpos = nilIdx
}

// KeyRef is a key found by a scan or a sample. Key aliases the stored
// string and must not be kept past a write to the database.
type KeyRef struct {
	Key    string
	Obj    *Object
	Expire int64
}

func (d *DB) ref(i int32) KeyRef {
	e := d.at(i)
	return KeyRef{Key: e.key(), Obj: &e.obj, Expire: d.expireOf(e)}
}

// Scan calls fn for the keys of one bucket group at cursor and returns the
// next cursor (0 when the iteration is complete). It follows Redis's
// reverse-binary cursor so that a key present for the whole iteration is
// returned at least once, across resizes.
func (d *DB) Scan(cursor uint64, fn func(KeyRef)) uint64 {
	if d.Len() == 0 {
		return 0
	}
	emit := func(t *table, b uint64) {
		for i := t.buckets[b&t.mask] - 1; i != nilIdx; {
			e := d.at(i)
			next := e.next
			fn(d.ref(i))
			i = next
		}
	}
	d.pauseRehash++
	defer func() { d.pauseRehash-- }()
	if !d.isRehashing() {
		t := &d.tables[0]
		m := t.mask
		emit(t, cursor)
		cursor |= ^m
		cursor = bits.Reverse64(cursor)
		cursor++
		cursor = bits.Reverse64(cursor)
		return cursor
	}
	t0, t1 := &d.tables[0], &d.tables[1]
	if len(t0.buckets) > len(t1.buckets) {
		t0, t1 = t1, t0
	}
	m0, m1 := t0.mask, t1.mask
	emit(t0, cursor)
	for {
		emit(t1, cursor)
		cursor |= ^m1
		cursor = bits.Reverse64(cursor)
		cursor++
		cursor = bits.Reverse64(cursor)
		if cursor&(m0^m1) == 0 {
			break
		}
	}
	return cursor
}

// Each calls fn for every key until fn returns false. The database must
// not be modified during the walk.
func (d *DB) Each(fn func(KeyRef) bool) {
	for i := int32(0); i < d.nslots; i++ {
		if d.at(i).kp == nil { // a free slot
			continue
		}
		if !fn(d.ref(i)) {
			return
		}
	}
}

// RandomKey returns a random key, fair enough for RANDOMKEY and eviction
// sampling: a random non-empty bucket, then a random entry of its chain.
func (d *DB) RandomKey(r *rand.Rand) (KeyRef, bool) {
	if d.Len() == 0 {
		return KeyRef{}, false
	}
	if d.isRehashing() {
		d.rehashStep(1)
	}
	var head int32
	for {
		if d.isRehashing() {
			n0, n1 := len(d.tables[0].buckets), len(d.tables[1].buckets)
			b := d.rehash + r.IntN(n0+n1-d.rehash)
			if b >= n0 {
				head = d.tables[1].buckets[b-n0] - 1
			} else {
				head = d.tables[0].buckets[b] - 1
			}
		} else {
			t := &d.tables[0]
			head = t.buckets[r.Uint64()&t.mask] - 1
		}
		if head != nilIdx {
			break
		}
	}
	n := 0
	for i := head; i != nilIdx; i = d.at(i).next {
		n++
	}
	k := r.IntN(n)
	i := head
	for ; k > 0; k-- {
		i = d.at(i).next
	}
	return d.ref(i), true
}

// VolatileAt returns the i-th key with an expiry, 0 <= i < VolatileLen().
// Deleting a volatile key moves the last one into its place, so a walk by
// index that deletes at i should look at i again.
func (d *DB) VolatileAt(i int) KeyRef { return d.ref(d.volatile.at(int32(i)).idx) }

// RandomVolatile returns a random key that has an expiry.
func (d *DB) RandomVolatile(r *rand.Rand) (KeyRef, bool) {
	if d.volatile.n == 0 {
		return KeyRef{}, false
	}
	return d.ref(d.volatile.at(int32(r.IntN(d.volatile.n))).idx), true
}

// PrefetchMax is the most keys Prefetch looks at per call.
const PrefetchMax = 32

// Prefetch reads the memory that looking up keys will read (bucket,
// entry, name and small value) for all of them at once, without changing
// anything. Each stage's loads do not depend on each other, so the CPU
// overlaps their cache misses instead of taking one after another as the
// lookups would: the caller is about to run a pipelined batch of commands
// on these keys. Only the first PrefetchMax keys are looked at.
func (d *DB) Prefetch(keys [][]byte) {
	t := &d.tables[0]
	if d.Len() == 0 || d.isRehashing() || t.buckets == nil {
		return
	}
	keys = keys[:min(len(keys), PrefetchMax)]
	var idx [PrefetchMax]int32
	for i, k := range keys {
		idx[i] = t.buckets[d.hashOf(k)&t.mask] - 1
	}
	// The name, and a string value that lives apart from it (a big one,
	// or one that INCR or APPEND reallocated): a GET or INCR reads both.
	var kps, vps [PrefetchMax]*byte
	for i := range keys {
		if idx[i] != nilIdx {
			e := d.at(idx[i])
			kps[i] = e.kp
			if len(e.obj.Str) > 0 {
				vps[i] = unsafe.SliceData(e.obj.Str)
			}
		}
	}
	var sink byte
	for i, p := range kps[:len(keys)] {
		if p != nil {
			sink += *p
		}
		if v := vps[i]; v != nil {
			sink += *v
		}
	}
	d.prefetchSink = sink
}
