package pgtest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { Main(m) }

func TestNewDBIsMigratedAndIsolated(t *testing.T) {
	ctx := context.Background()
	a, b := NewDB(t), NewDB(t)
	if a == b {
		t.Fatalf("two tests' databases share a URL: %s", a)
	}
	ca, err := pgx.Connect(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close(ctx)
	cb, err := pgx.Connect(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close(ctx)
	var plans int
	if err := ca.QueryRow(ctx, "SELECT count(*) FROM plans").Scan(&plans); err != nil {
		t.Fatalf("template not migrated: %v", err)
	}
	if plans < 3 {
		t.Fatalf("seeded plans = %d, want at least 3", plans)
	}
	if _, err := ca.Exec(ctx, "INSERT INTO accounts (id, email, password_hash) VALUES ('a1', 'x@example.com', 'h')"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := cb.QueryRow(ctx, "SELECT count(*) FROM accounts").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("database b sees %d accounts written to a", n)
	}
}

func TestNewEmptyDBHasNoSchema(t *testing.T) {
	ctx := context.Background()
	c, err := pgx.Connect(ctx, NewEmptyDB(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var exists bool
	if err := c.QueryRow(ctx, "SELECT to_regclass('accounts') IS NOT NULL").Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Fatal("empty database has the accounts table")
	}
}
