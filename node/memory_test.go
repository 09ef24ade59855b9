package node

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
)

// runLocal runs commands in-process as a connection-less client, for
// building big datasets fast. It holds the shard lock.
func runLocal(t testing.TB, s *Server, cmds func(do func(args ...string))) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.newScriptClient()
	c.db = s.dbs[0]
	do := func(args ...string) {
		argv := make([][]byte, len(args))
		for i, a := range args {
			argv[i] = []byte(a)
		}
		cmd := lookupCommand(argv[0])
		if cmd == nil {
			t.Fatalf("no command %q", args[0])
		}
		c.out = c.out[:0]
		s.call(c, cmd, argv)
		if len(c.out) > 0 && c.out[0] == '-' {
			t.Fatalf("%v: %s", args, c.out)
		}
	}
	cmds(do)
	c.out = nil
}

// heapInUse is the live heap after a full collection.
func heapInUse() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// mixedWorkload writes n keys: strings of many sizes (some integers, some
// with a TTL) and small hashes, lists, sets and sorted sets, as a cache
// holds them. kinds restricts it to some types ("" for all).
func mixedWorkload(n int, kinds string) func(do func(args ...string)) {
	return func(do func(args ...string)) {
		r := rand.New(rand.NewPCG(1, 2))
		val := strings.Repeat("v", 600)
		for i := 0; i < n; i++ {
			k := "key:" + strconv.Itoa(i)
			p := r.IntN(100)
			kind := "string"
			switch {
			case p >= 90:
				kind = "hash"
			case p >= 82:
				kind = "list"
			case p >= 76:
				kind = "set"
			case p >= 70:
				kind = "zset"
			}
			if kinds != "" && kinds != kind {
				kind = kinds
			}
			switch kind {
			case "string":
				switch q := r.IntN(10); {
				case q < 2:
					do("set", k, strconv.Itoa(r.IntN(1000000)))
				case q < 8:
					do("set", k, val[:8+r.IntN(60)])
				default:
					do("set", k, val[:100+r.IntN(500)], "ex", "10000")
				}
			case "hash":
				do("hset", k, "name", "someone", "email", "x@example.com", "age", "42", "city", "somewhere", "visits", strconv.Itoa(i))
			case "list":
				do("rpush", k, "a1", "b22", "c333", "d4444", "e55555", "f666666")
			case "set":
				do("sadd", k, "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8")
			case "zset":
				do("zadd", k, "1", "alpha", "2", "beta", "3", "gamma", "4.5", "delta")
			}
		}
	}
}

// accountingRatio fills a fresh server with n keys and returns the
// accounted growth over the heap's growth.
func accountingRatio(t *testing.T, n int, kinds string) (ratio float64, heap, used int64) {
	s, _ := testServer(t, nil)
	s.mu.Lock()
	u0 := s.usedMemory()
	s.mu.Unlock()
	h0 := heapInUse()
	runLocal(t, s, mixedWorkload(n, kinds))
	h1 := heapInUse()
	s.mu.Lock()
	// Let the sampler see as many keys as cron would over a few seconds.
	st := s.memState()
	for range 50 {
		s.measure(st, 0, cronSamples)
	}
	u1 := s.usedMemory()
	s.mu.Unlock()
	heap, used = h1-h0, u1-u0
	return float64(used) / float64(heap), heap, used
}

// TestMemoryAccountingAccuracy checks that used_memory follows what the
// keys really cost in the Go heap, within 10%, for a mixed workload (1M
// keys with KEYFLEET_ACCURACY_KEYS=1000000, 200k by default to keep the
// suite fast).
func TestMemoryAccountingAccuracy(t *testing.T) {
	n := 200_000
	if v, err := strconv.Atoi(os.Getenv("KEYFLEET_ACCURACY_KEYS")); err == nil && v > 0 {
		n = v
	}
	r, heap, used := accountingRatio(t, n, "")
	t.Logf("%d mixed keys: heap +%d, used_memory +%d, ratio %.3f", n, heap, used, r)
	if r < 0.9 || r > 1.1 {
		t.Fatalf("used_memory/heap = %.3f, want within 10%%", r)
	}
}

// TestMemoryAccountingPerType checks each type's cost model on its own.
func TestMemoryAccountingPerType(t *testing.T) {
	for _, kind := range []string{"string", "hash", "list", "set", "zset"} {
		t.Run(kind, func(t *testing.T) {
			r, heap, used := accountingRatio(t, 50_000, kind)
			t.Logf("%s: heap +%d, used_memory +%d, ratio %.3f", kind, heap, used, r)
			if r < 0.85 || r > 1.15 {
				t.Fatalf("used_memory/heap = %.3f for %s", r, kind)
			}
		})
	}
}

func TestMemoryInfoAndUsage(t *testing.T) {
	s, rc := testServer(t, nil)
	ctx := context.Background()
	info := func() map[string]string {
		m := map[string]string{}
		for _, l := range strings.Split(rc.Info(ctx, "memory").Val(), "\r\n") {
			if k, v, ok := strings.Cut(l, ":"); ok {
				m[k] = v
			}
		}
		return m
	}
	before, _ := strconv.ParseInt(info()["used_memory"], 10, 64)
	for i := 0; i < 1000; i++ {
		rc.Set(ctx, fmt.Sprint("k", i), strings.Repeat("x", 100), 0)
	}
	m := info()
	after, _ := strconv.ParseInt(m["used_memory"], 10, 64)
	// 1000 keys of ~100 bytes: entry, name and value cost 200-300 bytes.
	if d := after - before; d < 150_000 || d > 400_000 {
		t.Fatalf("used_memory grew by %d for 1000 keys of 100 bytes", d)
	}
	dataset, _ := strconv.ParseInt(m["used_memory_dataset"], 10, 64)
	if dataset <= 0 || dataset > after {
		t.Fatalf("used_memory_dataset %d with used_memory %d", dataset, after)
	}
	if m["maxmemory_policy"] != "noeviction" || m["maxmemory"] != "0" {
		t.Fatalf("maxmemory fields: %q %q", m["maxmemory"], m["maxmemory_policy"])
	}
	if rc.MemoryUsage(ctx, "k1").Val() <= 100 {
		t.Fatalf("MEMORY USAGE k1 = %d", rc.MemoryUsage(ctx, "k1").Val())
	}
	rc.FlushAll(ctx)
	s.mu.Lock()
	u := s.usedMemory()
	s.mu.Unlock()
	if u > before+64<<10 {
		t.Fatalf("used_memory %d after FLUSHALL, was %d when empty", u, before)
	}
}

func TestSetProcessMemoryLimit(t *testing.T) {
	old := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(old)
	if got := SetProcessMemoryLimit(1 << 30); got != 1<<30+256<<20 {
		t.Fatalf("limit for 1 GiB = %d", got)
	}
	if got := SetProcessMemoryLimit(8 << 30); got != 10<<30 {
		t.Fatalf("limit for 8 GiB = %d", got)
	}
	if got := debug.SetMemoryLimit(-1); got != 10<<30 {
		t.Fatalf("runtime limit %d", got)
	}
	if got := SetProcessMemoryLimit(0); got != 10<<30 {
		t.Fatalf("no limit changed it to %d", got)
	}
}
