// Package node is Keyfleet's data engine: a Redis 7.0-compatible server
// for one shard. A node process runs one Server standalone, or many (one
// per shard) under node/host in managed mode; Servers share nothing.
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/keyfleet/keyfleet/node/keyspace"
	"github.com/tidwall/redcon"
)

// Version is the Redis version the engine reports and follows.
const Version = "7.0.15"

// KeyfleetVersion is the product's own version.
const KeyfleetVersion = "0.1.0"

// Server is one shard engine: its keyspace, clients and configuration.
// Commands of a shard run one at a time under mu: that is the engine's
// single logical thread (MULTI, scripts and blocking wake-ups are atomic).
type Server struct {
	mu  sync.Mutex
	cfg *Config
	log *slog.Logger

	dbs []*DB

	// cmdTime is the clock of the command being executed (unix ms).
	cmdTime int64
	// The command clock is derived from the monotonic clock (clockNow):
	// monoBase is a fixed origin; wallAt is a wall time read at monoAt
	// (its offset from monoBase), refreshed per batch and by the cron.
	monoBase time.Time
	wallAt   time.Time
	monoAt   time.Duration
	lruClock uint32
	noTouch  bool // set while CLIENT NO-TOUCH style reads run

	rng *rand.Rand

	clients      map[int64]*Client
	nextClientID atomic.Int64

	stats stats
	// statCache finds commandstats entries by command id (cmdStatFor);
	// statCacheOf is the map it was filled from.
	statCache   []*cmdStat
	statCacheOf unsafe.Pointer
	// dirty counts changes since the last save, as Redis's server.dirty.
	dirty       int64
	hooks       hooks
	ext         map[string]any // per-subsystem state, keyed by subsystem name
	notifyFlags int

	startTime time.Time
	runID     string

	ln      net.Listener
	rs      *redcon.Server
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{}
	closing atomic.Bool
}

// hooks are the points where subsystems (transactions, pub/sub, blocking
// operations, replication and AOF) plug into the keyspace. A nil hook is
// a subsystem that is not active.
type hooks struct {
	keyModified func(db *DB, key []byte)
	keyReady    func(db *DB, key []byte)
	propagate   func(dbid int, argv [][]byte)
	notify      func(class int, event string, key []byte, dbid int)
	clientGone  []func(c *Client)
	beforeCall  func(c *Client, cmd *command, args [][]byte)
	afterCall   func(c *Client, cmd *command, args [][]byte, dur time.Duration)
	cron        []func(now time.Time)
	isReplica   func() bool
}

// serverInits are run by New for each subsystem that registered one; they
// fill in hooks and per-server state. Registered from init functions only.
var serverInits []func(s *Server)

type stats struct {
	totalConnections int64
	totalCommands    int64
	rejectedConns    int64
	expiredKeys      int64
	evictedKeys      int64
	keyspaceHits     int64
	keyspaceMisses   int64
	totalErrors      int64
	netInput         int64
	netOutput        int64
	errorCounts      map[string]int64
	cmdStats         map[string]*cmdStat
}

type cmdStat struct {
	calls, usec, rejected, failed int64
	hist                          *latencyHist // LATENCY HISTOGRAM (latency.go)
}

// New returns a Server for cfg. Call Run to serve.
func New(cfg *Config, log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	s := &Server{
		cfg:       cfg,
		log:       log,
		clients:   make(map[int64]*Client),
		rng:       rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
		startTime: time.Now(),
		ext:       make(map[string]any),
		done:      make(chan struct{}),
	}
	s.runID = randomHex(s.rng, 40)
	s.stats.errorCounts = make(map[string]int64)
	s.stats.cmdStats = make(map[string]*cmdStat)
	s.dbs = make([]*DB, cfg.Databases)
	for i := range s.dbs {
		s.dbs[i] = newDB(i)
	}
	s.monoBase = time.Now()
	s.syncClock(s.monoBase)
	s.updateClock(time.Now())
	for _, f := range serverInits {
		f(s)
	}
	return s
}

func randomHex(r *rand.Rand, n int) string {
	const hex = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = hex[r.IntN(16)]
	}
	return string(b)
}

func (s *Server) isReplica() bool {
	return s.hooks.isReplica != nil && s.hooks.isReplica()
}

// monoNow is the time since the server's creation by the monotonic clock:
// a single clock reading, cheaper than time.Now's two.
func (s *Server) monoNow() time.Duration { return time.Since(s.monoBase) }

// syncClock re-anchors clockNow's wall time on now (a time.Now reading),
// so that changes of the system clock are followed within a batch or a
// cron tick.
func (s *Server) syncClock(now time.Time) {
	s.wallAt = now
	s.monoAt = now.Sub(s.monoBase)
}

// clockNow is the current time from one monotonic reading, anchored on
// the last syncClock: what execute uses as the command's clock, as
// Redis caches mstime rather than asking the kernel for every use.
func (s *Server) clockNow() time.Time {
	return s.wallAt.Add(s.monoNow() - s.monoAt)
}

func (s *Server) updateClock(now time.Time) {
	s.cmdTime = now.UnixMilli()
	s.lruClock = uint32(now.Unix()) & lruClockMax
}

// lruClockMax bounds the 24-bit LRU clock, as Redis's LRU_CLOCK_MAX.
const lruClockMax = 1<<24 - 1

// Addr returns the address the server listens on, once Run has started.
func (s *Server) Addr() net.Addr {
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Listen opens the server's listener without serving, so that callers
// can learn the address (port 0 picks a free one) before Run.
func (s *Server) Listen() error {
	if s.ln != nil {
		return nil
	}
	// One socket per bind address, and the unix socket, behind one listener
	// that CONFIG SET port/bind can move (listenerSet, config_cmd.go).
	ln, err := s.openListeners()
	if err != nil {
		return fmt.Errorf("listen on port %d: %w", s.cfg.Port, err)
	}
	s.ln = ln
	return nil
}

// Run serves until ctx is cancelled or SHUTDOWN, then closes every
// connection and returns.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Listen(); err != nil {
		return err
	}
	s.ctx, s.cancel = context.WithCancel(ctx)
	defer s.cancel()
	s.rs = redcon.NewServerNetwork("tcp", s.ln.Addr().String(), s.serveRESP, s.accept, s.closed)
	errc := make(chan error, 1)
	// Every connection goes through the protocol guard (protoguard.go).
	go func() { errc <- s.rs.Serve(guardListener{s.ln}) }()
	go s.cronLoop(s.ctx)
	s.log.Info("Ready to accept connections tcp", "addr", s.ln.Addr().String())
	var err error
	select {
	case <-s.ctx.Done():
	case err = <-errc:
		errc = nil
	}
	s.closing.Store(true)
	s.rs.Close()
	// redcon's Close does nothing until its Serve has started: a shard
	// stopped right after Start kept its port (and served on it). Close
	// the listener too, and wait for Serve to close its connections, so
	// that the port is free once Done is closed.
	s.ln.Close()
	if errc != nil {
		<-errc
	}
	s.shutdownHooks()
	close(s.done)
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// shutdownHooks runs what must happen when the server stops (saving,
// closing files); subsystems add to it.
func (s *Server) shutdownHooks() {}

// Shutdown stops the server as Run's context cancellation would.
func (s *Server) Shutdown() {
	if s.cancel != nil {
		s.cancel()
	}
}

// Done is closed when Run has returned its connections.
func (s *Server) Done() <-chan struct{} { return s.done }

func (s *Server) accept(conn redcon.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.clients) >= s.cfg.MaxClients {
		s.stats.rejectedConns++
		conn.NetConn().Write([]byte("-ERR max number of clients reached\r\n"))
		return false
	}
	if s.protectedModeDenies(conn.NetConn()) { // config_cmd.go
		return false
	}
	now := time.Now()
	c := &Client{
		srv:        s,
		conn:       conn,
		nc:         conn.NetConn(),
		ID:         s.nextClientID.Add(1),
		addr:       conn.RemoteAddr(),
		createdAt:  now,
		lastActive: now,
		db:         s.dbs[0],
		resp:       2,
	}
	if la := conn.NetConn().LocalAddr(); la != nil {
		c.laddr = la.String()
	}
	c.authenticated = s.cfg.RequirePass == ""
	if g, ok := c.nc.(*protoGuard); ok {
		g.pol = clientGuard{s: s, c: c}
		g.handoff = true // served by serveConn (dispatch.go)
	}
	conn.SetContext(c)
	s.clients[c.ID] = c
	s.stats.totalConnections++
	return true
}

func (s *Server) closed(conn redcon.Conn, err error) {
	c, ok := conn.Context().(*Client)
	if !ok {
		return
	}
	s.mu.Lock()
	s.freeClient(c)
	s.mu.Unlock()
}

// freeClient releases everything a client holds in the shard.
func (s *Server) freeClient(c *Client) {
	if _, ok := s.clients[c.ID]; !ok {
		return
	}
	delete(s.clients, c.ID)
	for _, f := range s.hooks.clientGone {
		f(c)
	}
	c.wmu.Lock()
	c.closed = true
	c.wmu.Unlock()
}

// cronLoop runs serverCron hz times a second: clocks, active expiry,
// incremental rehash and the subsystems' periodic work.
func (s *Server) cronLoop(ctx context.Context) {
	for {
		s.mu.Lock() // CONFIG SET hz writes it under the lock
		hz := max(s.cfg.Hz, 1)
		s.mu.Unlock()
		t := time.NewTimer(time.Second / time.Duration(hz))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case now := <-t.C:
			s.mu.Lock()
			s.syncClock(time.Now())
			s.updateClock(now)
			if !s.cronPaused() { // DEBUG PAUSE-CRON
				s.cron(now)
				for _, f := range s.hooks.cron {
					f(now)
				}
			}
			s.mu.Unlock()
		}
	}
}

// cron does the keyspace's periodic work.
func (s *Server) cron(now time.Time) {
	for _, db := range s.dbs {
		if s.dictResizingDisabled() || !db.ks.Resize() {
			db.ks.Rehash(100)
		}
	}
	s.activeExpireCycle(now)
}

// prefetchBatch warms the cache lines that the next requests of a
// batch will read in the keyspace (keyspace.DB.Prefetch), so that their
// cache misses overlap instead of stalling each command in turn: with a
// keyspace bigger than the CPU's caches, those misses were the largest
// cost of a pipelined GET or SET. It returns how many requests it looked
// at (at least one); the caller calls it again when it reaches the next.
//
// The keys are guessed cheaply: the first argument of a request of up to
// three (GET, SET, INCR, HGET...), the command's key range otherwise
// (MSET, MGET, DEL). A wrong guess costs a hash and a few loads, never a
// wrong result: nothing is changed.
func (s *Server) prefetchBatch(c *Client, batch [][][]byte) int {
	var keys [keyspace.PrefetchMax][]byte
	n, taken := 0, 0
	for _, args := range batch {
		first, last, step := 1, 1, 1
		if len(args) > 3 {
			cmd := lookupCommand(args[0])
			if cmd == nil || cmd.First <= 0 || cmd.Step <= 0 {
				taken++
				continue
			}
			first, last, step = cmd.First, cmd.Last, cmd.Step
			if last < 0 {
				last += len(args)
			}
			last = min(last, len(args)-1)
		}
		if len(args) <= first {
			taken++
			continue
		}
		if taken > 0 && n+(last-first)/step+1 > len(keys) {
			break // the next call takes this request whole
		}
		for j := first; j <= last && n < len(keys); j += step {
			keys[n] = args[j]
			n++
		}
		taken++
		if n == len(keys) {
			break
		}
	}
	if n > 1 {
		c.db.ks.Prefetch(keys[:n])
	}
	return max(taken, 1)
}
