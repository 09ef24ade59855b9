package placement

import (
	"errors"
	"strings"
	"testing"

	"github.com/keyfleet/keyfleet/internal/wire"
)

func node(id string, capMB, usedMB int64, ports int) Node {
	return Node{ID: id, CapacityMB: capMB, UsedMB: usedMB, PortMin: 7000, PortMax: 7000 + ports - 1, Eligible: true}
}

func TestPlace(t *testing.T) {
	down := node("n-down", 10000, 0, 10)
	down.Eligible = false
	busyPorts := node("n-ports", 10000, 0, 2)
	busyPorts.UsedPorts = map[int]bool{7000: true, 7001: true}

	tests := []struct {
		name    string
		nodes   []Node
		req     Request
		want    []Assignment
		wantErr string
	}{
		{
			name:  "one shard goes to the node with most free memory",
			nodes: []Node{node("a", 1000, 800, 10), node("b", 1000, 100, 10)},
			req:   Request{Shards: 1, ShardMemoryMB: 100},
			want:  []Assignment{{0, "b", 7000, Primary}},
		},
		{
			name:  "primary and replica on distinct nodes",
			nodes: []Node{node("a", 1000, 0, 10), node("b", 1000, 0, 10)},
			req:   Request{Shards: 2, Replicas: 1, ShardMemoryMB: 100},
			want: []Assignment{
				{0, "a", 7000, Primary}, {0, "b", 7000, Replica},
				{1, "a", 7001, Primary}, {1, "b", 7001, Replica},
			},
		},
		{
			name:  "three shards spread over three nodes",
			nodes: []Node{node("a", 1000, 0, 10), node("b", 1000, 0, 10), node("c", 1000, 0, 10)},
			req:   Request{Shards: 3, ShardMemoryMB: 100},
			want:  []Assignment{{0, "a", 7000, Primary}, {1, "b", 7000, Primary}, {2, "c", 7000, Primary}},
		},
		{
			name:  "down nodes and nodes without ports are skipped",
			nodes: []Node{down, busyPorts, node("c", 500, 0, 10)},
			req:   Request{Shards: 1, ShardMemoryMB: 100},
			want:  []Assignment{{0, "c", 7000, Primary}},
		},
		{
			name:  "taken ports are skipped",
			nodes: []Node{{ID: "a", CapacityMB: 1000, PortMin: 7000, PortMax: 7005, UsedPorts: map[int]bool{7000: true, 7002: true}, Eligible: true}},
			req:   Request{Shards: 2, ShardMemoryMB: 10},
			want:  []Assignment{{0, "a", 7001, Primary}, {1, "a", 7003, Primary}},
		},
		{
			name:    "replicas need distinct nodes",
			nodes:   []Node{node("a", 10000, 0, 10)},
			req:     Request{Shards: 1, Replicas: 1, ShardMemoryMB: 10},
			wantErr: "needs 2 distinct nodes",
		},
		{
			name:    "memory runs out",
			nodes:   []Node{node("a", 250, 0, 10), node("b", 150, 100, 10)},
			req:     Request{Shards: 3, ShardMemoryMB: 100},
			wantErr: "do not fit",
		},
		{
			name:    "no nodes",
			req:     Request{Shards: 1, ShardMemoryMB: 10},
			wantErr: "no node host is up",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Place(tt.nodes, tt.req)
			if tt.wantErr != "" {
				var ce *CapacityError
				if !errors.As(err, &ce) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want CapacityError containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("assignment %d = %+v, want %+v (all: %v)", i, got[i], tt.want[i], got)
				}
			}
		})
	}
}

// Invariants over many shapes: no node over capacity, no shared port, no
// two copies of a shard on one node, one primary per shard.
func TestPlaceInvariants(t *testing.T) {
	nodes := []Node{node("a", 3000, 500, 50), node("b", 2000, 0, 50), node("c", 4000, 1000, 50), node("d", 1000, 0, 3)}
	for shards := 1; shards <= 6; shards++ {
		for replicas := 0; replicas <= 2; replicas++ {
			as, err := Place(nodes, Request{Shards: shards, Replicas: replicas, ShardMemoryMB: 200})
			if err != nil {
				continue
			}
			used := map[string]int64{}
			ports := map[string]map[int]bool{}
			perShard := map[int]map[string]bool{}
			primaries := map[int]int{}
			for _, a := range as {
				used[a.NodeID] += 200
				if ports[a.NodeID] == nil {
					ports[a.NodeID] = map[int]bool{}
				}
				if ports[a.NodeID][a.Port] {
					t.Fatalf("%d/%d: port %d reused on %s", shards, replicas, a.Port, a.NodeID)
				}
				ports[a.NodeID][a.Port] = true
				if perShard[a.Shard] == nil {
					perShard[a.Shard] = map[string]bool{}
				}
				if perShard[a.Shard][a.NodeID] {
					t.Fatalf("%d/%d: two copies of shard %d on %s", shards, replicas, a.Shard, a.NodeID)
				}
				perShard[a.Shard][a.NodeID] = true
				if a.Role == Primary {
					primaries[a.Shard]++
				}
			}
			for _, n := range nodes {
				if n.UsedMB+used[n.ID] > n.CapacityMB {
					t.Fatalf("%d/%d: node %s over capacity", shards, replicas, n.ID)
				}
			}
			if len(as) != shards*(1+replicas) {
				t.Fatalf("%d/%d: %d assignments", shards, replicas, len(as))
			}
			for s := 0; s < shards; s++ {
				if primaries[s] != 1 {
					t.Fatalf("%d/%d: shard %d has %d primaries", shards, replicas, s, primaries[s])
				}
			}
		}
	}
	// The input is not modified.
	if nodes[0].UsedMB != 500 || nodes[0].UsedPorts != nil {
		t.Fatalf("input modified: %+v", nodes[0])
	}
}

func TestGrow(t *testing.T) {
	nodes := []Node{node("a", 1000, 900, 10), node("b", 1000, 0, 10)}
	if err := Grow(nodes, map[string]int{"b": 2}, 400); err != nil {
		t.Fatalf("fits: %v", err)
	}
	if err := Grow(nodes, map[string]int{"a": 1, "b": 1}, 200); err == nil || !strings.Contains(err.Error(), "node a") {
		t.Fatalf("err = %v, want node a out of room", err)
	}
	if err := Grow(nodes, map[string]int{"a": 5}, -100); err != nil {
		t.Fatalf("shrinking always fits: %v", err)
	}
}

func TestSlotRanges(t *testing.T) {
	for _, n := range []int{1, 2, 3, 7, 16, 100} {
		rs := SlotRanges(n)
		next := 0
		for i, r := range rs {
			if len(r) != 1 || r[0].Start != next || r[0].End < r[0].Start {
				t.Fatalf("n=%d shard %d: %v (next %d)", n, i, r, next)
			}
			size := r[0].End - r[0].Start + 1
			if size != Slots/n && size != Slots/n+1 {
				t.Fatalf("n=%d shard %d has %d slots", n, i, size)
			}
			next = r[0].End + 1
		}
		if next != Slots {
			t.Fatalf("n=%d covers %d slots", n, next)
		}
	}
	if got := SlotRanges(3); got[0][0] != (wire.SlotRange{Start: 0, End: 5461}) || got[2][0] != (wire.SlotRange{Start: 10923, End: 16383}) {
		t.Fatalf("3 shards: %v", got)
	}
}
