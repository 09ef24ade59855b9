package node

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestDelayFor(t *testing.T) {
	for _, tc := range []struct {
		usec     int
		keys     int64
		min, max time.Duration
	}{
		{usec: 0, keys: 1000, min: 0, max: 0},
		{usec: 100, keys: 3, min: 300 * time.Microsecond, max: 300 * time.Microsecond},
		// -1: every key sleeps 1µs.
		{usec: -1, keys: 50, min: 50 * time.Microsecond, max: 50 * time.Microsecond},
		// -1000: about one key in a thousand.
		{usec: -1000, keys: 100000, min: 50 * time.Microsecond, max: 200 * time.Microsecond},
	} {
		if d := delayFor(tc.usec, tc.keys); d < tc.min || d > tc.max {
			t.Errorf("delayFor(%d, %d) = %v, want within [%v, %v]", tc.usec, tc.keys, d, tc.min, tc.max)
		}
	}
}

// rdb-key-save-delay slows a BGSAVE per key without holding the shard:
// the server answers while the save is in progress.
func TestRDBKeySaveDelay(t *testing.T) {
	s, rdb := testServer(t, func(c *Config) { c.Dir = t.TempDir() })
	ctx := context.Background()
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		rdb.Set(ctx, k, "v", 0)
	}
	if err := rdb.ConfigSet(ctx, "rdb-key-save-delay", "100000").Err(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := rdb.BgSave(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	pingStart := time.Now()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(pingStart); d > 50*time.Millisecond {
		t.Fatalf("PING took %v during a delayed save", d)
	}
	if info := rdb.Info(ctx, "persistence").Val(); !strings.Contains(info, "rdb_bgsave_in_progress:1") {
		t.Fatalf("save not in progress right after BGSAVE:\n%s", info)
	}
	s.mu.Lock()
	s.waitBgsave()
	s.mu.Unlock()
	// Four sleeps of 100ms at least: one after each key but the last.
	if d := time.Since(start); d < 400*time.Millisecond {
		t.Fatalf("BGSAVE of 5 keys with a 100ms delay took %v", d)
	}
	if info := rdb.Info(ctx, "persistence").Val(); !strings.Contains(info, "rdb_last_bgsave_status:ok") {
		t.Fatalf("delayed save failed:\n%s", info)
	}
}

// A shutdown kills a delayed background save at once instead of waiting
// for it (Redis kills its child), then saves in the foreground.
func TestShutdownAbortsDelayedBgsave(t *testing.T) {
	s, rdb := testServer(t, func(c *Config) { c.Dir = t.TempDir() })
	ctx := context.Background()
	for _, k := range []string{"a", "b", "c"} {
		rdb.Set(ctx, k, "v", 0)
	}
	rdb.ConfigSet(ctx, "rdb-key-save-delay", "10000000") // 10 s a key
	if err := rdb.BgSave(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	rdb.ConfigSet(ctx, "rdb-key-save-delay", "0")
	start := time.Now()
	s.mu.Lock()
	err := s.prepareForShutdown(shutdownSave)
	s.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("shutdown waited %v for the delayed save", d)
	}
	if info := rdb.Info(ctx, "persistence").Val(); !strings.Contains(info, "rdb_bgsave_in_progress:0") {
		t.Fatalf("save still in progress:\n%s", info)
	}
}

// key-load-delay slows loading per key (DEBUG RELOAD here).
func TestKeyLoadDelay(t *testing.T) {
	_, rdb := testServer(t, func(c *Config) { c.Dir = t.TempDir(); c.EnableDebugCommand = "yes" })
	ctx := context.Background()
	for i := range 20 {
		rdb.Set(ctx, "k"+string(rune('a'+i)), "v", 0)
	}
	rdb.ConfigSet(ctx, "key-load-delay", "10000") // 10ms a key
	start := time.Now()
	if err := rdb.Do(ctx, "debug", "reload").Err(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Fatalf("loading 20 keys with a 10ms delay took %v", d)
	}
	if n := rdb.DBSize(ctx).Val(); n != 20 {
		t.Fatalf("dbsize %d after reload", n)
	}
}
