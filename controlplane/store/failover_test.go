package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keyfleet/keyfleet/internal/wire"
)

// beat makes a node report, at `at`, every shard it is asked to run in its
// desired role and epoch with offset(shard, role) as its replication
// offset, and returns the desired state the control plane answered.
func beat(t *testing.T, s *Store, nodeID string, at time.Time, offset func(shardID, role string) int64) wire.NodeDesired {
	t.Helper()
	ctx := context.Background()
	d, err := s.Heartbeat(ctx, wire.NodeHeartbeat{NodeID: nodeID}, at)
	if err != nil {
		t.Fatal(err)
	}
	var st []wire.ShardStatus
	for _, sh := range d.Shards {
		st = append(st, wire.ShardStatus{ShardID: sh.ShardID, Port: sh.Port, Role: sh.Role, Epoch: sh.Epoch,
			ReplOffset: offset(sh.ShardID, sh.Role)})
	}
	d, err = s.Heartbeat(ctx, wire.NodeHeartbeat{NodeID: nodeID, Shards: st}, at)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func desiredFor(d wire.NodeDesired, shardID string) (wire.DesiredShard, bool) {
	for _, sh := range d.Shards {
		if sh.ShardID == shardID {
			return sh, true
		}
	}
	return wire.DesiredShard{}, false
}

// failoverFixture is three nodes and an active database of two shards with
// one replica each, every copy reported running.
type failoverFixture struct {
	s     *Store
	nodes []string
	db    Database
	now   time.Time
}

func newFailoverFixture(t *testing.T, offset func(shardID, role string) int64) *failoverFixture {
	t.Helper()
	s := newStore(t)
	f := &failoverFixture{s: s, now: time.Now()}
	for _, n := range []string{"n1", "n2", "n3"} {
		f.nodes = append(f.nodes, register(t, s, n, 4096))
	}
	a := newAccount(t, s, "fo@example.com")
	nd := newDatabase(2, 1)
	nd.AccountID = a.ID
	db, err := s.CreateDatabase(context.Background(), nd)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range f.nodes {
		beat(t, s, n, f.now, offset)
	}
	f.db, err = s.GetDatabase(context.Background(), a.ID, db.ID)
	if err != nil || f.db.Status != StatusActive {
		t.Fatalf("database not active: %+v %v", f.db.Status, err)
	}
	return f
}

func (f *failoverFixture) topology(t *testing.T) []ShardInfo {
	t.Helper()
	sh, err := f.s.DatabaseShards(context.Background(), f.db.ID)
	if err != nil {
		t.Fatal(err)
	}
	return sh
}

func copyOf(si ShardInfo, role string) PlacementStatus {
	for _, p := range si.Placements {
		if p.Role == role {
			return p
		}
	}
	return PlacementStatus{}
}

func TestNodeDownFailsOverToReplicaAndFencesOldPrimary(t *testing.T) {
	ctx := context.Background()
	offsets := func(_, role string) int64 {
		if role == "primary" {
			return 1000
		}
		return 990
	}
	f := newFailoverFixture(t, offsets)
	s := f.s
	before := f.topology(t)
	shard0 := before[0]
	oldPrimary, replica := copyOf(shard0, "primary"), copyOf(shard0, "replica")
	v0, _ := s.RouteVersion(ctx)

	// The primary's node goes silent; the others keep beating.
	later := f.now.Add(3 * time.Second)
	for _, n := range f.nodes {
		if n != oldPrimary.NodeID {
			beat(t, s, n, later, offsets)
		}
	}
	// Too early: within the timeout nothing happens.
	fs, err := s.DetectAndFailover(ctx, nil, f.now.Add(time.Second), DetectOptions{Timeout: 2 * time.Second})
	if err != nil || len(fs) != 0 {
		t.Fatalf("failover before the timeout: %v %v", fs, err)
	}
	// A probe answered recently keeps the node up even without heartbeats.
	if err := s.RecordProbes(ctx, nil, []string{oldPrimary.NodeID}, later); err != nil {
		t.Fatal(err)
	}
	fs, err = s.DetectAndFailover(ctx, nil, later.Add(time.Second), DetectOptions{Timeout: 2 * time.Second})
	if err != nil || len(fs) != 0 {
		t.Fatalf("failover of a node that answers probes: %v %v", fs, err)
	}
	// Nor when the reconciler marked it down for its heartbeats alone.
	if err := s.Reconcile(ctx, later.Add(time.Second), ReconcileOptions{NodeTimeout: time.Second}); err != nil {
		t.Fatal(err)
	}
	fs, err = s.DetectAndFailover(ctx, nil, later.Add(time.Second), DetectOptions{Timeout: 2 * time.Second})
	if err != nil || len(fs) != 0 {
		t.Fatalf("failover of a node down for heartbeats only: %v %v", fs, err)
	}
	// Silent on both counts: down, and each primary it held fails over.
	for _, n := range f.nodes {
		if n != oldPrimary.NodeID {
			beat(t, s, n, later.Add(3*time.Second), offsets)
		}
	}
	fs, err = s.DetectAndFailover(ctx, nil, later.Add(3*time.Second), DetectOptions{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var got *Failover
	for i := range fs {
		if fs[i].ShardID == shard0.ID {
			got = &fs[i]
		}
		if fs[i].FromNode != oldPrimary.NodeID {
			t.Errorf("failover of a shard whose primary was not on the down node: %+v", fs[i])
		}
	}
	if got == nil {
		t.Fatalf("shard 0 did not fail over: %+v", fs)
	}
	if got.ToNode != replica.NodeID || got.ToAddress != replica.Address || got.OldEpoch != 1 || got.NewEpoch != 2 ||
		got.Reason != ReasonNodeDown || got.LagBytes != 10 || got.ReplOffset != 990 || got.PromotedAt != nil {
		t.Fatalf("failover = %+v", got)
	}
	if got.RoutesPublishedAt.IsZero() || got.DetectedAt.IsZero() {
		t.Fatalf("timings missing: %+v", got)
	}

	// Routes already name the new primary, at the new epoch.
	if v, _ := s.RouteVersion(ctx); v <= v0 {
		t.Fatalf("route version %d not bumped from %d", v, v0)
	}
	rt, err := s.Routes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, sr := range rt.Databases[0].Shards {
		if sr.ShardID == shard0.ID && (sr.Primary != replica.Address || sr.Epoch != 2 || len(sr.Replicas) != 1 || sr.Replicas[0] != oldPrimary.Address) {
			t.Fatalf("route after failover: %+v", sr)
		}
	}

	// The new primary's node is told so; once it reports the role at the
	// new epoch, the failover is confirmed.
	d := beat(t, s, replica.NodeID, later.Add(3*time.Second), offsets)
	ds, _ := desiredFor(d, shard0.ID)
	if ds.Role != "primary" || ds.Epoch != 2 || ds.ReplicaOf != "" {
		t.Fatalf("new primary desired %+v", ds)
	}
	d = beat(t, s, replica.NodeID, later.Add(3*time.Second), offsets)
	list, err := s.ListFailovers(ctx, f.db.ID, 10)
	if err != nil || len(list) == 0 || list[0].PromotedAt == nil {
		t.Fatalf("promotion not confirmed: %+v %v", list, err)
	}

	// The old primary comes back: it is told to follow the new one at the
	// new epoch; until it reports that epoch it is no candidate.
	hb, err := s.Heartbeat(ctx, wire.NodeHeartbeat{NodeID: oldPrimary.NodeID, Shards: []wire.ShardStatus{
		{ShardID: shard0.ID, Port: 0, Role: "primary", Epoch: 1, ReplOffset: 1200}}}, later.Add(4*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	ds, _ = desiredFor(hb, shard0.ID)
	if ds.Role != "replica" || ds.Epoch != 2 || ds.ReplicaOf != replica.Address {
		t.Fatalf("old primary desired %+v", ds)
	}
	_, err = s.ManualFailover(ctx, "", f.db.ID, shard0.ID, true, 0, later)
	var nr *NoReplicaError
	if !errors.As(err, &nr) {
		t.Fatalf("a stale primary was a failover candidate: %v", err)
	}
	// Reporting the new epoch as a replica makes it one.
	beat(t, s, oldPrimary.NodeID, later.Add(5*time.Second), offsets)
	fs2, err := s.ManualFailover(ctx, "", f.db.ID, shard0.ID, false, 100, later)
	if err != nil || len(fs2) != 1 || fs2[0].ToNode != oldPrimary.NodeID || fs2[0].NewEpoch != 3 || fs2[0].Reason != ReasonManual {
		t.Fatalf("failover back: %+v %v", fs2, err)
	}
}

func TestManualFailoverRefusesALaggingReplicaUnlessForced(t *testing.T) {
	ctx := context.Background()
	f := newFailoverFixture(t, func(_, role string) int64 {
		if role == "primary" {
			return 5 << 20
		}
		return 1 << 20
	})
	s := f.s
	other := newAccount(t, s, "other@example.com")
	if _, err := s.ManualFailover(ctx, other.ID, f.db.ID, "", false, 1<<20, f.now); !errors.Is(err, ErrNotFound) {
		t.Fatalf("another account's database: %v", err)
	}
	if _, err := s.ManualFailover(ctx, f.db.AccountID, f.db.ID, "sh_nope", false, 1<<20, f.now); err == nil {
		t.Fatal("unknown shard accepted")
	}
	before := f.topology(t)
	_, err := s.ManualFailover(ctx, f.db.AccountID, f.db.ID, "", false, 1<<20, f.now)
	var le *ReplicaLagError
	if !errors.As(err, &le) || le.LagBytes != 4<<20 {
		t.Fatalf("lagging replica: %v", err)
	}
	// All or none: nothing changed.
	after := f.topology(t)
	for i := range before {
		if copyOf(after[i], "primary").NodeID != copyOf(before[i], "primary").NodeID || after[i].Epoch != before[i].Epoch {
			t.Fatalf("a refused failover changed shard %d", i)
		}
	}
	if lag := copyOf(after[0], "replica").LagBytes; lag != 4<<20 {
		t.Fatalf("topology lag = %d", lag)
	}
	fs, err := s.ManualFailover(ctx, f.db.AccountID, f.db.ID, "", true, 1<<20, f.now)
	if err != nil || len(fs) != 2 {
		t.Fatalf("forced: %+v %v", fs, err)
	}
	for i, fo := range fs {
		if fo.Reason != ReasonManualForced || fo.LagBytes != 4<<20 || fo.ToNode != copyOf(before[i], "replica").NodeID {
			t.Fatalf("forced failover %d: %+v", i, fo)
		}
	}
	list, err := s.ListFailovers(ctx, f.db.ID, 10)
	if err != nil || len(list) != 2 {
		t.Fatalf("list: %+v %v", list, err)
	}
}

func TestFailoverWithoutReplica(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	n := register(t, s, "solo", 4096)
	a := newAccount(t, s, "solo@example.com")
	nd := newDatabase(1, 0)
	nd.AccountID = a.ID
	db, err := s.CreateDatabase(ctx, nd)
	if err != nil {
		t.Fatal(err)
	}
	report(t, s, n, "")
	_, err = s.ManualFailover(ctx, a.ID, db.ID, "", true, 0, time.Now())
	var nr *NoReplicaError
	if !errors.As(err, &nr) {
		t.Fatalf("err = %v", err)
	}
	// A down node with no replica: no failover, no error, retried later.
	fs, err := s.DetectAndFailover(ctx, nil, time.Now().Add(time.Minute), DetectOptions{Timeout: 2 * time.Second})
	if err != nil || len(fs) != 0 {
		t.Fatalf("%+v %v", fs, err)
	}
}

// With two replicas the one with the highest offset is promoted and the
// other is re-pointed at it.
func TestFailoverPicksHighestOffsetAndRepointsOthers(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	var nodes []string
	for _, n := range []string{"a", "b", "c", "d"} {
		nodes = append(nodes, register(t, s, n, 4096))
	}
	a := newAccount(t, s, "two@example.com")
	nd := newDatabase(1, 2)
	nd.AccountID = a.ID
	db, err := s.CreateDatabase(ctx, nd)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, n := range nodes {
		beat(t, s, n, now, func(string, string) int64 { return 100 })
	}
	topo, err := s.DatabaseShards(ctx, db.ID)
	if err != nil {
		t.Fatal(err)
	}
	var primary string
	var replicas []PlacementStatus
	for _, p := range topo[0].Placements {
		if p.Role == "primary" {
			primary = p.NodeID
		} else {
			replicas = append(replicas, p)
		}
	}
	if len(replicas) != 2 || replicas[0].NodeID == replicas[1].NodeID {
		t.Fatalf("replicas %+v", replicas)
	}
	best, other := replicas[1], replicas[0]
	// The replicas report different offsets; the primary goes silent.
	later := now.Add(5 * time.Second)
	for _, n := range nodes {
		if n == primary {
			continue
		}
		off := int64(90)
		if n == best.NodeID {
			off = 99
		}
		beat(t, s, n, later, func(string, string) int64 { return off })
	}
	fs, err := s.DetectAndFailover(ctx, nil, later, DetectOptions{Timeout: 2 * time.Second})
	if err != nil || len(fs) != 1 || fs[0].ToNode != best.NodeID || fs[0].ReplOffset != 99 || fs[0].LagBytes != 1 {
		t.Fatalf("failover %+v %v", fs, err)
	}
	d := beat(t, s, other.NodeID, later, func(string, string) int64 { return 90 })
	ds, _ := desiredFor(d, topo[0].ID)
	if ds.Role != "replica" || ds.ReplicaOf != best.Address || ds.Epoch != 2 {
		t.Fatalf("the other replica's desired state: %+v", ds)
	}
}
