// Package controlplane runs Keyfleet's control plane: the API server over
// Postgres, its reconciler and, in dev mode, an embedded Postgres and the
// components (node host, proxy) that make a one-command platform.
package controlplane

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/keyfleet/keyfleet/controlplane/api"
	"github.com/keyfleet/keyfleet/controlplane/auth"
	"github.com/keyfleet/keyfleet/controlplane/devenv"
	"github.com/keyfleet/keyfleet/controlplane/failover"
	"github.com/keyfleet/keyfleet/controlplane/store"
)

// Options configure Run. Main fills them from flags and KEYFLEET_* variables.
type Options struct {
	Dev         bool
	Listen      string // the API's listen address, e.g. ":8080"
	ProxyListen string // where the proxy listens (dev mode starts it there)
	// ProxyEndpoint is the host:port tenants dial; default derived from
	// ProxyListen (":6379" → "localhost:6379").
	ProxyEndpoint string
	DataDir       string // dev mode: embedded Postgres, generated secrets
	DatabaseURL   string // Postgres; empty in dev mode runs an embedded one

	// Secrets. Dev mode generates missing ones and keeps them in DataDir.
	EncryptionKey []byte // 32 bytes: seals database passwords at rest
	JWTKey        []byte // at least 32 bytes: signs access tokens
	NodeToken     string
	ProxyToken    string

	// AdminPassword is the password dev mode gives the first administrator;
	// a random one, printed once, when empty.
	AdminPassword string

	HeartbeatInterval time.Duration
	NodeTimeout       time.Duration // no heartbeat for this long: node down
	// FailoverTimeout: a node with neither a heartbeat nor an answered
	// probe for this long is down and its primaries fail over.
	FailoverTimeout  time.Duration
	FailoverInterval time.Duration // between probe rounds (default FailoverTimeout/5)
	// FailoverMaxLag bounds a manual failover's replica lag in bytes
	// unless forced.
	FailoverMaxLag   int64
	ProvisionTimeout time.Duration
	SecureCookies    bool

	// Console serves the web console at / when set.
	Console http.Handler
	// Components start once the API serves, in dev mode only, and run
	// until ctx ends; a component that fails stops the whole process.
	Components []Component

	Log    *slog.Logger
	Stdout io.Writer // the first admin's credentials are printed here
	// Ready, when set, is called once the API serves.
	Ready func(Env)
}

// Component is a part started alongside the control plane in dev mode,
// such as the in-process node host or proxy. Start blocks until ctx ends.
type Component struct {
	Name  string
	Start func(ctx context.Context, env Env) error
}

// Env is what components need to join the platform.
type Env struct {
	ControlPlaneURL string // e.g. http://127.0.0.1:8080
	NodeToken       string
	ProxyToken      string
	ProxyListen     string
	ProxyEndpoint   string
	DataDir         string
	Log             *slog.Logger
}

func (o *Options) defaults() {
	if o.Listen == "" {
		o.Listen = ":8080"
	}
	if o.ProxyListen == "" {
		o.ProxyListen = ":6379"
	}
	if o.ProxyEndpoint == "" {
		o.ProxyEndpoint = api.ProxyEndpoint(o.ProxyListen)
	}
	if o.DataDir == "" {
		o.DataDir = ".keyfleet"
	}
	if o.HeartbeatInterval == 0 {
		o.HeartbeatInterval = time.Second
	}
	if o.NodeTimeout == 0 {
		o.NodeTimeout = 5 * o.HeartbeatInterval
	}
	if o.ProvisionTimeout == 0 {
		o.ProvisionTimeout = 2 * time.Minute
	}
	if o.FailoverTimeout == 0 {
		o.FailoverTimeout = 2 * time.Second
	}
	if o.FailoverMaxLag == 0 {
		o.FailoverMaxLag = 1 << 20
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Stdout == nil {
		o.Stdout = io.Discard
	}
}

// Run serves until ctx ends, then shuts down in order: HTTP, components,
// store, embedded Postgres.
func Run(ctx context.Context, o Options) (err error) {
	o.defaults()
	log := o.Log
	if o.Dev {
		// The postgres system user (when we are root) must be able to
		// enter the data dir, so it is not 0700.
		if err := os.MkdirAll(o.DataDir, 0o711); err != nil {
			return fmt.Errorf("create data dir: %w", err)
		}
		if err := loadDevSecrets(&o); err != nil {
			return err
		}
	}
	if len(o.EncryptionKey) != 32 {
		return errors.New("an encryption key of 32 bytes is required (KEYFLEET_ENCRYPTION_KEY, hex or base64), or run with --dev")
	}
	if len(o.JWTKey) < 32 {
		return errors.New("a JWT signing key of at least 32 bytes is required (KEYFLEET_JWT_KEY, hex or base64), or run with --dev")
	}
	if o.NodeToken == "" || o.ProxyToken == "" {
		log.Warn("node or proxy token not set: that side of the internal API refuses every caller")
	}

	if o.DatabaseURL == "" {
		if !o.Dev {
			return errors.New("no Postgres: set --database-url or DATABASE_URL, or run with --dev for an embedded one")
		}
		pg, err := devenv.StartPostgres(ctx, devenv.PostgresOptions{Dir: filepath.Join(o.DataDir, "postgres"), Log: log})
		if err != nil {
			return fmt.Errorf("embedded postgres: %w", err)
		}
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if serr := pg.Stop(sctx); serr != nil {
				log.Error("stop postgres", "err", serr)
			}
		}()
		if err := pg.CreateDatabase(ctx, "keyfleet", ""); err != nil {
			return err
		}
		o.DatabaseURL = pg.URL("keyfleet")
	}

	sealer, err := auth.NewSealer(o.EncryptionKey)
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, o.DatabaseURL, sealer, log)
	if err != nil {
		return err
	}
	defer st.Close()
	if o.Dev {
		if err := ensureFirstAdmin(ctx, st, o.AdminPassword, o.Stdout); err != nil {
			return err
		}
	}

	mon, err := failover.New(failover.Options{
		Store:    st,
		Conn:     st.Pool().Config().ConnConfig.Copy(),
		Timeout:  o.FailoverTimeout,
		Interval: o.FailoverInterval,
		Log:      log,
	})
	if err != nil {
		return err
	}

	srv, err := api.New(api.Config{
		Store:             st,
		Tokens:            auth.Tokens{Key: o.JWTKey, TTL: 15 * time.Minute},
		NodeToken:         o.NodeToken,
		ProxyToken:        o.ProxyToken,
		ProxyEndpoint:     o.ProxyEndpoint,
		ProvisionTimeout:  o.ProvisionTimeout,
		HeartbeatInterval: o.HeartbeatInterval,
		// Well under the time after which a node silent to heartbeats
		// and probes has its primaries failed over (measured from a
		// heartbeat's sending, so at least that long before the control
		// plane's last sight of it): they stop writing first.
		WriteLease:     min(o.FailoverTimeout*3/4, o.NodeTimeout/2),
		SecureCookies:  o.SecureCookies,
		Console:        o.Console,
		Log:            log,
		Leader:         mon.Leader,
		FailoverMaxLag: o.FailoverMaxLag,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.Listen, err)
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	env := Env{
		ControlPlaneURL: "http://" + loopback(ln.Addr()),
		NodeToken:       o.NodeToken,
		ProxyToken:      o.ProxyToken,
		ProxyListen:     o.ProxyListen,
		ProxyEndpoint:   o.ProxyEndpoint,
		DataDir:         o.DataDir,
		Log:             log,
	}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve http: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		srv.Run(gctx, time.Second, o.NodeTimeout)
		return nil
	})
	g.Go(func() error {
		mon.Run(gctx)
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return hs.Shutdown(sctx)
	})
	log.Info("control plane serving", "addr", ln.Addr().String(), "proxy_endpoint", o.ProxyEndpoint, "dev", o.Dev)
	if o.Dev {
		for _, c := range o.Components {
			g.Go(func() error {
				log.Info("starting component", "component", c.Name)
				if err := c.Start(gctx, env); err != nil && gctx.Err() == nil {
					return fmt.Errorf("%s: %w", c.Name, err)
				}
				return nil
			})
		}
	}
	if o.Ready != nil {
		o.Ready(env)
	}
	return g.Wait()
}

// loopback turns a listener address into one a local client can dial.
func loopback(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	host := ta.IP.String()
	if ta.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, strconv.Itoa(ta.Port))
}
