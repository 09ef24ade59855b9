package node

import (
	"slices"
	"strconv"

	"github.com/keyfleet/keyfleet/node/ds/dict"
	"github.com/keyfleet/keyfleet/node/ds/intset"
	"github.com/keyfleet/keyfleet/node/keyspace"
)

// Sets, as Redis 7.0's t_set.c. Two encodings, as OBJECT ENCODING names
// them: "intset" (every member a canonical int64 and at most
// set-max-intset-entries of them), kept as the intset blob in Object.Str
// so a small set costs one allocation; and "hashtable", a *dict.Dict in
// Object.Val. A set converts to hashtable when a non-integer arrives or it
// outgrows the limit, and never back (7.0 has no listpack sets).

func init() {
	register(map[string]handler{
		"sadd":        saddCommand,
		"srem":        sremCommand,
		"smove":       smoveCommand,
		"sismember":   sismemberCommand,
		"smismember":  smismemberCommand,
		"scard":       scardCommand,
		"spop":        spopCommand,
		"srandmember": srandmemberCommand,
		"smembers":    sinterCommand,
		"sinter":      sinterCommand,
		"sintercard":  sintercardCommand,
		"sinterstore": sinterstoreCommand,
		"sunion":      sunionCommand,
		"sunionstore": sunionstoreCommand,
		"sdiff":       sdiffCommand,
		"sdiffstore":  sdiffstoreCommand,
		"sscan":       sscanCommand,
	})
	registerTypeOps(keyspace.TypeSet, typeOps{dup: dupSet, freeEffort: setFreeEffort})
	registerDebugType(keyspace.TypeSet, &debugTypeHooks{digest: setDigest, htStats: setHTStats})
	registerMemoryUsage(keyspace.TypeSet, setMemoryUsage)
}

var (
	argSREM = []byte("SREM")
)

// strSet is the hashtable encoding's table (members only).
type strSet = dict.Dict[struct{}]

func setHT(o *keyspace.Object) *strSet { return o.Val.(*strSet) }

// setElem is one member as an iteration yields it: an intset integer, or
// a string (which aliases the set: copy it before keeping it past a
// change of the set).
type setElem struct {
	s     string
	i     int64
	isInt bool
}

func (e setElem) String() string {
	if e.isInt {
		return strconv.FormatInt(e.i, 10)
	}
	return e.s
}

func (e setElem) appendTo(b []byte) []byte {
	if e.isInt {
		return strconv.AppendInt(b, e.i, 10)
	}
	return append(b, e.s...)
}

// reply writes the member as a bulk string.
func (e setElem) reply(c *Client) {
	if e.isInt {
		c.BulkInt(e.i)
	} else {
		c.BulkString(e.s)
	}
}

// newSetFor returns an empty set of the encoding that can hold member
// (setTypeCreate).
func newSetFor(member []byte) keyspace.Object {
	if _, ok := parseInt64Strict(member); ok {
		return keyspace.Object{Type: keyspace.TypeSet, Enc: keyspace.EncIntset, Str: intset.New()}
	}
	return keyspace.Object{Type: keyspace.TypeSet, Enc: keyspace.EncHashtable, Val: dict.New[struct{}](0)}
}

func setSize(o *keyspace.Object) int {
	if o.Enc == keyspace.EncIntset {
		return intset.Len(o.Str)
	}
	return setHT(o).Len()
}

// maxIntsetEntries is set-max-intset-entries, capped as Redis caps it.
func (s *Server) maxIntsetEntries() int {
	return int(min(max(s.cfg.SetMaxIntsetEntries, 0), intset.MaxLen))
}

// setConvertToHT turns an intset into a hashtable presized for n members.
func setConvertToHT(o *keyspace.Object, n int) {
	d := dict.New[struct{}](n)
	intset.Each(o.Str, func(v int64) bool {
		d.AddNew(strconv.FormatInt(v, 10), struct{}{})
		return true
	})
	o.Enc, o.Str, o.Val = keyspace.EncHashtable, nil, d
}

// setAdd adds member, converting the encoding when needed (setTypeAdd),
// and reports whether it was new.
func (s *Server) setAdd(o *keyspace.Object, member []byte) bool {
	if o.Enc == keyspace.EncIntset {
		if v, ok := parseInt64Strict(member); ok {
			var added bool
			o.Str, added = intset.Add(o.Str, v)
			if added && intset.Len(o.Str) > s.maxIntsetEntries() {
				setConvertToHT(o, intset.Len(o.Str))
			}
			return added
		}
		setConvertToHT(o, intset.Len(o.Str)+1)
	}
	return setHT(o).Add(string(member), struct{}{})
}

// setAddElem adds an element taken from another set.
func (s *Server) setAddElem(o *keyspace.Object, e setElem) bool {
	if e.isInt && o.Enc == keyspace.EncIntset {
		var added bool
		o.Str, added = intset.Add(o.Str, e.i)
		if added && intset.Len(o.Str) > s.maxIntsetEntries() {
			setConvertToHT(o, intset.Len(o.Str))
		}
		return added
	}
	if e.isInt {
		return setHT(o).Add(strconv.FormatInt(e.i, 10), struct{}{})
	}
	if o.Enc == keyspace.EncIntset {
		// A member of a hashtable may still be an integer.
		return s.setAdd(o, []byte(e.s))
	}
	return setHT(o).Add(e.s, struct{}{})
}

// setRemove removes member and reports whether it was there.
func setRemove(o *keyspace.Object, member []byte) bool {
	if o.Enc == keyspace.EncIntset {
		v, ok := parseInt64Strict(member)
		if !ok {
			return false
		}
		o.Str, ok = intset.Remove(o.Str, v)
		return ok
	}
	return setHT(o).DeleteBytes(member)
}

func setRemoveElem(o *keyspace.Object, e setElem) bool {
	if o.Enc == keyspace.EncIntset && e.isInt {
		var ok bool
		o.Str, ok = intset.Remove(o.Str, e.i)
		return ok
	}
	if e.isInt {
		return setHT(o).Delete(strconv.FormatInt(e.i, 10))
	}
	return setRemove(o, []byte(e.s))
}

func setIsMember(o *keyspace.Object, member []byte) bool {
	if o.Enc == keyspace.EncIntset {
		v, ok := parseInt64Strict(member)
		return ok && intset.Find(o.Str, v)
	}
	return setHT(o).HasBytes(member)
}

// setHasElem reports whether e is a member, without allocating for the
// common pairs (intset/intset, hashtable/string).
func setHasElem(o *keyspace.Object, e setElem) bool {
	switch {
	case o.Enc == keyspace.EncIntset && e.isInt:
		return intset.Find(o.Str, e.i)
	case o.Enc == keyspace.EncIntset:
		v, ok := parseInt64Strict([]byte(e.s))
		return ok && intset.Find(o.Str, v)
	case e.isInt:
		var buf [20]byte
		return setHT(o).HasBytes(strconv.AppendInt(buf[:0], e.i, 10))
	}
	return setHT(o).Has(e.s)
}

// setEach calls f for every member until it returns false; f must not
// change the set.
func setEach(o *keyspace.Object, f func(e setElem) bool) {
	if o.Enc == keyspace.EncIntset {
		intset.Each(o.Str, func(v int64) bool { return f(setElem{i: v, isInt: true}) })
		return
	}
	setHT(o).Each(func(k string, _ struct{}) bool { return f(setElem{s: k}) })
}

// setRandom returns a uniformly random member of a non-empty set.
func (s *Server) setRandom(o *keyspace.Object) setElem {
	if o.Enc == keyspace.EncIntset {
		return setElem{i: intset.Get(o.Str, s.rng.IntN(intset.Len(o.Str))), isInt: true}
	}
	k, _ := setHT(o).Random(s.rng)
	return setElem{s: k}
}

// dupSet deep-copies a set keeping its encoding (setTypeDup).
func dupSet(o *keyspace.Object) keyspace.Object {
	if o.Enc == keyspace.EncIntset {
		return keyspace.Object{Type: keyspace.TypeSet, Enc: keyspace.EncIntset, Str: intset.Clone(o.Str)}
	}
	src := setHT(o)
	d := dict.New[struct{}](src.Len())
	src.Each(func(k string, _ struct{}) bool { d.AddNew(k, struct{}{}); return true })
	return keyspace.Object{Type: keyspace.TypeSet, Enc: keyspace.EncHashtable, Val: d}
}

// setFreeEffort is the number of allocations freeing the set releases.
func setFreeEffort(o *keyspace.Object) int {
	if o.Enc == keyspace.EncIntset {
		return 1
	}
	return setHT(o).Len()
}

func setDigest(d *digestState, o *keyspace.Object) {
	var buf []byte
	setEach(o, func(e setElem) bool {
		buf = e.appendTo(buf[:0])
		d.xor(buf)
		return true
	})
}

// Sizes of Redis's structures, for MEMORY USAGE's estimates.
const (
	redisDictSize     = 56 // sizeof(dict)
	redisPtrSize      = 8
	redisZsetSize     = 16 // sizeof(zset)
	redisZskiplist    = 32 // sizeof(zskiplist)
	redisZslNodeBase  = 24 // sizeof(zskiplistNode) without its levels
	redisZslLevelSize = 16
)

// setMemoryUsage estimates the set's memory as Redis's objectComputeSize:
// the intset blob, or the table plus sampled entries scaled to the size.
func setMemoryUsage(o *keyspace.Object, samples int64) int64 {
	if o.Enc == keyspace.EncIntset {
		return robjSize + int64(jemallocSize(intset.BlobLen(o.Str)))
	}
	d := setHT(o)
	size := int64(robjSize + redisDictSize + redisPtrSize*d.Buckets())
	var elesize, n int64
	d.Each(func(k string, _ struct{}) bool {
		elesize += dictEntrySize + sdsAllocSize(len(k))
		n++
		return n < samples
	})
	if n > 0 {
		size += int64(float64(elesize) / float64(n) * float64(d.Len()))
	}
	return size
}

func setHTStats(o *keyspace.Object) (string, bool) {
	if o.Enc != keyspace.EncHashtable {
		return "", false
	}
	return setHT(o).Stats(), true
}

// lookupSetRead returns the set at key for a read (nil when missing),
// or replies WRONGTYPE and returns ok=false.
func (s *Server) lookupSetRead(c *Client, key []byte) (*keyspace.Object, bool) {
	o := s.lookupRead(c.db, key)
	if o != nil && o.Type != keyspace.TypeSet {
		c.Error(errWrongType)
		return nil, false
	}
	return o, true
}

func (s *Server) lookupSetWrite(c *Client, key []byte) (*keyspace.Object, bool) {
	o := s.lookupWrite(c.db, key)
	if o != nil && o.Type != keyspace.TypeSet {
		c.Error(errWrongType)
		return nil, false
	}
	return o, true
}

func saddCommand(s *Server, c *Client, args [][]byte) {
	db, key := c.db, args[1]
	o, ok := s.lookupSetWrite(c, key)
	if !ok {
		return
	}
	if o == nil {
		o = s.setKey(db, key, newSetFor(args[2]), false)
	}
	if o.Enc == keyspace.EncIntset && len(args) > 3 {
		// Room for every member at once instead of one reallocation each;
		// what an upgrade or duplicates leave unused is given back.
		o.Str = slices.Grow(o.Str[:len(o.Str):len(o.Str)], (len(args)-2)*intset.Encoding(o.Str))
		defer func() {
			if o.Enc == keyspace.EncIntset && cap(o.Str) > len(o.Str) {
				o.Str = intset.Clone(o.Str)
			}
		}()
	}
	added := 0
	for _, m := range args[2:] {
		if s.setAdd(o, m) {
			added++
		}
	}
	if added > 0 {
		s.keyModified(db, key)
		s.notify(notifySet, "sadd", key, db.id)
		s.dirty += int64(added)
		s.propagate(db.id, args)
	}
	c.Int(int64(added))
}

// deleteEmptyKey removes a collection that became empty and raises the
// "del" event, as the families do after their own event.
func (s *Server) deleteEmptyKey(db *DB, key []byte) {
	db.ks.Delete(key)
	s.notify(notifyGeneric, "del", key, db.id)
}

func sremCommand(s *Server, c *Client, args [][]byte) {
	db, key := c.db, args[1]
	o, ok := s.lookupSetWrite(c, key)
	if !ok {
		return
	}
	if o == nil {
		c.Int(0)
		return
	}
	deleted, removed := 0, false
	for _, m := range args[2:] {
		if setRemove(o, m) {
			deleted++
			if setSize(o) == 0 {
				removed = true
				break
			}
		}
	}
	if deleted > 0 {
		s.keyModified(db, key)
		s.notify(notifySet, "srem", key, db.id)
		if removed {
			s.deleteEmptyKey(db, key)
		}
		s.dirty += int64(deleted)
		s.propagate(db.id, args)
	}
	c.Int(int64(deleted))
}

func smoveCommand(s *Server, c *Client, args [][]byte) {
	db, srcKey, dstKey, member := c.db, args[1], args[2], args[3]
	src := s.lookupWrite(db, srcKey)
	dst := s.lookupWrite(db, dstKey)
	if src == nil {
		c.Int(0)
		return
	}
	if src.Type != keyspace.TypeSet || (dst != nil && dst.Type != keyspace.TypeSet) {
		c.Error(errWrongType)
		return
	}
	if string(srcKey) == string(dstKey) {
		if setIsMember(src, member) {
			c.Int(1)
		} else {
			c.Int(0)
		}
		return
	}
	if !setRemove(src, member) {
		c.Int(0)
		return
	}
	s.notify(notifySet, "srem", srcKey, db.id)
	if setSize(src) == 0 {
		s.deleteEmptyKey(db, srcKey)
	}
	if dst == nil {
		dst = s.setKey(db, dstKey, newSetFor(member), false)
	}
	s.keyModified(db, srcKey)
	s.dirty++
	if s.setAdd(dst, member) {
		s.dirty++
		s.keyModified(db, dstKey)
		s.notify(notifySet, "sadd", dstKey, db.id)
	}
	s.propagate(db.id, args)
	c.Int(1)
}

func sismemberCommand(s *Server, c *Client, args [][]byte) {
	o, ok := s.lookupSetRead(c, args[1])
	if !ok {
		return
	}
	if o != nil && setIsMember(o, args[2]) {
		c.Int(1)
	} else {
		c.Int(0)
	}
}

func smismemberCommand(s *Server, c *Client, args [][]byte) {
	o, ok := s.lookupSetRead(c, args[1])
	if !ok {
		return
	}
	c.ArrayLen(len(args) - 2)
	for _, m := range args[2:] {
		if o != nil && setIsMember(o, m) {
			c.Int(1)
		} else {
			c.Int(0)
		}
	}
}

func scardCommand(s *Server, c *Client, args [][]byte) {
	o, ok := s.lookupSetRead(c, args[1])
	if !ok {
		return
	}
	if o == nil {
		c.Int(0)
		return
	}
	c.Int(int64(setSize(o)))
}

// spopMoveStrategyMul: above this ratio of remaining to popped members,
// SPOP with a count builds the set of survivors instead (Redis's
// SPOP_MOVE_STRATEGY_MUL).
const spopMoveStrategyMul = 5

func spopCommand(s *Server, c *Client, args [][]byte) {
	if len(args) == 3 {
		spopWithCount(s, c, args)
		return
	}
	if len(args) > 3 {
		c.Error(errSyntax)
		return
	}
	db, key := c.db, args[1]
	o, ok := s.lookupSetWrite(c, key)
	if !ok {
		return
	}
	if o == nil {
		c.Null()
		return
	}
	e := s.setRandom(o)
	member := e.appendTo(nil)
	setRemoveElem(o, e)
	s.notify(notifySet, "spop", key, db.id)
	s.propagate(db.id, [][]byte{argSREM, key, member})
	c.Bulk(member)
	if setSize(o) == 0 {
		s.deleteEmptyKey(db, key)
	}
	s.keyModified(db, key)
	s.dirty++
}

func spopWithCount(s *Server, c *Client, args [][]byte) {
	db, key := c.db, args[1]
	count, ok := positiveArg(c, args[2])
	if !ok {
		return
	}
	o, ok := s.lookupSetWrite(c, key)
	if !ok {
		return
	}
	if o == nil || count == 0 {
		c.SetLen(0)
		return
	}
	size := int64(setSize(o))
	s.notify(notifySet, "spop", key, db.id)
	s.dirty += min(count, size)

	// Everything: reply the whole set and delete it, propagated as DEL.
	if count >= size {
		c.SetLen(int(size))
		setEach(o, func(e setElem) bool { e.reply(c); return true })
		db.ks.Delete(key)
		s.notify(notifyGeneric, "del", key, db.id)
		s.propagate(db.id, [][]byte{argDEL, key})
		s.keyModified(db, key)
		return
	}

	// Otherwise each popped member propagates as its own SREM.
	c.SetLen(int(count))
	remaining := size - count
	var buf []byte
	emit := func(e setElem) {
		buf = e.appendTo(buf[:0])
		c.Bulk(buf)
		s.propagate(db.id, [][]byte{argSREM, key, buf})
	}
	if remaining*spopMoveStrategyMul > count {
		// Few members asked for: pop them one at a time.
		for ; count > 0; count-- {
			e := s.setRandom(o)
			emit(e)
			setRemoveElem(o, e)
		}
	} else {
		// Most of the set asked for: move the survivors to a new set and
		// reply what is left of the old one.
		var survivors *keyspace.Object
		for ; remaining > 0; remaining-- {
			e := s.setRandom(o)
			m := e.appendTo(nil)
			if survivors == nil {
				ns := newSetFor(m)
				survivors = &ns
			}
			s.setAdd(survivors, m)
			setRemoveElem(o, e)
		}
		setEach(o, func(e setElem) bool { emit(e); return true })
		// The survivors replace the set in place: same key, same TTL.
		*o = keyspace.Object{Type: survivors.Type, Enc: survivors.Enc, LRU: o.LRU, Str: survivors.Str, Val: survivors.Val}
	}
	s.keyModified(db, key)
}

// maxReplyBytes bounds a reply built from a client-chosen count (a
// negative SRANDMEMBER/ZRANDMEMBER count asks for that many draws): past
// it the client is disconnected, as Redis does when a reply exceeds the
// output buffer limits, instead of the node running out of memory.
const maxReplyBytes = 1 << 30

// replyOverflow reports whether c's pending reply passed maxReplyBytes,
// and then marks c to be closed.
func replyOverflow(c *Client) bool {
	if len(c.out) <= maxReplyBytes {
		return false
	}
	c.closeAfterReply = true
	return true
}

// srandmemberSubStrategyMul: below this ratio of set size to count,
// SRANDMEMBER copies the set and removes random members instead of
// drawing them (Redis's SRANDMEMBER_SUB_STRATEGY_MUL).
const srandmemberSubStrategyMul = 3

func srandmemberCommand(s *Server, c *Client, args [][]byte) {
	if len(args) == 3 {
		srandmemberWithCount(s, c, args)
		return
	}
	if len(args) > 3 {
		c.Error(errSyntax)
		return
	}
	o, ok := s.lookupSetRead(c, args[1])
	if !ok {
		return
	}
	if o == nil {
		c.Null()
		return
	}
	s.setRandom(o).reply(c)
}

// rangeCountArg parses a count in [-LONG_MAX, LONG_MAX], as the random
// member commands' getRangeLongFromObjectOrReply.
func rangeCountArg(c *Client, b []byte) (int64, bool) {
	n, ok := int64Arg(c, b)
	if !ok {
		return 0, false
	}
	if n == -1<<63 {
		c.Error("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
		return 0, false
	}
	return n, true
}

func srandmemberWithCount(s *Server, c *Client, args [][]byte) {
	l, ok := rangeCountArg(c, args[2])
	if !ok {
		return
	}
	count, uniq := l, true
	if l < 0 {
		count, uniq = -l, false
	}
	o, ok := s.lookupSetRead(c, args[1])
	if !ok {
		return
	}
	if o == nil || count == 0 {
		c.ArrayLen(0)
		return
	}
	size := int64(setSize(o))

	// Repetitions allowed: independent draws.
	if !uniq || count == 1 {
		c.ArrayLen(int(count))
		for ; count > 0; count-- {
			s.setRandom(o).reply(c)
			if replyOverflow(c) {
				return
			}
		}
		return
	}
	// The whole set.
	if count >= size {
		c.ArrayLen(int(size))
		setEach(o, func(e setElem) bool { e.reply(c); return true })
		return
	}
	picked := dict.New[struct{}](int(count))
	if count*srandmemberSubStrategyMul > size {
		// Copy everything, then drop random members down to count.
		picked = dict.New[struct{}](int(size))
		setEach(o, func(e setElem) bool { picked.AddNew(e.String(), struct{}{}); return true })
		for n := size; n > count; n-- {
			k, _ := picked.Random(s.rng)
			picked.Delete(k)
		}
	} else {
		// Draw until count distinct members are picked.
		for int64(picked.Len()) < count {
			e := s.setRandom(o)
			if e.isInt {
				picked.Add(e.String(), struct{}{})
			} else {
				picked.Add(e.s, struct{}{})
			}
		}
	}
	c.ArrayLen(int(count))
	picked.Each(func(k string, _ struct{}) bool { c.BulkString(k); return true })
}

// readSets looks up the source sets of SINTER/SUNION/SDIFF (nil for a
// missing key), replying WRONGTYPE on the first key of another type.
func (s *Server) readSets(c *Client, keys [][]byte) ([]*keyspace.Object, bool) {
	sets := make([]*keyspace.Object, len(keys))
	for i, k := range keys {
		o := s.lookupRead(c.db, k)
		if o != nil && o.Type != keyspace.TypeSet {
			c.Error(errWrongType)
			return nil, false
		}
		sets[i] = o
	}
	return sets, true
}

// storeSetResult stores a computed set at dst, or deletes dst when the
// result is empty, replying the stored size (the *STORE commands).
func (s *Server) storeSetResult(c *Client, args [][]byte, dst []byte, res *keyspace.Object, event string) {
	db := c.db
	if res != nil && setSize(res) > 0 {
		n := setSize(res)
		s.setKey(db, dst, *res, false)
		s.notify(notifySet, event, dst, db.id)
		s.dirty++
		s.propagate(db.id, args)
		c.Int(int64(n))
		return
	}
	c.Int(0)
	if s.deleteKey(db, dst) {
		s.notify(notifyGeneric, "del", dst, db.id)
		s.dirty++
		s.propagate(db.id, args)
	}
}

// sinterGeneric implements SINTER, SMEMBERS, SINTERSTORE and SINTERCARD
// (cardOnly, stopping at limit when limit > 0).
func sinterGeneric(s *Server, c *Client, args [][]byte, keys [][]byte, dst []byte, cardOnly bool, limit int64) {
	sets, ok := s.readSets(c, keys)
	if !ok {
		return
	}
	for _, o := range sets {
		if o == nil {
			// An intersection with an empty set is empty.
			switch {
			case dst != nil:
				s.storeSetResult(c, args, dst, nil, "sinterstore")
			case cardOnly:
				c.Int(0)
			default:
				c.SetLen(0)
			}
			return
		}
	}
	// Smallest first: every candidate comes from it.
	sortSetsBySize(sets)
	var res *keyspace.Object
	var d deferred
	if dst != nil {
		r := keyspace.Object{Type: keyspace.TypeSet, Enc: keyspace.EncIntset, Str: intset.New()}
		res = &r
	} else if !cardOnly {
		d = c.DeferLen()
	}
	card := int64(0)
	setEach(sets[0], func(e setElem) bool {
		for _, o := range sets[1:] {
			if o == sets[0] {
				continue
			}
			if !setHasElem(o, e) {
				return true
			}
		}
		switch {
		case cardOnly:
			card++
			return limit == 0 || card < limit
		case res != nil:
			if e.isInt {
				s.setAddElem(res, e)
			} else {
				s.setAddElem(res, setElem{s: e.s})
			}
		default:
			e.reply(c)
			card++
		}
		return true
	})
	switch {
	case cardOnly:
		c.Int(card)
	case res != nil:
		s.storeSetResult(c, args, dst, res, "sinterstore")
	default:
		c.SetSetLen(d, int(card))
	}
}

// sortSetsBySize orders sets by ascending cardinality (stable).
func sortSetsBySize(sets []*keyspace.Object) {
	for i := 1; i < len(sets); i++ {
		for j := i; j > 0 && setSize(sets[j]) < setSize(sets[j-1]); j-- {
			sets[j], sets[j-1] = sets[j-1], sets[j]
		}
	}
}

func sinterCommand(s *Server, c *Client, args [][]byte) {
	sinterGeneric(s, c, args, args[1:], nil, false, 0)
}

func sinterstoreCommand(s *Server, c *Client, args [][]byte) {
	sinterGeneric(s, c, args, args[2:], args[1], false, 0)
}

// numkeysArg parses numkeys in [1, LONG_MAX] with a command's message.
func numkeysArg(c *Client, b []byte, msg string) (int, bool) {
	n, ok := parseInt64Strict(b)
	if !ok || n < 1 {
		c.Error(msg)
		return 0, false
	}
	return int(n), true
}

// limitArg parses a non-negative LIMIT ("ERR LIMIT can't be negative"
// for anything else).
func limitArg(c *Client, b []byte) (int64, bool) {
	n, ok := parseInt64Strict(b)
	if !ok || n < 0 {
		c.Error("ERR LIMIT can't be negative")
		return 0, false
	}
	return n, true
}

func sintercardCommand(s *Server, c *Client, args [][]byte) {
	numkeys, ok := numkeysArg(c, args[1], "ERR numkeys should be greater than 0")
	if !ok {
		return
	}
	if numkeys > len(args)-2 {
		c.Error("ERR Number of keys can't be greater than number of args")
		return
	}
	var limit int64
	for j := 2 + numkeys; j < len(args); j++ {
		if isWord(args[j], "limit") && j+1 < len(args) {
			j++
			if limit, ok = limitArg(c, args[j]); !ok {
				return
			}
		} else {
			c.Error(errSyntax)
			return
		}
	}
	sinterGeneric(s, c, args, args[2:2+numkeys], nil, true, limit)
}

const (
	setOpUnion = iota
	setOpDiff
)

// sunionDiffGeneric implements SUNION, SDIFF and their STORE forms.
func sunionDiffGeneric(s *Server, c *Client, args [][]byte, keys [][]byte, dst []byte, op int) {
	sets, ok := s.readSets(c, keys)
	if !ok {
		return
	}
	sameSet := false
	for j := 1; j < len(sets); j++ {
		if sets[j] != nil && sets[j] == sets[0] {
			sameSet = true
		}
	}
	// Algorithm 1 checks each member of the first set against the
	// others; algorithm 2 adds the first and removes the others. Pick
	// the cheaper for these sizes, as Redis does.
	diffAlgo := 1
	if op == setOpDiff && sets[0] != nil && !sameSet {
		var one, two int64
		for _, o := range sets {
			if o == nil {
				continue
			}
			one += int64(setSize(sets[0]))
			two += int64(setSize(o))
		}
		one /= 2
		if one > two {
			diffAlgo = 2
		}
		if diffAlgo == 1 && len(sets) > 1 {
			rest := sets[1:]
			for i := 1; i < len(rest); i++ {
				for j := i; j > 0 && sizeOrZero(rest[j]) > sizeOrZero(rest[j-1]); j-- {
					rest[j], rest[j-1] = rest[j-1], rest[j]
				}
			}
		}
	}
	res := &keyspace.Object{Type: keyspace.TypeSet, Enc: keyspace.EncIntset, Str: intset.New()}
	card := 0
	switch {
	case op == setOpUnion:
		for _, o := range sets {
			if o == nil {
				continue
			}
			setEach(o, func(e setElem) bool {
				if s.setAddElem(res, e) {
					card++
				}
				return true
			})
		}
	case sameSet:
		// A set minus itself is empty.
	case sets[0] != nil && diffAlgo == 1:
		setEach(sets[0], func(e setElem) bool {
			for _, o := range sets[1:] {
				if o == nil {
					continue
				}
				if o == sets[0] || setHasElem(o, e) {
					return true
				}
			}
			s.setAddElem(res, e)
			card++
			return true
		})
	case sets[0] != nil:
		for j, o := range sets {
			if o == nil {
				continue
			}
			setEach(o, func(e setElem) bool {
				if j == 0 {
					if s.setAddElem(res, e) {
						card++
					}
				} else if setRemoveElem(res, e) {
					card--
				}
				return true
			})
			if card == 0 {
				break
			}
		}
	}
	if dst == nil {
		c.SetLen(card)
		setEach(res, func(e setElem) bool { e.reply(c); return true })
		return
	}
	event := "sunionstore"
	if op == setOpDiff {
		event = "sdiffstore"
	}
	s.storeSetResult(c, args, dst, res, event)
}

func sizeOrZero(o *keyspace.Object) int {
	if o == nil {
		return 0
	}
	return setSize(o)
}

func sunionCommand(s *Server, c *Client, args [][]byte) {
	sunionDiffGeneric(s, c, args, args[1:], nil, setOpUnion)
}

func sunionstoreCommand(s *Server, c *Client, args [][]byte) {
	sunionDiffGeneric(s, c, args, args[2:], args[1], setOpUnion)
}

func sdiffCommand(s *Server, c *Client, args [][]byte) {
	sunionDiffGeneric(s, c, args, args[1:], nil, setOpDiff)
}

func sdiffstoreCommand(s *Server, c *Client, args [][]byte) {
	sunionDiffGeneric(s, c, args, args[2:], args[1], setOpDiff)
}

// replyEmptyScan is the reply to a collection scan of a missing key.
func replyEmptyScan(c *Client) {
	c.ArrayLen(2)
	c.BulkString("0")
	c.ArrayLen(0)
}

// replyScan writes a collection scan's reply: the cursor and the
// elements (flat field/value pairs when pairs is set), keeping those
// whose first half matches the pattern.
func replyScan(c *Client, cursor uint64, elems [][]byte, pairs bool, opts scanOptions) {
	c.ArrayLen(2)
	var buf [20]byte
	c.Bulk(strconv.AppendUint(buf[:0], cursor, 10))
	step := 1
	if pairs {
		step = 2
	}
	if opts.pattern != nil {
		out := elems[:0]
		for i := 0; i+step <= len(elems); i += step {
			if globMatch(opts.pattern, elems[i], false) {
				out = append(out, elems[i:i+step]...)
			}
		}
		elems = out
	}
	c.ArrayLen(len(elems))
	for _, e := range elems {
		c.Bulk(e)
	}
}

// scanLoop runs scan steps as Redis's scanGenericCommand: until the
// cursor wraps, count elements were collected, or 10*count steps ran (a
// sparse table then returns few elements rather than block).
func scanLoop(cursor uint64, count int64, step func(uint64) uint64, collected func() int64) uint64 {
	maxIter := count * 10
	for {
		cursor = step(cursor)
		if cursor == 0 || maxIter == 0 {
			return cursor
		}
		maxIter--
		if collected() >= count {
			return cursor
		}
	}
}

func sscanCommand(s *Server, c *Client, args [][]byte) {
	cursor, ok := parseScanCursor(c, args[2])
	if !ok {
		return
	}
	o, ok := s.lookupSetRead(c, args[1])
	if !ok {
		return
	}
	if o == nil {
		replyEmptyScan(c)
		return
	}
	opts, ok := parseScanOptions(c, args[3:], false)
	if !ok {
		return
	}
	var elems [][]byte
	if o.Enc == keyspace.EncIntset {
		// A compact encoding is small: all of it in one call.
		intset.Each(o.Str, func(v int64) bool {
			elems = append(elems, strconv.AppendInt(nil, v, 10))
			return true
		})
		replyScan(c, 0, elems, false, opts)
		return
	}
	d := setHT(o)
	cursor = scanLoop(cursor, opts.count, func(cur uint64) uint64 {
		return d.Scan(cur, func(k string, _ struct{}) { elems = append(elems, []byte(k)) })
	}, func() int64 { return int64(len(elems)) })
	replyScan(c, cursor, elems, false, opts)
}
