package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"time"

	"github.com/keyfleet/keyfleet/internal/wire"
	"github.com/keyfleet/keyfleet/node"
)

// shard is one desired shard and the engine that serves it, if any.
type shard struct {
	id string
	// want is the desired shard the running engine was last brought in
	// line with; its Port is the port the engine listens on.
	want wire.DesiredShard
	srv  *node.Server
	stop context.CancelFunc
	// err says why the shard is not running as desired: it failed to
	// start, or the latest desired config could not be applied.
	err error
	// replicaOf is the primary the engine follows ("" for a primary) and
	// roleErr why following the desired one failed.
	replicaOf string
	roleErr   error
	// promoteAt is when a replica the control plane made primary is
	// promoted if its old primary has not handed over by then (zero:
	// no promotion pending).
	promoteAt time.Time
}

func (sh *shard) running() bool {
	if sh.srv == nil {
		return false
	}
	select {
	case <-sh.srv.Done():
		return false
	default:
		return true
	}
}

// shardIDPattern keeps shard ids usable as directory names: an id never
// names a path outside <data-dir>/shards.
var shardIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

// persistence maps the wire's persistence values to the engine's
// directives. "rdb" is Redis's default snapshot schedule; the AOF modes
// keep no separate snapshots (an AOF rewrite starts from an RDB preamble).
var persistence = map[string]struct {
	appendOnly bool
	fsync      string
	save       string
}{
	"":             {false, "everysec", ""},
	"none":         {false, "everysec", ""},
	"rdb":          {false, "everysec", "3600 1 300 100 60 10000"},
	"aof-everysec": {true, "everysec", ""},
	"aof-always":   {true, "always", ""},
}

// settingsFor derives an engine's settings from a desired shard,
// refusing what must never run: a shard without a password would serve
// anyone who can reach its port.
func settingsFor(d wire.DesiredShard) (node.ManagedSettings, error) {
	if d.Password == "" {
		return node.ManagedSettings{}, errors.New("desired shard has no internal password")
	}
	p, ok := persistence[d.Persistence]
	if !ok {
		return node.ManagedSettings{}, fmt.Errorf("persistence %q is not one of none, rdb, aof-everysec, aof-always", d.Persistence)
	}
	m := node.ManagedSettings{
		MaxMemory:       d.MaxMemory,
		MaxMemoryPolicy: d.EvictionPolicy,
		RequirePass:     d.Password,
		AppendOnly:      p.appendOnly,
		AppendFsync:     p.fsync,
		Save:            p.save,
	}
	if m.MaxMemoryPolicy == "" {
		m.MaxMemoryPolicy = "noeviction"
	}
	return m, m.Validate()
}

func (h *Host) shardDir(id string) string {
	return filepath.Join(h.opts.DataDir, "shards", id)
}

// reconcile brings the running engines in line with h.desired, like a
// kubelet: start what is missing (or exited), restart what moved port,
// reconfigure what changed, stop (and delete the data of) what is no
// longer wanted. It reports whether an engine was started, stopped or
// reconfigured, so that the caller can tell the control plane promptly.
// It runs on the host's loop goroutine only.
func (h *Host) reconcile() (changed bool) {
	h.mu.Lock()
	defer h.mu.Unlock()

	wanted := make(map[string]bool, len(h.desired.Shards))
	for _, d := range h.desired.Shards {
		wanted[d.ShardID] = true
	}
	for id, sh := range h.shards {
		if wanted[id] {
			continue
		}
		if sh.srv != nil {
			h.stopShard(sh)
			changed = true
		}
		delete(h.shards, id)
		if shardIDPattern.MatchString(id) {
			if err := os.RemoveAll(h.shardDir(id)); err != nil {
				h.log.Error("delete data of removed shard", "shard", id, "err", err)
			}
		}
		h.log.Info("shard removed", "shard", id)
	}

	ports := make(map[int]string, len(h.desired.Shards))
	seen := make(map[string]bool, len(h.desired.Shards))
	for _, d := range h.desired.Shards {
		if seen[d.ShardID] {
			h.log.Error("control plane sent a shard twice; ignoring the second", "shard", d.ShardID)
			continue
		}
		seen[d.ShardID] = true
		sh := h.shards[d.ShardID]
		if sh == nil {
			sh = &shard{id: d.ShardID, want: d}
			h.shards[d.ShardID] = sh
		}
		if sh.srv != nil && d.Epoch < sh.want.Epoch {
			// Fencing: a shard's epoch only grows (each failover bumps
			// it), so an older desired state is stale news, e.g. from a
			// control plane restored from an old backup.
			if sh.err == nil {
				h.log.Error("ignoring desired state with an older epoch", "shard", d.ShardID, "epoch", d.Epoch, "running_epoch", sh.want.Epoch)
			}
			sh.err = fmt.Errorf("desired epoch %d is older than the running epoch %d", d.Epoch, sh.want.Epoch)
			ports[sh.want.Port] = d.ShardID
			continue
		}
		if err := h.check(d, ports); err != nil {
			// A running engine keeps serving its last good config: a bad
			// update must not take a healthy shard down.
			sh.err = err
			continue
		}
		ports[d.Port] = d.ShardID
		if h.reconcileShard(sh, d) {
			changed = true
		}
	}
	if h.gcPending {
		h.gcPending = false
		h.removeStrayDirs()
	}
	h.applyMemoryLimit()
	return changed
}

// applyMemoryLimit sets the process's Go memory limit from the shards
// that run now (their maxmemory plus headroom), when that sum changed.
func (h *Host) applyMemoryLimit() {
	var total int64
	for _, sh := range h.shards {
		if sh.srv != nil {
			total += sh.want.MaxMemory
		}
	}
	if total == h.memLimit {
		return
	}
	h.memLimit = total
	limit := node.SetProcessMemoryLimit(total)
	h.log.Info("process memory limit follows the shards", "shards_maxmemory", total, "gomemlimit", limit)
}

// check validates a desired shard before anything is done for it.
func (h *Host) check(d wire.DesiredShard, ports map[int]string) error {
	if !shardIDPattern.MatchString(d.ShardID) {
		return fmt.Errorf("shard id %q is not 1-128 letters, digits, '.', '_' or '-'", d.ShardID)
	}
	if d.Port < h.opts.PortMin || d.Port > h.opts.PortMax {
		return fmt.Errorf("port %d is outside this node's range %d-%d", d.Port, h.opts.PortMin, h.opts.PortMax)
	}
	if other, taken := ports[d.Port]; taken {
		return fmt.Errorf("port %d is also desired for shard %s", d.Port, other)
	}
	switch d.Role {
	case "", "primary":
	case "replica":
		if d.ReplicaOf == "" {
			return errors.New("replica without replica_of")
		}
	default:
		return fmt.Errorf("role %q is not primary or replica", d.Role)
	}
	_, err := settingsFor(d)
	return err
}

// reconcileShard handles one valid desired shard.
func (h *Host) reconcileShard(sh *shard, d wire.DesiredShard) (changed bool) {
	log := h.log.With("shard", d.ShardID, "port", d.Port)
	if sh.srv != nil && !sh.running() {
		log.Warn("shard engine exited; restarting it")
		sh.stop()
		sh.srv = nil
		sh.replicaOf, sh.roleErr = "", nil
	}
	if sh.srv != nil && sh.want.Port != d.Port {
		log.Info("shard moves port; restarting it", "from", sh.want.Port)
		h.stopShard(sh)
		changed = true
	}
	set, _ := settingsFor(d) // validated by check
	if sh.srv == nil {
		if err := h.startShard(sh, d, set, log); err != nil {
			if sh.err == nil || sh.err.Error() != err.Error() {
				log.Error("shard failed to start", "err", err)
			}
			sh.err = err
			return changed
		}
		log.Info("shard started", "maxmemory", set.MaxMemory, "policy", set.MaxMemoryPolicy, "persistence", d.Persistence)
		changed = true
	} else if old, _ := settingsFor(sh.want); old != set {
		if err := sh.srv.Reconfigure(set); err != nil {
			sh.err = err
			return changed
		}
		log.Info("shard reconfigured", "maxmemory", set.MaxMemory, "policy", set.MaxMemoryPolicy,
			"password_changed", old.RequirePass != set.RequirePass, "persistence", d.Persistence)
		changed = true
	}
	sh.want = d
	sh.err = nil

	primary := ""
	if d.Role == "replica" {
		primary = d.ReplicaOf
	}
	if primary == sh.replicaOf {
		sh.promoteAt = time.Time{}
	}
	if primary != sh.replicaOf || sh.roleErr != nil {
		var err error
		switch {
		case primary != "" && sh.replicaOf == "" && sh.roleErr == nil && sh.srv.Status().Role == "primary":
			// A running primary is demoted (manual failover): it hands
			// over so that no write it acknowledged is lost, and the
			// replica is promoted by it at once.
			if herr := sh.srv.HandOver(h.base, primary, d.Password, handOverTimeout); herr != nil {
				log.Warn("hand-over to the new primary failed; demoting without it", "to", primary, "err", herr)
				err = sh.srv.ReplicaOf(primary, d.Password)
			} else {
				log.Info("handed over to the new primary", "to", primary)
			}
		case primary == "" && sh.replicaOf != "" && h.awaitHandOver(sh):
			return changed
		default:
			err = sh.srv.ReplicaOf(primary, d.Password)
		}
		sh.promoteAt = time.Time{}
		if err != nil {
			if sh.roleErr == nil || sh.roleErr.Error() != err.Error() {
				log.Error("shard cannot take its desired role", "role", d.Role, "replica_of", d.ReplicaOf, "err", err)
			}
		} else {
			sh.replicaOf = primary
			changed = true
		}
		sh.roleErr = err
	}
	return changed
}

func (h *Host) startShard(sh *shard, d wire.DesiredShard, set node.ManagedSettings, log *slog.Logger) error {
	dir := h.shardDir(d.ShardID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create shard data dir: %w", err)
	}
	cfg := node.DefaultConfig()
	cfg.Port = d.Port
	cfg.Bind = []string{h.opts.Bind}
	cfg.Dir = dir
	if err := set.Apply(cfg); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(h.base)
	srv, err := node.Start(ctx, cfg, log)
	if err != nil {
		cancel()
		return err
	}
	sh.srv, sh.stop = srv, cancel
	h.grantLease(sh)
	return nil
}

// shardStopTimeout bounds how long the host waits for an engine to close
// its connections; a stuck engine must not stall reconciliation.
const shardStopTimeout = 10 * time.Second

func (h *Host) stopShard(sh *shard) {
	sh.stop()
	t := time.NewTimer(shardStopTimeout)
	defer t.Stop()
	select {
	case <-sh.srv.Done():
	case <-t.C:
		h.log.Error("shard engine did not stop in time", "shard", sh.id, "timeout", shardStopTimeout)
	}
	sh.srv, sh.stop = nil, nil
	sh.replicaOf, sh.roleErr = "", nil
}

// removeStrayDirs deletes shard directories that no desired shard owns:
// left behind when the host stopped between a shard's removal and the
// deletion of its data. Only run after the control plane has answered, so
// that a lost state.json never deletes data.
func (h *Host) removeStrayDirs() {
	root := filepath.Join(h.opts.DataDir, "shards")
	ents, err := os.ReadDir(root)
	if err != nil {
		h.log.Error("list shard data dirs", "err", err)
		return
	}
	for _, e := range ents {
		if _, ok := h.shards[e.Name()]; ok || !e.IsDir() {
			continue
		}
		if err := os.RemoveAll(filepath.Join(root, e.Name())); err != nil {
			h.log.Error("delete stray shard data dir", "dir", e.Name(), "err", err)
			continue
		}
		h.log.Info("deleted data of a shard no longer desired", "shard", e.Name())
	}
}

// statuses reports every desired shard, sorted by id.
func (h *Host) statuses() []wire.ShardStatus {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]wire.ShardStatus, 0, len(h.shards))
	for _, sh := range h.shards {
		st := wire.ShardStatus{ShardID: sh.id, Port: sh.want.Port, Epoch: sh.want.Epoch}
		if sh.running() {
			ms := sh.srv.Status()
			st.Role = ms.Role
			st.ReplOffset = ms.ReplOffset
			st.UsedMemory = ms.UsedMemory
			st.MaxMemory = ms.MaxMemory
			st.Keys = ms.Keys
			st.Ops = ms.TotalCommands
			st.Connections = ms.ConnectedClients
			st.SyncInProgress = ms.SyncInProgress
			st.LeaseExpired = ms.LeaseExpired
			if ms.Role == "replica" {
				st.MasterLinkStatus = "down"
				if ms.MasterLinkUp {
					st.MasterLinkStatus = "up"
				}
			}
		}
		switch {
		case sh.err != nil:
			st.Error = sh.err.Error()
		case sh.roleErr != nil:
			st.Error = sh.roleErr.Error()
		case !sh.running():
			st.Error = "not running"
		}
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b wire.ShardStatus) int {
		switch {
		case a.ShardID < b.ShardID:
			return -1
		case a.ShardID > b.ShardID:
			return 1
		}
		return 0
	})
	return out
}

// stopAll stops every engine, keeping their data, when the host exits.
func (h *Host) stopAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, sh := range h.shards {
		if sh.srv != nil {
			h.stopShard(sh)
		}
	}
}

// handOverTimeout bounds how long a demoted primary waits, writes paused,
// for its replica to acknowledge its stream before demoting without it.
const handOverTimeout = 2 * time.Second

// awaitHandOver reports whether the promotion of sh, a replica the
// control plane made primary, waits: while its old primary is alive and
// streaming (something came in the last second), that primary's host is
// about to hand over, which promotes sh with every acknowledged write; a
// primary gone silent (dead, cut off, or idle with nothing to lose) does
// not hold it up. The wait is bounded by two heartbeats. h.mu is held.
func (h *Host) awaitHandOver(sh *shard) bool {
	st := sh.srv.Status()
	if st.Role != "replica" || !st.MasterLinkUp || time.Since(st.MasterLastIO) > time.Second {
		return false
	}
	now := time.Now()
	if sh.promoteAt.IsZero() {
		sh.promoteAt = now.Add(min(2*h.interval, 3*time.Second))
	}
	return now.Before(sh.promoteAt)
}
