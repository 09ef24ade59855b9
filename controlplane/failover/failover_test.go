package failover

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyfleet/keyfleet/controlplane/auth"
	"github.com/keyfleet/keyfleet/controlplane/pgtest"
	"github.com/keyfleet/keyfleet/controlplane/store"
	"github.com/keyfleet/keyfleet/internal/wire"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func openStore(t *testing.T, url string) *store.Store {
	t.Helper()
	sealer, err := auth.NewSealer([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(context.Background(), url, sealer, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type running struct {
	m      *Monitor
	cancel context.CancelFunc
	done   chan struct{}
}

func start(t *testing.T, s *store.Store, o Options) *running {
	t.Helper()
	o.Store = s
	o.Conn = s.Pool().Config().ConnConfig.Copy()
	if o.RetryLeadership == 0 {
		o.RetryLeadership = 50 * time.Millisecond
	}
	m, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{m: m, cancel: cancel, done: make(chan struct{})}
	go func() { m.Run(ctx); close(r.done) }()
	t.Cleanup(func() { cancel(); <-r.done })
	return r
}

// Two control planes on one Postgres: one leads; when its session dies
// (the process crashed: Postgres ends the backend) the other takes over,
// and the first, back, does not lead alongside it.
func TestOneLeaderAndTakeover(t *testing.T) {
	url := pgtest.NewDB(t)
	s1, s2 := openStore(t, url), openStore(t, url)
	a := start(t, s1, Options{Timeout: time.Hour})
	waitFor(t, 5*time.Second, "first leader", a.m.Leader)
	b := start(t, s2, Options{Timeout: time.Hour})
	time.Sleep(300 * time.Millisecond) // several of b's attempts
	if b.m.Leader() {
		t.Fatal("two leaders")
	}

	// Kill the leader's session from the outside, as a crash would.
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var killed int
	if err := conn.QueryRow(context.Background(), `SELECT count(pg_terminate_backend(pid)) FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND ((classid::bigint << 32) | objid::bigint) = $1`, LockKey).Scan(&killed); err != nil {
		t.Fatal(err)
	}
	if killed != 1 {
		t.Fatalf("terminated %d lock holders", killed)
	}
	start := time.Now()
	waitFor(t, 5*time.Second, "takeover", b.m.Leader)
	t.Logf("takeover after %v", time.Since(start))
	waitFor(t, 5*time.Second, "the old leader to step down", func() bool { return !a.m.Leader() })
	time.Sleep(300 * time.Millisecond)
	if a.m.Leader() == b.m.Leader() {
		t.Fatalf("leaders: a=%v b=%v", a.m.Leader(), b.m.Leader())
	}

	// A clean stop hands over too.
	b.cancel()
	<-b.done
	waitFor(t, 5*time.Second, "handover after a stop", a.m.Leader)
}

// serve answers every connection's first line with reply, or holds it
// unanswered when reply is empty (a paused process).
func serve(t *testing.T, reply string) (port int, stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			if reply != "" {
				go func() {
					buf := make([]byte, 64)
					if _, err := c.Read(buf); err == nil {
						c.Write([]byte(reply))
					}
				}()
			}
		}
	}()
	stop = func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	}
	t.Cleanup(stop)
	return ln.Addr().(*net.TCPAddr).Port, stop
}

func TestProbe(t *testing.T) {
	pong, _ := serve(t, "+PONG\r\n")
	noauth, _ := serve(t, "-NOAUTH Authentication required.\r\n")
	silent, _ := serve(t, "")
	closed, stop := serve(t, "+PONG\r\n")
	stop()
	cases := []struct {
		name  string
		ports []int
		want  bool
	}{
		{"pong", []int{pong}, true},
		{"noauth", []int{noauth}, true},
		{"silent (paused process)", []int{silent}, false},
		{"closed port", []int{closed}, false},
		{"one of several answers", []int{closed, silent, noauth}, true},
		{"none", nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			if got := Probe(ctx, "127.0.0.1", c.ports); got != c.want {
				t.Fatalf("Probe = %v, want %v", got, c.want)
			}
		})
	}
}

// The leader fails over the primary of a node that stops heartbeating and
// whose ports stop answering, and only that one, within the timeout and a
// few rounds.
func TestLeaderFailsOverSilentNode(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, pgtest.NewDB(t))
	// Each node's one port range holds one real listener, so probes reach
	// "shards" that answer until the test silences one.
	type fakeNode struct {
		id   string
		port int
		stop func()
	}
	var nodes []*fakeNode
	for _, name := range []string{"a", "b"} {
		port, stop := serve(t, "-NOAUTH Authentication required.\r\n")
		id, err := s.RegisterNode(ctx, wire.NodeRegister{Name: name, Advertise: "127.0.0.1", PortMin: port, PortMax: port, MemoryMB: 1024}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, &fakeNode{id: id, port: port, stop: stop})
	}
	acct, _, err := s.CreateAccount(ctx, "x@example.com", "h", store.RoleUser, nil)
	if err != nil {
		t.Fatal(err)
	}
	db, err := s.CreateDatabase(ctx, store.NewDatabase{AccountID: acct.ID, Name: "c", Plan: "pro", MemoryMB: 100, Shards: 1, Replicas: 1,
		EvictionPolicy: "noeviction", Persistence: "none", ProvisionTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	silenced := map[string]bool{}
	beat := func(n *fakeNode) {
		d, err := s.Heartbeat(ctx, wire.NodeHeartbeat{NodeID: n.id}, time.Now())
		if err != nil {
			t.Error(err)
			return
		}
		var st []wire.ShardStatus
		for _, sh := range d.Shards {
			st = append(st, wire.ShardStatus{ShardID: sh.ShardID, Port: sh.Port, Role: sh.Role, Epoch: sh.Epoch, ReplOffset: 10})
		}
		if _, err := s.Heartbeat(ctx, wire.NodeHeartbeat{NodeID: n.id, Shards: st}, time.Now()); err != nil {
			t.Error(err)
		}
	}
	hbCtx, stopBeats := context.WithCancel(ctx)
	defer stopBeats()
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for hbCtx.Err() == nil {
				mu.Lock()
				quiet := silenced[n.id]
				mu.Unlock()
				if !quiet {
					beat(n)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}()
	}
	defer wg.Wait()
	defer stopBeats()
	waitFor(t, 5*time.Second, "database active", func() bool {
		d, err := s.GetDatabase(ctx, "", db.ID)
		return err == nil && d.Status == store.StatusActive
	})
	topo, err := s.DatabaseShards(ctx, db.ID)
	if err != nil {
		t.Fatal(err)
	}
	var primary, replica *fakeNode
	for _, p := range topo[0].Placements {
		for _, n := range nodes {
			if n.id == p.NodeID && p.Role == "primary" {
				primary = n
			} else if n.id == p.NodeID {
				replica = n
			}
		}
	}

	seen := make(chan store.Failover, 4)
	start(t, s, Options{Timeout: 500 * time.Millisecond, Interval: 50 * time.Millisecond, OnFailover: func(f store.Failover) { seen <- f }})
	time.Sleep(time.Second) // healthy nodes: no failover
	select {
	case f := <-seen:
		t.Fatalf("failover of a healthy node: %+v", f)
	default:
	}

	cut := time.Now()
	mu.Lock()
	silenced[primary.id] = true
	mu.Unlock()
	primary.stop()
	select {
	case f := <-seen:
		if f.FromNode != primary.id || f.ToNode != replica.id || f.NewEpoch != 2 {
			t.Fatalf("failover %+v", f)
		}
		took := f.RoutesPublishedAt.Sub(cut)
		t.Logf("silence to routes published: %v", took)
		// The node's last heartbeat and last answered probe can precede
		// the cut by one beat (50ms) and one probe interval (50ms): the
		// timeout runs from those, so the earliest legal failover is
		// 500ms-100ms after the cut.
		if took < 400*time.Millisecond || took > 2*time.Second {
			t.Fatalf("failover after %v with a 500ms timeout", took)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no failover")
	}
}
