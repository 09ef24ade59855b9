package node

import (
	"bytes"
	"math"
	"sort"
	"strconv"
	"strings"
	"unsafe"

	"github.com/keyfleet/keyfleet/node/ds/stream"
	"github.com/keyfleet/keyfleet/node/keyspace"
	"github.com/keyfleet/keyfleet/node/rdb"
)

// Consumer groups' data structures (Redis's streamCG, streamConsumer and
// streamNACK in stream.h), independent of how entries are stored.
//
// A pending entries list is an ordered map from stream IDs to NACKs. Redis
// keeps it in a radix tree keyed by the big-endian ID; here it is a
// two-level sorted structure: a sorted slice of leaves, each a sorted slice
// of at most pelLeafMax items, found by binary search at both levels. The
// common pattern (XREADGROUP appends ascending IDs, XACK removes the
// oldest) touches one leaf, lookups are O(log n), ordered walks are a
// slice scan, and the items live inline (no allocation per NACK: the group
// PEL holds the NACK itself, a consumer's PEL only the IDs, resolved in
// the group PEL when the NACK is needed).

// pelLeafMax bounds a leaf: inserting into a full leaf splits it.
const pelLeafMax = 128

type pelItem[V any] struct {
	id streamID
	v  V
}

type pelLeaf[V any] struct {
	items []pelItem[V]
}

// pelTree is an ordered map from stream IDs to V. The zero value is empty.
// Pointers it returns are valid until the next insertion or deletion.
type pelTree[V any] struct {
	leaves []*pelLeaf[V]
	n      int
}

// Len returns the number of items.
func (t *pelTree[V]) Len() int { return t.n }

// leafFor returns the index of the leaf that holds id or would hold it:
// the last leaf whose first ID is <= id (the first leaf if none).
func (t *pelTree[V]) leafFor(id streamID) int {
	i := sort.Search(len(t.leaves), func(i int) bool {
		return t.leaves[i].items[0].id.cmp(id) > 0
	})
	if i > 0 {
		i--
	}
	return i
}

// search returns the position of the first item >= id in leaf l.
func (l *pelLeaf[V]) search(id streamID) int {
	return sort.Search(len(l.items), func(i int) bool {
		return l.items[i].id.cmp(id) >= 0
	})
}

// Get returns the value at id.
func (t *pelTree[V]) Get(id streamID) (*V, bool) {
	if t.n == 0 {
		return nil, false
	}
	l := t.leaves[t.leafFor(id)]
	j := l.search(id)
	if j < len(l.items) && l.items[j].id == id {
		return &l.items[j].v, true
	}
	return nil, false
}

// Insert adds id with value v; false (and no change) if id is present.
func (t *pelTree[V]) Insert(id streamID, v V) bool {
	if t.n == 0 {
		t.leaves = append(t.leaves[:0], &pelLeaf[V]{items: []pelItem[V]{{id, v}}})
		t.n = 1
		return true
	}
	li := t.leafFor(id)
	l := t.leaves[li]
	j := l.search(id)
	if j < len(l.items) && l.items[j].id == id {
		return false
	}
	if len(l.items) >= pelLeafMax {
		if j == len(l.items) && li == len(t.leaves)-1 {
			// Appending past the last item, the usual case: start a new
			// leaf instead of splitting, so leaves stay full.
			// Sized for the full leaf it will likely become.
			items := append(make([]pelItem[V], 0, pelLeafMax), pelItem[V]{id, v})
			t.leaves = append(t.leaves, &pelLeaf[V]{items: items})
			t.n++
			return true
		}
		half := len(l.items) / 2
		right := &pelLeaf[V]{items: append(make([]pelItem[V], 0, pelLeafMax), l.items[half:]...)}
		clear(l.items[half:])
		l.items = l.items[:half]
		t.leaves = append(t.leaves, nil)
		copy(t.leaves[li+2:], t.leaves[li+1:])
		t.leaves[li+1] = right
		if j > half {
			l, j = right, j-half
		}
	}
	l.items = append(l.items, pelItem[V]{})
	copy(l.items[j+1:], l.items[j:])
	l.items[j] = pelItem[V]{id, v}
	t.n++
	return true
}

// Delete removes id, returning its value.
func (t *pelTree[V]) Delete(id streamID) (V, bool) {
	var zero V
	if t.n == 0 {
		return zero, false
	}
	li := t.leafFor(id)
	l := t.leaves[li]
	j := l.search(id)
	if j >= len(l.items) || l.items[j].id != id {
		return zero, false
	}
	v := l.items[j].v
	if j == 0 {
		// Acknowledging the oldest entry is the common case: no shift.
		l.items[0] = pelItem[V]{}
		l.items = l.items[1:]
	} else {
		copy(l.items[j:], l.items[j+1:])
		l.items[len(l.items)-1] = pelItem[V]{}
		l.items = l.items[:len(l.items)-1]
	}
	t.n--
	if len(l.items) == 0 {
		copy(t.leaves[li:], t.leaves[li+1:])
		t.leaves[len(t.leaves)-1] = nil
		t.leaves = t.leaves[:len(t.leaves)-1]
	} else if li+1 < len(t.leaves) && len(l.items)+len(t.leaves[li+1].items) <= pelLeafMax/2 {
		// Merge small neighbours so that acknowledging in random order
		// does not leave a trail of near-empty leaves.
		l.items = append(l.items, t.leaves[li+1].items...)
		copy(t.leaves[li+1:], t.leaves[li+2:])
		t.leaves[len(t.leaves)-1] = nil
		t.leaves = t.leaves[:len(t.leaves)-1]
	}
	return v, true
}

// Seek returns the first item whose ID is >= id.
func (t *pelTree[V]) Seek(id streamID) (streamID, *V, bool) {
	if t.n == 0 {
		return streamID{}, nil, false
	}
	li := t.leafFor(id)
	l := t.leaves[li]
	j := l.search(id)
	if j == len(l.items) {
		li++
		if li == len(t.leaves) {
			return streamID{}, nil, false
		}
		l, j = t.leaves[li], 0
	}
	return l.items[j].id, &l.items[j].v, true
}

// First and Last return the smallest and the largest IDs.
func (t *pelTree[V]) First() (streamID, bool) {
	if t.n == 0 {
		return streamID{}, false
	}
	return t.leaves[0].items[0].id, true
}

func (t *pelTree[V]) Last() (streamID, bool) {
	if t.n == 0 {
		return streamID{}, false
	}
	l := t.leaves[len(t.leaves)-1]
	return l.items[len(l.items)-1].id, true
}

// Ascend calls fn for the items with IDs >= from in order until it
// returns false. fn must not change the tree.
func (t *pelTree[V]) Ascend(from streamID, fn func(id streamID, v *V) bool) {
	if t.n == 0 {
		return
	}
	li := t.leafFor(from)
	j := t.leaves[li].search(from)
	for ; li < len(t.leaves); li, j = li+1, 0 {
		items := t.leaves[li].items
		for ; j < len(items); j++ {
			if !fn(items[j].id, &items[j].v) {
				return
			}
		}
	}
}

// Clone returns a copy of t (values copied as they are).
func (t *pelTree[V]) Clone() pelTree[V] {
	c := pelTree[V]{n: t.n, leaves: make([]*pelLeaf[V], len(t.leaves))}
	for i, l := range t.leaves {
		c.leaves[i] = &pelLeaf[V]{items: append(make([]pelItem[V], 0, max(len(l.items), 1)), l.items...)}
	}
	return c
}

// streamNACK is a delivered, not yet acknowledged entry of a group: who
// has it, when it was last delivered (unix ms) and how many times.
type streamNACK struct {
	consumer      *streamConsumer
	deliveryTime  int64
	deliveryCount uint64
}

// streamConsumer is a consumer of a group. Its PEL holds the IDs of the
// group PEL's NACKs that it owns.
type streamConsumer struct {
	name     string
	seenTime int64
	pel      pelTree[struct{}]
}

// entriesReadInvalid is SCG_INVALID_ENTRIES_READ: a group whose read
// counter is unknown.
const entriesReadInvalid = -1

// streamCG is a consumer group.
type streamCG struct {
	name        string
	lastID      streamID
	entriesRead int64
	pel         pelTree[streamNACK]
	// consumers sorted by name (rax order: bytewise).
	consumers []*streamConsumer
}

// streamGroups are a stream's consumer groups, sorted by name as Redis's
// rax iterates them (XINFO GROUPS, RDB order).
type streamGroups struct {
	list []*streamCG
}

func (gs *streamGroups) find(name string) (int, bool) {
	i := sort.Search(len(gs.list), func(i int) bool { return gs.list[i].name >= name })
	return i, i < len(gs.list) && gs.list[i].name == name
}

// lookup returns the group called name, nil if none. gs may be nil.
func (gs *streamGroups) lookup(name []byte) *streamCG {
	if gs == nil {
		return nil
	}
	if i, ok := gs.find(string(name)); ok {
		return gs.list[i]
	}
	return nil
}

// create adds a group; nil if the name is taken.
func (gs *streamGroups) create(name string, last streamID, entriesRead int64) *streamCG {
	i, ok := gs.find(name)
	if ok {
		return nil
	}
	cg := &streamCG{name: name, lastID: last, entriesRead: entriesRead}
	gs.list = append(gs.list, nil)
	copy(gs.list[i+1:], gs.list[i:])
	gs.list[i] = cg
	return cg
}

// remove deletes the group called name, reporting whether it existed.
func (gs *streamGroups) remove(name []byte) bool {
	i, ok := gs.find(string(name))
	if !ok {
		return false
	}
	copy(gs.list[i:], gs.list[i+1:])
	gs.list[len(gs.list)-1] = nil
	gs.list = gs.list[:len(gs.list)-1]
	return true
}

func (cg *streamCG) findConsumer(name string) (int, bool) {
	i := sort.Search(len(cg.consumers), func(i int) bool { return cg.consumers[i].name >= name })
	return i, i < len(cg.consumers) && cg.consumers[i].name == name
}

// consumer returns the consumer called name, nil if none.
func (cg *streamCG) consumer(name []byte) *streamConsumer {
	if i, ok := cg.findConsumer(string(name)); ok {
		return cg.consumers[i]
	}
	return nil
}

// addConsumer creates a consumer seen at now; nil if it exists.
func (cg *streamCG) addConsumer(name string, now int64) *streamConsumer {
	i, ok := cg.findConsumer(name)
	if ok {
		return nil
	}
	sc := &streamConsumer{name: name, seenTime: now}
	cg.consumers = append(cg.consumers, nil)
	copy(cg.consumers[i+1:], cg.consumers[i:])
	cg.consumers[i] = sc
	return sc
}

// delConsumer removes sc and the NACKs it owns from the group PEL.
func (cg *streamCG) delConsumer(sc *streamConsumer) {
	sc.pel.Ascend(streamID{}, func(id streamID, _ *struct{}) bool {
		cg.pel.Delete(id)
		return true
	})
	if i, ok := cg.findConsumer(sc.name); ok {
		copy(cg.consumers[i:], cg.consumers[i+1:])
		cg.consumers[len(cg.consumers)-1] = nil
		cg.consumers = cg.consumers[:len(cg.consumers)-1]
	}
}

// ack removes id from the group PEL and its owner's PEL.
func (cg *streamCG) ack(id streamID) bool {
	nack, ok := cg.pel.Delete(id)
	if !ok {
		return false
	}
	if nack.consumer != nil {
		nack.consumer.pel.Delete(id)
	}
	return true
}

// clone deep-copies the groups (COPY), rewiring NACKs to the copies of
// their consumers.
func (gs *streamGroups) clone() *streamGroups {
	if gs == nil {
		return nil
	}
	out := &streamGroups{list: make([]*streamCG, len(gs.list))}
	for i, cg := range gs.list {
		ncg := &streamCG{name: cg.name, lastID: cg.lastID, entriesRead: cg.entriesRead,
			consumers: make([]*streamConsumer, len(cg.consumers))}
		m := make(map[*streamConsumer]*streamConsumer, len(cg.consumers))
		for j, sc := range cg.consumers {
			nsc := &streamConsumer{name: sc.name, seenTime: sc.seenTime, pel: sc.pel.Clone()}
			ncg.consumers[j] = nsc
			m[sc] = nsc
		}
		ncg.pel = cg.pel.Clone()
		for _, l := range ncg.pel.leaves {
			for k := range l.items {
				l.items[k].v.consumer = m[l.items[k].v.consumer]
			}
		}
		out.list[i] = ncg
	}
	return out
}

func init() {
	register(map[string]handler{
		"xgroup|create":         xgroupCreateCommand,
		"xgroup|setid":          xgroupSetIDCommand,
		"xgroup|destroy":        xgroupDestroyCommand,
		"xgroup|createconsumer": xgroupCreateConsumerCommand,
		"xgroup|delconsumer":    xgroupDelConsumerCommand,
		"xgroup|help":           xgroupHelpCommand,
		"xreadgroup":            xreadgroupCommand,
		"xack":                  xackCommand,
		"xpending":              xpendingCommand,
		"xclaim":                xclaimCommand,
		"xautoclaim":            xautoclaimCommand,
		"xinfo|groups":          xinfoGroupsCommand,
		"xinfo|consumers":       xinfoConsumersCommand,
	})
	serverInits = append(serverInits, initStreamGroupBlocking)
	dbFlushHooks = append(dbFlushHooks, func(s *Server, db *DB) { s.readgroupKeysGone(db) })
	dbSwapHooks = append(dbSwapHooks, func(s *Server, a, b *DB) {
		s.readgroupKeysGone(a)
		s.readgroupKeysGone(b)
	})
}

var (
	argXCLAIM         = []byte("XCLAIM")
	argXGROUP         = []byte("XGROUP")
	argSETID          = []byte("SETID")
	argCREATECONSUMER = []byte("CREATECONSUMER")
	argENTRIESREAD    = []byte("ENTRIESREAD")
	argTIME           = []byte("TIME")
	argRETRYCOUNT     = []byte("RETRYCOUNT")
	argFORCE          = []byte("FORCE")
	argJUSTID         = []byte("JUSTID")
	argLASTID         = []byte("LASTID")
	argZero           = []byte("0")
)

const (
	errNoGroupBlocked = "NOGROUP the consumer group this client was blocked on no longer exists"
	errStreamGone     = "UNBLOCKED the stream key no longer exists"
	errXGroupNoKey    = "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically."
)

// groupSet returns so's groups, creating the empty set.
func (so *streamObj) groupSet() *streamGroups {
	if so.groups == nil {
		so.groups = &streamGroups{}
	}
	return so.groups
}

// parseXGroupOptions parses the trailing options of XGROUP CREATE (MKSTREAM,
// ENTRIESREAD) and SETID (ENTRIESREAD) as Redis's xgroupCommand.
func parseXGroupOptions(c *Client, args [][]byte, create bool) (mkstream bool, entriesRead int64, ok bool) {
	entriesRead = entriesReadInvalid
	for i := 5; i < len(args); {
		switch {
		case create && strings.EqualFold(string(args[i]), "MKSTREAM"):
			mkstream = true
			i++
		case strings.EqualFold(string(args[i]), "ENTRIESREAD") && i+1 < len(args):
			n, ok := parseInt64Strict(args[i+1])
			if !ok {
				c.Error(errNotInt)
				return false, 0, false
			}
			if n < 0 && n != entriesReadInvalid {
				c.Error("ERR value for ENTRIESREAD must be positive or -1")
				return false, 0, false
			}
			entriesRead = n
			i += 2
		default:
			subcommandSyntaxError(c, args)
			return false, 0, false
		}
	}
	return mkstream, entriesRead, true
}

func noGroupForKey(c *Client, group, key []byte) {
	c.Error("NOGROUP No such consumer group '" + string(group) + "' for key name '" + string(key) + "'")
}

// xgroupTarget looks up the stream (args[2]) and group (args[3]) an XGROUP
// subcommand names, replying Redis's error when either is missing.
func (s *Server) xgroupTarget(c *Client, args [][]byte) (*streamObj, *streamCG, bool) {
	so, ok := s.streamLookupWrite(c, args[2])
	if !ok {
		return nil, nil, false
	}
	if so == nil {
		c.Error(errXGroupNoKey)
		return nil, nil, false
	}
	cg := so.groups.lookup(args[3])
	if cg == nil {
		noGroupForKey(c, args[3], args[2])
		return nil, nil, false
	}
	return so, cg, true
}

func xgroupCreateCommand(s *Server, c *Client, args [][]byte) {
	mkstream, entriesRead, ok := parseXGroupOptions(c, args, true)
	if !ok {
		return
	}
	key := args[2]
	so, ok := s.streamLookupWrite(c, key)
	if !ok {
		return
	}
	if so == nil && !mkstream {
		c.Error(errXGroupNoKey)
		return
	}
	if len(args) > 8 {
		subcommandSyntaxError(c, args)
		return
	}
	var id streamID
	if string(args[4]) == "$" {
		if so != nil {
			id = so.lastID
		}
	} else if id, ok = parseStreamIDOrReply(c, args[4], 0, true); !ok {
		return
	}
	if so == nil {
		so = s.streamCreate(c.db, key)
	}
	if so.groupSet().create(string(args[3]), id, entriesRead) == nil {
		c.Error("BUSYGROUP Consumer Group name already exists")
		return
	}
	c.OK()
	s.dirty++
	s.notify(notifyStream, "xgroup-create", key, c.db.id)
	s.propagate(c.db.id, args)
}

func xgroupSetIDCommand(s *Server, c *Client, args [][]byte) {
	_, entriesRead, ok := parseXGroupOptions(c, args, false)
	if !ok {
		return
	}
	key := args[2]
	so, cg, ok := s.xgroupTarget(c, args)
	if !ok {
		return
	}
	if len(args) != 5 && len(args) != 7 {
		subcommandSyntaxError(c, args)
		return
	}
	var id streamID
	if string(args[4]) == "$" {
		id = so.lastID
	} else if id, ok = parseStreamIDOrReply(c, args[4], 0, false); !ok {
		return
	}
	cg.lastID = id
	cg.entriesRead = entriesRead
	c.OK()
	s.dirty++
	s.notify(notifyStream, "xgroup-setid", key, c.db.id)
	s.propagate(c.db.id, args)
}

func xgroupDestroyCommand(s *Server, c *Client, args [][]byte) {
	key := args[2]
	so, ok := s.streamLookupWrite(c, key)
	if !ok {
		return
	}
	if so == nil {
		c.Error(errXGroupNoKey)
		return
	}
	if !so.groups.removeOK(args[3]) {
		c.Int(0)
		return
	}
	c.Int(1)
	s.dirty++
	s.notify(notifyStream, "xgroup-destroy", key, c.db.id)
	// Clients blocked in XREADGROUP on the group get -NOGROUP.
	s.signalReady(c.db, key)
	s.propagate(c.db.id, args)
}

// removeOK is remove on a possibly nil set.
func (gs *streamGroups) removeOK(name []byte) bool { return gs != nil && gs.remove(name) }

func xgroupCreateConsumerCommand(s *Server, c *Client, args [][]byte) {
	key := args[2]
	_, cg, ok := s.xgroupTarget(c, args)
	if !ok {
		return
	}
	if s.createConsumer(c.db, key, cg, args[4]) == nil {
		c.Int(0)
		return
	}
	c.Int(1)
	s.propagate(c.db.id, args)
}

// createConsumer is streamCreateConsumer: a new consumer counts as a
// change and raises xgroup-createconsumer. nil if it exists.
func (s *Server) createConsumer(db *DB, key []byte, cg *streamCG, name []byte) *streamConsumer {
	sc := cg.addConsumer(string(name), s.now())
	if sc == nil {
		return nil
	}
	s.dirty++
	s.notify(notifyStream, "xgroup-createconsumer", key, db.id)
	return sc
}

// lookupOrCreateConsumer is streamLookupConsumer (refreshing the seen
// time) falling back to createConsumer; created reports the latter.
func (s *Server) lookupOrCreateConsumer(db *DB, key []byte, cg *streamCG, name []byte) (sc *streamConsumer, created bool) {
	if sc = cg.consumer(name); sc != nil {
		sc.seenTime = s.now()
		return sc, false
	}
	return s.createConsumer(db, key, cg, name), true
}

func xgroupDelConsumerCommand(s *Server, c *Client, args [][]byte) {
	key := args[2]
	_, cg, ok := s.xgroupTarget(c, args)
	if !ok {
		return
	}
	sc := cg.consumer(args[4])
	if sc == nil {
		c.Int(0)
		return
	}
	pending := sc.pel.Len()
	cg.delConsumer(sc)
	c.Int(int64(pending))
	s.dirty++
	s.notify(notifyStream, "xgroup-delconsumer", key, c.db.id)
	s.propagate(c.db.id, args)
}

var xgroupHelp = []string{
	"CREATE <key> <groupname> <id|$> [option]",
	"    Create a new consumer group. Options are:",
	"    * MKSTREAM",
	"      Create the empty stream if it does not exist.",
	"    * ENTRIESREAD entries_read",
	"      Set the group's entries_read counter (internal use).",
	"CREATECONSUMER <key> <groupname> <consumer>",
	"    Create a new consumer in the specified group.",
	"DELCONSUMER <key> <groupname> <consumer>",
	"    Remove the specified consumer.",
	"DESTROY <key> <groupname>",
	"    Remove the specified group.",
	"SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
	"    Set the current group ID and entries_read counter.",
}

func xgroupHelpCommand(s *Server, c *Client, args [][]byte) { replyHelp(c, args[0], xgroupHelp) }

// XREADGROUP's ">" is maxStreamID (Redis marks it with the largest ID,
// which therefore reads as ">" also when given literally).

// XREADGROUP GROUP group consumer [COUNT n] [BLOCK ms] [NOACK]
// STREAMS key [key ...] id [id ...]
func xreadgroupCommand(s *Server, c *Client, args [][]byte) {
	a, ok := s.parseXreadArgs(c, args, true)
	if !ok {
		return
	}
	group, consumer, count, noack := a.group, a.consumer, a.count, a.noack
	keys := a.keys
	// One read per key: the common single-key call stays on the stack.
	type readgroupKey struct {
		so *streamObj
		cg *streamCG
		id streamID
	}
	var one [1]readgroupKey
	reads := one[:0]
	if len(keys) > 1 {
		reads = make([]readgroupKey, 0, len(keys))
	}
	for i, key := range keys {
		so, ok := s.streamLookupRead(c, key)
		if !ok {
			return
		}
		var cg *streamCG
		if so != nil {
			cg = so.groups.lookup(group)
		}
		if cg == nil {
			c.Error("NOGROUP No such key '" + string(key) + "' or consumer group '" + string(group) + "' in XREADGROUP with GROUP option")
			return
		}
		rk := readgroupKey{so: so, cg: cg, id: maxStreamID}
		arg := a.idArgs[i]
		switch string(arg) {
		case "$":
			c.Error("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.")
			return
		case ">":
		default:
			if rk.id, ok = parseStreamIDOrReply(c, arg, 0, true); !ok {
				return
			}
		}
		reads = append(reads, rk)
	}

	served := 0
	var top deferred
	for i, key := range keys {
		so, cg := reads[i].so, reads[i].cg
		gt := reads[i].id
		history := gt != maxStreamID
		if !history {
			if top, ok := so.lastValidID(); !ok || top.cmp(cg.lastID) <= 0 {
				continue
			}
			gt = cg.lastID
		}
		served++
		if served == 1 {
			top = c.DeferLen()
		}
		if c.resp == 2 {
			c.ArrayLen(2)
		}
		c.Bulk(key)
		sc, created := s.lookupOrCreateConsumer(c.db, key, cg, consumer)
		if created && noack {
			s.propagate(c.db.id, [][]byte{argXGROUP, argCREATECONSUMER, key, group, consumer})
		}
		start, _ := gt.incr()
		if history {
			s.deliverHistory(c, so, cg, sc, start, count)
		} else {
			s.deliverNew(c, key, so, cg, sc, group, start, count, noack)
		}
		s.dirty++
	}
	if served > 0 {
		if c.resp == 2 {
			c.SetArrayLen(top, served)
		} else {
			c.SetMapLen(top, served)
		}
		return
	}
	if a.timeout == -1 || s.denyBlocking(c) {
		c.NullArray()
		return
	}
	if count == 0 {
		count = xreadBlockedDefaultCount
	}
	// The arguments alias the request buffer: keep copies.
	group = bytes.Clone(group)
	consumer = bytes.Clone(consumer)
	waitKeys := make([][]byte, len(keys))
	for i, k := range keys {
		waitKeys[i] = bytes.Clone(k)
	}
	s.blockForKeys(c, waitKeys, a.timeout, func(key []byte) bool {
		return s.serveBlockedReadgroup(c, key, group, consumer, count, noack)
	}, nil)
	if bc := s.blockingState().byClient[c]; bc != nil {
		bc.servesMissing = true
	}
}

// serveBlockedReadgroup serves a client blocked in XREADGROUP ... > from
// key once it is signalled (Redis's serveClientsBlockedOnStreamKey and
// unblockDeletedStreamReadgroupClients). It runs as the client.
func (s *Server) serveBlockedReadgroup(c *Client, key, group, consumer []byte, count int64, noack bool) bool {
	o, _ := s.peek(c.db, key)
	if o == nil || o.Type != keyspace.TypeStream {
		s.failBlockedReadgroup(c, errStreamGone)
		return true
	}
	so := o.Val.(*streamObj)
	cg := so.groups.lookup(group)
	if cg == nil {
		s.failBlockedReadgroup(c, errNoGroupBlocked)
		return true
	}
	if so.lastID.cmp(cg.lastID) <= 0 {
		return false
	}
	start, _ := cg.lastID.incr()
	// Serving a blocked client is an execution unit of its own, as in
	// Redis (afterCommand after each served client): what it propagates
	// goes out together, in MULTI/EXEC when it is more than one command.
	ms := s.multiState()
	ms.depth++
	defer func() {
		ms.depth--
		if ms.depth == 0 && len(ms.ops) > 0 {
			s.flushPropagation(nil)
		}
	}()
	sc, created := s.lookupOrCreateConsumer(c.db, key, cg, consumer)
	if created && noack {
		s.propagate(c.db.id, [][]byte{argXGROUP, argCREATECONSUMER, key, group, consumer})
	}
	if c.resp == 2 {
		c.ArrayLen(1)
		c.ArrayLen(2)
	} else {
		c.MapLen(1)
	}
	c.Bulk(key)
	s.deliverNew(c, key, so, cg, sc, group, start, count, noack)
	return true
}

// failBlockedReadgroup ends a blocked XREADGROUP with an error, counted
// as a failed call of the command as Redis's updateStatsOnUnblock does.
func (s *Server) failBlockedReadgroup(c *Client, msg string) {
	c.Error(msg)
	if cmd := lookupCommand([]byte("xreadgroup")); cmd != nil {
		s.cmdStatFor(cmd).failed++
	}
}

// deliverNew replies the entries from start on (at most count, 0: all)
// to consumer sc of group cg, as Redis's streamReplyWithRange with a
// group: the group's last ID and read counter advance, each entry enters
// the PELs (unless noack) and the effect is propagated as XCLAIMs (or an
// XGROUP SETID under NOACK).
func (s *Server) deliverNew(c *Client, key []byte, so *streamObj, cg *streamCG, sc *streamConsumer, group []byte, start streamID, count int64, noack bool) {
	d := c.DeferLen()
	n := int64(0)
	propagateLast := false
	now := s.now()
	var idbuf []byte
	it := so.iter(start, maxStreamID, false)
	for count == 0 || n < count {
		id, fv, ok := it.next()
		if !ok {
			break
		}
		if id.cmp(cg.lastID) > 0 {
			if cg.entriesRead != entriesReadInvalid && !so.rangeHasTombstones(id, nil) {
				cg.entriesRead++
			} else if so.entriesAdded != 0 {
				cg.entriesRead = estimatedEntriesRead(so, id)
			}
			cg.lastID = id
			if noack {
				propagateLast = true
			}
		}
		emitEntry(c, id, fv)
		if !noack {
			nack := streamNACK{consumer: sc, deliveryTime: now, deliveryCount: 1}
			if !cg.pel.Insert(id, nack) {
				// An entry already pending (the group's ID was moved back
				// with SETID): it changes hands.
				p, _ := cg.pel.Get(id)
				if p.consumer != nil {
					p.consumer.pel.Delete(id)
				}
				*p = nack
			}
			sc.pel.Insert(id, struct{}{})
			if s.propagating() {
				idbuf = id.appendTo(idbuf[:0])
				s.propagateXCLAIM(c.db.id, key, group, cg, idbuf, &nack)
			}
		}
		n++
	}
	if propagateLast {
		s.propagateGroupID(c.db.id, key, group, cg)
	}
	c.SetArrayLen(d, int(n))
}

// deliverHistory replies the entries of sc's PEL from start on (at most
// count, 0: all), as Redis's streamReplyWithRangeFromConsumerPEL: an entry
// deleted from the stream since shows as its ID with a null.
func (s *Server) deliverHistory(c *Client, so *streamObj, cg *streamCG, sc *streamConsumer, start streamID, count int64) {
	d := c.DeferLen()
	n := int64(0)
	now := s.now()
	for from, ok := start, true; ok && (count == 0 || n < count); {
		id, _, found := sc.pel.Seek(from)
		if !found {
			break
		}
		if cgReplyEntry(c, so, id) {
			if nack, ok := cg.pel.Get(id); ok {
				nack.deliveryTime = now
				nack.deliveryCount++
			}
		} else {
			c.ArrayLen(2)
			replyStreamID(c, id)
			c.NullArray()
		}
		n++
		from, ok = id.incr()
	}
	c.SetArrayLen(d, int(n))
}

// propagateXCLAIM propagates a NACK's state as Redis's
// streamPropagateXCLAIM: an idempotent XCLAIM ... FORCE JUSTID LASTID.
func (s *Server) propagateXCLAIM(dbid int, key, group []byte, cg *streamCG, id []byte, nack *streamNACK) {
	if !s.propagating() {
		return
	}
	owner := []byte(nil)
	if nack.consumer != nil {
		owner = []byte(nack.consumer.name)
	}
	s.propagate(dbid, [][]byte{argXCLAIM, key, group, owner, argZero, id,
		argTIME, strconv.AppendInt(nil, nack.deliveryTime, 10),
		argRETRYCOUNT, strconv.AppendUint(nil, nack.deliveryCount, 10),
		argFORCE, argJUSTID, argLASTID, cg.lastID.appendTo(nil)})
}

// propagateGroupID propagates the group's last ID and read counter as
// XGROUP SETID ... ENTRIESREAD (streamPropagateGroupID).
func (s *Server) propagateGroupID(dbid int, key, group []byte, cg *streamCG) {
	if !s.propagating() {
		return
	}
	s.propagate(dbid, [][]byte{argXGROUP, argSETID, key, group, cg.lastID.appendTo(nil),
		argENTRIESREAD, strconv.AppendInt(nil, cg.entriesRead, 10)})
}

// replyGroupLag replies a group's lag (streamReplyWithCGLag): null when
// it cannot be known.
func replyGroupLag(c *Client, so *streamObj, cg *streamCG) {
	switch {
	case so.entriesAdded == 0:
		c.Int(0)
	case cg.entriesRead != entriesReadInvalid && !so.rangeHasTombstones(cg.lastID, nil):
		c.Int(int64(so.entriesAdded) - cg.entriesRead)
	default:
		if read, ok := so.estimateDistance(cg.lastID); ok {
			c.Int(int64(so.entriesAdded - read))
		} else {
			c.Null()
		}
	}
}

// estimatedEntriesRead is estimateDistance as a group's read counter.
func estimatedEntriesRead(so *streamObj, id streamID) int64 {
	if n, ok := so.estimateDistance(id); ok {
		return int64(n)
	}
	return entriesReadInvalid
}

// cgEntryExists reports whether id is a live entry of so.
func cgEntryExists(so *streamObj, id streamID) bool {
	_, ok := so.entry(id)
	return ok
}

// cgReplyEntry writes entry id of so, reporting whether it exists.
func cgReplyEntry(c *Client, so *streamObj, id streamID) bool {
	fv, ok := so.entry(id)
	if ok {
		emitEntry(c, id, fv)
	}
	return ok
}

// parseStreamIDNoReply parses a strict ID without replying (XCLAIM's IDs
// end at the first argument that is not one).
func parseStreamIDNoReply(b []byte) (streamID, bool) {
	id, _, ok := parseStreamID(b, 0, true, false)
	return id, ok
}

// XACK key group id [id ...]
func xackCommand(s *Server, c *Client, args [][]byte) {
	so, ok := s.streamLookupRead(c, args[1])
	if !ok {
		return
	}
	var cg *streamCG
	if so != nil {
		cg = so.groups.lookup(args[2])
	}
	if cg == nil {
		c.Int(0)
		return
	}
	// All or nothing: every ID parses before any is acknowledged.
	ids := make([]streamID, 0, len(args)-3)
	for _, a := range args[3:] {
		id, ok := parseStreamIDOrReply(c, a, 0, true)
		if !ok {
			return
		}
		ids = append(ids, id)
	}
	acked := 0
	for _, id := range ids {
		if cg.ack(id) {
			acked++
			s.dirty++
		}
	}
	c.Int(int64(acked))
	if acked > 0 {
		s.propagate(c.db.id, args)
	}
}

// XPENDING key group [[IDLE min-idle] start end count [consumer]]
func xpendingCommand(s *Server, c *Client, args [][]byte) {
	justInfo := len(args) == 3
	if len(args) != 3 && (len(args) < 6 || len(args) > 9) {
		c.Error(errSyntax)
		return
	}
	var start, end streamID
	var count, minIdle int64
	var consumerName []byte
	if len(args) >= 6 {
		at := 3
		if strings.EqualFold(string(args[3]), "IDLE") {
			n, ok := parseInt64Strict(args[4])
			if !ok {
				c.Error(errNotInt)
				return
			}
			minIdle = n
			if len(args) < 8 {
				c.Error(errSyntax)
				return
			}
			at += 2
		}
		n, ok := parseInt64Strict(args[at+2])
		if !ok {
			c.Error(errNotInt)
			return
		}
		count = max(n, 0)
		var ex bool
		if start, ex, ok = parseIntervalID(c, args[at], 0); !ok {
			return
		}
		if ex {
			if start, ok = start.incr(); !ok {
				c.Error("ERR invalid start ID for the interval")
				return
			}
		}
		if end, ex, ok = parseIntervalID(c, args[at+1], math.MaxUint64); !ok {
			return
		}
		if ex {
			if end, ok = end.decr(); !ok {
				c.Error("ERR invalid end ID for the interval")
				return
			}
		}
		if at+3 < len(args) {
			consumerName = args[at+3]
		}
	}
	so, ok := s.streamLookupRead(c, args[1])
	if !ok {
		return
	}
	var cg *streamCG
	if so != nil {
		cg = so.groups.lookup(args[2])
	}
	if cg == nil {
		c.Error("NOGROUP No such key '" + string(args[1]) + "' or consumer group '" + string(args[2]) + "'")
		return
	}
	if justInfo {
		c.ArrayLen(4)
		c.Int(int64(cg.pel.Len()))
		first, ok := cg.pel.First()
		if !ok {
			c.Null()
			c.Null()
			c.NullArray()
			return
		}
		last, _ := cg.pel.Last()
		replyStreamID(c, first)
		replyStreamID(c, last)
		d := c.DeferLen()
		n := 0
		for _, sc := range cg.consumers {
			if sc.pel.Len() == 0 {
				continue
			}
			c.ArrayLen(2)
			c.BulkString(sc.name)
			c.BulkInt(int64(sc.pel.Len()))
			n++
		}
		c.SetArrayLen(d, n)
		return
	}
	var sc *streamConsumer
	if consumerName != nil {
		if sc = cg.consumer(consumerName); sc == nil {
			c.ArrayLen(0)
			return
		}
	}
	now := s.now()
	d := c.DeferLen()
	n := 0
	emit := func(id streamID, nack *streamNACK) bool {
		if id.cmp(end) > 0 || count == 0 {
			return false
		}
		if minIdle != 0 && now-nack.deliveryTime < minIdle {
			return true
		}
		n++
		count--
		c.ArrayLen(4)
		replyStreamID(c, id)
		c.BulkString(nack.consumer.name)
		c.Int(max(now-nack.deliveryTime, 0))
		c.Int(int64(nack.deliveryCount))
		return true
	}
	if sc == nil {
		cg.pel.Ascend(start, func(id streamID, nack *streamNACK) bool { return emit(id, nack) })
	} else {
		sc.pel.Ascend(start, func(id streamID, _ *struct{}) bool {
			nack, _ := cg.pel.Get(id)
			return emit(id, nack)
		})
	}
	c.SetArrayLen(d, n)
}

// XCLAIM key group consumer min-idle-time id [id ...] [IDLE ms]
// [TIME unix-ms] [RETRYCOUNT count] [FORCE] [JUSTID] [LASTID id]
func xclaimCommand(s *Server, c *Client, args [][]byte) {
	key, group := args[1], args[2]
	so, ok := s.streamLookupRead(c, key)
	if !ok {
		return
	}
	var cg *streamCG
	if so != nil {
		cg = so.groups.lookup(group)
	}
	if cg == nil {
		c.Error("NOGROUP No such key '" + string(key) + "' or consumer group '" + string(group) + "'")
		return
	}
	minIdle, ok := parseInt64Strict(args[4])
	if !ok {
		c.Error("ERR Invalid min-idle-time argument for XCLAIM")
		return
	}
	minIdle = max(minIdle, 0)
	// The IDs run until the first argument that is not one: the options.
	j := 5
	ids := make([]streamID, 0, len(args)-5)
	for ; j < len(args); j++ {
		id, ok := parseStreamIDNoReply(args[j])
		if !ok {
			break
		}
		ids = append(ids, id)
	}
	lastIDArg := j - 1
	now := s.now()
	deliveryTime, retryCount := int64(-1), int64(-1)
	force, justID := false, false
	var lastID streamID
	for ; j < len(args); j++ {
		more := len(args) - 1 - j
		opt := string(args[j])
		switch {
		case strings.EqualFold(opt, "FORCE"):
			force = true
		case strings.EqualFold(opt, "JUSTID"):
			justID = true
		case strings.EqualFold(opt, "IDLE") && more > 0:
			j++
			n, ok := parseInt64Strict(args[j])
			if !ok {
				c.Error("ERR Invalid IDLE option argument for XCLAIM")
				return
			}
			deliveryTime = now - n
		case strings.EqualFold(opt, "TIME") && more > 0:
			j++
			n, ok := parseInt64Strict(args[j])
			if !ok {
				c.Error("ERR Invalid TIME option argument for XCLAIM")
				return
			}
			deliveryTime = n
		case strings.EqualFold(opt, "RETRYCOUNT") && more > 0:
			j++
			n, ok := parseInt64Strict(args[j])
			if !ok {
				c.Error("ERR Invalid RETRYCOUNT option argument for XCLAIM")
				return
			}
			retryCount = n
		case strings.EqualFold(opt, "LASTID") && more > 0:
			j++
			id, ok := parseStreamIDOrReply(c, args[j], 0, true)
			if !ok {
				return
			}
			lastID = id
		default:
			c.Error("ERR Unrecognized XCLAIM option '" + opt + "'")
			return
		}
	}
	propagateLast := false
	if lastID.cmp(cg.lastID) > 0 {
		cg.lastID = lastID
		propagateLast = true
	}
	if deliveryTime != -1 {
		// A bogus time (a client's clock ahead of ours) means now rather
		// than an error, as in Redis.
		if deliveryTime < 0 || deliveryTime > now {
			deliveryTime = now
		}
	} else {
		deliveryTime = now
	}
	var sc *streamConsumer
	d := c.DeferLen()
	n := 0
	for k := 5; k <= lastIDArg; k++ {
		id := ids[k-5]
		nack, pending := cg.pel.Get(id)
		if !cgEntryExists(so, id) {
			// The entry is gone: so goes its NACK.
			if pending {
				s.propagateXCLAIM(c.db.id, key, group, cg, args[k], nack)
				propagateLast = false
				s.dirty++
				cg.ack(id)
			}
			continue
		}
		if force && !pending {
			// As streamCreateNACK: delivered once, now, to nobody yet.
			cg.pel.Insert(id, streamNACK{deliveryTime: now, deliveryCount: 1})
			nack, pending = cg.pel.Get(id)
		}
		if !pending {
			continue
		}
		// A NACK just made by FORCE has no owner and ignores min-idle.
		if nack.consumer != nil && minIdle != 0 && now-nack.deliveryTime < minIdle {
			continue
		}
		if sc == nil {
			sc, _ = s.lookupOrCreateConsumer(c.db, key, cg, args[3])
			// Creating the consumer may not move the PEL, but refetch to
			// keep the pointer honest.
			nack, _ = cg.pel.Get(id)
		}
		nack.moveTo(sc, id)
		nack.deliveryTime = deliveryTime
		if retryCount >= 0 {
			nack.deliveryCount = uint64(retryCount)
		} else if !justID {
			nack.deliveryCount++
		}
		if justID {
			replyStreamID(c, id)
		} else {
			cgReplyEntry(c, so, id)
		}
		n++
		s.propagateXCLAIM(c.db.id, key, group, cg, args[k], nack)
		propagateLast = false
		s.dirty++
	}
	if propagateLast {
		s.propagateGroupID(c.db.id, key, group, cg)
		s.dirty++
	}
	c.SetArrayLen(d, n)
}

// moveTo makes sc the owner of the pending entry id, taking it out of its
// previous owner's PEL (XCLAIM and XAUTOCLAIM, Redis's streamClaim).
func (nack *streamNACK) moveTo(sc *streamConsumer, id streamID) {
	if nack.consumer == sc {
		return
	}
	if nack.consumer != nil {
		nack.consumer.pel.Delete(id)
	}
	sc.pel.Insert(id, struct{}{})
	nack.consumer = sc
}

// XAUTOCLAIM key group consumer min-idle-time start [COUNT count] [JUSTID]
func xautoclaimCommand(s *Server, c *Client, args [][]byte) {
	key, group := args[1], args[2]
	minIdle, ok := parseInt64Strict(args[4])
	if !ok {
		c.Error("ERR Invalid min-idle-time argument for XAUTOCLAIM")
		return
	}
	minIdle = max(minIdle, 0)
	start, ex, ok := parseIntervalID(c, args[5], 0)
	if !ok {
		return
	}
	if ex {
		if start, ok = start.incr(); !ok {
			c.Error("ERR invalid start ID for the interval")
			return
		}
	}
	const attemptsFactor = 10
	count := int64(100)
	justID := false
	for j := 6; j < len(args); j++ {
		more := len(args) - 1 - j
		opt := string(args[j])
		switch {
		case strings.EqualFold(opt, "COUNT") && more > 0:
			// LONG_MAX / max(sizeof(streamID), attempts_factor)
			const maxCount = math.MaxInt64 / 16
			n, ok := parseInt64Strict(args[j+1])
			if !ok || n < 1 || n > maxCount {
				c.Error("ERR COUNT must be > 0")
				return
			}
			count = n
			j++
		case strings.EqualFold(opt, "JUSTID"):
			justID = true
		default:
			c.Error(errSyntax)
			return
		}
	}
	so, ok := s.streamLookupRead(c, key)
	if !ok {
		return
	}
	var cg *streamCG
	if so != nil {
		cg = so.groups.lookup(group)
	}
	if cg == nil {
		c.Error("NOGROUP No such key '" + string(key) + "' or consumer group '" + string(group) + "'")
		return
	}
	attempts := count * attemptsFactor
	c.ArrayLen(3)
	// The cursor comes first in the reply but is known last: the claimed
	// entries are written, then moved behind it.
	mark := len(c.out)
	var deleted []streamID
	var sc *streamConsumer
	now := s.now()
	n := 0
	var idbuf []byte
	from, more := start, true
	for ; attempts > 0 && count > 0 && more; attempts-- {
		id, nackp, found := cg.pel.Seek(from)
		if !found {
			more = false
			break
		}
		from, more = id.incr()
		if !cgEntryExists(so, id) {
			idbuf = id.appendTo(idbuf[:0])
			s.propagateXCLAIM(c.db.id, key, group, cg, idbuf, nackp)
			s.dirty++
			cg.ack(id)
			deleted = append(deleted, id)
			count--
			continue
		}
		if minIdle != 0 && now-nackp.deliveryTime < minIdle {
			continue
		}
		if sc == nil {
			sc, _ = s.lookupOrCreateConsumer(c.db, key, cg, args[3])
			nackp, _ = cg.pel.Get(id)
		}
		nackp.moveTo(sc, id)
		nackp.deliveryTime = now
		if !justID {
			nackp.deliveryCount++
		}
		if justID {
			replyStreamID(c, id)
		} else {
			cgReplyEntry(c, so, id)
		}
		n++
		count--
		idbuf = id.appendTo(idbuf[:0])
		s.propagateXCLAIM(c.db.id, key, group, cg, idbuf, nackp)
		s.dirty++
	}
	claimed := bytes.Clone(c.out[mark:])
	c.out = c.out[:mark]
	// The cursor is the next pending entry, 0-0 when the walk reached
	// the end.
	var next streamID
	if more {
		if id, _, found := cg.pel.Seek(from); found {
			next = id
		}
	}
	replyStreamID(c, next)
	c.ArrayLen(n)
	c.out = append(c.out, claimed...)
	c.ArrayLen(len(deleted))
	for _, id := range deleted {
		replyStreamID(c, id)
	}
}

// XINFO GROUPS key
func xinfoGroupsCommand(s *Server, c *Client, args [][]byte) {
	so, ok := s.streamLookupRead(c, args[2])
	if !ok {
		return
	}
	if so == nil {
		c.Error(errNoKey)
		return
	}
	if so.groups == nil {
		c.ArrayLen(0)
		return
	}
	c.ArrayLen(len(so.groups.list))
	for _, cg := range so.groups.list {
		c.MapLen(6)
		c.BulkString("name")
		c.BulkString(cg.name)
		c.BulkString("consumers")
		c.Int(int64(len(cg.consumers)))
		c.BulkString("pending")
		c.Int(int64(cg.pel.Len()))
		c.BulkString("last-delivered-id")
		replyStreamID(c, cg.lastID)
		c.BulkString("entries-read")
		replyEntriesRead(c, cg)
		c.BulkString("lag")
		replyGroupLag(c, so, cg)
	}
}

func replyEntriesRead(c *Client, cg *streamCG) {
	if cg.entriesRead == entriesReadInvalid {
		c.Null()
		return
	}
	c.Int(cg.entriesRead)
}

// XINFO CONSUMERS key group
func xinfoConsumersCommand(s *Server, c *Client, args [][]byte) {
	so, ok := s.streamLookupRead(c, args[2])
	if !ok {
		return
	}
	if so == nil {
		c.Error(errNoKey)
		return
	}
	cg := so.groups.lookup(args[3])
	if cg == nil {
		noGroupForKey(c, args[3], args[2])
		return
	}
	now := s.now()
	c.ArrayLen(len(cg.consumers))
	for _, sc := range cg.consumers {
		c.MapLen(3)
		c.BulkString("name")
		c.BulkString(sc.name)
		c.BulkString("pending")
		c.Int(int64(sc.pel.Len()))
		c.BulkString("idle")
		c.Int(max(now-sc.seenTime, 0))
	}
}

// xinfoFullGroups writes XINFO STREAM FULL's "groups" value; count bounds
// each PEL listed (0: all).
func xinfoFullGroups(c *Client, so *streamObj, count int64) {
	c.ArrayLen(len(so.groups.list))
	for _, cg := range so.groups.list {
		c.MapLen(7)
		c.BulkString("name")
		c.BulkString(cg.name)
		c.BulkString("last-delivered-id")
		replyStreamID(c, cg.lastID)
		c.BulkString("entries-read")
		replyEntriesRead(c, cg)
		c.BulkString("lag")
		replyGroupLag(c, so, cg)
		c.BulkString("pel-count")
		c.Int(int64(cg.pel.Len()))
		c.BulkString("pending")
		d := c.DeferLen()
		n := int64(0)
		cg.pel.Ascend(streamID{}, func(id streamID, nack *streamNACK) bool {
			if count != 0 && n >= count {
				return false
			}
			c.ArrayLen(4)
			replyStreamID(c, id)
			c.BulkString(nack.consumer.name)
			c.Int(nack.deliveryTime)
			c.Int(int64(nack.deliveryCount))
			n++
			return true
		})
		c.SetArrayLen(d, int(n))
		c.BulkString("consumers")
		c.ArrayLen(len(cg.consumers))
		for _, sc := range cg.consumers {
			c.MapLen(4)
			c.BulkString("name")
			c.BulkString(sc.name)
			c.BulkString("seen-time")
			c.Int(sc.seenTime)
			c.BulkString("pel-count")
			c.Int(int64(sc.pel.Len()))
			c.BulkString("pending")
			d := c.DeferLen()
			n := int64(0)
			sc.pel.Ascend(streamID{}, func(id streamID, _ *struct{}) bool {
				if count != 0 && n >= count {
					return false
				}
				nack, _ := cg.pel.Get(id)
				c.ArrayLen(3)
				replyStreamID(c, id)
				c.Int(nack.deliveryTime)
				c.Int(int64(nack.deliveryCount))
				n++
				return true
			})
			c.SetArrayLen(d, int(n))
		}
	}
}

// Blocked XREADGROUP clients depend on their key and group existing: a
// deleted key, a key of another type, a flush or a swap ends their wait
// with an error (Redis's signalDeletedKeyAsReady and
// unblockDeletedStreamReadgroupClients), through the ready-key path so
// that it happens once the command or transaction is over.
func initStreamGroupBlocking(s *Server) {
	prev := s.hooks.keyModified
	s.hooks.keyModified = func(db *DB, key []byte) {
		if st := s.blockingState(); len(st.waiting) > 0 {
			s.signalReadgroupWaiters(st, db, key)
		}
		if prev != nil {
			prev(db, key)
		}
	}
}

// signalReadgroupWaiters marks key ready if a client waits on it in
// XREADGROUP.
func (s *Server) signalReadgroupWaiters(st *blockingState, db *DB, key []byte) {
	for _, bc := range st.waiting[blockKey{db.id, string(key)}] {
		if bc.servesMissing {
			st.signal(db, key)
			return
		}
	}
}

// readgroupKeysGone signals every key of db that XREADGROUP clients wait
// on (FLUSHDB/FLUSHALL before the keys go, SWAPDB after the exchange).
func (s *Server) readgroupKeysGone(db *DB) {
	st := s.blockingState()
	for k, list := range st.waiting {
		if k.db != db.id {
			continue
		}
		for _, bc := range list {
			if bc.servesMissing {
				st.signal(db, []byte(k.key))
				break
			}
		}
	}
}

// The groups' part of an RDB stream value, as Redis 7.0's rdbSaveObject:
//
//	<groups> (<name> <last ms> <last seq> [19: <entries-read>]
//	  <pel size> (<16-byte big-endian ID> <delivery ms, 8 bytes LE> <count>)*
//	  <consumers> (<name> <seen ms, 8 bytes LE> <pel size> <16-byte ID>*)*)*
//
// entries-read is written as a length: -1 (invalid) is 2^64-1.
func rdbSaveStreamGroups(w *rdb.Writer, so *streamObj) {
	gs := so.groups
	w.Len(uint64(len(gs.list)))
	var buf [16]byte
	for _, cg := range gs.list {
		w.String([]byte(cg.name))
		w.Len(cg.lastID.ms)
		w.Len(cg.lastID.seq)
		w.Len(uint64(cg.entriesRead))
		w.Len(uint64(cg.pel.Len()))
		cg.pel.Ascend(streamID{}, func(id streamID, nack *streamNACK) bool {
			w.Raw(id.pkg().Encode(buf[:0]))
			w.Millis(nack.deliveryTime)
			w.Len(nack.deliveryCount)
			return true
		})
		w.Len(uint64(len(cg.consumers)))
		for _, sc := range cg.consumers {
			w.String([]byte(sc.name))
			w.Millis(sc.seenTime)
			w.Len(uint64(sc.pel.Len()))
			sc.pel.Ascend(streamID{}, func(id streamID, _ *struct{}) bool {
				w.Raw(id.pkg().Encode(buf[:0]))
				return true
			})
		}
	}
}

// rdbLoadStreamGroups reads the groups' part of a stream value of RDB
// type t (15 has no entries-read: it is estimated, as Redis does).
func rdbLoadStreamGroups(r *rdb.Reader, so *streamObj, t byte, deep bool) error {
	ngroups, err := r.Len()
	if err != nil {
		return err
	}
	if ngroups == 0 {
		return nil
	}
	gs := so.groupSet()
	var raw [16]byte
	readID := func() (streamID, error) {
		if err := r.Full(raw[:]); err != nil {
			return streamID{}, err
		}
		id, ok := stream.DecodeID(raw[:])
		if !ok {
			return streamID{}, r.Errorf("bad stream PEL ID")
		}
		return fromPkgID(id), nil
	}
	for range ngroups {
		name, err := r.String()
		if err != nil {
			return err
		}
		var last streamID
		if last.ms, err = r.Len(); err != nil {
			return err
		}
		if last.seq, err = r.Len(); err != nil {
			return err
		}
		entriesRead := int64(entriesReadInvalid)
		if t == rdb.TypeStreamListpacks2 {
			v, err := r.Len()
			if err != nil {
				return err
			}
			entriesRead = int64(v)
		} else if n, ok := so.estimateDistance(last); ok {
			entriesRead = int64(n)
		}
		cg := gs.create(string(name), last, entriesRead)
		if cg == nil {
			return r.Errorf("duplicated consumer group name %s", name)
		}
		npel, err := r.Len()
		if err != nil {
			return err
		}
		for range npel {
			id, err := readID()
			if err != nil {
				return err
			}
			var nack streamNACK
			if nack.deliveryTime, err = r.Millis(); err != nil {
				return err
			}
			if nack.deliveryCount, err = r.Len(); err != nil {
				return err
			}
			if !cg.pel.Insert(id, nack) {
				return r.Errorf("duplicated global PEL entry loading stream consumer group")
			}
		}
		nconsumers, err := r.Len()
		if err != nil {
			return err
		}
		for range nconsumers {
			cname, err := r.String()
			if err != nil {
				return err
			}
			sc := cg.addConsumer(string(cname), 0)
			if sc == nil {
				return r.Errorf("duplicate stream consumer detected")
			}
			if sc.seenTime, err = r.Millis(); err != nil {
				return err
			}
			n, err := r.Len()
			if err != nil {
				return err
			}
			for range n {
				id, err := readID()
				if err != nil {
					return err
				}
				nack, ok := cg.pel.Get(id)
				if !ok {
					return r.Errorf("consumer entry not found in group global PEL")
				}
				if nack.consumer != nil {
					// Redis would keep both references to one NACK and free it
					// twice later: refuse the value instead.
					return r.Errorf("stream PEL entry owned by two consumers")
				}
				nack.consumer = sc
				if !sc.pel.Insert(id, struct{}{}) {
					return r.Errorf("duplicated consumer PEL entry loading a stream consumer group")
				}
			}
		}
		// A NACK without an owner would crash XPENDING and XINFO: Redis
		// checks only under deep sanitization, this server always.
		var orphan bool
		cg.pel.Ascend(streamID{}, func(_ streamID, nack *streamNACK) bool {
			orphan = nack.consumer == nil
			return !orphan
		})
		if orphan {
			return r.Errorf("stream CG PEL entry without consumer")
		}
	}
	return nil
}

// streamGroupsMemory estimates the groups' footprint for MEMORY USAGE.
func streamGroupsMemory(gs *streamGroups) int64 {
	n := int64(24 + 8*cap(gs.list))
	for _, cg := range gs.list {
		n += int64(96+len(cg.name)) + int64(cg.pel.Len())*int64(unsafe.Sizeof(pelItem[streamNACK]{}))
		for _, sc := range cg.consumers {
			n += int64(64+len(sc.name)) + int64(sc.pel.Len())*int64(unsafe.Sizeof(pelItem[struct{}]{}))
		}
	}
	return n
}

func init() {
	streamGroupHooks.dup = (*streamGroups).clone
	streamGroupHooks.count = func(gs *streamGroups) int { return len(gs.list) }
	streamGroupHooks.infoFull = xinfoFullGroups
	streamGroupHooks.memory = streamGroupsMemory
	streamGroupHooks.save = rdbSaveStreamGroups
	streamGroupHooks.load = rdbLoadStreamGroups
}

// rewriteStreamGroups emits the commands that rebuild so's groups once
// its entries exist, as the group part of Redis's rewriteStreamObject (an
// AOF rewritten as commands): XGROUP CREATE ... ENTRIESREAD per group,
// then per consumer either an idempotent XCLAIM ... TIME RETRYCOUNT
// JUSTID FORCE for each pending entry or, for a consumer with none, XGROUP
// CREATECONSUMER. Used by the AOF rewrite without the RDB preamble
// (aof.go's appendRewriteStream); with the preamble the groups go in the
// RDB base.
func rewriteStreamGroups(key []byte, so *streamObj, emit func(argv [][]byte)) {
	if so.groups == nil {
		return
	}
	for _, cg := range so.groups.list {
		group := []byte(cg.name)
		emit([][]byte{argXGROUP, []byte("CREATE"), key, group, cg.lastID.appendTo(nil),
			argENTRIESREAD, strconv.AppendInt(nil, cg.entriesRead, 10)})
		for _, sc := range cg.consumers {
			name := []byte(sc.name)
			if sc.pel.Len() == 0 {
				emit([][]byte{argXGROUP, argCREATECONSUMER, key, group, name})
				continue
			}
			sc.pel.Ascend(streamID{}, func(id streamID, _ *struct{}) bool {
				nack, _ := cg.pel.Get(id)
				emit([][]byte{argXCLAIM, key, group, name, argZero, id.appendTo(nil),
					argTIME, strconv.AppendInt(nil, nack.deliveryTime, 10),
					argRETRYCOUNT, strconv.AppendUint(nil, nack.deliveryCount, 10),
					argJUSTID, argFORCE})
				return true
			})
		}
	}
}
