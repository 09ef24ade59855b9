package node

import (
	"bytes"
	"context"
	"math"
	"reflect"
	"strconv"
	"testing"

	"github.com/keyfleet/keyfleet/node/ds/listpack"
	"github.com/keyfleet/keyfleet/node/ds/lzf"
	"github.com/keyfleet/keyfleet/node/ds/skiplist"
	"github.com/keyfleet/keyfleet/node/keyspace"
	"github.com/redis/go-redis/v9"
)

// The replies below are redis-server 7.0.15's (checked with the same
// commands against it).
func TestZsetCommands(t *testing.T) {
	for _, entries := range []int64{128, 0} {
		t.Run("max-entries-"+strconv.FormatInt(entries, 10), func(t *testing.T) {
			s, rc := testServer(t, func(c *Config) { c.ZSetMaxListpackEntries = entries })
			putObject(s, 0, "list", listObject())
			rc.ZAdd(context.Background(), "z", redis.Z{Score: 1, Member: "a"}, redis.Z{Score: 2, Member: "b"}, redis.Z{Score: 3, Member: "c"}, redis.Z{Score: 4, Member: "d"})
			runSteps(t, rc, zsetSteps)
		})
	}
}

var zsetSteps = []step{
	{cmd("zrangebyscore", "z", "-inf", "+inf", "LIMIT", "-1", "2"), []any{}},
	{cmd("zrangebyscore", "z", "-inf", "+inf", "LIMIT", "1", "-1"), []any{"b", "c", "d"}},
	{cmd("zrangebylex", "z", "-", "+", "LIMIT", "-1", "2"), []any{}},
	{cmd("zrange", "z", "0", "-1", "limit", "1", "2"), errReply("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")},
	{cmd("zrange", "z", "0", "-1", "bylex", "withscores"), errReply("ERR syntax error, WITHSCORES not supported in combination with BYLEX")},
	{cmd("zrange", "z", "(1", "3", "byscore", "rev"), []any{}},
	{cmd("zrange", "z", "3", "(1", "byscore", "rev"), []any{"c", "b"}},
	{cmd("zrange", "z", "3", "1", "byscore", "rev", "withscores"), []any{"c", "3", "b", "2", "a", "1"}},
	{cmd("zrange", "z", "[c", "[a", "bylex", "rev"), []any{"c", "b", "a"}},
	{cmd("zrange", "z", "-2", "-1"), []any{"c", "d"}},
	{cmd("zrange", "z", "5", "-1"), []any{}},
	{cmd("zrevrange", "z", "0", "1", "withscores"), []any{"d", "4", "c", "3"}},
	{cmd("zrevrange", "z", "0", "1", "byscore"), errReply("ERR syntax error")},
	{cmd("zrangebyscore", "z", "0", "1", "rev"), errReply("ERR syntax error")},
	{cmd("zrangebyscore", "z", "1", "x"), errReply("ERR min or max is not a float")},
	{cmd("zrangebyscore", "z", "1", "nan"), errReply("ERR min or max is not a float")},
	{cmd("zrangebyscore", "z", "", ""), []any{}},
	{cmd("zrangebyscore", "z", " 1", "(3"), []any{"a", "b"}},
	{cmd("zrangebyscore", "z", "0x1", "0x3"), []any{"a", "b", "c"}},
	{cmd("zrangebyscore", "z", "1e-400", "inf"), []any{"a", "b", "c", "d"}},
	{cmd("zrevrangebyscore", "z", "+inf", "-inf", "limit", "1", "2", "withscores"), []any{"c", "3", "b", "2"}},
	{cmd("zadd", "z", "1e-400", "x"), errReply("ERR value is not a valid float")},
	{cmd("zadd", "z", "nan", "x"), errReply("ERR value is not a valid float")},
	{cmd("zadd", "z", "", "x"), errReply("ERR value is not a valid float")},
	{cmd("zadd", "z", " 1", "x"), errReply("ERR value is not a valid float")},
	{cmd("zadd", "z", "1 ", "x"), errReply("ERR value is not a valid float")},
	{cmd("zadd", "z", "1e", "x"), errReply("ERR value is not a valid float")},
	{cmd("zadd", "z", "0x10", "hex"), 1},
	{cmd("zscore", "z", "hex"), "16"},
	{cmd("zadd", "z", "infinity", "big"), 1},
	{cmd("zscore", "z", "big"), "inf"},
	{cmd("zadd", "z", "1.e2", "e2", ".5", "half"), 2},
	{cmd("zmscore", "z", "e2", "half", "nosuch"), []any{"100", "0.5", nil}},
	{cmd("zmscore", "nokey", "a"), []any{nil}},
	{cmd("zadd", "z", "2.5e-7", "g", "1e300", "h", "-inf", "i"), 3},
	{cmd("zrange", "z", "0", "2", "withscores"), []any{"i", "-inf", "g", "2.4999999999999999e-07", "half", "0.5"}},
	{cmd("zscore", "z", "h"), "1.0000000000000001e+300"},
	{cmd("zrangebylex", "z", "a", "b"), errReply("ERR min or max not valid string range item")},
	{cmd("zrangebylex", "z", "[a", "+x"), errReply("ERR min or max not valid string range item")},
	{cmd("zrangebylex", "z", "", "+"), errReply("ERR min or max not valid string range item")},
	{cmd("zlexcount", "z", "-", "+"), 11},
	{cmd("zlexcount", "z", "+", "-"), 0},
	{cmd("zcount", "z", "(1", "3"), 2},
	{cmd("zcount", "z", "-inf", "+inf"), 11},
	{cmd("zcount", "z", "x", "1"), errReply("ERR min or max is not a float")},
	{cmd("zincrby", "z", "1", "nosuch"), "1"},
	{cmd("zincrby", "z", "-inf", "big"), errReply("ERR resulting score is not a number (NaN)")},
	{cmd("zadd", "z", "incr", "nx", "1", "a"), nil},
	{cmd("zadd", "z", "xx", "incr", "1", "nosuch2"), nil},
	{cmd("zadd", "z", "incr", "1", "a", "2", "b"), errReply("ERR INCR option supports a single increment-element pair")},
	{cmd("zadd", "z", "nx", "xx", "1", "a"), errReply("ERR XX and NX options at the same time are not compatible")},
	{cmd("zadd", "z", "gt", "lt", "1", "a"), errReply("ERR GT, LT, and/or NX options at the same time are not compatible")},
	{cmd("zadd", "z", "gt", "nx", "1", "a"), errReply("ERR GT, LT, and/or NX options at the same time are not compatible")},
	{cmd("zadd", "z", "1"), errReply("ERR wrong number of arguments for 'zadd' command")},
	{cmd("zadd", "z", "nx", "1"), errReply("ERR syntax error")},
	{cmd("zadd", "z", "1", "a", "2"), errReply("ERR syntax error")},
	{cmd("zadd", "z", "xx", "ch", "10", "a", "5", "newone"), 1},
	{cmd("zscore", "z", "newone"), nil},
	{cmd("zadd", "z", "gt", "ch", "5", "a", "20", "b"), 1},
	{cmd("zadd", "z", "lt", "ch", "1", "a", "20", "b"), 1},
	{cmd("zadd", "z", "gt", "incr", "-1", "a"), nil},
	{cmd("zadd", "z", "lt", "incr", "-1", "a"), "0"},
	{cmd("zrank", "z", "nosuch2"), nil},
	{cmd("zrank", "z", "a"), 1},
	{cmd("zrevrank", "z", "a"), 10},
	{cmd("zrank", "nokey", "a"), nil},
	{cmd("zrangestore", "dst", "z", "0", "-1", "withscores"), errReply("ERR syntax error")},
	{cmd("zrangestore", "dst", "z", "0", "1"), 2},
	{cmd("zrange", "dst", "0", "-1", "withscores"), []any{"i", "-inf", "a", "0"}},
	{cmd("zrangestore", "dst", "z", "10", "20"), 2},
	{cmd("zrangestore", "dst", "z", "20", "30"), 0},
	{cmd("exists", "dst"), 0},
	{cmd("zrangestore", "dst", "nokey", "0", "-1"), 0},
	{cmd("zrangebyscore", "z", "0", "10", "limit", "1"), errReply("ERR syntax error")},
	{cmd("zrandmember", "z", "9223372036854775807", "withscores"), errReply("ERR value is out of range")},
	{cmd("zrandmember", "z", "-9223372036854775808"), errReply("ERR value is out of range")},
	{cmd("zrandmember", "z", "1", "foo"), errReply("ERR syntax error")},
	{cmd("zrandmember", "z", "0"), []any{}},
	{cmd("zrandmember", "nokey", "3"), []any{}},
	{cmd("zrandmember", "nokey"), nil},
	{cmd("zunion", "0", "z"), errReply("ERR at least 1 input key is needed for 'zunion' command")},
	{cmd("zunionstore", "d", "-1", "z"), errReply("ERR at least 1 input key is needed for 'zunionstore' command")},
	{cmd("zintercard", "0", "z"), errReply("ERR at least 1 input key is needed for 'zintercard' command")},
	{cmd("zunion", "x", "z"), errReply("ERR value is not an integer or out of range")},
	{cmd("zunion", "2", "z"), errReply("ERR syntax error")},
	{cmd("zunion", "1", "z", "weights"), errReply("ERR syntax error")},
	{cmd("zunion", "1", "z", "weights", "x"), errReply("ERR weight value is not a float")},
	{cmd("zunion", "1", "z", "weights", "nan"), errReply("ERR weight value is not a float")},
	{cmd("zunion", "1", "z", "aggregate", "foo"), errReply("ERR syntax error")},
	{cmd("zdiff", "1", "z", "weights", "1"), errReply("ERR syntax error")},
	{cmd("zunionstore", "d", "1", "z", "withscores"), errReply("ERR syntax error")},
	{cmd("zintercard", "1", "z", "limit", "1"), 1},
	{cmd("zintercard", "1", "z", "limit", "-1"), errReply("ERR LIMIT can't be negative")},
	{cmd("zintercard", "1", "z", "withscores"), errReply("ERR syntax error")},
	{cmd("zunion", "2", "z", "list"), errReply("WRONGTYPE")},
	{cmd("zmpop", "1", "z"), errReply("ERR wrong number of arguments for 'zmpop' command")},
	{cmd("zmpop", "0", "z", "min"), errReply("ERR numkeys should be greater than 0")},
	{cmd("zmpop", "1", "z", "left"), errReply("ERR syntax error")},
	{cmd("zmpop", "1", "z", "min", "count", "0"), errReply("ERR count should be greater than 0")},
	{cmd("zmpop", "1", "z", "min", "count", "1", "count", "2"), errReply("ERR syntax error")},
	{cmd("zmpop", "2", "nokey", "list", "min"), errReply("WRONGTYPE")},
	{cmd("zmpop", "1", "nokey", "min"), nil},
	{cmd("zmpop", "2", "nokey", "z", "min", "count", "2"), []any{"z", []any{[]any{"i", "-inf"}, []any{"a", "0"}}}},
	{cmd("zpopmin", "z", "1", "2"), errReply("ERR syntax error")},
	{cmd("zpopmin", "z", "-1"), errReply("ERR value is out of range, must be positive")},
	{cmd("zpopmin", "z", "0"), []any{}},
	{cmd("zpopmin", "nokey"), []any{}},
	{cmd("zpopmin", "z"), []any{"g", "2.4999999999999999e-07"}},
	{cmd("zpopmax", "z", "2"), []any{"big", "inf", "h", "1.0000000000000001e+300"}},
	{cmd("zpopmin", "list"), errReply("WRONGTYPE")},
	{cmd("zadd", "list", "1", "a"), errReply("WRONGTYPE")},
	{cmd("zscore", "list", "a"), errReply("WRONGTYPE")},
	{cmd("zrange", "list", "0", "1"), errReply("WRONGTYPE")},
	{cmd("zrangestore", "d", "list", "0", "1"), errReply("WRONGTYPE")},
	{cmd("zscan", "list", "0"), errReply("WRONGTYPE")},
	{cmd("zscan", "nokey", "0"), []any{"0", []any{}}},
	{cmd("zremrangebyrank", "z", "-100", "-90"), 0},
	{cmd("zremrangebyrank", "z", "x", "1"), errReply("ERR value is not an integer or out of range")},
	{cmd("zremrangebyscore", "z", "(0", "(2"), 2},
	{cmd("zremrangebylex", "z", "[b", "[d"), 2},
	{cmd("zrange", "z", "0", "-1", "withscores"), []any{"hex", "16", "b", "20", "e2", "100"}},
	{cmd("zrem", "z", "b", "c", "d", "hex", "nosuch"), 2},
	{cmd("zrem", "z", "e2"), 1},
	{cmd("exists", "z"), 0},
	{cmd("zadd", "nz", "xx", "1", "a"), 0},
	{cmd("exists", "nz"), 0},
	{cmd("zadd", "nz", "ch", "gt", "1", "a", "2", "b"), 2},
	{cmd("zadd", "nz", "ch", "gt", "3", "a", "1", "b"), 1},
	{cmd("zadd", "nz", "lt", "xx", "ch", "0", "a", "5", "c"), 1},
	{cmd("zrange", "nz", "0", "-1", "withscores"), []any{"a", "0", "b", "2"}},
	{cmd("zadd", "nz", "-0", "negzero"), 1},
	{cmd("zcard", "nz"), 3},
	{cmd("zcard", "nokey"), 0},
}

// TestZsetEncodings checks the listpack/skiplist conversions under the
// two limits, and that stores convert small results back.
func TestZsetEncodings(t *testing.T) {
	_, rc := testServer(t, func(c *Config) {
		c.ZSetMaxListpackEntries = 4
		c.ZSetMaxListpackValue = 8
	})
	ctx := context.Background()
	enc := func(k, want string) {
		t.Helper()
		if got := encodingOf(t, rc, k); got != want {
			t.Fatalf("%s: %s, want %s", k, got, want)
		}
	}
	rc.ZAdd(ctx, "z", redis.Z{Score: 1, Member: "a"}, redis.Z{Score: 2, Member: "b"}, redis.Z{Score: 3, Member: "c"}, redis.Z{Score: 4, Member: "d"})
	enc("z", "listpack")
	rc.ZAdd(ctx, "z", redis.Z{Score: 5, Member: "e"})
	enc("z", "skiplist")
	rc.ZRem(ctx, "z", "e", "d")
	enc("z", "skiplist")
	rc.ZAdd(ctx, "long", redis.Z{Score: 1, Member: "123456789"})
	enc("long", "skiplist")
	rc.ZAdd(ctx, "grow", redis.Z{Score: 1, Member: "a"})
	rc.ZAdd(ctx, "grow", redis.Z{Score: 1, Member: "123456789"})
	enc("grow", "skiplist")
	// Stores convert small results to listpack.
	rc.ZUnionStore(ctx, "u", &redis.ZStore{Keys: []string{"z"}})
	enc("u", "listpack")
	rc.ZUnionStore(ctx, "u2", &redis.ZStore{Keys: []string{"long", "grow"}})
	enc("u2", "skiplist")
	rc.ZRangeStore(ctx, "r", redis.ZRangeArgs{Key: "z", Start: 0, Stop: -1})
	enc("r", "listpack")
	rc.ZAdd(ctx, "five", redis.Z{Score: 1, Member: "a"}, redis.Z{Score: 2, Member: "b"}, redis.Z{Score: 3, Member: "c"}, redis.Z{Score: 4, Member: "d"}, redis.Z{Score: 5, Member: "e"})
	rc.ZRangeStore(ctx, "r5", redis.ZRangeArgs{Key: "five", Start: 0, Stop: -1})
	enc("r5", "skiplist")
	rc.ZRangeStore(ctx, "r4", redis.ZRangeArgs{Key: "five", Start: "-inf", Stop: "+inf", ByScore: true, Count: 4})
	enc("r4", "listpack")
	// Both encodings answer alike.
	for _, k := range []string{"u", "z"} {
		got, _ := rc.ZRangeWithScores(ctx, k, 0, -1).Result()
		want := []redis.Z{{Score: 1, Member: "a"}, {Score: 2, Member: "b"}, {Score: 3, Member: "c"}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %v", k, got)
		}
	}
}

// TestZsetListpackLayout compares the listpack bytes with the payload
// redis-server 7.0.15 DUMPs for ZADD zz 1 a 2.5 b -3 c 10 1234 1e300 big
// 3 -7: integer-looking members and integral scores are integers, other
// scores are %.17g strings.
func TestZsetListpackLayout(t *testing.T) {
	dump := []byte("\x11\xc3:@B\x1fB\x00\x00\x00\x0c\x00\x81c\x02\xdf\xfd\x02\x81a\x02\x01\x01\x81b\x02\x832.5\x04\xdf\xf9\x02\x03\x01\xc4\xd2\x0b\x02\n\x01\x83big\x04\x971.0\xe0\x05\x00\a1e+300\x18\xff\n\x00zI\xb7\x8a\rNe\x1d")
	clen := int(dump[2] & 0x3f)
	ulen := int(dump[3]&0x3f)<<8 | int(dump[4])
	want, err := lzf.Decompress(nil, dump[5:5+clen], ulen)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{cfg: DefaultConfig()}
	o := newZsetObject(false)
	for _, p := range []struct {
		score float64
		m     string
	}{{1, "a"}, {2.5, "b"}, {-3, "c"}, {10, "1234"}, {1e300, "big"}, {3, "-7"}} {
		s.zsetAdd(&o, p.score, []byte(p.m), 0)
	}
	if !bytes.Equal(o.Str, want) {
		t.Fatalf("listpack\n got %q\nwant %q", o.Str, want)
	}
	if err := validateZsetListpack(want); err != nil {
		t.Fatalf("Redis's listpack rejected: %v", err)
	}
}

func TestZsetRESP3(t *testing.T) {
	s, _ := testServer(t, nil)
	rc3 := resp3Client(t, s)
	ctx := context.Background()
	rc3.ZAdd(ctx, "z", redis.Z{Score: 1, Member: "a"}, redis.Z{Score: 2.5, Member: "b"})
	tests := []struct {
		args []any
		want any
	}{
		{cmd("zscore", "z", "b"), 2.5},
		{cmd("zrange", "z", "0", "-1", "withscores"), []any{[]any{"a", 1.0}, []any{"b", 2.5}}},
		{cmd("zrange", "z", "0", "-1"), []any{"a", "b"}},
		{cmd("zunion", "1", "z", "withscores"), []any{[]any{"a", 1.0}, []any{"b", 2.5}}},
		{cmd("zrandmember", "z", "-2", "withscores"), nil},
		{cmd("zpopmin", "z"), []any{"a", 1.0}},
		{cmd("zpopmax", "z", "1"), []any{[]any{"b", 2.5}}},
		{cmd("zpopmin", "z", "1"), []any{}},
		{cmd("zmpop", "1", "z", "min"), nil},
	}
	for _, tc := range tests {
		got, err := rc3.Do(ctx, tc.args...).Result()
		if tc.want == nil {
			if tc.args[0] == "zrandmember" {
				pairs, ok := got.([]any)
				if err != nil || !ok || len(pairs) != 2 || len(pairs[0].([]any)) != 2 {
					t.Errorf("%v = %#v, %v; want two pairs", tc.args, got, err)
				}
				continue
			}
			if err != redis.Nil {
				t.Errorf("%v = %#v, %v; want null", tc.args, got, err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%v = %#v, %v; want %#v", tc.args, got, err, tc.want)
		}
	}
}

func TestZsetAlgebra(t *testing.T) {
	for _, entries := range []int64{128, 0} {
		_, rc := testServer(t, func(c *Config) { c.ZSetMaxListpackEntries = entries })
		ctx := context.Background()
		rc.ZAdd(ctx, "a", redis.Z{Score: 1, Member: "a"}, redis.Z{Score: 2, Member: "b"}, redis.Z{Score: 3, Member: "c"})
		rc.ZAdd(ctx, "b", redis.Z{Score: 1, Member: "b"}, redis.Z{Score: 2, Member: "c"}, redis.Z{Score: 3, Member: "d"})
		rc.SAdd(ctx, "s", "a", "b", "c")
		rc.ZAdd(ctx, "inf1", redis.Z{Score: math.Inf(1), Member: "k"})
		rc.ZAdd(ctx, "inf2", redis.Z{Score: math.Inf(-1), Member: "k"})
		runSteps(t, rc, []step{
			{cmd("zunionstore", "c", "2", "a", "b"), 4},
			{cmd("zrange", "c", "0", "-1", "withscores"), []any{"a", "1", "b", "3", "d", "3", "c", "5"}},
			{cmd("zunion", "2", "a", "b", "weights", "2", "3", "withscores"), []any{"a", "2", "b", "7", "d", "9", "c", "12"}},
			{cmd("zunion", "2", "a", "b", "aggregate", "min", "withscores"), []any{"a", "1", "b", "1", "c", "2", "d", "3"}},
			{cmd("zunion", "2", "a", "b", "aggregate", "max", "withscores"), []any{"a", "1", "b", "2", "c", "3", "d", "3"}},
			{cmd("zinter", "2", "a", "b", "withscores"), []any{"b", "3", "c", "5"}},
			{cmd("zinter", "2", "a", "b", "weights", "2", "3", "withscores"), []any{"b", "7", "c", "12"}},
			{cmd("zintercard", "2", "a", "b"), 2},
			{cmd("zintercard", "2", "a", "b", "limit", "1"), 1},
			{cmd("zinterstore", "c", "2", "s", "b", "weights", "2", "3"), 2},
			{cmd("zrange", "c", "0", "-1", "withscores"), []any{"b", "5", "c", "8"}},
			{cmd("zunionstore", "c", "2", "s", "b", "weights", "2", "3"), 4},
			{cmd("zrange", "c", "0", "-1", "withscores"), []any{"a", "2", "b", "5", "c", "8", "d", "9"}},
			{cmd("zdiff", "2", "a", "b", "withscores"), []any{"a", "1"}},
			{cmd("zdiffstore", "c", "2", "s", "b"), 1},
			{cmd("zrange", "c", "0", "-1", "withscores"), []any{"a", "1"}},
			{cmd("zdiffstore", "c", "2", "a", "a"), 0},
			{cmd("exists", "c"), 0},
			{cmd("zunionstore", "c", "2", "inf1", "inf2"), 1},
			{cmd("zscore", "c", "k"), "0"},
			{cmd("zinterstore", "c", "2", "inf1", "inf1"), 1},
			{cmd("zscore", "c", "k"), "inf"},
			{cmd("zunionstore", "c", "1", "inf2", "weights", "0"), 1},
			{cmd("zscore", "c", "k"), "0"},
			{cmd("zunion", "2", "a", "nokey", "withscores"), []any{"a", "1", "b", "2", "c", "3"}},
			{cmd("zinter", "2", "a", "nokey"), []any{}},
			{cmd("zunionstore", "c", "1", "nokey"), 0},
		})
	}
}

func TestZsetPropagationAndEvents(t *testing.T) {
	s, rc := testServer(t, nil)
	r := record(s)
	ctx := context.Background()
	tests := []struct {
		args   []any
		prop   []string
		events []string
	}{
		{cmd("zadd", "z", "1", "a", "2", "b", "3", "c"), []string{"zadd z 1 a 2 b 3 c"}, []string{"new:z", "zadd:z"}},
		{cmd("zadd", "z", "1", "a"), nil, nil},
		{cmd("zadd", "z", "xx", "1", "nosuch"), nil, nil},
		{cmd("zincrby", "z", "1", "a"), []string{"zincrby z 1 a"}, []string{"zincr:z"}},
		{cmd("zrem", "z", "nosuch"), nil, nil},
		{cmd("zpopmin", "z"), []string{"zpopmin z"}, []string{"zpopmin:z"}},
		{cmd("zmpop", "1", "z", "max", "count", "5"), []string{"ZPOPMAX z 2"}, []string{"zpopmax:z", "del:z"}},
		{cmd("zmpop", "1", "z", "max"), nil, nil},
		{cmd("zadd", "z", "1", "a", "2", "b"), []string{"zadd z 1 a 2 b"}, []string{"new:z", "zadd:z"}},
		{cmd("zremrangebyscore", "z", "1", "1"), []string{"zremrangebyscore z 1 1"}, []string{"zremrangebyscore:z"}},
		{cmd("zremrangebyrank", "z", "5", "6"), nil, nil},
		{cmd("zrangestore", "d", "z", "0", "-1"), []string{"zrangestore d z 0 -1"}, []string{"new:d", "zrangestore:d"}},
		{cmd("zunionstore", "d", "1", "nokey"), []string{"zunionstore d 1 nokey"}, []string{"keymiss:nokey", "del:d"}},
		{cmd("zrem", "z", "b"), []string{"zrem z b"}, []string{"zrem:z", "del:z"}},
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

// TestZsetRandomOps drives both encodings with random commands and checks
// them against a model: order, ranks, scores and range counts.
func TestZsetRandomOps(t *testing.T) {
	for _, entries := range []int64{1000, 0} {
		_, rc := testServer(t, func(c *Config) { c.ZSetMaxListpackEntries = entries })
		ctx := context.Background()
		model := map[string]float64{}
		seed := uint64(entries + 1)
		next := func(n uint64) uint64 {
			seed = seed*6364136223846793005 + 1442695040888963407
			return (seed >> 33) % n
		}
		for i := 0; i < 3000; i++ {
			m := "m" + strconv.FormatUint(next(200), 10)
			switch next(4) {
			case 0:
				rc.ZRem(ctx, "z", m)
				delete(model, m)
			default:
				sc := float64(next(50)) / 4
				rc.ZAdd(ctx, "z", redis.Z{Score: sc, Member: m})
				model[m] = sc
			}
		}
		got, err := rc.ZRangeWithScores(ctx, "z", 0, -1).Result()
		if err != nil || len(got) != len(model) {
			t.Fatalf("%d members, want %d (%v)", len(got), len(model), err)
		}
		for i, z := range got {
			m := z.Member.(string)
			if model[m] != z.Score {
				t.Fatalf("%s score %v, want %v", m, z.Score, model[m])
			}
			if i > 0 && (got[i-1].Score > z.Score || got[i-1].Score == z.Score && got[i-1].Member.(string) > m) {
				t.Fatalf("out of order at %d", i)
			}
			if r, _ := rc.ZRank(ctx, "z", m).Result(); r != int64(i) {
				t.Fatalf("ZRANK %s = %d, want %d", m, r, i)
			}
		}
		n, _ := rc.ZCount(ctx, "z", "2", "(5").Result()
		want := 0
		for _, sc := range model {
			if sc >= 2 && sc < 5 {
				want++
			}
		}
		if n != int64(want) {
			t.Fatalf("ZCOUNT = %d, want %d", n, want)
		}
	}
}

func TestZsetDupAndDigest(t *testing.T) {
	s, rc := testServer(t, func(c *Config) { c.ZSetMaxListpackEntries = 2 })
	ctx := context.Background()
	rc.ZAdd(ctx, "lp", redis.Z{Score: 1, Member: "a"}, redis.Z{Score: 2, Member: "b"})
	rc.ZAdd(ctx, "sl", redis.Z{Score: 1, Member: "a"}, redis.Z{Score: 2, Member: "b"}, redis.Z{Score: 3, Member: "c"})
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range []string{"lp", "sl"} {
		o, _ := s.dbs[0].ks.Lookup([]byte(k))
		cp := dupZset(o)
		if cp.Enc != o.Enc || zsetLength(&cp) != zsetLength(o) {
			t.Fatalf("dup of %s: %v/%d", k, cp.Enc, zsetLength(&cp))
		}
		var d1, d2 digestState
		zsetDigest(&d1, o)
		zsetDigest(&d2, &cp)
		if d1 != d2 {
			t.Errorf("dup of %s digests differently", k)
		}
		zsetRemove(&cp, []byte("a"))
		if zsetLength(o) == zsetLength(&cp) {
			t.Errorf("dup of %s shares data", k)
		}
	}
	// The digest depends on contents, not on the encoding.
	o1, _ := s.dbs[0].ks.Lookup([]byte("lp"))
	conv := dupZset(o1)
	zsetConvert(&conv, keyspace.EncSkiplist)
	var d1, d2 digestState
	zsetDigest(&d1, o1)
	zsetDigest(&d2, &conv)
	if d1 != d2 {
		t.Error("converting the encoding changed the digest")
	}
}

func TestCStrtod(t *testing.T) {
	tests := []struct {
		in     string
		v      float64
		n      int
		erange bool
	}{
		{"1.5", 1.5, 3, false},
		{"  -2e3x", -2000, 6, false},
		{"inf", math.Inf(1), 3, false},
		{"-Infinity", math.Inf(-1), 9, false},
		{"infin", math.Inf(1), 3, false},
		{"0x1p4", 16, 5, false},
		{"0x10", 16, 4, false},
		{"0x.8", 0.5, 4, false},
		{"0xg", 0, 1, false},
		{"1e", 1, 1, false},
		{"1e+", 1, 1, false},
		{".", 0, 0, false},
		{"", 0, 0, false},
		{"1e400", math.Inf(1), 5, true},
		{"1e-400", 0, 6, true},
		{"0e-400", 0, 6, false},
		{"5.", 5, 2, false},
	}
	for _, tt := range tests {
		v, n, er := cStrtod([]byte(tt.in))
		if v != tt.v || n != tt.n || er != tt.erange {
			t.Errorf("cStrtod(%q) = %v %d %v, want %v %d %v", tt.in, v, n, er, tt.v, tt.n, tt.erange)
		}
	}
	if v, n, _ := cStrtod([]byte("nan(abc)")); !math.IsNaN(v) || n != 8 {
		t.Errorf("nan(abc): %v %d", v, n)
	}
}

// FuzzZsetListpack feeds arbitrary bytes to the zset listpack validator
// (the RESTORE/RDB path) and runs every read command's code path over
// what it accepts: nothing may panic, and the result must stay valid.
func FuzzZsetListpack(f *testing.F) {
	s := &Server{cfg: DefaultConfig()}
	o := newZsetObject(false)
	for i, m := range []string{"a", "b", "123", "longer member"} {
		s.zsetAdd(&o, float64(i)*1.5, []byte(m), 0)
	}
	f.Add([]byte(o.Str))
	f.Add([]byte(listpack.New()))
	f.Fuzz(func(t *testing.T, b []byte) {
		if validateZsetListpack(b) != nil {
			return
		}
		obj := keyspace.Object{Type: keyspace.TypeZSet, Enc: keyspace.EncListpack, Str: bytes.Clone(b)}
		n := zsetLength(&obj)
		count := 0
		zsetEach(&obj, false, func(m zmember, score float64) bool {
			if math.IsNaN(score) {
				t.Fatalf("NaN score accepted")
			}
			if _, ok := zsetScore(&obj, m.appendTo(nil)); !ok {
				t.Fatalf("member %q not found", m.String())
			}
			count++
			return true
		})
		if count != n {
			t.Fatalf("iterated %d of %d", count, n)
		}
		zsetEach(&obj, true, func(zmember, float64) bool { return true })
		var sink zrangeSink = &zrangeCountSink{}
		zrangeByRank(sink, &obj, 0, -1, true)
		r := skiplistRangeAll()
		zrangeByScore(sink, &obj, &r, 0, -1, false)
		zsetConvert(&obj, keyspace.EncSkiplist)
		if zsetLength(&obj) != n {
			t.Fatalf("conversion changed the length")
		}
	})
}

func skiplistRangeAll() skiplist.ScoreRange {
	return skiplist.ScoreRange{Min: math.Inf(-1), Max: math.Inf(1)}
}

type zrangeCountSink struct{ n int }

func (z *zrangeCountSink) begin(int)             { z.n = 0 }
func (z *zrangeCountSink) emit(zmember, float64) { z.n++ }
func (z *zrangeCountSink) finalize(int)          {}

// BenchmarkZaddListpack builds 10-member listpack sorted sets as the
// memory benchmark loads them.
func BenchmarkZaddListpack(b *testing.B) {
	s := &Server{cfg: DefaultConfig()}
	members := make([][]byte, 10)
	for k := range members {
		members[k] = []byte("member:" + strconv.Itoa(k))
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		o := newZsetObject(false)
		for k, m := range members {
			s.zsetAdd(&o, float64((i+k)%1000)+float64(k%2)*0.5, m, 0)
		}
	}
}
