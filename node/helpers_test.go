package node

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/redis/go-redis/v9"
)

// testServer starts a node on a free loopback port for one test. mod may
// adjust the configuration first. The server and client are closed when
// the test ends.
func testServer(t testing.TB, mod func(*Config)) (*Server, *redis.Client) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Port = 0
	cfg.Bind = []string{"127.0.0.1"}
	cfg.Dir = t.TempDir()
	if mod != nil {
		mod(cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s, err := Start(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	rc := redis.NewClient(&redis.Options{Addr: s.Addr().String(), Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() {
		rc.Close()
		cancel()
		<-s.Done()
	})
	return s, rc
}

// newClient opens another connection to s; protocol is 2 or 3.
func newClient(t testing.TB, s *Server, protocol int) *redis.Client {
	t.Helper()
	rc := redis.NewClient(&redis.Options{Addr: s.Addr().String(), Protocol: protocol, DisableIdentity: true})
	t.Cleanup(func() { rc.Close() })
	return rc
}
