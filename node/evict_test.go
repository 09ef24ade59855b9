package node

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func infoInt(t *testing.T, rc *redis.Client, section, field string) int64 {
	t.Helper()
	for _, l := range strings.Split(rc.Info(context.Background(), section).Val(), "\r\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && k == field {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("INFO %s: %q", field, v)
			}
			return n
		}
	}
	t.Fatalf("INFO %s has no %s", section, field)
	return 0
}

func TestEvictNoeviction(t *testing.T) {
	_, rc := testServer(t, nil)
	ctx := context.Background()
	for i := range 100 {
		rc.Set(ctx, fmt.Sprint("k", i), strings.Repeat("x", 100), 0)
	}
	rc.ConfigSet(ctx, "maxmemory", "1")
	if err := rc.Set(ctx, "new", "v", 0).Err(); err == nil || err.Error() != errOOM {
		t.Fatalf("SET over maxmemory under noeviction: %v", err)
	}
	if err := rc.LPush(ctx, "l", "v").Err(); err == nil || !strings.HasPrefix(err.Error(), "OOM") {
		t.Fatalf("LPUSH over maxmemory: %v", err)
	}
	if v := rc.Get(ctx, "k1").Val(); len(v) != 100 {
		t.Fatalf("GET under OOM: %q", v)
	}
	if n := rc.Del(ctx, "k1", "k2").Val(); n != 2 {
		t.Fatalf("DEL under OOM: %d", n)
	}
	if n := rc.DBSize(ctx).Val(); n != 98 {
		t.Fatalf("dbsize %d: noeviction evicted", n)
	}
	if n := infoInt(t, rc, "stats", "evicted_keys"); n != 0 {
		t.Fatalf("evicted_keys %d under noeviction", n)
	}
	rc.ConfigSet(ctx, "maxmemory", "0")
	if err := rc.Set(ctx, "new", "v", 0).Err(); err != nil {
		t.Fatalf("SET without maxmemory: %v", err)
	}
}

// TestEvictPolicies makes half the keys obviously better candidates
// (idle for hours, never used, expiring soon) and checks each policy
// evicts those first, and that volatile policies never evict a key
// without a TTL.
func TestEvictPolicies(t *testing.T) {
	for _, policy := range []string{"allkeys-lru", "allkeys-lfu", "allkeys-random", "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"} {
		t.Run(policy, func(t *testing.T) {
			s, rc := testServer(t, func(c *Config) {
				c.MaxMemoryPolicy = policy
				c.MaxMemorySamples = 10
			})
			ctx := context.Background()
			volatile := strings.HasPrefix(policy, "volatile")
			val := strings.Repeat("x", 100)
			p := rc.Pipeline()
			for i := range 200 {
				ttl := time.Duration(0)
				if volatile {
					ttl = 100000 * time.Second
				}
				p.Set(ctx, fmt.Sprint("hot:", i), val, ttl)
				if volatile {
					ttl = 100 * time.Second
				}
				p.Set(ctx, fmt.Sprint("cold:", i), val, ttl)
				if volatile {
					p.Set(ctx, fmt.Sprint("perm:", i), val, 0)
				}
			}
			if _, err := p.Exec(ctx); err != nil {
				t.Fatal(err)
			}
			s.mu.Lock()
			for i := range 200 {
				hot, _ := s.dbs[0].ks.Lookup([]byte(fmt.Sprint("hot:", i)))
				cold, _ := s.dbs[0].ks.Lookup([]byte(fmt.Sprint("cold:", i)))
				if s.lfuPolicy() {
					m := lfuMinutes(s.lruClock) << 8
					hot.LRU, cold.LRU = m|255, m|0
				} else {
					hot.LRU, cold.LRU = s.lruClock, (s.lruClock-20000)&lruClockMax
				}
			}
			used := s.usedMemory()
			s.mu.Unlock()
			// Room for about two thirds of the data.
			limit := used - (used-baseMemory)/3
			rc.ConfigSet(ctx, "maxmemory", strconv.FormatInt(limit, 10))
			if err := rc.Set(ctx, "trigger", "v", 0).Err(); err != nil {
				t.Fatalf("SET after eviction: %v", err)
			}
			evicted := infoInt(t, rc, "stats", "evicted_keys")
			if evicted == 0 {
				t.Fatal("nothing evicted")
			}
			if u := infoInt(t, rc, "memory", "used_memory"); u > limit {
				t.Fatalf("used_memory %d over maxmemory %d", u, limit)
			}
			count := func(prefix string) int64 {
				var n int64
				for i := range 200 {
					n += rc.Exists(ctx, fmt.Sprint(prefix, i)).Val()
				}
				return 200 - n
			}
			hotGone, coldGone, permGone := count("hot:"), count("cold:"), count("perm:")
			t.Logf("evicted %d: hot %d, cold %d, no TTL %d", evicted, hotGone, coldGone, permGone)
			if volatile && permGone != 0 {
				t.Fatalf("%s evicted %d keys without a TTL", policy, permGone)
			}
			if !volatile && permGone != 200 {
				t.Fatalf("perm keys exist under %s", policy)
			}
			if strings.HasSuffix(policy, "random") {
				if hotGone == 0 || coldGone == 0 {
					t.Fatalf("random eviction took hot %d, cold %d", hotGone, coldGone)
				}
				return
			}
			if hotGone*10 > evicted {
				t.Fatalf("%s evicted %d good keys of %d", policy, hotGone, evicted)
			}
		})
	}
}

// TestEvictFill writes far past maxmemory with each policy: used_memory
// stays within a few percent of the limit, and the writes all succeed.
func TestEvictFill(t *testing.T) {
	const limit = 2 << 20
	for _, policy := range []string{"allkeys-lru", "allkeys-lfu", "allkeys-random", "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"} {
		t.Run(policy, func(t *testing.T) {
			_, rc := testServer(t, func(c *Config) {
				c.MaxMemoryPolicy = policy
				c.MaxMemory = limit
			})
			ctx := context.Background()
			val := strings.Repeat("v", 200)
			var ttl time.Duration
			if strings.HasPrefix(policy, "volatile") {
				ttl = time.Hour
			}
			for b := range 20 {
				p := rc.Pipeline()
				for i := range 1000 {
					p.Set(ctx, fmt.Sprintf("key:%d:%d", b, i), val, ttl+time.Duration(i)*time.Second)
				}
				if _, err := p.Exec(ctx); err != nil {
					t.Fatalf("batch %d: %v", b, err)
				}
				if u := infoInt(t, rc, "memory", "used_memory"); u > limit*102/100 {
					t.Fatalf("batch %d: used_memory %d, maxmemory %d", b, u, limit)
				}
			}
			u := infoInt(t, rc, "memory", "used_memory")
			if u < limit*90/100 {
				t.Fatalf("used_memory %d: evicted far more than needed for %d", u, limit)
			}
			if infoInt(t, rc, "stats", "evicted_keys") < 5000 {
				t.Fatal("too few evictions for 5x the limit")
			}
		})
	}
}

// TestEvictVolatileNothingToEvict: a volatile policy with no key having a
// TTL is out of memory, as noeviction.
func TestEvictVolatileNothingToEvict(t *testing.T) {
	_, rc := testServer(t, func(c *Config) { c.MaxMemoryPolicy = "volatile-lru" })
	ctx := context.Background()
	for i := range 100 {
		rc.Set(ctx, fmt.Sprint("k", i), strings.Repeat("x", 100), 0)
	}
	rc.ConfigSet(ctx, "maxmemory", "1")
	if err := rc.Set(ctx, "new", "v", 0).Err(); err == nil || err.Error() != errOOM {
		t.Fatalf("SET with nothing evictable: %v", err)
	}
	if n := rc.DBSize(ctx).Val(); n != 100 {
		t.Fatalf("dbsize %d", n)
	}
}

// TestEvictNotifiesAndPropagates: an eviction fires the evicted keyspace
// event.
func TestEvictNotifies(t *testing.T) {
	_, rc := testServer(t, func(c *Config) { c.MaxMemoryPolicy = "allkeys-random" })
	ctx := context.Background()
	rc.ConfigSet(ctx, "notify-keyspace-events", "Ee")
	sub := rc.PSubscribe(ctx, "__keyevent@0__:evicted")
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	rc.Set(ctx, "only", strings.Repeat("x", 1000), 0)
	rc.ConfigSet(ctx, "maxmemory", "1")
	rc.Get(ctx, "only") // any command evicts first
	ctx2, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	m, err := sub.ReceiveMessage(ctx2)
	if err != nil {
		t.Fatal(err)
	}
	if m.Payload != "only" {
		t.Fatalf("evicted event for %q", m.Payload)
	}
}

func TestObjectFreqLFU(t *testing.T) {
	_, rc := testServer(t, func(c *Config) {
		c.MaxMemoryPolicy = "allkeys-lfu"
		c.LFULogFactor = 0
	})
	ctx := context.Background()
	rc.Set(ctx, "k", "v", 0)
	if f := rc.ObjectFreq(ctx, "k").Val(); f != lfuInitVal {
		t.Fatalf("OBJECT FREQ of a new key: %d", f)
	}
	for range 10 {
		rc.Get(ctx, "k")
	}
	// lfu-log-factor 0: every access counts.
	if f := rc.ObjectFreq(ctx, "k").Val(); f != lfuInitVal+10 {
		t.Fatalf("OBJECT FREQ after 10 reads: %d", f)
	}
	if err := rc.ObjectIdleTime(ctx, "k").Err(); err == nil {
		t.Fatal("OBJECT IDLETIME under LFU succeeded")
	}
}

func TestEvictionTimeLimit(t *testing.T) {
	for _, tc := range []struct {
		tenacity int
		want     time.Duration
	}{{0, 0}, {10, 500 * time.Microsecond}, {100, 0}} {
		if got := evictionTimeLimit(tc.tenacity); got != tc.want {
			t.Errorf("tenacity %d: %v, want %v", tc.tenacity, got, tc.want)
		}
	}
	if got := evictionTimeLimit(20); got < 2000*time.Microsecond || got > 2100*time.Microsecond {
		t.Errorf("tenacity 20: %v", got)
	}
}

// TestEvictBeforeScript: a write script over maxmemory runs after
// eviction made room, as any denyoom command; under noeviction it is
// refused.
func TestEvictBeforeScript(t *testing.T) {
	for _, tc := range []struct {
		policy string
		oom    bool
	}{{"allkeys-lru", false}, {"noeviction", true}} {
		t.Run(tc.policy, func(t *testing.T) {
			_, rc := testServer(t, func(c *Config) { c.MaxMemoryPolicy = tc.policy })
			ctx := context.Background()
			for i := range 100 {
				rc.Set(ctx, fmt.Sprint("k", i), strings.Repeat("x", 100), 0)
			}
			used := infoInt(t, rc, "memory", "used_memory")
			rc.ConfigSet(ctx, "maxmemory", strconv.FormatInt(used-5000, 10))
			err := rc.Eval(ctx, "return redis.call('set', KEYS[1], 'v')", []string{"new"}).Err()
			if tc.oom != (err != nil && strings.HasPrefix(err.Error(), "OOM")) {
				t.Fatalf("EVAL over maxmemory under %s: %v", tc.policy, err)
			}
		})
	}
}

// TestEvictLimitHonoured is Redis's "is the memory limit honoured?"
// (unit/maxmemory.tcl): 100 KiB over the current usage, fill to the
// limit, write as many keys again, and stay within 4 KiB of it.
func TestEvictLimitHonoured(t *testing.T) {
	for _, policy := range []string{"allkeys-random", "allkeys-lru", "allkeys-lfu", "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"} {
		t.Run(policy, func(t *testing.T) {
			_, rc := testServer(t, nil)
			ctx := context.Background()
			limit := infoInt(t, rc, "memory", "used_memory") + 100*1024
			rc.ConfigSet(ctx, "maxmemory", strconv.FormatInt(limit, 10))
			rc.ConfigSet(ctx, "maxmemory-policy", policy)
			r := rand.New(rand.NewPCG(1, 2))
			randomKey := func() string { return "key:" + strconv.Itoa(r.IntN(1000000)) }
			numkeys := 0
			for {
				rc.SetEx(ctx, randomKey(), "x", 10000*time.Second)
				numkeys++
				if infoInt(t, rc, "memory", "used_memory")+4096 > limit {
					break
				}
			}
			if numkeys <= 10 {
				t.Fatalf("limit reached after %d keys", numkeys)
			}
			for range numkeys {
				if err := rc.SetEx(ctx, randomKey(), "x", 10000*time.Second).Err(); err != nil {
					t.Fatal(err)
				}
			}
			if u := infoInt(t, rc, "memory", "used_memory"); u >= limit+4096 {
				t.Fatalf("used_memory %d, limit %d", u, limit)
			}
		})
	}
}

// TestEvictPropagatesDel is Redis's "propagation with eviction": each
// evicted key reaches replicas and the AOF as DEL, before the command
// that made room.
func TestEvictPropagatesDel(t *testing.T) {
	s, rc := testServer(t, func(c *Config) { c.MaxMemoryPolicy = "allkeys-random" })
	ctx := context.Background()
	rc.Set(ctx, "a", strings.Repeat("x", 1000), 0)
	var got []string
	s.mu.Lock()
	s.hooks.propagate = func(dbid int, argv [][]byte) {
		parts := make([]string, len(argv))
		for i, a := range argv {
			parts[i] = string(a)
		}
		got = append(got, fmt.Sprintf("%d:%s", dbid, strings.Join(parts, " ")))
	}
	limit := s.usedMemory() - 100
	s.mu.Unlock()
	rc.ConfigSet(ctx, "maxmemory", strconv.FormatInt(limit, 10))
	rc.Set(ctx, "b", "v", 0)
	s.mu.Lock()
	defer s.mu.Unlock()
	want := []string{"0:DEL a", "0:set b v"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("propagated %q, want %q", got, want)
	}
}
