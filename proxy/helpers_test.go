package proxy

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keyfleet/keyfleet/internal/keyslot"
	"github.com/keyfleet/keyfleet/internal/wire"
	"github.com/keyfleet/keyfleet/proxy/resp"
)

// Real redis-server processes play the shards. They are started once per
// test binary and shared; each test flushes the ones it takes.

const shardPassword = "shard-secret"

type redisServer struct {
	addr string
	cmd  *exec.Cmd
	dir  string
}

var (
	poolMu  sync.Mutex
	pool    []*redisServer
	poolErr error
)

func TestMain(m *testing.M) {
	code := m.Run()
	poolMu.Lock()
	for _, s := range pool {
		s.stop()
	}
	poolMu.Unlock()
	os.Exit(code)
}

// needRedis skips the test when redis-server is missing, or fails it
// under CI=true, where every tool must be installed.
func needRedis(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redis-server is required under CI: %v", err)
		}
		t.Skip("redis-server not installed")
	}
}

// servers returns n running shard servers with empty keyspaces and no
// scripts, functions or configuration changes left by an earlier test.
func servers(t testing.TB, n int) []*redisServer {
	t.Helper()
	needRedis(t)
	poolMu.Lock()
	defer poolMu.Unlock()
	for len(pool) < n {
		s, err := startRedis()
		if err != nil {
			t.Fatalf("start redis-server: %v", err)
		}
		pool = append(pool, s)
	}
	out := pool[:n:n]
	for _, s := range out {
		s.do(t, "FLUSHALL")
		s.do(t, "SCRIPT", "FLUSH")
		s.do(t, "FUNCTION", "FLUSH")
		s.do(t, "CONFIG", "SET", "notify-keyspace-events", "")
		s.do(t, "CONFIG", "RESETSTAT")
	}
	return out
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func startRedis() (*redisServer, error) {
	dir, err := os.MkdirTemp("", "proxy-shard-")
	if err != nil {
		return nil, err
	}
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", dir, "--requirepass", shardPassword,
			"--daemonize", "no", "--loglevel", "warning", "--enable-debug-command", "yes")
		cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
		// A test binary killed outright (a fuzz worker at the end of
		// its run) takes its shards with it.
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		s := &redisServer{addr: fmt.Sprintf("127.0.0.1:%d", port), cmd: cmd, dir: dir}
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			if _, err := s.tryDo("PING"); err == nil {
				return s, nil
			}
			time.Sleep(20 * time.Millisecond)
		}
		cmd.Process.Kill()
		cmd.Wait()
	}
	return nil, fmt.Errorf("redis-server did not come up")
}

func (s *redisServer) stop() {
	s.cmd.Process.Kill()
	s.cmd.Wait()
	os.RemoveAll(s.dir)
}

// tryDo runs one command on the server directly, authenticated.
func (s *redisServer) tryDo(args ...string) (resp.Value, error) {
	conn, err := net.DialTimeout("tcp", s.addr, time.Second)
	if err != nil {
		return resp.Value{}, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	b := resp.AppendCommandStrings(nil, "AUTH", shardPassword)
	b = resp.AppendCommandStrings(b, args...)
	if _, err := conn.Write(b); err != nil {
		return resp.Value{}, err
	}
	rd := &rawReader{r: bufio.NewReader(conn)}
	if _, err := rd.read(); err != nil {
		return resp.Value{}, err
	}
	return rd.read()
}

func (s *redisServer) do(t testing.TB, args ...string) resp.Value {
	t.Helper()
	v, err := s.tryDo(args...)
	if err != nil {
		t.Fatalf("%s %v: %v", s.addr, args, err)
	}
	return v
}

// rawReader reads whole replies off a connection, for tests that check
// the exact bytes a client receives.
type rawReader struct {
	r   *bufio.Reader
	buf []byte
}

func (rd *rawReader) readRaw() ([]byte, error) {
	for {
		if n, err := resp.Scan(rd.buf); err != nil {
			return nil, err
		} else if n > 0 {
			out := append([]byte(nil), rd.buf[:n]...)
			rd.buf = rd.buf[n:]
			return out, nil
		}
		chunk := make([]byte, 4096)
		n, err := rd.r.Read(chunk)
		if err != nil {
			return nil, err
		}
		rd.buf = append(rd.buf, chunk[:n]...)
	}
}

func (rd *rawReader) read() (resp.Value, error) {
	raw, err := rd.readRaw()
	if err != nil {
		return resp.Value{}, err
	}
	v, _, err := resp.Parse(raw)
	return v, err
}

// fakeCP is the control plane's internal API as the proxy sees it: routes
// by long-poll and usage reports.
type fakeCP struct {
	srv   *httptest.Server
	token string

	mu      sync.Mutex
	routes  wire.Routes
	changed chan struct{}
	reports []wire.UsageReport
	down    bool
	polls   int
	// attempts counts every routes request, refused ones included.
	attempts int
}

func newFakeCP(t testing.TB) *fakeCP {
	cp := &fakeCP{token: "proxy-token", changed: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+wire.PathRoutes, cp.serveRoutes)
	mux.HandleFunc("POST "+wire.PathUsage, cp.serveUsage)
	cp.srv = httptest.NewServer(mux)
	t.Cleanup(cp.srv.Close)
	return cp
}

func (cp *fakeCP) authorized(w http.ResponseWriter, r *http.Request) bool {
	if r.Header.Get("Authorization") != "Bearer "+cp.token {
		http.Error(w, "bad token", http.StatusUnauthorized)
		return false
	}
	cp.mu.Lock()
	down := cp.down
	cp.mu.Unlock()
	if down {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return false
	}
	return true
}

func (cp *fakeCP) serveRoutes(w http.ResponseWriter, r *http.Request) {
	cp.mu.Lock()
	cp.attempts++
	cp.mu.Unlock()
	if !cp.authorized(w, r) {
		return
	}
	have := int64(-1)
	if v := r.URL.Query().Get("version"); v != "" {
		have, _ = strconv.ParseInt(v, 10, 64)
	}
	wait, _ := time.ParseDuration(r.URL.Query().Get("wait"))
	cp.mu.Lock()
	cp.polls++
	rt, ch := cp.routes, cp.changed
	cp.mu.Unlock()
	if have >= 0 && rt.Version <= have {
		select {
		case <-ch:
		case <-time.After(wait):
			w.WriteHeader(http.StatusNotModified)
			return
		case <-r.Context().Done():
			return
		}
		cp.mu.Lock()
		rt = cp.routes
		down := cp.down
		cp.mu.Unlock()
		// A control plane that went down while this poll waited must not
		// answer it with the routes published meanwhile.
		if down {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
	}
	json.NewEncoder(w).Encode(rt)
}

func (cp *fakeCP) serveUsage(w http.ResponseWriter, r *http.Request) {
	if !cp.authorized(w, r) {
		return
	}
	var rep wire.UsageReport
	if err := json.NewDecoder(r.Body).Decode(&rep); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	cp.mu.Lock()
	cp.reports = append(cp.reports, rep)
	cp.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// setRoutes publishes a new route version with these databases.
func (cp *fakeCP) setRoutes(dbs ...wire.DatabaseRoute) {
	cp.mu.Lock()
	cp.routes = wire.Routes{Version: cp.routes.Version + 1, Databases: dbs}
	close(cp.changed)
	cp.changed = make(chan struct{})
	cp.mu.Unlock()
}

// routeAttempts is the number of routes requests received so far.
func (cp *fakeCP) routeAttempts() int {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	return cp.attempts
}

func (cp *fakeCP) setDown(down bool) {
	cp.mu.Lock()
	cp.down = down
	cp.mu.Unlock()
}

// usage returns the sum of every report received for database id.
func (cp *fakeCP) usage(id string) wire.DatabaseUsage {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	var sum wire.DatabaseUsage
	for _, rep := range cp.reports {
		for _, d := range rep.Databases {
			if d.DatabaseID == id {
				sum.Ops += d.Ops
				sum.BytesIn += d.BytesIn
				sum.BytesOut += d.BytesOut
				sum.Errors += d.Errors
				sum.Rejected += d.Rejected
				sum.Connections = d.Connections
			}
		}
	}
	return sum
}

func digest(pass string) string {
	d := sha256.Sum256([]byte(pass))
	return hex.EncodeToString(d[:])
}

// routeFor routes database id (password pass) over the given servers, the
// slots split evenly between them in order.
func routeFor(id, pass string, limits wire.Limits, srvs ...*redisServer) wire.DatabaseRoute {
	d := wire.DatabaseRoute{ID: id, PasswordDigest: digest(pass), Limits: limits, Status: "active"}
	n := len(srvs)
	for i, s := range srvs {
		start := i * keyslot.Slots / n
		end := (i+1)*keyslot.Slots/n - 1
		d.Shards = append(d.Shards, wire.ShardRoute{
			ShardID: fmt.Sprintf("%s-s%d", id, i), Slots: []wire.SlotRange{{Start: start, End: end}},
			Primary: s.addr, Epoch: 1, Password: shardPassword,
		})
	}
	return d
}

// shardIndex is the index of the server owning key under routeFor's split.
func shardIndex(key string, n int) int {
	slot := keyslot.Of([]byte(key))
	for i := 0; i < n; i++ {
		if slot <= (i+1)*keyslot.Slots/n-1 {
			return i
		}
	}
	return n - 1
}

type testProxy struct {
	*Proxy
	cp   *fakeCP
	addr string
}

// startProxy runs a proxy against cp until the test ends, waiting for its
// first routes.
func startProxy(t testing.TB, cp *fakeCP, mod func(*Options)) *testProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{
		Listener:       ln,
		ControlPlane:   cp.srv.URL,
		ProxyToken:     cp.token,
		ID:             "test-proxy",
		PollWait:       2 * time.Second,
		UsageInterval:  time.Hour,
		RequestTimeout: 3 * time.Second,
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if testing.Verbose() && os.Getenv("PROXY_LOG") != "" {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if mod != nil {
		mod(&opts)
	}
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("proxy Serve: %v", err)
		}
	})
	select {
	case <-p.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("proxy got no routes")
	}
	return &testProxy{Proxy: p, cp: cp, addr: ln.Addr().String()}
}

// waitRoutes waits until the proxy has applied the fake control plane's
// current version.
func (tp *testProxy) waitRoutes(t testing.TB) {
	t.Helper()
	tp.cp.mu.Lock()
	want := tp.cp.routes.Version
	tp.cp.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if rt := tp.routes.Load(); rt != nil && rt.version >= want {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("proxy did not apply routes version %d", want)
}

// client opens a go-redis client on the proxy as database id.
func (tp *testProxy) client(t testing.TB, id, pass string, proto int) *redis.Client {
	t.Helper()
	rc := redis.NewClient(&redis.Options{
		Addr: tp.addr, Username: id, Password: pass, Protocol: proto,
		DisableIdentity: true, MaxRetries: -1, PoolSize: 4,
	})
	t.Cleanup(func() { rc.Close() })
	return rc
}

// raw is a plain connection to the proxy speaking RESP by hand.
type raw struct {
	t    testing.TB
	conn net.Conn
	rd   *rawReader
}

func (tp *testProxy) raw(t testing.TB) *raw {
	t.Helper()
	conn, err := net.DialTimeout("tcp", tp.addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &raw{t: t, conn: conn, rd: &rawReader{r: bufio.NewReader(conn)}}
}

// do sends a command and returns the reply's bytes.
func (r *raw) do(args ...string) string {
	r.t.Helper()
	r.send(args...)
	return r.recv()
}

func (r *raw) send(args ...string) {
	r.t.Helper()
	r.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := r.conn.Write(resp.AppendCommandStrings(nil, args...)); err != nil {
		r.t.Fatalf("write %v: %v", args, err)
	}
}

func (r *raw) recv() string {
	r.t.Helper()
	r.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := r.rd.readRaw()
	if err != nil {
		r.t.Fatalf("read: %v", err)
	}
	return string(b)
}

// expect sends a command and checks the reply's bytes.
func (r *raw) expect(want string, args ...string) {
	r.t.Helper()
	if got := r.do(args...); got != want {
		r.t.Errorf("%v: got %q, want %q", args, got, want)
	}
}

// expectPrefix checks that the reply starts with want.
func (r *raw) expectPrefix(want string, args ...string) string {
	r.t.Helper()
	got := r.do(args...)
	if !strings.HasPrefix(got, want) {
		r.t.Errorf("%v: got %q, want prefix %q", args, got, want)
	}
	return got
}

// closed reports whether the proxy closed the connection (within d).
func (r *raw) closed(d time.Duration) bool {
	r.conn.SetReadDeadline(time.Now().Add(d))
	_, err := r.rd.readRaw()
	if err == nil {
		return false
	}
	ne, ok := err.(net.Error)
	return !(ok && ne.Timeout())
}

// keyOn returns a key (prefix + n) that lives on shard i of n.
func keyOn(prefix string, i, n int) string {
	for k := 0; ; k++ {
		key := fmt.Sprintf("%s%d", prefix, k)
		if shardIndex(key, n) == i {
			return key
		}
	}
}

var ctxb = context.Background()
