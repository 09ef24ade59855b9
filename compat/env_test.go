package compat

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/keyfleet/keyfleet/node"
)

// env is what every compat test shares: one real redis-server, the
// catalog read from it, and a throwaway node that answers the probes.
type env struct {
	redisAddr string
	config    map[string]string // redis-server's CONFIG GET * at start
	cat       *catalog
	prober    *prober
	stops     []func()
}

var shared struct {
	once sync.Once
	env  *env
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.env != nil {
		for _, stop := range shared.env.stops {
			stop()
		}
	}
	os.Exit(code)
}

// needTool skips the test, or fails it under CI=true, where a missing
// reference server must not pass as green.
func needTool(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " (CI=true: required)")
	}
	t.Skip(msg)
}

func sharedEnv(t testing.TB) *env {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		needTool(t, "redis-server is not installed (apt-get install redis-server): differential tests need it as the reference")
	}
	shared.once.Do(func() { shared.env, shared.err = newEnv() })
	if shared.err != nil {
		if strings.Contains(shared.err.Error(), "version") {
			needTool(t, "%v", shared.err)
		}
		t.Fatal(shared.err)
	}
	return shared.env
}

func newEnv() (*env, error) {
	e := &env{}
	if err := e.start(); err != nil {
		for _, stop := range e.stops {
			stop()
		}
		return nil, err
	}
	return e, nil
}

func (e *env) start() error {
	addr, stop, err := startRedis()
	if err != nil {
		return err
	}
	e.stops = append(e.stops, stop)
	e.redisAddr = addr
	if e.cat, err = loadCatalog(addr); err != nil {
		return err
	}
	// The harness's own user keeps reset working after a case sets
	// requirepass (which binds only the default user).
	admin := newEndpoint("redis", addr)
	r := admin.exchange("admin", EncodeCommand([]string{"ACL", "SETUSER", adminUser, "on", ">" + adminPass, "~*", "&*", "+@all"}), 1)[0]
	admin.close()
	if r.Err != "" || r.V.Type == '-' {
		return fmt.Errorf("create the harness's ACL user on redis-server: %s", r)
	}
	if e.config, err = redisConfig(addr); err != nil {
		return err
	}
	probeAddr, stopProbe, err := startNode()
	if err != nil {
		return err
	}
	e.stops = append(e.stops, stopProbe)
	e.prober = newProber(probeAddr, e.cat)
	return nil
}

// startRedis runs redis-server 7.0 on a free loopback port, as upstream's
// external test runs start it, with no persistence.
func startRedis() (string, func(), error) {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		return "", nil, fmt.Errorf("find redis-server: %w", err)
	}
	out, err := exec.Command(path, "--version").Output()
	if err != nil {
		return "", nil, fmt.Errorf("redis-server --version: %w", err)
	}
	if !bytes.Contains(out, []byte("v=7.0.")) {
		return "", nil, fmt.Errorf("redis-server version is not 7.0 (%s): the node follows 7.0", bytes.TrimSpace(out))
	}
	dir, err := os.MkdirTemp("", "keyfleet-compat-redis-")
	if err != nil {
		return "", nil, fmt.Errorf("redis dir: %w", err)
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			return "", nil, err
		}
		var logBuf bytes.Buffer
		cmd := exec.Command(path, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no",
			"--enable-debug-command", "yes", "--enable-protected-configs", "yes", "--enable-module-command", "yes")
		cmd.Stdout, cmd.Stderr = &logBuf, &logBuf
		// The server must not outlive a test binary that dies.
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			return "", nil, fmt.Errorf("start redis-server: %w", err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if err := waitPing(addr, exited); err != nil {
			cmd.Process.Kill()
			<-exited
			lastErr = fmt.Errorf("redis-server on %s: %w; log:\n%s", addr, err, logBuf.String())
			continue
		}
		stop := func() {
			cmd.Process.Kill()
			<-exited
			os.RemoveAll(dir)
		}
		return addr, stop, nil
	}
	os.RemoveAll(dir)
	return "", nil, lastErr
}

func waitPing(addr string, exited <-chan struct{}) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("exited during start-up")
		default:
		}
		e := newEndpoint("redis", addr)
		r := e.exchange("ping", EncodeCommand([]string{"PING"}), 1)[0]
		e.close()
		if r.Err == "" && r.V.Type == '+' && r.V.Str == "PONG" {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("no PONG within 10s")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startNode runs a Keyfleet node in-process on a free loopback port.
func startNode() (string, func(), error) {
	dir, err := os.MkdirTemp("", "keyfleet-compat-node-")
	if err != nil {
		return "", nil, fmt.Errorf("node dir: %w", err)
	}
	cfg := node.DefaultConfig()
	cfg.Port = 0
	cfg.Bind = []string{"127.0.0.1"}
	cfg.Dir = dir
	cfg.Save = nil // as redis-server's --save ''
	cfg.EnableDebugCommand = "yes"
	cfg.EnableProtectedConfigs = "yes"
	cfg.EnableModuleCommand = "yes"
	ctx, cancel := context.WithCancel(context.Background())
	s, err := node.Start(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		cancel()
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("start node: %w", err)
	}
	stop := func() {
		cancel()
		select {
		case <-s.Done():
		case <-time.After(10 * time.Second):
		}
		os.RemoveAll(dir)
	}
	return s.Addr().String(), stop, nil
}

const adminUser, adminPass = "keyfleet-compat-admin", "keyfleet-compat-admin-pw"

// adminEndpoint connects to redis-server as the harness's own user.
func adminEndpoint(addr string) (*endpoint, error) {
	ep := newEndpoint("redis", addr)
	r := ep.exchange("admin", EncodeCommand([]string{"AUTH", adminUser, adminPass}), 1)[0]
	if r.Err != "" || r.V.Type == '-' {
		ep.close()
		return nil, fmt.Errorf("AUTH as the harness's user on redis-server: %s", r)
	}
	return ep, nil
}

// resetRedis brings the shared redis-server back to its state at start
// between cases: no keys, no stats, no scripts, and every parameter a case
// changed with CONFIG SET (and did not restore, having stopped at a
// divergence) set back.
func (e *env) resetRedis() error {
	ep, err := adminEndpoint(e.redisAddr)
	if err != nil {
		return err
	}
	defer ep.close()
	do := func(cmd ...string) error {
		r := ep.exchange("admin", EncodeCommand(cmd), 1)[0]
		if r.Err != "" || r.V.Type == '-' {
			return fmt.Errorf("reset redis-server: %s: %s", strings.Join(cmd, " "), r)
		}
		return nil
	}
	for _, cmd := range [][]string{{"FLUSHALL", "SYNC"}, {"CONFIG", "RESETSTAT"}, {"SCRIPT", "FLUSH"}, {"FUNCTION", "FLUSH"}} {
		if err := do(cmd...); err != nil {
			return err
		}
	}
	now, err := redisConfig(e.redisAddr)
	if err != nil {
		return err
	}
	for k, v := range e.config {
		if now[k] != v {
			if err := do("CONFIG", "SET", k, v); err != nil {
				return err
			}
		}
	}
	return nil
}

func redisConfig(addr string) (map[string]string, error) {
	ep, err := adminEndpoint(addr)
	if err != nil {
		return nil, err
	}
	defer ep.close()
	r := ep.exchange("admin", EncodeCommand([]string{"CONFIG", "GET", "*"}), 1)[0]
	if r.Err != "" || r.V.Type != '*' || len(r.V.Elems)%2 != 0 {
		return nil, fmt.Errorf("CONFIG GET * on redis-server: %s", r)
	}
	m := make(map[string]string, len(r.V.Elems)/2)
	for i := 0; i < len(r.V.Elems); i += 2 {
		m[r.V.Elems[i].Str] = r.V.Elems[i+1].Str
	}
	return m, nil
}

// replay runs steps on a fresh node and the reset redis-server.
func (e *env) replay(steps []Step) (*divergence, error) {
	if err := e.resetRedis(); err != nil {
		return nil, err
	}
	addr, stop, err := startNode()
	if err != nil {
		return nil, err
	}
	defer stop()
	p := newPair(e.redisAddr, addr, e.cat)
	defer p.close()
	return p.run(steps), nil
}
