package proxy

import (
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/keyfleet/keyfleet/internal/wire"
)

// TestRouteChangeKeepsClients: a failover (new primary) and a resharding
// apply without dropping client connections.
func TestRouteChangeKeepsClients(t *testing.T) {
	srvs := servers(t, 2)
	cp := newFakeCP(t)
	cp.setRoutes(routeFor("db", "pw", wire.Limits{}, srvs[0]))
	tp := startProxy(t, cp, nil)
	r := tp.raw(t)
	r.expect("+OK\r\n", "AUTH", "db", "pw")
	id := r.do("CLIENT", "ID")
	srvs[0].do(t, "SET", "k", "old-primary")
	srvs[1].do(t, "SET", "k", "new-primary")
	r.expect("$11\r\nold-primary\r\n", "GET", "k")
	rc := tp.client(t, "db", "pw", 3)
	if err := rc.Ping(ctxb).Err(); err != nil {
		t.Fatal(err)
	}

	// Failover: the shard's primary moves.
	moved := routeFor("db", "pw", wire.Limits{}, srvs[1])
	moved.Shards[0].Epoch = 2
	cp.setRoutes(moved)
	tp.waitRoutes(t)
	r.expect("$11\r\nnew-primary\r\n", "GET", "k")
	r.expect(id, "CLIENT", "ID")
	if v, err := rc.Get(ctxb, "k").Result(); err != nil || v != "new-primary" {
		t.Errorf("go-redis after failover: %q, %v", v, err)
	}

	// Resharding: the database grows to two shards.
	cp.setRoutes(routeFor("db", "pw", wire.Limits{}, srvs[1], srvs[0]))
	tp.waitRoutes(t)
	k0, k1 := keyOn("r", 0, 2), keyOn("r", 1, 2)
	r.expect("+OK\r\n", "SET", k0, "x")
	r.expect("+OK\r\n", "SET", k1, "y")
	if v := srvs[1].do(t, "GET", k0); string(v.Str) != "x" {
		t.Errorf("%s not on the first shard", k0)
	}
	if v := srvs[0].do(t, "GET", k1); string(v.Str) != "y" {
		t.Errorf("%s not on the second shard", k1)
	}
	r.expect(id, "CLIENT", "ID")
}

// TestRouteChangeClosesRevoked: a rotated password or a deleted database
// closes its connections; others stay.
func TestRouteChangeClosesRevoked(t *testing.T) {
	srvs := servers(t, 2)
	cp := newFakeCP(t)
	cp.setRoutes(routeFor("x", "px", wire.Limits{}, srvs[0]), routeFor("y", "py", wire.Limits{}, srvs[1]))
	tp := startProxy(t, cp, nil)
	x, y := tp.raw(t), tp.raw(t)
	x.expect("+OK\r\n", "AUTH", "x", "px")
	y.expect("+OK\r\n", "AUTH", "y", "py")

	cp.setRoutes(routeFor("x", "px-rotated", wire.Limits{}, srvs[0]), routeFor("y", "py", wire.Limits{}, srvs[1]))
	tp.waitRoutes(t)
	if !x.closed(2 * time.Second) {
		t.Error("rotated password: connection still open")
	}
	y.expect("+PONG\r\n", "PING")
	x = tp.raw(t)
	x.expectPrefix("-WRONGPASS", "AUTH", "x", "px")
	x.expect("+OK\r\n", "AUTH", "x", "px-rotated")

	cp.setRoutes(routeFor("x", "px-rotated", wire.Limits{}, srvs[0]))
	tp.waitRoutes(t)
	if !y.closed(2 * time.Second) {
		t.Error("deleted database: connection still open")
	}
	x.expect("+PONG\r\n", "PING")
	y = tp.raw(t)
	y.expectPrefix("-WRONGPASS", "AUTH", "y", "py")
}

// TestBadRouteKeepsPrevious: an invalid update for a database does not
// cut it off; a new database with an invalid route is not served.
func TestBadRouteKeepsPrevious(t *testing.T) {
	tp, srv := oneShard(t, wire.Limits{}, nil)
	r := tp.raw(t)
	r.expect("+OK\r\n", "AUTH", "db1", "pw1")
	bad := routeFor("db1", "pw1", wire.Limits{}, srv)
	bad.Shards[0].Primary = ""
	fresh := routeFor("new", "pn", wire.Limits{}, srv)
	fresh.PasswordDigest = "not hex"
	tp.cp.setRoutes(bad, fresh)
	tp.waitRoutes(t)
	r.expect("+OK\r\n", "SET", "still", "served")
	n := tp.raw(t)
	n.expectPrefix("-WRONGPASS", "AUTH", "new", "pn")
	n.expect("+OK\r\n", "AUTH", "db1", "pw1")
}

// TestControlPlaneDown: the last good routes keep being served.
func TestControlPlaneDown(t *testing.T) {
	tp, _ := oneShard(t, wire.Limits{}, nil)
	tp.cp.setDown(true)
	seen := tp.cp.routeAttempts()
	tp.cp.setRoutes() // a new version nobody can fetch
	// The waiting poll is refused; await the proxy's next attempt, which
	// it makes only after handling that refusal.
	deadline := time.Now().Add(10 * time.Second)
	for tp.cp.routeAttempts() <= seen && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if tp.cp.routeAttempts() <= seen {
		t.Fatal("the proxy did not poll the control plane again within 10s")
	}
	r := tp.raw(t)
	r.expect("+OK\r\n", "AUTH", "db1", "pw1")
	r.expect("+OK\r\n", "SET", "k", "v")
}

// TestDeadShard: a shard that stops answering fails its own requests
// after RequestTimeout; the other shard and the other tenant are not
// held up, and the shard is used again once it answers.
func TestDeadShard(t *testing.T) {
	srvs := servers(t, 3)
	cp := newFakeCP(t)
	cp.setRoutes(routeFor("d", "pd", wire.Limits{}, srvs[0], srvs[1]), routeFor("o", "po", wire.Limits{}, srvs[2]))
	tp := startProxy(t, cp, func(o *Options) { o.RequestTimeout = 400 * time.Millisecond })
	r, fast, other := tp.raw(t), tp.raw(t), tp.raw(t)
	r.expect("+OK\r\n", "AUTH", "d", "pd")
	fast.expect("+OK\r\n", "AUTH", "d", "pd")
	other.expect("+OK\r\n", "AUTH", "o", "po")
	slow, ok := keyOn("z", 1, 2), keyOn("z", 0, 2)
	r.expect("+OK\r\n", "SET", slow, "1")

	srvs[1].cmd.Process.Signal(syscall.SIGSTOP)
	resumed := false
	resume := func() {
		if !resumed {
			srvs[1].cmd.Process.Signal(syscall.SIGCONT)
			resumed = true
		}
	}
	defer resume()

	var wg sync.WaitGroup
	wg.Add(1)
	var stalled string
	var took time.Duration
	go func() {
		defer wg.Done()
		start := time.Now()
		r.send("GET", slow)
		stalled = r.recv()
		took = time.Since(start)
	}()
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	fast.expect("+OK\r\n", "SET", ok, "fine")
	other.expect("+OK\r\n", "SET", "k", "fine")
	if d := time.Since(start); d > 200*time.Millisecond {
		t.Errorf("healthy shards took %v while another was stuck", d)
	}
	wg.Wait()
	if !strings.HasPrefix(stalled, "-ERR shard unavailable") {
		t.Errorf("request to the stuck shard = %q", stalled)
	}
	if took < 350*time.Millisecond || took > 2*time.Second {
		t.Errorf("stuck request failed after %v, want about 400ms", took)
	}
	// A split command touching both shards: the healthy part answers,
	// the stuck part fails in its place.
	got := fast.do("MGET", ok, slow)
	if !strings.HasPrefix(got, "*2\r\n$4\r\nfine\r\n-ERR shard unavailable") {
		t.Errorf("MGET across a stuck shard = %q", got)
	}
	resume()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if got := r.do("GET", slow); got == "$1\r\n1\r\n" {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("shard not used again after it recovered: %q", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestShardDown: a shard that refuses connections fails fast.
func TestShardDown(t *testing.T) {
	needRedis(t)
	s, err := startRedis()
	if err != nil {
		t.Fatal(err)
	}
	srvs := servers(t, 1)
	cp := newFakeCP(t)
	cp.setRoutes(routeFor("d", "pd", wire.Limits{}, srvs[0], s))
	tp := startProxy(t, cp, nil)
	r := tp.raw(t)
	r.expect("+OK\r\n", "AUTH", "d", "pd")
	down, up := keyOn("y", 1, 2), keyOn("y", 0, 2)
	r.expect("+OK\r\n", "SET", down, "1")
	s.stop()
	for i := 0; i < 3; i++ {
		start := time.Now()
		got := r.do("GET", down)
		if !strings.HasPrefix(got, "-ERR shard unavailable") {
			t.Errorf("GET on a stopped shard = %q", got)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("failing took %v", d)
		}
	}
	r.expect("$-1\r\n", "GET", up)
}
