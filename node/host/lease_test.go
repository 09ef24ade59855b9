package host

import (
	"context"
	"fmt"
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
