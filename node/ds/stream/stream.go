// Package stream stores the entries of a Redis stream compactly, in the
// layout of Redis 7.0's t_stream.c: an ordered index of nodes, each keyed
// by its master ID and holding one listpack of entries.
//
// A node's listpack starts with a master entry
//
//	count deleted num-fields field_1 ... field_N 0
//
// (count: live entries, deleted: entries flagged deleted, the fields of
// the node's first entry, a 0 terminator) followed by entries
//
//	flags ms-diff seq-diff [num-fields field_1] value_1 ... lp-count
//
// where ms-diff and seq-diff are the ID's difference from the master ID,
// the field names are left out when flags has SameFields (the entry has
// exactly the master fields), and lp-count is the number of listpack
// elements of the entry before it, so that a node can be walked right to
// left. A deleted entry stays in place with the Deleted flag until its
// whole node goes. Because this is Redis's own layout, the listpacks go
// into RDB files and DUMP payloads (types 15 and 19) verbatim.
//
// The index is a slice of node pointers sorted by master ID: appends and
// trims from the head, the only hot mutations, are O(1) amortized and
// O(nodes) respectively, and a seek is a binary search. One Go object per
// node (stream-node-max-entries entries), not per entry.
//
// Stream does not know the stream's length, last ID or consumer groups:
// the caller keeps those (Redis's stream struct) and passes the length to
// Trim.
package stream

import (
	"errors"
	"fmt"
	"sort"
	"strconv"

	"github.com/keyfleet/keyfleet/node/ds/listpack"
)

// ID is a stream entry ID.
type ID struct{ Ms, Seq uint64 }

// MaxID is the greatest ID.
var MaxID = ID{^uint64(0), ^uint64(0)}

// Compare returns -1, 0 or 1 as a is less than, equal to or greater than b.
func (a ID) Compare(b ID) int {
	switch {
	case a.Ms < b.Ms:
		return -1
	case a.Ms > b.Ms:
		return 1
	case a.Seq < b.Seq:
		return -1
	case a.Seq > b.Seq:
		return 1
	}
	return 0
}

// Less reports a < b.
func (a ID) Less(b ID) bool { return a.Compare(b) < 0 }

// Encode writes id as the 16-byte big-endian key Redis uses for nodes
// and PEL entries (RDB files carry it).
func (a ID) Encode(dst []byte) []byte {
	for i := 7; i >= 0; i-- {
		dst = append(dst, byte(a.Ms>>(uint(i)*8)))
	}
	for i := 7; i >= 0; i-- {
		dst = append(dst, byte(a.Seq>>(uint(i)*8)))
	}
	return dst
}

// DecodeID reads a 16-byte big-endian ID.
func DecodeID(b []byte) (ID, bool) {
	if len(b) != 16 {
		return ID{}, false
	}
	var id ID
	for i := 0; i < 8; i++ {
		id.Ms = id.Ms<<8 | uint64(b[i])
		id.Seq = id.Seq<<8 | uint64(b[8+i])
	}
	return id, true
}

// Entry flags, as Redis's STREAM_ITEM_FLAG_*.
const (
	FlagNone       = 0
	FlagDeleted    = 1
	FlagSameFields = 2
)

// MaxListpackSize bounds a node's listpack as STREAM_LISTPACK_MAX_SIZE.
const MaxListpackSize = 1 << 30

// Node is one node of the index: its master ID and listpack.
type Node struct {
	Master ID
	LP     listpack.Listpack
}

// Stream is the ordered index of nodes. The zero value is empty.
type Stream struct {
	nodes []*Node
}

// New returns an empty stream.
func New() *Stream { return &Stream{} }

// Nodes returns the nodes in ID order; callers must not change them.
func (s *Stream) Nodes() []*Node { return s.nodes }

// NumNodes is the number of nodes (XINFO's radix-tree-nodes stands for it).
func (s *Stream) NumNodes() int { return len(s.nodes) }

// Bytes is the size of the listpacks plus the index, for MEMORY USAGE.
func (s *Stream) Bytes() int {
	n := 24 + 8*cap(s.nodes)
	for _, nd := range s.nodes {
		n += 48 + cap(nd.LP)
	}
	return n
}

// Clone returns an independent copy.
func (s *Stream) Clone() *Stream {
	out := &Stream{nodes: make([]*Node, len(s.nodes))}
	for i, nd := range s.nodes {
		out.nodes[i] = &Node{Master: nd.Master, LP: nd.LP.Clone()}
	}
	return out
}

func getInt(lp listpack.Listpack, p int) int64 {
	e := lp.Get(p)
	if e.IsInt {
		return e.Int
	}
	n, _ := strconv.ParseInt(string(e.Str), 10, 64)
	return n
}

// Limits are the node size limits (stream-node-max-bytes and
// stream-node-max-entries); 0 means no limit.
type Limits struct {
	MaxBytes   int
	MaxEntries int
}

// Append adds an entry with id, which the caller has checked is greater
// than every ID in the stream, and fv alternating field names and values.
func (s *Stream) Append(id ID, fv [][]byte, lim Limits) {
	numFields := len(fv) / 2
	total := 0
	for _, v := range fv {
		total += len(v)
	}
	var tail *Node
	if len(s.nodes) > 0 {
		tail = s.nodes[len(s.nodes)-1]
		maxBytes := lim.MaxBytes
		if maxBytes <= 0 || maxBytes > MaxListpackSize {
			maxBytes = MaxListpackSize
		}
		if len(tail.LP)+total >= maxBytes {
			tail = nil
		} else if lim.MaxEntries > 0 {
			p := tail.LP.First()
			count := getInt(tail.LP, p) + getInt(tail.LP, tail.LP.Next(p))
			if count >= int64(lim.MaxEntries) {
				tail = nil
			}
		}
		if tail == nil {
			last := s.nodes[len(s.nodes)-1]
			if cap(last.LP) > len(last.LP) {
				last.LP = last.LP.Clone()
			}
		}
	}
	flags := int64(FlagNone)
	if tail == nil {
		lp := listpack.NewCap(max(256, 64+total+numFields*4))
		lp.AppendInt(1)
		lp.AppendInt(0)
		lp.AppendInt(int64(numFields))
		for i := 0; i < numFields; i++ {
			lp.Append(fv[2*i])
		}
		lp.AppendInt(0)
		tail = &Node{Master: id, LP: lp}
		s.nodes = append(s.nodes, tail)
		flags = FlagSameFields
	} else {
		lp := &tail.LP
		p := lp.First()
		count := getInt(*lp, p)
		p = lp.ReplaceInt(p, count+1)
		p = lp.Next(p) // deleted
		p = lp.Next(p) // master num-fields
		if getInt(*lp, p) == int64(numFields) {
			same := true
			for i := 0; i < numFields; i++ {
				p = lp.Next(p)
				if !lp.Get(p).Equal(fv[2*i]) {
					same = false
					break
				}
			}
			if same {
				flags = FlagSameFields
			}
		}
	}
	lp := &tail.LP
	// Room for this entry, doubling: a node fills up entry by entry and
	// is trimmed to size when the next one starts.
	need := 40 + total + 2*len(fv)*6
	if cap(*lp)-len(*lp) < need {
		lp.Grow(max(need, len(*lp)))
	}
	lp.AppendInt(flags)
	lp.AppendInt(int64(id.Ms - tail.Master.Ms))
	lp.AppendInt(int64(id.Seq - tail.Master.Seq))
	if flags&FlagSameFields == 0 {
		lp.AppendInt(int64(numFields))
	}
	for i := 0; i < numFields; i++ {
		if flags&FlagSameFields == 0 {
			lp.Append(fv[2*i])
		}
		lp.Append(fv[2*i+1])
	}
	lpCount := int64(numFields + 3)
	if flags&FlagSameFields == 0 {
		lpCount += int64(numFields + 1)
	}
	lp.AppendInt(lpCount)
}

// Iterator walks the live entries between two IDs (inclusive) in either
// direction. It must not be used after the stream changes.
type Iterator struct {
	s          *Stream
	start, end ID
	rev        bool
	ni         int // index of the current node
	lp         listpack.Listpack
	p          int // element position; -1: go to the next node
	master     ID
	nMaster    int
	fieldsAt   int // position of the first master field
	began      bool
	scratch    [][]byte
	// Tombstones makes the iterator return deleted entries too.
	Tombstones bool
	// Flags and Node are those of the entry last returned, and Pos its
	// flags element's position in the node's listpack.
	Flags int64
	Node  int
	Pos   int
}

// Iter returns an iterator over the live entries with start <= ID <= end,
// in ascending order or, with rev, descending.
func (s *Stream) Iter(start, end ID, rev bool) *Iterator {
	it := &Iterator{s: s, start: start, end: end, rev: rev, p: -1}
	// The node that may hold the first ID wanted: the last one whose
	// master is <= it, or the first/last one.
	key := start
	if rev {
		key = end
	}
	i := sort.Search(len(s.nodes), func(i int) bool { return key.Less(s.nodes[i].Master) }) - 1
	if i < 0 {
		// None: Redis starts from the first node, or in reverse from
		// the last one (raxSeek "<=" at EOF falls back to "$").
		if rev {
			i = len(s.nodes) - 1
		} else {
			i = 0
		}
	}
	it.ni = i
	return it
}

// openNode positions the iterator on node ni, at the master terminator
// (forward) or the last element (reverse). It reports false past the ends.
func (it *Iterator) openNode() bool {
	if it.ni < 0 || it.ni >= len(it.s.nodes) {
		return false
	}
	nd := it.s.nodes[it.ni]
	it.lp = nd.LP
	it.master = nd.Master
	p := it.lp.First()
	p = it.lp.Next(p)
	p = it.lp.Next(p)
	it.nMaster = int(getInt(it.lp, p))
	p = it.lp.Next(p)
	it.fieldsAt = p
	if !it.rev {
		for i := 0; i < it.nMaster; i++ {
			p = it.lp.Next(p)
		}
		it.p = p // the master terminator: the "previous lp-count"
	} else {
		it.p = it.lp.Last()
	}
	return true
}

// Next returns the next entry: its ID and its fields and values
// alternating. The slices alias the listpack and a scratch buffer: they
// are valid until the next call or change to the stream.
func (it *Iterator) Next() (ID, [][]byte, bool) {
	for {
		if it.p < 0 {
			if it.began {
				if it.rev {
					it.ni--
				} else {
					it.ni++
				}
			}
			it.began = true
			if !it.openNode() {
				return ID{}, nil, false
			}
		}
		lp := it.lp
		var p int
		if !it.rev {
			p = lp.Next(it.p) // skip the previous lp-count
			if p < 0 {
				it.p = -1
				continue
			}
		} else {
			n := getInt(lp, it.p)
			if n == 0 { // the master terminator
				it.p = -1
				continue
			}
			p = it.p
			for ; n > 0; n-- {
				p = lp.Prev(p)
			}
		}
		flagsAt := p
		flags := getInt(lp, p)
		p = lp.Next(p)
		id := ID{Ms: it.master.Ms + uint64(getInt(lp, p))}
		p = lp.Next(p)
		id.Seq = it.master.Seq + uint64(getInt(lp, p))
		p = lp.Next(p)
		same := flags&FlagSameFields != 0
		nf := it.nMaster
		if !same {
			nf = int(getInt(lp, p))
			p = lp.Next(p)
		}
		// p is at the first field (or value): find the entry's lp-count.
		end := p
		skip := nf * 2
		if same {
			skip = nf
		}
		for i := 0; i < skip; i++ {
			end = lp.Next(end)
		}
		if !it.rev {
			it.p = end
		} else {
			it.p = lp.Prev(flagsAt)
		}
		// As Redis's streamIteratorGetID: only an entry that could be
		// emitted (not a skipped tombstone) ends the walk by being past
		// the far bound. Entries are in order except after XSETID moved
		// the last ID back over a node whose entries are all deleted,
		// where Redis appends below them and finds them so.
		if flags&FlagDeleted != 0 && !it.Tombstones {
			continue
		}
		if !it.rev {
			if id.Less(it.start) {
				continue
			}
			if it.end.Less(id) {
				it.ni = len(it.s.nodes)
				it.p = -1
				return ID{}, nil, false
			}
		} else {
			if it.end.Less(id) {
				continue
			}
			if id.Less(it.start) {
				it.ni = -1
				it.p = -1
				return ID{}, nil, false
			}
		}
		it.Flags, it.Node, it.Pos = flags, it.ni, flagsAt
		fv := it.scratch[:0]
		f := it.fieldsAt
		for i := 0; i < nf; i++ {
			var field []byte
			if same {
				field = elem(lp, f)
				f = lp.Next(f)
			} else {
				field = elem(lp, p)
				p = lp.Next(p)
			}
			fv = append(fv, field, elem(lp, p))
			p = lp.Next(p)
		}
		it.scratch = fv
		return id, fv, true
	}
}

// elem returns the element at p as bytes: an integer element is
// formatted into a fresh slice.
func elem(lp listpack.Listpack, p int) []byte {
	e := lp.Get(p)
	if e.IsInt {
		return strconv.AppendInt(nil, e.Int, 10)
	}
	return e.Str
}

// Get returns the fields of the live entry id.
func (s *Stream) Get(id ID) ([][]byte, bool) {
	it := s.Iter(id, id, false)
	got, fv, ok := it.Next()
	if !ok || got != id {
		return nil, false
	}
	return fv, true
}

// Delete flags the live entry id deleted and reports whether it existed.
// A node left with no live entry is removed.
func (s *Stream) Delete(id ID) bool {
	it := s.Iter(id, id, false)
	if _, _, ok := it.Next(); !ok {
		return false
	}
	s.deleteAt(it.Node, it.Pos, it.Flags)
	return true
}

func (s *Stream) deleteAt(ni, pos int, flags int64) {
	nd := s.nodes[ni]
	lp := &nd.LP
	lp.ReplaceInt(pos, flags|FlagDeleted)
	p := lp.First()
	count := getInt(*lp, p)
	if count == 1 {
		s.nodes = append(s.nodes[:ni], s.nodes[ni+1:]...)
		return
	}
	p = lp.ReplaceInt(p, count-1)
	p = lp.Next(p)
	lp.ReplaceInt(p, getInt(*lp, p)+1)
}

// TrimArgs says how to trim: by MaxLen or, with ByMinID, by MinID.
type TrimArgs struct {
	ByMinID bool
	MaxLen  uint64
	MinID   ID
	// Approx removes whole nodes only; Limit (0: none) bounds the entries
	// removed.
	Approx bool
	Limit  int64
}

// lastIDOf returns the ID of a node's last entry, deleted or not.
func lastIDOf(nd *Node) ID {
	lp := nd.LP
	p := lp.Last()
	n := getInt(lp, p)
	for ; n > 0; n-- {
		p = lp.Prev(p)
	}
	p = lp.Next(p)
	id := ID{Ms: nd.Master.Ms + uint64(getInt(lp, p))}
	p = lp.Next(p)
	id.Seq = nd.Master.Seq + uint64(getInt(lp, p))
	return id
}

// Trim removes entries from the head as Redis's streamTrim and returns
// how many went; length is the stream's live length before.
func (s *Stream) Trim(length uint64, a TrimArgs) int64 {
	var deleted int64
	for len(s.nodes) > 0 {
		if !a.ByMinID && length <= a.MaxLen {
			break
		}
		nd := s.nodes[0]
		lp := &nd.LP
		p := lp.First()
		entries := getInt(*lp, p)
		if a.Limit > 0 && deleted+entries > a.Limit {
			break
		}
		var remove bool
		if !a.ByMinID {
			remove = length-uint64(entries) >= a.MaxLen
		} else {
			remove = lastIDOf(nd).Less(a.MinID)
		}
		if remove {
			s.nodes[0] = nil
			s.nodes = s.nodes[1:]
			length -= uint64(entries)
			deleted += entries
			continue
		}
		if a.Approx {
			break
		}
		var fromNode int64
		p = lp.Next(p)
		p = lp.Next(p)
		nMaster := int(getInt(*lp, p))
		for i := 0; i <= nMaster; i++ {
			p = lp.Next(p)
		}
		// p: the master terminator.
		for p = lp.Next(p); p >= 0; {
			flagsAt := p
			flags := getInt(*lp, p)
			p = lp.Next(p)
			id := ID{Ms: nd.Master.Ms + uint64(getInt(*lp, p))}
			p = lp.Next(p)
			id.Seq = nd.Master.Seq + uint64(getInt(*lp, p))
			p = lp.Next(p)
			var stop bool
			if !a.ByMinID {
				stop = length <= a.MaxLen
			} else {
				stop = !id.Less(a.MinID)
			}
			if stop {
				break
			}
			skip := nMaster
			if flags&FlagSameFields == 0 {
				skip = int(getInt(*lp, p)) * 2
				p = lp.Next(p)
			}
			for ; skip > 0; skip-- {
				p = lp.Next(p)
			}
			// p: this entry's lp-count.
			if flags&FlagDeleted == 0 {
				off := p - flagsAt
				oldLen := len(*lp)
				np := lp.ReplaceInt(flagsAt, flags|FlagDeleted)
				p = np + off + (len(*lp) - oldLen)
				fromNode++
				length--
			}
			p = lp.Next(p)
		}
		deleted += fromNode
		p = lp.First()
		p = lp.ReplaceInt(p, entries-fromNode)
		p = lp.Next(p)
		lp.ReplaceInt(p, getInt(*lp, p)+fromNode)
		break
	}
	if len(s.nodes) == 0 {
		s.nodes = nil
	}
	return deleted
}

// ErrCorrupt is returned (wrapped) for a node that is not a well-formed
// stream listpack.
var ErrCorrupt = errors.New("stream: corrupt listpack")

// AddNode appends a node read from an RDB file or DUMP payload: the
// master must be greater than the previous node's. It returns the node's
// live count.
//
// Every entry is validated whatever deep (sanitize-dump-payload) says:
// Redis trusts its files without it and can crash on a corrupt one, this
// server refuses them instead, at the cost of one walk of each node.
func (s *Stream) AddNode(master ID, lp []byte, deep bool) (int64, error) {
	deep = true
	if err := listpack.Validate(lp, nil); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if len(s.nodes) > 0 && !s.nodes[len(s.nodes)-1].Master.Less(master) {
		return 0, fmt.Errorf("%w: node IDs out of order", ErrCorrupt)
	}
	count, err := validateNode(master, listpack.Listpack(lp), deep)
	if err != nil {
		return 0, err
	}
	if count == 0 {
		return 0, fmt.Errorf("%w: empty node", ErrCorrupt)
	}
	s.nodes = append(s.nodes, &Node{Master: master, LP: listpack.Listpack(lp)})
	return count, nil
}

// validateNode checks a node's stream structure (streamValidateListpackIntegrity):
// always the master entry, every entry's layout when deep. It returns the
// live count of the header. Its walk never panics on a structurally valid
// listpack.
func validateNode(master ID, lp listpack.Listpack, deep bool) (int64, error) {
	bad := func(what string) error { return fmt.Errorf("%w: %s", ErrCorrupt, what) }
	p := lp.First()
	intAt := func(p int) (int64, bool) {
		if p < 0 {
			return 0, false
		}
		e := lp.Get(p)
		return e.Int, e.IsInt
	}
	count, ok := intAt(p)
	if !ok || count < 0 {
		return 0, bad("master count")
	}
	p = lp.Next(p)
	deleted, ok := intAt(p)
	if !ok || deleted < 0 {
		return 0, bad("master deleted count")
	}
	p = lp.Next(p)
	nMaster, ok := intAt(p)
	if !ok || nMaster < 0 {
		return 0, bad("master field count")
	}
	for i := int64(0); i <= nMaster; i++ {
		if p = lp.Next(p); p < 0 {
			return 0, bad("master fields")
		}
	}
	if z, ok := intAt(p); !ok || z != 0 {
		return 0, bad("master terminator")
	}
	if !deep {
		return count, nil
	}
	var live, dead int64
	for p = lp.Next(p); p >= 0; {
		n := 0
		flags, ok := intAt(p)
		if !ok {
			return 0, bad("entry flags")
		}
		// ms-diff and seq-diff must be integers. Their order is not
		// checked: Redis can legitimately append below a node's deleted
		// entries (XSETID backwards over them), and its check does not.
		for _, what := range []string{"entry ms", "entry seq"} {
			if p = lp.Next(p); p < 0 {
				return 0, bad(what)
			}
			if _, ok := intAt(p); !ok {
				return 0, bad(what)
			}
		}
		n = 3
		var skip int64
		if flags&FlagSameFields != 0 {
			skip = nMaster
		} else {
			if p = lp.Next(p); p < 0 {
				return 0, bad("entry field count")
			}
			nf, ok := intAt(p)
			if !ok || nf < 0 {
				return 0, bad("entry field count")
			}
			skip = nf * 2
			n++
		}
		for ; skip > 0; skip-- {
			if p = lp.Next(p); p < 0 {
				return 0, bad("entry fields")
			}
			n++
		}
		if p = lp.Next(p); p < 0 {
			return 0, bad("entry lp-count")
		}
		if c, ok := intAt(p); !ok || c != int64(n) {
			return 0, bad("entry lp-count")
		}
		if flags&FlagDeleted != 0 {
			dead++
		} else {
			live++
		}
		p = lp.Next(p)
	}
	if live != count || dead != deleted {
		return 0, bad("master counts do not match the entries")
	}
	return count, nil
}
