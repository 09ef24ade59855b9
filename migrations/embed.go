// Package migrations holds the control plane's SQL schema as goose
// migrations, embedded in the binary and applied at start.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"log/slog"

	"github.com/pressly/goose/v3"
)

// FS holds the migrations, named NNNNN_what.sql.
//
//go:embed *.sql
var FS embed.FS

// Up applies every pending migration to the database at url. goose takes a
// Postgres advisory lock, so control-plane replicas starting together
// migrate once.
func Up(ctx context.Context, url string, log *slog.Logger) error {
	cfg, err := stdlibConfig(url)
	if err != nil {
		return err
	}
	db := sql.OpenDB(cfg)
	defer db.Close()
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	if log != nil {
		opts = append(opts, goose.WithSlog(log))
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, FS, opts...)
	if err != nil {
		return fmt.Errorf("load migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	return nil
}
