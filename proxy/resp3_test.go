package proxy

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestRESP3: RESP3 types pass through end to end (maps, doubles, sets,
// nulls) and merged replies keep them.
func TestRESP3(t *testing.T) {
	tp, _ := threeShards(t)
	rc := tp.client(t, "db3", "pw3", 3)
	rc.HSet(ctxb, "h", "a", "1", "b", "2")
	m, err := rc.Do(ctxb, "HGETALL", "h").Result()
	if err != nil {
		t.Fatal(err)
	}
	if mm, ok := m.(map[interface{}]interface{}); !ok || len(mm) != 2 || mm["a"] != "1" {
		t.Errorf("HGETALL over RESP3 = %#v, want a map", m)
	}
	rc.ZAdd(ctxb, "z", redis.Z{Score: 1.5, Member: "m"})
	if v, err := rc.Do(ctxb, "ZSCORE", "z", "m").Result(); err != nil || v != 1.5 {
		t.Errorf("ZSCORE over RESP3 = %#v, %v; want the double 1.5", v, err)
	}
	if v, err := rc.Do(ctxb, "GET", "missing").Result(); err != redis.Nil {
		t.Errorf("GET missing = %#v, %v", v, err)
	}
	vals, err := rc.MGet(ctxb, keyOn("k", 0, 3), keyOn("k", 1, 3), keyOn("k", 2, 3)).Result()
	if err != nil || len(vals) != 3 || vals[0] != nil {
		t.Errorf("MGET over RESP3 = %#v, %v", vals, err)
	}

	r := tp.raw(t)
	r.expectPrefix("%7", "HELLO", "3", "AUTH", "db3", "pw3")
	r.expect("*3\r\n_\r\n_\r\n_\r\n", "MGET", keyOn("k", 0, 3), keyOn("k", 1, 3), keyOn("k", 2, 3))
	got := r.do("CONFIG", "GET", "maxmemory-policy")
	if !strings.HasPrefix(got, "%1\r\n") {
		t.Errorf("CONFIG GET over RESP3 = %q, want a map", got)
	}
	got = r.do("INFO", "keyspace")
	if !strings.HasPrefix(got, "=") || !strings.Contains(got, "txt:# Keyspace") {
		t.Errorf("INFO over RESP3 = %q, want a verbatim string", got)
	}
}

// TestTracking: client-side caching invalidations (RESP3 pushes) reach
// the client whichever shard holds the key.
func TestTracking(t *testing.T) {
	tp, _ := threeShards(t)
	r := tp.raw(t)
	r.expectPrefix("%7", "HELLO", "3", "AUTH", "db3", "pw3")
	r.expect("+OK\r\n", "CLIENT", "TRACKING", "ON")
	keys := []string{keyOn("tk", 0, 3), keyOn("tk", 2, 3)}
	for _, k := range keys {
		r.expect("_\r\n", "GET", k)
	}
	w := tp.raw(t)
	w.expect("+OK\r\n", "AUTH", "db3", "pw3")
	for _, k := range keys {
		w.expect("+OK\r\n", "SET", k, "v")
		want := fmt.Sprintf(">2\r\n$10\r\ninvalidate\r\n*1\r\n%s", bulk(k))
		if got := r.recv(); got != want {
			t.Errorf("invalidation = %q, want %q", got, want)
		}
	}
	r.expect(":0\r\n", "CLIENT", "GETREDIR")
	r.expect("+OK\r\n", "CLIENT", "TRACKING", "OFF")
	r.expect(":-1\r\n", "CLIENT", "GETREDIR")
}

// TestClusterClient: go-redis's ClusterClient sees one node, the proxy,
// owning every slot, and works through it.
func TestClusterClient(t *testing.T) {
	tp, _ := threeShards(t)
	cc := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs: []string{tp.addr}, Username: "db3", Password: "pw3", Protocol: 3,
		DisableIdentity: true, MaxRedirects: 1,
	})
	defer cc.Close()
	for i := 0; i < 50; i++ {
		if err := cc.Set(ctxb, fmt.Sprintf("cc:%d", i), i, 0).Err(); err != nil {
			t.Fatalf("SET: %v", err)
		}
	}
	for i := 0; i < 50; i++ {
		if v, err := cc.Get(ctxb, fmt.Sprintf("cc:%d", i)).Int(); err != nil || v != i {
			t.Fatalf("GET cc:%d = %d, %v", i, v, err)
		}
	}
	var keys []string
	for i := 0; i < 50; i++ {
		keys = append(keys, fmt.Sprintf("cc:%d", i))
	}
	// go-redis sends the MGET to the node of the first key: the proxy.
	if vals, err := cc.MGet(ctxb, keys...).Result(); err != nil || len(vals) != 50 || vals[49] != "49" {
		t.Errorf("MGET = %v, %v", vals, err)
	}
	pipe := cc.Pipeline()
	for _, k := range keys {
		pipe.Incr(ctxb, k)
	}
	if _, err := pipe.Exec(ctxb); err != nil {
		t.Errorf("pipeline: %v", err)
	}
	slots, err := cc.ClusterSlots(ctxb).Result()
	if err != nil || len(slots) != 1 || slots[0].Start != 0 || slots[0].End != 16383 || slots[0].Nodes[0].Addr != tp.addr {
		t.Errorf("CLUSTER SLOTS = %+v, %v", slots, err)
	}

	r := tp.raw(t)
	r.expect("+OK\r\n", "AUTH", "db3", "pw3")
	r.expect(":12182\r\n", "CLUSTER", "KEYSLOT", "foo")
	id := r.do("CLUSTER", "MYID")
	if len(id) != len("$40\r\n")+40+2 {
		t.Errorf("CLUSTER MYID = %q", id)
	}
	if got := r.do("CLUSTER", "NODES"); !strings.Contains(got, "myself,master - 0 0 1 connected 0-16383") {
		t.Errorf("CLUSTER NODES = %q", got)
	}
	if got := r.do("CLUSTER", "INFO"); !strings.Contains(got, "cluster_state:ok") {
		t.Errorf("CLUSTER INFO = %q", got)
	}
	if got := r.do("CLUSTER", "SHARDS"); !strings.Contains(got, "$5\r\nslots\r\n*2\r\n:0\r\n:16383\r\n") {
		t.Errorf("CLUSTER SHARDS = %q", got)
	}
	r.expectPrefix("-ERR command 'cluster|addslots' is not allowed", "CLUSTER", "ADDSLOTS", "1")
	_ = time.Second
}
