// Package host is the data node's managed mode: a shard host that
// registers with the control plane, heartbeats, and reconciles the shard
// engines it runs (one node.Server per shard, each on its own port) with
// the desired state each heartbeat answers, like a kubelet.
//
// The control plane is never in the data path: when it is unreachable the
// host keeps its shards serving on their last desired state, which it also
// keeps on disk (<data-dir>/state.json) so that a restarted host brings its
// shards back before the control plane answers.
package host

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"time"

	"github.com/keyfleet/keyfleet/internal/wire"
	"github.com/keyfleet/keyfleet/node"
)

// Host runs the shards the control plane assigns to one node.
type Host struct {
	opts Options
	log  *slog.Logger
	cp   *cpClient
	// base is the parent context of every shard engine: cancelled only
	// after Run has stopped them one by one.
	base context.Context

	// mu guards what follows; the loop goroutine is the only writer, and
	// Statuses may read from elsewhere.
	mu       sync.Mutex
	shards   map[string]*shard
	desired  wire.NodeDesired
	nodeID   string
	interval time.Duration
	// registered is false until this process has registered, and again
	// when the control plane no longer knows the node.
	registered bool
	// gcPending asks the next reconcile to delete shard directories no
	// desired shard owns; set when the control plane answers.
	gcPending bool
	// memLimit is the sum of the running shards' maxmemory last handed
	// to node.SetProcessMemoryLimit, so that GOMEMLIMIT follows the
	// shards this process hosts and one tenant filling its shard cannot
	// push the process into the kernel's OOM killer.
	memLimit int64
	gcDone   bool // the control plane has answered once
	// lease is the write lease granted after each heartbeat (0: none);
	// leaseUntil is when the last one granted ends.
	lease      time.Duration
	leaseUntil time.Time
}

// New checks opts and returns a host ready to Run.
func New(opts Options, log *slog.Logger) (*Host, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	return &Host{
		opts:     opts,
		log:      log,
		cp:       newCPClient(opts.ControlPlane, opts.NodeToken, opts.RequestTimeout),
		shards:   make(map[string]*shard),
		interval: defaultHeartbeat,
	}, nil
}

// Run starts the host and its shards and serves until ctx ends; then it
// stops every shard (keeping their data) and returns. It only fails when
// the data directory is unusable: control-plane errors are retried
// forever, and shard errors are reported to the control plane.
func Run(ctx context.Context, opts Options, log *slog.Logger) error {
	h, err := New(opts, log)
	if err != nil {
		return err
	}
	return h.Run(ctx)
}

// Main runs managed mode from the node's command line.
func Main(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	opts, err := ParseFlags(args, os.Getenv, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	// One GC policy for the process and all its shards (node/gcpolicy.go).
	if err := node.StartGCPolicy(ctx); err != nil {
		return err
	}
	return Run(ctx, opts, log)
}

// Run serves until ctx ends. A Host runs once.
func (h *Host) Run(ctx context.Context) error {
	if err := os.MkdirAll(filepath.Join(h.opts.DataDir, "shards"), 0o700); err != nil {
		return fmt.Errorf("node host data dir: %w", err)
	}
	base, cancelShards := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelShards()
	h.base = base
	defer h.cp.close()

	h.log.Info("node host starting", "name", h.opts.Name, "advertise", h.opts.Advertise,
		"ports", fmt.Sprintf("%d-%d", h.opts.PortMin, h.opts.PortMax), "memory_mb", h.opts.MemoryMB,
		"bind", h.opts.Bind, "data_dir", h.opts.DataDir, "controlplane", h.opts.ControlPlane)
	st, err := loadState(h.opts.DataDir)
	if err != nil {
		h.log.Error("starting without a saved desired state", "err", err)
	}
	if st.ControlPlane != "" && st.ControlPlane != h.opts.ControlPlane {
		h.log.Warn("saved state came from another control plane URL; resuming its shards until this one answers",
			"saved", st.ControlPlane)
	}
	h.mu.Lock()
	h.desired, h.nodeID = st.Desired, st.NodeID
	h.mu.Unlock()
	if len(st.Desired.Shards) > 0 {
		h.log.Info("resuming shards from saved state", "shards", len(st.Desired.Shards), "saved_at", st.SavedAt)
	}
	h.reconcile()

	failures := 0
	next := time.Now()
	promptReport := true // one immediate report after changes, never a loop of them
	for {
		if !time.Now().Before(next) {
			if err := h.contact(ctx); err != nil {
				if ctx.Err() != nil {
					break
				}
				failures++
				// Log the first failure and then sparsely: an outage can
				// last hours at one attempt per backoff.
				if failures&(failures-1) == 0 {
					msg := "control plane unreachable; shards keep serving their last desired state"
					if he := (*HTTPError)(nil); errors.As(err, &he) && !he.transient() {
						msg = "control plane refused this node (check --node-token); shards keep serving their last desired state"
					}
					h.log.Warn(msg, "consecutive_failures", failures, "err", err)
				}
				next = time.Now().Add(h.backoff(failures))
			} else {
				if failures > 0 {
					h.log.Info("control plane reachable again", "after_failures", failures)
				}
				failures = 0
				next = time.Now().Add(h.heartbeatInterval())
			}
		}
		if h.reconcile() && failures == 0 && promptReport {
			next = time.Now()
			promptReport = false
		} else {
			promptReport = true
		}
		wait := min(time.Until(next), h.heartbeatInterval())
		t := time.NewTimer(max(wait, 0))
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		if ctx.Err() != nil {
			break
		}
	}
	h.log.Info("node host stopping shards")
	h.stopAll()
	return nil
}

func (h *Host) heartbeatInterval() time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.interval
}

// backoff is the wait before the next attempt after n consecutive
// failures: doubling from the heartbeat interval up to MaxBackoff, with
// jitter so that many nodes do not return to a recovering control plane
// in lockstep.
func (h *Host) backoff(n int) time.Duration {
	d := h.heartbeatInterval()
	for i := 1; i < n && d < h.opts.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, max(h.opts.MaxBackoff, h.heartbeatInterval()))
	return d/2 + rand.N(d/2+1)
}

// contact registers if needed, then heartbeats with the shards' status
// and takes the answer as the new desired state.
func (h *Host) contact(ctx context.Context) error {
	h.mu.Lock()
	registered := h.registered
	h.mu.Unlock()
	if !registered {
		reg, err := h.cp.register(ctx, wire.NodeRegister{
			Name:      h.opts.Name,
			Advertise: h.opts.Advertise,
			PortMin:   h.opts.PortMin,
			PortMax:   h.opts.PortMax,
			MemoryMB:  h.opts.MemoryMB,
			Version:   node.KeyfleetVersion,
		})
		if err != nil {
			return fmt.Errorf("register: %w", err)
		}
		if reg.NodeID == "" {
			return errors.New("register: the control plane answered without a node id")
		}
		iv := reg.HeartbeatInterval
		if iv <= 0 {
			iv = defaultHeartbeat
		}
		iv = min(max(iv, minHeartbeat), 5*time.Minute)
		h.mu.Lock()
		if h.nodeID != "" && h.nodeID != reg.NodeID {
			h.log.Warn("control plane gave this node a new id", "old", h.nodeID, "new", reg.NodeID)
		}
		h.nodeID, h.interval, h.registered = reg.NodeID, iv, true
		h.lease = reg.WriteLease
		if h.opts.WriteLease != 0 {
			h.lease = max(h.opts.WriteLease, 0)
		}
		h.mu.Unlock()
		h.log.Info("registered with the control plane", "node_id", reg.NodeID, "heartbeat_interval", iv)
	}

	h.mu.Lock()
	nodeID := h.nodeID
	h.mu.Unlock()
	sent := time.Now()
	desired, err := h.cp.heartbeat(ctx, wire.NodeHeartbeat{NodeID: nodeID, Shards: h.statuses()})
	if err == nil {
		h.renewLeases(sent)
	}
	if err != nil {
		var he *HTTPError
		if errors.As(err, &he) && (he.Status == http.StatusNotFound || he.Status == http.StatusUnauthorized || he.Status == http.StatusForbidden) {
			// The control plane forgot the node (or rotated tokens):
			// register again on the next attempt.
			h.mu.Lock()
			h.registered = false
			h.mu.Unlock()
		}
		return fmt.Errorf("heartbeat: %w", err)
	}
	if desired.Shards == nil {
		desired.Shards = []wire.DesiredShard{}
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	first := !h.gcDone
	h.gcDone = true
	if first || !reflect.DeepEqual(desired, h.desired) {
		h.gcPending = true
	}
	if desired.Drain != h.desired.Drain {
		h.log.Info("control plane changed drain", "drain", desired.Drain)
	}
	changed := !reflect.DeepEqual(desired, h.desired)
	h.desired = desired
	if changed || first {
		err := saveState(h.opts.DataDir, state{ControlPlane: h.opts.ControlPlane, NodeID: h.nodeID, Desired: desired})
		if err != nil {
			// Serving goes on; only a restart before the next save loses
			// the newest desired state.
			h.log.Error("cannot save desired state", "err", err)
		}
	}
	return nil
}

// Statuses reports every desired shard as the next heartbeat would.
func (h *Host) Statuses() []wire.ShardStatus { return h.statuses() }

// NodeID is the id the control plane gave this node ("" before it did).
func (h *Host) NodeID() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.nodeID
}

// renewLeases extends the write lease of every running shard after a
// heartbeat sent at sent succeeded: the control plane heard from the node
// then, so it will not declare it down before sent + its node timeout,
// which the lease is well under. Without a lease (the control plane asks
// for none, or it is turned off here) shards never refuse writes for it.
func (h *Host) renewLeases(sent time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.leaseUntil = time.Time{}
	if h.lease > 0 {
		h.leaseUntil = sent.Add(h.lease)
	}
	for _, sh := range h.shards {
		if sh.running() {
			sh.srv.RenewWriteLease(h.leaseUntil)
		}
	}
}

// grantLease gives a shard just started the lease of the last heartbeat.
// Before this process has heard from the control plane, the lease it
// will ask for is unknown, so a shard started from saved state accepts no
// writes until a heartbeat succeeds (it may have been failed over while
// the node was away). The caller holds h.mu.
func (h *Host) grantLease(sh *shard) {
	if h.opts.WriteLease < 0 || h.registered && h.lease <= 0 {
		return
	}
	until := h.leaseUntil
	if until.IsZero() {
		until = time.Unix(0, 1) // long expired
	}
	sh.srv.RenewWriteLease(until)
}
