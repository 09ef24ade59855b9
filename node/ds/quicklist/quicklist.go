// Package quicklist implements Redis 7.0's list representation: a doubly
// linked list of listpacks, each bounded by a fill factor, with the nodes
// beyond a depth from both ends optionally LZF-compressed, and elements
// at or above a size threshold kept alone in "plain" nodes.
//
// The node-level decisions (when a node accepts an entry, when nodes split
// and merge, which nodes are compressed) follow quicklist.c, so that a
// list has the same node layout as in Redis: what DEBUG, MEMORY USAGE and
// RDB files show.
package quicklist

import (
	"github.com/keyfleet/keyfleet/node/ds/listpack"
	"github.com/keyfleet/keyfleet/node/ds/lzf"
)

const (
	// sizeSafetyLimit bounds a node limited by entry count (8k).
	sizeSafetyLimit = 8192
	// sizeEstimateOverhead over-estimates an entry's listpack overhead.
	sizeEstimateOverhead = 8
	// minCompressBytes is the smallest node worth compressing.
	minCompressBytes = 48
	// minCompressImprove is the least gain for keeping a compressed node.
	minCompressImprove = 8
	// DefaultPackedThreshold is the element size from which an element
	// gets a plain node of its own (1GB).
	DefaultPackedThreshold = 1 << 30
	fillMax                = 1<<15 - 1
	compressMax            = 1<<16 - 1
)

// optimizationLevel are the node byte limits of fill -1..-5.
var optimizationLevel = [...]int{4096, 8192, 16384, 32768, 65536}

type node struct {
	prev, next *node
	// entry is the listpack, its LZF compression when compressed, or the
	// element itself in a plain node.
	entry        []byte
	sz           int // uncompressed size of entry
	count        int
	plain        bool
	compressed   bool
	recompress   bool
	dontCompress bool
}

// Quicklist is a list of byte strings. The zero value is not usable:
// create one with New.
type Quicklist struct {
	head, tail *node
	count      int // entries
	len        int // nodes
	fill       int
	compress   int
	// packedThreshold is Redis's packed_threshold, a server-wide knob
	// (DEBUG QUICKLIST-PACKED-THRESHOLD): the owner sets it before using
	// the list.
	packedThreshold int
}

// New returns an empty list with the given fill (list-max-listpack-size:
// negative for a byte limit of 4k..64k, positive for an entry count) and
// compression depth (list-compress-depth).
func New(fill, compress int) *Quicklist {
	ql := &Quicklist{packedThreshold: DefaultPackedThreshold}
	ql.SetOptions(fill, compress)
	return ql
}

// SetOptions changes the fill and compression depth, clamped as Redis.
func (ql *Quicklist) SetOptions(fill, compress int) {
	ql.fill = max(min(fill, fillMax), -5)
	ql.compress = max(min(compress, compressMax), 0)
}

// Fill and CompressDepth return the list's options.
func (ql *Quicklist) Fill() int          { return ql.fill }
func (ql *Quicklist) CompressDepth() int { return ql.compress }

// SetPackedThreshold sets the plain-node threshold in bytes (0 restores
// the default).
func (ql *Quicklist) SetPackedThreshold(n int) {
	if n <= 0 {
		n = DefaultPackedThreshold
	}
	ql.packedThreshold = n
}

// Len is the number of entries.
func (ql *Quicklist) Len() int { return ql.count }

// Nodes is the number of nodes.
func (ql *Quicklist) Nodes() int { return ql.len }

func (ql *Quicklist) isLarge(sz int) bool { return sz >= ql.packedThreshold }

// compressNode compresses a raw node if that saves enough.
func (ql *Quicklist) compressNode(n *node) {
	if n == nil || n.compressed || n.dontCompress {
		return
	}
	n.recompress = false
	if n.sz < minCompressBytes {
		return
	}
	c := lzf.Compress(nil, n.entry, n.sz)
	if c == nil || len(c)+minCompressImprove >= n.sz {
		return
	}
	n.entry = append([]byte(nil), c...)
	n.compressed = true
}

// decompressNode makes a compressed node raw again.
func decompressNode(n *node) {
	if n == nil || !n.compressed {
		return
	}
	n.recompress = false
	raw, err := lzf.Decompress(nil, n.entry, n.sz)
	if err != nil {
		// Our own compressed data: cannot happen short of memory
		// corruption, and continuing would corrupt the list.
		panic("quicklist: compressed node does not decompress: " + err.Error())
	}
	n.entry = raw
	n.compressed = false
}

// decompressForUse decompresses n and marks it for recompression.
func decompressForUse(n *node) {
	if n != nil && n.compressed {
		decompressNode(n)
		n.recompress = true
	}
}

// compressAround is __quicklistCompress: keep the depth nodes at both ends
// raw and compress node (and the first nodes past the depth).
func (ql *Quicklist) compressAround(n *node) {
	if ql.len == 0 {
		return
	}
	if ql.compress == 0 || ql.len < ql.compress*2 {
		return
	}
	forward, reverse := ql.head, ql.tail
	inDepth := false
	for depth := 0; depth < ql.compress; depth++ {
		decompressNode(forward)
		decompressNode(reverse)
		if forward == n || reverse == n {
			inDepth = true
		}
		if forward == reverse || forward.next == reverse {
			return
		}
		forward = forward.next
		reverse = reverse.prev
	}
	if !inDepth && n != nil {
		ql.compressNode(n)
	}
	ql.compressNode(forward)
	ql.compressNode(reverse)
}

// compress is quicklistCompress: recompress a node taken for use, or
// place it under the depth rule.
func (ql *Quicklist) compressOrRecompress(n *node) {
	if n == nil {
		return
	}
	if n.recompress {
		ql.compressNode(n)
	} else {
		ql.compressAround(n)
	}
}

func (ql *Quicklist) recompressOnly(n *node) {
	if n != nil && n.recompress {
		ql.compressNode(n)
	}
}

func (ql *Quicklist) insertNode(old, nn *node, after bool) {
	if after {
		nn.prev = old
		if old != nil {
			nn.next = old.next
			if old.next != nil {
				old.next.prev = nn
			}
			old.next = nn
		}
		if ql.tail == old {
			ql.tail = nn
		}
	} else {
		nn.next = old
		if old != nil {
			nn.prev = old.prev
			if old.prev != nil {
				old.prev.next = nn
			}
			old.prev = nn
		}
		if ql.head == old {
			ql.head = nn
		}
	}
	if ql.len == 0 {
		ql.head, ql.tail = nn, nn
	}
	ql.len++
	if old != nil {
		ql.compressOrRecompress(old)
	}
	ql.compressOrRecompress(nn)
}

func sizeMeetsOptimization(sz, fill int) bool {
	if fill >= 0 {
		return false
	}
	off := -fill - 1
	return off < len(optimizationLevel) && sz <= optimizationLevel[off]
}

func (ql *Quicklist) allowInsert(n *node, sz int) bool {
	if n == nil || n.plain || ql.isLarge(sz) {
		return false
	}
	newSz := n.sz + sz + sizeEstimateOverhead
	if sizeMeetsOptimization(newSz, ql.fill) {
		return true
	}
	if newSz > sizeSafetyLimit {
		return false
	}
	return n.count < ql.fill
}

func (ql *Quicklist) allowMerge(a, b *node) bool {
	if a == nil || b == nil || a.plain || b.plain {
		return false
	}
	mergeSz := a.sz + b.sz - 11
	if sizeMeetsOptimization(mergeSz, ql.fill) {
		return true
	}
	if mergeSz > sizeSafetyLimit {
		return false
	}
	return a.count+b.count <= ql.fill
}

func newPlainNode(v []byte) *node {
	return &node{entry: append([]byte(nil), v...), sz: len(v), count: 1, plain: true}
}

func newNodeWith(v []byte) *node {
	lp := listpack.NewCap(listpack.HeaderSize + 1 + listpack.EntrySize(v))
	lp.Append(v)
	return &node{entry: lp, sz: len(lp), count: 1}
}

// newNodeFor is newNodeWith with room for the values of rest the node
// will take after v, allocated at once.
func (ql *Quicklist) newNodeFor(v []byte, rest [][]byte) *node {
	size := listpack.HeaderSize + 1 + listpack.EntrySize(v)
	sim := node{sz: size, count: 1}
	for _, r := range rest {
		if !ql.allowInsert(&sim, len(r)) {
			break
		}
		e := listpack.EntrySize(r)
		sim.sz += e
		sim.count++
	}
	lp := listpack.NewCap(sim.sz)
	lp.Append(v)
	return &node{entry: lp, sz: len(lp), count: 1}
}

// reserve makes room in n for the values of vals that the fill rules
// will let it take after its current entries, so that a multi-element
// push allocates a node's listpack once rather than at every size class.
func (ql *Quicklist) reserve(n *node, vals [][]byte) {
	if n == nil || n.plain || n.compressed {
		return
	}
	sim := *n
	add := 0
	for _, v := range vals {
		if !ql.allowInsert(&sim, len(v)) {
			break
		}
		e := listpack.EntrySize(v)
		add += e
		sim.sz += e
		sim.count++
	}
	if add > 0 {
		n.lp().Grow(add)
	}
}

// PushAll pushes vals one after another at the head or the tail, as that
// many Push calls would, reserving each node's room once.
func (ql *Quicklist) PushAll(vals [][]byte, head bool) {
	if len(vals) > 1 {
		end := ql.tail
		if head {
			end = ql.head
		}
		ql.reserve(end, vals)
	}
	for i, v := range vals {
		ql.push(v, head, vals[i+1:])
	}
}

func (n *node) lp() *listpack.Listpack { return (*listpack.Listpack)(&n.entry) }

func (n *node) updateSz() { n.sz = len(n.entry) }

// PushHead adds v at the head.
func (ql *Quicklist) PushHead(v []byte) { ql.push(v, true, nil) }

// PushTail adds v at the tail.
func (ql *Quicklist) PushTail(v []byte) { ql.push(v, false, nil) }

// Push adds v at the head or the tail.
func (ql *Quicklist) Push(v []byte, head bool) { ql.push(v, head, nil) }

// push is quicklistPushHead/Tail. rest are the values a batch will push
// next: a node created for v gets room for those it will take.
func (ql *Quicklist) push(v []byte, head bool, rest [][]byte) {
	end := ql.tail
	if head {
		end = ql.head
	}
	switch {
	case ql.isLarge(len(v)):
		ql.insertNode(end, newPlainNode(v), !head)
	case ql.allowInsert(end, len(v)):
		if head {
			end.lp().Prepend(v)
		} else {
			end.lp().Append(v)
		}
		end.updateSz()
		end.count++
	default:
		ql.insertNode(end, ql.newNodeFor(v, rest), !head)
	}
	ql.count++
}

// AppendListpack appends a whole listpack as a node (RDB loading); lp
// is kept, not copied.
func (ql *Quicklist) AppendListpack(lp []byte) {
	n := &node{entry: lp, sz: len(lp), count: listpack.Listpack(lp).Len()}
	ql.insertNode(ql.tail, n, true)
	ql.count += n.count
}

// AppendPlain appends a plain node holding v (RDB loading); v is kept.
func (ql *Quicklist) AppendPlain(v []byte) {
	n := &node{entry: v, sz: len(v), count: 1, plain: true}
	ql.insertNode(ql.tail, n, true)
	ql.count++
}

func (ql *Quicklist) delNode(n *node) {
	if n.next != nil {
		n.next.prev = n.prev
	}
	if n.prev != nil {
		n.prev.next = n.next
	}
	if n == ql.tail {
		ql.tail = n.prev
	}
	if n == ql.head {
		ql.head = n.next
	}
	ql.len--
	ql.count -= n.count
	ql.compressAround(nil)
	n.entry = nil
	n.prev, n.next = nil, nil
}

// delIndex deletes the entry at p of n and reports whether n went away.
// *p becomes the position of the following entry in n, or -1.
func (ql *Quicklist) delIndex(n *node, p *int) bool {
	if n.plain {
		ql.delNode(n)
		return true
	}
	*p = n.lp().Delete(*p)
	n.count--
	if n.count == 0 {
		ql.count-- // delNode subtracts the node's remaining count (0)
		ql.delNode(n)
		return true
	}
	n.updateSz()
	ql.count--
	return false
}

// Entry is an element found by an iterator.
type Entry struct {
	listpack.Entry
	node   *node
	p      int // listpack position; unused for plain nodes
	offset int
}

// Iter walks a list from an index towards the head or the tail. An
// iterator must be released with Release (it recompresses the node it
// stands on); after Insert or Replace it yields nothing more.
type Iter struct {
	ql         *Quicklist
	cur        *node
	p          int
	positioned bool // p is the current entry; else seek offset next
	offset     int
	forward    bool
}

// Iterator returns an iterator from the head (forward) or the tail.
func (ql *Quicklist) Iterator(forward bool) *Iter {
	it := &Iter{ql: ql, forward: forward}
	if forward {
		it.cur = ql.head
	} else {
		it.cur = ql.tail
		it.offset = -1
	}
	return it
}

// IteratorAt returns an iterator whose first Next yields the entry at
// idx (negative counts from the tail), or nil when out of range.
func (ql *Quicklist) IteratorAt(idx int, forward bool) *Iter {
	n, offset := ql.locate(idx)
	if n == nil {
		return nil
	}
	it := ql.Iterator(forward)
	it.cur, it.offset = n, offset
	return it
}

// locate finds the node holding entry idx and the entry's offset in it,
// positive from the node's head for idx >= 0, negative from its tail
// otherwise (quicklistGetIteratorAtIdx).
func (ql *Quicklist) locate(idx int) (*node, int) {
	fwd := idx >= 0
	index := idx
	if !fwd {
		index = -idx - 1
	}
	if index >= ql.count {
		return nil, 0
	}
	seekForward, seekIndex := fwd, index
	if index > (ql.count-1)/2 {
		seekForward = !fwd
		seekIndex = ql.count - 1 - index
	}
	n := ql.head
	if !seekForward {
		n = ql.tail
	}
	accum := 0
	for n != nil && accum+n.count <= seekIndex {
		accum += n.count
		if seekForward {
			n = n.next
		} else {
			n = n.prev
		}
	}
	if n == nil {
		return nil, 0
	}
	if seekForward != fwd {
		accum = ql.count - n.count - accum
	}
	if fwd {
		return n, index - accum
	}
	return n, -index - 1 + accum
}

// Next advances to the next entry, reporting false at the end.
func (it *Iter) Next(e *Entry) bool {
	for it.cur != nil {
		n := it.cur
		ok := false
		switch {
		case !it.positioned:
			decompressForUse(n)
			if n.plain {
				it.p, ok = 0, true
			} else {
				it.p = n.lp().Seek(it.offset)
				ok = it.p >= 0
			}
			it.positioned = true
		case n.plain:
		case it.forward:
			it.p = n.lp().Next(it.p)
			it.offset++
			ok = it.p >= 0
		default:
			it.p = n.lp().Prev(it.p)
			it.offset--
			ok = it.p >= 0
		}
		if ok {
			e.node, e.p, e.offset = n, it.p, it.offset
			if n.plain {
				e.Entry = listpack.Entry{Str: n.entry}
			} else {
				e.Entry = listpack.Listpack(n.entry).Get(it.p)
			}
			return true
		}
		// Out of entries in this node: move on.
		it.ql.compressOrRecompress(n)
		if it.forward {
			it.cur, it.offset = n.next, 0
		} else {
			it.cur, it.offset = n.prev, -1
		}
		it.positioned = false
	}
	return false
}

// Release recompresses the node the iterator stands on.
func (it *Iter) Release() {
	if it != nil && it.cur != nil {
		it.ql.compressOrRecompress(it.cur)
		it.cur = nil
	}
}

// reset makes the iterator yield nothing more (after an insert or a
// replace, as Redis's resetIterator).
func (it *Iter) reset() {
	it.cur = nil
	it.positioned = false
}

// Delete removes e, the entry the iterator stands on; the iterator then
// yields the entry after it in its direction (quicklistDelEntry).
func (it *Iter) Delete(e *Entry) {
	prev, next := e.node.prev, e.node.next
	p := e.p
	gone := it.ql.delIndex(e.node, &p)
	it.positioned = false
	if gone {
		if it.forward {
			it.cur, it.offset = next, 0
		} else {
			it.cur, it.offset = prev, -1
		}
	}
	// Otherwise the offset names the following entry once re-sought:
	// the entries after a deleted one moved down (forward, positive
	// offsets), and a negative offset from the tail now names the entry
	// before the deleted one (backward).
}

// splitNode splits n at offset: with after, n keeps [0, offset] and the
// returned node holds the rest; without, n keeps [offset, end) and the
// returned node the entries before (_quicklistSplitNode).
func splitNode(n *node, offset int, after bool) *node {
	nn := &node{entry: append([]byte(nil), n.entry...)}
	if offset < 0 {
		offset += n.count
	}
	const all = 1 << 62
	if after {
		n.lp().DeleteRange(offset+1, all)
		nn.lp().DeleteRange(0, offset+1)
	} else {
		n.lp().DeleteRange(0, offset)
		nn.lp().DeleteRange(offset, all)
	}
	n.count = n.lp().Len()
	n.updateSz()
	nn.count = nn.lp().Len()
	nn.updateSz()
	return nn
}

// mergePair merges b into a or a into b (the bigger listpack is kept)
// and returns the surviving node (_quicklistListpackMerge).
func (ql *Quicklist) mergePair(a, b *node) *node {
	decompressNode(a)
	decompressNode(b)
	keep, drop := a, b
	if len(a.entry) < len(b.entry) {
		keep, drop = b, a
	}
	keep.entry = listpack.Merge(a.entry, b.entry)
	keep.count = keep.lp().Len()
	keep.updateSz()
	drop.count = 0
	ql.delNode(drop)
	ql.compressOrRecompress(keep)
	return keep
}

// mergeAround merges the nodes around center where the fill allows
// (_quicklistMergeNodes).
func (ql *Quicklist) mergeAround(center *node) {
	var prev, prevPrev, next, nextNext *node
	if center.prev != nil {
		prev = center.prev
		prevPrev = prev.prev
	}
	if center.next != nil {
		next = center.next
		nextNext = next.next
	}
	if ql.allowMerge(prev, prevPrev) {
		ql.mergePair(prevPrev, prev)
	}
	if ql.allowMerge(next, nextNext) {
		ql.mergePair(next, nextNext)
	}
	target := center
	if ql.allowMerge(center, center.prev) {
		target = ql.mergePair(center.prev, center)
	}
	if ql.allowMerge(target, target.next) {
		ql.mergePair(target, target.next)
	}
}

func (ql *Quicklist) insertPlainNode(old *node, v []byte, after bool) {
	ql.insertNode(old, newPlainNode(v), after)
	ql.count++
}

// insert is _quicklistInsert: v goes before or after the entry e.
func (ql *Quicklist) insert(it *Iter, e *Entry, v []byte, after bool) {
	defer it.reset()
	n := e.node
	sz := len(v)
	if n == nil {
		if ql.isLarge(sz) {
			ql.insertPlainNode(ql.tail, v, after)
			return
		}
		ql.insertNode(nil, newNodeWith(v), after)
		ql.count++
		return
	}
	full := !ql.allowInsert(n, sz)
	atTail, atHead, availNext, availPrev := false, false, false, false
	if after && (e.offset == n.count-1 || e.offset == -1) {
		atTail = true
		availNext = ql.allowInsert(n.next, sz)
	}
	if !after && (e.offset == 0 || e.offset == -n.count) {
		atHead = true
		availPrev = ql.allowInsert(n.prev, sz)
	}
	if ql.isLarge(sz) {
		if n.plain || (atTail && after) || (atHead && !after) {
			ql.insertPlainNode(n, v, after)
		} else {
			decompressForUse(n)
			nn := splitNode(n, e.offset, after)
			pn := newPlainNode(v)
			ql.insertNode(n, pn, after)
			ql.insertNode(pn, nn, after)
			ql.count++
		}
		return
	}
	switch {
	case !full:
		decompressForUse(n)
		where := listpack.Before
		if after {
			where = listpack.After
		}
		n.lp().Insert(e.p, where, v)
		n.count++
		n.updateSz()
		ql.recompressOnly(n)
	case atTail && availNext && after:
		nn := n.next
		decompressForUse(nn)
		nn.lp().Prepend(v)
		nn.count++
		nn.updateSz()
		ql.recompressOnly(nn)
		ql.recompressOnly(n)
	case atHead && availPrev && !after:
		nn := n.prev
		decompressForUse(nn)
		nn.lp().Append(v)
		nn.count++
		nn.updateSz()
		ql.recompressOnly(nn)
		ql.recompressOnly(n)
	case (atTail && !availNext && after) || (atHead && !availPrev && !after):
		ql.insertNode(n, newNodeWith(v), after)
	default:
		decompressForUse(n)
		nn := splitNode(n, e.offset, after)
		if after {
			nn.lp().Prepend(v)
		} else {
			nn.lp().Append(v)
		}
		nn.count++
		nn.updateSz()
		ql.insertNode(n, nn, after)
		ql.mergeAround(n)
	}
	ql.count++
}

// InsertBefore inserts v before e, the iterator's current entry; the
// iterator is done afterwards.
func (ql *Quicklist) InsertBefore(it *Iter, e *Entry, v []byte) { ql.insert(it, e, v, false) }

// InsertAfter inserts v after e; the iterator is done afterwards.
func (ql *Quicklist) InsertAfter(it *Iter, e *Entry, v []byte) { ql.insert(it, e, v, true) }

// Replace replaces e with v; the iterator is done afterwards
// (quicklistReplaceEntry).
func (ql *Quicklist) Replace(it *Iter, e *Entry, v []byte) {
	n := e.node
	sz := len(v)
	switch {
	case !n.plain && !ql.isLarge(sz):
		n.lp().Replace(e.p, v)
		n.updateSz()
		ql.compressOrRecompress(n)
	case n.plain:
		if ql.isLarge(sz) {
			n.entry = append([]byte(nil), v...)
			n.sz = sz
			ql.compressOrRecompress(n)
		} else {
			ql.insert(it, e, v, true)
			ql.delNode(n)
		}
	default:
		n.dontCompress = true
		ql.insert(it, e, v, true)
		if n.count == 1 {
			ql.delNode(n)
		} else {
			p := n.lp().Seek(-1)
			ql.delIndex(n, &p)
			n.dontCompress = false
			ql.compressOrRecompress(n)
			ql.compressOrRecompress(n.next)
		}
	}
	it.reset()
}

// ReplaceAt replaces the entry at index (negative from the tail) with v
// and reports whether the index was in range (LSET).
func (ql *Quicklist) ReplaceAt(index int, v []byte) bool {
	it := ql.IteratorAt(index, false)
	if it == nil {
		return false
	}
	var e Entry
	if !it.Next(&e) {
		it.Release()
		return false
	}
	ql.Replace(it, &e, v)
	it.Release()
	return true
}

// Index returns the entry at index (negative from the tail), or false.
// The entry's bytes alias the list until its next change.
func (ql *Quicklist) Index(index int) (listpack.Entry, bool) {
	it := ql.IteratorAt(index, false)
	if it == nil {
		return listpack.Entry{}, false
	}
	var e Entry
	ok := it.Next(&e)
	it.Release()
	return e.Entry, ok
}

// DelRange deletes count entries from start (negative from the tail),
// clamped to the list (quicklistDelRange).
func (ql *Quicklist) DelRange(start, count int) {
	if count <= 0 {
		return
	}
	extent := count
	if start >= 0 && extent > ql.count-start {
		extent = ql.count - start
	} else if start < 0 && extent > -start {
		extent = -start
	}
	n, offset := ql.locate(start)
	if n == nil {
		return
	}
	for extent > 0 && n != nil {
		next := n.next
		var del int
		entire := false
		switch {
		case offset == 0 && extent >= n.count:
			entire = true
			del = n.count
		case offset >= 0 && extent+offset >= n.count:
			del = n.count - offset
		case offset < 0:
			del = min(-offset, extent)
		default:
			del = extent
		}
		if entire || n.plain {
			ql.delNode(n)
		} else {
			decompressForUse(n)
			n.lp().DeleteRange(offset, del)
			n.updateSz()
			n.count -= del
			ql.count -= del
			if n.count == 0 {
				ql.delNode(n)
			} else {
				ql.recompressOnly(n)
			}
		}
		extent -= del
		n = next
		offset = 0
	}
}

// Pop removes and returns the head or tail entry, or false when empty.
// The returned entry's string is a copy.
func (ql *Quicklist) Pop(head bool) (listpack.Entry, bool) {
	n := ql.tail
	pos := -1
	if head {
		n, pos = ql.head, 0
	}
	if ql.count == 0 || n == nil {
		return listpack.Entry{}, false
	}
	if n.plain {
		e := listpack.Entry{Str: n.entry}
		ql.delNode(n)
		return e, true
	}
	p := n.lp().Seek(pos)
	e := n.lp().Get(p)
	if !e.IsInt {
		e.Str = append([]byte(nil), e.Str...)
	}
	ql.delIndex(n, &p)
	return e, true
}

// Dup returns an independent copy with the same node layout.
func (ql *Quicklist) Dup() *Quicklist {
	cp := &Quicklist{fill: ql.fill, compress: ql.compress, packedThreshold: ql.packedThreshold}
	for n := ql.head; n != nil; n = n.next {
		nn := &node{entry: append([]byte(nil), n.entry...), sz: n.sz, count: n.count,
			plain: n.plain, compressed: n.compressed}
		cp.insertNode(cp.tail, nn, true)
		cp.count += nn.count
	}
	return cp
}

// NodeInfo describes a node for persistence and introspection.
type NodeInfo struct {
	Plain bool
	// Compressed holds the LZF bytes of a compressed node (Size is then
	// the uncompressed size); otherwise Data holds the listpack or the
	// plain element.
	Compressed []byte
	Data       []byte
	Size       int
	Count      int
}

// EachNode calls fn for every node from the head until fn returns false.
// The bytes alias the list and are valid until its next change.
func (ql *Quicklist) EachNode(fn func(NodeInfo) bool) {
	for n := ql.head; n != nil; n = n.next {
		ni := NodeInfo{Plain: n.plain, Size: n.sz, Count: n.count}
		if n.compressed {
			ni.Compressed = n.entry
		} else {
			ni.Data = n.entry
		}
		if !fn(ni) {
			return
		}
	}
}

// Stats are DEBUG OBJECT's quicklist figures.
type Stats struct {
	Nodes            int
	Compressed       int // compressed nodes
	UncompressedSize int // sum of node sizes uncompressed
	MaxListpack      int // fill
	AllocatedBytes   int // bytes held by node data as stored
}

// Stats returns the list's node statistics.
func (ql *Quicklist) Stats() Stats {
	st := Stats{Nodes: ql.len, MaxListpack: ql.fill}
	for n := ql.head; n != nil; n = n.next {
		if n.compressed {
			st.Compressed++
		}
		st.UncompressedSize += n.sz
		st.AllocatedBytes += cap(n.entry)
	}
	return st
}
