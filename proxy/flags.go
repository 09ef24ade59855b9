package proxy

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
)

// Main parses the command line (every flag also readable from
// KEYFLEET_<FLAG>, dashes as underscores) and runs the proxy until ctx
// ends.
func Main(ctx context.Context, args []string, log *slog.Logger) error {
	o, err := ParseFlags(args, os.LookupEnv)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	o.Logger = log
	return Run(ctx, o)
}

// ParseFlags builds Options from args and the environment (lookup): a flag
// given on the command line wins over KEYFLEET_<FLAG>.
func ParseFlags(args []string, lookup func(string) (string, bool)) (Options, error) {
	var o Options
	fs := flag.NewFlagSet("proxy", flag.ContinueOnError)
	fs.StringVar(&o.Listen, "listen", ":6379", "client listen address")
	fs.StringVar(&o.ControlPlane, "controlplane", "", "control plane base URL, e.g. http://127.0.0.1:8080")
	fs.StringVar(&o.ProxyToken, "proxy-token", "", "token the proxy authenticates to the control plane with")
	fs.StringVar(&o.RoutesFile, "routes-file", "", "serve the routes in this JSON file (wire.Routes) instead of the control plane's")
	fs.StringVar(&o.TLSCert, "tls-cert", "", "PEM certificate: serve TLS (with --tls-key)")
	fs.StringVar(&o.TLSKey, "tls-key", "", "PEM private key for --tls-cert")
	fs.StringVar(&o.DefaultDatabase, "insecure-default-database", "", "serve connections that do not AUTH as this database (test suites on a trusted network only)")
	fs.BoolVar(&o.Unrestricted, "insecure-unrestricted", false, "pass CONFIG, DEBUG and admin commands through (with --routes-file only; for Redis's test suite, never for tenants)")
	fs.StringVar(&o.ID, "id", "", "proxy name in usage reports (default host/listen address)")
	fs.StringVar(&o.Advertise, "advertise", "", "host:port CLUSTER SLOTS announces (default: the address a client connected to)")
	fs.StringVar(&o.MetricsListen, "metrics-listen", "", "serve Prometheus /metrics on this address")
	fs.DurationVar(&o.UsageInterval, "usage-interval", 0, "usage report interval (default 10s)")
	fs.DurationVar(&o.RequestTimeout, "request-timeout", 0, "how long a request waits for its shard (default 5s)")
	fs.IntVar(&o.PoolSize, "pool-size", 0, "pooled connections per shard and protocol (default 2)")
	fs.IntVar(&o.MaxClients, "max-clients", 0, "client connections this proxy accepts (default 10000)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || envErr != nil {
			return
		}
		name := "KEYFLEET_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := lookup(name); ok {
			if err := f.Value.Set(v); err != nil {
				envErr = fmt.Errorf("%s=%q: %w", name, v, err)
			}
		}
	})
	if envErr != nil {
		return o, envErr
	}
	if o.ControlPlane == "" && o.RoutesFile == "" {
		return o, errors.New("--controlplane (or KEYFLEET_CONTROLPLANE) is required")
	}
	if (o.TLSCert == "") != (o.TLSKey == "") {
		return o, errors.New("--tls-cert and --tls-key go together")
	}
	return o, nil
}
