package node

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/keyfleet/keyfleet/node/ds/listpack"
	"github.com/keyfleet/keyfleet/node/keyspace"
	"github.com/redis/go-redis/v9"
)

// The replies in the tables are redis-server 7.0.15's; TestHashDifferential
// checks these and random sequences against a live one.

func TestHashCommands(t *testing.T) {
	_, rc := testServer(t, nil)
	runSteps(t, rc, []step{
		{cmd("hset", "h", "a", "1", "b", "2"), int64(2)},
		{cmd("hset", "h", "a", "10", "c", "x"), int64(1)},
		{cmd("hset", "h", "a"), errReply("ERR wrong number of arguments for 'hset' command")},
		{cmd("hmset", "h", "d", "4"), "OK"},
		{cmd("hmset", "h", "d"), errReply("ERR wrong number of arguments for 'hmset' command")},
		{cmd("hsetnx", "h", "a", "x"), int64(0)},
		{cmd("hsetnx", "h", "e", "5"), int64(1)},
		{cmd("hget", "h", "a"), "10"},
		{cmd("hget", "h", "zz"), nil},
		{cmd("hget", "nokey", "a"), nil},
		{cmd("hmget", "h", "a", "zz", "c"), []any{"10", nil, "x"}},
		{cmd("hmget", "nokey", "a", "b"), []any{nil, nil}},
		{cmd("hlen", "h"), int64(5)},
		{cmd("hlen", "nokey"), int64(0)},
		{cmd("hstrlen", "h", "a"), int64(2)},
		{cmd("hstrlen", "h", "c"), int64(1)},
		{cmd("hstrlen", "h", "zz"), int64(0)},
		{cmd("hexists", "h", "a"), int64(1)},
		{cmd("hexists", "h", "zz"), int64(0)},
		{cmd("hkeys", "h"), []any{"a", "b", "c", "d", "e"}},
		{cmd("hvals", "h"), []any{"10", "2", "x", "4", "5"}},
		{cmd("hgetall", "h"), []any{"a", "10", "b", "2", "c", "x", "d", "4", "e", "5"}},
		{cmd("hgetall", "nokey"), []any{}},
		{cmd("hincrby", "h", "a", "5"), int64(15)},
		{cmd("hincrby", "h", "new", "-3"), int64(-3)},
		{cmd("hincrby", "h", "c", "1"), errReply("ERR hash value is not an integer")},
		{cmd("hincrby", "h", "a", "x"), errReply("ERR value is not an integer or out of range")},
		{cmd("hset", "h", "big", "9223372036854775807"), int64(1)},
		{cmd("hincrby", "h", "big", "1"), errReply("ERR increment or decrement would overflow")},
		{cmd("hincrbyfloat", "h", "f", "10.5"), "10.5"},
		{cmd("hincrbyfloat", "h", "f", "0.1"), "10.6"},
		{cmd("hincrbyfloat", "h", "f", "-10.6"), "0"},
		{cmd("hincrbyfloat", "h", "a", "1.5e3"), "1515"},
		{cmd("hincrbyfloat", "h", "c", "1"), errReply("ERR hash value is not a float")},
		{cmd("hincrbyfloat", "h", "a", "abc"), errReply("ERR value is not a valid float")},
		{cmd("hincrbyfloat", "h", "a", "+inf"), errReply("ERR value is NaN or Infinity")},
		{cmd("hset", "h", "inf", "inf"), int64(1)},
		{cmd("hincrbyfloat", "h", "inf", "1"), errReply("ERR increment would produce NaN or Infinity")},
		{cmd("hdel", "h", "a", "zz", "b"), int64(2)},
		{cmd("hdel", "nokey", "a"), int64(0)},
		{cmd("object", "encoding", "h"), "listpack"},
		{cmd("set", "str", "v"), "OK"},
		{cmd("hset", "str", "a", "b"), errReply("WRONGTYPE")},
		{cmd("hget", "str", "a"), errReply("WRONGTYPE")},
		{cmd("hmget", "str", "a"), errReply("WRONGTYPE")},
		{cmd("hgetall", "str"), errReply("WRONGTYPE")},
		{cmd("hincrbyfloat", "str", "a", "1"), errReply("WRONGTYPE")},
		{cmd("hdel", "h", "c", "d", "e", "new", "big", "f", "inf"), int64(7)},
		{cmd("exists", "h"), int64(0)},
		{cmd("hrandfield", "nokey"), nil},
		{cmd("hrandfield", "nokey", "5"), []any{}},
		{cmd("hrandfield", "h", "-9223372036854775808"), errReply("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")},
		{cmd("hrandfield", "h", "5", "withvalues", "x"), errReply("ERR syntax error")},
		{cmd("hrandfield", "h", "5", "withvalue"), errReply("ERR syntax error")},
		{cmd("hrandfield", "h", "-4611686018427387905", "withvalues"), errReply("ERR value is out of range")},
		{cmd("hscan", "nokey", "0", "count", "abc"), []any{"0", []any{}}},
		{cmd("hscan", "nokey", "x"), errReply("ERR invalid cursor")},
		{cmd("hscan", "str", "0"), errReply("WRONGTYPE")},
	})
}

func TestHashEncodingConversion(t *testing.T) {
	s, rc := testServer(t, func(c *Config) { c.HashMaxListpackEntries, c.HashMaxListpackValue = 4, 8 })
	ctx := context.Background()
	enc := func(k string) string { return rc.ObjectEncoding(ctx, k).Val() }
	rc.HSet(ctx, "h", "a", "1", "b", "2", "c", "3", "d", "4")
	if e := enc("h"); e != "listpack" {
		t.Fatalf("4 fields: %s", e)
	}
	rc.HSet(ctx, "h", "e", "5")
	if e := enc("h"); e != "hashtable" {
		t.Fatalf("5 fields: %s", e)
	}
	rc.HDel(ctx, "h", "a", "b", "c", "d")
	if e := enc("h"); e != "hashtable" {
		t.Fatalf("a hash table went back to %s", e)
	}
	rc.HSet(ctx, "v", "a", "12345678")
	if e := enc("v"); e != "listpack" {
		t.Fatalf("8-byte value: %s", e)
	}
	rc.HSet(ctx, "v", "a", "123456789")
	if e := enc("v"); e != "hashtable" {
		t.Fatalf("9-byte value: %s", e)
	}
	rc.HSet(ctx, "f", "123456789", "a")
	if e := enc("f"); e != "hashtable" {
		t.Fatalf("9-byte field: %s", e)
	}
	// HINCRBYFLOAT's result can be the long value.
	rc.HSet(ctx, "i", "x", "1")
	rc.HIncrByFloat(ctx, "i", "x", 0.123456789)
	if e := enc("i"); e != "hashtable" {
		t.Fatalf("long HINCRBYFLOAT result: %s", e)
	}
	// The listpack holds integers as integers: the bytes Redis has.
	rc.HSet(ctx, "lp", "n", "-4096", "s", "str")
	s.mu.Lock()
	o, _ := s.peek(s.dbs[0], []byte("lp"))
	got := fmt.Sprintf("%x", HashListpack(o))
	s.mu.Unlock()
	lp := listpack.New()
	for _, v := range []string{"n", "-4096", "s", "str"} {
		lp.Append([]byte(v))
	}
	if got != fmt.Sprintf("%x", []byte(lp)) {
		t.Fatalf("listpack %s, want %x", got, []byte(lp))
	}
}

// sortedPairs sorts a flat field/value array by field.
func sortedPairs(v any) any {
	a, ok := v.([]any)
	if !ok || len(a)%2 != 0 {
		return v
	}
	type kv struct{ k, v any }
	var ps []kv
	for i := 0; i < len(a); i += 2 {
		ps = append(ps, kv{a[i], a[i+1]})
	}
	sort.Slice(ps, func(i, j int) bool { return fmt.Sprint(ps[i].k) < fmt.Sprint(ps[j].k) })
	out := make([]any, 0, len(a))
	for _, p := range ps {
		out = append(out, p.k, p.v)
	}
	return out
}

func sortedStrings(v any) any {
	a, ok := v.([]any)
	if !ok {
		return v
	}
	out := append([]any(nil), a...)
	sort.Slice(out, func(i, j int) bool { return fmt.Sprint(out[i]) < fmt.Sprint(out[j]) })
	return out
}

// TestHashDifferential runs random hash commands against redis-server
// with small thresholds, so that hashes convert along the way; replies
// whose order is the hash table's are compared sorted.
func TestHashDifferential(t *testing.T) {
	for _, protocol := range []int{2, 3} {
		t.Run(fmt.Sprintf("resp%d", protocol), func(t *testing.T) {
			d := newDiffClients(t, protocol)
			d.do("config", "set", "hash-max-listpack-entries", "16")
			d.do("config", "set", "hash-max-listpack-value", "20")
			ctx := context.Background()
			r := rand.New(rand.NewPCG(7, uint64(protocol)))
			keys := []string{"a", "b", "c"}
			field := func() string { return "f" + strconv.Itoa(r.IntN(25)) }
			val := func() string {
				switch r.IntN(5) {
				case 0:
					return strconv.Itoa(r.IntN(200) - 100)
				case 1:
					return strings.Repeat("v", r.IntN(25))
				case 2:
					return strconv.FormatFloat(r.Float64()*100, 'f', r.IntN(4), 64)
				case 3:
					return strconv.FormatInt(r.Int64(), 10)
				default:
					return "x" + strconv.Itoa(r.IntN(10))
				}
			}
			for i := 0; i < 2000; i++ {
				k := keys[r.IntN(len(keys))]
				var args []any
				unordered, pairs := false, false
				switch r.IntN(14) {
				case 0, 1, 2:
					args = cmd("hset", k, field(), val(), field(), val())
				case 3:
					args = cmd("hsetnx", k, field(), val())
				case 4:
					args = cmd("hdel", k, field(), field())
				case 5:
					args = cmd("hincrby", k, field(), strconv.Itoa(r.IntN(100)-50))
				case 6:
					args = cmd("hincrbyfloat", k, field(), val())
				case 7:
					args = cmd("hget", k, field())
				case 8:
					args = cmd("hmget", k, field(), field(), field())
				case 9:
					args = cmd("hlen", k)
				case 10:
					args = cmd("hstrlen", k, field())
				case 11:
					args = cmd("hexists", k, field())
				case 12:
					args = cmd("hkeys", k)
					unordered = true
				case 13:
					args = cmd("hgetall", k)
					pairs = protocol == 2
					unordered = protocol == 3
				}
				if !unordered && !pairs {
					d.do(args...)
					continue
				}
				got, gerr := d.node.Do(ctx, args...).Result()
				want, werr := d.real.Do(ctx, args...).Result()
				norm := sortedStrings
				if pairs {
					norm = sortedPairs
				}
				if fmt.Sprint(gerr) != fmt.Sprint(werr) || !reflect.DeepEqual(norm(normalize(got)), norm(normalize(want))) {
					t.Fatalf("%v: node %#v, %v; redis-server %#v, %v", args, got, gerr, want, werr)
				}
			}
			for _, k := range keys {
				d.do("object", "encoding", k)
				d.do("memory", "usage", k, "samples", "0")
			}
			d.do("debug", "digest")
		})
	}
}

func TestHashRandField(t *testing.T) {
	s, rc := testServer(t, nil)
	ctx := context.Background()
	for _, enc := range []string{"listpack", "hashtable"} {
		key := "h" + enc
		n := 10
		if enc == "hashtable" {
			n = 600
		}
		fields := map[string]string{}
		for i := 0; i < n; i++ {
			f := "f" + strconv.Itoa(i)
			fields[f] = "v" + strconv.Itoa(i)
			rc.HSet(ctx, key, f, fields[f])
		}
		if e := rc.ObjectEncoding(ctx, key).Val(); e != enc {
			t.Fatalf("%s: encoding %s", key, e)
		}
		for _, count := range []int{1, 3, n / 2, n - 1, n, n + 5} {
			got := rc.HRandField(ctx, key, count).Val()
			if len(got) != min(count, n) {
				t.Fatalf("%s count %d: %d fields", key, count, len(got))
			}
			seen := map[string]bool{}
			for _, f := range got {
				if _, ok := fields[f]; !ok || seen[f] {
					t.Fatalf("%s count %d: bad or repeated field %q", key, count, f)
				}
				seen[f] = true
			}
		}
		got := rc.HRandFieldWithValues(ctx, key, -50).Val()
		if len(got) != 50 {
			t.Fatalf("%s count -50: %d pairs", key, len(got))
		}
		for _, kv := range got {
			if fields[kv.Key] != kv.Value {
				t.Fatalf("%s: pair %v does not match the hash", key, kv)
			}
		}
		// Every field comes up over many single picks.
		seen := map[string]bool{}
		for i := 0; i < 200 && len(seen) < n; i++ {
			for _, f := range rc.HRandField(ctx, key, -n).Val() {
				seen[f] = true
			}
		}
		if len(seen) != n {
			t.Fatalf("%s: %d of %d fields ever picked", key, len(seen), n)
		}
	}
	rc3 := resp3Client(t, s)
	v, err := rc3.Do(ctx, "hrandfield", "hlistpack", "2", "withvalues").Result()
	if err != nil {
		t.Fatal(err)
	}
	pairs, ok := v.([]any)
	if !ok || len(pairs) != 2 {
		t.Fatalf("RESP3 WITHVALUES: %#v", v)
	}
	for _, p := range pairs {
		if kv, ok := p.([]any); !ok || len(kv) != 2 {
			t.Fatalf("RESP3 WITHVALUES element %#v is not a pair", p)
		}
	}
	v, _ = rc.Do(ctx, "hrandfield", "hlistpack", "-3", "withvalues").Result()
	if a, ok := v.([]any); !ok || len(a) != 6 {
		t.Fatalf("RESP2 WITHVALUES: %#v", v)
	}
}

func TestHashScan(t *testing.T) {
	_, rc := testServer(t, nil)
	ctx := context.Background()
	for i := 0; i < 20; i++ {
		rc.HSet(ctx, "small", "f"+strconv.Itoa(i), i)
	}
	keys, cursor, err := rc.HScan(ctx, "small", 0, "", 2).Result()
	if err != nil || cursor != 0 || len(keys) != 40 {
		t.Fatalf("listpack HSCAN COUNT 2: cursor %d, %d elements, %v", cursor, len(keys), err)
	}
	keys, _, _ = rc.HScan(ctx, "small", 0, "f1*", 0).Result()
	if len(keys) != 22 { // f1, f10..f19 with their values
		t.Fatalf("MATCH f1*: %d elements", len(keys))
	}
	for i := 0; i < 1000; i++ {
		rc.HSet(ctx, "big", "f"+strconv.Itoa(i), i)
	}
	seen := map[string]string{}
	cursor, calls := uint64(0), 0
	for {
		var page []string
		page, cursor, err = rc.HScan(ctx, "big", cursor, "", 50).Result()
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(page); i += 2 {
			seen[page[i]] = page[i+1]
		}
		calls++
		if cursor == 0 {
			break
		}
	}
	if len(seen) != 1000 || calls < 5 {
		t.Fatalf("hashtable HSCAN: %d fields in %d calls", len(seen), calls)
	}
	if seen["f999"] != "999" {
		t.Fatalf("f999 = %q", seen["f999"])
	}
	runSteps(t, rc, []step{
		{cmd("hscan", "big", "0", "count", "0"), errReply("ERR syntax error")},
		{cmd("hscan", "big", "0", "count", "x"), errReply("ERR value is not an integer or out of range")},
		{cmd("hscan", "big", "0", "type", "hash"), errReply("ERR syntax error")},
	})
}

func TestHashPropagationAndEvents(t *testing.T) {
	s, rc := testServer(t, nil)
	r := record(s)
	ctx := context.Background()
	tests := []struct {
		args   []any
		prop   []string
		events []string
	}{
		{cmd("hset", "h", "a", "1"), []string{"hset h a 1"}, []string{"new:h", "hset:h"}},
		{cmd("hsetnx", "h", "a", "2"), nil, nil},
		{cmd("hincrbyfloat", "h", "a", "0.5"), []string{"HSET h a 1.5"}, []string{"hincrbyfloat:h"}},
		{cmd("hincrby", "h", "n", "2"), []string{"hincrby h n 2"}, []string{"hincrby:h"}},
		{cmd("hdel", "h", "zz"), nil, nil},
		{cmd("hdel", "h", "a", "n"), []string{"hdel h a n"}, []string{"hdel:h", "del:h"}},
	}
	for _, tc := range tests {
		rc.Do(ctx, tc.args...)
		prop, events := r.take()
		if !matchWords(prop, tc.prop) {
			t.Errorf("%v propagated %q, want %q", tc.args, prop, tc.prop)
		}
		if !reflect.DeepEqual(events, tc.events) {
			t.Errorf("%v notified %q, want %q", tc.args, events, tc.events)
		}
	}
}

func TestHashCopyAndRESP3(t *testing.T) {
	s, rc := testServer(t, nil)
	ctx := context.Background()
	rc.HSet(ctx, "small", "a", "1")
	for i := 0; i < 200; i++ {
		rc.HSet(ctx, "big", "f"+strconv.Itoa(i), i)
	}
	for _, k := range []string{"small", "big"} {
		if err := rc.Copy(ctx, k, k+"2", 0, false).Err(); err != nil {
			t.Fatal(err)
		}
		rc.HSet(ctx, k, "a", "changed")
		if v := rc.HGet(ctx, k+"2", "a").Val(); v == "changed" {
			t.Fatalf("%s: the copy changed with the original", k)
		}
		if a, b := rc.ObjectEncoding(ctx, k).Val(), rc.ObjectEncoding(ctx, k+"2").Val(); a != b {
			t.Fatalf("%s: copy encoding %s, original %s", k, b, a)
		}
	}
	rc3 := resp3Client(t, s)
	v, err := rc3.Do(ctx, "hgetall", "small").Result()
	if err != nil {
		t.Fatal(err)
	}
	if m, ok := v.(map[any]any); !ok || m["a"] != "changed" {
		t.Fatalf("RESP3 HGETALL: %#v", v)
	}
	v, _ = rc3.Do(ctx, "hgetall", "nokey").Result()
	if m, ok := v.(map[any]any); !ok || len(m) != 0 {
		t.Fatalf("RESP3 HGETALL of a missing key: %#v", v)
	}
	if err := rc3.Do(ctx, "hget", "small", "zz").Err(); err != redis.Nil {
		t.Fatalf("RESP3 HGET miss: %v", err)
	}
}

// FuzzHashListpack: any listpack the RDB loader accepts for a hash
// (valid layout, an even number of entries) is safe for the hash
// operations, duplicates included.
func FuzzHashListpack(f *testing.F) {
	lp := listpack.New()
	for _, v := range []string{"f", "1", "g", "-70000", "h", strings.Repeat("x", 70)} {
		lp.Append([]byte(v))
	}
	f.Add([]byte(lp))
	f.Fuzz(func(t *testing.T, b []byte) {
		if listpack.Validate(b, nil) != nil || listpack.Listpack(b).Len()%2 != 0 {
			return
		}
		s := New(DefaultConfig(), nil)
		o := keyspace.Object{Type: keyspace.TypeHash, Enc: keyspace.EncListpack, Str: append([]byte(nil), b...)}
		n := 0
		hashEach(&o, func(f, v hashElem) bool {
			if _, ok := hashGet(&o, f.bytes()); !ok {
				t.Fatalf("field %q not found", f.String())
			}
			n++
			return true
		})
		if n != hashLen(&o) {
			t.Fatalf("%d pairs walked, length %d", n, hashLen(&o))
		}
		s.hashSet(&o, []byte("new"), []byte("v"))
		hashDelete(&o, []byte("new"))
		hashConvert(&o)
		if hashLen(&o) > n {
			t.Fatalf("conversion grew the hash from %d to %d", n, hashLen(&o))
		}
	})
}
