package node

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// A node replicates from a real redis-server 7.0.15: full sync of every
// data type and a function library (from a disk payload and a diskless
// one), the stream that follows, then a partial resync after the link is
// cut, each compared key by key.
func TestReplicaOfRealRedis(t *testing.T) {
	for _, tc := range []struct {
		name     string
		diskless string
		load     string
	}{
		{"disk payload, disk load", "no", "disabled"},
		{"diskless payload, swapdb load", "yes", "swapdb"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			addr := startRedisServer(t, "--repl-diskless-sync", tc.diskless, "--repl-diskless-sync-delay", "0",
				"--enable-debug-command", "yes")
			rr := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true})
			defer rr.Close()
			populateAllTypes(t, rr, "")
			s, nc := testServer(t, func(c *Config) {
				c.EnableDebugCommand = "yes"
				c.ReplDisklessLoad = tc.load
			})
			// Data of our own, which the sync must replace.
			nc.Set(ctx, "stale-local-key", "x", 0)
			host, port, _ := net.SplitHostPort(addr)
			if err := nc.Do(ctx, "replicaof", host, port).Err(); err != nil {
				t.Fatalf("REPLICAOF: %v", err)
			}
			waitInSync(t, rr, nc)
			compareDatasets(t, rr, nc)
			if n, _ := nc.Exists(ctx, "stale-local-key").Result(); n != 0 {
				t.Error("the replica kept a key of its own after a full sync")
			}

			// The stream: writes of every kind, in several databases.
			populateAllTypes(t, rr, "more:")
			streamWrites(t, rr)
			waitInSync(t, rr, nc)
			compareDatasets(t, rr, nc)
			// The offset may move with the primary's PINGs: ROLE's is
			// checked against INFO's taken just after.
			role, _ := nc.Do(ctx, "role").Slice()
			off := replicaOffset(t, nc)
			if len(role) != 5 || fmt.Sprint(role[:4]) != fmt.Sprintf("[slave %s %s connected]", host, port) ||
				role[4].(int64) <= 0 || role[4].(int64) > off {
				t.Errorf("ROLE = %v (INFO's offset %d)", role, off)
			}
			if list := nc.ClientList(ctx).Val(); !strings.Contains(list, "flags=M") {
				t.Errorf("CLIENT LIST shows no master client:\n%s", list)
			}

			// Cut the link: the node reconnects and continues partially.
			if err := rr.Do(ctx, "client", "kill", "type", "replica").Err(); err != nil {
				t.Fatal(err)
			}
			streamWrites(t, rr)
			waitInSync(t, rr, nc)
			compareDatasets(t, rr, nc)
			stats := rr.Info(ctx, "stats").Val()
			if replInfoInt(stats, "sync_partial_ok") != 1 || replInfoInt(stats, "sync_full") != 1 {
				t.Errorf("redis-server stats after the link drop: sync_full=%d sync_partial_ok=%d, want 1 and 1",
					replInfoInt(stats, "sync_full"), replInfoInt(stats, "sync_partial_ok"))
			}
			_ = s
		})
	}
}

// populateAllTypes writes every data type, in both encodings where Redis
// has two, a function library, expiries and keys in other databases.
func populateAllTypes(t *testing.T, rc *redis.Client, prefix string) {
	t.Helper()
	ctx := context.Background()
	p := func(k string) string { return prefix + k }
	big := strings.Repeat("x", 300)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(rc.Set(ctx, p("str"), "hello", 0).Err())
	must(rc.Set(ctx, p("int"), 12345, 0).Err())
	must(rc.Set(ctx, p("bigstr"), strings.Repeat("abc", 20000), 0).Err())
	must(rc.Set(ctx, p("ttl"), "v", time.Hour).Err())
	must(rc.RPush(ctx, p("list:small"), "a", "b", 1, 2).Err())
	for i := range 600 {
		must(rc.RPush(ctx, p("list:big"), fmt.Sprint("elem-", i), big).Err())
	}
	must(rc.SAdd(ctx, p("set:int"), 1, 2, 3, 100000).Err())
	must(rc.SAdd(ctx, p("set:small"), "a", "b").Err())
	for i := range 600 {
		must(rc.SAdd(ctx, p("set:big"), fmt.Sprint("m", i)).Err())
	}
	must(rc.ZAdd(ctx, p("zset:small"), redis.Z{Score: 1.5, Member: "a"}, redis.Z{Score: -2, Member: "b"}).Err())
	for i := range 300 {
		must(rc.ZAdd(ctx, p("zset:big"), redis.Z{Score: float64(i) / 3, Member: fmt.Sprint("m", i, big)}).Err())
	}
	must(rc.HSet(ctx, p("hash:small"), "f1", "v1", "f2", 2).Err())
	for i := range 600 {
		must(rc.HSet(ctx, p("hash:big"), fmt.Sprint("f", i), big).Err())
	}
	for i := range 50 {
		must(rc.XAdd(ctx, &redis.XAddArgs{Stream: p("stream"), ID: fmt.Sprintf("%d-1", i+1), Values: []any{"a", i, "b", "x"}}).Err())
	}
	must(rc.XGroupCreate(ctx, p("stream"), "g1", "0").Err())
	must(rc.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "g1", Consumer: "c1", Streams: []string{p("stream"), ">"}, Count: 5}).Err())
	must(rc.PFAdd(ctx, p("hll"), "a", "b", "c").Err())
	must(rc.SetBit(ctx, p("bits"), 1000, 1).Err())
	must(rc.Do(ctx, "function", "load", "replace",
		"#!lua name=lib"+prefix[:min(len(prefix), 4)]+"\nredis.register_function('f"+strings.TrimSuffix(prefix, ":")+
			"', function(keys, args) return redis.call('get', keys[1]) end)").Err())
	for _, db := range []int{1, 9} {
		o := *rc.Options()
		o.DB = db
		c := redis.NewClient(&o)
		must(c.Set(ctx, p(fmt.Sprint("in-db-", db)), db, 0).Err())
		must(c.HSet(ctx, p("h"), "x", db).Err())
		c.Close()
	}
}

// streamWrites sends writes whose effects, not their arguments, are
// replicated (scripts, expiries, SPOP), transactions and SELECTs.
func streamWrites(t *testing.T, rc *redis.Client) {
	t.Helper()
	ctx := context.Background()
	cmds := [][]any{
		{"incr", "counter"},
		{"incrbyfloat", "float", "1.5"},
		{"set", "ex-key", "v", "ex", "100"},
		{"expire", "str", "1000"},
		{"del", "list:small"},
		{"spop", "set:small"},
		{"eval", "redis.call('set', KEYS[1], ARGV[1]); return redis.call('incr', KEYS[2])", "2", "from-script", "counter", "sv"},
		{"lpush", "list:new", "a", "b", "c"},
		{"rpoplpush", "list:new", "list:dst"},
		{"zincrby", "zset:small", "10", "a"},
		{"hincrby", "hash:small", "f2", "5"},
		{"xadd", "stream", "*", "k", "v"},
		{"xack", "stream", "g1", "1-1"},
		{"publish", "chan", "msg"},
		{"set", "px-key", "v", "px", "5"},
	}
	for _, c := range cmds {
		if err := rc.Do(ctx, c...).Err(); err != nil && err != redis.Nil {
			t.Fatalf("%v: %v", c, err)
		}
	}
	// px-key must be gone (and its DEL propagated) before any comparison:
	// otherwise the primary may list it while the replica already hides it.
	eventually(t, "px-key expired on the primary", 5*time.Second, func() bool {
		return rc.Exists(ctx, "px-key").Val() == 0
	})
	if _, err := rc.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Incr(ctx, "counter")
		p.Set(ctx, "in-multi", "1", 0)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	o := *rc.Options()
	o.DB = 3
	c := redis.NewClient(&o)
	defer c.Close()
	if err := c.Set(ctx, "db3-key", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
}

// waitInSync waits until the replica's link is up and it applied all of
// the primary's stream.
func waitInSync(t *testing.T, primary, replica *redis.Client) {
	t.Helper()
	ctx := context.Background()
	eventually(t, "the replica in sync with its primary", 20*time.Second, func() bool {
		ri := replica.Info(ctx, "replication").Val()
		if !strings.Contains(ri, "master_link_status:up") {
			return false
		}
		pi := primary.Info(ctx, "replication").Val()
		return replInfoInt(pi, "master_repl_offset") == replInfoInt(ri, "slave_repl_offset")
	})
}

func replicaOffset(t *testing.T, rc *redis.Client) int64 {
	return replInfoInt(rc.Info(context.Background(), "replication").Val(), "slave_repl_offset")
}

// replInfoInt reads an integer field of an INFO reply (-1 when absent).
func replInfoInt(info, field string) int64 {
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return -1
			}
			return n
		}
	}
	return -1
}

// eventually polls cond until it holds: replication has no event a test
// can await from outside, so its progress is read from INFO.
func eventually(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// compareDatasets compares two servers key by key in every database:
// type, value digest and expiry, and their function libraries.
func compareDatasets(t *testing.T, want, got *redis.Client) {
	t.Helper()
	ctx := context.Background()
	for db := range 16 {
		wo, gotOpts := *want.Options(), *got.Options()
		wo.DB, gotOpts.DB = db, db
		w, g := redis.NewClient(&wo), redis.NewClient(&gotOpts)
		wkeys, _ := w.Keys(ctx, "*").Result()
		gkeys, _ := g.Keys(ctx, "*").Result()
		slices.Sort(wkeys)
		slices.Sort(gkeys)
		if !slices.Equal(wkeys, gkeys) {
			t.Errorf("db %d keys differ:\nprimary %v\nreplica %v", db, wkeys, gkeys)
		}
		for _, k := range wkeys {
			wt, gt := w.Type(ctx, k).Val(), g.Type(ctx, k).Val()
			wd := w.Do(ctx, "debug", "digest-value", k).Val()
			gd := g.Do(ctx, "debug", "digest-value", k).Val()
			if wt != gt || fmt.Sprint(wd) != fmt.Sprint(gd) {
				t.Errorf("db %d key %q: primary %s %v, replica %s %v", db, k, wt, wd, gt, gd)
			}
			wttl, gttl := w.PTTL(ctx, k).Val(), g.PTTL(ctx, k).Val()
			if (wttl < 0) != (gttl < 0) || (wttl-gttl).Abs() > 2*time.Second {
				t.Errorf("db %d key %q: TTL primary %v, replica %v", db, k, wttl, gttl)
			}
		}
		w.Close()
		g.Close()
	}
	// Libraries in any order: Redis lists them in its dict's order.
	libs := func(c *redis.Client) []string {
		v, _ := c.Do(ctx, "function", "list", "withcode").Slice()
		out := make([]string, len(v))
		for i, l := range v {
			out[i] = fmt.Sprint(l)
		}
		slices.Sort(out)
		return out
	}
	wf, gf := libs(want), libs(got)
	if !slices.Equal(wf, gf) {
		t.Errorf("function libraries differ:\nprimary %s\nreplica %s", wf, gf)
	}
	wdig := want.Do(ctx, "debug", "digest").Val()
	gdig := got.Do(ctx, "debug", "digest").Val()
	if wdig != gdig {
		t.Errorf("DEBUG DIGEST: primary %v, replica %v", wdig, gdig)
	}
}
