// Package pgtest gives tests a real, throwaway Postgres: one cluster per
// test binary (started by Main), and a fresh database per test, already
// migrated, created from a template in milliseconds.
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
//	func TestX(t *testing.T) {
//		url := pgtest.NewDB(t) // dropped when the test ends
//		...
//	}
package pgtest

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyfleet/keyfleet/controlplane/devenv"
	"github.com/keyfleet/keyfleet/migrations"
)

const templateDB = "keyfleet_template"

// cluster is set once by Main before any test runs and read-only after.
var (
	cluster *devenv.Postgres
	seq     atomic.Int64
)

// Main starts the package's Postgres cluster, applies the migrations to a
// template database, runs the tests and stops the cluster. Call it from
// TestMain; it exits the process.
func Main(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	// t.TempDir does not exist yet, and its parents are private to root:
	// /tmp is reachable by the postgres user when we run as root.
	dir, err := os.MkdirTemp("", "keyfleet-pg-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pg, err := devenv.StartPostgres(ctx, devenv.PostgresOptions{Dir: dir, Ephemeral: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgtest: start postgres:", err)
		return 1
	}
	defer func() {
		sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer scancel()
		_ = pg.Stop(sctx)
	}()
	if err := pg.CreateDatabase(ctx, templateDB, ""); err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		return 1
	}
	if err := migrations.Up(ctx, pg.URL(templateDB), nil); err != nil {
		fmt.Fprintln(os.Stderr, "pgtest: migrate template:", err)
		return 1
	}
	cluster = pg
	return m.Run()
}

// Cluster is the running cluster (nil outside Main).
func Cluster() *devenv.Postgres { return cluster }

// NewDB creates a migrated database for this test and returns its URL; the
// database is dropped when the test ends.
func NewDB(t testing.TB) string {
	t.Helper()
	return newDB(t, templateDB)
}

// NewEmptyDB is NewDB without the schema, for tests of the migrations.
func NewEmptyDB(t testing.TB) string {
	t.Helper()
	return newDB(t, "")
}

func newDB(t testing.TB, template string) string {
	t.Helper()
	if cluster == nil {
		t.Fatal("pgtest: no cluster; call pgtest.Main(m) from TestMain")
	}
	name := "t_" + strconv.FormatInt(seq.Add(1), 10) + "_" + sanitize(t.Name())
	if len(name) > 60 {
		name = name[:60]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cluster.CreateDatabase(ctx, name, template); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := cluster.DropDatabase(ctx, name); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return cluster.URL(name)
}

func sanitize(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}
