package node

import (
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/keyfleet/keyfleet/node/keyspace"
)

// Type-agnostic keyspace commands, as Redis 7.0's db.c.

func init() {
	register(map[string]handler{
		"select":    selectCommand,
		"swapdb":    swapdbCommand,
		"move":      moveCommand,
		"copy":      copyCommand,
		"dbsize":    dbsizeCommand,
		"flushdb":   flushdbCommand,
		"flushall":  flushallCommand,
		"randomkey": randomkeyCommand,
		"keys":      keysCommand,
		"scan":      scanCommand,
		"type":      typeCommand,
		"exists":    existsCommand,
		"del":       delCommand,
		"unlink":    unlinkCommand,
		"rename":    renameCommand,
		"renamenx":  renamenxCommand,
		"touch":     touchCommand,
	})
	registerTypeOps(keyspace.TypeString, typeOps{dup: dupString})
	serverInits = append(serverInits, func(s *Server) { s.ext[lazyfreeExt] = &lazyfreeState{} })
}

const (
	errInvalidCursor = "ERR invalid cursor"
	errUnknownType   = "ERR unknown type object"
)

// typeOps are the per-type operations the type-agnostic commands need.
// Each family registers its own from an init function; the table is
// read-only once the program runs.
type typeOps struct {
	// dup returns an independent deep copy of o (COPY). A type without
	// dup cannot be copied.
	dup func(o *keyspace.Object) keyspace.Object
	// freeEffort estimates how many allocations freeing o releases
	// (Redis's lazyfreeGetFreeEffort); above lazyfreeThreshold UNLINK and
	// lazy deletions free it in the background. nil means 1.
	freeEffort func(o *keyspace.Object) int
}

var typeTable [16]typeOps

func registerTypeOps(t keyspace.Type, ops typeOps) {
	if typeTable[t].dup != nil || typeTable[t].freeEffort != nil {
		panic("node: type operations registered twice for " + t.String())
	}
	typeTable[t] = ops
}

// dupString copies a string value, keeping its encoding (dupStringObject).
func dupString(o *keyspace.Object) keyspace.Object {
	return keyspace.Object{Type: keyspace.TypeString, Enc: o.Enc, Str: append([]byte(nil), o.Str...)}
}

// dupObject deep-copies o through its type's dup, or reports false.
func dupObject(o *keyspace.Object) (keyspace.Object, bool) {
	if f := typeTable[o.Type].dup; f != nil {
		return f(o), true
	}
	return keyspace.Object{}, false
}

// dbByIndex returns database id, or nil when it is out of range.
func (s *Server) dbByIndex(id int) *DB {
	if id < 0 || id >= len(s.dbs) {
		return nil
	}
	return s.dbs[id]
}

func selectCommand(s *Server, c *Client, args [][]byte) {
	id, ok := intArg(c, args[1], "")
	if !ok {
		return
	}
	db := s.dbByIndex(id)
	if db == nil {
		c.Error(errDBIndex)
		return
	}
	c.db = db
	c.OK()
}

func swapdbCommand(s *Server, c *Client, args [][]byte) {
	id1, ok := intArg(c, args[1], "ERR invalid first DB index")
	if !ok {
		return
	}
	id2, ok := intArg(c, args[2], "ERR invalid second DB index")
	if !ok {
		return
	}
	a, b := s.dbByIndex(id1), s.dbByIndex(id2)
	if a == nil || b == nil {
		c.Error(errDBIndex)
		return
	}
	if a != b {
		// Clients stay in their DB by number: only the contents move.
		a.ks, b.ks = b.ks, a.ks
		s.dbSwapped(a, b)
	}
	s.dirty++
	s.propagate(c.db.id, args)
	c.OK()
}

// addKey stores a live object taken from another place at key in db,
// with its expiry, as Redis's dbAdd + setExpire.
func (s *Server) addKey(db *DB, key []byte, obj keyspace.Object, expire int64) {
	obj.LRU = s.newLRU()
	db.ks.Set(key, obj, false)
	if expire != 0 {
		db.ks.SetExpire(key, expire)
	}
	s.notify(notifyNew, "new", key, db.id)
	s.signalReady(db, key)
}

func moveCommand(s *Server, c *Client, args [][]byte) {
	src, key := c.db, args[1]
	id, ok := intArg(c, args[2], "")
	if !ok {
		return
	}
	dst := s.dbByIndex(id)
	if dst == nil {
		c.Error(errDBIndex)
		return
	}
	if src == dst {
		c.Error(errSameObject)
		return
	}
	o := s.lookupWrite(src, key)
	if o == nil {
		c.Int(0)
		return
	}
	expire := s.expireOf(src, key)
	if s.lookupWrite(dst, key) != nil {
		c.Int(0)
		return
	}
	obj := *o
	src.ks.Delete(key)
	s.addKey(dst, key, obj, expire)
	s.keyModified(src, key)
	s.keyModified(dst, key)
	s.notify(notifyGeneric, "move_from", key, src.id)
	s.notify(notifyGeneric, "move_to", key, dst.id)
	s.dirty++
	s.propagate(src.id, args)
	c.Int(1)
}

func copyCommand(s *Server, c *Client, args [][]byte) {
	src, dst := c.db, c.db
	replace := false
	for j := 3; j < len(args); j++ {
		switch {
		case isWord(args[j], "replace"):
			replace = true
		case isWord(args[j], "db") && j+1 < len(args):
			id, ok := intArg(c, args[j+1], "")
			if !ok {
				return
			}
			if dst = s.dbByIndex(id); dst == nil {
				c.Error(errDBIndex)
				return
			}
			j++
		default:
			c.Error(errSyntax)
			return
		}
	}
	key, newkey := args[1], args[2]
	if src == dst && string(key) == string(newkey) {
		c.Error(errSameObject)
		return
	}
	o := s.lookupRead(src, key)
	if o == nil {
		c.Int(0)
		return
	}
	expire := s.expireOf(src, key)
	exists := s.lookupWrite(dst, newkey) != nil
	if exists && !replace {
		c.Int(0)
		return
	}
	obj, ok := dupObject(o)
	if !ok {
		c.Error(errUnknownType)
		return
	}
	if exists {
		old, _ := dst.ks.Delete(newkey)
		s.freeObject(old, s.cfg.LazyfreeLazyServerDel)
	}
	s.addKey(dst, newkey, obj, expire)
	s.keyModified(dst, newkey)
	s.notify(notifyGeneric, "copy_to", newkey, dst.id)
	s.dirty++
	s.propagate(src.id, args)
	c.Int(1)
}

func dbsizeCommand(s *Server, c *Client, args [][]byte) { c.Int(int64(c.db.ks.Len())) }

// flushAsync parses FLUSHDB/FLUSHALL's optional SYNC|ASYNC.
func flushAsync(s *Server, c *Client, args [][]byte) (async, ok bool) {
	switch {
	case len(args) == 2 && isWord(args[1], "sync"):
		return false, true
	case len(args) == 2 && isWord(args[1], "async"):
		return true, true
	case len(args) == 1:
		return s.lazyfreeLazyUserFlush(), true
	}
	c.Error(errSyntax)
	return false, false
}

// emptyDB drops every key of db and returns how many there were.
// Watchers and trackers hear of it first, while the keys still exist.
// The old table is released whole: the GC reclaims it concurrently, so
// neither mode blocks the shard for long; ASYNC also counts it in the
// lazyfree statistics and has a background collection return the memory
// promptly, as Redis's background free does.
func (s *Server) emptyDB(db *DB, async bool) int64 {
	n := int64(db.ks.Len())
	s.dbFlushed(db)
	db.ks = keyspace.New()
	if async && n > 0 {
		s.lazyfree().schedule(n)
	}
	return n
}

func flushdbCommand(s *Server, c *Client, args [][]byte) {
	async, ok := flushAsync(s, c, args)
	if !ok {
		return
	}
	s.dirty += s.emptyDB(c.db, async)
	// Propagated even when the DB was already empty.
	s.propagate(c.db.id, args)
	c.OK()
}

func flushallCommand(s *Server, c *Client, args [][]byte) {
	async, ok := flushAsync(s, c, args)
	if !ok {
		return
	}
	for _, db := range s.dbs {
		s.dirty += s.emptyDB(db, async)
	}
	for _, f := range flushAllHooks {
		f(s)
	}
	s.propagate(c.db.id, args)
	c.OK()
}

func randomkeyCommand(s *Server, c *Client, args [][]byte) {
	db := c.db
	allVolatile := db.ks.Len() == db.ks.VolatileLen()
	tries := 100
	for {
		ref, ok := db.ks.RandomKey(s.rng)
		if !ok {
			c.Null()
			return
		}
		if ref.Expire != 0 {
			tries--
			// A replica does not delete expired keys: when all of them
			// may be expired, give up after a while rather than loop.
			if allVolatile && s.isReplica() && tries == 0 {
				c.BulkString(ref.Key)
				return
			}
			if s.expireIfNeeded(db, []byte(ref.Key), ref.Expire) {
				continue
			}
		}
		c.BulkString(ref.Key)
		return
	}
}

func keysCommand(s *Server, c *Client, args [][]byte) {
	pattern := args[1]
	all := len(pattern) == 1 && pattern[0] == '*'
	now := s.now()
	d := c.DeferLen()
	n := 0
	c.db.ks.Each(func(ref keyspace.KeyRef) bool {
		if (all || globMatch(pattern, ref.Key, false)) && !keyspace.Expired(ref.Expire, now) {
			c.BulkString(ref.Key)
			n++
		}
		return true
	})
	c.SetArrayLen(d, n)
}

// parseScanCursor parses a SCAN cursor as Redis's strtoul-based parser.
func parseScanCursor(c *Client, v []byte) (uint64, bool) {
	str := string(v)
	neg := false
	if len(str) > 0 && (str[0] == '+' || str[0] == '-') {
		neg = str[0] == '-'
		str = str[1:]
	}
	u, err := strconv.ParseUint(str, 10, 64)
	if err != nil || len(str) == 0 || str[0] == '+' || str[0] == '-' {
		c.Error(errInvalidCursor)
		return 0, false
	}
	if neg {
		u = -u
	}
	return u, true
}

// scanOptions are the options of SCAN and of the collection scans.
type scanOptions struct {
	count   int64
	pattern []byte // nil: no filter
	typ     []byte // nil: no filter; SCAN only
}

// parseScanOptions parses COUNT, MATCH and (withType) TYPE from args.
func parseScanOptions(c *Client, args [][]byte, withType bool) (scanOptions, bool) {
	opts := scanOptions{count: 10}
	for i := 0; i < len(args); i += 2 {
		more := len(args) - i
		switch {
		case isWord(args[i], "count") && more >= 2:
			n, ok := int64Arg(c, args[i+1])
			if !ok {
				return opts, false
			}
			if n < 1 {
				c.Error(errSyntax)
				return opts, false
			}
			opts.count = n
		case isWord(args[i], "match") && more >= 2:
			p := args[i+1]
			if len(p) == 1 && p[0] == '*' {
				opts.pattern = nil
			} else {
				opts.pattern = p
			}
		case withType && isWord(args[i], "type") && more >= 2:
			opts.typ = args[i+1]
		default:
			c.Error(errSyntax)
			return opts, false
		}
	}
	return opts, true
}

func scanCommand(s *Server, c *Client, args [][]byte) {
	cursor, ok := parseScanCursor(c, args[1])
	if !ok {
		return
	}
	opts, ok := parseScanOptions(c, args[2:], true)
	if !ok {
		return
	}
	db := c.db
	var keys []string
	maxIter := opts.count * 10
	for {
		cursor = db.ks.Scan(cursor, func(ref keyspace.KeyRef) { keys = append(keys, ref.Key) })
		maxIter--
		if cursor == 0 || maxIter == 0 || int64(len(keys)) >= opts.count {
			break
		}
	}
	out := keys[:0]
	for _, k := range keys {
		if opts.pattern != nil && !globMatch(opts.pattern, k, false) {
			continue
		}
		kb := []byte(k)
		if opts.typ != nil {
			name := "none"
			if o := s.lookupReadNoTouch(db, kb); o != nil {
				name = o.Type.String()
			}
			if !strings.EqualFold(name, string(opts.typ)) {
				continue
			}
		}
		if _, at := db.ks.Lookup(kb); at != 0 && s.expireIfNeeded(db, kb, at) {
			continue
		}
		out = append(out, k)
	}
	c.ArrayLen(2)
	var buf [20]byte
	c.Bulk(strconv.AppendUint(buf[:0], cursor, 10))
	c.ArrayLen(len(out))
	for _, k := range out {
		c.BulkString(k)
	}
}

func typeCommand(s *Server, c *Client, args [][]byte) {
	o := s.lookupReadNoTouch(c.db, args[1])
	if o == nil {
		c.Status("none")
		return
	}
	c.Status(o.Type.String())
}

func existsCommand(s *Server, c *Client, args [][]byte) {
	n := int64(0)
	for _, key := range args[1:] {
		if s.lookupReadNoTouch(c.db, key) != nil {
			n++
		}
	}
	c.Int(n)
}

func touchCommand(s *Server, c *Client, args [][]byte) {
	n := int64(0)
	for _, key := range args[1:] {
		if s.lookupRead(c.db, key) != nil {
			n++
		}
	}
	c.Int(n)
}

// delGeneric implements DEL and UNLINK; lazy frees big values in the
// background.
func delGeneric(s *Server, c *Client, args [][]byte, lazy bool) {
	db := c.db
	n := int64(0)
	for _, key := range args[1:] {
		o, at := db.ks.Lookup(key)
		if o == nil || (at != 0 && s.expireIfNeeded(db, key, at)) {
			continue
		}
		old, _ := db.ks.Delete(key)
		if lazy {
			s.freeObject(old, true)
		}
		s.keyModified(db, key)
		s.notify(notifyGeneric, "del", key, db.id)
		s.dirty++
		n++
	}
	if n > 0 {
		s.propagate(db.id, args)
	}
	c.Int(n)
}

func delCommand(s *Server, c *Client, args [][]byte) {
	delGeneric(s, c, args, s.lazyfreeLazyUserDel())
}

func unlinkCommand(s *Server, c *Client, args [][]byte) { delGeneric(s, c, args, true) }

// renameGeneric implements RENAME and RENAMENX. The value and its expiry
// move to the new name; an existing destination is overwritten (RENAME)
// or left alone (RENAMENX replies 0).
func renameGeneric(s *Server, c *Client, args [][]byte, nx bool) {
	db, src, dst := c.db, args[1], args[2]
	o := s.lookupWrite(db, src)
	if o == nil {
		c.Error(errNoKey)
		return
	}
	if string(src) == string(dst) {
		if nx {
			c.Int(0)
		} else {
			c.OK()
		}
		return
	}
	expire := s.expireOf(db, src)
	if s.lookupWrite(db, dst) != nil {
		if nx {
			c.Int(0)
			return
		}
		old, _ := db.ks.Delete(dst)
		s.freeObject(old, s.cfg.LazyfreeLazyServerDel)
	}
	obj := *o
	db.ks.Delete(src)
	s.addKey(db, dst, obj, expire)
	s.keyModified(db, src)
	s.keyModified(db, dst)
	s.notify(notifyGeneric, "rename_from", src, db.id)
	s.notify(notifyGeneric, "rename_to", dst, db.id)
	s.dirty++
	s.propagate(db.id, args)
	if nx {
		c.Int(1)
	} else {
		c.OK()
	}
}

func renameCommand(s *Server, c *Client, args [][]byte)   { renameGeneric(s, c, args, false) }
func renamenxCommand(s *Server, c *Client, args [][]byte) { renameGeneric(s, c, args, true) }

// lazyfreeThreshold is the free effort above which a value is freed in the
// background (LAZYFREE_THRESHOLD).
const lazyfreeThreshold = 64

const lazyfreeExt = "lazyfree"

// lazyfreeMinInterval spaces the background collections of lazy frees.
const lazyfreeMinInterval = 100 * time.Millisecond

// lazyfreeState accounts for values freed in the background. Go's GC
// frees them concurrently anyway; what lazy freeing adds is that a big
// release is followed by a background collection, so that the memory
// (and INFO's used_memory) goes down promptly instead of at the next
// allocation-driven cycle, and the counters INFO reports.
type lazyfreeState struct {
	pending atomic.Int64 // lazyfree_pending_objects
	freed   atomic.Int64 // lazyfreed_objects
	running atomic.Bool
}

func (s *Server) lazyfree() *lazyfreeState { return s.ext[lazyfreeExt].(*lazyfreeState) }

// lazyfreeInfo returns INFO's lazyfree_pending_objects and
// lazyfreed_objects.
func (s *Server) lazyfreeInfo() (pending, freed int64) {
	l := s.lazyfree()
	return l.pending.Load(), l.freed.Load()
}

// resetLazyfreeStats zeroes lazyfreed_objects (CONFIG RESETSTAT).
func (s *Server) resetLazyfreeStats() { s.lazyfree().freed.Store(0) }

// schedule counts n objects as released and starts a background
// collection unless one is already running; that one picks them up.
func (l *lazyfreeState) schedule(n int64) {
	l.pending.Add(n)
	if !l.running.CompareAndSwap(false, true) {
		return
	}
	go func() {
		var last time.Time
		for {
			n := l.pending.Load()
			if n == 0 {
				l.running.Store(false)
				// A schedule between the load and the store saw the flag
				// still set and left its objects to this loop.
				if l.pending.Load() == 0 || !l.running.CompareAndSwap(false, true) {
					return
				}
				continue
			}
			// Back-to-back forced collections would eat a core under a
			// stream of UNLINKs: at most ten a second, the rest batched.
			if wait := lazyfreeMinInterval - time.Since(last); wait > 0 {
				time.Sleep(wait)
				continue
			}
			last = time.Now()
			runtime.GC()
			l.pending.Add(-n)
			l.freed.Add(n)
		}
	}()
}

// freeObject releases a deleted value: in the background when lazy and
// the value is big enough to make it worth it (freeObjAsync).
func (s *Server) freeObject(obj keyspace.Object, lazy bool) {
	if !lazy || obj.Type == keyspace.TypeNone {
		return
	}
	effort := 1
	if f := typeTable[obj.Type].freeEffort; f != nil {
		effort = f(&obj)
	}
	if effort > lazyfreeThreshold {
		s.lazyfree().schedule(1)
	}
}

// lazyfreeLazyUserDel and lazyfreeLazyUserFlush are lazyfree-lazy-user-del
// and lazyfree-lazy-user-flush.
func (s *Server) lazyfreeLazyUserDel() bool   { return s.cfg.LazyfreeLazyUserDel }
func (s *Server) lazyfreeLazyUserFlush() bool { return s.cfg.LazyfreeLazyUserFlush }
