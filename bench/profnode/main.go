// Command profnode runs a standalone node (the same arguments as
// cmd/node) with Go's profiler on a loopback HTTP port, for profiling the
// engine under redis-benchmark:
//
//	go run ./bench/profnode -pprof 127.0.0.1:6060 -- --port 7000 --save ''
//	go tool pprof 'http://127.0.0.1:6060/debug/pprof/profile?seconds=10'
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"syscall"

	"github.com/keyfleet/keyfleet/node"
)

func main() {
	addr := flag.String("pprof", "127.0.0.1:6060", "loopback address of the profiler's HTTP server")
	flag.Parse()
	go func() {
		if err := http.ListenAndServe(*addr, nil); err != nil {
			fmt.Fprintln(os.Stderr, "profnode: pprof:", err)
		}
	}()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := node.Main(ctx, flag.Args(), os.Stdout, log); err != nil {
		fmt.Fprintln(os.Stderr, "profnode:", err)
		os.Exit(1)
	}
}
