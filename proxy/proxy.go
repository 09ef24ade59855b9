// Package proxy is Keyfleet's tenant-facing RESP endpoint. A client
// authenticates with AUTH <database-id> <password> (or HELLO ... AUTH); the
// proxy binds the connection to that database and forwards its commands to
// the database's shards by hash slot, over pooled and pipelined backend
// connections. Routes, credential digests and quotas come from the control
// plane's /internal/v1 long-poll; usage goes back to it every interval.
//
// The proxy never imports the engine or the control plane: it speaks RESP
// to nodes and HTTP to the control plane. Start it with Run, or New and
// (*Proxy).Serve when the caller needs the listening address first.
//
// What differs from talking to one Redis, by design:
//   - Commands of one connection run in order; commands of two
//     connections may reach a shard in either order, even when one client
//     sent its command first (as with any proxy).
//   - Quotas (connections, ops/s, bandwidth) are enforced by each proxy
//     on its own connections.
//   - INFO gives the database's own CPU time (its commands' time on its
//     shards) and memory rather than the hosting process's, and omits
//     the host and replication peers (see info.go); CLIENT LIST shows
//     the database's connections to this proxy; CONFIG SET takes only
//     tenant-safe parameters; MONITOR is refused.
//   - WAIT first publishes to the reserved channel __keyfleet__:wait on
//     the client's own connection, so that the shard counts the writes
//     the client made over shared connections.
package proxy

import (
	"context"
	"crypto/sha1"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// Options configure a proxy. Zero values take the defaults documented on
// each field.
type Options struct {
	// Listen is the client address, e.g. ":6379". Ignored when Listener is
	// set.
	Listen string
	// Listener, if set, is used instead of listening on Listen (tests and
	// the control plane's dev mode pass one bound to a free port).
	Listener net.Listener
	// TLSCert and TLSKey are PEM files; when both are set the listener
	// speaks TLS. TLSConfig takes precedence when set.
	TLSCert, TLSKey string
	TLSConfig       *tls.Config

	// ControlPlane is the control plane's base URL (http://host:port).
	ControlPlane string
	// RoutesFile, instead of a control plane, is a JSON file holding
	// wire.Routes, re-read when it changes; usage is then not reported.
	// For benchmarks, tests and running without a control plane.
	RoutesFile string
	// ProxyToken authenticates the proxy to the control plane.
	ProxyToken string
	// HTTPClient talks to the control plane; default: a client without
	// an overall timeout (the long-poll sets its own).
	HTTPClient *http.Client
	// PollWait is the long-poll's wait parameter (default 30s).
	PollWait time.Duration

	// DefaultDatabase, when set, binds connections that do not AUTH to
	// this database, as a Redis without requirepass serves everyone. For
	// running Redis's test suite or benchmarks through the proxy on a
	// trusted network only: it bypasses authentication.
	DefaultDatabase string

	// Unrestricted lifts the isolation rules (CONFIG, DEBUG, INFO
	// filtering, administrative commands pass through; MONITOR and
	// replication commands stay refused). Only with RoutesFile: it is
	// for running Redis's own test suite through the proxy against a
	// backend of its own, never for tenants.
	Unrestricted bool

	// ID names this proxy in usage reports and CLUSTER replies (default:
	// the host name and the listen address).
	ID string
	// Advertise is the host:port CLUSTER SLOTS/SHARDS/NODES announce;
	// default: the address the client connected to.
	Advertise string

	// UsageInterval is how often usage is reported (default 10s).
	UsageInterval time.Duration
	// RequestTimeout bounds how long a request may wait for its shard
	// before the client gets a "shard unavailable" error (default 5s).
	RequestTimeout time.Duration
	// DialTimeout bounds connecting and authenticating to a shard
	// (default 2s).
	DialTimeout time.Duration
	// PoolSize is the number of multiplexed connections per shard and
	// protocol (default 2).
	PoolSize int
	// MaxClients caps client connections to this proxy (default 10000).
	MaxClients int
	// AuthTimeout closes a connection that has not authenticated within it
	// (default 60s).
	AuthTimeout time.Duration
	// MaxRequestBytes caps one request when the database's limits set none
	// (default 64 MiB). Before AUTH the cap is 64 KiB, as Redis caps an
	// unauthenticated client's request.
	MaxRequestBytes int64
	// BurstSeconds sizes the ops/sec and bandwidth buckets: a database may
	// use this many seconds of its rate at once (default 1).
	BurstSeconds float64

	// MeterProvider records the proxy's metrics. Default: a Prometheus
	// exporter of the proxy's own, served on MetricsListen when set (and
	// by MetricsHandler).
	MeterProvider metric.MeterProvider
	// MetricsListen, when set, serves GET /metrics (Prometheus).
	MetricsListen string
	// Logger receives the proxy's logs (default: slog.Default()).
	Logger *slog.Logger
}

func (o *Options) setDefaults() {
	if o.PollWait <= 0 {
		o.PollWait = 30 * time.Second
	}
	if o.UsageInterval <= 0 {
		o.UsageInterval = 10 * time.Second
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 5 * time.Second
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 2 * time.Second
	}
	if o.PoolSize <= 0 {
		o.PoolSize = 2
	}
	if o.MaxClients <= 0 {
		o.MaxClients = 10000
	}
	if o.AuthTimeout <= 0 {
		o.AuthTimeout = 60 * time.Second
	}
	if o.MaxRequestBytes <= 0 {
		o.MaxRequestBytes = 64 << 20
	}
	if o.BurstSeconds <= 0 {
		o.BurstSeconds = 1
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Proxy is a running proxy. Its zero value is not usable: call New.
type Proxy struct {
	opts   Options
	log    *slog.Logger
	ln     net.Listener
	nodeID string // 40 hex characters, as a Redis Cluster node id

	// routes is the current route table; nil until the first one arrives.
	routes    atomic.Pointer[routeTable]
	ready     chan struct{} // closed when the first routes are applied
	readyOnce sync.Once

	// mu guards databases, clients and the usage bookkeeping.
	mu        sync.Mutex
	databases map[string]*database
	clients   map[*client]struct{}
	// retiredUsage are databases removed from the routes whose last
	// usage is still to be reported.
	retiredUsage []*database
	started      time.Time
	lastReport   time.Time
	nclients     atomic.Int64
	nextID       atomic.Int64

	authLimiter    *authLimiter
	metrics        *metrics
	metricsHandler http.Handler

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New validates opts, listens, and returns a proxy ready to Serve.
func New(opts Options) (*Proxy, error) {
	opts.setDefaults()
	if opts.ControlPlane == "" && opts.RoutesFile == "" {
		return nil, errors.New("proxy: a control plane URL (or a routes file) is required")
	}
	if opts.Unrestricted && (opts.RoutesFile == "" || opts.ControlPlane != "") {
		return nil, errors.New("proxy: unrestricted mode needs a routes file and no control plane")
	}
	ln := opts.Listener
	if ln == nil {
		var err error
		ln, err = net.Listen("tcp", opts.Listen)
		if err != nil {
			return nil, fmt.Errorf("proxy: listen %s: %w", opts.Listen, err)
		}
	}
	tlsConf := opts.TLSConfig
	if tlsConf == nil && opts.TLSCert != "" && opts.TLSKey != "" {
		cert, err := tls.LoadX509KeyPair(opts.TLSCert, opts.TLSKey)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("proxy: load TLS key pair: %w", err)
		}
		tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	if tlsConf != nil {
		ln = tls.NewListener(ln, tlsConf)
	}
	if opts.ID == "" {
		host, _ := os.Hostname()
		opts.ID = host + "/" + ln.Addr().String()
	}
	sum := sha1.Sum([]byte(opts.ID))
	p := &Proxy{
		opts:        opts,
		log:         opts.Logger.With("component", "proxy", "proxy_id", opts.ID),
		ln:          ln,
		nodeID:      hex.EncodeToString(sum[:]),
		ready:       make(chan struct{}),
		databases:   make(map[string]*database),
		clients:     make(map[*client]struct{}),
		authLimiter: newAuthLimiter(),
		started:     time.Now(),
	}
	mp := opts.MeterProvider
	if mp == nil {
		reg := prometheus.NewRegistry()
		exp, err := otelprom.New(otelprom.WithRegisterer(reg))
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("proxy: prometheus exporter: %w", err)
		}
		mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
		p.metricsHandler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	}
	m, err := newMetrics(p, mp)
	if err != nil {
		ln.Close()
		return nil, err
	}
	p.metrics = m
	return p, nil
}

// Run starts a proxy with opts and serves until ctx is cancelled.
func Run(ctx context.Context, opts Options) error {
	p, err := New(opts)
	if err != nil {
		return err
	}
	return p.Serve(ctx)
}

// MetricsHandler serves the proxy's metrics in Prometheus format; nil
// when Options.MeterProvider was given.
func (p *Proxy) MetricsHandler() http.Handler { return p.metricsHandler }

// Addr is the address the proxy listens on.
func (p *Proxy) Addr() net.Addr { return p.ln.Addr() }

// Ready is closed once the first route table has been applied; before
// that, AUTH answers -LOADING.
func (p *Proxy) Ready() <-chan struct{} { return p.ready }

// Serve accepts clients, follows the control plane's routes and reports
// usage until ctx is cancelled; then it closes every connection and
// returns nil (or the accept error that stopped it).
func (p *Proxy) Serve(ctx context.Context) error {
	p.ctx, p.cancel = context.WithCancel(ctx)
	defer p.cancel()
	if p.opts.MetricsListen != "" && p.metricsHandler != nil {
		if err := p.serveMetrics(); err != nil {
			p.ln.Close()
			return err
		}
	}
	p.wg.Add(3)
	go func() {
		defer p.wg.Done()
		if p.opts.RoutesFile != "" {
			p.watchRoutesFile(p.ctx)
		} else {
			p.pollRoutes(p.ctx)
		}
	}()
	go func() { defer p.wg.Done(); p.reportUsage(p.ctx) }()
	go func() { defer p.wg.Done(); p.authLimiter.sweepLoop(p.ctx) }()
	go func() {
		<-p.ctx.Done()
		p.ln.Close()
	}()
	p.log.Info("proxy listening", "addr", p.ln.Addr().String(), "controlplane", p.opts.ControlPlane, "routes_file", p.opts.RoutesFile)
	var acceptErr error
	backoff := 5 * time.Millisecond
	for {
		conn, err := p.ln.Accept()
		if err != nil {
			if p.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				break
			}
			// Out of file descriptors and the like: wait and retry, as
			// net/http does, rather than spin or give up.
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				p.log.Warn("accept", "err", err)
				time.Sleep(backoff)
				backoff = min(2*backoff, time.Second)
				continue
			}
			acceptErr = fmt.Errorf("proxy: accept: %w", err)
			break
		}
		backoff = 5 * time.Millisecond
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.serveConn(conn)
		}()
	}
	p.cancel()
	p.mu.Lock()
	for c := range p.clients {
		c.conn.Close()
	}
	dbs := make([]*database, 0, len(p.databases))
	for _, db := range p.databases {
		dbs = append(dbs, db)
	}
	p.mu.Unlock()
	p.wg.Wait()
	for _, db := range dbs {
		if rt := db.route.Load(); rt != nil {
			for _, sh := range rt.shards {
				sh.close()
			}
		}
	}
	p.flushUsage(context.Background())
	return acceptErr
}

// serveMetrics serves /metrics on MetricsListen until the proxy stops.
func (p *Proxy) serveMetrics() error {
	ln, err := net.Listen("tcp", p.opts.MetricsListen)
	if err != nil {
		return fmt.Errorf("proxy: metrics listen %s: %w", p.opts.MetricsListen, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", p.metricsHandler)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		<-p.ctx.Done()
		srv.Close()
	}()
	go srv.Serve(ln)
	return nil
}

func isTemporary(err error) bool {
	t, ok := err.(interface{ Temporary() bool })
	return ok && t.Temporary()
}

// database returns the persistent state of a database, or nil.
func (p *Proxy) database(id string) *database {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.databases[id]
}
