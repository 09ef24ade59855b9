package node

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestWriteLease(t *testing.T) {
	ctx := context.Background()
	s, c := testServer(t, nil)
	// No lease granted: writes are never refused for it.
	if err := c.Set(ctx, "k", "1", 0).Err(); err != nil {
		t.Fatalf("SET without a lease: %v", err)
	}
	s.RenewWriteLease(time.Now().Add(time.Hour))
	if err := c.Set(ctx, "k", "2", 0).Err(); err != nil {
		t.Fatalf("SET under a lease: %v", err)
	}
	s.RenewWriteLease(time.Now().Add(-time.Millisecond))
	if st := s.Status(); !st.LeaseExpired {
		t.Error("Status().LeaseExpired is false after the lease ran out")
	}
	for _, args := range [][]any{
		{"set", "k", "3"},
		{"del", "k"},
		{"eval", "return redis.call('set', KEYS[1], 'x')", "1", "k"},
	} {
		err := c.Do(ctx, args...).Err()
		if err == nil || !strings.HasPrefix(err.Error(), "READONLY ") || !strings.Contains(err.Error(), "lease") {
			t.Errorf("%v with an expired lease: %v", args, err)
		}
	}
	pipe := c.TxPipeline()
	pipe.Set(ctx, "k", "4", 0)
	// Refused when queued, so EXEC aborts, as Redis with -READONLY.
	if _, err := pipe.Exec(ctx); err == nil || !strings.HasPrefix(err.Error(), "EXECABORT") {
		t.Errorf("MULTI/SET/EXEC with an expired lease: %v", err)
	}
	if v, err := c.Get(ctx, "k").Result(); err != nil || v != "2" {
		t.Errorf("GET with an expired lease = %q, %v; want the last write, 2", v, err)
	}
	s.RenewWriteLease(time.Now().Add(time.Hour))
	if err := c.Set(ctx, "k", "5", 0).Err(); err != nil {
		t.Fatalf("SET after renewal: %v", err)
	}
	s.RenewWriteLease(time.Time{})
	if err := c.Set(ctx, "k", "6", 0).Err(); err != nil {
		t.Fatalf("SET with the lease turned off: %v", err)
	}
}

// A replica's lease does not matter (it refuses client writes anyway) and
// its stream from the primary is applied whatever its lease.
func TestWriteLeaseReplicaAndLinkStatus(t *testing.T) {
	ctx := context.Background()
	p, pc := testServer(t, nil)
	r, rc := testServer(t, nil)
	if st := r.Status(); st.MasterLinkUp || st.SyncInProgress {
		t.Errorf("a primary's status reports a link: %+v", st)
	}
	if err := r.ReplicaOf(p.Addr().String(), ""); err != nil {
		t.Fatal(err)
	}
	waitInSync(t, pc, rc)
	if st := r.Status(); !st.MasterLinkUp || st.SyncInProgress || st.Role != "replica" {
		t.Errorf("replica's status in sync: %+v", st)
	}
	r.RenewWriteLease(time.Now().Add(-time.Second))
	if err := pc.Set(ctx, "x", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	waitInSync(t, pc, rc)
	if v := rc.Get(ctx, "x").Val(); v != "1" {
		t.Errorf("replica with an expired lease did not apply the stream: x=%q", v)
	}
	if st := r.Status(); st.LeaseExpired {
		t.Error("a replica reports an expired lease")
	}
	p.Shutdown()
	<-p.Done()
	eventually(t, "link down", 10*time.Second, func() bool { return !r.Status().MasterLinkUp })
}

// HandOver under a write load: the replica leads at once, through PSYNC
// FAILOVER, with every write the old primary acknowledged.
func TestManagedHandOver(t *testing.T) {
	ctx := context.Background()
	p, pc := testServer(t, nil)
	r, rc := testServer(t, nil)
	announce(t, r, rc)
	if err := r.ReplicaOf(p.Addr().String(), ""); err != nil {
		t.Fatal(err)
	}
	waitInSync(t, pc, rc)
	if err := p.HandOver(ctx, "127.0.0.1:1", "", time.Second); err == nil {
		t.Error("HandOver to a server that is no replica succeeded")
	}
	stop := make(chan struct{})
	acked := make(chan int, 1)
	go func() {
		n := 0
		defer func() { acked <- n }()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := pc.Set(ctx, "k", i, 0).Err(); err != nil {
				return
			}
			n = i + 1
		}
	}()
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	if err := p.HandOver(ctx, r.Addr().String(), "", 5*time.Second); err != nil {
		t.Fatalf("HandOver: %v", err)
	}
	took := time.Since(start)
	close(stop)
	n := <-acked
	if st := r.Status(); st.Role != "primary" {
		t.Fatalf("target role after HandOver = %s", st.Role)
	}
	if st := p.Status(); st.Role != "replica" {
		t.Fatalf("old primary role after HandOver = %s", st.Role)
	}
	if v, _ := rc.Get(ctx, "k").Int(); v != n-1 {
		t.Errorf("new primary has k=%d, the old one acknowledged up to %d", v, n-1)
	}
	if took > 900*time.Millisecond {
		t.Errorf("HandOver took %v (it asks for the ACK at once)", took)
	}
	t.Logf("hand-over took %v after %d writes", took, n)
}
