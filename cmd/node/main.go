// Command node runs a Keyfleet data node: a standalone Redis-compatible
// server, or in managed mode a host for the shards the control plane
// assigns it.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/keyfleet/keyfleet/node"
	"github.com/keyfleet/keyfleet/node/host"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	mainFunc := node.Main
	if host.IsManaged(args, os.Getenv) {
		mainFunc = host.Main
	}
	if err := mainFunc(ctx, args, os.Stdout, log); err != nil {
		var ce *node.ConfigError
		switch {
		case errors.Is(err, node.ErrUsage):
			// --help printed the usage; redis-server exits 1 after it.
		case errors.As(err, &ce):
			// redis-server's fatal configuration report, as it prints it.
			fmt.Fprintln(os.Stderr, ce.Error())
		default:
			fmt.Fprintln(os.Stderr, "node:", err)
		}
		return 1
	}
	return 0
}
