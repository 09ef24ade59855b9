package node

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
)

// Main runs a standalone node from command-line arguments in redis-server's
// style: an optional config file, then --directive value pairs.
func Main(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	cfg := DefaultConfig()
	for i := 0; i < len(args); i++ {
		switch a := args[i]; a {
		case "--version", "-v":
			fmt.Fprintf(stdout, "Keyfleet node v=%s redis_version=%s\n", KeyfleetVersion, Version)
			return nil
		case "--port":
			if i+1 >= len(args) {
				return fmt.Errorf("flag --port needs a value")
			}
			p, err := strconv.Atoi(args[i+1])
			if err != nil {
				return fmt.Errorf("flag --port: %q is not a port number", args[i+1])
			}
			cfg.Port = p
			i++
		default:
			// The config registry (configtable.go) takes over parsing.
			return fmt.Errorf("unknown argument %q", a)
		}
	}
	s := New(cfg, log)
	return s.Run(ctx)
}
