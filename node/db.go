package node

import (
	"time"

	"github.com/keyfleet/keyfleet/node/keyspace"
)

// DB is one of the shard's logical databases.
type DB struct {
	id int
	ks *keyspace.DB
	// byServer is set while the server itself, not the command being
	// run, changes a key (expiry): client-side caching's NOLOOP must not
	// take that change for the client's own (tracking.go).
	byServer bool
}

func newDB(id int) *DB { return &DB{id: id, ks: keyspace.New()} }

// now is the command's clock in unix ms, fixed for the length of a command
// (and of a script or transaction), as Redis's commandTimeSnapshot.
func (s *Server) now() int64 { return s.cmdTime }

// expireIfNeeded deletes key if its time has come and reports whether it
// was expired. Replicas never delete on their own: the primary sends DEL.
func (s *Server) expireIfNeeded(db *DB, key []byte, at int64) bool {
	if !keyspace.Expired(at, s.now()) {
		return false
	}
	// The primary's own commands see the key as it still is: the
	// primary decides when it expires (Redis 7.0's expireIfNeeded).
	if s.isReplica() && s.applyingPrimaryStream() {
		return false
	}
	// Replicas wait for the primary's DEL; while clients are paused
	// nothing may be written (client_cmd.go), so the key only looks gone.
	if s.isReplica() || s.clientsPaused() {
		return true
	}
	s.deleteExpired(db, key)
	return true
}

// deleteExpired removes an expired key and tells everyone who cares. The
// deletion propagates as DEL, or UNLINK under lazyfree-lazy-expire.
func (s *Server) deleteExpired(db *DB, key []byte) {
	start := time.Now()
	old, _ := db.ks.Delete(key)
	lazy := s.cfg.LazyfreeLazyExpire
	s.freeObject(old, lazy)
	s.latencyAddSampleIfNeeded("expire-del", time.Since(start).Milliseconds())
	s.stats.expiredKeys++
	s.notify(notifyExpired, "expired", key, db.id)
	s.keyModifiedByServer(db, key)
	s.propagateDeletion(db, key, lazy)
}

// propagateDeletion propagates the deletion of key as UNLINK when it was
// freed lazily, DEL otherwise (Redis's propagateDeletion).
func (s *Server) propagateDeletion(db *DB, key []byte, lazy bool) {
	if lazy {
		s.propagate(db.id, [][]byte{argUNLINK, key})
	} else {
		s.propagate(db.id, [][]byte{argDEL, key})
	}
}

// lookupRead returns the live object at key for a read, counting hits and
// misses and updating the access clock, or nil.
func (s *Server) lookupRead(db *DB, key []byte) *keyspace.Object {
	o, at := db.ks.Lookup(key)
	if o != nil && at != 0 && s.expireIfNeeded(db, key, at) {
		o = nil
	}
	if o == nil {
		s.stats.keyspaceMisses++
		s.notify(notifyKeyMiss, "keymiss", key, db.id)
		return nil
	}
	s.stats.keyspaceHits++
	s.touchLRU(o)
	return o
}

// lookupReadNoTouch is lookupRead without updating the access clock
// (Redis's LOOKUP_NOTOUCH: TYPE, EXISTS, TTL, SCAN's TYPE filter).
func (s *Server) lookupReadNoTouch(db *DB, key []byte) *keyspace.Object {
	o, at := db.ks.Lookup(key)
	if o != nil && at != 0 && s.expireIfNeeded(db, key, at) {
		o = nil
	}
	if o == nil {
		s.stats.keyspaceMisses++
		s.notify(notifyKeyMiss, "keymiss", key, db.id)
		return nil
	}
	s.stats.keyspaceHits++
	return o
}

// lookupWrite returns the live object at key for a write, or nil.
func (s *Server) lookupWrite(db *DB, key []byte) *keyspace.Object {
	o, at := db.ks.Lookup(key)
	if o != nil && at != 0 && s.expireIfNeeded(db, key, at) {
		// A client's write on a writable replica replaces the expired
		// key for good (Redis's EXPIRE_FORCE_DELETE_EXPIRED).
		if s.isReplica() && !s.clientsPaused() {
			s.deleteExpired(db, key)
		}
		return nil
	}
	if o != nil {
		s.touchLRU(o)
	}
	return o
}

// peek returns the live object and its expiry (0: none) without side
// effects on stats or the access clock (OBJECT, DEBUG, internal reads).
// An expired key is still deleted, as every lookup does.
func (s *Server) peek(db *DB, key []byte) (*keyspace.Object, int64) {
	o, at := db.ks.Lookup(key)
	if o != nil && at != 0 && s.expireIfNeeded(db, key, at) {
		return nil, 0
	}
	return o, at
}

// expireOf returns the expiry of a live key in unix ms, 0 when it has none.
func (s *Server) expireOf(db *DB, key []byte) int64 {
	_, at := db.ks.Lookup(key)
	return at
}

// lfuInitVal is the counter a new object starts with under an LFU policy,
// so that it is not evicted before it had a chance to be accessed.
const lfuInitVal = 5

// lfuPolicy reports whether the eviction policy tracks access frequency:
// then Object.LRU holds minutes<<8 | counter instead of an LRU clock.
func (s *Server) lfuPolicy() bool {
	p := s.cfg.MaxMemoryPolicy
	return len(p) > 3 && p[len(p)-3:] == "lfu"
}

// newLRU is the access field of a newly created object.
func (s *Server) newLRU() uint32 {
	if s.lfuPolicy() {
		return lfuMinutes(s.lruClock)<<8 | lfuInitVal
	}
	return s.lruClock
}

// lfuMinutes is Redis's LFUGetTimeInMinutes: 16 bits of unix minutes.
// The LRU clock counts seconds, so it serves as the time source.
func lfuMinutes(lruClock uint32) uint32 { return (lruClock / 60) & 0xffff }

// lfuLogFactor and lfuDecayTime are lfu-log-factor and lfu-decay-time.
func (s *Server) lfuLogFactor() int { return s.cfg.LFULogFactor }
func (s *Server) lfuDecayTime() int { return s.cfg.LFUDecayTime }

// lfuDecr returns the object's frequency counter decayed by the minutes
// since its last access (Redis's LFUDecrAndReturn), without storing it.
func (s *Server) lfuDecr(o *keyspace.Object) uint32 {
	ldt := o.LRU >> 8
	counter := o.LRU & 255
	decay := uint32(max(s.lfuDecayTime(), 0))
	if decay == 0 {
		return counter
	}
	now := lfuMinutes(s.lruClock)
	var elapsed uint32
	if now >= ldt {
		elapsed = now - ldt
	} else {
		elapsed = 65535 - ldt + now
	}
	periods := elapsed / decay
	if periods > counter {
		return 0
	}
	return counter - periods
}

// lfuIncr increments a frequency counter logarithmically, as Redis's
// LFULogIncr: the higher the counter, the less likely an increment.
func (s *Server) lfuIncr(counter uint32) uint32 {
	if counter == 255 {
		return 255
	}
	base := float64(counter) - lfuInitVal
	if base < 0 {
		base = 0
	}
	if s.rng.Float64() < 1.0/(base*float64(s.lfuLogFactor())+1) {
		counter++
	}
	return counter
}

// touchLRU records an access for the eviction clocks (LRU or LFU).
func (s *Server) touchLRU(o *keyspace.Object) {
	if s.noTouch {
		return
	}
	if s.lfuPolicy() {
		o.LRU = lfuMinutes(s.lruClock)<<8 | s.lfuIncr(s.lfuDecr(o))
		return
	}
	o.LRU = s.lruClock
}

// setKey stores obj at key (overwriting any value and, unless keepTTL,
// its TTL) and signals the modification. A new key raises the "new"
// keyspace event. Under an LFU policy an overwritten key keeps its
// frequency, as Redis's dbOverwrite does.
func (s *Server) setKey(db *DB, key []byte, obj keyspace.Object, keepTTL bool) *keyspace.Object {
	obj.LRU = s.newLRU()
	if s.lfuPolicy() {
		if old, _ := db.ks.Lookup(key); old != nil {
			obj.LRU = old.LRU
		}
	}
	p, isNew := db.ks.Set(key, obj, keepTTL)
	if isNew {
		s.notify(notifyNew, "new", key, db.id)
	}
	s.keyModified(db, key)
	return p
}

// setStringKey stores a copy of val at key as a string with encoding enc,
// like setKey, but lets the keyspace reuse the old buffer or put a new
// key's name and value in one allocation.
func (s *Server) setStringKey(db *DB, key, val []byte, enc keyspace.Encoding, keepTTL bool) *keyspace.Object {
	o, isNew := db.ks.SetString(key, val, keepTTL)
	s.setStringEnc(o, enc)
	if isNew || !s.lfuPolicy() {
		o.LRU = s.newLRU()
	}
	if isNew {
		s.notify(notifyNew, "new", key, db.id)
	}
	s.keyModified(db, key)
	return o
}

// deleteKey removes key, returning whether it existed (and was live).
func (s *Server) deleteKey(db *DB, key []byte) bool {
	o, at := db.ks.Lookup(key)
	if o == nil {
		return false
	}
	if at != 0 && s.expireIfNeeded(db, key, at) {
		return false
	}
	old, _ := db.ks.Delete(key)
	s.freeObject(old, s.cfg.LazyfreeLazyServerDel)
	s.keyModified(db, key)
	return true
}

// keyModified is called after every change to a key's value, TTL or
// existence: it invalidates WATCHes and client-side caches. Families call
// it (through setKey/deleteKey or directly after in-place changes).
func (s *Server) keyModified(db *DB, key []byte) {
	if s.hooks.keyModified != nil {
		s.hooks.keyModified(db, key)
	}
}

// keyModifiedByServer is keyModified for a change the server makes on its
// own (expiry, eviction) rather than the command being run.
func (s *Server) keyModifiedByServer(db *DB, key []byte) {
	prev := db.byServer
	db.byServer = true
	s.keyModified(db, key)
	db.byServer = prev
}

// signalReady wakes clients blocked on key (lists, zsets, streams).
func (s *Server) signalReady(db *DB, key []byte) {
	if s.hooks.keyReady != nil {
		s.hooks.keyReady(db, key)
	}
}

// propagating reports whether anyone consumes propagated writes, so that
// commands can skip building a rewritten argv nobody reads.
func (s *Server) propagating() bool { return s.hooks.propagate != nil || s.replFeeding() }

// Propagation targets, as Redis's PROPAGATE_AOF and PROPAGATE_REPL.
const (
	propAOF  = 1 << iota // the propagate hook (AOF)
	propRepl             // the replication feed (repl.go)
	propAll  = propAOF | propRepl
)

// propagate sends a write to the AOF and replicas, as the effect of the
// current command. argv may alias the request buffer: the consumer copies
// what it keeps. Commands whose effect differs from their arguments
// (SET EX → SET PXAT, SPOP → SREM, expiries → DEL) propagate the effect.
//
// Inside a call, what is propagated is held until the top-level call ends
// and then sent as a unit, wrapped in MULTI/EXEC when there is more than
// one command (multi.go's batchPropagation): a consumer of the hook never
// wraps on its own.
func (s *Server) propagate(dbid int, argv [][]byte) { s.propagateTo(dbid, argv, propAll) }

// propagateTo propagates to the targets given (propAOF, propRepl),
// narrowed by what a script allowed (redis.set_repl, propMask).
func (s *Server) propagateTo(dbid int, argv [][]byte, targets int) {
	targets &= s.propMask()
	if s.hooks.propagate == nil {
		targets &^= propAOF
	}
	if targets&propRepl != 0 && !s.replFeeding() {
		targets &^= propRepl
	}
	if targets == 0 || s.batchPropagation(dbid, argv, targets) {
		return
	}
	s.emitPropagation(dbid, argv, targets)
}

// emitPropagation hands a command to its consumers.
func (s *Server) emitPropagation(dbid int, argv [][]byte, targets int) {
	if targets&propAOF != 0 && s.hooks.propagate != nil {
		s.hooks.propagate(dbid, argv)
	}
	if targets&propRepl != 0 && s.replFeeding() {
		s.replFeed(dbid, argv)
	}
}

// Keyspace notification classes (notify-keyspace-events flags).
const (
	notifyKeyspace = 1 << iota // K
	notifyKeyevent             // E
	notifyGeneric              // g
	notifyString               // $
	notifyList                 // l
	notifySet                  // s
	notifyHash                 // h
	notifyZSet                 // z
	notifyExpired              // x
	notifyEvicted              // e
	notifyStream               // t
	notifyKeyMiss              // m
	notifyModule               // d
	notifyNew                  // n
)

// notify emits a keyspace notification if the class is enabled.
func (s *Server) notify(class int, event string, key []byte, dbid int) {
	if s.notifyFlags&class == 0 || s.hooks.notify == nil {
		return
	}
	s.hooks.notify(class, event, key, dbid)
}

// Whole-database hooks. Subsystems that keep per-key state outside the
// keyspace (WATCH, client tracking, blocked clients) register here from
// init functions; the lists are read-only once the program runs.
var (
	// dbSwapHooks run for SWAPDB after the two databases exchanged their
	// contents: a now holds the keys b held and the other way round, while
	// per-DB client state (watched keys, blocked clients) stays by number.
	dbSwapHooks []func(s *Server, a, b *DB)
	// dbFlushHooks run for FLUSHDB/FLUSHALL (and any other emptying of a
	// database) before its keys are dropped.
	dbFlushHooks []func(s *Server, db *DB)
	// flushAllHooks run once after FLUSHALL emptied every database (an RDB
	// save when save points are configured, as Redis does).
	flushAllHooks []func(s *Server)
)

// dbSwapped tells the subsystems that a and b have swapped contents.
func (s *Server) dbSwapped(a, b *DB) {
	for _, f := range dbSwapHooks {
		f(s, a, b)
	}
}

// dbFlushed tells the subsystems that db is about to be emptied.
func (s *Server) dbFlushed(db *DB) {
	for _, f := range dbFlushHooks {
		f(s, db)
	}
}
