// Command proxy runs Keyfleet's tenant-facing RESP proxy:
//
//	proxy --listen :6379 --controlplane URL --proxy-token T [--tls-cert F --tls-key F] [--id NAME]
//
// Every flag can also be given as KEYFLEET_<FLAG> (e.g. KEYFLEET_PROXY_TOKEN).
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/keyfleet/keyfleet/proxy"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := proxy.Main(ctx, os.Args[1:], log); err != nil {
		fmt.Fprintln(os.Stderr, "proxy:", err)
		os.Exit(1)
	}
}
