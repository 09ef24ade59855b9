package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keyfleet/keyfleet/internal/wire"
)

// beatLink is beat with the replicas reporting link as their link status.
func beatLink(t *testing.T, s *Store, nodeID string, at time.Time, link string) {
	t.Helper()
	ctx := context.Background()
	d, err := s.Heartbeat(ctx, wire.NodeHeartbeat{NodeID: nodeID}, at)
	if err != nil {
		t.Fatal(err)
	}
	var st []wire.ShardStatus
	for _, sh := range d.Shards {
		ss := wire.ShardStatus{ShardID: sh.ShardID, Port: sh.Port, Role: sh.Role, Epoch: sh.Epoch, ReplOffset: 1000}
		if sh.Role == "replica" {
			ss.MasterLinkStatus = link
		}
		st = append(st, ss)
	}
	if _, err := s.Heartbeat(ctx, wire.NodeHeartbeat{NodeID: nodeID, Shards: st}, at); err != nil {
		t.Fatal(err)
	}
}

// A replica whose link with its primary is down is no candidate, whatever
// its offset; once it reports the link up it is.
func TestFailoverNeedsReplicaLinkUp(t *testing.T) {
	ctx := context.Background()
	f := newFailoverFixture(t, func(_, _ string) int64 { return 1000 })
	for _, n := range f.nodes {
		beatLink(t, f.s, n, f.now, "down")
	}
	_, err := f.s.ManualFailover(ctx, f.db.AccountID, f.db.ID, "", true, 1<<20, f.now)
	var nr *NoReplicaError
	if !errors.As(err, &nr) || nr.Why != "no replica is streaming from its primary" {
		t.Fatalf("failover to replicas with their link down: %v", err)
	}
	for _, n := range f.nodes {
		beatLink(t, f.s, n, f.now.Add(time.Second), "up")
	}
	fs, err := f.s.ManualFailover(ctx, f.db.AccountID, f.db.ID, "", false, 1<<20, f.now.Add(time.Second))
	if err != nil || len(fs) != 2 {
		t.Fatalf("failover to replicas with their link up: %+v %v", fs, err)
	}
}

func TestLinkWasUp(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { x := t0.Add(d); return &x }
	for _, tc := range []struct {
		name        string
		link        string
		upAt        *time.Time
		primaryDown bool
		primaryAt   *time.Time
		want        bool
	}{
		{"up", "up", at(0), false, at(0), true},
		{"down, primary alive", "down", at(0), false, at(0), false},
		{"down, never up, primary dead", "down", nil, true, at(0), false},
		{"down with the dead primary", "down", at(-2 * time.Second), true, at(0), true},
		{"down long before the primary died", "down", at(-time.Minute), true, at(0), false},
		{"primary never reported", "down", at(0), true, nil, true},
	} {
		if got := linkWasUp(tc.link, tc.upAt, tc.primaryDown, tc.primaryAt); got != tc.want {
			t.Errorf("%s: linkWasUp = %v, want %v", tc.name, got, tc.want)
		}
	}
}
