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

// With repl-diskless-load swapdb the replica is loading from the first
// byte of a slow transfer, keeps its old data if nothing replaces it,
// and ends with the primary's.
func TestReplicaLoadingDuringDisklessTransfer(t *testing.T) {
	ctx := context.Background()
	p, pc := testServer(t, func(c *Config) {
		c.ReplDisklessSync, c.ReplDisklessSyncDelay, c.RDBKeySaveDelay = true, 0, 10000 // 10ms a key
	})
	_, rc := testServer(t, func(c *Config) { c.ReplDisklessLoad = "swapdb" })
	for i := range 100 {
		pc.Set(ctx, "k"+strconv.Itoa(i), "v", 0)
	}
	rc.Set(ctx, "old", "x", 0)
	host, port, _ := net.SplitHostPort(p.Addr().String())
	if err := rc.Do(ctx, "replicaof", host, port).Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		return strings.Contains(rc.Info(ctx, "persistence").Val(), "loading:1\r\n")
	})
	if err := rc.Get(ctx, "old").Err(); err == nil || !strings.HasPrefix(err.Error(), "LOADING") {
		t.Fatalf("GET during the transfer: %v, want -LOADING", err)
	}
	pc.ConfigSet(ctx, "rdb-key-save-delay", "0")
	waitInSync(t, pc, rc)
	if n := rc.DBSize(ctx).Val(); n != 100 {
		t.Fatalf("replica has %d keys, want 100", n)
	}
}
