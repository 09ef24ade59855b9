package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyfleet/keyfleet/controlplane/auth"
	"github.com/keyfleet/keyfleet/controlplane/placement"
	"github.com/keyfleet/keyfleet/internal/wire"
)

// Plan is a set of limits a database is created under.
type Plan struct {
	Name                 string `json:"name"`
	MemoryMB             int    `json:"memory_mb"` // the largest database
	MaxShards            int    `json:"max_shards"`
	MaxReplicas          int    `json:"max_replicas"`
	MaxConnections       int    `json:"max_connections"`
	OpsPerSec            int    `json:"ops_per_sec"`
	MaxRequestBytes      int64  `json:"max_request_bytes"`
	BandwidthBytesPerSec int64  `json:"bandwidth_bytes_per_sec"`
	MaxDatabases         int    `json:"max_databases"`
}

const planColumns = `name, memory_mb, max_shards, max_replicas, max_connections, ops_per_sec, max_request_bytes, bandwidth_bytes_per_sec, max_databases`

func scanPlan(r pgx.Row) (Plan, error) {
	var p Plan
	err := r.Scan(&p.Name, &p.MemoryMB, &p.MaxShards, &p.MaxReplicas, &p.MaxConnections, &p.OpsPerSec,
		&p.MaxRequestBytes, &p.BandwidthBytesPerSec, &p.MaxDatabases)
	return p, err
}

// ListPlans lists the plans, smallest first.
func (s *Store) ListPlans(ctx context.Context) ([]Plan, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+planColumns+` FROM plans ORDER BY sort_order, name`)
	if err != nil {
		return nil, fmt.Errorf("list plans: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Plan, error) { return scanPlan(r) })
	if err != nil {
		return nil, fmt.Errorf("list plans: %w", err)
	}
	return out, nil
}

// PlanByName returns one plan or ErrNotFound.
func (s *Store) PlanByName(ctx context.Context, name string) (Plan, error) {
	p, err := scanPlan(s.pool.QueryRow(ctx, `SELECT `+planColumns+` FROM plans WHERE name = $1`, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return Plan{}, ErrNotFound
	}
	if err != nil {
		return Plan{}, fmt.Errorf("look up plan: %w", err)
	}
	return p, nil
}

// Database statuses.
const (
	StatusProvisioning = "provisioning"
	StatusActive       = "active"
	StatusFailed       = "failed"
	StatusDeleting     = "deleting"
)

// Database is a tenant's database with its password in clear.
type Database struct {
	ID             string
	AccountID      string
	Name           string
	Plan           Plan
	MemoryMB       int
	Shards         int
	Replicas       int
	EvictionPolicy string
	Persistence    string
	Status         string
	FailureReason  string
	Password       string
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Limits are the quotas proxies enforce for the database.
func (d *Database) Limits() wire.Limits {
	return wire.Limits{
		MemoryMB:             int64(d.MemoryMB),
		MaxConnections:       d.Plan.MaxConnections,
		OpsPerSec:            d.Plan.OpsPerSec,
		MaxRequestBytes:      d.Plan.MaxRequestBytes,
		BandwidthBytesPerSec: d.Plan.BandwidthBytesPerSec,
	}
}

const databaseColumns = `d.id, d.account_id, d.name, d.memory_mb, d.shards, d.replicas, d.eviction_policy, d.persistence,
	d.status, d.failure_reason, d.password_enc, d.created_at, d.updated_at,
	p.name, p.memory_mb, p.max_shards, p.max_replicas, p.max_connections, p.ops_per_sec, p.max_request_bytes, p.bandwidth_bytes_per_sec, p.max_databases`

const databaseFrom = ` FROM databases d JOIN plans p ON p.name = d.plan `

func (s *Store) scanDatabase(r pgx.Row) (Database, error) {
	var d Database
	var enc []byte
	err := r.Scan(&d.ID, &d.AccountID, &d.Name, &d.MemoryMB, &d.Shards, &d.Replicas, &d.EvictionPolicy, &d.Persistence,
		&d.Status, &d.FailureReason, &enc, &d.CreatedAt, &d.UpdatedAt,
		&d.Plan.Name, &d.Plan.MemoryMB, &d.Plan.MaxShards, &d.Plan.MaxReplicas, &d.Plan.MaxConnections, &d.Plan.OpsPerSec,
		&d.Plan.MaxRequestBytes, &d.Plan.BandwidthBytesPerSec, &d.Plan.MaxDatabases)
	if err != nil {
		return d, err
	}
	if d.Password, err = s.sealer.Open(enc, d.ID); err != nil {
		return d, fmt.Errorf("database %s password: %w", d.ID, err)
	}
	return d, nil
}

// NewDatabase is a validated creation request.
type NewDatabase struct {
	AccountID        string
	Name             string
	Plan             string
	MemoryMB         int
	Shards           int
	Replicas         int
	EvictionPolicy   string
	Persistence      string
	ProvisionTimeout time.Duration
}

// ShardMemoryMB is the memory each copy of each shard is given (and
// reserved on its node), rounded up.
func ShardMemoryMB(memoryMB, shards int) int64 {
	return int64((memoryMB + shards - 1) / shards)
}

// CreateDatabase creates the database, its shards and their placements in
// one transaction; the database starts "provisioning". Errors: a
// LimitError (plan's database count), a ConflictError (name taken), a
// *placement.CapacityError (no room).
func (s *Store) CreateDatabase(ctx context.Context, nd NewDatabase) (Database, error) {
	id := auth.NewID("db")
	password := auth.NewSecret()
	err := s.tx(ctx, func(tx pgx.Tx) error {
		// Serialise an account's creations so the plan's database count holds.
		var n, max int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE`, nd.AccountID).Scan(new(int)); err != nil {
			return fmt.Errorf("lock account: %w", err)
		}
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM databases WHERE account_id = $1 AND plan = $2 AND status <> 'deleting'`,
			nd.AccountID, nd.Plan).Scan(&n); err != nil {
			return fmt.Errorf("count databases: %w", err)
		}
		if err := tx.QueryRow(ctx, `SELECT max_databases FROM plans WHERE name = $1`, nd.Plan).Scan(&max); err != nil {
			return fmt.Errorf("look up plan: %w", err)
		}
		if n >= max {
			return &LimitError{Field: "plan", Msg: fmt.Sprintf("the %s plan allows %d database(s) per account; delete one or choose a larger plan", nd.Plan, max)}
		}
		_, err := tx.Exec(ctx, `INSERT INTO databases (id, account_id, name, plan, memory_mb, shards, replicas, eviction_policy,
				persistence, status, password_enc, password_digest, provision_deadline)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'provisioning', $10, $11, now() + make_interval(secs => $12))`,
			id, nd.AccountID, nd.Name, nd.Plan, nd.MemoryMB, nd.Shards, nd.Replicas, nd.EvictionPolicy, nd.Persistence,
			s.sealer.Seal(password, id), auth.HexDigest(password), nd.ProvisionTimeout.Seconds())
		if isUniqueViolation(err, "databases_account_name") {
			return &ConflictError{Field: "name", Msg: "you already have a database named " + fmt.Sprintf("%q", nd.Name)}
		}
		if err != nil {
			return fmt.Errorf("insert database: %w", err)
		}
		if err := lockPlacement(ctx, tx); err != nil {
			return err
		}
		nodes, err := placementNodes(ctx, tx)
		if err != nil {
			return err
		}
		assignments, err := placement.Place(nodes, placement.Request{
			Shards: nd.Shards, Replicas: nd.Replicas, ShardMemoryMB: ShardMemoryMB(nd.MemoryMB, nd.Shards),
		})
		if err != nil {
			return err
		}
		slots := placement.SlotRanges(nd.Shards)
		shardIDs := make([]string, nd.Shards)
		for i := range shardIDs {
			shardIDs[i] = auth.NewID("sh")
			if _, err := tx.Exec(ctx, `INSERT INTO shards (id, database_id, idx, slots, password_enc) VALUES ($1, $2, $3, $4, $5)`,
				shardIDs[i], id, i, slots[i], s.sealer.Seal(auth.NewSecret(), shardIDs[i])); err != nil {
				return fmt.Errorf("insert shard: %w", err)
			}
		}
		for _, a := range assignments {
			if _, err := tx.Exec(ctx, `INSERT INTO placements (shard_id, node_id, port, role) VALUES ($1, $2, $3, $4)`,
				shardIDs[a.Shard], a.NodeID, a.Port, a.Role); err != nil {
				return fmt.Errorf("insert placement: %w", err)
			}
		}
		return event(ctx, tx, "database.created", fmt.Sprintf("database %s (%s) created: %d MB, %d shard(s), %d replica(s)",
			id, nd.Name, nd.MemoryMB, nd.Shards, nd.Replicas), nd.AccountID, id, "")
	})
	if err != nil {
		return Database{}, err
	}
	return s.GetDatabase(ctx, nd.AccountID, id)
}

// lockPlacement serialises the transactions that take node capacity, so two
// creations never both fit into the same free memory.
func lockPlacement(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('keyfleet.placement'))`); err != nil {
		return fmt.Errorf("lock placement: %w", err)
	}
	return nil
}

// placementNodes snapshots every node with what is placed on it.
func placementNodes(ctx context.Context, tx pgx.Tx) ([]placement.Node, error) {
	rows, err := tx.Query(ctx, `SELECT n.id, n.memory_mb, n.port_min, n.port_max, n.status = 'up',
			coalesce(sum(ceil(d.memory_mb::numeric / d.shards)), 0)::bigint, count(pl.port),
			coalesce(array_agg(pl.port) FILTER (WHERE pl.port IS NOT NULL), '{}')
		FROM nodes n
		LEFT JOIN placements pl ON pl.node_id = n.id
		LEFT JOIN shards sh ON sh.id = pl.shard_id
		LEFT JOIN databases d ON d.id = sh.database_id
		GROUP BY n.id ORDER BY n.id`)
	if err != nil {
		return nil, fmt.Errorf("load nodes: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (placement.Node, error) {
		var n placement.Node
		var ports []int32
		err := r.Scan(&n.ID, &n.CapacityMB, &n.PortMin, &n.PortMax, &n.Eligible, &n.UsedMB, &n.Copies, &ports)
		n.UsedPorts = make(map[int]bool, len(ports))
		for _, p := range ports {
			n.UsedPorts[int(p)] = true
		}
		return n, err
	})
	if err != nil {
		return nil, fmt.Errorf("load nodes: %w", err)
	}
	return out, nil
}

// GetDatabase returns one of the account's databases (any account's when
// accountID is empty); another account's database is ErrNotFound.
func (s *Store) GetDatabase(ctx context.Context, accountID, id string) (Database, error) {
	d, err := s.scanDatabase(s.pool.QueryRow(ctx, `SELECT `+databaseColumns+databaseFrom+
		`WHERE d.id = $1 AND ($2 = '' OR d.account_id = $2)`, id, accountID))
	if errors.Is(err, pgx.ErrNoRows) {
		return Database{}, ErrNotFound
	}
	if err != nil {
		return Database{}, fmt.Errorf("look up database: %w", err)
	}
	return d, nil
}

// ListDatabases lists the account's databases, oldest first.
func (s *Store) ListDatabases(ctx context.Context, accountID string) ([]Database, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+databaseColumns+databaseFrom+`WHERE d.account_id = $1 ORDER BY d.created_at, d.id`, accountID)
	if err != nil {
		return nil, fmt.Errorf("list databases: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Database, error) { return s.scanDatabase(r) })
	if err != nil {
		return nil, fmt.Errorf("list databases: %w", err)
	}
	return out, nil
}

// DatabaseUpdate holds the changed fields; nil ones stay.
type DatabaseUpdate struct {
	MemoryMB       *int
	EvictionPolicy *string
}

// UpdateDatabase changes memory or eviction policy. Nodes pick the change up
// with their next heartbeat; proxies with the next route version. More
// memory must fit on the nodes that hold the shards (*placement.CapacityError).
func (s *Store) UpdateDatabase(ctx context.Context, accountID, id string, u DatabaseUpdate) (Database, error) {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var memoryMB, shards int
		var status string
		err := tx.QueryRow(ctx, `SELECT memory_mb, shards, status FROM databases WHERE id = $1 AND account_id = $2 FOR UPDATE`,
			id, accountID).Scan(&memoryMB, &shards, &status)
		if errors.Is(err, pgx.ErrNoRows) || status == StatusDeleting {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("lock database: %w", err)
		}
		if u.MemoryMB != nil && *u.MemoryMB != memoryMB {
			if err := lockPlacement(ctx, tx); err != nil {
				return err
			}
			nodes, err := placementNodes(ctx, tx)
			if err != nil {
				return err
			}
			rows, err := tx.Query(ctx, `SELECT pl.node_id, count(*) FROM placements pl JOIN shards sh ON sh.id = pl.shard_id
				WHERE sh.database_id = $1 GROUP BY pl.node_id`, id)
			if err != nil {
				return fmt.Errorf("load placements: %w", err)
			}
			copiesOn := map[string]int{}
			for rows.Next() {
				var node string
				var n int
				if err := rows.Scan(&node, &n); err != nil {
					rows.Close()
					return fmt.Errorf("load placements: %w", err)
				}
				copiesOn[node] = n
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return fmt.Errorf("load placements: %w", err)
			}
			delta := ShardMemoryMB(*u.MemoryMB, shards) - ShardMemoryMB(memoryMB, shards)
			if err := placement.Grow(nodes, copiesOn, delta); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE databases SET memory_mb = coalesce($3, memory_mb), eviction_policy = coalesce($4, eviction_policy),
				updated_at = now() WHERE id = $1 AND account_id = $2`, id, accountID, u.MemoryMB, u.EvictionPolicy); err != nil {
			return fmt.Errorf("update database: %w", err)
		}
		if status == StatusActive {
			if _, err := bumpRoutes(ctx, tx); err != nil {
				return err
			}
		}
		return event(ctx, tx, "database.updated", "database "+id+" settings changed", accountID, id, "")
	})
	if err != nil {
		return Database{}, err
	}
	return s.GetDatabase(ctx, accountID, id)
}

// RotatePassword gives the database a new password; proxies get its digest
// with the next route version and refuse the old one.
func (s *Store) RotatePassword(ctx context.Context, accountID, id string) (Database, error) {
	password := auth.NewSecret()
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var status string
		err := tx.QueryRow(ctx, `UPDATE databases SET password_enc = $3, password_digest = $4, updated_at = now()
			WHERE id = $1 AND account_id = $2 AND status <> 'deleting' RETURNING status`,
			id, accountID, s.sealer.Seal(password, id), auth.HexDigest(password)).Scan(&status)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("rotate password: %w", err)
		}
		if status == StatusActive {
			if _, err := bumpRoutes(ctx, tx); err != nil {
				return err
			}
		}
		return event(ctx, tx, "database.password_rotated", "database "+id+" password rotated", accountID, id, "")
	})
	if err != nil {
		return Database{}, err
	}
	return s.GetDatabase(ctx, accountID, id)
}

// DeleteDatabase marks the database deleting: proxies stop serving it at
// once, nodes stop its shards on their next heartbeat, and the reconciler
// removes the rows once no node runs them.
func (s *Store) DeleteDatabase(ctx context.Context, accountID, id string) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		var was string
		err := tx.QueryRow(ctx, `UPDATE databases d SET status = 'deleting', updated_at = now()
			FROM databases old WHERE d.id = old.id AND d.id = $1 AND d.account_id = $2 AND d.status <> 'deleting'
			RETURNING old.status`, id, accountID).Scan(&was)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("delete database: %w", err)
		}
		if was == StatusActive {
			if _, err := bumpRoutes(ctx, tx); err != nil {
				return err
			}
		}
		return event(ctx, tx, "database.deleted", "database "+id+" deleted", accountID, id, "")
	})
}

// ShardInfo describes one shard and where its copies run.
type ShardInfo struct {
	ID         string            `json:"id"`
	Index      int               `json:"index"`
	Slots      []wire.SlotRange  `json:"slots"`
	Epoch      int64             `json:"epoch"`
	Placements []PlacementStatus `json:"placements"`
}

// PlacementStatus is one copy of a shard and what its node last reported.
type PlacementStatus struct {
	NodeID     string `json:"node_id"`
	Address    string `json:"address"`
	Role       string `json:"role"`
	Running    bool   `json:"running"`
	ReplOffset int64  `json:"repl_offset"`
	// LagBytes is how far a replica's reported offset trails its
	// primary's (0 for the primary).
	LagBytes      int64  `json:"lag_bytes"`
	ReportedRole  string `json:"reported_role"`
	ReportedEpoch int64  `json:"reported_epoch"`
	// LinkStatus is a replica's link with its primary as its node last
	// reported it ("up" or "down"; empty for a primary): a manual failover
	// needs it up.
	LinkStatus string     `json:"link_status,omitempty"`
	NodeStatus string     `json:"node_status"`
	UsedMemory int64      `json:"used_memory"`
	Keys       int64      `json:"keys"`
	Error      string     `json:"error,omitempty"`
	ReportedAt *time.Time `json:"reported_at"`
}

// DatabaseShards lists a database's shards with their placements.
func (s *Store) DatabaseShards(ctx context.Context, id string) ([]ShardInfo, error) {
	rows, err := s.pool.Query(ctx, `SELECT sh.id, sh.idx, sh.slots, sh.epoch, pl.node_id, n.advertise || ':' || pl.port, pl.role,
			pl.running, pl.repl_offset, pl.used_memory, pl.keys, pl.error, pl.reported_at,
			pl.reported_role, pl.reported_epoch, pl.link_status, n.status,
			CASE WHEN pl.role = 'replica' THEN greatest(0, coalesce((SELECT pp.repl_offset FROM placements pp
				WHERE pp.shard_id = sh.id AND pp.role = 'primary'), 0) - pl.repl_offset) ELSE 0 END
		FROM shards sh JOIN placements pl ON pl.shard_id = sh.id JOIN nodes n ON n.id = pl.node_id
		WHERE sh.database_id = $1 ORDER BY sh.idx, pl.role, pl.node_id`, id)
	if err != nil {
		return nil, fmt.Errorf("list shards: %w", err)
	}
	defer rows.Close()
	var out []ShardInfo
	for rows.Next() {
		var si ShardInfo
		var p PlacementStatus
		if err := rows.Scan(&si.ID, &si.Index, &si.Slots, &si.Epoch, &p.NodeID, &p.Address, &p.Role,
			&p.Running, &p.ReplOffset, &p.UsedMemory, &p.Keys, &p.Error, &p.ReportedAt,
			&p.ReportedRole, &p.ReportedEpoch, &p.LinkStatus, &p.NodeStatus, &p.LagBytes); err != nil {
			return nil, fmt.Errorf("list shards: %w", err)
		}
		if len(out) == 0 || out[len(out)-1].ID != si.ID {
			out = append(out, si)
		}
		out[len(out)-1].Placements = append(out[len(out)-1].Placements, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list shards: %w", err)
	}
	return out, nil
}
