package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ReconcileOptions tunes Reconcile.
type ReconcileOptions struct {
	// NodeTimeout: a node whose last heartbeat is older is marked down.
	NodeTimeout time.Duration
	// ProvisionTimeout bounds each retry of a failed provisioning
	// (default 2 minutes).
	ProvisionTimeout time.Duration
}

// Automatic retries of a failed provisioning: at most MaxProvisionRetries
// since the owner's last manual retry, the n-th (from 0) waiting
// provisionRetryBase << n after the failure, capped at provisionRetryMax,
// so a node that failed for a passing reason (a port taken, a full disk
// cleaned up) gets the database running without the owner, while one that
// keeps failing is left alone with its reason.
const (
	MaxProvisionRetries = 5
	provisionRetryBase  = 30 * time.Second
	provisionRetryMax   = 10 * time.Minute
)

// restartProvisioning moves a failed database back to provisioning with a
// fresh deadline. The copies' last reported errors are cleared so that the
// retry is judged by what the nodes report from now on.
func restartProvisioning(ctx context.Context, tx pgx.Tx, id string, deadline time.Time, attempts string) error {
	if _, err := tx.Exec(ctx, `UPDATE databases SET status = 'provisioning', failure_reason = '', provision_deadline = $2,
			provision_attempts = `+attempts+`, updated_at = now() WHERE id = $1`, id, deadline); err != nil {
		return fmt.Errorf("retry provisioning: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE placements SET error = '' WHERE shard_id IN (SELECT id FROM shards WHERE database_id = $1)`, id); err != nil {
		return fmt.Errorf("retry provisioning: %w", err)
	}
	return nil
}

// RetryDatabase is the owner's retry of a failed database: provisioning
// starts again at once, and the automatic retries' budget is renewed.
// Errors: ErrNotFound (not the account's, or being deleted), a
// ConflictError unless the database failed.
func (s *Store) RetryDatabase(ctx context.Context, accountID, id string, now time.Time, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	return s.tx(ctx, func(tx pgx.Tx) error {
		var status, reason string
		err := tx.QueryRow(ctx, `SELECT status, failure_reason FROM databases WHERE id = $1 AND account_id = $2 FOR UPDATE`,
			id, accountID).Scan(&status, &reason)
		if errors.Is(err, pgx.ErrNoRows) || status == StatusDeleting {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("retry database: %w", err)
		}
		if status != StatusFailed {
			return &ConflictError{Field: "status", Msg: "the database is " + status + "; only a failed database is retried"}
		}
		if err := restartProvisioning(ctx, tx, id, now.Add(timeout), "0"); err != nil {
			return err
		}
		return event(ctx, tx, "database.retry", "database "+id+": provisioning retried by its owner after: "+reason, accountID, id, "")
	})
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

		// Retries before time-outs, so that a database failed in this pass
		// waits at least for the next one, whatever the clock says.
		if err := retryFailed(ctx, tx, now, opts.ProvisionTimeout); err != nil {
			return err
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

// retryFailed restarts the failed databases whose back-off has passed and
// marks the reason of those out of automatic retries.
func retryFailed(ctx context.Context, tx pgx.Tx, now time.Time, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	rows, err := tx.Query(ctx, `SELECT id, account_id, provision_attempts, failure_reason FROM databases
		WHERE status = 'failed' AND provision_attempts < $2
		  AND updated_at + make_interval(secs => least($3::float8 * 2 ^ provision_attempts, $4::float8)) <= $1
		FOR UPDATE`, now, MaxProvisionRetries, provisionRetryBase.Seconds(), provisionRetryMax.Seconds())
	if err != nil {
		return fmt.Errorf("find failed databases: %w", err)
	}
	type failed struct {
		id, account, reason string
		attempts            int
	}
	fs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (failed, error) {
		var f failed
		err := r.Scan(&f.id, &f.account, &f.attempts, &f.reason)
		return f, err
	})
	if err != nil {
		return fmt.Errorf("find failed databases: %w", err)
	}
	for _, f := range fs {
		if err := restartProvisioning(ctx, tx, f.id, now.Add(timeout), "provision_attempts + 1"); err != nil {
			return err
		}
		msg := fmt.Sprintf("database %s: provisioning retry %d of %d after: %s", f.id, f.attempts+1, MaxProvisionRetries, f.reason)
		if err := event(ctx, tx, "database.retry", msg, f.account, f.id, ""); err != nil {
			return err
		}
	}
	// Said once: provision_attempts past the maximum means "noted".
	if _, err := tx.Exec(ctx, `UPDATE databases SET provision_attempts = provision_attempts + 1,
			failure_reason = failure_reason || $2
		WHERE status = 'failed' AND provision_attempts = $1`,
		MaxProvisionRetries, fmt.Sprintf(" (gave up after %d automatic retries; POST /v1/databases/{id}/retry to try again)", MaxProvisionRetries)); err != nil {
		return fmt.Errorf("mark failed databases: %w", err)
	}
	return nil
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
