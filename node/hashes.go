package node

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"unsafe"

	"github.com/keyfleet/keyfleet/node/ds/dict"
	"github.com/keyfleet/keyfleet/node/ds/listpack"
	"github.com/keyfleet/keyfleet/node/keyspace"
)

// The hash family, as Redis 7.0's t_hash.c. A small hash is a listpack of
// alternating fields and values (OBJECT ENCODING "listpack"), kept in
// Object.Str so that a small hash costs its listpack and nothing more; it
// becomes a hash table ("hashtable", a dict.Dict in Object.Val) when it
// gets more than hash-max-listpack-entries fields or a field or value
// longer than hash-max-listpack-value bytes, and never goes back.

func init() {
	register(map[string]handler{
		"hset":         hsetCommand,
		"hmset":        hsetCommand,
		"hsetnx":       hsetnxCommand,
		"hget":         hgetCommand,
		"hmget":        hmgetCommand,
		"hdel":         hdelCommand,
		"hlen":         hlenCommand,
		"hstrlen":      hstrlenCommand,
		"hexists":      hexistsCommand,
		"hkeys":        hkeysCommand,
		"hvals":        hvalsCommand,
		"hgetall":      hgetallCommand,
		"hincrby":      hincrbyCommand,
		"hincrbyfloat": hincrbyfloatCommand,
		"hrandfield":   hrandfieldCommand,
		"hscan":        hscanCommand,
	})
	registerTypeOps(keyspace.TypeHash, typeOps{
		dup:        dupHash,
		freeEffort: func(o *keyspace.Object) int { return hashFreeEffort(o) },
	})
	registerDebugType(keyspace.TypeHash, &debugTypeHooks{
		digest: hashDigest,
		htStats: func(o *keyspace.Object) (string, bool) {
			if o.Enc != keyspace.EncHashtable {
				return "", false
			}
			return hashDict(o).Stats(), true
		},
	})
	registerMemoryUsage(keyspace.TypeHash, hashMemory)
}

var argHSET = []byte("HSET")

const (
	errHashNotInt   = "ERR hash value is not an integer"
	errHashNotFloat = "ERR hash value is not a float"
)

// hashLP returns the listpack of a listpack-encoded hash, in place.
func hashLP(o *keyspace.Object) *listpack.Listpack { return (*listpack.Listpack)(&o.Str) }

// hashDict returns the table of a hashtable-encoded hash.
func hashDict(o *keyspace.Object) *dict.Dict[string] { return o.Val.(*dict.Dict[string]) }

// HashListpack returns the listpack of a listpack-encoded hash (nil for
// another encoding), for persistence; it aliases the value.
func HashListpack(o *keyspace.Object) []byte {
	if o.Type == keyspace.TypeHash && o.Enc == keyspace.EncListpack {
		return o.Str
	}
	return nil
}

// newHashObject is an empty listpack-encoded hash. The listpack is
// allocated by the first insert, sized for it.
func newHashObject() keyspace.Object {
	return keyspace.Object{Type: keyspace.TypeHash, Enc: keyspace.EncListpack, Str: listpack.NewCap(0)}
}

// bytesOf views a string's bytes without copying; the bytes must not be
// changed (dict keys and values are immutable strings).
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// hashElem is a field or value read from either encoding, valid until
// the hash next changes.
type hashElem struct {
	e   listpack.Entry
	str string
	ht  bool
}

func (h hashElem) reply(c *Client) {
	if h.ht {
		c.BulkString(h.str)
		return
	}
	replyEntry(c, h.e)
}

// appendTo appends the element's string form.
func (h hashElem) appendTo(b []byte) []byte {
	if h.ht {
		return append(b, h.str...)
	}
	return h.e.Append(b)
}

func (h hashElem) String() string {
	if h.ht {
		return h.str
	}
	return h.e.String()
}

// bytes returns the element's bytes, a view (not a copy) where possible.
func (h hashElem) bytes() []byte {
	if h.ht {
		return bytesOf(h.str)
	}
	if h.e.IsInt {
		return strconv.AppendInt(nil, h.e.Int, 10)
	}
	return h.e.Str
}

func (h hashElem) len() int {
	if h.ht {
		return len(h.str)
	}
	if h.e.IsInt {
		var buf [20]byte
		return len(strconv.AppendInt(buf[:0], h.e.Int, 10))
	}
	return len(h.e.Str)
}

func hashLen(o *keyspace.Object) int {
	if o.Enc == keyspace.EncListpack {
		return hashLP(o).Len() / 2
	}
	return hashDict(o).Len()
}

// hashGet returns the value of field.
func hashGet(o *keyspace.Object, field []byte) (hashElem, bool) {
	if o.Enc == keyspace.EncListpack {
		lp := *hashLP(o)
		first := lp.First()
		if first < 0 {
			return hashElem{}, false
		}
		p := lp.Find(first, field, 1)
		if p < 0 {
			return hashElem{}, false
		}
		return hashElem{e: lp.Get(lp.Next(p))}, true
	}
	v, ok := hashDict(o).GetBytes(field)
	return hashElem{str: v, ht: true}, ok
}

func hashExists(o *keyspace.Object, field []byte) bool {
	_, ok := hashGet(o, field)
	return ok
}

// hashEach calls fn for every field and value until it returns false.
func hashEach(o *keyspace.Object, fn func(f, v hashElem) bool) {
	if o.Enc == keyspace.EncListpack {
		lp := *hashLP(o)
		for p := lp.First(); p >= 0; {
			vp := lp.Next(p)
			if !fn(hashElem{e: lp.Get(p)}, hashElem{e: lp.Get(vp)}) {
				return
			}
			p = lp.Next(vp)
		}
		return
	}
	hashDict(o).Each(func(k, v string) bool {
		return fn(hashElem{str: k, ht: true}, hashElem{str: v, ht: true})
	})
}

// hashConvert turns a listpack-encoded hash into a hash table.
func hashConvert(o *keyspace.Object) {
	if o.Enc != keyspace.EncListpack {
		return
	}
	d := dict.New[string](hashLen(o))
	hashEach(o, func(f, v hashElem) bool {
		d.Set(f.String(), v.String())
		return true
	})
	o.Enc, o.Str, o.Val = keyspace.EncHashtable, nil, d
}

// hashTryConversion converts o before args (fields and values) are added
// if one of them is too long for a listpack, or the listpack would grow
// past its safety limit (hashTypeTryConversion).
func (s *Server) hashTryConversion(o *keyspace.Object, args [][]byte) {
	if o.Enc != keyspace.EncListpack {
		return
	}
	sum := 0
	for _, a := range args {
		if int64(len(a)) > s.cfg.HashMaxListpackValue {
			hashConvert(o)
			return
		}
		sum += len(a)
	}
	if !listpack.SafeToAdd(*hashLP(o), sum) {
		hashConvert(o)
	}
}

// hashSet sets field to value and reports whether the field existed
// (hashTypeSet), converting the hash as the thresholds demand.
func (s *Server) hashSet(o *keyspace.Object, field, value []byte) (update bool) {
	if o.Enc == keyspace.EncListpack &&
		(int64(len(field)) > s.cfg.HashMaxListpackValue || int64(len(value)) > s.cfg.HashMaxListpackValue) {
		hashConvert(o)
	}
	if o.Enc == keyspace.EncListpack {
		lp := hashLP(o)
		if first := lp.First(); first >= 0 {
			if p := lp.Find(first, field, 1); p >= 0 {
				lp.Replace(lp.Next(p), value)
				update = true
			}
		}
		if !update {
			lp.Append(field)
			lp.Append(value)
		}
		if int64(lp.Len()/2) > s.cfg.HashMaxListpackEntries {
			hashConvert(o)
		}
		return update
	}
	d := hashDict(o)
	if p := d.Ptr(string(field)); p != nil {
		*p = string(value)
		return true
	}
	d.AddNew(string(field), string(value))
	return false
}

// hashDelete removes field and reports whether it was there.
func hashDelete(o *keyspace.Object, field []byte) bool {
	if o.Enc == keyspace.EncListpack {
		lp := hashLP(o)
		first := lp.First()
		if first < 0 {
			return false
		}
		p := lp.Find(first, field, 1)
		if p < 0 {
			return false
		}
		lp.DeleteAt(p, 2)
		return true
	}
	return hashDict(o).DeleteBytes(field)
}

func dupHash(o *keyspace.Object) keyspace.Object {
	if o.Enc == keyspace.EncListpack {
		return keyspace.Object{Type: keyspace.TypeHash, Enc: keyspace.EncListpack, Str: listpack.Listpack(o.Str).Clone()}
	}
	src := hashDict(o)
	d := dict.New[string](src.Len())
	src.Each(func(k, v string) bool {
		d.AddNew(k, v)
		return true
	})
	return keyspace.Object{Type: keyspace.TypeHash, Enc: keyspace.EncHashtable, Val: d}
}

func hashFreeEffort(o *keyspace.Object) int {
	if o.Enc == keyspace.EncHashtable {
		return hashDict(o).Len()
	}
	return 1
}

// lookupHashWrite finds key for a write, replying WRONGTYPE for another
// type; o is nil when the key does not exist.
func (s *Server) lookupHashWrite(c *Client, key []byte) (o *keyspace.Object, ok bool) {
	o = s.lookupWrite(c.db, key)
	if o != nil && o.Type != keyspace.TypeHash {
		c.Error(errWrongType)
		return nil, false
	}
	return o, true
}

func (s *Server) lookupHashRead(c *Client, key []byte) (o *keyspace.Object, ok bool) {
	o = s.lookupRead(c.db, key)
	if o != nil && o.Type != keyspace.TypeHash {
		c.Error(errWrongType)
		return nil, false
	}
	return o, true
}

// hashLookupWriteOrCreate is hashTypeLookupWriteOrCreate.
func (s *Server) hashLookupWriteOrCreate(c *Client, key []byte) *keyspace.Object {
	o, ok := s.lookupHashWrite(c, key)
	if !ok {
		return nil
	}
	if o == nil {
		o = s.setKey(c.db, key, newHashObject(), false)
	}
	return o
}

func hsetCommand(s *Server, c *Client, args [][]byte) {
	if len(args)%2 == 1 {
		c.Error(fmt.Sprintf("ERR wrong number of arguments for '%s' command", lowerName(args[0])))
		return
	}
	db, key := c.db, args[1]
	o := s.hashLookupWriteOrCreate(c, key)
	if o == nil {
		return
	}
	s.hashTryConversion(o, args[2:])
	if o.Enc == keyspace.EncListpack && len(args) > 4 {
		// One allocation for the whole batch: pairs appended one by one
		// would reallocate the listpack at each size class.
		add := 0
		for _, a := range args[2:] {
			add += listpack.EntrySize(a)
		}
		hashLP(o).Grow(add)
	}
	created := 0
	for i := 2; i < len(args); i += 2 {
		if !s.hashSet(o, args[i], args[i+1]) {
			created++
		}
	}
	if len(args[0]) > 1 && (args[0][1] == 's' || args[0][1] == 'S') {
		c.Int(int64(created))
	} else {
		c.OK()
	}
	s.keyModified(db, key)
	s.notify(notifyHash, "hset", key, db.id)
	s.dirty += int64(len(args)-2) / 2
	s.propagate(db.id, args)
}

func hsetnxCommand(s *Server, c *Client, args [][]byte) {
	db, key := c.db, args[1]
	o := s.hashLookupWriteOrCreate(c, key)
	if o == nil {
		return
	}
	if hashExists(o, args[2]) {
		c.Int(0)
		return
	}
	s.hashTryConversion(o, args[2:4])
	s.hashSet(o, args[2], args[3])
	c.Int(1)
	s.keyModified(db, key)
	s.notify(notifyHash, "hset", key, db.id)
	s.dirty++
	s.propagate(db.id, args)
}

func hgetCommand(s *Server, c *Client, args [][]byte) {
	o, ok := s.lookupHashRead(c, args[1])
	if !ok {
		return
	}
	if o == nil {
		c.Null()
		return
	}
	if v, found := hashGet(o, args[2]); found {
		v.reply(c)
	} else {
		c.Null()
	}
}

func hmgetCommand(s *Server, c *Client, args [][]byte) {
	o, ok := s.lookupHashRead(c, args[1])
	if !ok {
		return
	}
	c.ArrayLen(len(args) - 2)
	for _, f := range args[2:] {
		if o == nil {
			c.Null()
			continue
		}
		if v, found := hashGet(o, f); found {
			v.reply(c)
		} else {
			c.Null()
		}
	}
}

func hdelCommand(s *Server, c *Client, args [][]byte) {
	db, key := c.db, args[1]
	o, ok := s.lookupHashWrite(c, key)
	if !ok {
		return
	}
	if o == nil {
		c.Int(0)
		return
	}
	deleted, removed := 0, false
	for _, f := range args[2:] {
		if hashDelete(o, f) {
			deleted++
			if hashLen(o) == 0 {
				s.deleteKey(db, key)
				removed = true
				break
			}
		}
	}
	if deleted > 0 {
		s.keyModified(db, key)
		s.notify(notifyHash, "hdel", key, db.id)
		if removed {
			s.notify(notifyGeneric, "del", key, db.id)
		}
		s.dirty += int64(deleted)
		s.propagate(db.id, args)
	}
	c.Int(int64(deleted))
}

func hlenCommand(s *Server, c *Client, args [][]byte) {
	o, ok := s.lookupHashRead(c, args[1])
	if !ok {
		return
	}
	if o == nil {
		c.Int(0)
		return
	}
	c.Int(int64(hashLen(o)))
}

func hstrlenCommand(s *Server, c *Client, args [][]byte) {
	o, ok := s.lookupHashRead(c, args[1])
	if !ok {
		return
	}
	if o == nil {
		c.Int(0)
		return
	}
	if v, found := hashGet(o, args[2]); found {
		c.Int(int64(v.len()))
	} else {
		c.Int(0)
	}
}

func hexistsCommand(s *Server, c *Client, args [][]byte) {
	o, ok := s.lookupHashRead(c, args[1])
	if !ok {
		return
	}
	if o != nil && hashExists(o, args[2]) {
		c.Int(1)
	} else {
		c.Int(0)
	}
}

const (
	hashKeys = 1 << iota
	hashVals
)

func hgetallGeneric(s *Server, c *Client, args [][]byte, what int) {
	o, ok := s.lookupHashRead(c, args[1])
	if !ok {
		return
	}
	both := what == hashKeys|hashVals
	if o == nil {
		if both {
			c.MapLen(0)
		} else {
			c.ArrayLen(0)
		}
		return
	}
	n := hashLen(o)
	if both {
		c.MapLen(n)
	} else {
		c.ArrayLen(n)
	}
	hashEach(o, func(f, v hashElem) bool {
		if what&hashKeys != 0 {
			f.reply(c)
		}
		if what&hashVals != 0 {
			v.reply(c)
		}
		return true
	})
}

func hkeysCommand(s *Server, c *Client, args [][]byte) { hgetallGeneric(s, c, args, hashKeys) }
func hvalsCommand(s *Server, c *Client, args [][]byte) { hgetallGeneric(s, c, args, hashVals) }
func hgetallCommand(s *Server, c *Client, args [][]byte) {
	hgetallGeneric(s, c, args, hashKeys|hashVals)
}

func hincrbyCommand(s *Server, c *Client, args [][]byte) {
	incr, ok := int64Arg(c, args[3])
	if !ok {
		return
	}
	db, key := c.db, args[1]
	o := s.hashLookupWriteOrCreate(c, key)
	if o == nil {
		return
	}
	var value int64
	if v, found := hashGet(o, args[2]); found {
		if !v.ht && v.e.IsInt {
			value = v.e.Int
		} else if value, ok = parseInt64Strict(v.bytes()); !ok {
			c.Error(errHashNotInt)
			return
		}
	}
	if (incr < 0 && value < 0 && incr < math.MinInt64-value) ||
		(incr > 0 && value > 0 && incr > math.MaxInt64-value) {
		c.Error(errOverflow)
		return
	}
	value += incr
	var buf [20]byte
	s.hashSet(o, args[2], strconv.AppendInt(buf[:0], value, 10))
	c.Int(value)
	s.keyModified(db, key)
	s.notify(notifyHash, "hincrby", key, db.id)
	s.dirty++
	s.propagate(db.id, args)
}

func hincrbyfloatCommand(s *Server, c *Client, args [][]byte) {
	incr, ok := parseLongDouble(args[3])
	if !ok {
		c.Error(errNotFloat)
		return
	}
	if incr.inf != 0 {
		c.Error("ERR value is NaN or Infinity")
		return
	}
	db, key := c.db, args[1]
	o := s.hashLookupWriteOrCreate(c, key)
	if o == nil {
		return
	}
	value := longDouble{f: new(big.Float).SetPrec(longDoublePrec)}
	if v, found := hashGet(o, args[2]); found {
		if !v.ht && v.e.IsInt {
			value.f.SetInt64(v.e.Int)
		} else if value, ok = parseLongDouble(v.bytes()); !ok {
			c.Error(errHashNotFloat)
			return
		}
	}
	sum, ok := addLongDouble(value, incr)
	if !ok {
		c.Error("ERR increment would produce NaN or Infinity")
		return
	}
	str := formatLongDoubleHuman(sum)
	s.hashSet(o, args[2], str)
	c.Bulk(str)
	s.keyModified(db, key)
	s.notify(notifyHash, "hincrbyfloat", key, db.id)
	s.dirty++
	// Replicated as HSET of the result, so that float formatting cannot
	// make replicas or an AOF reload diverge.
	s.propagate(db.id, [][]byte{argHSET, key, args[2], str})
}

// hrandfieldSubStrategyMul is HRANDFIELD_SUB_STRATEGY_MUL: up to this
// many times the count, the whole hash is copied and trimmed.
const hrandfieldSubStrategyMul = 3

func hrandfieldCommand(s *Server, c *Client, args [][]byte) {
	if len(args) >= 3 {
		l, ok := rangeLongArg(c, args[2], -math.MaxInt64, math.MaxInt64, "")
		if !ok {
			return
		}
		withValues := false
		if len(args) > 4 || (len(args) == 4 && !equalFoldASCII(args[3], "withvalues")) {
			c.Error(errSyntax)
			return
		} else if len(args) == 4 {
			withValues = true
			if l < -math.MaxInt64/2 || l > math.MaxInt64/2 {
				c.Error("ERR value is out of range")
				return
			}
		}
		s.hrandfieldWithCount(c, args[1], l, withValues)
		return
	}
	o, ok := s.lookupHashRead(c, args[1])
	if !ok {
		return
	}
	if o == nil {
		c.Null()
		return
	}
	f, _ := s.hashRandom(o)
	f.reply(c)
}

// hashRandom returns a random field and its value.
func (s *Server) hashRandom(o *keyspace.Object) (f, v hashElem) {
	if o.Enc == keyspace.EncListpack {
		lp := *hashLP(o)
		p := lp.Seek(2 * s.rng.IntN(lp.Len()/2))
		return hashElem{e: lp.Get(p)}, hashElem{e: lp.Get(lp.Next(p))}
	}
	k, val := hashDict(o).Random(s.rng)
	return hashElem{str: k, ht: true}, hashElem{str: val, ht: true}
}

// hashPairs returns every field and value of a listpack-encoded hash,
// for the random picks that index them.
func hashPairs(o *keyspace.Object) (fields, vals []hashElem) {
	hashEach(o, func(f, v hashElem) bool {
		fields = append(fields, f)
		vals = append(vals, v)
		return true
	})
	return fields, vals
}

func (s *Server) hrandfieldWithCount(c *Client, key []byte, l int64, withValues bool) {
	o, ok := s.lookupHashRead(c, key)
	if !ok {
		return
	}
	if o == nil {
		c.ArrayLen(0)
		return
	}
	size := int64(hashLen(o))
	count, uniq := l, true
	if l < 0 {
		count, uniq = -l, false
	}
	if count == 0 {
		c.ArrayLen(0)
		return
	}
	emit := func(f, v hashElem) {
		if withValues && c.resp > 2 {
			c.ArrayLen(2)
		}
		f.reply(c)
		if withValues {
			v.reply(c)
		}
	}
	header := func(n int64) {
		if withValues && c.resp == 2 {
			c.ArrayLen(int(n * 2))
		} else {
			c.ArrayLen(int(n))
		}
	}
	// CASE 1: a negative count (or 1): picks with repetition.
	if !uniq || count == 1 {
		header(count)
		if o.Enc == keyspace.EncHashtable {
			d := hashDict(o)
			for ; count > 0; count-- {
				k, v := d.Random(s.rng)
				emit(hashElem{str: k, ht: true}, hashElem{str: v, ht: true})
			}
			return
		}
		fields, vals := hashPairs(o)
		for ; count > 0; count-- {
			i := s.rng.IntN(len(fields))
			emit(fields[i], vals[i])
		}
		return
	}
	// CASE 2: the whole hash.
	if count >= size {
		header(size)
		hashEach(o, func(f, v hashElem) bool {
			emit(f, v)
			return true
		})
		return
	}
	header(count)
	// CASE 3: close to the size: copy everything, drop random ones.
	if count*hrandfieldSubStrategyMul > size {
		fields, vals := hashPairs(o)
		for int64(len(fields)) > count {
			i := s.rng.IntN(len(fields))
			last := len(fields) - 1
			fields[i], vals[i] = fields[last], vals[last]
			fields, vals = fields[:last], vals[:last]
		}
		for i := range fields {
			emit(fields[i], vals[i])
		}
		return
	}
	// CASE 4: far smaller than the hash.
	if o.Enc == keyspace.EncListpack {
		// One pass, picking each pair with probability
		// remaining/unvisited (lpRandomPairsUnique).
		picked, remaining, index := int64(0), count, int64(0)
		hashEach(o, func(f, v hashElem) bool {
			if picked >= count {
				return false
			}
			if s.rng.Float64() <= float64(remaining)/float64(size-index) {
				emit(f, v)
				picked++
				remaining--
			}
			index++
			return true
		})
		return
	}
	d := hashDict(o)
	seen := make(map[string]struct{}, count)
	for int64(len(seen)) < count {
		k, v := d.Random(s.rng)
		if _, dup := seen[k]; dup {
			continue
		}
		seen[k] = struct{}{}
		emit(hashElem{str: k, ht: true}, hashElem{str: v, ht: true})
	}
}

func hscanCommand(s *Server, c *Client, args [][]byte) {
	cursor, ok := parseScanCursor(c, args[2])
	if !ok {
		return
	}
	o, ok := s.lookupHashRead(c, args[1])
	if !ok {
		return
	}
	if o == nil {
		c.ArrayLen(2)
		c.BulkString("0")
		c.ArrayLen(0)
		return
	}
	opts, ok := parseScanOptions(c, args[3:], false)
	if !ok {
		return
	}
	var fields, vals []hashElem
	if o.Enc == keyspace.EncListpack {
		// A listpack is small: everything in one call, cursor 0.
		fields, vals = hashPairs(o)
		cursor = 0
	} else {
		d := hashDict(o)
		maxIter := opts.count * 10
		for {
			cursor = d.Scan(cursor, func(k, v string) {
				fields = append(fields, hashElem{str: k, ht: true})
				vals = append(vals, hashElem{str: v, ht: true})
			})
			maxIter--
			if cursor == 0 || maxIter == 0 || int64(len(fields))*2 >= opts.count*2 {
				break
			}
		}
	}
	// MATCH filters on the field and drops its value with it.
	keep := fields[:0]
	kvals := vals[:0]
	for i := range fields {
		if opts.pattern != nil && !globMatch(opts.pattern, fields[i].bytes(), false) {
			continue
		}
		keep = append(keep, fields[i])
		kvals = append(kvals, vals[i])
	}
	c.ArrayLen(2)
	var buf [20]byte
	c.Bulk(strconv.AppendUint(buf[:0], cursor, 10))
	c.ArrayLen(2 * len(keep))
	for i := range keep {
		keep[i].reply(c)
		kvals[i].reply(c)
	}
}

// hashDigest folds a hash into DEBUG DIGEST: per field, the digest of the
// field then the value, xored in (order-independent).
func hashDigest(d *digestState, o *keyspace.Object) {
	var buf []byte
	hashEach(o, func(f, v hashElem) bool {
		var e digestState
		buf = f.appendTo(buf[:0])
		e.mix(buf)
		buf = v.appendTo(buf[:0])
		e.mix(buf)
		d.xor(e[:])
		return true
	})
}

// dictStructSize is Redis's sizeof(dict), for MEMORY USAGE.
const dictStructSize = 56

// hashMemory is objectComputeSize for a hash.
func hashMemory(o *keyspace.Object, samples int64) int64 {
	if o.Enc == keyspace.EncListpack {
		return robjSize + int64(jemallocSize(len(o.Str)))
	}
	d := hashDict(o)
	size := int64(robjSize + dictStructSize + 8*d.Buckets())
	var sampled, ele int64
	d.Each(func(k, v string) bool {
		ele += sdsAllocSize(len(k)) + sdsAllocSize(len(v)) + dictEntrySize
		sampled++
		return sampled < samples
	})
	if sampled > 0 {
		size += int64(float64(ele) / float64(sampled) * float64(d.Len()))
	}
	return size
}
