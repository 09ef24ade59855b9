package node

import (
	"github.com/keyfleet/keyfleet/node/keyspace"
)

// DB is one of the shard's logical databases.
type DB struct {
	id int
	ks *keyspace.DB
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
	if s.isReplica() {
		return true
	}
	s.deleteExpired(db, key)
	return true
}

// deleteExpired removes an expired key and tells everyone who cares.
func (s *Server) deleteExpired(db *DB, key []byte) {
	db.ks.Delete(key)
	s.stats.expiredKeys++
	s.notify(notifyExpired, "expired", key, db.id)
	s.keyModified(db, key)
	s.propagate(db.id, [][]byte{[]byte("DEL"), key})
}

// lookupRead returns the live object at key for a read, counting hits and
// misses, or nil.
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

// lookupWrite returns the live object at key for a write, or nil.
func (s *Server) lookupWrite(db *DB, key []byte) *keyspace.Object {
	o, at := db.ks.Lookup(key)
	if o != nil && at != 0 && s.expireIfNeeded(db, key, at) {
		return nil
	}
	if o != nil {
		s.touchLRU(o)
	}
	return o
}

// peek returns the live object without side effects on stats or LRU
// (TYPE-free lookups such as OBJECT, DEBUG, SCAN filters).
func (s *Server) peek(db *DB, key []byte) (*keyspace.Object, int64) {
	o, at := db.ks.Lookup(key)
	if o != nil && keyspace.Expired(at, s.now()) {
		if !s.isReplica() {
			s.deleteExpired(db, key)
		}
		return nil, 0
	}
	return o, at
}

// touchLRU records an access for the eviction clocks (LRU or LFU).
func (s *Server) touchLRU(o *keyspace.Object) {
	if s.noTouch {
		return
	}
	o.LRU = s.lruClock
}

// setKey stores obj at key (overwriting any value and, unless keepTTL,
// its TTL) and signals the modification.
func (s *Server) setKey(db *DB, key []byte, obj keyspace.Object, keepTTL bool) *keyspace.Object {
	obj.LRU = s.lruClock
	p, _ := db.ks.Set(key, obj, keepTTL)
	s.keyModified(db, key)
	return p
}

// deleteKey removes key, returning whether it existed (and was live).
func (s *Server) deleteKey(db *DB, key []byte) bool {
	o, at := db.ks.Lookup(key)
	if o == nil {
		return false
	}
	if keyspace.Expired(at, s.now()) && !s.isReplica() {
		s.deleteExpired(db, key)
		return false
	}
	db.ks.Delete(key)
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

// signalReady wakes clients blocked on key (lists, zsets, streams).
func (s *Server) signalReady(db *DB, key []byte) {
	if s.hooks.keyReady != nil {
		s.hooks.keyReady(db, key)
	}
}

// propagate sends a write to the AOF and replicas, as the effect of the
// current command. Commands whose effect differs from their arguments
// (SET EX → SET PXAT, SPOP → SREM, expiries → DEL) propagate the effect.
func (s *Server) propagate(dbid int, argv [][]byte) {
	if s.hooks.propagate != nil {
		s.hooks.propagate(dbid, argv)
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
