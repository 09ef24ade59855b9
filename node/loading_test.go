package node

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// While a replica loads its primary's payload, clients are answered
// -LOADING (and INFO loading:1) at once instead of waiting for the whole
// load; the data is complete afterwards.
func TestReplicaAnswersLoadingDuringSync(t *testing.T) {
	ctx := context.Background()
	p, pc := testServer(t, nil)
	_, rc := testServer(t, func(c *Config) { c.KeyLoadDelay = 5000 }) // 5ms a key
	const keys = 200
	for i := range keys {
		pc.Set(ctx, "k"+strconv.Itoa(i), "v", 0)
	}
	host, port, _ := net.SplitHostPort(p.Addr().String())
	if err := rc.Do(ctx, "replicaof", host, port).Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		start := time.Now()
		err := rc.Get(ctx, "k1").Err()
		if d := time.Since(start); d > 200*time.Millisecond {
			t.Fatalf("GET waited %v during the load", d)
		}
		if err != nil && strings.HasPrefix(err.Error(), "LOADING") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no -LOADING seen while syncing, last: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	info := rc.Info(ctx, "persistence").Val()
	for _, want := range []string{"loading:1\r\n", "loading_total_bytes:", "loading_loaded_perc:", "loading_eta_seconds:"} {
		if !strings.Contains(info, want) {
			t.Errorf("INFO during the load lacks %q:\n%s", want, info)
		}
	}
	waitInSync(t, pc, rc)
	if n := rc.DBSize(ctx).Val(); n != keys {
		t.Fatalf("replica has %d keys after the load, want %d", n, keys)
	}
	if info := rc.Info(ctx, "persistence").Val(); !strings.Contains(info, "loading:0\r\n") || strings.Contains(info, "loading_total_bytes") {
		t.Fatalf("INFO after the load:\n%s", info)
	}
}
