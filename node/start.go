package node

import (
	"context"
	"fmt"
	"log/slog"
)

// Start listens and serves in the background until ctx ends or Shutdown;
// it returns once the listener is open. Tests and the managed-mode host use
// it; the standalone node calls Run.
func Start(ctx context.Context, cfg *Config, log *slog.Logger) (*Server, error) {
	s := New(cfg, log)
	if err := s.Listen(); err != nil {
		return nil, fmt.Errorf("start shard on port %d: %w", cfg.Port, err)
	}
	go func() {
		if err := s.Run(ctx); err != nil {
			s.log.Error("shard stopped", "err", err)
		}
	}()
	return s, nil
}
