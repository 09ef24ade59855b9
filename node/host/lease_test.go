package host

import (
	"context"
	"fmt"
	"github.com/keyfleet/keyfleet/internal/wire"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// A primary whose host cannot reach the control plane stops accepting
// writes once the lease of its last heartbeat ends, serves reads
// meanwhile, and writes again after the next heartbeat.
func TestHostWriteLeaseFencesPrimary(t *testing.T) {
	cp := newFakeCP(t)
	cp.lease = 300 * time.Millisecond
	ports := freePorts(t, 1)
	a := desiredShard("sh_l", ports[0])
	cp.setDesired(a)
	runHost(t, cp, t.TempDir())
	cp.waitShards("shard serving", serving("sh_l"))
	rc := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", a.Port), Password: a.Password, MaxRetries: -1})
	defer rc.Close()
	ctx := context.Background()
	if err := rc.Set(ctx, "k", "1", 0).Err(); err != nil {
		t.Fatalf("SET under the lease: %v", err)
	}

	cp.setDown(true)
	start := time.Now()
	eventually(t, "writes refused", func() error {
		err := rc.Set(ctx, "k", "2", 0).Err()
		if err == nil || !strings.HasPrefix(err.Error(), "READONLY ") {
			return fmt.Errorf("SET = %v", err)
		}
		return nil
	})
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("writes refused only %v after the control plane went away (lease 300ms)", d)
	}
	if v, err := rc.Get(ctx, "k").Result(); err != nil || v == "" {
		t.Errorf("GET while fenced = %q, %v", v, err)
	}

	cp.setDown(false)
	eventually(t, "writes accepted again", func() error { return rc.Set(ctx, "k", "3", 0).Err() })
}

// The control plane swaps a primary and its replica while a client
// writes to the primary: the old primary hands over, so the new one has
// every write the old one acknowledged.
func TestHostManualSwapLosesNoWrite(t *testing.T) {
	cp := newFakeCP(t)
	ports := freePorts(t, 2)
	p := desiredShard("sh_hp", ports[0])
	r := desiredShard("sh_hr", ports[1])
	r.Password = p.Password
	r.Role, r.ReplicaOf = "replica", fmt.Sprintf("127.0.0.1:%d", ports[0])
	cp.setDesired(p, r)
	runHost(t, cp, t.TempDir())
	cp.waitShards("a primary and a replica", func(m map[string]wire.ShardStatus) bool {
		return m["sh_hp"].Role == "primary" && m["sh_hr"].MasterLinkStatus == "up"
	})
	ctx := context.Background()
	prim := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", ports[0]), Password: p.Password, MaxRetries: -1})
	defer prim.Close()
	repl := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", ports[1]), Password: p.Password, MaxRetries: -1})
	defer repl.Close()
	acked := make(chan int64, 1)
	go func() {
		var n int64
		defer func() { acked <- n }()
		for {
			v, err := prim.Incr(ctx, "n").Result()
			if err != nil {
				return
			}
			n = v
		}
	}()
	cp.waitShards("writes streaming", func(m map[string]wire.ShardStatus) bool { return m["sh_hr"].ReplOffset > 10000 })

	p.Role, p.ReplicaOf = "replica", fmt.Sprintf("127.0.0.1:%d", ports[1])
	r.Role, r.ReplicaOf = "primary", ""
	p.Epoch, r.Epoch = 2, 2
	cp.setDesired(p, r)
	n := <-acked
	cp.waitShards("roles swapped", func(m map[string]wire.ShardStatus) bool {
		return m["sh_hr"].Role == "primary" && m["sh_hp"].Role == "replica"
	})
	if got, err := repl.Get(ctx, "n").Int64(); err != nil || got != n {
		t.Errorf("new primary has n=%d (%v); the old one acknowledged %d", got, err, n)
	}
}
