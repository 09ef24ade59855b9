package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/keyfleet/keyfleet/controlplane/auth"
	"github.com/keyfleet/keyfleet/controlplane/pgtest"
	"github.com/keyfleet/keyfleet/controlplane/placement"
	"github.com/keyfleet/keyfleet/internal/wire"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func newStore(t *testing.T) *Store {
	t.Helper()
	sealer, err := auth.NewSealer([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), pgtest.NewDB(t), sealer, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func newAccount(t *testing.T, s *Store, email string) Account {
	t.Helper()
	a, _, err := s.CreateAccount(context.Background(), email, "hash", RoleUser, nil)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestAccountEmailIsUniqueIgnoringCase(t *testing.T) {
	s := newStore(t)
	newAccount(t, s, "Ann@example.com")
	_, _, err := s.CreateAccount(context.Background(), "ann@EXAMPLE.com", "h", RoleUser, &NewSession{RefreshHash: []byte("r"), ExpiresAt: time.Now().Add(time.Hour)})
	var ce *ConflictError
	if !errors.As(err, &ce) || ce.Field != "email" {
		t.Fatalf("err = %v, want a conflict on email", err)
	}
	// Nothing half-created: the session of the refused sign-up is not there.
	if _, _, err := s.RotateSession(context.Background(), []byte("r"), []byte("r2"), time.Now()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("session of a refused sign-up exists: %v", err)
	}
}

func TestRefreshRotationAndReplay(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	now := time.Now()
	a, sid, err := s.CreateAccount(ctx, "bob@example.com", "h", RoleUser, &NewSession{RefreshHash: []byte("r1"), ExpiresAt: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	got, sid2, err := s.RotateSession(ctx, []byte("r1"), []byte("r2"), now)
	if err != nil || got.ID != a.ID || sid2 != sid {
		t.Fatalf("rotate = %v %v %v", got, sid2, err)
	}
	// r1 again: a stolen copy. The session dies, r2 with it.
	if _, _, err := s.RotateSession(ctx, []byte("r1"), []byte("r3"), now); !errors.Is(err, ErrNotFound) {
		t.Fatalf("replay: %v", err)
	}
	if _, _, err := s.RotateSession(ctx, []byte("r2"), []byte("r4"), now); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after replay the current token still works: %v", err)
	}
	if ok, _ := s.SessionActive(ctx, sid, now); ok {
		t.Fatal("session still active after replay")
	}
	// Expired sessions do not refresh.
	_, _, err = s.CreateAccount(ctx, "cy@example.com", "h", RoleUser, &NewSession{RefreshHash: []byte("e1"), ExpiresAt: now.Add(-time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.RotateSession(ctx, []byte("e1"), []byte("e2"), now); !errors.Is(err, ErrNotFound) {
		t.Fatalf("expired session refreshed: %v", err)
	}
}

func register(t *testing.T, s *Store, name string, memMB int64) string {
	t.Helper()
	id, err := s.RegisterNode(context.Background(), wire.NodeRegister{Name: name, Advertise: "127.0.0.1", PortMin: 7000, PortMax: 7099, MemoryMB: memMB}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// report makes a node report every shard it is asked to run, in its role.
func report(t *testing.T, s *Store, nodeID string, errMsg string) wire.NodeDesired {
	t.Helper()
	d, err := s.Heartbeat(context.Background(), wire.NodeHeartbeat{NodeID: nodeID}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var st []wire.ShardStatus
	for _, sh := range d.Shards {
		st = append(st, wire.ShardStatus{ShardID: sh.ShardID, Port: sh.Port, Role: sh.Role, Epoch: sh.Epoch, Error: errMsg})
	}
	d, err = s.Heartbeat(context.Background(), wire.NodeHeartbeat{NodeID: nodeID, Shards: st}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func newDatabase(shards, replicas int) NewDatabase {
	return NewDatabase{Name: "cache", Plan: "pro", MemoryMB: 300, Shards: shards, Replicas: replicas,
		EvictionPolicy: "noeviction", Persistence: "none", ProvisionTimeout: time.Minute}
}

func TestProvisioningLifecycle(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	acc := newAccount(t, s, "dee@example.com")
	n1, n2 := register(t, s, "n1", 1000), register(t, s, "n2", 1000)
	v0, _ := s.RouteVersion(ctx)

	nd := newDatabase(3, 1)
	nd.AccountID = acc.ID
	db, err := s.CreateDatabase(ctx, nd)
	if err != nil {
		t.Fatal(err)
	}
	if db.Status != StatusProvisioning || len(db.Password) < 26 {
		t.Fatalf("created %+v", db)
	}
	shards, err := s.DatabaseShards(ctx, db.ID)
	if err != nil || len(shards) != 3 {
		t.Fatalf("shards %v %v", shards, err)
	}
	for _, sh := range shards {
		if len(sh.Placements) != 2 || sh.Placements[0].NodeID == sh.Placements[1].NodeID {
			t.Fatalf("shard %d placements %+v", sh.Index, sh.Placements)
		}
	}

	d1 := report(t, s, n1, "")
	if len(d1.Shards) != 3 {
		t.Fatalf("n1 desired %d shards, want 3", len(d1.Shards))
	}
	for _, ds := range d1.Shards {
		if ds.MaxMemory != 100<<20 || ds.Password == "" || (ds.Role == "replica") != (ds.ReplicaOf != "") {
			t.Fatalf("desired shard %+v", ds)
		}
	}
	if got, _ := s.GetDatabase(ctx, acc.ID, db.ID); got.Status != StatusProvisioning {
		t.Fatalf("active with only one node reporting: %s", got.Status)
	}
	report(t, s, n2, "")
	got, _ := s.GetDatabase(ctx, acc.ID, db.ID)
	if got.Status != StatusActive {
		t.Fatalf("status %s after both nodes report", got.Status)
	}
	routes, err := s.Routes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if routes.Version <= v0 || len(routes.Databases) != 1 {
		t.Fatalf("routes %+v (v0 %d)", routes, v0)
	}
	r := routes.Databases[0]
	if r.PasswordDigest != auth.HexDigest(db.Password) || len(r.Shards) != 3 || r.Shards[0].Primary == "" || len(r.Shards[0].Replicas) != 1 {
		t.Fatalf("route %+v", r)
	}
	if r.Shards[0].Slots[0].Start != 0 || r.Shards[2].Slots[0].End != 16383 {
		t.Fatalf("slots %+v", r.Shards)
	}

	// Delete: proxies drop it at once, nodes are told to stop, the rows go
	// when nothing runs any more.
	if err := s.DeleteDatabase(ctx, acc.ID, db.ID); err != nil {
		t.Fatal(err)
	}
	if routes, _ := s.Routes(ctx); len(routes.Databases) != 0 {
		t.Fatalf("deleted database still routed")
	}
	if err := s.Reconcile(ctx, time.Now(), ReconcileOptions{NodeTimeout: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetDatabase(ctx, acc.ID, db.ID); err != nil {
		t.Fatalf("removed while nodes still run it: %v", err)
	}
	if d := report(t, s, n1, ""); len(d.Shards) != 0 {
		t.Fatalf("n1 still desired %d shards of a deleted database", len(d.Shards))
	}
	report(t, s, n2, "")
	if err := s.Reconcile(ctx, time.Now(), ReconcileOptions{NodeTimeout: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetDatabase(ctx, acc.ID, db.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted database not removed: %v", err)
	}
}

func TestProvisioningFailures(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	acc := newAccount(t, s, "eve@example.com")
	n1 := register(t, s, "n1", 1000)

	nd := newDatabase(1, 0)
	nd.AccountID = acc.ID
	db, err := s.CreateDatabase(ctx, nd)
	if err != nil {
		t.Fatal(err)
	}
	report(t, s, n1, "port in use")
	got, _ := s.GetDatabase(ctx, acc.ID, db.ID)
	if got.Status != StatusFailed || !strings.Contains(got.FailureReason, "port in use") {
		t.Fatalf("status %s reason %q", got.Status, got.FailureReason)
	}

	nd.Name = "late"
	late, err := s.CreateDatabase(ctx, nd)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Reconcile(ctx, time.Now().Add(2*time.Minute), ReconcileOptions{NodeTimeout: time.Hour}); err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetDatabase(ctx, acc.ID, late.ID)
	if got.Status != StatusFailed || !strings.Contains(got.FailureReason, "timed out") || !strings.Contains(got.FailureReason, "n1") {
		t.Fatalf("late: status %s reason %q", got.Status, got.FailureReason)
	}

	// A node that stops beating goes down and takes no new shards.
	if err := s.Reconcile(ctx, time.Now().Add(time.Hour), ReconcileOptions{NodeTimeout: time.Second}); err != nil {
		t.Fatal(err)
	}
	nd.Name = "nowhere"
	_, err = s.CreateDatabase(ctx, nd)
	var ce *placement.CapacityError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want a capacity error", err)
	}
	// Nothing half-created.
	dbs, _ := s.ListDatabases(ctx, acc.ID)
	for _, d := range dbs {
		if d.Name == "nowhere" {
			t.Fatal("database left behind by a failed placement")
		}
	}
}

func TestUsageRollUp(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	acc := newAccount(t, s, "fay@example.com")
	register(t, s, "n1", 1000)
	nd := newDatabase(1, 0)
	nd.AccountID = acc.ID
	db, err := s.CreateDatabase(ctx, nd)
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2030, 1, 1, 10, 0, 0, 0, time.UTC)
	// 10:00:30-10:01:30 spans two minutes half and half.
	rep := wire.UsageReport{ProxyID: "p1", Start: base.Add(30 * time.Second), End: base.Add(90 * time.Second), Databases: []wire.DatabaseUsage{
		{DatabaseID: db.ID, Ops: 101, BytesIn: 1000, BytesOut: 2000, Connections: 5, Errors: 3, Rejected: 1},
		{DatabaseID: "db_gone", Ops: 7},
	}}
	if err := s.IngestUsage(ctx, rep); err != nil {
		t.Fatal(err)
	}
	if err := s.IngestUsage(ctx, rep); err != nil { // a retry
		t.Fatal(err)
	}
	if err := s.IngestUsage(ctx, wire.UsageReport{ProxyID: "p2", Start: base.Add(40 * time.Second), End: base.Add(50 * time.Second),
		Databases: []wire.DatabaseUsage{{DatabaseID: db.ID, Ops: 10, Connections: 9}}}); err != nil {
		t.Fatal(err)
	}
	rows, err := s.Usage(ctx, acc.ID, db.ID, base.Add(-time.Hour), base.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("rows %+v", rows)
	}
	if rows[0].Minute != base || rows[1].Minute != base.Add(time.Minute) {
		t.Fatalf("minutes %v %v", rows[0].Minute, rows[1].Minute)
	}
	if rows[0].Ops+rows[1].Ops != 111 || rows[0].Ops != 60 || rows[0].BytesIn != 500 || rows[1].BytesOut != 1000 {
		t.Fatalf("ops split %+v", rows)
	}
	if rows[0].ConnectionsMax != 9 || rows[1].ConnectionsMax != 5 || rows[0].Errors+rows[1].Errors != 3 {
		t.Fatalf("connections/errors %+v", rows)
	}
	other := newAccount(t, s, "gus@example.com")
	if _, err := s.Usage(ctx, other.ID, db.ID, base, base); !errors.Is(err, ErrNotFound) {
		t.Fatalf("another account read usage: %v", err)
	}
}

func TestSplitAddsUp(t *testing.T) {
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		start, end time.Duration
		total      int64
		minutes    int
	}{
		{0, 10 * time.Second, 5, 1},
		{50 * time.Second, 190 * time.Second, 1001, 4},
		{30 * time.Second, 30 * time.Second, 9, 1},
	} {
		sh := shares(base.Add(tc.start), base.Add(tc.end))
		parts := split(tc.total, sh)
		var sum int64
		for _, p := range parts {
			if p < 0 {
				t.Fatalf("negative part %v", parts)
			}
			sum += p
		}
		if sum != tc.total || len(parts) != tc.minutes {
			t.Fatalf("%+v: parts %v", tc, parts)
		}
	}
}
