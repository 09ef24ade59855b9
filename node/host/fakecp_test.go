package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyfleet/keyfleet/internal/wire"
	"github.com/redis/go-redis/v9"
)

const testToken = "node-token-for-tests"

// fakeCP is a control plane that speaks internal/wire's node API and lets
// a test set the desired state, take the control plane down, and wait for
// heartbeats.
type fakeCP struct {
	t   *testing.T
	srv *httptest.Server

	mu        sync.Mutex
	desired   wire.NodeDesired
	down      bool // answer every request by dropping the connection
	forget    bool // answer heartbeats 404 as if the node were unknown
	last      *wire.NodeHeartbeat
	beats     int
	registers int
	refused   int // requests dropped while down
	changed   chan struct{}
	interval  time.Duration
	lease     time.Duration // the write lease it asks for
}

func newFakeCP(t *testing.T) *fakeCP {
	cp := &fakeCP{t: t, changed: make(chan struct{}), interval: 30 * time.Millisecond,
		desired: wire.NodeDesired{Shards: []wire.DesiredShard{}}}
	cp.srv = httptest.NewServer(http.HandlerFunc(cp.serve))
	t.Cleanup(cp.srv.Close)
	return cp
}

func (cp *fakeCP) serve(w http.ResponseWriter, r *http.Request) {
	cp.mu.Lock()
	if cp.down {
		cp.refused++
		cp.broadcast()
		cp.mu.Unlock()
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	}
	cp.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+testToken {
		http.Error(w, `{"error":{"code":"unauthorized","message":"bad node token"}}`, http.StatusUnauthorized)
		return
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	switch r.URL.Path {
	case wire.PathNodeRegister:
		var reg wire.NodeRegister
		if err := dec.Decode(&reg); err != nil || reg.Name == "" || reg.PortMin == 0 || reg.MemoryMB <= 0 {
			http.Error(w, `{"error":{"code":"bad_request","message":"bad register"}}`, http.StatusBadRequest)
			return
		}
		cp.mu.Lock()
		cp.registers++
		cp.forget = false
		iv, lease := cp.interval, cp.lease
		cp.mu.Unlock()
		json.NewEncoder(w).Encode(wire.NodeRegistered{NodeID: "node-" + reg.Name, HeartbeatInterval: iv, WriteLease: lease})
	case wire.PathNodeHeartbeat:
		var hb wire.NodeHeartbeat
		if err := dec.Decode(&hb); err != nil || hb.NodeID == "" {
			http.Error(w, `{"error":{"code":"bad_request","message":"bad heartbeat"}}`, http.StatusBadRequest)
			return
		}
		cp.mu.Lock()
		if cp.forget {
			cp.mu.Unlock()
			http.Error(w, `{"error":{"code":"not_found","message":"unknown node"}}`, http.StatusNotFound)
			return
		}
		cp.last = &hb
		cp.beats++
		cp.broadcast()
		d := cp.desired
		cp.mu.Unlock()
		json.NewEncoder(w).Encode(d)
	default:
		http.NotFound(w, r)
	}
}

// broadcast wakes every waiter; cp.mu is held.
func (cp *fakeCP) broadcast() {
	close(cp.changed)
	cp.changed = make(chan struct{})
}

func (cp *fakeCP) setDesired(shards ...wire.DesiredShard) {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	cp.desired = wire.NodeDesired{Shards: shards}
}

func (cp *fakeCP) setDown(down bool) {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	cp.down = down
}

// waitFor waits until cond holds for the control plane's state, checking
// after every request it receives.
func (cp *fakeCP) waitFor(what string, cond func(cp *fakeCP) bool) {
	cp.t.Helper()
	deadline := time.NewTimer(15 * time.Second)
	defer deadline.Stop()
	for {
		cp.mu.Lock()
		ok := cond(cp)
		ch := cp.changed
		cp.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			cp.mu.Lock()
			defer cp.mu.Unlock()
			cp.t.Fatalf("timed out waiting for %s; last heartbeat: %+v", what, cp.last)
		}
	}
}

// waitShards waits for a heartbeat, sent after the current desired state
// was given out, in which check holds for the reported shards.
func (cp *fakeCP) waitShards(what string, check func(map[string]wire.ShardStatus) bool) map[string]wire.ShardStatus {
	cp.t.Helper()
	var got map[string]wire.ShardStatus
	cp.waitFor(what, func(cp *fakeCP) bool {
		if cp.last == nil {
			return false
		}
		got = make(map[string]wire.ShardStatus)
		for _, s := range cp.last.Shards {
			got[s.ShardID] = s
		}
		return check(got)
	})
	return got
}

// serving reports whether every named shard is running without error.
func serving(ids ...string) func(map[string]wire.ShardStatus) bool {
	return func(m map[string]wire.ShardStatus) bool {
		for _, id := range ids {
			s, ok := m[id]
			if !ok || s.Error != "" || s.Role != "primary" {
				return false
			}
		}
		return true
	}
}

// runHost starts a host against cp with dataDir and returns it and a stop
// function that waits for Run to return.
func runHost(t *testing.T, cp *fakeCP, dataDir string) (*Host, func()) {
	t.Helper()
	h, err := New(Options{
		ControlPlane: cp.srv.URL,
		NodeToken:    testToken,
		Advertise:    "127.0.0.1",
		PortMin:      1024,
		PortMax:      65535,
		DataDir:      dataDir,
		MemoryMB:     256,
		Name:         "n1",
		MaxBackoff:   100 * time.Millisecond,
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("host Run: %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Error("host did not stop")
			}
		})
	}
	t.Cleanup(stop)
	return h, stop
}

// freePorts finds n distinct free loopback ports. Another process may take
// one before the shard does; tests accept that small risk.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports
}

func desiredShard(id string, port int) wire.DesiredShard {
	return wire.DesiredShard{
		ShardID: id, DatabaseID: "db_test", Port: port, Role: "primary", Epoch: 1,
		MaxMemory: 64 << 20, EvictionPolicy: "allkeys-lru", Persistence: "none",
		Password: "pw-" + id,
	}
}

// pingWith connects to a shard, authenticates with password when it is
// not empty, and returns PING's answer or error.
func pingWith(port int, password string) (string, error) {
	rc := redis.NewClient(&redis.Options{
		Addr: fmt.Sprintf("127.0.0.1:%d", port), Password: password, Protocol: 2,
		DisableIdentity: true, MaxRetries: -1, DialTimeout: 2 * time.Second,
	})
	defer rc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return rc.Ping(ctx).Result()
}

func isNoAuth(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "NOAUTH")
}

func isRefused(err error) bool {
	var op *net.OpError
	return errors.As(err, &op)
}

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

func TestMain(m *testing.M) {
	// go-redis logs every refused dial; tests refuse dials on purpose.
	redis.SetLogger(quietLogger{})
	os.Exit(m.Run())
}
