// Package store is the control plane's Postgres state: every read and
// every transaction the API, the internal API and the reconciler need. A
// change that must be atomic (a database with its shards and placements, a
// status change with its route version bump) is one transaction here.
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyfleet/keyfleet/controlplane/auth"
	"github.com/keyfleet/keyfleet/migrations"
)

// ErrNotFound is returned for rows that do not exist or that the caller may
// not see (another account's database is "not found", never "forbidden").
var ErrNotFound = errors.New("not found")

// ConflictError is a request that clashes with existing state (a taken
// e-mail or name, a plan's database count); Field names the input at fault.
type ConflictError struct {
	Field string
	Msg   string
}

func (e *ConflictError) Error() string { return e.Msg }

// LimitError is a request beyond what the account's plan allows.
type LimitError struct {
	Field string
	Msg   string
}

func (e *LimitError) Error() string { return e.Msg }

// Store is safe for concurrent use.
type Store struct {
	pool   *pgxpool.Pool
	sealer *auth.Sealer
	log    *slog.Logger
}

// Open connects to url, applies pending migrations and returns the store.
func Open(ctx context.Context, url string, sealer *auth.Sealer, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := migrations.Up(ctx, url, log); err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	return &Store{pool: pool, sealer: sealer, log: log}, nil
}

// Close releases the pool.
func (s *Store) Close() { s.pool.Close() }

// Pool is the underlying pool, for health checks and LISTEN.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Ping checks that Postgres answers.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

func (s *Store) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, fn)
}

func isUniqueViolation(err error, constraint string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505" && (constraint == "" || pe.ConstraintName == constraint)
}

// event appends to the audit log inside tx.
func event(ctx context.Context, tx pgx.Tx, kind, msg string, accountID, databaseID, nodeID string) error {
	_, err := tx.Exec(ctx, `INSERT INTO events (kind, message, account_id, database_id, node_id)
		VALUES ($1, $2, NULLIF($3, ''), NULLIF($4, ''), NULLIF($5, ''))`, kind, msg, accountID, databaseID, nodeID)
	if err != nil {
		return fmt.Errorf("record event %s: %w", kind, err)
	}
	return nil
}

// RoutesChannel is the Postgres NOTIFY channel announcing a new route
// version; its payload is the version.
const RoutesChannel = "keyfleet_routes"

// bumpRoutes increments the route version inside tx; the NOTIFY is sent
// when tx commits, so listeners never see a version before its data.
func bumpRoutes(ctx context.Context, tx pgx.Tx) (int64, error) {
	var v int64
	if err := tx.QueryRow(ctx, `UPDATE route_version SET version = version + 1 WHERE id = 1 RETURNING version`).Scan(&v); err != nil {
		return 0, fmt.Errorf("bump route version: %w", err)
	}
	if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, RoutesChannel, fmt.Sprint(v)); err != nil {
		return 0, fmt.Errorf("notify route version: %w", err)
	}
	return v, nil
}

// Event is one audit-log entry.
type Event struct {
	ID         int64  `json:"id"`
	At         string `json:"at"`
	Kind       string `json:"kind"`
	Message    string `json:"message"`
	DatabaseID string `json:"database_id,omitempty"`
	NodeID     string `json:"node_id,omitempty"`
}

// Events lists an account's most recent events (all accounts' when
// accountID is empty), newest first.
func (s *Store) Events(ctx context.Context, accountID string, limit int) ([]Event, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), kind, message,
			coalesce(database_id, ''), coalesce(node_id, '')
		FROM events WHERE ($1 = '' OR account_id = $1) ORDER BY id DESC LIMIT $2`, accountID, limit)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Event, error) {
		var e Event
		err := r.Scan(&e.ID, &e.At, &e.Kind, &e.Message, &e.DatabaseID, &e.NodeID)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return out, nil
}
