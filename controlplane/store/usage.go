package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyfleet/keyfleet/internal/wire"
)

// UsageMinute is one database's usage during one minute.
type UsageMinute struct {
	Minute         time.Time `json:"minute"`
	Ops            int64     `json:"ops"`
	BytesIn        int64     `json:"bytes_in"`
	BytesOut       int64     `json:"bytes_out"`
	ConnectionsMax int       `json:"connections_max"`
	Errors         int64     `json:"errors"`
	Rejected       int64     `json:"rejected"`
}

// minuteShare is the part of a report interval that falls in one minute.
type minuteShare struct {
	minute time.Time
	// cumulative fraction of the interval up to the end of this minute
	cum float64
}

// shares splits [start, end) over the minutes it touches.
func shares(start, end time.Time) []minuteShare {
	span := end.Sub(start)
	if span <= 0 {
		return []minuteShare{{minute: start.Truncate(time.Minute), cum: 1}}
	}
	var out []minuteShare
	for m := start.Truncate(time.Minute); m.Before(end); m = m.Add(time.Minute) {
		stop := m.Add(time.Minute)
		if stop.After(end) {
			stop = end
		}
		out = append(out, minuteShare{minute: m, cum: float64(stop.Sub(start)) / float64(span)})
	}
	out[len(out)-1].cum = 1
	return out
}

// split divides total over the shares so the parts add up exactly.
func split(total int64, sh []minuteShare) []int64 {
	out := make([]int64, len(sh))
	var done int64
	for i, s := range sh {
		upto := int64(float64(total) * s.cum)
		if i == len(sh)-1 {
			upto = total
		}
		out[i] = upto - done
		done = upto
	}
	return out
}

// IngestUsage rolls a proxy's report into usage_minutes: counters are
// spread over the minutes the interval covers in proportion to time, the
// connection count is a per-minute maximum. A report seen before (same
// proxy and start) is ignored, so a retried POST counts once. Databases
// that no longer exist are skipped.
func (s *Store) IngestUsage(ctx context.Context, r wire.UsageReport) error {
	sh := shares(r.Start.UTC(), r.End.UTC())
	return s.tx(ctx, func(tx pgx.Tx) error {
		if r.ProxyID != "" {
			tag, err := tx.Exec(ctx, `INSERT INTO usage_reports (proxy_id, period_start) VALUES ($1, $2) ON CONFLICT DO NOTHING`, r.ProxyID, r.Start)
			if err != nil {
				return fmt.Errorf("record usage report: %w", err)
			}
			if tag.RowsAffected() == 0 {
				return nil
			}
		}
		batch := &pgx.Batch{}
		for _, u := range r.Databases {
			ops, in, out := split(u.Ops, sh), split(u.BytesIn, sh), split(u.BytesOut, sh)
			errs, rej := split(u.Errors, sh), split(u.Rejected, sh)
			for i, m := range sh {
				batch.Queue(`INSERT INTO usage_minutes (database_id, minute, ops, bytes_in, bytes_out, connections_max, errors, rejected)
					SELECT $1, $2, $3, $4, $5, $6, $7, $8 WHERE EXISTS (SELECT 1 FROM databases WHERE id = $1)
					ON CONFLICT (database_id, minute) DO UPDATE SET
						ops = usage_minutes.ops + EXCLUDED.ops,
						bytes_in = usage_minutes.bytes_in + EXCLUDED.bytes_in,
						bytes_out = usage_minutes.bytes_out + EXCLUDED.bytes_out,
						connections_max = greatest(usage_minutes.connections_max, EXCLUDED.connections_max),
						errors = usage_minutes.errors + EXCLUDED.errors,
						rejected = usage_minutes.rejected + EXCLUDED.rejected`,
					u.DatabaseID, m.minute, ops[i], in[i], out[i], u.Connections, errs[i], rej[i])
			}
		}
		if err := tx.SendBatch(ctx, batch).Close(); err != nil {
			return fmt.Errorf("roll up usage: %w", err)
		}
		return nil
	})
}

// Usage returns the database's minutes in [from, to], oldest first; another
// account's database is ErrNotFound.
func (s *Store) Usage(ctx context.Context, accountID, databaseID string, from, to time.Time) ([]UsageMinute, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT true FROM databases WHERE id = $1 AND account_id = $2`, databaseID, accountID).Scan(&ok)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("look up database: %w", err)
	}
	rows, err := s.pool.Query(ctx, `SELECT minute, ops, bytes_in, bytes_out, connections_max, errors, rejected
		FROM usage_minutes WHERE database_id = $1 AND minute >= $2 AND minute <= $3 ORDER BY minute`, databaseID, from, to)
	if err != nil {
		return nil, fmt.Errorf("read usage: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (UsageMinute, error) {
		var u UsageMinute
		err := r.Scan(&u.Minute, &u.Ops, &u.BytesIn, &u.BytesOut, &u.ConnectionsMax, &u.Errors, &u.Rejected)
		u.Minute = u.Minute.UTC()
		return u, err
	})
	if err != nil {
		return nil, fmt.Errorf("read usage: %w", err)
	}
	if out == nil {
		out = []UsageMinute{}
	}
	return out, nil
}
