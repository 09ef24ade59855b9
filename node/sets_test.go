package node

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"testing"

	"github.com/keyfleet/keyfleet/node/ds/intset"
	"github.com/keyfleet/keyfleet/node/keyspace"
	"github.com/redis/go-redis/v9"
)

// unordered checks a reply whose element order is unspecified (SMEMBERS,
// SINTER, ...) as a sorted list of strings.
func unordered(t *testing.T, rc *redis.Client, want []string, args ...any) {
	t.Helper()
	got, err := rc.Do(context.Background(), args...).StringSlice()
	if err != nil {
		t.Errorf("%v: %v", args, err)
		return
	}
	slices.Sort(got)
	w := slices.Clone(want)
	slices.Sort(w)
	if len(got) == 0 && len(w) == 0 {
		return
	}
	if !reflect.DeepEqual(got, w) {
		t.Errorf("%v = %q, want %q", args, got, w)
	}
}

func encodingOf(t *testing.T, rc *redis.Client, key string) string {
	t.Helper()
	enc, err := rc.ObjectEncoding(context.Background(), key).Result()
	if err != nil {
		t.Fatalf("OBJECT ENCODING %s: %v", key, err)
	}
	return enc
}

// The replies below are redis-server 7.0.15's.
func TestSetCommands(t *testing.T) {
	s, rc := testServer(t, nil)
	putObject(s, 0, "list", listObject())
	runSteps(t, rc, []step{
		{cmd("sadd", "s", "1", "2", "3", "2"), 3},
		{cmd("sadd", "s", "3"), 0},
		{cmd("scard", "s"), 3},
		{cmd("scard", "nokey"), 0},
		{cmd("sismember", "s", "2"), 1},
		{cmd("sismember", "s", "02"), 0},
		{cmd("sismember", "s", "x"), 0},
		{cmd("sismember", "nokey", "x"), 0},
		{cmd("smismember", "s", "1", "x", "3"), []any{1, 0, 1}},
		{cmd("smismember", "nokey", "1"), []any{0}},
		{cmd("smismember", "s"), errReply("ERR wrong number of arguments for 'smismember' command")},
		{cmd("smembers", "s"), []any{"1", "2", "3"}},
		{cmd("smembers", "nokey"), []any{}},
		{cmd("srem", "s", "2", "9", "x"), 1},
		{cmd("srem", "nokey", "x"), 0},
		{cmd("srem", "s", "1", "3"), 2},
		{cmd("exists", "s"), 0},
		{cmd("sadd", "list", "x"), errReply("WRONGTYPE")},
		{cmd("srem", "list", "x"), errReply("WRONGTYPE")},
		{cmd("scard", "list"), errReply("WRONGTYPE")},
		{cmd("sismember", "list", "x"), errReply("WRONGTYPE")},
		{cmd("smismember", "list", "x"), errReply("WRONGTYPE")},
		{cmd("smembers", "list"), errReply("WRONGTYPE")},
		{cmd("spop", "list"), errReply("WRONGTYPE")},
		{cmd("srandmember", "list"), errReply("WRONGTYPE")},
		{cmd("sscan", "list", "0"), errReply("WRONGTYPE")},
		{cmd("spop", "nokey"), nil},
		{cmd("spop", "nokey", "3"), []any{}},
		{cmd("spop", "nokey", "-1"), errReply("ERR value is out of range, must be positive")},
		{cmd("spop", "nokey", "x"), errReply("ERR value is out of range, must be positive")},
		{cmd("spop", "nokey", "1", "2"), errReply("ERR syntax error")},
		{cmd("srandmember", "nokey"), nil},
		{cmd("srandmember", "nokey", "5"), []any{}},
		{cmd("srandmember", "nokey", "5", "x"), errReply("ERR syntax error")},
		{cmd("srandmember", "nokey", "-9223372036854775808"), errReply("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")},
		{cmd("sadd", "one", "a"), 1},
		{cmd("spop", "one", "0"), []any{}},
		{cmd("srandmember", "one", "0"), []any{}},
		{cmd("srandmember", "one", "-3"), []any{"a", "a", "a"}},
		{cmd("srandmember", "one", "3"), []any{"a"}},
		{cmd("spop", "one", "5"), []any{"a"}},
		{cmd("exists", "one"), 0},
		{cmd("sintercard", "0", "a"), errReply("ERR numkeys should be greater than 0")},
		{cmd("sintercard", "x", "a"), errReply("ERR numkeys should be greater than 0")},
		{cmd("sintercard", "2", "a"), errReply("ERR Number of keys can't be greater than number of args")},
		{cmd("sintercard", "1", "a", "b"), errReply("ERR syntax error")},
		{cmd("sintercard", "1", "a", "limit"), errReply("ERR syntax error")},
		{cmd("sintercard", "1", "a", "limit", "-1"), errReply("ERR LIMIT can't be negative")},
		{cmd("sintercard", "1", "a", "limit", "x"), errReply("ERR LIMIT can't be negative")},
		{cmd("sintercard", "1", "nokey", "limit", "3"), 0},
		{cmd("sintercard", "2", "list", "nokey"), errReply("WRONGTYPE")},
		{cmd("sscan", "nokey", "0"), []any{"0", []any{}}},
		{cmd("sscan", "nokey", "x"), errReply("ERR invalid cursor")},
	})
}

func TestSetEncodings(t *testing.T) {
	_, rc := testServer(t, func(c *Config) { c.SetMaxIntsetEntries = 4 })
	ctx := context.Background()
	rc.SAdd(ctx, "i", 1, 2, 3)
	if got := encodingOf(t, rc, "i"); got != "intset" {
		t.Fatalf("small integer set: %s, want intset", got)
	}
	rc.SAdd(ctx, "i", 4)
	if got := encodingOf(t, rc, "i"); got != "intset" {
		t.Fatalf("4 members with limit 4: %s, want intset", got)
	}
	rc.SAdd(ctx, "i", 5)
	if got := encodingOf(t, rc, "i"); got != "hashtable" {
		t.Fatalf("5 members with limit 4: %s, want hashtable", got)
	}
	rc.SRem(ctx, "i", 5, 4, 3)
	if got := encodingOf(t, rc, "i"); got != "hashtable" {
		t.Fatalf("a hashtable set converted back to %s", got)
	}
	for _, tc := range []struct {
		first, enc string
	}{
		{"12", "intset"}, {"-9223372036854775808", "intset"}, {"9223372036854775808", "hashtable"},
		{"012", "hashtable"}, {"+1", "hashtable"}, {"-0", "hashtable"}, {" 1", "hashtable"}, {"a", "hashtable"},
	} {
		rc.Del(ctx, "k")
		rc.SAdd(ctx, "k", tc.first)
		if got := encodingOf(t, rc, "k"); got != tc.enc {
			t.Errorf("set of %q: %s, want %s", tc.first, got, tc.enc)
		}
		if ok, _ := rc.SIsMember(ctx, "k", tc.first).Result(); !ok {
			t.Errorf("set of %q: SISMEMBER false", tc.first)
		}
	}
	rc.SAdd(ctx, "up", 1, 2)
	rc.SAdd(ctx, "up", "x")
	if got := encodingOf(t, rc, "up"); got != "hashtable" {
		t.Fatalf("non-integer into an intset: %s, want hashtable", got)
	}
	unordered(t, rc, []string{"1", "2", "x"}, "smembers", "up")
}

func TestSetAlgebra(t *testing.T) {
	s, rc := testServer(t, nil)
	ctx := context.Background()
	putObject(s, 0, "list", listObject())
	for _, enc := range []string{"intset", "hashtable"} {
		rc.Del(ctx, "s1", "s2", "s3", "s4", "s5")
		for i := 0; i < 200; i++ {
			rc.SAdd(ctx, "s1", i)
			rc.SAdd(ctx, "s2", i+195)
		}
		rc.SAdd(ctx, "s3", 199, 195, 1000, 2000)
		for i := 5; i < 200; i++ {
			rc.SAdd(ctx, "s4", i)
		}
		rc.SAdd(ctx, "s5", 0)
		large, union := "200", 395
		if enc == "hashtable" {
			large, union = "foo", 396
		}
		for _, k := range []string{"s1", "s2", "s3", "s4", "s5"} {
			rc.SAdd(ctx, k, large)
			if got := encodingOf(t, rc, k); got != enc {
				t.Fatalf("%s: %s, want %s", k, got, enc)
			}
		}
		unordered(t, rc, []string{"195", "196", "197", "198", "199", large}, "sinter", "s1", "s2")
		runSteps(t, rc, []step{
			{cmd("sintercard", "2", "s1", "s2"), 6},
			{cmd("sintercard", "2", "s1", "s2", "limit", "3"), 3},
			{cmd("sintercard", "2", "s1", "s2", "limit", "0"), 6},
			{cmd("sinterstore", "res", "s1", "s2"), 6},
			{cmd("object", "encoding", "res"), enc},
			{cmd("sinterstore", "res", "s1", "s2", "s3"), 3},
			{cmd("sunionstore", "res", "s1", "s2"), union},
			{cmd("sdiffstore", "res", "s1", "s4", "s5"), 4},
			{cmd("object", "encoding", "res"), "intset"},
			{cmd("sdiff", "s1", "s1"), []any{}},
		})
		unordered(t, rc, []string{"195", "199", large}, "sinter", "s1", "s2", "s3")
		unordered(t, rc, []string{"1", "2", "3", "4"}, "sdiff", "s1", "s4", "s5")
		unordered(t, rc, []string{"0", "1", "2", "3", "4"}, "sdiff", "s1", "s4")
	}
	runSteps(t, rc, []step{
		{cmd("set", "str", "x"), "OK"},
		{cmd("sinter", "nokey", "str"), errReply("WRONGTYPE")},
		{cmd("sunion", "nokey", "str"), errReply("WRONGTYPE")},
		{cmd("sdiff", "nokey", "str"), errReply("WRONGTYPE")},
		{cmd("sinterstore", "dst", "str", "nokey"), errReply("WRONGTYPE")},
		{cmd("exists", "dst"), 0},
		{cmd("set", "dst", "old"), "OK"},
		{cmd("sinterstore", "dst", "nokey", "s1"), 0},
		{cmd("exists", "dst"), 0},
		{cmd("set", "dst", "old"), "OK"},
		{cmd("sunionstore", "dst", "nokey", "nokey2"), 0},
		{cmd("exists", "dst"), 0},
		{cmd("set", "dst", "old"), "OK"},
		{cmd("expire", "dst", "100"), 1},
		{cmd("sunionstore", "dst", "s5"), 2},
		{cmd("ttl", "dst"), -1},
		{cmd("sdiffstore", "dst", "s1", "s1"), 0},
		{cmd("exists", "dst"), 0},
	})
}

func TestSetMoveAndPop(t *testing.T) {
	s, rc := testServer(t, nil)
	ctx := context.Background()
	putObject(s, 0, "list", listObject())
	setup := func() {
		rc.Del(ctx, "h", "i", "new")
		rc.SAdd(ctx, "h", 1, "a", "b")
		rc.SAdd(ctx, "i", 2, 3, 4)
	}
	setup()
	runSteps(t, rc, []step{
		{cmd("smove", "h", "i", "a"), 1},
		{cmd("object", "encoding", "i"), "hashtable"},
		{cmd("smove", "h", "h", "b"), 1},
		{cmd("smove", "h", "h", "zz"), 0},
		{cmd("smove", "h", "i", "zz"), 0},
		{cmd("smove", "nokey", "i", "a"), 0},
		{cmd("smove", "h", "list", "1"), errReply("WRONGTYPE")},
		{cmd("smove", "list", "h", "1"), errReply("WRONGTYPE")},
		{cmd("smove", "nokey", "list", "1"), 0},
	})
	setup()
	runSteps(t, rc, []step{
		{cmd("smove", "i", "new", "2"), 1},
		{cmd("object", "encoding", "new"), "intset"},
		{cmd("smove", "h", "i", "1"), 1},
		{cmd("object", "encoding", "i"), "intset"},
		{cmd("smove", "new", "h", "2"), 1},
		{cmd("exists", "new"), 0},
	})
	// SPOP with counts through all three strategies, on both encodings.
	for _, members := range [][]any{
		{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20},
		{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q", "r", "s", "t"},
	} {
		for _, count := range []int{1, 2, 18, 30} {
			rc.Del(ctx, "p")
			rc.SAdd(ctx, "p", members...)
			popped, err := rc.SPopN(ctx, "p", int64(count)).Result()
			if err != nil {
				t.Fatal(err)
			}
			rest, _ := rc.SMembers(ctx, "p").Result()
			if want := min(count, 20); len(popped) != want || len(rest) != 20-want {
				t.Fatalf("SPOP %d: popped %d, left %d", count, len(popped), len(rest))
			}
			all := append(popped, rest...)
			slices.Sort(all)
			want := make([]string, 20)
			for i, m := range members {
				want[i] = fmt.Sprint(m)
			}
			slices.Sort(want)
			if !reflect.DeepEqual(all, want) {
				t.Fatalf("SPOP %d lost or invented members: %v", count, all)
			}
		}
	}
}

func TestSetRandMemberDistribution(t *testing.T) {
	_, rc := testServer(t, nil)
	ctx := context.Background()
	for _, members := range [][]any{
		{0, 1, 2, 3, 4, 5, 6, 7, 8, 9},
		{1, 5, 10, 50, 125, "MARY", "PATRICIA", "LINDA", "BARBARA", "ELIZABETH"},
	} {
		rc.Del(ctx, "r")
		rc.SAdd(ctx, "r", members...)
		for _, count := range []int64{-1000, 8, 2} {
			counts := map[string]int{}
			total := 0
			for total < 1000 {
				res, err := rc.SRandMemberN(ctx, "r", count).Result()
				if err != nil {
					t.Fatal(err)
				}
				if count > 0 {
					seen := map[string]bool{}
					for _, m := range res {
						if seen[m] {
							t.Fatalf("SRANDMEMBER %d repeated %s", count, m)
						}
						seen[m] = true
					}
				}
				for _, m := range res {
					counts[m]++
				}
				total += len(res)
			}
			exp := float64(total) / 10
			chi := 0.0
			for _, c := range counts {
				chi += (float64(c) - exp) * (float64(c) - exp) / exp
			}
			if len(counts) != 10 || chi > 40 {
				t.Errorf("SRANDMEMBER %d over %v: %d distinct, chi-square %.1f", count, members[:2], len(counts), chi)
			}
		}
	}
}

func TestSetScan(t *testing.T) {
	_, rc := testServer(t, nil)
	ctx := context.Background()
	rc.SAdd(ctx, "small", 1, 2, 3, 10)
	keys, cursor, err := rc.SScan(ctx, "small", 0, "1*", 1).Result()
	if err != nil || cursor != 0 || !reflect.DeepEqual(keys, []string{"1", "10"}) {
		t.Fatalf("SSCAN of an intset = %v %d %v, want everything matching at once", keys, cursor, err)
	}
	for i := 0; i < 1000; i++ {
		rc.SAdd(ctx, "big", "m:"+strconv.Itoa(i))
	}
	seen := map[string]bool{}
	var cur uint64
	calls := 0
	for {
		ks, next, err := rc.SScan(ctx, "big", cur, "", 20).Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range ks {
			seen[k] = true
		}
		calls++
		// Members come and go during the scan; the original ones must all
		// be returned.
		rc.SAdd(ctx, "big", "x:"+strconv.Itoa(calls))
		if next == 0 {
			break
		}
		cur = next
	}
	for i := 0; i < 1000; i++ {
		if !seen["m:"+strconv.Itoa(i)] {
			t.Fatalf("m:%d never returned", i)
		}
	}
	if calls < 10 {
		t.Fatalf("a 1000-member hashtable came back in %d calls of COUNT 20", calls)
	}
	runSteps(t, rc, []step{
		{cmd("sscan", "big", "0", "count", "0"), errReply("ERR syntax error")},
		{cmd("sscan", "big", "0", "type", "set"), errReply("ERR syntax error")},
		{cmd("sscan", "big", "0", "match"), errReply("ERR syntax error")},
	})
}

func TestSetPropagationAndEvents(t *testing.T) {
	s, rc := testServer(t, nil)
	r := record(s)
	ctx := context.Background()
	tests := []struct {
		args   []any
		prop   []string
		events []string
	}{
		{cmd("sadd", "s", "a", "b"), []string{"sadd s a b"}, []string{"new:s", "sadd:s"}},
		{cmd("sadd", "s", "a"), nil, nil},
		{cmd("srem", "s", "x"), nil, nil},
		{cmd("srem", "s", "a"), []string{"srem s a"}, []string{"srem:s"}},
		{cmd("spop", "s"), []string{"SREM s b"}, []string{"spop:s", "del:s"}},
		{cmd("sadd", "s", "a"), []string{"sadd s a"}, []string{"new:s", "sadd:s"}},
		{cmd("spop", "s", "5"), []string{"DEL s"}, []string{"spop:s", "del:s"}},
		{cmd("sadd", "s", "a", "b", "c", "d", "e", "f"), []string{"sadd s a b c d e f"}, []string{"new:s", "sadd:s"}},
		{cmd("spop", "s", "2"), []string{"SREM s *", "SREM s *"}, []string{"spop:s"}},
		{cmd("smove", "s", "t", "nothere"), nil, nil},
		{cmd("sinterstore", "d", "s", "nokey"), nil, []string{"keymiss:nokey"}},
		{cmd("sunionstore", "d", "s"), []string{"sunionstore d s"}, []string{"new:d", "sunionstore:d"}},
		{cmd("sdiffstore", "d", "s", "s"), []string{"sdiffstore d s s"}, []string{"del:d"}},
	}
	for _, tc := range tests {
		rc.Do(ctx, tc.args...)
		prop, events := r.take()
		// A command that propagates several effects has them wrapped in
		// MULTI/EXEC by the transactions code: only the effects matter here.
		if len(prop) > 2 && prop[0] == "MULTI" && prop[len(prop)-1] == "EXEC" {
			prop = prop[1 : len(prop)-1]
		}
		if !matchWords(prop, tc.prop) {
			t.Errorf("%v propagated %q, want %q", tc.args, prop, tc.prop)
		}
		if !reflect.DeepEqual(events, tc.events) {
			t.Errorf("%v notified %q, want %q", tc.args, events, tc.events)
		}
	}
}

func TestSetRESP3(t *testing.T) {
	s, _ := testServer(t, nil)
	rc3 := resp3Client(t, s)
	ctx := context.Background()
	rc3.SAdd(ctx, "s", "a")
	for _, args := range [][]any{cmd("smembers", "s"), cmd("sinter", "s"), cmd("sunion", "s"), cmd("sdiff", "s"), cmd("spop", "nokey", "1")} {
		got, err := rc3.Do(ctx, args...).Result()
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		// go-redis decodes a RESP3 set into []any as well; check the
		// wire type through the raw reply's Go type is not a map.
		if _, ok := got.([]any); !ok {
			t.Errorf("%v: %T", args, got)
		}
	}
	if err := rc3.Do(ctx, "spop", "nokey").Err(); err != redis.Nil {
		t.Errorf("RESP3 SPOP of a missing key: %v, want null", err)
	}
}

func TestSetDupAndDigest(t *testing.T) {
	s, rc := testServer(t, nil)
	ctx := context.Background()
	rc.SAdd(ctx, "i", 3, 1, 2)
	rc.SAdd(ctx, "h", "a", "b", 1)
	s.mu.Lock()
	for _, k := range []string{"i", "h"} {
		o, _ := s.dbs[0].ks.Lookup([]byte(k))
		cp := dupSet(o)
		if cp.Enc != o.Enc || setSize(&cp) != setSize(o) {
			t.Errorf("dup of %s: %v/%d, want %v/%d", k, cp.Enc, setSize(&cp), o.Enc, setSize(o))
		}
		if cp.Enc == keyspace.EncIntset {
			cp.Str, _ = intset.Add(cp.Str, 100)
			if setSize(o) != 3 {
				t.Errorf("dup shares the intset with the original")
			}
		}
		var d1, d2 digestState
		setDigest(&d1, o)
		setDigest(&d2, o)
		if d1 != d2 || d1 == (digestState{}) {
			t.Errorf("digest of %s unstable or empty", k)
		}
	}
	s.mu.Unlock()
}
