package devenv

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func tempDir(t *testing.T) string {
	t.Helper()
	// Under /tmp so that the postgres user can reach it when we are root.
	dir, err := os.MkdirTemp("", "keyfleet-devenv-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func TestPostgresRestartKeepsData(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := filepath.Join(tempDir(t), "pg")
	pg, err := StartPostgres(ctx, PostgresOptions{Dir: dir, Ephemeral: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := pg.CreateDatabase(ctx, "app", ""); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, pg.URL("app"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE kv (k text); INSERT INTO kv VALUES ('kept')"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	if err := pg.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := pgx.Connect(ctx, pg.URL("app")); err == nil {
		t.Fatal("connected after Stop")
	}

	pg2, err := StartPostgres(ctx, PostgresOptions{Dir: dir, Ephemeral: true})
	if err != nil {
		t.Fatal(err)
	}
	defer pg2.Stop(ctx)
	conn, err = pgx.Connect(ctx, pg2.URL("app"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var k string
	if err := conn.QueryRow(ctx, "SELECT k FROM kv").Scan(&k); err != nil || k != "kept" {
		t.Fatalf("after restart: %q, %v", k, err)
	}

	// The superuser password is required: loopback is shared with every
	// local user.
	bad := strings.Replace(pg2.URL("app"), pg2.password, "wrong", 1)
	if c, err := pgx.Connect(ctx, bad); err == nil {
		c.Close(ctx)
		t.Fatal("connected with a wrong password")
	}
}

func TestPostgresUnreachableDirIsClearError(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only root hands the cluster to the postgres user")
	}
	private := filepath.Join(tempDir(t), "private")
	if err := os.Mkdir(private, 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := StartPostgres(context.Background(), PostgresOptions{Dir: filepath.Join(private, "pg")})
	if err == nil || !strings.Contains(err.Error(), "cannot enter") {
		t.Fatalf("err = %v, want a message that the postgres user cannot enter the dir", err)
	}
}

func TestFindBinDirHonoursEnv(t *testing.T) {
	t.Setenv("KEYFLEET_PG_BIN", t.TempDir())
	if _, err := FindBinDir(); err == nil {
		t.Fatal("an empty KEYFLEET_PG_BIN dir was accepted")
	}
}
