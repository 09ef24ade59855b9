package controlplane

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyfleet/keyfleet/internal/wire"
)

func TestParseFlags(t *testing.T) {
	env := map[string]string{
		"KEYFLEET_LISTEN":         ":9000",
		"KEYFLEET_DEV":            "true",
		"DATABASE_URL":            "postgres://db/x",
		"KEYFLEET_NODE_TIMEOUT":   "7s",
		"KEYFLEET_ENCRYPTION_KEY": strings.Repeat("ab", 32),
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	o, err := ParseFlags([]string{"--listen", ":9100", "--proxy-listen", "127.0.0.1:7777"}, lookup)
	if err != nil {
		t.Fatal(err)
	}
	if o.Listen != ":9100" || !o.Dev || o.DatabaseURL != "postgres://db/x" || o.NodeTimeout != 7*time.Second ||
		len(o.EncryptionKey) != 32 || o.ProxyListen != "127.0.0.1:7777" {
		t.Fatalf("options %+v", o)
	}
	env["KEYFLEET_DATABASE_URL"] = "postgres://db/y"
	if o, _ := ParseFlags(nil, lookup); o.DatabaseURL != "postgres://db/y" {
		t.Fatalf("KEYFLEET_DATABASE_URL does not win over DATABASE_URL: %q", o.DatabaseURL)
	}
	env["KEYFLEET_NODE_TIMEOUT"] = "soon"
	if _, err := ParseFlags(nil, lookup); err == nil || !strings.Contains(err.Error(), "KEYFLEET_NODE_TIMEOUT") {
		t.Fatalf("bad env value: %v", err)
	}
	if _, err := ParseFlags([]string{"--jwt-key", "!!"}, func(string) (string, bool) { return "", false }); err == nil {
		t.Fatal("undecodable key accepted")
	}
	if _, err := ParseFlags([]string{"extra"}, func(string) (string, bool) { return "", false }); err == nil {
		t.Fatal("stray argument accepted")
	}
}

func TestRunRequiresPostgresOrDev(t *testing.T) {
	err := Run(context.Background(), Options{EncryptionKey: make([]byte, 32), JWTKey: make([]byte, 32)})
	if err == nil || !strings.Contains(err.Error(), "--dev") {
		t.Fatalf("err = %v", err)
	}
	err = Run(context.Background(), Options{})
	if err == nil || !strings.Contains(err.Error(), "encryption key") {
		t.Fatalf("err = %v", err)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startDev runs dev mode in dir until the returned stop is called; a
// component registers a node with the token it is given.
func startDev(t *testing.T, dir string) (Env, *syncBuffer, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	ready := make(chan Env, 1)
	registered := make(chan error, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- Run(ctx, Options{
			Dev: true, Listen: "127.0.0.1:0", ProxyListen: "127.0.0.1:16379", DataDir: dir, Stdout: out,
			Ready: func(e Env) { ready <- e },
			Components: []Component{{Name: "fake node host", Start: func(ctx context.Context, env Env) error {
				registered <- register(ctx, env)
				<-ctx.Done()
				return nil
			}}},
		})
	}()
	var env Env
	select {
	case env = <-ready:
	case err := <-errc:
		cancel()
		t.Fatalf("dev mode did not start: %v", err)
	case <-time.After(2 * time.Minute):
		cancel()
		t.Fatal("dev mode did not start in time")
	}
	if err := <-registered; err != nil {
		cancel()
		t.Fatalf("component could not register: %v", err)
	}
	return env, out, func() error {
		cancel()
		select {
		case err := <-errc:
			return err
		case <-time.After(time.Minute):
			t.Fatal("dev mode did not stop")
			return nil
		}
	}
}

func register(ctx context.Context, env Env) error {
	body, _ := json.Marshal(wire.NodeRegister{Name: "dev-node", Advertise: "127.0.0.1", PortMin: 7000, PortMax: 7010, MemoryMB: 256})
	req, _ := http.NewRequestWithContext(ctx, "POST", env.ControlPlaneURL+wire.PathNodeRegister, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+env.NodeToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return &net.AddrError{Err: res.Status, Addr: env.ControlPlaneURL}
	}
	return nil
}

func login(t *testing.T, env Env, email, password string) int {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"email": email, "password": password})
	res, err := http.Post(env.ControlPlaneURL+"/v1/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func TestDevModeStartsAndRestarts(t *testing.T) {
	dir, err := os.MkdirTemp("", "keyfleet-dev-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	t.Cleanup(func() { os.RemoveAll(dir) })

	env, out, stop := startDev(t, dir)
	if env.NodeToken == "" || env.ProxyToken == "" || env.ProxyEndpoint != "127.0.0.1:16379" {
		t.Fatalf("env %+v", env)
	}
	res, err := http.Get(env.ControlPlaneURL + "/healthz")
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %v %v", res, err)
	}
	res.Body.Close()
	m := regexp.MustCompile(`e-mail:\s+(\S+)\s+password:\s+(\S+)`).FindStringSubmatch(out.String())
	if m == nil || m[1] != FirstAdminEmail {
		t.Fatalf("first admin not printed: %q", out.String())
	}
	if code := login(t, env, m[1], m[2]); code != http.StatusOK {
		t.Fatalf("first admin login: %d", code)
	}
	if err := stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if _, err := http.Get(env.ControlPlaneURL + "/healthz"); err == nil {
		t.Fatal("still serving after stop")
	}

	// Restart: same secrets, same admin, no new admin printed.
	env2, out2, stop2 := startDev(t, dir)
	defer stop2()
	if env2.NodeToken != env.NodeToken || env2.ProxyToken != env.ProxyToken {
		t.Fatal("tokens changed across restarts")
	}
	if strings.Contains(out2.String(), "password:") {
		t.Fatalf("admin printed again: %q", out2.String())
	}
	if code := login(t, env2, m[1], m[2]); code != http.StatusOK {
		t.Fatalf("admin login after restart: %d", code)
	}
	if code := login(t, env2, m[1], "wrong password"); code != http.StatusUnauthorized {
		t.Fatalf("wrong admin password: %d", code)
	}
	if st, err := os.Stat(dir + "/" + SecretsFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("secrets file: %v %v", st, err)
	}
}
