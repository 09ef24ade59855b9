// Package placement decides where a database's shards run: each shard's
// primary and replicas on distinct nodes that have the memory and a free
// port, least loaded nodes first. It is pure: the store feeds it a snapshot
// of the nodes and writes its answer in the same transaction.
package placement

import (
	"fmt"
	"sort"

	"github.com/keyfleet/keyfleet/internal/wire"
)

// Slots is the number of Redis Cluster hash slots.
const Slots = 16384

// Node is one node host as placement sees it.
type Node struct {
	ID         string
	CapacityMB int64
	UsedMB     int64 // memory of the shard copies already placed on it
	Copies     int   // shard copies already placed on it
	PortMin    int
	PortMax    int
	UsedPorts  map[int]bool // ports taken by placed copies
	// Eligible is false for nodes that are down or draining: they take no
	// new copies.
	Eligible bool
}

func (n *Node) freeMB() int64 { return n.CapacityMB - n.UsedMB }

func (n *Node) freePort() (int, bool) {
	for p := n.PortMin; p <= n.PortMax; p++ {
		if !n.UsedPorts[p] {
			return p, true
		}
	}
	return 0, false
}

// Request is what a database needs.
type Request struct {
	Shards        int
	Replicas      int   // per shard
	ShardMemoryMB int64 // each copy of each shard
}

// Roles of a shard copy.
const (
	Primary = "primary"
	Replica = "replica"
)

// Assignment is one shard copy on one node.
type Assignment struct {
	Shard  int // 0-based shard index
	NodeID string
	Port   int
	Role   string
}

// CapacityError says why a request does not fit; the API answers 409 with
// its message.
type CapacityError struct {
	Msg string
}

func (e *CapacityError) Error() string { return e.Msg }

// Place assigns every copy of every shard. nodes is not modified. Copies go
// greedily to the node with the most free memory (then the fewest copies,
// then the lowest id, so the result is deterministic), never two copies of
// one shard on one node.
func Place(nodes []Node, req Request) ([]Assignment, error) {
	if req.Shards < 1 || req.Replicas < 0 || req.ShardMemoryMB < 1 {
		return nil, fmt.Errorf("placement: bad request %+v", req)
	}
	work := make([]*Node, 0, len(nodes))
	for i := range nodes {
		n := nodes[i]
		used := make(map[int]bool, len(n.UsedPorts))
		for p := range n.UsedPorts {
			used[p] = true
		}
		n.UsedPorts = used
		work = append(work, &n)
	}
	copies := 1 + req.Replicas
	eligible := 0
	for _, n := range work {
		if n.Eligible {
			eligible++
		}
	}
	if eligible == 0 {
		return nil, &CapacityError{Msg: "not enough capacity: no node host is up and accepting shards"}
	}
	if eligible < copies {
		return nil, &CapacityError{Msg: fmt.Sprintf(
			"not enough capacity: each shard needs %d distinct nodes (1 primary + %d replicas), but only %d node(s) are up and accepting shards",
			copies, req.Replicas, eligible)}
	}

	var out []Assignment
	for s := 0; s < req.Shards; s++ {
		taken := map[string]bool{}
		for c := 0; c < copies; c++ {
			sort.SliceStable(work, func(i, j int) bool {
				a, b := work[i], work[j]
				if a.freeMB() != b.freeMB() {
					return a.freeMB() > b.freeMB()
				}
				if a.Copies != b.Copies {
					return a.Copies < b.Copies
				}
				return a.ID < b.ID
			})
			var chosen *Node
			port := 0
			for _, n := range work {
				if !n.Eligible || taken[n.ID] || n.freeMB() < req.ShardMemoryMB {
					continue
				}
				p, ok := n.freePort()
				if !ok {
					continue
				}
				chosen, port = n, p
				break
			}
			if chosen == nil {
				return nil, &CapacityError{Msg: fmt.Sprintf(
					"not enough capacity: %d shard(s) x %d copies of %d MB do not fit; no node with %d MB free and a free port is left for shard %d (copy %d)",
					req.Shards, copies, req.ShardMemoryMB, req.ShardMemoryMB, s, c+1)}
			}
			role := Primary
			if c > 0 {
				role = Replica
			}
			taken[chosen.ID] = true
			chosen.UsedMB += req.ShardMemoryMB
			chosen.Copies++
			chosen.UsedPorts[port] = true
			out = append(out, Assignment{Shard: s, NodeID: chosen.ID, Port: port, Role: role})
		}
	}
	return out, nil
}

// Grow checks that every node holding copies of a database can give each
// copy deltaMB more memory. copiesOn maps a node id to how many copies of
// the database it holds.
func Grow(nodes []Node, copiesOn map[string]int, deltaMB int64) error {
	if deltaMB <= 0 {
		return nil
	}
	byID := make(map[string]Node, len(nodes))
	for _, n := range nodes {
		byID[n.ID] = n
	}
	ids := make([]string, 0, len(copiesOn))
	for id := range copiesOn {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		n, ok := byID[id]
		need := deltaMB * int64(copiesOn[id])
		if !ok || n.freeMB() < need {
			free := int64(0)
			if ok {
				free = n.freeMB()
			}
			return &CapacityError{Msg: fmt.Sprintf(
				"not enough capacity: node %s needs %d MB more for this database's shards but has %d MB free", id, need, free)}
		}
	}
	return nil
}

// SlotRanges splits the 16384 hash slots evenly over n shards, in order;
// the first Slots%n shards get one slot more.
func SlotRanges(n int) [][]wire.SlotRange {
	out := make([][]wire.SlotRange, n)
	start := 0
	for i := 0; i < n; i++ {
		size := Slots / n
		if i < Slots%n {
			size++
		}
		out[i] = []wire.SlotRange{{Start: start, End: start + size - 1}}
		start += size
	}
	return out
}
