package controlplane

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
)

// Extensions are the parts a binary adds to the control plane: the
// components dev mode starts (node host, proxy) and the web console.
type Extensions struct {
	Components []Component
	Console    http.Handler
}

// Main parses the command line (every flag also readable from
// KEYFLEET_<FLAG>, and DATABASE_URL) and runs the control plane.
func Main(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger, ext Extensions) error {
	o, err := ParseFlags(args, os.LookupEnv)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	o.Stdout, o.Log, o.Components, o.Console = stdout, log, ext.Components, ext.Console
	return Run(ctx, o)
}

// ParseFlags builds Options from args and the environment (lookup):
// a flag given on the command line wins over KEYFLEET_<FLAG>.
func ParseFlags(args []string, lookup func(string) (string, bool)) (Options, error) {
	var o Options
	var encKey, jwtKey string
	fs := flag.NewFlagSet("controlplane", flag.ContinueOnError)
	fs.BoolVar(&o.Dev, "dev", false, "embedded platform: Postgres (unless --database-url), secrets in --data-dir, first admin, in-process node host and proxy")
	fs.StringVar(&o.Listen, "listen", ":8080", "API and console listen address")
	fs.StringVar(&o.ProxyListen, "proxy-listen", ":6379", "proxy listen address (dev mode starts the proxy there)")
	fs.StringVar(&o.ProxyEndpoint, "proxy-endpoint", "", "host:port tenants connect to (default from --proxy-listen)")
	fs.StringVar(&o.DataDir, "data-dir", ".keyfleet", "dev mode data: embedded Postgres, generated secrets")
	fs.StringVar(&o.DatabaseURL, "database-url", "", "Postgres URL (also DATABASE_URL)")
	fs.StringVar(&encKey, "encryption-key", "", "32-byte key, hex or base64, sealing database passwords at rest")
	fs.StringVar(&jwtKey, "jwt-key", "", "key (32+ bytes, hex or base64) signing access tokens")
	fs.StringVar(&o.NodeToken, "node-token", "", "token node hosts authenticate with")
	fs.StringVar(&o.ProxyToken, "proxy-token", "", "token proxies authenticate with")
	fs.DurationVar(&o.HeartbeatInterval, "heartbeat-interval", 0, "node heartbeat interval (default 1s)")
	fs.DurationVar(&o.NodeTimeout, "node-timeout", 0, "a node silent this long is down (default 5 heartbeats)")
	fs.DurationVar(&o.FailoverTimeout, "failover-timeout", 0, "a node with neither heartbeats nor answered probes for this long is down and its primaries fail over (default 2s)")
	fs.DurationVar(&o.FailoverInterval, "failover-interval", 0, "how often the leading control plane probes the nodes (default failover-timeout/5)")
	fs.Int64Var(&o.FailoverMaxLag, "failover-max-lag", 0, "a manual failover refuses a replica further behind its primary, in bytes, unless forced (default 1 MiB)")
	fs.DurationVar(&o.ProvisionTimeout, "provision-timeout", 0, "a database not running after this long fails (default 2m)")
	fs.StringVar(&o.AdminPassword, "admin-password", "", "dev mode: the first administrator's password (random and printed once when empty)")
	fs.BoolVar(&o.SecureCookies, "secure-cookies", false, "mark session cookies Secure (serve behind TLS)")
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
		v, ok := lookup(name)
		if !ok && f.Name == "database-url" {
			v, ok = lookup("DATABASE_URL")
		}
		if ok {
			if err := f.Value.Set(v); err != nil {
				envErr = fmt.Errorf("%s=%q: %w", name, v, err)
			}
		}
	})
	if envErr != nil {
		return o, envErr
	}
	var err error
	if o.EncryptionKey, err = decodeKey(encKey); err != nil {
		return o, fmt.Errorf("encryption key: %w", err)
	}
	if o.JWTKey, err = decodeKey(jwtKey); err != nil {
		return o, fmt.Errorf("jwt key: %w", err)
	}
	return o, nil
}

// decodeKey accepts hex or standard/URL base64; empty stays nil.
func decodeKey(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	if b, err := hex.DecodeString(s); err == nil {
		return b, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("neither hex nor base64")
}
