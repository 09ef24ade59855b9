package node

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestFailoverArguments(t *testing.T) {
	ctx := context.Background()
	p, pc := testServer(t, nil)
	_, rc := testServer(t, nil)
	host, port, _ := net.SplitHostPort(p.Addr().String())
	if err := pc.Do(ctx, "failover").Err(); err == nil || err.Error() != "ERR FAILOVER requires connected replicas." {
		t.Errorf("FAILOVER without replicas: %v", err)
	}
	replicate(t, rc, p, pc)
	for _, tc := range []struct {
		args []any
		want string
	}{
		{[]any{"failover", "abort"}, "ERR No failover in progress."},
		{[]any{"failover", "to", "nohost", port}, "ERR FAILOVER target HOST and PORT is not a replica."},
		{[]any{"failover", "to", host, "x"}, errNotInt},
		{[]any{"failover", "timeout", "0"}, "ERR FAILOVER timeout must be greater than 0"},
		{[]any{"failover", "timeout", "-5"}, "ERR FAILOVER timeout must be greater than 0"},
		{[]any{"failover", "force", "timeout", "100"}, "ERR FAILOVER with force option requires both a timeout and target HOST and IP."},
		{[]any{"failover", "to", host, port, "force"}, "ERR FAILOVER with force option requires both a timeout and target HOST and IP."},
		{[]any{"failover", "force", "force"}, errSyntax},
		{[]any{"failover", "bogus"}, errSyntax},
		{[]any{"failover", "timeout"}, errSyntax},
	} {
		err := pc.Do(ctx, tc.args...).Err()
		if err == nil || err.Error() != tc.want {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
	if err := rc.Do(ctx, "failover").Err(); err == nil || err.Error() != "ERR FAILOVER is not valid when server is a replica." {
		t.Errorf("FAILOVER on a replica: %v", err)
	}
	if st := replInfoField(pc.Info(ctx, "replication").Val(), "master_failover_state"); st != "no-failover" {
		t.Errorf("master_failover_state = %q after refused FAILOVERs", st)
	}
}

// announce makes a test server (listening on a port chosen at start)
// announce its real port to its primary, as FAILOVER TO needs.
func announce(t *testing.T, s *Server, c *redis.Client) {
	t.Helper()
	_, port, _ := net.SplitHostPort(s.Addr().String())
	if err := c.ConfigSet(context.Background(), "replica-announce-port", port).Err(); err != nil {
		t.Fatal(err)
	}
}

// replicaAddr is how the primary names its replica in INFO (ip, port).
func replicaAddr(t *testing.T, pc *redis.Client) (string, string) {
	t.Helper()
	line := replInfoField(pc.Info(context.Background(), "replication").Val(), "slave0")
	var ip, port string
	for _, kv := range strings.Split(line, ",") {
		if v, ok := strings.CutPrefix(kv, "ip="); ok {
			ip = v
		}
		if v, ok := strings.CutPrefix(kv, "port="); ok {
			port = v
		}
	}
	if ip == "" || port == "" {
		t.Fatalf("no slave0 in INFO: %q", line)
	}
	return ip, port
}

func waitFailoverState(t *testing.T, c *redis.Client, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		info := c.Info(context.Background(), "replication").Val()
		if replInfoField(info, "master_failover_state") == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("master_failover_state is not %s after 10s:\n%s", want, info)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Writers run on the primary while it fails over: every write it
// acknowledged is on the new primary, which continued the history
// partially; the old primary follows it.
func TestFailoverLosesNoAcknowledgedWrite(t *testing.T) {
	ctx := context.Background()
	p, pc := testServer(t, nil)
	r, rc := testServer(t, nil)
	announce(t, r, rc)
	replicate(t, rc, p, pc)
	ip, port := replicaAddr(t, pc)

	var acked sync.Map
	var n atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprintf("w%d:%d", w, i)
				if err := pc.Set(ctx, key, i, 0).Err(); err == nil {
					acked.Store(key, strconv.Itoa(i))
					n.Add(1)
				} else if !strings.HasPrefix(err.Error(), "READONLY") {
					t.Errorf("SET %s: %v", key, err)
					return
				}
			}
		}(w)
	}
	eventually(t, "writes", 5*time.Second, func() bool { return n.Load() > 200 })
	if err := pc.Do(ctx, "failover", "to", ip, port, "timeout", "5000").Err(); err != nil {
		t.Fatalf("FAILOVER: %v", err)
	}
	waitFailoverState(t, pc, "no-failover")
	close(stop)
	wg.Wait()

	if role := replInfoField(pc.Info(ctx, "replication").Val(), "role"); role != "slave" {
		t.Fatalf("old primary's role = %s", role)
	}
	if role := replInfoField(rc.Info(ctx, "replication").Val(), "role"); role != "master" {
		t.Fatalf("target's role = %s", role)
	}
	stats := rc.Info(ctx, "stats").Val()
	if replInfoInt(stats, "sync_partial_ok") != 1 || replInfoInt(stats, "sync_full") != 0 {
		t.Errorf("old primary did not continue partially: %s", stats)
	}
	lost := 0
	acked.Range(func(k, v any) bool {
		if got, _ := rc.Get(ctx, k.(string)).Result(); got != v.(string) {
			lost++
		}
		return true
	})
	if lost > 0 {
		t.Errorf("%d of %d acknowledged writes missing on the new primary", lost, n.Load())
	}
	if err := rc.Set(ctx, "after", "1", 0).Err(); err != nil {
		t.Fatalf("SET on the new primary: %v", err)
	}
	waitInSync(t, rc, pc)
	compareDatasets(t, rc, pc)
}

// While waiting for the replica, writes wait and reads are served;
// ABORT lets the writes through on the same primary.
func TestFailoverPausesWritesAndAborts(t *testing.T) {
	ctx := context.Background()
	p, pc := testServer(t, nil)
	r, rc := testServer(t, nil)
	announce(t, r, rc)
	replicate(t, rc, p, pc)
	ip, port := replicaAddr(t, pc)
	// The replica stops reading: it will never acknowledge what follows.
	r.mu.Lock()
	locked := true
	defer func() {
		if locked {
			r.mu.Unlock()
		}
	}()
	if err := pc.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := pc.Do(ctx, "failover", "to", ip, port, "timeout", "60000").Err(); err != nil {
		t.Fatalf("FAILOVER: %v", err)
	}
	waitFailoverState(t, pc, "waiting-for-sync")
	if v, err := pc.Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Errorf("GET during the failover: %q %v", v, err)
	}
	done := make(chan error, 1)
	go func() { done <- pc.Set(ctx, "paused", "1", 0).Err() }()
	select {
	case err := <-done:
		t.Fatalf("a write ran during the failover: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	if err := pc.Do(ctx, "replicaof", "no", "one").Err(); err == nil || err.Error() != "ERR REPLICAOF not allowed while failing over." {
		t.Errorf("REPLICAOF during FAILOVER: %v", err)
	}
	if err := pc.Do(ctx, "failover").Err(); err == nil || err.Error() != "ERR FAILOVER already in progress." {
		t.Errorf("second FAILOVER: %v", err)
	}
	if err := pc.Do(ctx, "failover", "abort").Err(); err != nil {
		t.Fatalf("FAILOVER ABORT: %v", err)
	}
	if err := <-done; err != nil {
		t.Errorf("the paused write after ABORT: %v", err)
	}
	if role := replInfoField(pc.Info(ctx, "replication").Val(), "role"); role != "master" {
		t.Errorf("role after ABORT = %s", role)
	}
	r.mu.Unlock()
	locked = false
	waitInSync(t, pc, rc)
}

// Without FORCE the deadline gives up; with FORCE it hands over anyway
// and the target, which still holds the history, takes over.
func TestFailoverTimeout(t *testing.T) {
	ctx := context.Background()
	p, pc := testServer(t, nil)
	r, rc := testServer(t, nil)
	announce(t, r, rc)
	replicate(t, rc, p, pc)
	ip, port := replicaAddr(t, pc)

	r.mu.Lock()
	pc.Set(ctx, "a", "1", 0)
	if err := pc.Do(ctx, "failover", "to", ip, port, "timeout", "300").Err(); err != nil {
		t.Fatal(err)
	}
	waitFailoverState(t, pc, "no-failover")
	r.mu.Unlock()
	if role := replInfoField(pc.Info(ctx, "replication").Val(), "role"); role != "master" {
		t.Fatalf("role after a timed-out FAILOVER = %s", role)
	}
	if err := pc.Set(ctx, "b", "1", 0).Err(); err != nil {
		t.Fatalf("write after a timed-out FAILOVER: %v", err)
	}
	waitInSync(t, pc, rc)

	r.mu.Lock()
	pc.Set(ctx, "c", "1", 0)
	if err := pc.Do(ctx, "failover", "to", ip, port, "timeout", "200", "force").Err(); err != nil {
		t.Fatal(err)
	}
	waitFailoverState(t, pc, "failover-in-progress")
	r.mu.Unlock()
	waitFailoverState(t, pc, "no-failover")
	if role := replInfoField(rc.Info(ctx, "replication").Val(), "role"); role != "master" {
		t.Fatalf("target's role after a forced FAILOVER = %s", role)
	}
	if role := replInfoField(pc.Info(ctx, "replication").Val(), "role"); role != "slave" {
		t.Fatalf("old primary's role after a forced FAILOVER = %s", role)
	}
	waitInSync(t, rc, pc)
	compareDatasets(t, rc, pc)
}

// A target that refuses the PSYNC FAILOVER (here: it wants a password
// the primary does not have) leaves the primary a primary.
func TestFailoverTargetRejectsPSYNC(t *testing.T) {
	ctx := context.Background()
	p, pc := testServer(t, nil)
	r, rc := testServer(t, nil)
	announce(t, r, rc)
	replicate(t, rc, p, pc)
	ip, port := replicaAddr(t, pc)
	if err := rc.Do(ctx, "config", "set", "requirepass", "secret").Err(); err != nil {
		t.Fatal(err)
	}
	rc = redis.NewClient(&redis.Options{Addr: r.Addr().String(), Password: "secret"})
	defer rc.Close()
	if err := pc.Do(ctx, "failover", "to", ip, port).Err(); err != nil {
		t.Fatalf("FAILOVER: %v", err)
	}
	waitFailoverState(t, pc, "no-failover")
	if role := replInfoField(pc.Info(ctx, "replication").Val(), "role"); role != "master" {
		t.Errorf("role after a refused PSYNC FAILOVER = %s", role)
	}
	if role := replInfoField(rc.Info(ctx, "replication").Val(), "role"); role != "slave" {
		t.Errorf("target's role after refusing = %s", role)
	}
	if err := pc.Set(ctx, "after", "1", 0).Err(); err != nil {
		t.Errorf("write after the aborted failover: %v", err)
	}
}
