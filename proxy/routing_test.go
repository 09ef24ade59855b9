package proxy

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/keyfleet/keyfleet/internal/wire"
)

// threeShards starts a proxy serving database "db3" over three shards.
func threeShards(t *testing.T) (*testProxy, []*redisServer) {
	srvs := servers(t, 3)
	cp := newFakeCP(t)
	cp.setRoutes(routeFor("db3", "pw3", wire.Limits{}, srvs...))
	return startProxy(t, cp, nil), srvs
}

func TestSingleKeyRouting(t *testing.T) {
	tp, srvs := threeShards(t)
	rc := tp.client(t, "db3", "pw3", 2)
	for i := 0; i < 60; i++ {
		key := fmt.Sprintf("key:%d", i)
		if err := rc.Set(ctxb, key, i, 0).Err(); err != nil {
			t.Fatalf("SET %s: %v", key, err)
		}
	}
	for i := 0; i < 60; i++ {
		key := fmt.Sprintf("key:%d", i)
		got, err := rc.Get(ctxb, key).Int()
		if err != nil || got != i {
			t.Fatalf("GET %s = %d, %v", key, got, err)
		}
		// The key is on the shard owning its slot, and only there.
		for j, s := range srvs {
			v := s.do(t, "EXISTS", key)
			want := int64(0)
			if j == shardIndex(key, 3) {
				want = 1
			}
			if v.Int != want {
				t.Errorf("%s on shard %d: EXISTS = %d, want %d", key, j, v.Int, want)
			}
		}
	}
}

func TestSplitAndMerge(t *testing.T) {
	tp, _ := threeShards(t)
	rc := tp.client(t, "db3", "pw3", 2)
	var keys []string
	var pairs []any
	for i := 0; i < 20; i++ {
		k := fmt.Sprintf("m:%d", i)
		keys = append(keys, k)
		pairs = append(pairs, k, fmt.Sprintf("v%d", i))
	}
	if err := rc.MSet(ctxb, pairs...).Err(); err != nil {
		t.Fatalf("MSET: %v", err)
	}
	vals, err := rc.MGet(ctxb, append(keys, "missing")...).Result()
	if err != nil {
		t.Fatalf("MGET: %v", err)
	}
	for i, v := range vals[:20] {
		if v != fmt.Sprintf("v%d", i) {
			t.Errorf("MGET[%d] = %v", i, v)
		}
	}
	if vals[20] != nil {
		t.Errorf("MGET missing = %v", vals[20])
	}
	if n, err := rc.Exists(ctxb, keys...).Result(); err != nil || n != 20 {
		t.Errorf("EXISTS = %d, %v", n, err)
	}
	if n, err := rc.Touch(ctxb, append(append([]string(nil), keys[:5]...), "nope")...).Result(); err != nil || n != 5 {
		t.Errorf("TOUCH = %d, %v", n, err)
	}
	if n, err := rc.DBSize(ctxb).Result(); err != nil || n != 20 {
		t.Errorf("DBSIZE = %d, %v", n, err)
	}
	got, err := rc.Keys(ctxb, "m:*").Result()
	sort.Strings(got)
	want := append([]string(nil), keys...)
	sort.Strings(want)
	if err != nil || strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("KEYS = %v, %v", got, err)
	}
	if k, err := rc.RandomKey(ctxb).Result(); err != nil || !strings.HasPrefix(k, "m:") {
		t.Errorf("RANDOMKEY = %q, %v", k, err)
	}
	if n, err := rc.Del(ctxb, keys[:10]...).Result(); err != nil || n != 10 {
		t.Errorf("DEL = %d, %v", n, err)
	}
	if n, err := rc.Unlink(ctxb, keys...).Result(); err != nil || n != 10 {
		t.Errorf("UNLINK = %d, %v", n, err)
	}
	if n, err := rc.DBSize(ctxb).Result(); err != nil || n != 0 {
		t.Errorf("DBSIZE after = %d, %v", n, err)
	}
	rc.Set(ctxb, "a", 1, 0)
	if err := rc.FlushDB(ctxb).Err(); err != nil {
		t.Errorf("FLUSHDB: %v", err)
	}
	if n, _ := rc.DBSize(ctxb).Result(); n != 0 {
		t.Errorf("DBSIZE after FLUSHDB = %d", n)
	}
	if k, err := rc.RandomKey(ctxb).Result(); err == nil {
		t.Errorf("RANDOMKEY on empty = %q", k)
	}
}

func TestScanAcrossShards(t *testing.T) {
	tp, _ := threeShards(t)
	rc := tp.client(t, "db3", "pw3", 2)
	want := map[string]bool{}
	for i := 0; i < 300; i++ {
		k := fmt.Sprintf("s:%d", i)
		want[k] = true
		rc.Set(ctxb, k, i, 0)
	}
	rc.HSet(ctxb, "h:1", "f", "v")
	seen := map[string]bool{}
	var cursor uint64
	calls := 0
	for {
		keys, next, err := rc.Scan(ctxb, cursor, "s:*", 50).Result()
		if err != nil {
			t.Fatalf("SCAN %d: %v", cursor, err)
		}
		for _, k := range keys {
			seen[k] = true
		}
		calls++
		cursor = next
		if cursor == 0 || calls > 1000 {
			break
		}
	}
	if len(seen) != len(want) {
		t.Errorf("SCAN saw %d keys, want %d", len(seen), len(want))
	}
	for k := range seen {
		if !want[k] {
			t.Errorf("SCAN returned %q", k)
		}
	}
	// TYPE is passed through.
	keys, _, err := rc.ScanType(ctxb, 0, "*", 1000, "hash").Result()
	if err != nil {
		t.Fatal(err)
	}
	all := keys
	var cur uint64
	for {
		var next uint64
		keys, next, err = rc.ScanType(ctxb, cur, "*", 1000, "hash").Result()
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, keys...)
		if next == 0 {
			break
		}
		cur = next
	}
	found := false
	for _, k := range all {
		if k != "h:1" {
			t.Errorf("SCAN TYPE hash returned %q", k)
		}
		found = true
	}
	if !found {
		t.Error("SCAN TYPE hash did not find h:1")
	}
	r := tp.raw(t)
	r.expect("+OK\r\n", "AUTH", "db3", "pw3")
	r.expect("-ERR invalid cursor\r\n", "SCAN", "abc")
}

func TestCrossSlot(t *testing.T) {
	tp, _ := threeShards(t)
	r := tp.raw(t)
	r.expect("+OK\r\n", "AUTH", "db3", "pw3")
	a, b := keyOn("x", 0, 3), keyOn("x", 1, 3)
	r.expect("-CROSSSLOT Keys in request don't hash to the same slot\r\n", "SUNIONSTORE", a, b)
	r.expect("-CROSSSLOT Keys in request don't hash to the same slot\r\n", "RENAME", a, b)
	r.expect(":1\r\n", "SADD", "{t}1", "m")
	r.expect(":1\r\n", "SUNIONSTORE", "{t}2", "{t}1")
	r.expect("*1\r\n$1\r\nm\r\n", "SMEMBERS", "{t}2")
	// Unknown commands are an error reply; the connection stays.
	r.expect("-ERR unknown command 'NOSUCH', with args beginning with: 'a' \r\n", "NOSUCH", "a")
	r.expect("+PONG\r\n", "PING")
	r.expect("-ERR wrong number of arguments for 'get' command\r\n", "GET")
}

// TestLargeAndMany: big values and long pipelines pass intact.
func TestLargeAndMany(t *testing.T) {
	tp, _ := threeShards(t)
	rc := tp.client(t, "db3", "pw3", 2)
	big := strings.Repeat("0123456789", 600000) // 6 MB
	if err := rc.Set(ctxb, "big", big, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := rc.Get(ctxb, "big").Result(); err != nil || got != big {
		t.Fatalf("GET big: %d bytes, %v", len(got), err)
	}
	pipe := rc.Pipeline()
	cmds := make([]*redis.IntCmd, 20000)
	for i := range cmds {
		cmds[i] = pipe.Incr(ctxb, fmt.Sprintf("n:%d", i%500))
	}
	if _, err := pipe.Exec(ctxb); err != nil {
		t.Fatal(err)
	}
	for i, c := range cmds {
		if want := int64(i/500 + 1); c.Val() != want {
			t.Fatalf("INCR %d = %d, want %d", i, c.Val(), want)
		}
	}
	// INFO adds up the shards.
	info, err := rc.Info(ctxb, "keyspace").Result()
	if err != nil || !strings.Contains(info, "db0:keys=501,") {
		t.Errorf("INFO keyspace = %q, %v; want 501 keys", info, err)
	}
}
