package node

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/keyfleet/keyfleet/node/keyspace"
)

func TestKeyspaceCommands(t *testing.T) {
	_, rc := testServer(t, nil)
	// Replies of redis-server 7.0.15 to the same sequence.
	runSteps(t, rc, []step{
		{cmd("mset", "foo1", "a", "foo2", "b", "foo3", "c"), "OK"},
		{cmd("del", "foo1", "foo2", "foo3", "foo4"), 3},
		{cmd("set", "foo1", "a"), "OK"},
		{cmd("unlink", "foo1", "foo1"), 1},
		{cmd("set", "foo1", "a"), "OK"},
		{cmd("exists", "foo1", "foo1", "nokey"), 2},
		{cmd("touch", "foo1", "foo1", "nokey"), 2},
		{cmd("type", "foo1"), "string"},
		{cmd("type", "nokey"), "none"},
		{cmd("set", "mykey", "hello"), "OK"},
		{cmd("rename", "mykey", "mykey1"), "OK"},
		{cmd("rename", "mykey1", "mykey2"), "OK"},
		{cmd("get", "mykey2"), "hello"},
		{cmd("exists", "mykey", "mykey1"), 0},
		{cmd("rename", "nokey", "foo"), errReply("ERR no such key")},
		{cmd("rename", "mykey2", "mykey2"), "OK"},
		{cmd("renamenx", "mykey2", "mykey2"), 0},
		{cmd("rename", "nokey", "nokey"), errReply("ERR no such key")},
		{cmd("renamenx", "nokey", "nokey"), errReply("ERR no such key")},
		{cmd("set", "mykey", "a"), "OK"},
		{cmd("renamenx", "mykey", "mykey2"), 0},
		{cmd("renamenx", "mykey", "mykey3"), 1},
		{cmd("set", "v1", "foo", "pxat", "4102444800000"), "OK"},
		{cmd("rename", "v1", "v2"), "OK"},
		{cmd("pexpiretime", "v2"), 4102444800000},
		{cmd("set", "v3", "bar"), "OK"},
		{cmd("rename", "v3", "v2"), "OK"},
		{cmd("pexpiretime", "v2"), -1},
		{cmd("select", "16"), errReply("ERR DB index is out of range")},
		{cmd("select", "-1"), errReply("ERR DB index is out of range")},
		{cmd("select", "abc"), errReply("ERR value is not an integer or out of range")},
		{cmd("select", "9999999999"), errReply("ERR value is out of range, value must between -2147483648 and 2147483647")},
		{cmd("select", "9"), "OK"},
		{cmd("set", "mykey", "foobar"), "OK"},
		{cmd("copy", "mykey", "mynewkey"), 1},
		{cmd("get", "mynewkey"), "foobar"},
		{cmd("dbsize"), 2},
		{cmd("copy", "mykey", "mynewkey", "db", "10"), 1},
		{cmd("copy", "mykey", "mynewkey", "db", "10"), 0},
		{cmd("copy", "mykey", "mynewkey", "db", "10", "replace"), 1},
		{cmd("copy", "mykey", "mynewkey", "db", "notanumber"), errReply("ERR value is not an integer or out of range")},
		{cmd("copy", "mykey", "mynewkey", "db", "16"), errReply("ERR DB index is out of range")},
		{cmd("copy", "mykey", "mykey"), errReply("ERR source and destination objects are the same")},
		{cmd("copy", "mykey", "mykey", "db", "9"), errReply("ERR source and destination objects are the same")},
		{cmd("copy", "mykey", "mynewkey", "foo"), errReply("ERR syntax error")},
		{cmd("copy", "mykey", "mynewkey", "db"), errReply("ERR syntax error")},
		{cmd("copy", "nokey", "mynewkey"), 0},
		{cmd("set", "vol", "foobar", "pxat", "4102444800000"), "OK"},
		{cmd("copy", "vol", "vol2"), 1},
		{cmd("pexpiretime", "vol2"), 4102444800000},
		{cmd("move", "vol", "10"), 1},
		{cmd("move", "vol", "10"), 0},
		{cmd("pexpiretime", "vol"), -2},
		{cmd("select", "10"), "OK"},
		{cmd("pexpiretime", "vol"), 4102444800000},
		{cmd("get", "mynewkey"), "foobar"},
		{cmd("select", "9"), "OK"},
		{cmd("move", "nokey", "10"), 0},
		{cmd("move", "mykey", "9"), errReply("ERR source and destination objects are the same")},
		{cmd("move", "mykey", "abc"), errReply("ERR value is not an integer or out of range")},
		{cmd("move", "mykey", "16"), errReply("ERR DB index is out of range")},
		{cmd("swapdb", "9", "10"), "OK"},
		{cmd("get", "vol"), "foobar"},
		{cmd("swapdb", "9", "10"), "OK"},
		{cmd("swapdb", "9", "16"), errReply("ERR DB index is out of range")},
		{cmd("swapdb", "abc", "1"), errReply("ERR invalid first DB index")},
		{cmd("swapdb", "1", "abc"), errReply("ERR invalid second DB index")},
		{cmd("swapdb", "1", "1"), "OK"},
		{cmd("flushdb", "foo"), errReply("ERR syntax error")},
		{cmd("flushdb", "async", "sync"), errReply("ERR syntax error")},
		{cmd("flushall", "foo"), errReply("ERR syntax error")},
		{cmd("flushdb", "async"), "OK"},
		{cmd("dbsize"), 0},
		{cmd("flushall", "sync"), "OK"},
		{cmd("randomkey"), nil},
		{cmd("set", "x", "10"), "OK"},
		{cmd("del", "x"), 1},
		{cmd("randomkey"), nil},
		{cmd("set", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "1"), "OK"},
		{cmd("keys", "a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b"), []any{}},
		{cmd("keys", "*"), []any{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}},
		{cmd("randomkey"), "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
		{cmd("scan", "abc"), errReply("ERR invalid cursor")},
		{cmd("scan", " 1"), errReply("ERR invalid cursor")},
		{cmd("scan", "18446744073709551616"), errReply("ERR invalid cursor")},
		{cmd("scan", "0", "count", "0"), errReply("ERR syntax error")},
		{cmd("scan", "0", "count", "abc"), errReply("ERR value is not an integer or out of range")},
		{cmd("scan", "0", "match"), errReply("ERR syntax error")},
		{cmd("scan", "0", "type"), errReply("ERR syntax error")},
		{cmd("scan", "0", "type", "string", "count", "10", "match", "*"), []any{"0", []any{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}}},
		{cmd("scan", "0", "type", "list"), []any{"0", []any{}}},
		{cmd("scan", "0", "match", "b*"), []any{"0", []any{}}},
	})
}

func TestKeysAndRandomKey(t *testing.T) {
	_, rc := testServer(t, nil)
	ctx := context.Background()
	for _, k := range []string{"key_x", "key_y", "key_z", "foo_a", "foo_b", "foo_c"} {
		rc.Set(ctx, k, "hello", 0)
	}
	keys := rc.Keys(ctx, "foo*").Val()
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"foo_a", "foo_b", "foo_c"}) {
		t.Errorf("KEYS foo* = %q", keys)
	}
	if n := len(rc.Keys(ctx, "*").Val()); n != 6 {
		t.Errorf("KEYS * gave %d keys", n)
	}
	seen := map[string]bool{}
	for i := 0; i < 200; i++ {
		seen[rc.RandomKey(ctx).Val()] = true
	}
	if len(seen) != 6 {
		t.Errorf("RANDOMKEY returned %d distinct keys of 6", len(seen))
	}
}

// TestScanGuarantee: every key present for the whole iteration is
// returned, while keys are added (growing and rehashing the table) and
// others removed between the calls.
func TestScanGuarantee(t *testing.T) {
	_, rc := testServer(t, nil)
	ctx := context.Background()
	const n = 2000
	for i := 0; i < n; i++ {
		rc.Set(ctx, fmt.Sprintf("orig:%d", i), "v", 0)
	}
	seen := map[string]bool{}
	cursor, extra := uint64(0), 0
	for {
		keys, next, err := rc.Scan(ctx, cursor, "", 7).Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			seen[k] = true
		}
		// Churn: add enough keys over the iteration to force a resize
		// (the table holds 2048 buckets at the start), drop some again.
		for j := 0; j < 5; j++ {
			rc.Set(ctx, fmt.Sprintf("extra:%d", extra), "v", 0)
			extra++
		}
		rc.Del(ctx, fmt.Sprintf("extra:%d", extra-3))
		cursor = next
		if cursor == 0 {
			break
		}
	}
	for i := 0; i < n; i++ {
		if k := fmt.Sprintf("orig:%d", i); !seen[k] {
			t.Fatalf("SCAN missed %s, present for the whole iteration", k)
		}
	}
	if extra < 1000 {
		t.Fatalf("only %d keys added during the scan: no resize was exercised", extra)
	}
}

func TestScanFiltersAndExpired(t *testing.T) {
	s, rc := testServer(t, nil)
	ctx := context.Background()
	for i := 0; i < 100; i++ {
		rc.Set(ctx, fmt.Sprintf("key:%d", i), "v", 0)
	}
	putObject(s, 0, "alist", listObject())
	putExpired(s, 0, "gone")
	collect := func(args ...any) []string {
		var all []string
		cursor := "0"
		for {
			res, err := rc.Do(ctx, append([]any{"scan", cursor}, args...)...).Slice()
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range res[1].([]any) {
				all = append(all, k.(string))
			}
			if cursor = res[0].(string); cursor == "0" {
				return all
			}
		}
	}
	if got := collect("match", "key:1?"); len(got) != 10 {
		t.Errorf("SCAN MATCH key:1? = %d keys, want 10", len(got))
	}
	if got := collect("type", "LIST"); !slices.Equal(got, []string{"alist"}) {
		t.Errorf("SCAN TYPE LIST = %q", got)
	}
	if got := collect("count", "1000"); len(got) != 101 || slices.Contains(got, "gone") {
		t.Errorf("SCAN returned %d keys (expired included: %v), want 101", len(got), slices.Contains(got, "gone"))
	}
}

// putExpired stores a string key whose expiry is already past, as a key
// that expired while nobody looked.
func putExpired(s *Server, db int, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dbs[db].ks.Set([]byte(key), newStringObject([]byte("v")), false)
	s.dbs[db].ks.SetExpire([]byte(key), time.Now().UnixMilli()-1000)
}

func TestKeyspacePropagation(t *testing.T) {
	s, rc := testServer(t, nil)
	r := record(s)
	ctx := context.Background()
	rc.Set(ctx, "a", "1", 0)
	rc.Set(ctx, "b", "1", 0)
	r.take()
	tests := []struct {
		args   []any
		prop   []string
		events []string
	}{
		{cmd("del", "a", "nokey"), []string{"del a nokey"}, []string{"del:a"}},
		{cmd("del", "nokey"), nil, nil},
		{cmd("rename", "b", "c"), []string{"rename b c"}, []string{"new:c", "rename_from:b", "rename_to:c"}},
		{cmd("copy", "c", "d"), []string{"copy c d"}, []string{"new:d", "copy_to:d"}},
		{cmd("move", "d", "1"), []string{"move d 1"}, []string{"new:d", "move_from:d", "move_to:d"}},
		{cmd("swapdb", "0", "1"), []string{"swapdb 0 1"}, nil},
		{cmd("flushdb"), []string{"flushdb"}, nil},
		{cmd("flushall", "async"), []string{"flushall async"}, nil},
	}
	for _, tc := range tests {
		rc.Do(ctx, tc.args...)
		prop, events := r.take()
		if !matchWords(prop, tc.prop) || !reflect.DeepEqual(events, tc.events) {
			t.Errorf("%v: propagated %q, notified %q; want %q, %q", tc.args, prop, events, tc.prop, tc.events)
		}
	}
}

// TestDBHooks: SWAPDB and FLUSH* tell the subsystems, with the contents
// each hook documents, and keep TTLs with the moved keys.
func TestDBHooks(t *testing.T) {
	s, rc := testServer(t, nil)
	ctx := context.Background()
	var log []string
	swapOld, flushOld := dbSwapHooks, dbFlushHooks
	t.Cleanup(func() { dbSwapHooks, dbFlushHooks = swapOld, flushOld })
	dbSwapHooks = append(slices.Clip(dbSwapHooks), func(s *Server, a, b *DB) {
		log = append(log, fmt.Sprintf("swap %d(%d keys) %d(%d keys)", a.id, a.ks.Len(), b.id, b.ks.Len()))
	})
	dbFlushHooks = append(slices.Clip(dbFlushHooks), func(s *Server, db *DB) {
		log = append(log, fmt.Sprintf("flush %d(%d keys)", db.id, db.ks.Len()))
	})
	rc.Set(ctx, "x", "1", time.Hour)
	rc.Do(ctx, "swapdb", "0", "3")
	if rc.Exists(ctx, "x").Val() != 0 {
		t.Error("key still in DB 0 after SWAPDB")
	}
	rc.Do(ctx, "select", "3")
	if ttl := rc.TTL(ctx, "x").Val(); ttl < 59*time.Minute {
		t.Errorf("TTL after SWAPDB = %v", ttl)
	}
	rc.Do(ctx, "flushdb")
	rc.Do(ctx, "flushall")
	s.mu.Lock()
	got := slices.Clone(log)
	s.mu.Unlock()
	want := []string{"swap 0(0 keys) 3(1 keys)", "flush 3(1 keys)"}
	for i := 0; i < 16; i++ {
		want = append(want, fmt.Sprintf("flush %d(0 keys)", i))
	}
	if !slices.Equal(got, want) {
		t.Errorf("hooks saw %q, want %q", got, want)
	}
}

func TestCopyUsesTypeTable(t *testing.T) {
	s, rc := testServer(t, nil)
	ctx := context.Background()
	// A stand-in collection type: copies must be deep.
	old := typeTable[keyspace.TypeHash]
	t.Cleanup(func() { typeTable[keyspace.TypeHash] = old })
	typeTable[keyspace.TypeHash] = typeOps{dup: func(o *keyspace.Object) keyspace.Object {
		m := o.Val.(map[string]string)
		c := make(map[string]string, len(m))
		for k, v := range m {
			c[k] = v
		}
		return keyspace.Object{Type: o.Type, Enc: o.Enc, Val: c}
	}}
	putObject(s, 0, "h", keyspace.Object{Type: keyspace.TypeHash, Enc: keyspace.EncHashtable, Val: map[string]string{"f": "v"}})
	if n := rc.Copy(ctx, "h", "h2", 0, false).Val(); n != 1 {
		t.Fatalf("COPY = %d", n)
	}
	s.mu.Lock()
	o1, _ := s.dbs[0].ks.Lookup([]byte("h"))
	o2, _ := s.dbs[0].ks.Lookup([]byte("h2"))
	o2.Val.(map[string]string)["f"] = "changed"
	orig := o1.Val.(map[string]string)["f"]
	s.mu.Unlock()
	if orig != "v" {
		t.Error("COPY shared the value with the source")
	}
	// A type nobody can copy is refused.
	typeTable[keyspace.TypeHash] = typeOps{}
	runSteps(t, rc, []step{{cmd("copy", "h", "h3"), errReply("ERR unknown type object")}})
}

func TestLazyFree(t *testing.T) {
	s, rc := testServer(t, nil)
	ctx := context.Background()
	old := typeTable[keyspace.TypeSet]
	t.Cleanup(func() { typeTable[keyspace.TypeSet] = old })
	typeTable[keyspace.TypeSet] = typeOps{freeEffort: func(o *keyspace.Object) int { return len(o.Val.([]int)) }}
	putObject(s, 0, "big", keyspace.Object{Type: keyspace.TypeSet, Val: make([]int, 1000)})
	putObject(s, 0, "small", keyspace.Object{Type: keyspace.TypeSet, Val: make([]int, 10)})
	rc.Unlink(ctx, "big", "small")
	waitFor(t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		pending, freed := s.lazyfreeInfo()
		return pending == 0 && freed == 1
	})
	for i := 0; i < 100; i++ {
		rc.Set(ctx, fmt.Sprint(i), "v", 0)
	}
	rc.Do(ctx, "flushdb", "async")
	waitFor(t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		pending, freed := s.lazyfreeInfo()
		return pending == 0 && freed == 101
	})
}

// waitFor polls cond until it holds or five seconds pass: the background
// free has no event to wait on from outside the engine.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
