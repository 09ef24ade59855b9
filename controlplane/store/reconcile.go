package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ReconcileOptions tunes Reconcile.
type ReconcileOptions struct {
	// NodeTimeout: a node whose last heartbeat is older is marked down.
	NodeTimeout time.Duration
}

// Reconcile does the time-driven state changes: nodes that stopped
// heartbeating go down, provisioning databases past their deadline fail
// with the copies still missing, and deleted databases whose shards no
// live node runs any more are removed. Control-plane replicas may all call
// it; a transaction-scoped advisory lock lets one at a time do the work.
func (s *Store) Reconcile(ctx context.Context, now time.Time, opts ReconcileOptions) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		var got bool
		if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock(hashtext('keyfleet.reconcile'))`).Scan(&got); err != nil {
			return fmt.Errorf("reconcile lock: %w", err)
		}
		if !got {
			return nil
		}
		rows, err := tx.Query(ctx, `UPDATE nodes SET status = 'down' WHERE status <> 'down' AND last_heartbeat < $1 RETURNING id, name`,
			now.Add(-opts.NodeTimeout))
		if err != nil {
			return fmt.Errorf("mark nodes down: %w", err)
		}
		type node struct{ id, name string }
		down, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (node, error) {
			var n node
			err := r.Scan(&n.id, &n.name)
			return n, err
		})
		if err != nil {
			return fmt.Errorf("mark nodes down: %w", err)
		}
		for _, n := range down {
			if _, err := tx.Exec(ctx, `UPDATE placements SET running = false WHERE node_id = $1`, n.id); err != nil {
				return fmt.Errorf("mark node placements stopped: %w", err)
			}
			if err := event(ctx, tx, "node.down", "node "+n.name+" missed its heartbeats", "", "", n.id); err != nil {
				return err
			}
		}

		rows, err = tx.Query(ctx, `SELECT d.id, d.account_id,
				coalesce(string_agg('shard ' || sh.idx || ' ' || pl.role || ' on node ' || n.name, ', ' ORDER BY sh.idx, pl.role)
					FILTER (WHERE NOT (pl.running AND pl.reported_role = pl.role)), '')
			FROM databases d
			JOIN shards sh ON sh.database_id = d.id
			JOIN placements pl ON pl.shard_id = sh.id
			JOIN nodes n ON n.id = pl.node_id
			WHERE d.status = 'provisioning' AND d.provision_deadline < $1
			GROUP BY d.id, d.account_id`, now)
		if err != nil {
			return fmt.Errorf("find late databases: %w", err)
		}
		type late struct{ id, account, missing string }
		lates, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (late, error) {
			var l late
			err := r.Scan(&l.id, &l.account, &l.missing)
			return l, err
		})
		if err != nil {
			return fmt.Errorf("find late databases: %w", err)
		}
		for _, l := range lates {
			if err := failDatabase(ctx, tx, l.id, l.account, "timed out waiting for "+l.missing+" to run"); err != nil {
				return err
			}
		}

		if _, err := tx.Exec(ctx, `DELETE FROM databases d WHERE d.status = 'deleting' AND NOT EXISTS (
				SELECT 1 FROM shards sh JOIN placements pl ON pl.shard_id = sh.id JOIN nodes n ON n.id = pl.node_id
				WHERE sh.database_id = d.id AND pl.running AND n.status <> 'down')`); err != nil {
			return fmt.Errorf("remove deleted databases: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM usage_reports WHERE received_at < $1`, now.Add(-24*time.Hour)); err != nil {
			return fmt.Errorf("prune usage reports: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM login_failures WHERE last_failure < $1 AND (locked_until IS NULL OR locked_until < $2)`,
			now.Add(-24*time.Hour), now); err != nil {
			return fmt.Errorf("prune failed log-ins: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE expires_at < $1 OR revoked_at < $1`, now.Add(-7*24*time.Hour)); err != nil {
			return fmt.Errorf("prune sessions: %w", err)
		}
		return nil
	})
}

// Counts feeds the metrics: databases by status and nodes by status.
func (s *Store) Counts(ctx context.Context) (databases, nodes map[string]int64, err error) {
	databases, nodes = map[string]int64{}, map[string]int64{}
	rows, err := s.pool.Query(ctx, `SELECT 'db', status, count(*) FROM databases GROUP BY status
		UNION ALL SELECT 'node', status, count(*) FROM nodes GROUP BY status`)
	if err != nil {
		return nil, nil, fmt.Errorf("count: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var kind, status string
		var n int64
		if err := rows.Scan(&kind, &status, &n); err != nil {
			return nil, nil, fmt.Errorf("count: %w", err)
		}
		if kind == "db" {
			databases[status] = n
		} else {
			nodes[status] = n
		}
	}
	return databases, nodes, rows.Err()
}
