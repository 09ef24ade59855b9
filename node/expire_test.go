package node

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"
)

func TestExpireCommands(t *testing.T) {
	_, rc := testServer(t, nil)
	// Replies of redis-server 7.0.15 to the same sequence.
	runSteps(t, rc, []step{
		{cmd("set", "sh", "v"), "OK"},
		{cmd("persist", "sh"), 0},
		{cmd("persist", "nokey"), 0},
		{cmd("expire", "sh", "100"), 1},
		{cmd("ttl", "sh"), 100},
		{cmd("persist", "sh"), 1},
		{cmd("ttl", "sh"), -1},
		{cmd("expire", "sh", "100", "NX"), 1},
		{cmd("expire", "sh", "200", "NX"), 0},
		{cmd("expire", "sh", "200", "XX"), 1},
		{cmd("expire", "sh", "100", "GT"), 0},
		{cmd("expire", "sh", "300", "gt"), 1},
		{cmd("expire", "sh", "400", "LT"), 0},
		{cmd("expire", "sh", "100", "lt"), 1},
		{cmd("ttl", "sh"), 100},
		{cmd("expire", "sh", "100", "LT", "GT"), errReply("ERR GT and LT options at the same time are not compatible")},
		{cmd("expire", "sh", "100", "NX", "GT"), errReply("ERR NX and XX, GT or LT options at the same time are not compatible")},
		{cmd("expire", "sh", "100", "NX", "LT"), errReply("ERR NX and XX, GT or LT options at the same time are not compatible")},
		{cmd("expire", "sh", "100", "XX", "NX"), errReply("ERR NX and XX, GT or LT options at the same time are not compatible")},
		{cmd("expire", "sh", "100", "AB"), errReply("ERR Unsupported option AB")},
		{cmd("expire", "sh", "100", "XX", "AB"), errReply("ERR Unsupported option AB")},
		{cmd("expire", "sh", ""), errReply("ERR value is not an integer or out of range")},
		{cmd("expire", "sh", "9223370399119966"), errReply("ERR invalid expire time in 'expire' command")},
		{cmd("expire", "sh", "9223372036854776"), errReply("ERR invalid expire time in 'expire' command")},
		{cmd("expire", "sh", "-9223372036854776"), errReply("ERR invalid expire time in 'expire' command")},
		{cmd("pexpire", "sh", "9223372036854770000"), errReply("ERR invalid expire time in 'pexpire' command")},
		{cmd("expireat", "sh", "9223372036854776"), errReply("ERR invalid expire time in 'expireat' command")},
		{cmd("pexpireat", "sh", "9223372036854770000"), 1},
		{cmd("pexpiretime", "sh"), 9223372036854770000},
		{cmd("expiretime", "sh"), 9223372036854770},
		{cmd("pexpireat", "sh", "-9223372036854770000"), 1},
		{cmd("ttl", "sh"), -2},
		{cmd("pttl", "sh"), -2},
		{cmd("expiretime", "sh"), -2},
		{cmd("pexpiretime", "sh"), -2},
		{cmd("set", "sh", "v"), "OK"},
		{cmd("expiretime", "sh"), -1},
		{cmd("pexpiretime", "sh"), -1},
		{cmd("expireat", "sh", "4102444800"), 1},
		{cmd("expiretime", "sh"), 4102444800},
		{cmd("pexpiretime", "sh"), 4102444800000},
		{cmd("expire", "none", "100", "NX"), 0},
		{cmd("expire", "none", "100", "GT"), 0},
		{cmd("set", "foo", "bar"), "OK"},
		{cmd("expire", "foo", "-10", "LT"), 1},
		{cmd("exists", "foo"), 0},
		{cmd("set", "foo", "bar", "ex", "100"), "OK"},
		{cmd("expire", "foo", "-10", "LT"), 1},
		{cmd("exists", "foo"), 0},
		{cmd("set", "foo", "bar"), "OK"},
		{cmd("expire", "foo", "100", "LT", "XX"), 0},
		{cmd("expire", "foo", "100", "GT"), 0},
		{cmd("pexpireat", "foo", "4102444800000"), 1},
		{cmd("pexpireat", "foo", "4102444800000", "gt"), 0},
		{cmd("pexpireat", "foo", "4102444800001", "gt"), 1},
		{cmd("pexpireat", "foo", "4102444800000", "lt"), 1},
		{cmd("pexpiretime", "foo"), 4102444800000},
		{cmd("expireat", "foo", "0"), 1},
		{cmd("exists", "foo"), 0},
	})
}

// TestTTLRounding: TTL rounds the remaining milliseconds to the nearest
// second, as Redis's (ttl+500)/1000.
func TestTTLRounding(t *testing.T) {
	_, rc := testServer(t, nil)
	ctx := context.Background()
	rc.Do(ctx, "set", "k", "v", "px", "1600")
	if ttl, _ := rc.Do(ctx, "ttl", "k").Int(); ttl != 2 {
		t.Errorf("TTL of 1.6s = %d, want 2", ttl)
	}
	if pttl, _ := rc.Do(ctx, "pttl", "k").Int(); pttl > 1600 || pttl < 1500 {
		t.Errorf("PTTL = %d", pttl)
	}
}

// TestLazyExpiry: with the active cycle off, an expired key stays in the
// table (DBSIZE counts it) but no command sees it, and the first access
// deletes it, propagates DEL and raises "expired".
func TestLazyExpiry(t *testing.T) {
	s, rc := testServer(t, nil)
	ctx := context.Background()
	s.mu.Lock()
	s.setActiveExpire(false)
	s.mu.Unlock()
	for i := 1; i <= 3; i++ {
		putExpired(s, 0, fmt.Sprint("key", i))
	}
	r := record(s)
	if n := rc.DBSize(ctx).Val(); n != 3 {
		t.Fatalf("DBSIZE = %d, want 3 (not yet reclaimed)", n)
	}
	steps := []step{
		{cmd("get", "key1"), nil},
		{cmd("exists", "key2"), 0},
		{cmd("ttl", "key3"), -2},
		{cmd("keys", "*"), []any{}},
		{cmd("dbsize"), 0},
	}
	runSteps(t, rc, steps)
	prop, events := r.take()
	wantProp := []string{"DEL key1", "DEL key2", "DEL key3"}
	wantEvents := []string{"expired:key1", "keymiss:key1", "expired:key2", "keymiss:key2", "expired:key3", "keymiss:key3"}
	if !reflect.DeepEqual(prop, wantProp) || !reflect.DeepEqual(events, wantEvents) {
		t.Errorf("propagated %q, notified %q; want %q, %q", prop, events, wantProp, wantEvents)
	}
	// EXPIRE does not resurrect an expired key; SETNX sees it as missing.
	putExpired(s, 0, "foo")
	putExpired(s, 0, "x")
	runSteps(t, rc, []step{
		{cmd("expire", "foo", "10"), 0},
		{cmd("exists", "foo"), 0},
		{cmd("setnx", "x", "20"), 1},
		{cmd("get", "x"), "20"},
		{cmd("del", "x"), 1},
	})
	putExpired(s, 0, "y")
	runSteps(t, rc, []step{{cmd("del", "y"), 0}})
}

// TestActiveExpireCycle: the cycle reclaims expired keys nobody touches,
// leaves live ones, and does nothing while switched off.
func TestActiveExpireCycle(t *testing.T) {
	s, rc := testServer(t, func(c *Config) { c.Hz = 1 })
	ctx := context.Background()
	s.mu.Lock()
	s.setActiveExpire(false)
	s.mu.Unlock()
	for i := 0; i < 500; i++ {
		putExpired(s, i%3, fmt.Sprint("dead", i))
	}
	for i := 0; i < 50; i++ {
		rc.Set(ctx, fmt.Sprint("live", i), "v", time.Hour)
	}
	total := func() int {
		s.mu.Lock()
		defer s.mu.Unlock()
		n := 0
		for _, db := range s.dbs {
			n += db.ks.Len()
		}
		return n
	}
	s.mu.Lock()
	s.activeExpireCycle(time.Now())
	s.mu.Unlock()
	if n := total(); n != 550 {
		t.Fatalf("switched-off cycle changed the keyspace: %d keys", n)
	}
	s.mu.Lock()
	s.setActiveExpire(true)
	// A few cycles at most: each goes on while a tenth of its sample is stale.
	for i := 0; i < 3; i++ {
		s.activeExpireCycle(time.Now())
	}
	expired := s.stats.expiredKeys
	s.mu.Unlock()
	if n := total(); n != 50 {
		t.Errorf("after the cycle %d keys remain, want the 50 live ones", n)
	}
	if expired != 500 {
		t.Errorf("expired_keys = %d, want 500", expired)
	}
}

// TestActiveExpireFromCron: the server's own cron reclaims keys.
func TestActiveExpireFromCron(t *testing.T) {
	_, rc := testServer(t, func(c *Config) { c.Hz = 100 })
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		rc.Do(ctx, "psetex", fmt.Sprint("key", i), "50", "a")
	}
	waitFor(t, func() bool { return rc.DBSize(ctx).Val() == 0 })
}

func TestExpirePropagation(t *testing.T) {
	s, rc := testServer(t, nil)
	r := record(s)
	ctx := context.Background()
	rc.Set(ctx, "k", "v", 0)
	r.take()
	past := fmt.Sprint(time.Now().Unix() - 100)
	tests := []struct {
		args   []any
		prop   []string
		events []string
	}{
		{cmd("expire", "k", "100"), []string{"PEXPIREAT k *"}, []string{"expire:k"}},
		{cmd("pexpire", "k", "100000"), []string{"PEXPIREAT k *"}, []string{"expire:k"}},
		{cmd("expireat", "k", "4102444800"), []string{"PEXPIREAT k 4102444800000"}, []string{"expire:k"}},
		{cmd("pexpireat", "k", "4102444800000"), []string{"PEXPIREAT k 4102444800000"}, []string{"expire:k"}},
		{cmd("expire", "k", "100", "nx"), nil, nil},
		{cmd("persist", "k"), []string{"persist k"}, []string{"persist:k"}},
		{cmd("persist", "k"), nil, nil},
		{cmd("expireat", "k", past), []string{"DEL k"}, []string{"del:k"}},
		{cmd("expire", "k", "100"), nil, nil},
	}
	for _, tc := range tests {
		rc.Do(ctx, tc.args...)
		prop, events := r.take()
		if !matchWords(prop, tc.prop) || !reflect.DeepEqual(events, tc.events) {
			t.Errorf("%v: propagated %q, notified %q; want %q, %q", tc.args, prop, events, tc.prop, tc.events)
		}
	}
	// Under lazyfree-lazy-expire deletions by expiry travel as UNLINK.
	s.mu.Lock()
	s.cfg.LazyfreeLazyExpire = true
	s.mu.Unlock()
	rc.Set(ctx, "k", "v", 0)
	rc.Do(ctx, "expireat", "k", past)
	putExpired(s, 0, "old")
	rc.Get(ctx, "old")
	if prop, _ := r.take(); !matchWords(prop, []string{"set k v", "UNLINK k", "UNLINK old"}) {
		t.Errorf("with lazyfree-lazy-expire propagated %q", prop)
	}
}
