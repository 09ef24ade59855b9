package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Failover reasons.
const (
	ReasonNodeDown     = "node_down"
	ReasonManual       = "manual"
	ReasonManualForced = "manual_forced"
)

// Failover is one promotion of a replica, with its timings.
type Failover struct {
	ID          int64     `json:"id"`
	DatabaseID  string    `json:"database_id"`
	ShardID     string    `json:"shard_id"`
	ShardIndex  int       `json:"shard_index"`
	Reason      string    `json:"reason"`
	FromNode    string    `json:"from_node"`
	ToNode      string    `json:"to_node"`
	FromAddress string    `json:"from"`
	ToAddress   string    `json:"to"`
	OldEpoch    int64     `json:"old_epoch"`
	NewEpoch    int64     `json:"new_epoch"`
	ReplOffset  int64     `json:"repl_offset"`
	LagBytes    int64     `json:"lag_bytes"`
	DetectedAt  time.Time `json:"detected_at"`
	// RoutesPublishedAt is when the new routes were committed (and the
	// proxies' long-polls woken).
	RoutesPublishedAt time.Time `json:"routes_published_at"`
	// PromotedAt is when the new primary's node reported it serving as
	// primary at the new epoch; nil until then.
	PromotedAt *time.Time `json:"promoted_at"`
}

// beginner is a pool or a single connection: the leader runs its
// failovers on the connection that holds its leadership lock, so that a
// leader that lost it cannot commit one.
type beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

func (s *Store) txOn(ctx context.Context, b beginner, fn func(pgx.Tx) error) error {
	if b == nil {
		return s.tx(ctx, fn)
	}
	return pgx.BeginFunc(ctx, b, fn)
}

// ReplicaLagError refuses a manual failover whose replica is too far
// behind its primary; force overrides it.
type ReplicaLagError struct {
	ShardID  string
	LagBytes int64
	MaxBytes int64
}

func (e *ReplicaLagError) Error() string {
	if e.LagBytes < 0 {
		return fmt.Sprintf("shard %s: its primary is not reporting, so its replica's lag is unknown; force the failover to promote the replica anyway (acknowledged writes may be lost)", e.ShardID)
	}
	return fmt.Sprintf("shard %s: the best replica is %d bytes behind its primary (more than %d); retry later or force the failover (acknowledged writes may be lost)",
		e.ShardID, e.LagBytes, e.MaxBytes)
}

// NoReplicaError is a failover with no replica able to take over: none
// placed, none running, or none that took the shard's current epoch.
type NoReplicaError struct {
	ShardID string
	Why     string
}

func (e *NoReplicaError) Error() string {
	return fmt.Sprintf("shard %s cannot fail over: %s", e.ShardID, e.Why)
}

// ProbeTarget is a node and the shard ports the leader probes on it.
type ProbeTarget struct {
	NodeID    string
	Name      string
	Advertise string
	Ports     []int
}

// ProbeTargets lists every node with the ports of its placements: a node
// is alive when any of them answers. Down nodes are probed too, so that
// the console shows when one answers again (only a heartbeat brings it
// back up).
func (s *Store) ProbeTargets(ctx context.Context) ([]ProbeTarget, error) {
	rows, err := s.pool.Query(ctx, `SELECT n.id, n.name, n.advertise,
			coalesce(array_agg(pl.port ORDER BY pl.port) FILTER (WHERE pl.port IS NOT NULL), '{}')
		FROM nodes n LEFT JOIN placements pl ON pl.node_id = n.id
		GROUP BY n.id ORDER BY n.name`)
	if err != nil {
		return nil, fmt.Errorf("list probe targets: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ProbeTarget, error) {
		var t ProbeTarget
		var ports []int32
		err := r.Scan(&t.NodeID, &t.Name, &t.Advertise, &ports)
		for _, p := range ports {
			t.Ports = append(t.Ports, int(p))
		}
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("list probe targets: %w", err)
	}
	return out, nil
}

// RecordProbes notes that the nodes answered an active probe at at.
func (s *Store) RecordProbes(ctx context.Context, b beginner, nodeIDs []string, at time.Time) error {
	if len(nodeIDs) == 0 {
		return nil
	}
	return s.txOn(ctx, b, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE nodes SET last_probe_ok = $2 WHERE id = ANY($1)`, nodeIDs, at); err != nil {
			return fmt.Errorf("record probes: %w", err)
		}
		return nil
	})
}

// DetectOptions tune DetectAndFailover.
type DetectOptions struct {
	// Timeout: a node whose last heartbeat and last answered probe are
	// both older is down.
	Timeout time.Duration
	// NotBefore: no node is judged on silence before this time (a leader
	// that just took over has not probed anything yet).
	NotBefore time.Time
}

// DetectAndFailover marks down the nodes silent for opts.Timeout (no
// heartbeat, no probe answered) and fails over every primary shard on a
// down node to its best replica. Shards that cannot fail over now (no
// replica ready) are tried again on the next call. b is the leader's
// connection (nil: the pool).
func (s *Store) DetectAndFailover(ctx context.Context, b beginner, now time.Time, opts DetectOptions) ([]Failover, error) {
	var down []string
	err := s.txOn(ctx, b, func(tx pgx.Tx) error {
		cutoff := now.Add(-opts.Timeout)
		if now.Before(opts.NotBefore) {
			return nil
		}
		rows, err := tx.Query(ctx, `UPDATE nodes SET status = 'down', down_at = $2
			WHERE status <> 'down' AND last_heartbeat < $1 AND coalesce(last_probe_ok, last_heartbeat) < $1
			RETURNING id, name`, cutoff, now)
		if err != nil {
			return fmt.Errorf("mark nodes down: %w", err)
		}
		type node struct{ id, name string }
		nodes, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (node, error) {
			var n node
			err := r.Scan(&n.id, &n.name)
			return n, err
		})
		if err != nil {
			return fmt.Errorf("mark nodes down: %w", err)
		}
		for _, n := range nodes {
			down = append(down, n.id)
			if _, err := tx.Exec(ctx, `UPDATE placements SET running = false WHERE node_id = $1`, n.id); err != nil {
				return fmt.Errorf("mark node placements stopped: %w", err)
			}
			if err := event(ctx, tx, "node.down", "node "+n.name+" missed its heartbeats and probes", "", "", n.id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}

	// Every primary on a down node, whether it went down now or earlier
	// with no replica ready then. A node marked down for its heartbeats
	// alone (the reconciler does) but still answering probes keeps its
	// primaries: it serves, only its link to the control plane is cut.
	rows, err := s.pool.Query(ctx, `SELECT sh.id, coalesce(n.down_at, $1)
		FROM placements pl JOIN shards sh ON sh.id = pl.shard_id JOIN databases d ON d.id = sh.database_id
		JOIN nodes n ON n.id = pl.node_id
		WHERE pl.role = 'primary' AND n.status = 'down' AND d.status = 'active'
		  AND n.last_heartbeat < $2 AND coalesce(n.last_probe_ok, n.last_heartbeat) < $2
		ORDER BY sh.database_id, sh.idx`, now, now.Add(-opts.Timeout))
	if err != nil {
		return nil, fmt.Errorf("find primaries on down nodes: %w", err)
	}
	type pending struct {
		shard    string
		detected time.Time
	}
	todo, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (pending, error) {
		var p pending
		err := r.Scan(&p.shard, &p.detected)
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("find primaries on down nodes: %w", err)
	}
	var out []Failover
	var errs []error
	for _, p := range todo {
		var f Failover
		err := s.txOn(ctx, b, func(tx pgx.Tx) error {
			var err error
			f, err = failoverShard(ctx, tx, p.shard, failoverRequest{reason: ReasonNodeDown, detectedAt: p.detected, primaryDown: true})
			return err
		})
		var nr *NoReplicaError
		switch {
		case errors.As(err, &nr):
			s.log.Warn("primary on a down node has no replica to promote", "shard", p.shard, "why", nr.Why)
		case err != nil:
			errs = append(errs, err)
		case f.ID != 0:
			out = append(out, f)
		}
	}
	return out, errors.Join(errs...)
}

type failoverRequest struct {
	reason     string
	detectedAt time.Time
	// primaryDown: only fail over if the primary's node is down (the
	// automatic case; a node back up in between keeps its primary).
	primaryDown bool
	// maxLag refuses a replica further behind (manual, not forced); <0
	// means no bound.
	maxLag int64
}

// failoverShard promotes the shard's best replica in tx: the replica that
// is running, took the shard's current epoch and has the highest offset.
// The roles swap, the epoch grows by one, routes are published when tx
// commits and the failover is recorded. A zero Failover means there was
// nothing to do (the primary is no longer on a down node).
func failoverShard(ctx context.Context, tx pgx.Tx, shardID string, req failoverRequest) (Failover, error) {
	f := Failover{ShardID: shardID, Reason: req.reason, DetectedAt: req.detectedAt}
	var accountID string
	var primaryStatus string
	var primaryRunning bool
	var primaryOffset int64
	var primaryReportedAt *time.Time
	err := tx.QueryRow(ctx, `SELECT sh.database_id, d.account_id, sh.idx, sh.epoch, pl.node_id, n.advertise || ':' || pl.port,
			n.status, pl.running AND pl.reported_role = 'primary', pl.repl_offset, pl.reported_at
		FROM shards sh JOIN databases d ON d.id = sh.database_id
		JOIN placements pl ON pl.shard_id = sh.id AND pl.role = 'primary'
		JOIN nodes n ON n.id = pl.node_id
		WHERE sh.id = $1 FOR UPDATE OF sh`, shardID).Scan(&f.DatabaseID, &accountID, &f.ShardIndex, &f.OldEpoch, &f.FromNode,
		&f.FromAddress, &primaryStatus, &primaryRunning, &primaryOffset, &primaryReportedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Failover{}, ErrNotFound
	}
	if err != nil {
		return Failover{}, fmt.Errorf("lock shard %s: %w", shardID, err)
	}
	if req.primaryDown && primaryStatus != NodeDown {
		return Failover{}, nil
	}

	rows, err := tx.Query(ctx, `SELECT pl.node_id, n.advertise || ':' || pl.port, pl.repl_offset,
			pl.running, pl.reported_role, pl.reported_epoch, n.status, pl.link_status, pl.link_up_at
		FROM placements pl JOIN nodes n ON n.id = pl.node_id
		WHERE pl.shard_id = $1 AND pl.role = 'replica'
		ORDER BY pl.repl_offset DESC, n.name`, shardID)
	if err != nil {
		return Failover{}, fmt.Errorf("list replicas: %w", err)
	}
	type replica struct {
		node, addr, role, status string
		offset, epoch            int64
		running                  bool
		link                     string
		linkUpAt                 *time.Time
	}
	reps, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (replica, error) {
		var rp replica
		err := r.Scan(&rp.node, &rp.addr, &rp.offset, &rp.running, &rp.role, &rp.epoch, &rp.status, &rp.link, &rp.linkUpAt)
		return rp, err
	})
	if err != nil {
		return Failover{}, fmt.Errorf("list replicas: %w", err)
	}
	if len(reps) == 0 {
		return Failover{}, &NoReplicaError{ShardID: shardID, Why: "it has no replica"}
	}
	var best *replica
	why := ""
	for i := range reps {
		rp := &reps[i]
		switch {
		case rp.status == NodeDown:
			why = "its replicas' nodes are down"
		case !rp.running:
			why = "no replica is running"
		case rp.link == "" && primaryOffset > 0 && rp.offset <= 0:
			// A node that does not report its link: still in its first
			// sync, promoting it would empty the shard.
			why = "no replica has synced with its primary yet"
		case rp.link != "" && !linkWasUp(rp.link, rp.linkUpAt, req.primaryDown, primaryReportedAt):
			// Not streaming from the primary (never synced, in a full
			// sync, or cut off): its offset may be far behind.
			why = "no replica is streaming from its primary"
		case rp.role != "replica" || rp.epoch != f.OldEpoch:
			// A copy that has not taken the current epoch may hold
			// another history (a stale primary coming back).
			why = "no replica has caught up with the shard's current epoch"
		default:
			best = rp
		}
		if best != nil {
			break
		}
	}
	if best == nil {
		return Failover{}, &NoReplicaError{ShardID: shardID, Why: why}
	}
	f.ToNode, f.ToAddress, f.ReplOffset = best.node, best.addr, best.offset
	if primaryOffset > best.offset {
		f.LagBytes = primaryOffset - best.offset
	}
	if req.maxLag >= 0 && !req.primaryDown {
		if !primaryRunning {
			return Failover{}, &ReplicaLagError{ShardID: shardID, LagBytes: -1, MaxBytes: req.maxLag}
		}
		if f.LagBytes > req.maxLag {
			return Failover{}, &ReplicaLagError{ShardID: shardID, LagBytes: f.LagBytes, MaxBytes: req.maxLag}
		}
	}

	if _, err := tx.Exec(ctx, `UPDATE placements SET role = CASE WHEN node_id = $2 THEN 'primary' ELSE 'replica' END
		WHERE shard_id = $1`, shardID, f.ToNode); err != nil {
		return Failover{}, fmt.Errorf("swap roles: %w", err)
	}
	if err := tx.QueryRow(ctx, `UPDATE shards SET epoch = epoch + 1 WHERE id = $1 RETURNING epoch`, shardID).Scan(&f.NewEpoch); err != nil {
		return Failover{}, fmt.Errorf("bump epoch: %w", err)
	}
	if _, err := bumpRoutes(ctx, tx); err != nil {
		return Failover{}, err
	}
	if err := tx.QueryRow(ctx, `INSERT INTO failovers (database_id, shard_id, reason, from_node, to_node, from_address, to_address,
			old_epoch, new_epoch, repl_offset, lag_bytes, detected_at, routes_published_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, clock_timestamp())
		RETURNING id, routes_published_at`,
		f.DatabaseID, shardID, f.Reason, f.FromNode, f.ToNode, f.FromAddress, f.ToAddress, f.OldEpoch, f.NewEpoch,
		f.ReplOffset, f.LagBytes, f.DetectedAt).Scan(&f.ID, &f.RoutesPublishedAt); err != nil {
		return Failover{}, fmt.Errorf("record failover: %w", err)
	}
	msg := fmt.Sprintf("shard %d failed over (%s): %s -> %s, epoch %d, replica lag %d bytes",
		f.ShardIndex, f.Reason, f.FromAddress, f.ToAddress, f.NewEpoch, f.LagBytes)
	if err := event(ctx, tx, "database.failover", msg, accountID, f.DatabaseID, f.ToNode); err != nil {
		return Failover{}, err
	}
	return f, nil
}

// ManualFailover promotes a replica of one shard (shardID) or of every
// shard (shardID ""), all or none: without force, a shard whose best
// replica lags its primary by more than maxLagBytes (or whose primary does
// not report, so the lag is unknown) refuses with a *ReplicaLagError. The
// old primary becomes a replica of the new one.
func (s *Store) ManualFailover(ctx context.Context, accountID, databaseID, shardID string, force bool, maxLagBytes int64, now time.Time) ([]Failover, error) {
	var out []Failover
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var status string
		err := tx.QueryRow(ctx, `SELECT status FROM databases WHERE id = $1 AND ($2 = '' OR account_id = $2) FOR UPDATE`,
			databaseID, accountID).Scan(&status)
		if errors.Is(err, pgx.ErrNoRows) || status == StatusDeleting {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("lock database: %w", err)
		}
		if status != StatusActive {
			return &ConflictError{Field: "database", Msg: "the database is " + status + "; only an active database fails over"}
		}
		rows, err := tx.Query(ctx, `SELECT id FROM shards WHERE database_id = $1 AND ($2 = '' OR id = $2) ORDER BY idx`, databaseID, shardID)
		if err != nil {
			return fmt.Errorf("list shards: %w", err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("list shards: %w", err)
		}
		if len(ids) == 0 {
			return &ConflictError{Field: "shard", Msg: "the database has no shard " + shardID}
		}
		req := failoverRequest{reason: ReasonManual, detectedAt: now, maxLag: maxLagBytes}
		if force {
			req.reason, req.maxLag = ReasonManualForced, -1
		}
		for _, id := range ids {
			f, err := failoverShard(ctx, tx, id, req)
			if err != nil {
				return err
			}
			out = append(out, f)
		}
		return nil
	})
	return out, err
}

// ListFailovers lists a database's failovers, newest first.
func (s *Store) ListFailovers(ctx context.Context, databaseID string, limit int) ([]Failover, error) {
	rows, err := s.pool.Query(ctx, `SELECT f.id, f.database_id, f.shard_id, sh.idx, f.reason, f.from_node, f.to_node,
			f.from_address, f.to_address, f.old_epoch, f.new_epoch, f.repl_offset, f.lag_bytes,
			f.detected_at, f.routes_published_at, f.promoted_at
		FROM failovers f JOIN shards sh ON sh.id = f.shard_id
		WHERE f.database_id = $1 ORDER BY f.id DESC LIMIT $2`, databaseID, limit)
	if err != nil {
		return nil, fmt.Errorf("list failovers: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Failover, error) {
		var f Failover
		err := r.Scan(&f.ID, &f.DatabaseID, &f.ShardID, &f.ShardIndex, &f.Reason, &f.FromNode, &f.ToNode,
			&f.FromAddress, &f.ToAddress, &f.OldEpoch, &f.NewEpoch, &f.ReplOffset, &f.LagBytes,
			&f.DetectedAt, &f.RoutesPublishedAt, &f.PromotedAt)
		return f, err
	})
	if err != nil {
		return nil, fmt.Errorf("list failovers: %w", err)
	}
	if out == nil {
		out = []Failover{}
	}
	return out, nil
}

// confirmPromotions stamps promoted_at on the failovers whose new primary
// the node now reports serving as primary at the new epoch.
func confirmPromotions(ctx context.Context, tx pgx.Tx, nodeID string, now time.Time) error {
	if _, err := tx.Exec(ctx, `UPDATE failovers f SET promoted_at = $2
		FROM placements pl
		WHERE f.promoted_at IS NULL AND f.to_node = $1 AND pl.shard_id = f.shard_id AND pl.node_id = f.to_node
		  AND pl.running AND pl.reported_role = 'primary' AND pl.reported_epoch >= f.new_epoch`, nodeID, now); err != nil {
		return fmt.Errorf("confirm promotions: %w", err)
	}
	return nil
}

// FailoverCounts counts every recorded failover by reason, for metrics.
func (s *Store) FailoverCounts(ctx context.Context) (map[string]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT reason, count(*) FROM failovers GROUP BY reason`)
	if err != nil {
		return nil, fmt.Errorf("count failovers: %w", err)
	}
	out := map[string]int64{}
	for rows.Next() {
		var reason string
		var n int64
		if err := rows.Scan(&reason, &n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("count failovers: %w", err)
		}
		out[reason] = n
	}
	return out, rows.Err()
}

// linkSyncWindow is how long before the primary's last report a replica
// must have reported its link up to count as in sync when the primary's
// node died: the two nodes heartbeat at different moments.
const linkSyncWindow = 10 * time.Second

// linkWasUp reports whether a replica was streaming from its primary: up
// now, or, when the primary's node is down (which takes every link down
// with it), up until about the primary's last report.
func linkWasUp(link string, upAt *time.Time, primaryDown bool, primaryReportedAt *time.Time) bool {
	if link == "up" {
		return true
	}
	if !primaryDown || upAt == nil {
		return false
	}
	return primaryReportedAt == nil || !upAt.Before(primaryReportedAt.Add(-linkSyncWindow))
}
