package node

import (
	"math"
	"time"

	"github.com/keyfleet/keyfleet/internal/commands"
	"github.com/keyfleet/keyfleet/node/keyspace"
)

// maxmemory enforcement: Redis's approximated eviction (evict.c). Before
// each command from a client, while used memory is above maxmemory, keys
// are sampled into a pool of the best candidates and the best is evicted,
// until memory is under the limit or the time budget set by
// maxmemory-eviction-tenacity is spent (cron then goes on). If nothing
// can be evicted, commands flagged denyoom are refused with -OOM; reads
// and deletions still run.

func init() {
	interceptors = append(interceptors, evictInterceptor)
	serverInits = append(serverInits, func(s *Server) {
		s.ext[evictExt] = &evictState{}
		s.hooks.cron = append(s.hooks.cron, s.evictCron)
	})
}

const evictExt = "evict"

// evictPoolSize is Redis's EVPOOL_SIZE.
const evictPoolSize = 16

type evictCandidate struct {
	idle uint64 // higher is a better candidate
	key  string
	db   int
}

type evictState struct {
	pool   []evictCandidate // ascending by idle: the best is last
	nextDB int              // random policies walk the databases in turn
}

func (s *Server) evictState() *evictState {
	st, _ := s.ext[evictExt].(*evictState)
	return st
}

// evictInterceptor evicts before a client's command and refuses a denyoom
// command when memory could not be brought under the limit. Commands
// from the primary are never refused (Redis: replicas obey their
// primary), nor evicted for: a replica's data is its primary's.
func evictInterceptor(s *Server, c *Client, cmd *command, args [][]byte) bool {
	if s.cfg.MaxMemory <= 0 || c.flags&flagPrimary != 0 {
		return false
	}
	ok := s.performEvictions()
	if !ok && cmd.Has(commands.DenyOOM) {
		s.rejectCommand(c, cmd, errOOM)
		return true
	}
	return false
}

// evictionTimeLimit is Redis's evictionTimeLimitUs for the tenacity
// setting: 0 means no limit.
func evictionTimeLimit(tenacity int) time.Duration {
	switch {
	case tenacity <= 10:
		return time.Duration(50*max(tenacity, 0)) * time.Microsecond
	case tenacity < 100:
		return time.Duration(500*math.Pow(1.15, float64(tenacity-10))) * time.Microsecond
	}
	return 0
}

// evictPolicy decodes maxmemory-policy.
type evictPolicy struct {
	none, volatile, lru, lfu, random, ttl bool
}

func (s *Server) evictPolicy() evictPolicy {
	var p evictPolicy
	switch s.cfg.MaxMemoryPolicy {
	case "volatile-lru":
		p.volatile, p.lru = true, true
	case "volatile-lfu":
		p.volatile, p.lfu = true, true
	case "volatile-random":
		p.volatile, p.random = true, true
	case "volatile-ttl":
		p.volatile, p.ttl = true, true
	case "allkeys-lru":
		p.lru = true
	case "allkeys-lfu":
		p.lfu = true
	case "allkeys-random":
		p.random = true
	default:
		p.none = true
	}
	return p
}

// performEvictions brings used memory under maxmemory if it can. It
// returns false when memory is still over the limit and nothing more can
// be evicted (Redis's EVICT_FAIL); a pass that ran out of time returns
// true and cron continues it (EVICT_RUNNING).
func (s *Server) performEvictions() bool {
	limit := s.cfg.MaxMemory
	// A replica's data is its primary's: it evicts nothing of its own
	// (replica-ignore-maxmemory, always on here).
	if limit <= 0 || s.isReplica() || s.usedMemory() <= limit {
		return true
	}
	st := s.evictState()
	p := s.evictPolicy()
	if p.none {
		return false
	}
	budget := evictionTimeLimit(s.cfg.MaxMemoryEvictionTenacity)
	start := time.Now()
	for n := 0; s.usedMemory() > limit; n++ {
		db, key, found := s.evictionCandidate(st, p)
		if !found {
			return false
		}
		s.evictKey(db, key)
		// Checking the clock every 16 keys, as Redis.
		if budget > 0 && n%16 == 15 && time.Since(start) > budget {
			return true
		}
	}
	return true
}

// evictCron goes on with a pass that ran out of time (Redis's eviction
// time proc), and evicts at once after CONFIG SET lowered maxmemory, as
// Redis does, rather than at the next client command.
func (s *Server) evictCron(time.Time) {
	if s.cfg.MaxMemory > 0 && !s.isLoading() {
		s.performEvictions()
	}
}

// evictionCandidate picks the key to evict under policy p.
func (s *Server) evictionCandidate(st *evictState, p evictPolicy) (*DB, string, bool) {
	ms := s.memState()
	if p.random {
		for range s.dbs {
			i := st.nextDB % len(s.dbs)
			st.nextDB++
			db := s.dbs[i]
			var r keyspace.KeyRef
			var ok bool
			if p.volatile {
				r, ok = db.ks.RandomVolatile(ms.rng)
			} else {
				r, ok = db.ks.RandomKey(ms.rng)
			}
			if ok {
				return db, r.Key, true
			}
		}
		return nil, "", false
	}
	for {
		found := false
		for i, db := range s.dbs {
			n := db.ks.Len()
			if p.volatile {
				n = db.ks.VolatileLen()
			}
			if n == 0 {
				continue
			}
			found = true
			s.populatePool(st, p, i, db)
		}
		if !found {
			return nil, "", false
		}
		// The best candidate still present wins; ghosts (deleted or
		// changed since they were pooled) are dropped.
		for len(st.pool) > 0 {
			c := st.pool[len(st.pool)-1]
			st.pool = st.pool[:len(st.pool)-1]
			db := s.dbs[c.db]
			o, at := db.ks.Lookup([]byte(c.key))
			if o == nil || (p.volatile && at == 0) {
				continue
			}
			return db, c.key, true
		}
	}
}

// populatePool samples maxmemory-samples keys of db into the pool
// (Redis's evictionPoolPopulate).
func (s *Server) populatePool(st *evictState, p evictPolicy, dbi int, db *DB) {
	ms := s.memState()
	samples := max(s.cfg.MaxMemorySamples, 1)
	for j := 0; j < samples; j++ {
		var r keyspace.KeyRef
		var ok bool
		if p.volatile {
			r, ok = db.ks.RandomVolatile(ms.rng)
		} else {
			r, ok = db.ks.RandomKey(ms.rng)
		}
		if !ok {
			return
		}
		// Eviction samples keys anyway: let the accounting learn from them.
		if !p.volatile {
			ms.observe(dbi, keyCost(r.Key, r.Obj))
		}
		var idle uint64
		switch {
		case p.lru:
			idle = uint64(s.objectIdleMs(r.Obj))
		case p.lfu:
			idle = 255 - uint64(s.lfuDecr(r.Obj))
		case p.ttl:
			idle = math.MaxUint64 - uint64(r.Expire)
		}
		st.insert(evictCandidate{idle: idle, key: r.Key, db: dbi})
	}
}

// insert puts c in the pool by its score, dropping the worst candidate
// when the pool is full and c is better than it, and never holding one
// key twice.
func (st *evictState) insert(c evictCandidate) {
	for i := range st.pool {
		if st.pool[i].db == c.db && st.pool[i].key == c.key {
			if st.pool[i].idle == c.idle {
				return
			}
			st.pool = append(st.pool[:i], st.pool[i+1:]...)
			break
		}
	}
	k := 0
	for k < len(st.pool) && st.pool[k].idle < c.idle {
		k++
	}
	if len(st.pool) == evictPoolSize {
		if k == 0 {
			return // worse than everything pooled
		}
		// Drop the worst (first) to make room; c goes just before k.
		copy(st.pool, st.pool[1:k])
		st.pool[k-1] = c
		return
	}
	st.pool = append(st.pool, evictCandidate{})
	copy(st.pool[k+1:], st.pool[k:])
	st.pool[k] = c
}

// evictKey deletes key as an eviction: freed lazily under
// lazyfree-lazy-eviction, counted, notified and propagated as DEL.
func (s *Server) evictKey(db *DB, key string) {
	k := []byte(key)
	old, ok := db.ks.Delete(k)
	if !ok {
		return
	}
	lazy := s.cfg.LazyfreeLazyEviction
	s.freeObject(old, lazy)
	s.stats.evictedKeys++
	s.notify(notifyEvicted, "evicted", k, db.id)
	s.keyModifiedByServer(db, k)
	s.propagateDeletion(db, k, lazy)
}
