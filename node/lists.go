package node

import (
	"fmt"
	"math"
	"strconv"

	"github.com/keyfleet/keyfleet/node/ds/listpack"
	"github.com/keyfleet/keyfleet/node/ds/quicklist"
	"github.com/keyfleet/keyfleet/node/keyspace"
)

// The list family, as Redis 7.0's t_list.c. Every list is a quicklist
// (OBJECT ENCODING "quicklist", whatever its size: the listpack encoding
// for small lists arrived in Redis 7.2). A quicklist keeps the fill and
// compression depth it was created with, as in Redis.

func init() {
	register(map[string]handler{
		"lpush":      lpushCommand,
		"rpush":      rpushCommand,
		"lpushx":     lpushxCommand,
		"rpushx":     rpushxCommand,
		"linsert":    linsertCommand,
		"llen":       llenCommand,
		"lindex":     lindexCommand,
		"lset":       lsetCommand,
		"lpop":       lpopCommand,
		"rpop":       rpopCommand,
		"lrange":     lrangeCommand,
		"ltrim":      ltrimCommand,
		"lpos":       lposCommand,
		"lrem":       lremCommand,
		"lmove":      lmoveCommand,
		"rpoplpush":  rpoplpushCommand,
		"lmpop":      lmpopCommand,
		"blpop":      blpopCommand,
		"brpop":      brpopCommand,
		"blmove":     blmoveCommand,
		"brpoplpush": brpoplpushCommand,
		"blmpop":     blmpopCommand,
	})
	registerTypeOps(keyspace.TypeList, typeOps{
		dup: func(o *keyspace.Object) keyspace.Object {
			return keyspace.Object{Type: keyspace.TypeList, Enc: keyspace.EncQuicklist, Val: listOf(o).Dup()}
		},
		freeEffort: func(o *keyspace.Object) int { return listOf(o).Nodes() },
	})
	registerDebugType(keyspace.TypeList, &debugTypeHooks{
		digest:      listDigest,
		objectExtra: listDebugExtra,
	})
	registerMemoryUsage(keyspace.TypeList, listMemory)
}

var (
	argLPOP      = []byte("LPOP")
	argRPOP      = []byte("RPOP")
	argLMOVE     = []byte("LMOVE")
	argRPOPLPUSH = []byte("RPOPLPUSH")
	argLEFT      = []byte("LEFT")
	argRIGHT     = []byte("RIGHT")
)

// listHead and listTail say which end of a list a command works on
// (Redis's LIST_HEAD and LIST_TAIL).
const (
	listHead = true
	listTail = false
)

func listOf(o *keyspace.Object) *quicklist.Quicklist { return o.Val.(*quicklist.Quicklist) }

// list returns o's quicklist ready for a change: the plain-node
// threshold is a server-wide knob (DEBUG QUICKLIST-PACKED-THRESHOLD).
func (s *Server) list(o *keyspace.Object) *quicklist.Quicklist {
	ql := listOf(o)
	ql.SetPackedThreshold(int(s.quicklistPackedThreshold()))
	return ql
}

// newListObject creates an empty list with the configured fill and
// compression depth.
func (s *Server) newListObject() keyspace.Object {
	ql := quicklist.New(s.cfg.ListMaxListpackSize, s.cfg.ListCompressDepth)
	return keyspace.Object{Type: keyspace.TypeList, Enc: keyspace.EncQuicklist, Val: ql}
}

// addList creates the list at key in db and signals it ready for
// clients blocked on it (Redis signals from dbAdd).
func (s *Server) addList(db *DB, key []byte) *keyspace.Object {
	o := s.setKey(db, key, s.newListObject(), false)
	s.signalReady(db, key)
	return o
}

// replyEntry replies a list or hash element as a bulk string.
func replyEntry(c *Client, e listpack.Entry) {
	if e.IsInt {
		c.BulkInt(e.Int)
	} else {
		c.Bulk(e.Str)
	}
}

// matcher compares elements with one string, parsing it as an integer
// once (listpack integers compare by value, as lpCompare).
type matcher struct {
	v     []byte
	n     int64
	isInt bool
}

func newMatcher(v []byte) matcher {
	n, ok := listpack.StringToInt64(v)
	return matcher{v: v, n: n, isInt: ok}
}

func (m matcher) match(e listpack.Entry) bool {
	if e.IsInt {
		return m.isInt && e.Int == m.n
	}
	return string(e.Str) == string(m.v)
}

// entryBytes returns a copy of the element's string form.
func entryBytes(e listpack.Entry) []byte {
	if e.IsInt {
		return strconv.AppendInt(nil, e.Int, 10)
	}
	return append([]byte(nil), e.Str...)
}

// rangeLongArg is Redis's getRangeLongFromObjectOrReply: msg, when not
// empty, replaces both the not-an-integer and the out-of-range errors.
func rangeLongArg(c *Client, v []byte, lo, hi int64, msg string) (int64, bool) {
	n, ok := parseInt64Strict(v)
	if !ok {
		if msg == "" {
			msg = errNotInt
		}
		c.Error(msg)
		return 0, false
	}
	if n < lo || n > hi {
		if msg == "" {
			msg = fmt.Sprintf("ERR value is out of range, value must between %d and %d", lo, hi)
		}
		c.Error(msg)
		return 0, false
	}
	return n, true
}

// positiveLongArg is getPositiveLongFromObjectOrReply.
func positiveLongArg(c *Client, v []byte, msg string) (int64, bool) {
	if msg == "" {
		msg = errNegativeCount
	}
	return rangeLongArg(c, v, 0, math.MaxInt64, msg)
}

// lookupListWrite finds key for a write, replying WRONGTYPE for another
// type. o is nil when the key does not exist.
func (s *Server) lookupListWrite(c *Client, key []byte) (o *keyspace.Object, ok bool) {
	o = s.lookupWrite(c.db, key)
	if o != nil && o.Type != keyspace.TypeList {
		c.Error(errWrongType)
		return nil, false
	}
	return o, true
}

// lookupListRead is lookupListWrite for a read.
func (s *Server) lookupListRead(c *Client, key []byte) (o *keyspace.Object, ok bool) {
	o = s.lookupRead(c.db, key)
	if o != nil && o.Type != keyspace.TypeList {
		c.Error(errWrongType)
		return nil, false
	}
	return o, true
}

func pushEvent(head bool) string {
	if head {
		return "lpush"
	}
	return "rpush"
}

func popEvent(head bool) string {
	if head {
		return "lpop"
	}
	return "rpop"
}

func popArg(head bool) []byte {
	if head {
		return argLPOP
	}
	return argRPOP
}

func sideArg(head bool) []byte {
	if head {
		return argLEFT
	}
	return argRIGHT
}

func pushGeneric(s *Server, c *Client, args [][]byte, head, xx bool) {
	db, key := c.db, args[1]
	o, ok := s.lookupListWrite(c, key)
	if !ok {
		return
	}
	if o == nil {
		if xx {
			c.Int(0)
			return
		}
		o = s.addList(db, key)
	}
	ql := s.list(o)
	ql.PushAll(args[2:], head)
	s.dirty += int64(len(args) - 2)
	c.Int(int64(ql.Len()))
	s.keyModified(db, key)
	s.notify(notifyList, pushEvent(head), key, db.id)
	s.propagate(db.id, args)
}

func lpushCommand(s *Server, c *Client, args [][]byte)  { pushGeneric(s, c, args, listHead, false) }
func rpushCommand(s *Server, c *Client, args [][]byte)  { pushGeneric(s, c, args, listTail, false) }
func lpushxCommand(s *Server, c *Client, args [][]byte) { pushGeneric(s, c, args, listHead, true) }
func rpushxCommand(s *Server, c *Client, args [][]byte) { pushGeneric(s, c, args, listTail, true) }

func linsertCommand(s *Server, c *Client, args [][]byte) {
	var after bool
	switch {
	case equalFoldASCII(args[2], "after"):
		after = true
	case equalFoldASCII(args[2], "before"):
	default:
		c.Error(errSyntax)
		return
	}
	db, key := c.db, args[1]
	o, ok := s.lookupListWrite(c, key)
	if !ok {
		return
	}
	if o == nil {
		c.Int(0)
		return
	}
	ql := s.list(o)
	it := ql.Iterator(true)
	var e quicklist.Entry
	inserted := false
	pivot := newMatcher(args[3])
	for it.Next(&e) {
		if pivot.match(e.Entry) {
			if after {
				ql.InsertAfter(it, &e, args[4])
			} else {
				ql.InsertBefore(it, &e, args[4])
			}
			inserted = true
			break
		}
	}
	it.Release()
	if !inserted {
		c.Int(-1)
		return
	}
	s.keyModified(db, key)
	s.notify(notifyList, "linsert", key, db.id)
	s.dirty++
	s.propagate(db.id, args)
	c.Int(int64(ql.Len()))
}

func llenCommand(s *Server, c *Client, args [][]byte) {
	o, ok := s.lookupListRead(c, args[1])
	if !ok {
		return
	}
	if o == nil {
		c.Int(0)
		return
	}
	c.Int(int64(listOf(o).Len()))
}

func lindexCommand(s *Server, c *Client, args [][]byte) {
	o, ok := s.lookupListRead(c, args[1])
	if !ok {
		return
	}
	if o == nil {
		c.Null()
		return
	}
	index, ok := int64Arg(c, args[2])
	if !ok {
		return
	}
	e, found := listOf(o).Index(clampIndex(index))
	if !found {
		c.Null()
		return
	}
	replyEntry(c, e)
}

// clampIndex keeps a 64-bit index in int range (a no-op on 64-bit
// platforms; out-of-range indexes stay out of range).
func clampIndex(i int64) int { return int(i) }

func lsetCommand(s *Server, c *Client, args [][]byte) {
	db, key := c.db, args[1]
	o, ok := s.lookupListWrite(c, key)
	if !ok {
		return
	}
	if o == nil {
		c.Error(errNoKey)
		return
	}
	index, ok := int64Arg(c, args[2])
	if !ok {
		return
	}
	if !s.list(o).ReplaceAt(clampIndex(index), args[3]) {
		c.Error(errOutOfRange)
		return
	}
	c.OK()
	s.keyModified(db, key)
	s.notify(notifyList, "lset", key, db.id)
	s.dirty++
	s.propagate(db.id, args)
}

// listElementsRemoved does what follows popping count elements from
// key: the event, the deletion of an emptied list, the dirty count.
func (s *Server) listElementsRemoved(db *DB, key []byte, head bool, ql *quicklist.Quicklist, count int) {
	s.notify(notifyList, popEvent(head), key, db.id)
	if ql.Len() == 0 {
		s.deleteKey(db, key)
		s.notify(notifyGeneric, "del", key, db.id)
	}
	s.keyModified(db, key)
	s.dirty += int64(count)
}

// addListRangeReply replies the elements from start to end (inclusive,
// negative from the tail), from end to start when reverse.
func addListRangeReply(c *Client, ql *quicklist.Quicklist, start, end int64, reverse bool) {
	llen := int64(ql.Len())
	if start < 0 {
		start += llen
	}
	if end < 0 {
		end += llen
	}
	if start < 0 {
		start = 0
	}
	if start > end || start >= llen {
		c.ArrayLen(0)
		return
	}
	if end >= llen {
		end = llen - 1
	}
	n := end - start + 1
	c.ArrayLen(int(n))
	from := start
	if reverse {
		from = end
	}
	it := ql.IteratorAt(int(from), !reverse)
	var e quicklist.Entry
	for ; n > 0 && it.Next(&e); n-- {
		replyEntry(c, e.Entry)
	}
	it.Release()
}

// popRange pops count (clamped) elements from one end, replying them as
// an array (LPOP/RPOP with a count, BLMPOP/LMPOP), and returns how many.
func (s *Server) popRange(c *Client, db *DB, key []byte, ql *quicklist.Quicklist, head bool, count int64) int {
	llen := int64(ql.Len())
	n := min(count, llen)
	start, end := int64(0), n-1
	if !head {
		start, end = -n, -1
	}
	addListRangeReply(c, ql, start, end, !head)
	ql.DelRange(int(start), int(n))
	s.listElementsRemoved(db, key, head, ql, int(n))
	return int(n)
}

func popGeneric(s *Server, c *Client, args [][]byte, head bool) {
	if len(args) > 3 {
		c.Error(fmt.Sprintf("ERR wrong number of arguments for '%s' command", lowerName(args[0])))
		return
	}
	hasCount := len(args) == 3
	var count int64
	if hasCount {
		var ok bool
		if count, ok = positiveLongArg(c, args[2], ""); !ok {
			return
		}
	}
	db, key := c.db, args[1]
	o, ok := s.lookupListWrite(c, key)
	if !ok {
		return
	}
	if o == nil {
		if hasCount {
			c.NullArray()
		} else {
			c.Null()
		}
		return
	}
	if hasCount && count == 0 {
		c.ArrayLen(0)
		return
	}
	ql := s.list(o)
	if !hasCount {
		e, _ := ql.Pop(head)
		replyEntry(c, e)
		s.listElementsRemoved(db, key, head, ql, 1)
	} else {
		s.popRange(c, db, key, ql, head, count)
	}
	s.propagate(db.id, args)
}

func lpopCommand(s *Server, c *Client, args [][]byte) { popGeneric(s, c, args, listHead) }
func rpopCommand(s *Server, c *Client, args [][]byte) { popGeneric(s, c, args, listTail) }

func lrangeCommand(s *Server, c *Client, args [][]byte) {
	start, ok := int64Arg(c, args[2])
	if !ok {
		return
	}
	end, ok := int64Arg(c, args[3])
	if !ok {
		return
	}
	o, ok := s.lookupListRead(c, args[1])
	if !ok {
		return
	}
	if o == nil {
		c.ArrayLen(0)
		return
	}
	addListRangeReply(c, listOf(o), start, end, false)
}

func ltrimCommand(s *Server, c *Client, args [][]byte) {
	start, ok := int64Arg(c, args[2])
	if !ok {
		return
	}
	end, ok := int64Arg(c, args[3])
	if !ok {
		return
	}
	db, key := c.db, args[1]
	o, ok := s.lookupListWrite(c, key)
	if !ok {
		return
	}
	if o == nil {
		c.OK()
		return
	}
	ql := s.list(o)
	llen := int64(ql.Len())
	if start < 0 {
		start += llen
	}
	if end < 0 {
		end += llen
	}
	if start < 0 {
		start = 0
	}
	var ltrim, rtrim int64
	if start > end || start >= llen {
		ltrim, rtrim = llen, 0
	} else {
		if end >= llen {
			end = llen - 1
		}
		ltrim, rtrim = start, llen-end-1
	}
	ql.DelRange(0, int(ltrim))
	ql.DelRange(int(-rtrim), int(rtrim))
	s.notify(notifyList, "ltrim", key, db.id)
	if ql.Len() == 0 {
		s.deleteKey(db, key)
		s.notify(notifyGeneric, "del", key, db.id)
	}
	s.keyModified(db, key)
	s.dirty += ltrim + rtrim
	if ltrim+rtrim > 0 {
		s.propagate(db.id, args)
	}
	c.OK()
}

func lposCommand(s *Server, c *Client, args [][]byte) {
	ele := args[2]
	rank, count, maxlen := int64(1), int64(-1), int64(0)
	for j := 3; j < len(args); j++ {
		more := len(args) - 1 - j
		switch {
		case equalFoldASCII(args[j], "rank") && more > 0:
			j++
			v, ok := int64Arg(c, args[j])
			if !ok {
				return
			}
			if v == 0 {
				c.Error("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list")
				return
			}
			rank = v
		case equalFoldASCII(args[j], "count") && more > 0:
			j++
			v, ok := positiveLongArg(c, args[j], "ERR COUNT can't be negative")
			if !ok {
				return
			}
			count = v
		case equalFoldASCII(args[j], "maxlen") && more > 0:
			j++
			v, ok := positiveLongArg(c, args[j], "ERR MAXLEN can't be negative")
			if !ok {
				return
			}
			maxlen = v
		default:
			c.Error(errSyntax)
			return
		}
	}
	forward := true
	if rank < 0 {
		// -MinInt64 wraps to itself, as in Redis: it then matches the
		// first element found from the tail.
		rank = -rank
		forward = false
	}
	o, ok := s.lookupListRead(c, args[1])
	if !ok {
		return
	}
	if o == nil {
		if count != -1 {
			c.ArrayLen(0)
		} else {
			c.Null()
		}
		return
	}
	ql := listOf(o)
	var d deferred
	if count != -1 {
		d = c.DeferLen()
	}
	start := 0
	if !forward {
		start = -1
	}
	it := ql.IteratorAt(start, forward)
	llen := int64(ql.Len())
	var index, matches, arrayLen int64
	matchIndex := int64(-1)
	var e quicklist.Entry
	m := newMatcher(ele)
	for it.Next(&e) && (maxlen == 0 || index < maxlen) {
		if m.match(e.Entry) {
			matches++
			if forward {
				matchIndex = index
			} else {
				matchIndex = llen - index - 1
			}
			if matches >= rank {
				if count != -1 {
					arrayLen++
					c.Int(matchIndex)
					if count != 0 && matches-rank+1 >= count {
						break
					}
				} else {
					break
				}
			}
		}
		index++
		matchIndex = -1
	}
	it.Release()
	if count != -1 {
		c.SetArrayLen(d, int(arrayLen))
		return
	}
	if matchIndex != -1 {
		c.Int(matchIndex)
	} else {
		c.Null()
	}
}

func lremCommand(s *Server, c *Client, args [][]byte) {
	toRemove, ok := int64Arg(c, args[2])
	if !ok {
		return
	}
	db, key := c.db, args[1]
	o, ok := s.lookupListWrite(c, key)
	if !ok {
		return
	}
	if o == nil {
		c.Int(0)
		return
	}
	ql := s.list(o)
	var it *quicklist.Iter
	if toRemove < 0 {
		toRemove = -toRemove
		it = ql.IteratorAt(-1, false)
	} else {
		it = ql.IteratorAt(0, true)
	}
	var removed int64
	var e quicklist.Entry
	m := newMatcher(args[3])
	for it.Next(&e) {
		if m.match(e.Entry) {
			it.Delete(&e)
			s.dirty++
			removed++
			if toRemove != 0 && removed == toRemove {
				break
			}
		}
	}
	it.Release()
	if removed > 0 {
		s.keyModified(db, key)
		s.notify(notifyList, "lrem", key, db.id)
	}
	if ql.Len() == 0 {
		s.deleteKey(db, key)
		s.notify(notifyGeneric, "del", key, db.id)
	}
	if removed > 0 {
		s.propagate(db.id, args)
	}
	c.Int(removed)
}

// lmovePush pushes value onto dst (creating it) and replies it
// (lmoveHandlePush).
func (s *Server) lmovePush(c *Client, db *DB, dst []byte, dobj *keyspace.Object, value []byte, head bool) {
	if dobj == nil {
		dobj = s.addList(db, dst)
	}
	s.keyModified(db, dst)
	s.list(dobj).Push(value, head)
	s.notify(notifyList, pushEvent(head), dst, db.id)
	c.Bulk(value)
}

// listSide parses LEFT or RIGHT (true for LEFT, the head).
func listSide(c *Client, arg []byte) (head, ok bool) {
	switch {
	case equalFoldASCII(arg, "left"):
		return true, true
	case equalFoldASCII(arg, "right"):
		return false, true
	}
	c.Error(errSyntax)
	return false, false
}

// lmoveGeneric moves an element from src to dst; rewrite is the argv
// propagated instead of the command's own (BLMOVE, BRPOPLPUSH), nil to
// propagate args.
func lmoveGeneric(s *Server, c *Client, args [][]byte, from, to bool, rewrite [][]byte) {
	db, src, dst := c.db, args[1], args[2]
	sobj, ok := s.lookupListWrite(c, src)
	if !ok {
		return
	}
	if sobj == nil {
		c.Null()
		return
	}
	sql := s.list(sobj)
	if sql.Len() == 0 {
		c.Null()
		return
	}
	dobj, ok := s.lookupListWrite(c, dst)
	if !ok {
		return
	}
	e, _ := sql.Pop(from)
	s.lmovePush(c, db, dst, dobj, entryBytes(e), to)
	s.notify(notifyList, popEvent(from), src, db.id)
	if sql.Len() == 0 {
		s.deleteKey(db, src)
		s.notify(notifyGeneric, "del", src, db.id)
	}
	s.keyModified(db, src)
	s.dirty++
	if rewrite == nil {
		rewrite = args
	}
	s.propagate(db.id, rewrite)
}

func lmoveCommand(s *Server, c *Client, args [][]byte) {
	from, ok := listSide(c, args[3])
	if !ok {
		return
	}
	to, ok := listSide(c, args[4])
	if !ok {
		return
	}
	lmoveGeneric(s, c, args, from, to, nil)
}

func rpoplpushCommand(s *Server, c *Client, args [][]byte) {
	lmoveGeneric(s, c, args, listTail, listHead, nil)
}

// mpopGeneric is LMPOP: the first non-empty list among keys.
func mpopGeneric(s *Server, c *Client, keys [][]byte, head bool, count int64) {
	db := c.db
	for _, key := range keys {
		o, ok := s.lookupListWrite(c, key)
		if !ok {
			return
		}
		if o == nil {
			continue
		}
		ql := s.list(o)
		if ql.Len() == 0 {
			continue
		}
		c.ArrayLen(2)
		c.Bulk(key)
		n := s.popRange(c, db, key, ql, head, count)
		s.propagate(db.id, [][]byte{popArg(head), key, strconv.AppendInt(nil, int64(n), 10)})
		return
	}
	c.NullArray()
}

// parseListMpop parses [B]LMPOP's numkeys, keys, LEFT|RIGHT and COUNT from
// args[numkeysIdx:].
func parseListMpop(c *Client, args [][]byte, numkeysIdx int) (keys [][]byte, head bool, count int64, ok bool) {
	numkeys, ok := rangeLongArg(c, args[numkeysIdx], 1, math.MaxInt64, "ERR numkeys should be greater than 0")
	if !ok {
		return nil, false, 0, false
	}
	whereIdx := int64(numkeysIdx) + numkeys + 1
	if whereIdx >= int64(len(args)) || whereIdx < 0 {
		c.Error(errSyntax)
		return nil, false, 0, false
	}
	if head, ok = listSide(c, args[whereIdx]); !ok {
		return nil, false, 0, false
	}
	count = -1
	for j := int(whereIdx) + 1; j < len(args); j++ {
		more := len(args) - 1 - j
		if count == -1 && equalFoldASCII(args[j], "count") && more > 0 {
			j++
			if count, ok = rangeLongArg(c, args[j], 1, math.MaxInt64, "ERR count should be greater than 0"); !ok {
				return nil, false, 0, false
			}
			continue
		}
		c.Error(errSyntax)
		return nil, false, 0, false
	}
	if count == -1 {
		count = 1
	}
	return args[numkeysIdx+1 : whereIdx], head, count, true
}

func lmpopCommand(s *Server, c *Client, args [][]byte) {
	keys, head, count, ok := parseListMpop(c, args, 1)
	if !ok {
		return
	}
	mpopGeneric(s, c, keys, head, count)
}

func blmpopCommand(s *Server, c *Client, args [][]byte) {
	keys, head, count, ok := parseListMpop(c, args, 2)
	if !ok {
		return
	}
	blockingPopGeneric(s, c, keys, head, args[1], count)
}

func blpopCommand(s *Server, c *Client, args [][]byte) {
	blockingPopGeneric(s, c, args[1:len(args)-1], listHead, args[len(args)-1], -1)
}

func brpopCommand(s *Server, c *Client, args [][]byte) {
	blockingPopGeneric(s, c, args[1:len(args)-1], listTail, args[len(args)-1], -1)
}

// blockingPopGeneric is BLPOP, BRPOP (count -1) and BLMPOP.
func blockingPopGeneric(s *Server, c *Client, keys [][]byte, head bool, timeoutArg []byte, count int64) {
	deadline, ok := s.parseTimeout(c, timeoutArg)
	if !ok {
		return
	}
	db := c.db
	for _, key := range keys {
		o, ok := s.lookupListWrite(c, key)
		if !ok {
			return
		}
		if o == nil {
			continue
		}
		ql := s.list(o)
		if ql.Len() == 0 {
			continue
		}
		if count != -1 {
			c.ArrayLen(2)
			c.Bulk(key)
			n := s.popRange(c, db, key, ql, head, count)
			s.propagate(db.id, [][]byte{popArg(head), key, strconv.AppendInt(nil, int64(n), 10)})
			return
		}
		e, _ := ql.Pop(head)
		c.ArrayLen(2)
		c.Bulk(key)
		replyEntry(c, e)
		s.listElementsRemoved(db, key, head, ql, 1)
		s.propagate(db.id, [][]byte{popArg(head), key})
		return
	}
	if denyBlocking(c) {
		c.NullArray()
		return
	}
	s.blockForKeys(c, keys, deadline, func(key []byte) bool {
		return s.serveBlockedPop(c, key, head, count)
	}, nil)
}

// serveBlockedPop serves a client blocked in BLPOP/BRPOP/BLMPOP from key.
func (s *Server) serveBlockedPop(c *Client, key []byte, head bool, count int64) bool {
	db := c.db
	o := s.lookupWrite(db, key)
	if o == nil || o.Type != keyspace.TypeList {
		return false
	}
	ql := s.list(o)
	llen := ql.Len()
	if llen == 0 {
		return false
	}
	if count != -1 {
		n := min(count, int64(llen))
		s.propagate(db.id, [][]byte{popArg(head), key, strconv.AppendInt(nil, n, 10)})
		c.ArrayLen(2)
		c.Bulk(key)
		s.popRange(c, db, key, ql, head, count)
		return true
	}
	s.propagate(db.id, [][]byte{popArg(head), key})
	e, _ := ql.Pop(head)
	c.ArrayLen(2)
	c.Bulk(key)
	replyEntry(c, e)
	s.listElementsRemoved(db, key, head, ql, 1)
	return true
}

func blmoveCommand(s *Server, c *Client, args [][]byte) {
	from, ok := listSide(c, args[3])
	if !ok {
		return
	}
	to, ok := listSide(c, args[4])
	if !ok {
		return
	}
	deadline, ok := s.parseTimeout(c, args[5])
	if !ok {
		return
	}
	blmoveGeneric(s, c, args, from, to, deadline, false)
}

func brpoplpushCommand(s *Server, c *Client, args [][]byte) {
	deadline, ok := s.parseTimeout(c, args[3])
	if !ok {
		return
	}
	blmoveGeneric(s, c, args, listTail, listHead, deadline, true)
}

func blmoveGeneric(s *Server, c *Client, args [][]byte, from, to bool, deadline int64, isRPOPLPUSH bool) {
	src, dst := args[1], args[2]
	rewrite := [][]byte{argLMOVE, src, dst, sideArg(from), sideArg(to)}
	if isRPOPLPUSH {
		rewrite = [][]byte{argRPOPLPUSH, src, dst}
	}
	sobj, ok := s.lookupListWrite(c, src)
	if !ok {
		return
	}
	if sobj != nil {
		lmoveGeneric(s, c, args, from, to, rewrite)
		return
	}
	if denyBlocking(c) {
		c.Null()
		return
	}
	// The keys outlive the request buffer while the client waits.
	src = append([]byte(nil), src...)
	dst = append([]byte(nil), dst...)
	rewrite[1], rewrite[2] = src, dst
	s.blockForKeys(c, [][]byte{src}, deadline, func(key []byte) bool {
		return s.serveBlockedMove(c, src, dst, from, to, rewrite)
	}, nil)
}

// serveBlockedMove serves a client blocked in BLMOVE/BRPOPLPUSH.
func (s *Server) serveBlockedMove(c *Client, src, dst []byte, from, to bool, rewrite [][]byte) bool {
	db := c.db
	o := s.lookupWrite(db, src)
	if o == nil || o.Type != keyspace.TypeList {
		return false
	}
	sql := s.list(o)
	if sql.Len() == 0 {
		return false
	}
	dobj := s.lookupWrite(db, dst)
	if dobj != nil && dobj.Type != keyspace.TypeList {
		c.Error(errWrongType)
		return true
	}
	e, _ := sql.Pop(from)
	s.lmovePush(c, db, dst, dobj, entryBytes(e), to)
	s.propagate(db.id, rewrite)
	s.notify(notifyList, popEvent(from), src, db.id)
	if sql.Len() == 0 {
		s.deleteKey(db, src)
		s.notify(notifyGeneric, "del", src, db.id)
	}
	s.keyModified(db, src)
	s.dirty++
	return true
}

// listDigest folds a list into DEBUG DIGEST: each element in order.
func listDigest(d *digestState, o *keyspace.Object) {
	it := listOf(o).Iterator(true)
	var e quicklist.Entry
	var buf []byte
	for it.Next(&e) {
		buf = e.Append(buf[:0])
		d.mix(buf)
	}
	it.Release()
}

// listDebugExtra is DEBUG OBJECT's quicklist part.
func listDebugExtra(o *keyspace.Object) string {
	ql := listOf(o)
	st := ql.Stats()
	avg := math.NaN()
	if st.Nodes > 0 {
		avg = float64(ql.Len()) / float64(st.Nodes)
	}
	compressed := 0
	if ql.CompressDepth() != 0 {
		compressed = 1
	}
	return fmt.Sprintf(" ql_nodes:%d ql_avg_node:%s ql_listpack_max:%d ql_compressed:%d ql_uncompressed_size:%d",
		st.Nodes, formatC2f(avg), ql.Fill(), compressed, st.UncompressedSize)
}

// formatC2f formats as C's "%.2f" (nan and inf spelled as glibc does).
func formatC2f(f float64) string {
	switch {
	case math.IsNaN(f):
		return "-nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	return strconv.FormatFloat(f, 'f', 2, 64)
}

// quicklistStructSize and quicklistNodeSize are Redis's sizeof(quicklist)
// and sizeof(quicklistNode), for MEMORY USAGE.
const (
	quicklistStructSize = 40
	quicklistNodeSize   = 32
)

// listMemory is objectComputeSize for a quicklist: sampled nodes.
func listMemory(o *keyspace.Object, samples int64) int64 {
	ql := listOf(o)
	size := int64(robjSize + quicklistStructSize)
	var sampled, ele int64
	ql.EachNode(func(n quicklist.NodeInfo) bool {
		b := len(n.Data)
		if n.Compressed != nil {
			b = len(n.Compressed) + 8
		}
		ele += quicklistNodeSize + int64(jemallocSize(b))
		sampled++
		return sampled < samples
	})
	if sampled > 0 {
		size += int64(float64(ele) / float64(sampled) * float64(ql.Nodes()))
	}
	return size
}
