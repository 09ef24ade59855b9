// Command controlplane runs Keyfleet's control plane; with --dev, the whole
// platform on one machine.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/keyfleet/keyfleet/controlplane"
)

// ext is what this binary adds to the control plane. Other files of this
// package fill it from init functions, so that wiring a part never edits
// this file:
//
//	func init() { ext.Components = append(ext.Components, controlplane.Component{Name: "proxy", Start: startProxy}) }
//	func init() { ext.Console = web.Handler() }
//
// Components start with --dev once the API serves and stop with it.
var ext controlplane.Extensions

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := controlplane.Main(ctx, args, os.Stdout, log, ext); err != nil {
		fmt.Fprintln(os.Stderr, "controlplane:", err)
		return 1
	}
	return 0
}
