package migrations_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/keyfleet/keyfleet/controlplane/pgtest"
	"github.com/keyfleet/keyfleet/migrations"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestUpIsIdempotent(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewEmptyDB(t)
	for i := 0; i < 2; i++ {
		if err := migrations.Up(ctx, url, nil); err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, table := range []string{"accounts", "api_keys", "sessions", "plans", "databases", "shards", "placements",
		"nodes", "usage_minutes", "usage_reports", "events", "route_version"} {
		var ok bool
		if err := conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", table).Scan(&ok); err != nil || !ok {
			t.Errorf("table %s missing (%v)", table, err)
		}
	}
	var plans int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM plans").Scan(&plans); err != nil || plans != 4 {
		t.Fatalf("plans seeded twice or not at all: %d %v", plans, err)
	}
}
