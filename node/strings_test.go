package node

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/keyfleet/keyfleet/node/ds/quicklist"
	"github.com/keyfleet/keyfleet/node/keyspace"
	"github.com/redis/go-redis/v9"
)

// step is one command and the reply it must get. want is a string (status
// or bulk), an int64, nil (a null reply), a []any, or an errReply.
type step struct {
	args []any
	want any
}

// errReply is an expected error reply, matched as a prefix.
type errReply string

func cmd(args ...any) []any { return args }

// runSteps sends each step's command and checks its reply; the replies
// come from redis-server 7.0.15.
func runSteps(t *testing.T, rc *redis.Client, steps []step) {
	t.Helper()
	ctx := context.Background()
	for _, st := range steps {
		got, err := rc.Do(ctx, st.args...).Result()
		checkReply(t, st.args, got, err, st.want)
	}
}

func checkReply(t *testing.T, args []any, got any, err error, want any) {
	t.Helper()
	switch w := want.(type) {
	case errReply:
		if err == nil || !strings.HasPrefix(err.Error(), string(w)) {
			t.Errorf("%v: got %#v, %v; want error %q", args, got, err, w)
		}
	case nil:
		if !errors.Is(err, redis.Nil) {
			t.Errorf("%v: got %#v, %v; want null", args, got, err)
		}
	default:
		if err != nil {
			t.Errorf("%v: error %v; want %#v", args, err, want)
			return
		}
		if !reflect.DeepEqual(normalize(got), normalize(want)) {
			t.Errorf("%v: got %#v; want %#v", args, got, want)
		}
	}
}

// normalize turns ints into int64 so that tables can use untyped constants.
func normalize(v any) any {
	switch x := v.(type) {
	case int:
		return int64(x)
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = normalize(x[i])
		}
		return out
	case map[any]any:
		out := make(map[any]any, len(x))
		for k, v := range x {
			out[normalize(k)] = normalize(v)
		}
		return out
	}
	return v
}

// resp3Client opens a RESP3 connection, or skips the test while the node
// does not serve HELLO (go-redis would silently fall back to RESP2).
func resp3Client(t *testing.T, s *Server) *redis.Client {
	t.Helper()
	if lookupCommand([]byte("hello")) == nil {
		t.Skip("HELLO is not served yet: RESP3 checks skipped")
	}
	return newClient(t, s, 3)
}

// putObject stores an object directly, for types whose commands live in
// other files (a list for WRONGTYPE checks).
func putObject(s *Server, db int, key string, obj keyspace.Object) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dbs[db].ks.Set([]byte(key), obj, false)
}

func listObject() keyspace.Object {
	// A real quicklist: the memory accounting's cron measures every key of
	// a small database, and panicked on a stand-in value.
	ql := quicklist.New(-2, 0)
	ql.PushTail([]byte("waffle"))
	return keyspace.Object{Type: keyspace.TypeList, Enc: keyspace.EncQuicklist, Val: ql}
}

// recorder captures what commands propagate and notify.
type recorder struct {
	s      *Server
	prop   []string
	events []string
}

func record(s *Server) *recorder {
	r := &recorder{s: s}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.notifyFlags = ^0
	s.hooks.propagate = func(dbid int, argv [][]byte) {
		parts := make([]string, len(argv))
		for i, a := range argv {
			parts[i] = string(a)
		}
		r.prop = append(r.prop, strings.Join(parts, " "))
	}
	s.hooks.notify = func(class int, event string, key []byte, dbid int) {
		r.events = append(r.events, event+":"+string(key))
	}
	return r
}

// take returns and clears what was recorded.
func (r *recorder) take() (prop, events []string) {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	prop, events = r.prop, r.events
	r.prop, r.events = nil, nil
	return prop, events
}

func TestStringCommands(t *testing.T) {
	s, rc := testServer(t, nil)
	steps := []step{
		{cmd("set", "k", "v"), "OK"},
		{cmd("get", "k"), "v"},
		{cmd("get", "nokey"), nil},
		{cmd("set", "k", "v", "nx"), nil},
		{cmd("set", "k", "w", "xx"), "OK"},
		{cmd("set", "k2", "v", "xx"), nil},
		{cmd("set", "k2", "v", "nx", "xx"), errReply("ERR syntax error")},
		{cmd("set", "k2", "v", "xx", "nx"), errReply("ERR syntax error")},
		{cmd("set", "k", "v2", "GET"), "w"},
		{cmd("set", "k", "v3", "get", "get"), "v2"},
		{cmd("set", "knew", "v", "get"), nil},
		{cmd("set", "knew", "x", "get", "nx"), "v"},
		{cmd("get", "knew"), "v"},
		{cmd("set", "nokey2", "v", "get", "xx"), nil},
		{cmd("get", "nokey2"), nil},
		{cmd("set", "k", "v", "ex"), errReply("ERR syntax error")},
		{cmd("set", "k", "v", "ex", "0"), errReply("ERR invalid expire time in 'set' command")},
		{cmd("set", "k", "v", "ex", "-1"), errReply("ERR invalid expire time in 'set' command")},
		{cmd("set", "k", "v", "ex", "abc"), errReply("ERR value is not an integer or out of range")},
		{cmd("set", "k", "v", "ex", "10000000000000000"), errReply("ERR invalid expire time in 'set' command")},
		{cmd("set", "k", "v", "px", "9223372036854775807"), errReply("ERR invalid expire time in 'set' command")},
		{cmd("set", "k", "v", "pxat", "9223372036854775807"), "OK"},
		{cmd("pexpiretime", "k"), int64(9223372036854775807)},
		{cmd("set", "k", "v", "exat", "9223372036854776"), errReply("ERR invalid expire time in 'set' command")},
		{cmd("set", "k", "v", "ex", "10", "px", "10"), errReply("ERR syntax error")},
		{cmd("set", "k", "v", "keepttl", "ex", "10"), errReply("ERR syntax error")},
		{cmd("set", "k", "v", "persist"), errReply("ERR syntax error")},
		{cmd("set", "k", "v", "pxat", "4102444800000"), "OK"},
		{cmd("set", "k", "v", "keepttl"), "OK"},
		{cmd("pexpiretime", "k"), 4102444800000},
		{cmd("set", "k", "v"), "OK"},
		{cmd("pexpiretime", "k"), -1},
		{cmd("set", "k", "v", "exat", "1"), "OK"},
		{cmd("exists", "k"), 0},
		{cmd("setnx", "k", "v"), 1},
		{cmd("setnx", "k", "w"), 0},
		{cmd("setex", "k", "0", "v"), errReply("ERR invalid expire time in 'setex' command")},
		{cmd("psetex", "k", "-5", "v"), errReply("ERR invalid expire time in 'psetex' command")},
		{cmd("setex", "k", "100", "v"), "OK"},
		{cmd("ttl", "k"), 100},
		{cmd("getset", "k", "v2"), "v"},
		{cmd("ttl", "k"), -1},
		{cmd("getset", "nokey5", "v"), nil},
		{cmd("mset", "a", "1", "b", "2"), "OK"},
		{cmd("mset", "a", "1", "b"), errReply("ERR wrong number of arguments for 'mset' command")},
		{cmd("msetnx", "a", "1", "c", "3"), 0},
		{cmd("msetnx", "c", "3", "d", "4"), 1},
		{cmd("mget", "a", "b", "c", "d", "nokey"), []any{"1", "2", "3", "4", nil}},
		{cmd("msetnx", "x1", "xxx", "x1", "yyy"), 1},
		{cmd("get", "x1"), "yyy"},
		{cmd("append", "e", "x"), 1},
		{cmd("append", "e", "yz"), 3},
		{cmd("get", "e"), "xyz"},
		{cmd("strlen", "e"), 3},
		{cmd("strlen", "nokey"), 0},
		{cmd("incr", "n"), 1},
		{cmd("incrby", "n", "10"), 11},
		{cmd("decrby", "n", "20"), -9},
		{cmd("decr", "n"), -10},
		{cmd("incrby", "n", "abc"), errReply("ERR value is not an integer or out of range")},
		{cmd("set", "n", "9223372036854775807"), "OK"},
		{cmd("incr", "n"), errReply("ERR increment or decrement would overflow")},
		{cmd("decrby", "n", "-9223372036854775808"), errReply("ERR decrement would overflow")},
		{cmd("set", "n", " 11"), "OK"},
		{cmd("incr", "n"), errReply("ERR value is not an integer or out of range")},
		{cmd("set", "r", "Hello World"), "OK"},
		{cmd("getrange", "r", "0", "3"), "Hell"},
		{cmd("getrange", "r", "-4", "-1"), "orld"},
		{cmd("getrange", "r", "5", "3"), ""},
		{cmd("getrange", "r", "-1", "-5"), ""},
		{cmd("getrange", "r", "-5000", "10000"), "Hello World"},
		{cmd("getrange", "r", "0", "4294967297"), "Hello World"},
		{cmd("getrange", "nokey", "0", "-1"), ""},
		{cmd("substr", "r", "0", "3"), "Hell"},
		{cmd("setrange", "r", "0", "J"), 11},
		{cmd("setrange", "r", "13", "xy"), 15},
		{cmd("get", "r"), "Jello World\x00\x00xy"},
		{cmd("setrange", "r", "-1", "x"), errReply("ERR offset is out of range")},
		{cmd("setrange", "nokey3", "0", ""), 0},
		{cmd("exists", "nokey3"), 0},
		{cmd("setrange", "nokey3", "1", "foo"), 4},
		{cmd("get", "nokey3"), "\x00foo"},
		{cmd("setrange", "r", "536870908", "world"), errReply("ERR string exceeds maximum allowed size (proto-max-bulk-len)")},
		{cmd("setrange", "r", "9223372036854775807", "A"), errReply("ERR string exceeds maximum allowed size (proto-max-bulk-len)")},
		{cmd("getdel", "r"), "Jello World\x00\x00xy"},
		{cmd("getdel", "r"), nil},
		{cmd("set", "g", "bar"), "OK"},
		{cmd("getex", "g"), "bar"},
		{cmd("getex", "g", "ex", "100"), "bar"},
		{cmd("ttl", "g"), 100},
		{cmd("getex", "g", "persist"), "bar"},
		{cmd("ttl", "g"), -1},
		{cmd("getex", "g", "px", "100", "persist"), errReply("ERR syntax error")},
		{cmd("getex", "g", "keepttl"), errReply("ERR syntax error")},
		{cmd("getex", "g", "ex", "10000000000000000"), errReply("ERR invalid expire time in 'getex' command")},
		{cmd("getex", "g", "exat", "1"), "bar"},
		{cmd("exists", "g"), 0},
		{cmd("getex", "nokey", "foo"), errReply("ERR syntax error")},
		{cmd("getex", "nokey", "ex", "100"), nil},
	}
	runSteps(t, rc, steps)

	putObject(s, 0, "list", listObject())
	wrong := errReply("WRONGTYPE Operation against a key holding the wrong kind of value")
	runSteps(t, rc, []step{
		{cmd("get", "list"), wrong},
		{cmd("set", "list", "v", "get"), wrong},
		{cmd("getrange", "list", "0", "1"), wrong},
		{cmd("append", "list", "x"), wrong},
		{cmd("incr", "list"), wrong},
		{cmd("incrbyfloat", "list", "1"), wrong},
		{cmd("strlen", "list"), wrong},
		{cmd("setrange", "list", "0", "x"), wrong},
		{cmd("getdel", "list"), wrong},
		{cmd("getex", "list"), wrong},
		{cmd("getset", "list", "x"), wrong},
		{cmd("lcs", "a", "list"), errReply("ERR The specified keys must contain string values")},
		{cmd("mget", "a", "list"), []any{"1", nil}},
		{cmd("type", "list"), "list"},
		{cmd("set", "list", "now a string"), "OK"},
		{cmd("type", "list"), "string"},
	})
}

func TestIncrByFloat(t *testing.T) {
	_, rc := testServer(t, nil)
	ctx := context.Background()
	// Replies of redis-server 7.0.15 (x87 long double arithmetic).
	tests := []struct {
		start, incr string
		want        any
	}{
		{"10.5", "0.1", "10.6"},
		{"1", "0.1", "1.1"},
		{"1.1", "0.2", "1.3"},
		{"3.0", "0", "3"},
		{"17179869184", "17179869184", "34359738368"},
		{"17179869184", "1.5", "17179869185.5"},
		{"0.024390243902439025", "-0.024390243902439025", "0"},
		{"3", "1.23456789012345678901234", "4.23456789012345679"},
		{"1", "1e30", "1000000000000000000024696061952"},
		{"1", "-0.1", "0.9"},
		{"1", ".5", "1.5"},
		{"1", "5.", "6"},
		{"1", "+3", "4"},
		{"1", "0x10", "17"},
		{"1e-300", "0", "0"},
		{"1", "1e400", "1000000000000000000028188068394758651458645343362905203862591069353968553400862986203936399484832416" +
			"0522094053927317616200295822777259255734023828976593340661017797447434546173917862448116674971723778" +
			"9438243915933380474706750262466844013592375136038303437354855052449559649790218250382800910684149474" +
			"02456898653040951017512658092615827588920183472511643316591362664138176309734806343732497430221946880"},
		{"1", "1e5000", errReply("ERR value is not a valid float")},
		{"1", "1e-5000", errReply("ERR value is not a valid float")},
		{"1", "1e", errReply("ERR value is not a valid float")},
		{"1", "1_0", errReply("ERR value is not a valid float")},
		{"1", " 1", errReply("ERR value is not a valid float")},
		{"1", "1 ", errReply("ERR value is not a valid float")},
		{"1", "nan", errReply("ERR value is not a valid float")},
		{"1", "abc", errReply("ERR value is not a valid float")},
		{"1", "inf", errReply("ERR increment would produce NaN or Infinity")},
		{"1", "-inf", errReply("ERR increment would produce NaN or Infinity")},
		{"inf", "1", errReply("ERR increment would produce NaN or Infinity")},
		{"1\x002", "1", errReply("ERR value is not a valid float")},
		{" 11", "1", errReply("ERR value is not a valid float")},
	}
	for _, tc := range tests {
		rc.Set(ctx, "f", tc.start, 0)
		got, err := rc.Do(ctx, "incrbyfloat", "f", tc.incr).Result()
		checkReply(t, []any{"incrbyfloat", tc.start, tc.incr}, got, err, tc.want)
		if s, ok := tc.want.(string); ok {
			if v := rc.Get(ctx, "f").Val(); v != s {
				t.Errorf("%s + %s stored %q, want %q", tc.start, tc.incr, v, s)
			}
			if e := rc.ObjectEncoding(ctx, "f").Val(); (len(s) <= 44) != (e == "embstr") {
				t.Errorf("%s + %s: encoding %s", tc.start, tc.incr, e)
			}
		}
	}
}

func TestStringEncodings(t *testing.T) {
	_, rc := testServer(t, nil)
	ctx := context.Background()
	tests := []struct {
		value, enc string
	}{
		{"123", "int"}, {"-123", "int"}, {"0", "int"},
		{"0123", "embstr"}, {"-0", "embstr"}, {"+1", "embstr"}, {" 1", "embstr"},
		{"9223372036854775807", "int"}, {"-9223372036854775808", "int"},
		{"9223372036854775808", "embstr"},
		{strings.Repeat("a", 44), "embstr"}, {strings.Repeat("a", 45), "raw"},
		{"", "embstr"},
	}
	for _, tc := range tests {
		rc.Set(ctx, "k", tc.value, 0)
		if got := rc.ObjectEncoding(ctx, "k").Val(); got != tc.enc {
			t.Errorf("SET %q: encoding %s, want %s", tc.value, got, tc.enc)
		}
	}
	// Commands that change a value in place make it raw; INCR makes int.
	seq := []struct {
		args []any
		enc  string
	}{
		{cmd("set", "k", "1234"), "int"},
		{cmd("setrange", "k", "0", ""), "int"},
		{cmd("setrange", "k", "1", "3"), "raw"},
		{cmd("incr", "k"), "int"},
		{cmd("append", "k", "5"), "raw"},
		{cmd("append", "new", "123"), "int"},
		{cmd("append", "new2", "abc"), "embstr"},
		{cmd("setrange", "new3", "0", "abc"), "raw"},
	}
	for _, st := range seq {
		rc.Do(ctx, st.args...)
		key := st.args[1].(string)
		if got := rc.ObjectEncoding(ctx, key).Val(); got != st.enc {
			t.Errorf("%v: encoding %s, want %s", st.args, got, st.enc)
		}
	}
}

func TestLCS(t *testing.T) {
	s, rc := testServer(t, nil)
	ctx := context.Background()
	rc.Set(ctx, "a", "ohmytext", 0)
	rc.Set(ctx, "b", "mynewtext", 0)
	runSteps(t, rc, []step{
		{cmd("lcs", "a", "b"), "mytext"},
		{cmd("lcs", "a", "b", "len"), 6},
		{cmd("lcs", "a", "b", "idx"), []any{"matches", []any{
			[]any{[]any{4, 7}, []any{5, 8}},
			[]any{[]any{2, 3}, []any{0, 1}},
		}, "len", 6}},
		{cmd("lcs", "a", "b", "idx", "withmatchlen", "minmatchlen", "4"), []any{"matches", []any{
			[]any{[]any{4, 7}, []any{5, 8}, 4},
		}, "len", 6}},
		{cmd("lcs", "a", "b", "len", "idx"), errReply("ERR If you want both the length and indexes, please just use IDX.")},
		{cmd("lcs", "a", "b", "minmatchlen"), errReply("ERR syntax error")},
		{cmd("lcs", "nokey", "nokey2"), ""},
	})
	// RESP3: IDX is a map.
	rc3 := resp3Client(t, s)
	got, err := rc3.Do(ctx, "lcs", "a", "b", "idx").Result()
	if err != nil {
		t.Fatal(err)
	}
	m, ok := got.(map[any]any)
	if !ok || normalize(m["len"]) != int64(6) {
		t.Fatalf("RESP3 LCS IDX = %#v, want a map with len 6", got)
	}
	// The transient table is bounded by proto-max-bulk-len.
	s.mu.Lock()
	s.cfg.ProtoMaxBulkLen = 1000
	s.mu.Unlock()
	rc.Set(ctx, "a", strings.Repeat("x", 100), 0)
	rc.Set(ctx, "b", strings.Repeat("x", 100), 0)
	runSteps(t, rc, []step{{cmd("lcs", "a", "b"),
		errReply("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")}})
}

func TestStringRESP3Nulls(t *testing.T) {
	s, _ := testServer(t, nil)
	rc3 := resp3Client(t, s)
	ctx := context.Background()
	for _, args := range [][]any{cmd("get", "x"), cmd("getdel", "x"), cmd("getex", "x"), cmd("set", "x", "v", "xx")} {
		if err := rc3.Do(ctx, args...).Err(); !errors.Is(err, redis.Nil) {
			t.Errorf("RESP3 %v: %v, want null", args, err)
		}
	}
	got, err := rc3.Do(ctx, "mget", "x", "y").Result()
	if err != nil || !reflect.DeepEqual(got, []any{nil, nil}) {
		t.Errorf("RESP3 MGET = %#v, %v", got, err)
	}
}

// TestStringPropagation checks the effect each write propagates and the
// keyspace events it raises, as Redis 7.0 does.
func TestStringPropagation(t *testing.T) {
	s, rc := testServer(t, nil)
	r := record(s)
	ctx := context.Background()
	now := time.Now().UnixMilli()
	tests := []struct {
		args   []any
		prop   []string // "*" in a word matches any number
		events []string
	}{
		{cmd("set", "k", "v"), []string{"set k v"}, []string{"new:k", "set:k"}},
		{cmd("set", "k", "v", "ex", "100"), []string{"SET k v PXAT *"}, []string{"set:k", "expire:k"}},
		{cmd("set", "k", "v", "px", "100000", "get"), []string{"SET k v PXAT *"}, []string{"set:k", "expire:k"}},
		{cmd("set", "k", "w", "GET", "keepttl"), []string{"set k w keepttl"}, []string{"set:k"}},
		{cmd("set", "k", "v", "nx"), nil, nil},
		{cmd("setex", "k", "100", "v"), []string{"SET k v PXAT *"}, []string{"set:k", "expire:k"}},
		{cmd("getex", "k", "ex", "100"), []string{"PEXPIREAT k *"}, []string{"expire:k"}},
		{cmd("getex", "k", "persist"), []string{"PERSIST k"}, []string{"persist:k"}},
		{cmd("getex", "k", "persist"), nil, nil},
		{cmd("getex", "k"), nil, nil},
		{cmd("getex", "k", "pxat", fmt.Sprint(now-1000)), []string{"DEL k"}, []string{"del:k"}},
		{cmd("getset", "k", "v"), []string{"SET k v"}, []string{"keymiss:k", "new:k", "set:k"}},
		{cmd("getdel", "k"), []string{"DEL k"}, []string{"del:k"}},
		{cmd("getdel", "k"), nil, []string{"keymiss:k"}},
		{cmd("incrbyfloat", "f", "1.5"), []string{"SET f 1.5 KEEPTTL"}, []string{"new:f", "incrbyfloat:f"}},
		{cmd("incr", "i"), []string{"incr i"}, []string{"new:i", "incrby:i"}},
		{cmd("append", "i", "0"), []string{"append i 0"}, []string{"append:i"}},
		{cmd("setrange", "i", "0", "2"), []string{"setrange i 0 2"}, []string{"setrange:i"}},
		{cmd("mset", "a", "1", "b", "2"), []string{"mset a 1 b 2"}, []string{"new:a", "set:a", "new:b", "set:b"}},
		{cmd("msetnx", "a", "1", "c", "2"), nil, nil},
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

// matchWords compares propagated commands, with "*" matching one word.
func matchWords(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		g, w := strings.Fields(got[i]), strings.Fields(want[i])
		if len(g) != len(w) {
			return false
		}
		for j := range g {
			if w[j] != "*" && g[j] != w[j] {
				return false
			}
		}
	}
	return true
}

// TestStringHotPathAllocs: GET, an overwriting SET, INCR and MGET allocate
// nothing; the reply buffer is reused as between batches.
func TestStringHotPathAllocs(t *testing.T) {
	s := New(DefaultConfig(), nil)
	c := &Client{srv: s, db: s.dbs[0], resp: 2, authenticated: true}
	b := func(ss ...string) [][]byte {
		out := make([][]byte, len(ss))
		for i, x := range ss {
			out[i] = []byte(x)
		}
		return out
	}
	set, get, incr, mget := b("SET", "key", "xxx"), b("GET", "key"), b("INCR", "counter"), b("MGET", "key", "key", "nokey")
	s.mu.Lock()
	defer s.mu.Unlock()
	setCommand(s, c, set)
	incrCommand(s, c, incr)
	for _, tc := range []struct {
		name string
		h    handler
		args [][]byte
	}{{"SET", setCommand, set}, {"GET", getCommand, get}, {"INCR", incrCommand, incr}, {"MGET", mgetCommand, mget}} {
		allocs := testing.AllocsPerRun(1000, func() {
			c.out = c.out[:0]
			tc.h(s, c, tc.args)
		})
		if allocs != 0 {
			t.Errorf("%s: %.1f allocations per call", tc.name, allocs)
		}
	}
}

func BenchmarkStringCommands(b *testing.B) {
	s := New(DefaultConfig(), nil)
	c := &Client{srv: s, db: s.dbs[0], resp: 2, authenticated: true}
	set := [][]byte{[]byte("SET"), []byte("key:000000001"), []byte("xxx")}
	get := [][]byte{[]byte("GET"), []byte("key:000000001")}
	s.mu.Lock()
	defer s.mu.Unlock()
	b.Run("SET", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			c.out = c.out[:0]
			setCommand(s, c, set)
		}
	})
	b.Run("GET", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			c.out = c.out[:0]
			getCommand(s, c, get)
		}
	})
}
