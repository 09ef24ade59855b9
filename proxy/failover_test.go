package proxy

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyfleet/keyfleet/internal/wire"
)

// readOnly makes a shard server a replica of a primary that does not
// exist, so that it refuses writes with -READONLY as a demoted primary or
// a replica not yet promoted does; the test ends with it a primary again.
func readOnly(t *testing.T, s *redisServer) {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	s.do(t, "REPLICAOF", "127.0.0.1", strconv.Itoa(port))
	t.Cleanup(func() { s.do(t, "REPLICAOF", "NO", "ONE") })
}

func TestReadonlyRetriedOnNewPrimary(t *testing.T) {
	cases := []struct {
		name string
		// switchOver happens while the client's writes wait.
		switchOver func(t *testing.T, cp *fakeCP, old, new *redisServer)
	}{
		{"routes change after the demotion", func(t *testing.T, cp *fakeCP, old, new *redisServer) {
			moved := routeFor("db", "pw", wire.Limits{}, new)
			moved.Shards[0].Epoch = 2
			cp.setRoutes(moved)
		}},
		{"new primary promoted after the routes changed", func(t *testing.T, cp *fakeCP, old, new *redisServer) {
			new.do(t, "REPLICAOF", "NO", "ONE")
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srvs := servers(t, 2)
			old, new := srvs[0], srvs[1]
			cp := newFakeCP(t)
			cp.setRoutes(routeFor("db", "pw", wire.Limits{}, old))
			tp := startProxy(t, cp, nil)
			r := tp.raw(t)
			r.expect("+OK\r\n", "AUTH", "db", "pw")
			readOnly(t, old)
			if c.name == "new primary promoted after the routes changed" {
				// The routes name the new primary before its node has
				// promoted it.
				readOnly(t, new)
				moved := routeFor("db", "pw", wire.Limits{}, new)
				moved.Shards[0].Epoch = 2
				cp.setRoutes(moved)
				tp.waitRoutes(t)
			}
			// A pipeline of writes whose order matters.
			for i := 0; i < 20; i++ {
				r.send("RPUSH", "list", strconv.Itoa(i))
			}
			time.AfterFunc(300*time.Millisecond, func() { c.switchOver(t, cp, old, new) })
			start := time.Now()
			for i := 0; i < 20; i++ {
				if got, want := r.recv(), ":"+strconv.Itoa(i+1)+"\r\n"; got != want {
					t.Fatalf("reply %d = %q, want %q", i, got, want)
				}
			}
			t.Logf("writes answered after %v", time.Since(start))
			v := new.do(t, "LRANGE", "list", "0", "-1")
			if len(v.Elems) != 20 {
				t.Fatalf("new primary holds %d elements", len(v.Elems))
			}
			for i, e := range v.Elems {
				if string(e.Str) != strconv.Itoa(i) {
					t.Fatalf("element %d = %q: order lost", i, e.Str)
				}
			}
			if n := old.do(t, "EXISTS", "list"); n.Int != 0 {
				t.Fatal("a write reached the demoted primary")
			}
		})
	}
}

// Without a failover in sight the READONLY reaches the client once the
// retry budget is spent, and reads were never held.
func TestReadonlyBudget(t *testing.T) {
	srvs := servers(t, 1)
	cp := newFakeCP(t)
	cp.setRoutes(routeFor("db", "pw", wire.Limits{}, srvs[0]))
	tp := startProxy(t, cp, func(o *Options) { o.RequestTimeout = 2 * time.Second })
	r := tp.raw(t)
	r.expect("+OK\r\n", "AUTH", "db", "pw")
	readOnly(t, srvs[0])
	start := time.Now()
	r.expect("$-1\r\n", "GET", "k")
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Fatalf("a read waited %v", d)
	}
	got := r.expectPrefix("-READONLY ", "SET", "k", "v")
	if d := time.Since(start); d < tp.retryBudget() || d > 2*time.Second {
		t.Fatalf("READONLY after %v (budget %v): %q", d, tp.retryBudget(), got)
	}
	r.expect("+PONG\r\n", "PING")
}

// A request in flight on a primary that stops answering (a paused
// process) when a failover replaces it gets a clear error shortly after
// the switch, not at the request timeout, and the client's next request
// goes to the new primary on the same connection.
func TestInFlightOnFailedOverPrimaryFailsFast(t *testing.T) {
	srvs := servers(t, 2)
	old, new := srvs[0], srvs[1]
	cp := newFakeCP(t)
	cp.setRoutes(routeFor("db", "pw", wire.Limits{}, old))
	tp := startProxy(t, cp, func(o *Options) { o.RequestTimeout = 5 * time.Second })
	r := tp.raw(t)
	r.expect("+OK\r\n", "AUTH", "db", "pw")
	r.expect("+OK\r\n", "SET", "k", "v")
	new.do(t, "SET", "k", "new")

	// The old primary stops answering for 2s.
	slept := make(chan struct{})
	go func() {
		defer close(slept)
		old.tryDo("DEBUG", "SLEEP", "2")
	}()
	time.Sleep(100 * time.Millisecond)
	r.send("GET", "k")
	time.Sleep(100 * time.Millisecond)
	moved := routeFor("db", "pw", wire.Limits{}, new)
	moved.Shards[0].Epoch = 2
	switched := time.Now()
	cp.setRoutes(moved)
	got := r.recv()
	if waited := time.Since(switched); waited > time.Second {
		t.Errorf("the in-flight request was answered %v after the failover", waited)
	}
	if !strings.HasPrefix(got, "-ERR shard unavailable: failed over") {
		t.Errorf("in-flight reply %q, want a clear failover error", got)
	}
	r.expect("$3\r\nnew\r\n", "GET", "k")
	<-slept
}
