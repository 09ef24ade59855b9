// Package failover is the control plane's automatic failover: one
// control-plane instance leads (a session-scoped Postgres advisory lock
// held on a dedicated connection), probes the node hosts, and when a node
// has neither heartbeated nor answered a probe for the timeout it marks
// the node down and promotes, for each primary shard on it, the replica
// with the highest acknowledged offset. The store does the promotion in
// one transaction (roles swap, epoch bump, routes published, failover
// recorded); this package decides when.
package failover

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyfleet/keyfleet/controlplane/store"
)

// Options configure Run.
type Options struct {
	Store *store.Store
	// Conn is the configuration of the dedicated leadership connection.
	Conn *pgx.ConnConfig
	// Timeout: a node that neither heartbeated nor answered a probe for
	// this long is down (default 2s).
	Timeout time.Duration
	// Interval between probe-and-detect rounds (default Timeout/5
	// within 50ms..1s).
	Interval time.Duration
	// ProbeTimeout bounds one probe (default min(Interval, 1s)).
	ProbeTimeout time.Duration
	// RetryLeadership is how often a follower tries to take the lock.
	RetryLeadership time.Duration
	Log             *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// OnFailover, when set, sees every failover the leader made.
	OnFailover func(store.Failover)
}

// LockKey is the advisory lock the leader holds.
var LockKey = func() int64 {
	h := fnv.New64a()
	h.Write([]byte("keyfleet.controlplane.leader"))
	return int64(h.Sum64())
}()

func (o *Options) defaults() {
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	if o.Interval <= 0 {
		// At most a second: the leader also notices a lost session
		// through its rounds.
		o.Interval = min(max(o.Timeout/5, 50*time.Millisecond), time.Second)
	}
	if o.ProbeTimeout <= 0 {
		o.ProbeTimeout = min(max(o.Interval, 100*time.Millisecond), time.Second)
	}
	if o.RetryLeadership <= 0 {
		o.RetryLeadership = 500 * time.Millisecond
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Monitor runs failover; Leader says whether this instance leads now.
type Monitor struct {
	o      Options
	leader atomic.Bool
}

// New checks opts.
func New(o Options) (*Monitor, error) {
	if o.Store == nil || o.Conn == nil {
		return nil, errors.New("failover: a store and a connection config are required")
	}
	o.defaults()
	return &Monitor{o: o}, nil
}

// Leader reports whether this instance holds the leadership lock.
func (m *Monitor) Leader() bool { return m.leader.Load() }

// Run competes for leadership and, while leading, probes and fails over,
// until ctx ends.
func (m *Monitor) Run(ctx context.Context) {
	for ctx.Err() == nil {
		err := m.session(ctx)
		m.leader.Store(false)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			m.o.Log.Warn("failover leadership session ended", "err", err)
		}
		sleep(ctx, m.o.RetryLeadership)
	}
}

// session opens the dedicated connection, waits to take the lock and then
// leads until the connection fails or ctx ends. Closing the connection
// (or the process dying) releases the lock in Postgres.
func (m *Monitor) session(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := pgx.ConnectConfig(cctx, m.o.Conn)
	cancel()
	if err != nil {
		return fmt.Errorf("leadership connection: %w", err)
	}
	defer conn.Close(context.Background())
	for {
		var got bool
		if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, LockKey).Scan(&got); err != nil {
			return fmt.Errorf("take leadership lock: %w", err)
		}
		if got {
			break
		}
		if !sleep(ctx, m.o.RetryLeadership) {
			return nil
		}
	}
	m.leader.Store(true)
	since := m.o.Now()
	m.o.Log.Info("control plane leads failover", "timeout", m.o.Timeout, "interval", m.o.Interval)
	defer m.o.Log.Info("control plane no longer leads failover")
	// A new leader has probed nothing yet: it judges no node on silence
	// before one timeout of its own watching.
	notBefore := since.Add(m.o.Timeout)
	t := time.NewTicker(m.o.Interval)
	defer t.Stop()
	for {
		if err := m.round(ctx, conn, notBefore); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if conn.IsClosed() || conn.Ping(ctx) != nil {
				return err
			}
			m.o.Log.Error("failover round", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// round probes every node, records who answered and fails over what the
// silent nodes held. The writes go through the leader's connection, so a
// leader whose session died cannot commit a failover.
func (m *Monitor) round(ctx context.Context, conn *pgx.Conn, notBefore time.Time) error {
	targets, err := m.o.Store.ProbeTargets(ctx)
	if err != nil {
		return err
	}
	alive := m.probeAll(ctx, targets)
	now := m.o.Now()
	if err := m.o.Store.RecordProbes(ctx, conn, alive, now); err != nil {
		return err
	}
	fs, err := m.o.Store.DetectAndFailover(ctx, conn, now, store.DetectOptions{Timeout: m.o.Timeout, NotBefore: notBefore})
	for _, f := range fs {
		m.o.Log.Warn("failover", "database", f.DatabaseID, "shard", f.ShardID, "from", f.FromAddress, "to", f.ToAddress,
			"epoch", f.NewEpoch, "lag_bytes", f.LagBytes, "reason", f.Reason,
			"detect_to_publish", f.RoutesPublishedAt.Sub(f.DetectedAt))
		if m.o.OnFailover != nil {
			m.o.OnFailover(f)
		}
	}
	return err
}

// probeAll probes the nodes concurrently and returns the ids of those
// that answered.
func (m *Monitor) probeAll(ctx context.Context, targets []store.ProbeTarget) []string {
	var mu sync.Mutex
	var alive []string
	var wg sync.WaitGroup
	for _, t := range targets {
		if len(t.Ports) == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			pctx, cancel := context.WithTimeout(ctx, m.o.ProbeTimeout)
			defer cancel()
			if Probe(pctx, t.Advertise, t.Ports) {
				mu.Lock()
				alive = append(alive, t.NodeID)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return alive
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
