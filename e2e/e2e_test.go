// Package e2e runs the platform's processes together as in production, in
// one test binary: a real Postgres (controlplane/pgtest), the control
// plane's HTTP server, a node host with real shard engines and the proxy,
// talking to each other over loopback HTTP and RESP only.
package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keyfleet/keyfleet/controlplane"
	"github.com/keyfleet/keyfleet/controlplane/devenv"
	"github.com/keyfleet/keyfleet/controlplane/pgtest"
	"github.com/keyfleet/keyfleet/internal/wire"
	"github.com/keyfleet/keyfleet/node/host"
	"github.com/keyfleet/keyfleet/proxy"
)

// noPostgres says why the tests skip; set by TestMain only.
var noPostgres error

func TestMain(m *testing.M) {
	runChildNodeHost() // the chaos test's node host processes
	if _, err := devenv.FindBinDir(); err != nil {
		if os.Getenv("CI") == "true" {
			fmt.Fprintln(os.Stderr, "e2e: Postgres is required under CI=true:", err)
			os.Exit(1)
		}
		noPostgres = err
		os.Exit(m.Run())
	}
	pgtest.Main(m)
}

// platform is one running control plane, node host and proxy.
type platform struct {
	t          *testing.T
	cpURL      string
	proxyToken string
	proxyAddr  string
	host       *host.Host
	hostOpts   host.Options
	hostLog    *slog.Logger
	stopHost   func()
	nodeDir    string
	portMin    int
	portMax    int
}

// startPlatform starts the control plane on a fresh database, a node host
// registered to it and a proxy following its routes. They stop when the
// test ends in the reverse order, as an operator would stop them: proxy,
// node host, control plane.
// mods adjust the control plane's options (the console test embeds the
// web console).
func startPlatform(t *testing.T, mods ...func(*controlplane.Options)) *platform {
	t.Helper()
	if noPostgres != nil {
		t.Skipf("no Postgres binaries, skipping the end-to-end test (it fails instead under CI=true): %v", noPostgres)
	}
	log := testLogger(t)
	// The proxy's address goes into the databases' URLs, so it listens
	// before the control plane starts.
	proxyLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	proxyAddr := proxyLn.Addr().String()
	ready := make(chan controlplane.Env, 1)
	opts := controlplane.Options{
		Listen:            "127.0.0.1:0",
		ProxyListen:       proxyAddr,
		ProxyEndpoint:     proxyAddr,
		DataDir:           t.TempDir(),
		DatabaseURL:       pgtest.NewDB(t),
		EncryptionKey:     randomBytes(t, 32),
		JWTKey:            randomBytes(t, 32),
		NodeToken:         fmt.Sprintf("kfn_e2e_%x", randomBytes(t, 8)),
		ProxyToken:        fmt.Sprintf("kfp_e2e_%x", randomBytes(t, 8)),
		HeartbeatInterval: 100 * time.Millisecond,
		ProvisionTimeout:  time.Minute,
		Log:               log.With("component", "controlplane"),
		Ready:             func(env controlplane.Env) { ready <- env },
	}
	for _, m := range mods {
		m(&opts)
	}
	cpDone, _ := start(t, "control plane", func(ctx context.Context) error { return controlplane.Run(ctx, opts) })
	var env controlplane.Env
	select {
	case env = <-ready:
	case <-cpDone:
		proxyLn.Close()
		t.Fatal("control plane stopped before serving")
	case <-time.After(60 * time.Second):
		proxyLn.Close()
		t.Fatal("control plane did not start in 60s")
	}

	p := &platform{t: t, cpURL: env.ControlPlaneURL, proxyToken: opts.ProxyToken, nodeDir: t.TempDir(), proxyAddr: proxyAddr}
	p.portMin, p.portMax = freePortRange(t, 10)
	p.hostOpts = host.Options{
		ControlPlane: env.ControlPlaneURL,
		NodeToken:    opts.NodeToken,
		Advertise:    "127.0.0.1",
		PortMin:      p.portMin,
		PortMax:      p.portMax,
		DataDir:      p.nodeDir,
		MemoryMB:     1024,
		Name:         "e2e-node",
		MaxBackoff:   time.Second,
	}
	p.hostLog = log.With("component", "node")
	p.startHost()
	px, err := proxy.New(proxy.Options{
		Listener:      proxyLn,
		ControlPlane:  env.ControlPlaneURL,
		ProxyToken:    opts.ProxyToken,
		ID:            "e2e-proxy",
		PollWait:      5 * time.Second,
		UsageInterval: time.Second,
		Logger:        log,
	})
	if err != nil {
		proxyLn.Close()
		t.Fatal(err)
	}
	start(t, "proxy", px.Serve)
	return p
}

// start runs a component until the test ends or stop is called; t.Cleanup
// stops components in the reverse order of their start and waits for
// each to return.
func start(t *testing.T, name string, run func(context.Context) error) (done <-chan struct{}, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan struct{})
	var err error
	go func() {
		defer close(ch)
		err = run(ctx)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-ch:
				if err != nil {
					t.Errorf("%s: %v", name, err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("%s did not stop in 30s", name)
			}
		})
	}
	t.Cleanup(stop)
	return ch, stop
}

func TestEndToEndDatabaseLifecycle(t *testing.T) {
	p := startPlatform(t)
	token := p.signup("e2e@example.com", "a long enough password")

	var db struct {
		ID, Status, URL, Password, FailureReason string
		MemoryMB                                 int `json:"memory_mb"`
		Shards                                   int
	}
	p.call("POST", "/v1/databases", token, map[string]any{
		"name": "cache", "memory_mb": 96, "shards": 3, "replicas": 0,
		"eviction_policy": "allkeys-lru", "persistence": "none",
	}, http.StatusAccepted, &db)
	if db.Status != "provisioning" || db.Shards != 3 || db.ID == "" {
		t.Fatalf("created database = %+v", db)
	}

	// Provisioning: the node host starts the shards, reports them, and the
	// control plane activates the database.
	waitUntil(t, 60*time.Second, "the database to become active", func() (bool, error) {
		p.call("GET", "/v1/databases/"+db.ID, token, nil, http.StatusOK, &db)
		if db.Status == "failed" {
			return false, fmt.Errorf("database failed: %s", db.FailureReason)
		}
		return db.Status == "active", nil
	})

	statuses := p.host.Statuses()
	if len(statuses) != 3 {
		t.Fatalf("node host runs %d shards, want 3: %+v", len(statuses), statuses)
	}
	for _, s := range statuses {
		if s.Error != "" || s.Role != "primary" || s.Port < p.portMin || s.Port > p.portMax || s.MaxMemory != 32<<20 {
			t.Errorf("shard status %+v: want a running primary in %d-%d with maxmemory 32 MiB", s, p.portMin, p.portMax)
		}
	}

	// The proxies' view: three shards covering all slots, each answering
	// only with its internal password.
	route := p.route(db.ID)
	if len(route.Shards) != 3 {
		t.Fatalf("route has %d shards, want 3: %+v", len(route.Shards), route)
	}
	slots := 0
	for _, sh := range route.Shards {
		for _, r := range sh.Slots {
			slots += r.End - r.Start + 1
		}
		checkShardAuth(t, sh)
	}
	if slots != 16384 {
		t.Errorf("shards cover %d slots, want 16384", slots)
	}
	checkThroughProxy(t, db.URL, route)

	// Resizing and changing the policy reconfigures the running shards in
	// place: same engines, same data, new limits.
	p.call("PATCH", "/v1/databases/"+db.ID, token, map[string]any{"memory_mb": 192, "eviction_policy": "volatile-lru"}, http.StatusOK, &db)
	for _, sh := range route.Shards {
		before := shardKeys(t, sh)
		waitUntil(t, 30*time.Second, "shard "+sh.ShardID+" reconfigured", func() (bool, error) {
			mm, policy := shardConfig(t, sh)
			return mm == fmt.Sprint(64<<20) && policy == "volatile-lru", nil
		})
		if after := shardKeys(t, sh); after != before {
			t.Errorf("shard %s holds %d keys after the resize, %d before: it was restarted", sh.ShardID, after, before)
		}
	}

	// A node host that restarts brings its shards back on their ports
	// from its saved state, and the database serves again through the
	// proxy (empty: it has no persistence).
	p.stopHost()
	for _, sh := range route.Shards {
		if c, err := net.DialTimeout("tcp", sh.Primary, time.Second); err == nil {
			c.Close()
			t.Fatalf("shard %s still serves with its node host stopped", sh.ShardID)
		}
	}
	p.startHost()
	waitUntil(t, 30*time.Second, "the shards back after the node host restarted", func() (bool, error) {
		for _, sh := range route.Shards {
			if err := pingShard(sh); err != nil {
				return false, nil
			}
		}
		return true, nil
	})
	waitUntil(t, 30*time.Second, "the database serving again through the proxy", func() (bool, error) {
		return pingURL(db.URL) == nil, nil
	})
	if mm, policy := shardConfig(t, route.Shards[0]); mm != fmt.Sprint(64<<20) || policy != "volatile-lru" {
		t.Errorf("after the restart shard %s has maxmemory %s policy %s, want its latest desired 64 MiB volatile-lru",
			route.Shards[0].ShardID, mm, policy)
	}

	// Deleting the database stops its shards and removes their data.
	p.call("DELETE", "/v1/databases/"+db.ID, token, nil, http.StatusNoContent, nil)
	waitUntil(t, 30*time.Second, "the shards to stop", func() (bool, error) {
		return len(p.host.Statuses()) == 0, nil
	})
	for _, sh := range route.Shards {
		c, err := net.DialTimeout("tcp", sh.Primary, time.Second)
		if err == nil {
			c.Close()
			t.Errorf("shard %s still accepts connections on %s after deletion", sh.ShardID, sh.Primary)
		}
		if _, err := os.Stat(filepath.Join(p.nodeDir, "shards", sh.ShardID)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("data dir of deleted shard %s: %v, want removed", sh.ShardID, err)
		}
	}
	waitUntil(t, 30*time.Second, "the database to be gone", func() (bool, error) {
		return p.status("GET", "/v1/databases/"+db.ID, token) == http.StatusNotFound, nil
	})
	// The proxy no longer lets anyone in with the database's URL.
	waitUntil(t, 30*time.Second, "the proxy to refuse the deleted database", func() (bool, error) {
		return pingURL(db.URL) != nil, nil
	})
	if err := pingURL(db.URL); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Errorf("connecting to a deleted database: %v, want WRONGPASS", err)
	}
}

// checkThroughProxy uses the database as a tenant does: a go-redis client
// (RESP3 through HELLO 3 AUTH) from the redis:// URL, through the proxy,
// with keys that spread over every shard.
func checkThroughProxy(t *testing.T, dbURL string, route wire.DatabaseRoute) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	waitUntil(t, 30*time.Second, "the proxy to serve the database", func() (bool, error) {
		return pingURL(dbURL) == nil, nil
	})
	opt, err := redis.ParseURL(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	rc := redis.NewClient(opt)
	defer rc.Close()

	const n = 300
	kv := make([]any, 0, 2*n)
	keys := make([]string, 0, n)
	for i := range n {
		k := fmt.Sprintf("user:%d", i)
		keys = append(keys, k)
		kv = append(kv, k, fmt.Sprintf("v%d", i))
	}
	if err := rc.MSet(ctx, kv...).Err(); err != nil {
		t.Fatalf("MSET through the proxy: %v", err)
	}
	vals, err := rc.MGet(ctx, keys...).Result()
	if err != nil {
		t.Fatalf("MGET through the proxy: %v", err)
	}
	for i, v := range vals {
		if v != fmt.Sprintf("v%d", i) {
			t.Fatalf("MGET %s = %v, want v%d", keys[i], v, i)
		}
	}
	if size, err := rc.DBSize(ctx).Result(); err != nil || size != n {
		t.Errorf("DBSIZE through the proxy = %d, %v, want %d", size, err, n)
	}
	if got, err := rc.Incr(ctx, "counter").Result(); err != nil || got != 1 {
		t.Errorf("INCR through the proxy = %d, %v", got, err)
	}

	// Every shard holds part of the data, and together all of it.
	total := int64(0)
	for _, sh := range route.Shards {
		direct := redis.NewClient(&redis.Options{Addr: sh.Primary, Password: sh.Password, Protocol: 2, DisableIdentity: true})
		size, err := direct.DBSize(ctx).Result()
		direct.Close()
		if err != nil || size == 0 {
			t.Errorf("shard %s holds %d keys (%v): the keys did not spread", sh.ShardID, size, err)
		}
		total += size
	}
	if total != n+1 {
		t.Errorf("shards hold %d keys together, want %d", total, n+1)
	}
}

// shardKeys is a shard's DBSIZE, asked directly with its internal password.
func shardKeys(t *testing.T, sh wire.ShardRoute) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rc := redis.NewClient(&redis.Options{Addr: sh.Primary, Password: sh.Password, Protocol: 2, DisableIdentity: true})
	defer rc.Close()
	n, err := rc.DBSize(ctx).Result()
	if err != nil {
		t.Fatalf("shard %s: DBSIZE: %v", sh.ShardID, err)
	}
	return n
}

// shardConfig is a shard's maxmemory and maxmemory-policy.
func shardConfig(t *testing.T, sh wire.ShardRoute) (maxmemory, policy string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rc := redis.NewClient(&redis.Options{Addr: sh.Primary, Password: sh.Password, Protocol: 2, DisableIdentity: true})
	defer rc.Close()
	cfg, err := rc.ConfigGet(ctx, "maxmemory*").Result()
	if err != nil {
		t.Fatalf("shard %s: CONFIG GET: %v", sh.ShardID, err)
	}
	return cfg["maxmemory"], cfg["maxmemory-policy"]
}

// pingShard PINGs a shard directly with its internal password.
func pingShard(sh wire.ShardRoute) error {
	rc := redis.NewClient(&redis.Options{Addr: sh.Primary, Password: sh.Password, Protocol: 2, DisableIdentity: true, MaxRetries: -1})
	defer rc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return rc.Ping(ctx).Err()
}

// pingURL connects with a database URL and PINGs once.
func pingURL(dbURL string) error {
	opt, err := redis.ParseURL(dbURL)
	if err != nil {
		return err
	}
	opt.MaxRetries = -1
	rc := redis.NewClient(opt)
	defer rc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return rc.Ping(ctx).Err()
}

// checkShardAuth checks that a shard refuses commands before AUTH, refuses
// a wrong password, and serves with its internal password with the
// database's settings.
func checkShardAuth(t *testing.T, sh wire.ShardRoute) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	anon := redis.NewClient(&redis.Options{Addr: sh.Primary, Protocol: 2, DisableIdentity: true, MaxRetries: -1})
	defer anon.Close()
	if err := anon.Ping(ctx).Err(); err == nil || !strings.HasPrefix(err.Error(), "NOAUTH") {
		t.Errorf("shard %s: PING without AUTH = %v, want NOAUTH", sh.ShardID, err)
	}
	if err := anon.Do(ctx, "AUTH", "not-the-password").Err(); err == nil || !strings.HasPrefix(err.Error(), "WRONGPASS") {
		t.Errorf("shard %s: AUTH with a wrong password = %v, want WRONGPASS", sh.ShardID, err)
	}
	rc := redis.NewClient(&redis.Options{Addr: sh.Primary, Password: sh.Password, Protocol: 2, DisableIdentity: true, MaxRetries: -1})
	defer rc.Close()
	if pong, err := rc.Ping(ctx).Result(); err != nil || pong != "PONG" {
		t.Errorf("shard %s: PING with the internal password = %q, %v", sh.ShardID, pong, err)
		return
	}
	if mm, policy := shardConfig(t, sh); mm != fmt.Sprint(32<<20) || policy != "allkeys-lru" {
		t.Errorf("shard %s: maxmemory %q policy %q, want 32 MiB allkeys-lru", sh.ShardID, mm, policy)
	}
}

// startHost starts (or restarts) the node host on its data dir.
func (p *platform) startHost() {
	p.t.Helper()
	h, err := host.New(p.hostOpts, p.hostLog)
	if err != nil {
		p.t.Fatal(err)
	}
	p.host = h
	_, p.stopHost = start(p.t, "node host", h.Run)
}

func (p *platform) signup(email, password string) string {
	p.t.Helper()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	p.call("POST", "/v1/auth/signup", "", map[string]string{"email": email, "password": password}, http.StatusCreated, &out)
	if out.AccessToken == "" {
		p.t.Fatal("signup gave no access token")
	}
	return out.AccessToken
}

// route fetches the proxies' routes and returns the database's.
func (p *platform) route(id string) wire.DatabaseRoute {
	p.t.Helper()
	var routes wire.Routes
	p.callToken("GET", wire.PathRoutes, p.proxyToken, nil, http.StatusOK, &routes)
	for _, d := range routes.Databases {
		if d.ID == id {
			return d
		}
	}
	p.t.Fatalf("database %s not in the routes: %+v", id, routes)
	return wire.DatabaseRoute{}
}

func (p *platform) call(method, path, token string, in any, want int, out any) {
	p.t.Helper()
	p.callToken(method, path, token, in, want, out)
}

func (p *platform) callToken(method, path, token string, in any, want int, out any) {
	p.t.Helper()
	status, body := p.do(method, path, token, in)
	if status != want {
		p.t.Fatalf("%s %s: HTTP %d, want %d: %s", method, path, status, want, body)
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			p.t.Fatalf("%s %s: decode %s: %v", method, path, body, err)
		}
	}
}

func (p *platform) status(method, path, token string) int {
	p.t.Helper()
	status, _ := p.do(method, path, token, nil)
	return status
}

func (p *platform) do(method, path, token string, in any) (int, []byte) {
	p.t.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			p.t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, p.cpURL+path, body)
	if err != nil {
		p.t.Fatal(err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		p.t.Fatalf("%s %s: read: %v", method, path, err)
	}
	return resp.StatusCode, b
}

// waitUntil polls cond until it holds, fails, or the deadline passes: the
// platform's state is only observable through its APIs.
func waitUntil(t *testing.T, limit time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(limit)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, err := cond()
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		<-tick.C
	}
}

// freePortRange finds n consecutive loopback ports that are free now, in
// a band below the kernel's ephemeral range and away from the 17xxx and
// 21xxx ports that other test servers on the machine use.
func freePortRange(t *testing.T, n int) (int, int) {
	t.Helper()
	for try := 0; try < 50; try++ {
		b := make([]byte, 2)
		rand.Read(b)
		base := 23000 + (int(b[0])<<8|int(b[1]))%9000
		var lns []net.Listener
		ok := true
		for p := base; p < base+n; p++ {
			ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				ok = false
				break
			}
			lns = append(lns, ln)
		}
		for _, ln := range lns {
			ln.Close()
		}
		if ok {
			return base, base + n - 1
		}
	}
	t.Fatal("no free port range")
	return 0, 0
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// testLogger sends the platform's logs to the test log at warning level
// and above (KEYFLEET_E2E_LOG=debug shows everything).
func testLogger(t *testing.T) *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("KEYFLEET_E2E_LOG") == "debug" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: level}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
