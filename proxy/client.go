package proxy

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyfleet/keyfleet/internal/commands"
	"github.com/keyfleet/keyfleet/proxy/resp"
)

// client is one client connection. One goroutine reads the client's
// requests, routes them, waits for the shards and writes the replies, a
// batch at a time: a pipelined batch costs one read, one write per shard
// touched and one write back, whatever its length. Backend readers only
// fill slots and, for pub/sub and tracking, push messages (under outMu).
//
// The loop is the proxy's own rather than redcon's Server: a proxy answers
// asynchronously (the reply comes from a shard), must bound a request
// before buffering it, counts bytes per tenant, and writes push messages
// from other goroutines, none of which redcon's synchronous handler model
// allows. Requests are parsed by resp.RequestReader (see there for why
// not redcon's Reader).
type client struct {
	p       *Proxy
	conn    net.Conn
	rd      *resp.RequestReader
	id      int64
	addr    string
	laddr   string
	ip      string
	created time.Time

	// info is what CLIENT LIST shows; other goroutines read it.
	info struct {
		sync.Mutex
		infoState
		name   string
		subIDs []int64 // see subIDs
	}
	published infoState // what was last copied to info
	lastCmd   atomic.Pointer[string]
	lastAt    atomic.Int64 // unix nanoseconds of the last batch
	blocked   atomic.Bool
	// blockedOn is the connection of the blocking command the client
	// waits on (for CLIENT UNBLOCK from another client).
	blockedOn atomic.Pointer[backendConn]
	// pushDB is the database pushes are accounted to; backend readers
	// read it, so it is atomic.
	pushDB atomic.Pointer[database]

	// Authenticated state; touched only by the client goroutine.
	db       *database
	route    *dbRoute
	proto    int
	pooled   []*backendConn // per shard, cached from the pools
	ded      []*backendConn // per shard, this client's own connections
	subs     []*backendConn // per shard, this client's pub/sub connections
	sticky   bool           // every command goes to ded (SELECT, tracking)
	replay   [][]byte       // commands replayed on a new sticky connection
	selected int            // SELECT'ed logical db (one-shard databases)
	tracking bool
	redirect int64 // CLIENT TRACKING REDIRECT target (a proxy client id)

	txn        *txnState
	watchShard int  // shard of WATCHed keys, -1 if none
	watchLost  bool // see txnState.watchLost

	channels  map[string]struct{}
	patterns  map[string]struct{}
	schannels map[string]int // sharded channel -> shard
	replyMode int            // replyOn, replyOff, replySkip

	keys []commands.KeyPos // reused by keySlot
	req  request           // the request being dispatched
	last *commands.Command // the last command dispatched, for CLIENT LIST

	// The batch being built.
	b           *batch
	entries     []*slot
	free        []*slot
	touched     []*backendConn
	staged      []staged // per touched connection
	pendingPool bool     // a request is in flight on a pooled connection
	pendingDed  bool     // ... on a dedicated one
	waitFor     time.Duration
	watchSocket bool // the wait may be long: notice the client leaving
	timer       *time.Timer
	timerAt     time.Time // when timer fires, if timerArmed
	timerArmed  bool

	// Per-batch accounting.
	allow           int // commands the ops quota still lets through; -1 = not yet asked
	leftInBatch     int
	overBandwidth   bool
	nOps, nRejected int64
	bytesIn         int64

	// Read-ahead while blocked (to notice a disconnect).
	stash   []resp.Request
	readCh  chan readResult
	reading bool
	quit    bool
	killed  atomic.Bool

	outMu      sync.Mutex
	out        []byte
	pushes     []byte
	holdPushes int
	outClosed  bool
	nErrs      int64
	bytesOut   int64
}

type readResult struct {
	cmds []resp.Request
	err  error
}

const (
	replyOn = iota
	replyOff
	replySkip
)

func (p *Proxy) serveConn(conn net.Conn) {
	if p.nclients.Add(1) > int64(p.opts.MaxClients) {
		p.nclients.Add(-1)
		conn.SetWriteDeadline(time.Now().Add(time.Second))
		conn.Write([]byte("-ERR max number of clients reached\r\n"))
		conn.Close()
		return
	}
	c := &client{
		p:          p,
		conn:       conn,
		id:         p.nextID.Add(1),
		addr:       conn.RemoteAddr().String(),
		laddr:      conn.LocalAddr().String(),
		created:    time.Now(),
		proto:      2,
		watchShard: -1,
		b:          newBatch(),
		timer:      time.NewTimer(time.Hour),
	}
	c.timer.Stop()
	c.ip, _, _ = net.SplitHostPort(c.addr)
	c.rd = resp.NewRequestReader(conn, unauthRequestBytes)
	c.rd.SetLimits(unauthRequestBytes, maxBulk, true)
	p.mu.Lock()
	p.clients[c] = struct{}{}
	p.mu.Unlock()
	p.metrics.connsAccepted.Add(p.ctx, 1)
	defer func() {
		c.close()
		p.mu.Lock()
		delete(p.clients, c)
		p.mu.Unlock()
		p.nclients.Add(-1)
	}()
	c.run()
}

// unauthRequestBytes caps a request before AUTH, as Redis caps an
// unauthenticated client (10 arguments of at most 16 KiB, roughly);
// maxBulk is Redis's proto-max-bulk-len.
const (
	unauthRequestBytes = 64 << 10
	maxBulk            = 512 << 20
)

func (c *client) run() {
	c.conn.SetReadDeadline(time.Now().Add(c.p.opts.AuthTimeout))
	c.bindDefault()
	for !c.quit {
		cmds, err := c.read()
		if err != nil {
			c.readFailed(err)
			return
		}
		c.handleBatch(cmds)
	}
}

func (c *client) readFailed(err error) {
	var msg string
	var pe *resp.ProtocolError
	switch {
	case errors.Is(err, resp.ErrRequestTooLarge):
		msg = "ERR Protocol error: request exceeds the maximum request size"
		if c.db != nil {
			c.db.usage.add(0, 0, 0, 1, 1)
		}
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
		return
	case errors.As(err, &pe):
		msg = "ERR " + pe.Error()
	default:
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() && c.db == nil {
			msg = "ERR authentication timeout"
		} else {
			return
		}
	}
	c.outMu.Lock()
	c.conn.SetWriteDeadline(time.Now().Add(time.Second))
	c.conn.Write(resp.AppendError(nil, msg))
	c.outMu.Unlock()
}

// read returns the next batch of requests: read ahead while blocked, or
// from the connection.
func (c *client) read() ([]resp.Request, error) {
	if len(c.stash) > 0 {
		cmds := c.stash
		c.stash = nil
		return cmds, nil
	}
	if c.reading {
		r := <-c.readCh
		c.reading = false
		return r.cmds, r.err
	}
	return c.rd.Read()
}

// readAhead starts reading the next batch in the background, so a wait
// for a blocked command notices the client closing.
func (c *client) readAhead() <-chan readResult {
	if !c.reading {
		if c.readCh == nil {
			c.readCh = make(chan readResult, 1)
		}
		c.reading = true
		go func() {
			// Detached: the batch being processed stays intact.
			cmds, err := c.rd.ReadDetached()
			c.readCh <- readResult{cmds, err}
		}()
	}
	return c.readCh
}

// handleBatch routes a batch of requests and writes their replies.
func (c *client) handleBatch(cmds []resp.Request) {
	c.allow = -1
	c.overBandwidth = false
	c.nOps, c.nRejected, c.bytesIn = 0, 0, 0
	if c.db != nil && !c.syncRoute() {
		// The database is gone; applyRoutes is closing its clients.
		c.quit = true
		return
	}
	for i := range cmds {
		c.leftInBatch = len(cmds) - i
		if len(cmds[i].Args) == 0 {
			continue
		}
		c.bytesIn += int64(len(cmds[i].Raw))
		c.dispatch(cmds[i].Args, cmds[i].Raw)
		if c.quit {
			break
		}
	}
	c.endSegment()
	c.publishInfo(c.last)
	if db := c.db; db != nil {
		c.outMu.Lock()
		errs, out := c.nErrs, c.bytesOut
		c.nErrs, c.bytesOut = 0, 0
		c.outMu.Unlock()
		db.usage.add(c.nOps, c.bytesIn, out, errs, c.nRejected)
		if db.bandwidth.limited.Load() {
			db.bandwidth.charge(time.Now(), c.bytesIn+out)
		}
	}
}

// newEntry appends a slot for the next reply.
func (c *client) newEntry() *slot {
	s := c.newSlot()
	if c.replyMode != replyOn {
		s.kind = kindSilent
		if c.replyMode == replySkip {
			c.replyMode = replyOn
		}
	}
	c.entries = append(c.entries, s)
	return s
}

func (c *client) newSlot() *slot {
	var s *slot
	if n := len(c.free); n > 0 {
		s = c.free[n-1]
		c.free = c.free[:n-1]
	} else {
		s = &slot{}
	}
	s.reset(c.b)
	return s
}

// reply completes s locally with an encoded reply.
func (c *client) reply(s *slot, b []byte) {
	s.reply = append(s.reply, b...)
	s.state.Store(slotDone)
}

// replyError completes the next entry with an error.
func (c *client) replyError(msg string) {
	s := c.newEntry()
	s.reply = resp.AppendError(s.reply, msg)
	s.state.Store(slotDone)
}

// replyRaw completes the next entry with an encoded reply.
func (c *client) replyRaw(b []byte) {
	c.reply(c.newEntry(), b)
}

// pushEntry is the next entry for pub/sub confirmations: pushes, which
// CLIENT REPLY OFF does not silence.
func (c *client) pushEntry() *slot {
	s := c.newSlot()
	s.kind = kindPubSub
	c.entries = append(c.entries, s)
	c.outMu.Lock()
	c.holdPushes++
	c.outMu.Unlock()
	return s
}

// send queues raw on bc for s. The caller made sure ordering holds (see
// connFor); the request goes out at the end of the segment.
func (c *client) send(bc *backendConn, raw []byte, s *slot) {
	c.b.pending.Add(1)
	s.bc = bc
	i := 0
	for i < len(c.touched) && c.touched[i] != bc {
		i++
	}
	if i == len(c.touched) {
		c.touched = append(c.touched, bc)
		if len(c.staged) < len(c.touched) {
			c.staged = append(c.staged, staged{})
		}
	}
	st := &c.staged[i]
	st.raws = append(st.raws, raw)
	st.slots = append(st.slots, s)
}

// staged are the requests of a segment for one backend connection, handed
// over together: one lock of the shared connection per segment rather
// than per request. The raw requests alias the client's read buffer,
// which stays put until the segment is written.
type staged struct {
	raws  [][]byte
	slots []*slot
}

// endSegment sends what is queued, waits for every reply of the segment
// and writes them.
func (c *client) endSegment() {
	for i, bc := range c.touched {
		st := &c.staged[i]
		bc.sendBatch(st.raws, st.slots)
		clear(st.raws)
		clear(st.slots)
		st.raws, st.slots = st.raws[:0], st.slots[:0]
	}
	clear(c.touched)
	c.touched = c.touched[:0]
	timedOut := c.wait()
	c.writeEntries(timedOut)
	c.pendingPool, c.pendingDed = false, false
	c.waitFor, c.watchSocket = 0, false
	c.blockedOn.Store(nil)
}

// wait waits for the segment's slots. It returns true if they did not
// all complete in time (or the client left while blocked).
func (c *client) wait() bool {
	b := c.b
	if b.pending.Add(-1) == 0 {
		b.pending.Store(1)
		return false
	}
	d := c.waitFor
	if d == 0 {
		d = c.p.opts.RequestTimeout
	}
	var tc <-chan time.Time
	var deadline time.Time
	if d > 0 {
		// The timer stays armed from wait to wait: resetting and
		// stopping it around every batch cost more than the early fire
		// this allows, which only re-arms it for the rest of the wait.
		deadline = time.Now().Add(d)
		if !c.timerArmed || c.timerAt.After(deadline) {
			c.timer.Reset(d)
			c.timerAt, c.timerArmed = deadline, true
		}
		tc = c.timer.C
	}
	var rc <-chan readResult
	if c.watchSocket {
		c.blocked.Store(true)
		defer c.blocked.Store(false)
		rc = c.readAhead()
	}
	for {
		select {
		case <-b.done:
			b.pending.Store(1)
			return false
		case <-c.p.ctx.Done():
			return true
		case <-tc:
			c.timerArmed = false
			if rest := time.Until(deadline); rest > 0 {
				c.timer.Reset(rest)
				c.timerAt, c.timerArmed = deadline, true
				continue
			}
			return true
		case r := <-rc:
			c.reading = false
			if r.err != nil {
				// The client is gone: give up its blocked requests.
				c.quit = true
				c.stash = nil
				return true
			}
			c.stash = append(c.stash, r.cmds...)
			if len(c.stash) < 1024 {
				rc = c.readAhead()
			} else {
				rc = nil
			}
		}
	}
}

// writeEntries writes the segment's replies in order. After a timeout the
// slots still pending are abandoned: they get an error, their backend
// connections are aborted (a shard that does not answer in time is
// presumed stuck), and the batch is replaced so late replies land nowhere.
func (c *client) writeEntries(timedOut bool) {
	var stuck []*backendConn
	if timedOut {
		for _, s := range c.entries {
			stuck = abandon(s, stuck)
			for _, ch := range s.children {
				stuck = abandon(ch, stuck)
			}
		}
	}
	c.outMu.Lock()
	for _, s := range c.entries {
		if s.kind == kindDiscard || s.kind == kindSilent {
			continue
		}
		start := len(c.out)
		switch {
		case s.state.Load() == slotAbandoned:
			c.out = resp.AppendError(c.out, errUnavailable+"timeout")
		case s.merge != nil:
			parts := make([][]byte, len(s.children))
			for i, ch := range s.children {
				if ch.state.Load() == slotAbandoned {
					parts[i] = resp.AppendError(nil, errUnavailable+"timeout")
				} else {
					parts[i] = ch.reply
				}
			}
			c.out = s.merge(c, c.out, parts)
		default:
			c.out = append(c.out, s.reply...)
		}
		if len(c.out) > start && c.out[start] == '-' {
			c.nErrs++
		}
		if s.after != nil {
			s.after(c, c.out[start:])
		}
		if s.kind == kindPubSub {
			c.holdPushes--
			c.out = append(c.out, c.pushes...)
			c.pushes = c.pushes[:0]
		}
	}
	if c.holdPushes == 0 && len(c.pushes) > 0 {
		c.out = append(c.out, c.pushes...)
		c.pushes = c.pushes[:0]
	}
	c.flushOutLocked()
	c.outMu.Unlock()

	if timedOut {
		// Late replies may still write into these slots: drop them all.
		c.b = newBatch()
		clear(c.entries)
		c.entries = c.entries[:0]
		for _, bc := range stuck {
			bc.abort("timeout")
		}
		return
	}
	for _, s := range c.entries {
		c.free = append(c.free, s.children...)
		clear(s.children)
		s.children = s.children[:0]
		c.free = append(c.free, s)
	}
	clear(c.entries)
	c.entries = c.entries[:0]
	// A huge pipeline once must not pin its slots for the connection's
	// life.
	if len(c.free) > maxFreeSlots {
		clear(c.free[maxFreeSlots:])
		c.free = c.free[:maxFreeSlots]
	}
	if cap(c.entries) > maxFreeSlots {
		c.entries = nil
	}
}

const maxFreeSlots = 1024

func abandon(s *slot, stuck []*backendConn) []*backendConn {
	if s.state.CompareAndSwap(slotPending, slotAbandoned) && s.bc != nil {
		for _, bc := range stuck {
			if bc == s.bc {
				return stuck
			}
		}
		stuck = append(stuck, s.bc)
	}
	return stuck
}

// flushOutLocked writes the output buffer. outMu is held.
func (c *client) flushOutLocked() {
	if len(c.out) == 0 || c.outClosed {
		c.out = c.out[:0]
		return
	}
	n, err := c.conn.Write(c.out)
	c.bytesOut += int64(n)
	if err != nil {
		c.outClosed = true
		c.conn.Close()
	}
	if cap(c.out) > 1<<20 {
		c.out = nil
	} else {
		c.out = c.out[:0]
	}
}

// push delivers a message from a shard (pub/sub or an invalidation). It
// is written at once unless a pub/sub reply it must follow is pending.
func (c *client) push(msg []byte, _ bool) {
	c.outMu.Lock()
	defer c.outMu.Unlock()
	if c.outClosed {
		return
	}
	c.pushes = append(c.pushes, msg...)
	if c.holdPushes > 0 {
		return
	}
	c.out = append(c.out, c.pushes...)
	c.pushes = c.pushes[:0]
	c.flushOutLocked()
	if db := c.pushDB.Load(); db != nil {
		db.usage.add(0, 0, c.bytesOut, 0, 0)
		c.bytesOut = 0
	}
}

// kill closes the client from another goroutine (CLIENT KILL, a removed
// database, a changed password).
func (c *client) kill(why string) {
	if c.killed.CompareAndSwap(false, true) {
		c.p.log.Debug("closing client", "client", c.id, "addr", c.addr, "why", why)
	}
	c.conn.Close()
}

// close releases everything the client holds. Called by its goroutine.
func (c *client) close() {
	c.conn.Close()
	c.outMu.Lock()
	c.outClosed = true
	c.outMu.Unlock()
	c.dropConns()
	c.unbind()
}

// dropConns closes the client's dedicated and pub/sub connections.
func (c *client) dropConns() {
	for i, bc := range c.ded {
		if bc != nil {
			bc.abort("client closed")
			c.ded[i] = nil
		}
	}
	for i, bc := range c.subs {
		if bc != nil {
			bc.abort("client closed")
			c.subs[i] = nil
		}
	}
}

// unbind detaches the client from its database.
func (c *client) unbind() {
	db := c.db
	if db == nil {
		return
	}
	db.mu.Lock()
	if _, ok := db.clients[c]; ok {
		delete(db.clients, c)
		db.nconns.Add(-1)
	}
	db.mu.Unlock()
	c.db = nil
	c.pushDB.Store(nil)
	c.route = nil
	c.pooled = nil
}

// backendLost is called (from the connection's reader) when one of the
// client's own backend connections fails. Subscriptions and tracking
// cannot be silently rebuilt, so the client is closed and reconnects, as
// it would if it had been talking to the shard itself.
func (c *client) backendLost(bc *backendConn) {
	if bc.mode == modePubSub || bc.critical.Load() {
		c.kill("dedicated backend connection lost")
	}
}
