package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyfleet/keyfleet/controlplane/auth"
	"github.com/keyfleet/keyfleet/internal/wire"
)

// Node statuses.
const (
	NodeUp       = "up"
	NodeDown     = "down"
	NodeDraining = "draining"
)

// RegisterNode records a node host (by its stable name) and returns its id.
// A node that registers again keeps its id, its placements and its drain
// flag; a changed address publishes new routes.
func (s *Store) RegisterNode(ctx context.Context, r wire.NodeRegister, now time.Time) (string, error) {
	var id string
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var oldAdvertise string
		err := tx.QueryRow(ctx, `SELECT id, advertise FROM nodes WHERE name = $1 FOR UPDATE`, r.Name).Scan(&id, &oldAdvertise)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			id = auth.NewID("node")
			if _, err := tx.Exec(ctx, `INSERT INTO nodes (id, name, advertise, port_min, port_max, memory_mb, version, status, last_heartbeat)
				VALUES ($1, $2, $3, $4, $5, $6, $7, 'up', $8)`, id, r.Name, r.Advertise, r.PortMin, r.PortMax, r.MemoryMB, r.Version, now); err != nil {
				return fmt.Errorf("insert node: %w", err)
			}
			return event(ctx, tx, "node.registered", "node "+r.Name+" registered at "+r.Advertise, "", "", id)
		case err != nil:
			return fmt.Errorf("look up node: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE nodes SET advertise = $2, port_min = $3, port_max = $4, memory_mb = $5, version = $6,
				status = CASE WHEN drain_requested THEN 'draining' ELSE 'up' END, last_heartbeat = $7
			WHERE id = $1`, id, r.Advertise, r.PortMin, r.PortMax, r.MemoryMB, r.Version, now); err != nil {
			return fmt.Errorf("update node: %w", err)
		}
		if oldAdvertise != r.Advertise {
			if _, err := bumpRoutes(ctx, tx); err != nil {
				return err
			}
		}
		return event(ctx, tx, "node.registered", "node "+r.Name+" registered again at "+r.Advertise, "", "", id)
	})
	return id, err
}

// Heartbeat records what a node reports, moves the databases whose shards
// it runs from provisioning to active (every copy running in its role) or
// failed (a copy reported an error), and returns the node's desired state.
// An unknown node is ErrNotFound (it must register again).
func (s *Store) Heartbeat(ctx context.Context, hb wire.NodeHeartbeat, now time.Time) (wire.NodeDesired, error) {
	var desired wire.NodeDesired
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var status string
		err := tx.QueryRow(ctx, `UPDATE nodes SET last_heartbeat = $2,
				status = CASE WHEN drain_requested THEN 'draining' ELSE 'up' END
			WHERE id = $1 RETURNING status`, hb.NodeID, now).Scan(&status)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("update node: %w", err)
		}
		desired.Drain = status == NodeDraining

		// What is not reported is not running.
		if _, err := tx.Exec(ctx, `UPDATE placements SET running = false WHERE node_id = $1 AND running`, hb.NodeID); err != nil {
			return fmt.Errorf("reset placements: %w", err)
		}
		batch := &pgx.Batch{}
		for _, sh := range hb.Shards {
			batch.Queue(`UPDATE placements SET running = ($3 = ''), error = $3, reported_role = $4, reported_epoch = $5,
					repl_offset = $6, used_memory = $7, keys = $8, ops = $9, connections = $10, reported_at = $11,
					link_status = $12, link_up_at = CASE WHEN $12 = 'up' THEN $11 ELSE link_up_at END
				WHERE shard_id = $1 AND node_id = $2`,
				sh.ShardID, hb.NodeID, sh.Error, sh.Role, sh.Epoch, sh.ReplOffset, sh.UsedMemory, sh.Keys, sh.Ops, sh.Connections, now,
				sh.MasterLinkStatus)
		}
		if err := tx.SendBatch(ctx, batch).Close(); err != nil {
			return fmt.Errorf("record shard status: %w", err)
		}
		if err := confirmPromotions(ctx, tx, hb.NodeID, now); err != nil {
			return err
		}
		if err := s.settleProvisioning(ctx, tx, hb.NodeID); err != nil {
			return err
		}
		desired.Shards, err = s.desiredShards(ctx, tx, hb.NodeID)
		return err
	})
	if err != nil {
		return wire.NodeDesired{}, err
	}
	return desired, nil
}

// settleProvisioning decides the provisioning databases with a copy on
// node. Several nodes' heartbeats race; whichever sees the last copy
// running activates the database, and a miss is caught by the next beat.
func (s *Store) settleProvisioning(ctx context.Context, tx pgx.Tx, nodeID string) error {
	rows, err := tx.Query(ctx, `SELECT d.id, d.account_id,
			bool_and(pl.running AND pl.reported_role = pl.role),
			coalesce(min(CASE WHEN pl.error <> '' THEN 'shard ' || sh.idx || ' on node ' || n.name || ': ' || pl.error END), '')
		FROM databases d
		JOIN shards sh ON sh.database_id = d.id
		JOIN placements pl ON pl.shard_id = sh.id
		JOIN nodes n ON n.id = pl.node_id
		WHERE d.status = 'provisioning'
		  AND d.id IN (SELECT sh2.database_id FROM shards sh2 JOIN placements pl2 ON pl2.shard_id = sh2.id WHERE pl2.node_id = $1)
		GROUP BY d.id, d.account_id`, nodeID)
	if err != nil {
		return fmt.Errorf("check provisioning: %w", err)
	}
	type verdict struct {
		id, account, failure string
		ready                bool
	}
	vs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (verdict, error) {
		var v verdict
		err := r.Scan(&v.id, &v.account, &v.ready, &v.failure)
		return v, err
	})
	if err != nil {
		return fmt.Errorf("check provisioning: %w", err)
	}
	for _, v := range vs {
		switch {
		case v.failure != "":
			if err := failDatabase(ctx, tx, v.id, v.account, v.failure); err != nil {
				return err
			}
		case v.ready:
			tag, err := tx.Exec(ctx, `UPDATE databases SET status = 'active', updated_at = now() WHERE id = $1 AND status = 'provisioning'`, v.id)
			if err != nil {
				return fmt.Errorf("activate database: %w", err)
			}
			if tag.RowsAffected() == 0 {
				continue
			}
			if _, err := bumpRoutes(ctx, tx); err != nil {
				return err
			}
			if err := event(ctx, tx, "database.active", "database "+v.id+" is active", v.account, v.id, ""); err != nil {
				return err
			}
		}
	}
	return nil
}

func failDatabase(ctx context.Context, tx pgx.Tx, id, accountID, reason string) error {
	tag, err := tx.Exec(ctx, `UPDATE databases SET status = 'failed', failure_reason = $2, updated_at = now()
		WHERE id = $1 AND status = 'provisioning'`, id, reason)
	if err != nil {
		return fmt.Errorf("fail database: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return nil
	}
	return event(ctx, tx, "database.failed", "database "+id+" failed: "+reason, accountID, id, "")
}

// desiredShards is every shard copy the node should run: all placements of
// databases that are not being deleted.
func (s *Store) desiredShards(ctx context.Context, tx pgx.Tx, nodeID string) ([]wire.DesiredShard, error) {
	rows, err := tx.Query(ctx, `SELECT sh.id, d.id, pl.port, pl.role,
			coalesce((SELECT pn.advertise || ':' || pp.port FROM placements pp JOIN nodes pn ON pn.id = pp.node_id
				WHERE pp.shard_id = sh.id AND pp.role = 'primary' AND pl.role = 'replica' LIMIT 1), ''),
			sh.epoch, d.memory_mb, d.shards, d.eviction_policy, d.persistence, sh.password_enc
		FROM placements pl
		JOIN shards sh ON sh.id = pl.shard_id
		JOIN databases d ON d.id = sh.database_id
		WHERE pl.node_id = $1 AND d.status <> 'deleting'
		ORDER BY d.id, sh.idx`, nodeID)
	if err != nil {
		return nil, fmt.Errorf("load desired shards: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (wire.DesiredShard, error) {
		var ds wire.DesiredShard
		var memoryMB, shards int
		var enc []byte
		if err := r.Scan(&ds.ShardID, &ds.DatabaseID, &ds.Port, &ds.Role, &ds.ReplicaOf, &ds.Epoch, &memoryMB, &shards,
			&ds.EvictionPolicy, &ds.Persistence, &enc); err != nil {
			return ds, err
		}
		ds.MaxMemory = int64(memoryMB) << 20 / int64(shards)
		var err error
		ds.Password, err = s.sealer.Open(enc, ds.ShardID)
		return ds, err
	})
	if err != nil {
		return nil, fmt.Errorf("load desired shards: %w", err)
	}
	if out == nil {
		out = []wire.DesiredShard{}
	}
	return out, nil
}

// NodeInfo is a node as administrators see it.
type NodeInfo struct {
	ID             string    `json:"id"`
	Name           string    `json:"name"`
	Advertise      string    `json:"advertise"`
	PortMin        int       `json:"port_min"`
	PortMax        int       `json:"port_max"`
	Status         string    `json:"status"`
	MemoryMB       int64     `json:"memory_mb"`
	MemoryPlacedMB int64     `json:"memory_placed_mb"`
	ShardsPlaced   int       `json:"shards_placed"`
	ShardsRunning  int       `json:"shards_running"`
	UsedMemory     int64     `json:"used_memory_bytes"` // reported by the node's shards
	Version        string    `json:"version"`
	LastHeartbeat  time.Time `json:"last_heartbeat"`
	// LastProbeOK is when the leading control plane's probe of the node's
	// shard ports was last answered (nil: never).
	LastProbeOK  *time.Time `json:"last_probe_ok"`
	RegisteredAt time.Time  `json:"registered_at"`
}

// ListNodes lists every node with what is placed on it.
func (s *Store) ListNodes(ctx context.Context) ([]NodeInfo, error) {
	rows, err := s.pool.Query(ctx, `SELECT n.id, n.name, n.advertise, n.port_min, n.port_max, n.status, n.memory_mb,
			coalesce(sum(ceil(d.memory_mb::numeric / d.shards)), 0)::bigint, count(pl.port),
			count(pl.port) FILTER (WHERE pl.running), coalesce(sum(pl.used_memory), 0)::bigint,
			n.version, n.last_heartbeat, n.last_probe_ok, n.registered_at
		FROM nodes n
		LEFT JOIN placements pl ON pl.node_id = n.id
		LEFT JOIN shards sh ON sh.id = pl.shard_id
		LEFT JOIN databases d ON d.id = sh.database_id
		GROUP BY n.id ORDER BY n.name`)
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (NodeInfo, error) {
		var n NodeInfo
		err := r.Scan(&n.ID, &n.Name, &n.Advertise, &n.PortMin, &n.PortMax, &n.Status, &n.MemoryMB, &n.MemoryPlacedMB,
			&n.ShardsPlaced, &n.ShardsRunning, &n.UsedMemory, &n.Version, &n.LastHeartbeat, &n.LastProbeOK, &n.RegisteredAt)
		return n, err
	})
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	return out, nil
}

// DrainNode stops placing new shards on a node; it is told so with its next
// heartbeat. Draining is sticky across restarts and outages.
func (s *Store) DrainNode(ctx context.Context, id string) (NodeInfo, error) {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var name string
		err := tx.QueryRow(ctx, `UPDATE nodes SET drain_requested = true,
				status = CASE WHEN status = 'down' THEN 'down' ELSE 'draining' END
			WHERE id = $1 RETURNING name`, id).Scan(&name)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("drain node: %w", err)
		}
		return event(ctx, tx, "node.draining", "node "+name+" draining", "", "", id)
	})
	if err != nil {
		return NodeInfo{}, err
	}
	nodes, err := s.ListNodes(ctx)
	if err != nil {
		return NodeInfo{}, err
	}
	for _, n := range nodes {
		if n.ID == id {
			return n, nil
		}
	}
	return NodeInfo{}, ErrNotFound
}
