package node

import (
	"math"
	"time"

	"github.com/keyfleet/keyfleet/node/keyspace"
)

// Blocking operations on keys (Redis's blocked.c): BLPOP and friends here,
// BZPOPMIN/BZMPOP and XREAD/XREADGROUP BLOCK through the same calls.
//
// A blocking command that finds nothing to serve calls blockForKeys and
// returns without a reply. The client is then blocked: its connection
// goroutine, back in serveRESP, hands the replies written so far to the
// socket, releases the shard lock and waits (waitUnblocked). A write that
// may make a key servable calls signalReady; at the end of the command
// that did it (or of the MULTI/EXEC or script around it: execute calls
// serveReadyKeys) the clients blocked on each ready key are tried in the
// order they blocked, each through the serve function it blocked with,
// which replies into the client's buffer as if the command ran then. The
// waiting goroutine wakes, takes the lock back and goes on with the
// client's pipelined commands. A timeout, CLIENT UNBLOCK, a disconnection
// or a shutdown ends the wait the same way.

// blockKey names a key in a database.
type blockKey struct {
	db  int
	key string
}

// blockedClient is a client waiting in blockForKeys.
type blockedClient struct {
	c    *Client
	db   *DB
	keys []string
	// deadline is the unix ms time of the timeout, 0 for none.
	deadline int64
	// serve tries to serve the client from key, running as the client
	// (c.db is the client's database) with the shard lock held. It
	// returns true if it replied (the client is unblocked), false if the
	// key cannot serve it (missing, empty, wrong type): it stays blocked.
	serve func(key []byte) bool
	// timeout writes the reply for a timeout or CLIENT UNBLOCK TIMEOUT.
	timeout func()
	wake    chan struct{}
	// argv and callDur are the blocking call's arguments and the time it
	// took: SLOWLOG logs the command once served, as the client sent it,
	// with that time plus the serving (Redis's updateStatsOnUnblock).
	argv    [][]byte
	callDur time.Duration
	// servesMissing asks for serve also when the key is gone: XREADGROUP
	// then fails (stream_groups.go), as Redis's
	// unblockDeletedStreamReadgroupClients.
	servesMissing bool
}

// blockingState is the shard's table of blocked clients.
type blockingState struct {
	// waiting lists, per key, the clients blocked on it in the order they
	// blocked.
	waiting  map[blockKey][]*blockedClient
	byClient map[*Client]*blockedClient
	// ready holds the keys signalled since the last serveReadyKeys, each
	// once (Redis's server.ready_keys and db->ready_keys).
	ready    []blockKey
	readySet map[blockKey]struct{}
}

const blockingExt = "blocking"

func init() {
	serverInits = append(serverInits, func(s *Server) {
		st := &blockingState{
			waiting:  make(map[blockKey][]*blockedClient),
			byClient: make(map[*Client]*blockedClient),
			readySet: make(map[blockKey]struct{}),
		}
		s.ext[blockingExt] = st
		s.hooks.keyReady = func(db *DB, key []byte) { st.signal(db, key) }
		s.hooks.clientGone = append(s.hooks.clientGone, func(c *Client) {
			if bc := st.byClient[c]; bc != nil {
				s.unblock(bc)
			}
		})
		hooks := s.clientInfoHooks()
		prev := hooks.unblock
		hooks.unblock = func(c *Client, withError bool) bool {
			bc := st.byClient[c]
			if bc == nil {
				return prev != nil && prev(c, withError)
			}
			if withError {
				c.Error("UNBLOCKED client unblocked via CLIENT UNBLOCK")
				// A failed call of the command it was blocked in, as
				// Redis's updateStatsOnUnblock counts it.
				if cmd := lookupCommand([]byte(c.lastCmd)); cmd != nil {
					s.cmdStatFor(cmd).failed++
				}
			} else {
				bc.timeout()
			}
			s.unblock(bc)
			return true
		}
	})
	dbSwapHooks = append(dbSwapHooks, func(s *Server, a, b *DB) {
		st := s.blockingState()
		st.scanForReady(a)
		st.scanForReady(b)
	})
}

func (s *Server) blockingState() *blockingState {
	return s.ext[blockingExt].(*blockingState)
}

// BlockedClients is the number of clients blocked on keys (INFO's
// blocked_clients counts them with the clients blocked otherwise).
func (s *Server) BlockedClients() int { return len(s.blockingState().byClient) }

// signal marks key ready if a client is blocked on it.
func (st *blockingState) signal(db *DB, key []byte) {
	if len(st.waiting) == 0 {
		return
	}
	k := blockKey{db.id, string(key)}
	if _, ok := st.waiting[k]; !ok {
		return
	}
	if _, ok := st.readySet[k]; ok {
		return
	}
	st.readySet[k] = struct{}{}
	st.ready = append(st.ready, k)
}

// scanForReady signals every key of db that clients wait for and that
// exists (after SWAPDB), as Redis's scanDatabaseForReadyKeys.
func (st *blockingState) scanForReady(db *DB) {
	for k := range st.waiting {
		if k.db != db.id {
			continue
		}
		if o, _ := db.ks.Lookup([]byte(k.key)); o != nil {
			st.signal(db, []byte(k.key))
		}
	}
}

// denyBlocking reports whether c may not block (inside MULTI or a
// script): a blocking command then answers as if it timed out.
// (defined in admin.go)

// parseTimeout parses a blocking command's timeout in float seconds
// (getTimeoutFromObjectOrReply with UNIT_SECONDS) and returns the
// deadline in unix ms, 0 for none.
func (s *Server) parseTimeout(c *Client, arg []byte) (int64, bool) {
	ld, ok := parseLongDouble(arg)
	if !ok {
		c.Error("ERR timeout is not a float or out of range")
		return 0, false
	}
	// Redis converts ceill(t*1000) to long long: out of range (and
	// infinities) come out as LLONG_MIN on the machines it runs on,
	// which reads as negative.
	ms := int64(math.MinInt64)
	if ld.inf == 0 {
		f, _ := ld.f.Float64()
		v := math.Ceil(f * 1000)
		if v > -9.2e18 && v < 9.2e18 {
			ms = int64(v)
		}
	}
	if ms < 0 {
		c.Error("ERR timeout is negative")
		return 0, false
	}
	if ms == 0 {
		return 0, true
	}
	deadline := ms + time.Now().UnixMilli()
	if deadline < 0 {
		// The sum wraps in Redis too, into a time its timeout table
		// never reaches: the client waits forever.
		return 0, true
	}
	return deadline, true
}

// blockForKeys blocks c on keys until serve succeeds for one of them,
// the deadline (unix ms, 0: none) passes (timeout then replies; nil
// replies a null array), or the wait is ended otherwise. Duplicate keys
// count once. The caller returns without replying.
func (s *Server) blockForKeys(c *Client, keys [][]byte, deadline int64, serve func(key []byte) bool, timeout func()) {
	st := s.blockingState()
	if timeout == nil {
		timeout = c.NullArray
	}
	bc := &blockedClient{c: c, db: c.db, deadline: deadline, serve: serve, timeout: timeout, wake: make(chan struct{})}
	for _, k := range keys {
		ks := string(k)
		dup := false
		for _, have := range bc.keys {
			if have == ks {
				dup = true
				break
			}
		}
		if dup {
			continue
		}
		bc.keys = append(bc.keys, ks)
		bk := blockKey{c.db.id, ks}
		st.waiting[bk] = append(st.waiting[bk], bc)
	}
	st.byClient[c] = bc
	c.flags |= flagBlocked
}

// unblock removes bc from the tables and wakes its goroutine. The reply,
// if any, must have been written.
func (s *Server) unblock(bc *blockedClient) {
	st := s.blockingState()
	if st.byClient[bc.c] != bc {
		return
	}
	delete(st.byClient, bc.c)
	for _, k := range bc.keys {
		bk := blockKey{bc.db.id, k}
		list := st.waiting[bk]
		for i, x := range list {
			if x == bc {
				list = append(list[:i:i], list[i+1:]...)
				break
			}
		}
		if len(list) == 0 {
			delete(st.waiting, bk)
		} else {
			st.waiting[bk] = list
		}
	}
	bc.c.flags &^= flagBlocked
	close(bc.wake)
}

// serveReadyKeys serves the clients blocked on the keys signalled ready,
// until no key is ready (serving BLMOVE can make its target ready).
// execute calls it after every command, so that a transaction or a
// script wakes clients only once it has finished.
func (s *Server) serveReadyKeys() {
	if s.scriptYielding() {
		// A busy script lets other clients in (scripting.go): the keys
		// it made ready are served once it is over, as in Redis.
		return
	}
	st := s.blockingState()
	for len(st.ready) > 0 {
		batch := st.ready
		st.ready = nil
		for _, k := range batch {
			delete(st.readySet, k)
			if k.db < 0 || k.db >= len(s.dbs) {
				continue
			}
			db := s.dbs[k.db]
			key := []byte(k.key)
			// Serving may unblock clients (and so change the list):
			// walk a copy, skipping those already gone.
			clients := append([]*blockedClient(nil), st.waiting[k]...)
			for _, bc := range clients {
				if st.byClient[bc.c] != bc {
					continue
				}
				if o, _ := s.peek(db, key); o == nil && !bc.servesMissing {
					continue
				}
				s.updateClock(time.Now())
				saved := bc.c.db
				bc.c.db = bc.db
				start := s.monoNow()
				served := bc.serve(key)
				bc.c.db = saved
				if served {
					s.unblock(bc)
					reply := s.monoNow() - start
					if bc.argv != nil {
						s.slowlogPush(bc.c, bc.argv, (bc.callDur + reply).Microseconds())
					}
					s.latencyAddSampleIfNeeded("command-unblocking", reply.Milliseconds())
				}
			}
		}
	}
}

// waitUnblocked is called by serveRESP, with the shard lock held, when
// the command it ran blocked the client. It writes the replies so far,
// releases the lock until the client is served, times out, is unblocked
// or disconnects, and returns with the lock held again.
func (s *Server) waitUnblocked(c *Client) {
	st := s.blockingState()
	bc := st.byClient[c]
	if bc == nil {
		return
	}
	// Take the replies so far: whoever serves the client appends to a
	// fresh buffer while this goroutine writes them.
	out := c.out
	c.out = nil
	var done <-chan struct{}
	if s.ctx != nil {
		done = s.ctx.Done()
	}
	var timer <-chan time.Time
	if bc.deadline > 0 {
		t := time.NewTimer(max(time.Until(time.UnixMilli(bc.deadline)), 0))
		defer t.Stop()
		timer = t.C
	}
	s.mu.Unlock()
	writeErr := c.writeNow(out)
	gone, stopWatch := watchClientClose(c)
	stopped, timedOut := writeErr != nil, false
	if !stopped {
		select {
		case <-bc.wake:
		case <-timer:
			timedOut = true
		case <-done:
			stopped = true
		case <-gone:
			stopped = true
		}
	}
	stopWatch()
	s.mu.Lock()
	if st.byClient[c] == bc {
		if timedOut {
			s.updateClock(time.Now())
			bc.timeout()
		}
		s.unblock(bc)
	}
	if stopped || c.killed {
		c.closeAfterReply = true
	}
	now := time.Now()
	c.lastActive = now
	s.updateClock(now)
}

// writeNow writes buf to the client's socket after any pending async
// messages, outside the shard lock.
func (c *Client) writeNow(buf []byte) error {
	// Through the client's single writer (client.go): a push queued
	// meanwhile never waits for this socket, nor overtakes these replies.
	return c.writeOut(buf)
}

// keyTypeIs reports whether key exists in db with type t (no stats).
func (s *Server) keyTypeIs(db *DB, key []byte, t keyspace.Type) bool {
	o, _ := s.peek(db, key)
	return o != nil && o.Type == t
}
