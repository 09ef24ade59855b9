package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/keyfleet/keyfleet/internal/wire"
)

// RouteVersion is the current route version.
func (s *Store) RouteVersion(ctx context.Context) (int64, error) {
	var v int64
	if err := s.pool.QueryRow(ctx, `SELECT version FROM route_version WHERE id = 1`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read route version: %w", err)
	}
	return v, nil
}

// Routes is the proxies' view: every active database with its credential
// digest, limits and shards, read in one snapshot with its version.
func (s *Store) Routes(ctx context.Context) (wire.Routes, error) {
	var out wire.Routes
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT version FROM route_version WHERE id = 1`).Scan(&out.Version); err != nil {
			return fmt.Errorf("read route version: %w", err)
		}
		rows, err := tx.Query(ctx, `SELECT d.id, d.password_digest, d.status, d.memory_mb, p.max_connections, p.ops_per_sec,
				p.max_request_bytes, p.bandwidth_bytes_per_sec
			FROM databases d JOIN plans p ON p.name = d.plan
			WHERE d.status = 'active' ORDER BY d.id`)
		if err != nil {
			return fmt.Errorf("load routes: %w", err)
		}
		out.Databases, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (wire.DatabaseRoute, error) {
			var d wire.DatabaseRoute
			err := r.Scan(&d.ID, &d.PasswordDigest, &d.Status, &d.Limits.MemoryMB, &d.Limits.MaxConnections, &d.Limits.OpsPerSec,
				&d.Limits.MaxRequestBytes, &d.Limits.BandwidthBytesPerSec)
			return d, err
		})
		if err != nil {
			return fmt.Errorf("load routes: %w", err)
		}
		index := make(map[string]int, len(out.Databases))
		for i, d := range out.Databases {
			index[d.ID] = i
		}
		rows, err = tx.Query(ctx, `SELECT sh.database_id, sh.id, sh.slots, sh.epoch, sh.password_enc, pl.role, n.advertise || ':' || pl.port
			FROM shards sh
			JOIN databases d ON d.id = sh.database_id
			JOIN placements pl ON pl.shard_id = sh.id
			JOIN nodes n ON n.id = pl.node_id
			WHERE d.status = 'active'
			ORDER BY sh.database_id, sh.idx, pl.role, n.name`)
		if err != nil {
			return fmt.Errorf("load shard routes: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var dbID, shardID, role, addr string
			var slots []wire.SlotRange
			var epoch int64
			var enc []byte
			if err := rows.Scan(&dbID, &shardID, &slots, &epoch, &enc, &role, &addr); err != nil {
				return fmt.Errorf("load shard routes: %w", err)
			}
			d := &out.Databases[index[dbID]]
			if n := len(d.Shards); n == 0 || d.Shards[n-1].ShardID != shardID {
				pw, err := s.sealer.Open(enc, shardID)
				if err != nil {
					return err
				}
				d.Shards = append(d.Shards, wire.ShardRoute{ShardID: shardID, Slots: slots, Epoch: epoch, Password: pw})
			}
			sr := &d.Shards[len(d.Shards)-1]
			if role == "primary" {
				sr.Primary = addr
			} else {
				sr.Replicas = append(sr.Replicas, addr)
			}
		}
		return rows.Err()
	})
	if err != nil {
		return wire.Routes{}, err
	}
	if out.Databases == nil {
		out.Databases = []wire.DatabaseRoute{}
	}
	return out, nil
}
