package node

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"time"
)

// The node's garbage collector policy. A cache's heap is almost all live
// data, and Go's default (GOGC=100: collect when the heap has doubled
// since the last collection's live heap) lets the process's RSS reach
// twice that data, where redis-server's RSS is its data plus 10-15%.
// Lowering GOGC costs collections in proportion to the allocation rate
// divided by the headroom; the node allocates little per request (the
// keyspace is pointer-light pages, see node/keyspace), and measured on
// 1M keys under redis-benchmark SET (bench/README.md) GOGC=25 cost no
// measurable CPU per command against GOGC=100 and cut RSS by a fifth.
//
// A fixed low GOGC would make a small heap collect very often for little
// gain (4 MiB of headroom is nothing), so the headroom is a fraction of
// the live heap with an absolute floor: GOGC = Headroom / live heap,
// bounded to [MinPercent, MaxPercent], re-evaluated after collections.
// GOMEMLIMIT (from maxmemory, memory.go) still applies on top.

// GCPolicy is the collector policy; see the comment above.
type GCPolicy struct {
	// MinPercent is the GOGC of a large heap: the heap grows at most
	// this many percent above its live data. 0 disables the policy.
	MinPercent int
	// MaxPercent is the GOGC of a small heap.
	MaxPercent int
	// Headroom is the growth in bytes allowed whatever the live heap,
	// within MaxPercent of it.
	Headroom int64
}

// DefaultGCPolicy is the node's default: 25% of the live heap, at least
// 16 MiB (up to doubling a small heap).
var DefaultGCPolicy = GCPolicy{MinPercent: 25, MaxPercent: 100, Headroom: 16 << 20}

// Environment variables that configure the policy. Setting GOGC (Go's own
// variable) turns the policy off: the operator chose a fixed GOGC.
const (
	envGCMinPercent = "KEYFLEET_GC_MIN_PERCENT" // MinPercent; "off" or 0 disables
	envGCHeadroomMB = "KEYFLEET_GC_HEADROOM_MB" // Headroom in MiB
)

// GCPolicyFromEnv returns DefaultGCPolicy adjusted by the environment, or
// an error naming a malformed variable. The policy is off (MinPercent 0)
// when GOGC is set or KEYFLEET_GC_MIN_PERCENT is "off" or 0.
func GCPolicyFromEnv(getenv func(string) string) (GCPolicy, error) {
	p := DefaultGCPolicy
	if getenv("GOGC") != "" {
		return GCPolicy{}, nil
	}
	if v := getenv(envGCMinPercent); v != "" {
		if v == "off" {
			return GCPolicy{}, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return GCPolicy{}, fmt.Errorf("%s=%q: want a percentage or off", envGCMinPercent, v)
		}
		p.MinPercent = n
		p.MaxPercent = max(p.MaxPercent, n)
	}
	if v := getenv(envGCHeadroomMB); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 || n > 1<<40 {
			return GCPolicy{}, fmt.Errorf("%s=%q: want a size in MiB", envGCHeadroomMB, v)
		}
		p.Headroom = n << 20
	}
	return p, nil
}

// percent is the GOGC for a live heap of live bytes.
func (p GCPolicy) percent(live uint64) int {
	if live == 0 {
		return p.MaxPercent
	}
	pct := uint64(max(p.Headroom, 0)) * 100 / live
	return int(min(max(pct, uint64(p.MinPercent)), uint64(p.MaxPercent)))
}

// gcPolicyTick is how often RunGCPolicy looks for a finished collection.
const gcPolicyTick = 100 * time.Millisecond

// RunGCPolicy sets GOGC from the live heap after each collection, until
// ctx ends; it restores the GOGC it found then. A disabled policy
// returns at once. One process runs one policy: the standalone node and
// the managed-mode host each start it once (GOGC is process-wide).
func RunGCPolicy(ctx context.Context, p GCPolicy) {
	if p.MinPercent <= 0 {
		return
	}
	samples := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/cycles/total:gc-cycles"}}
	cur := p.MaxPercent
	prev := debug.SetGCPercent(cur)
	defer debug.SetGCPercent(prev)
	var cycles uint64
	t := time.NewTicker(gcPolicyTick)
	defer t.Stop()
	for {
		metrics.Read(samples)
		if samples[0].Value.Kind() == metrics.KindUint64 && samples[1].Value.Kind() == metrics.KindUint64 {
			if n := samples[1].Value.Uint64(); n != cycles {
				cycles = n
				if pct := p.percent(samples[0].Value.Uint64()); pct != cur {
					cur = pct
					debug.SetGCPercent(pct)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// StartGCPolicy starts the policy the environment configures (see
// GCPolicyFromEnv) in the background, for a process's main.
func StartGCPolicy(ctx context.Context) error {
	p, err := GCPolicyFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	go RunGCPolicy(ctx, p)
	return nil
}
