package node

import (
	"context"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// The replies below are redis-server 7.0.15's for the same commands.
func TestBitCommands(t *testing.T) {
	s, rc := testServer(t, nil)
	putObject(s, 0, "list", listObject())
	steps := []step{
		// SETBIT / GETBIT
		{cmd("setbit", "b", "1", "1"), int64(0)},
		{cmd("get", "b"), "\x40"},
		{cmd("setbit", "b", "1", "1"), int64(1)},
		{cmd("setbit", "b", "1", "0"), int64(1)},
		{cmd("setbit", "b", "15", "1"), int64(0)},
		{cmd("get", "b"), "\x00\x01"},
		{cmd("getbit", "b", "15"), int64(1)},
		{cmd("getbit", "b", "14"), int64(0)},
		{cmd("getbit", "b", "1000000"), int64(0)},
		{cmd("getbit", "nokey", "3"), int64(0)},
		{cmd("object", "encoding", "b"), "raw"},
		{cmd("set", "i", "1"), "OK"},
		{cmd("getbit", "i", "2"), int64(1)},
		{cmd("setbit", "i", "6", "1"), int64(0)},
		{cmd("get", "i"), "3"},
		{cmd("object", "encoding", "i"), "raw"},
		{cmd("setbit", "b", "-1", "1"), errReply("ERR bit offset is not an integer or out of range")},
		{cmd("setbit", "b", "4294967296", "1"), errReply("ERR bit offset is not an integer or out of range")},
		{cmd("setbit", "b", "x", "1"), errReply("ERR bit offset is not an integer or out of range")},
		{cmd("setbit", "b", " 1", "1"), errReply("ERR bit offset is not an integer or out of range")},
		{cmd("setbit", "b", "0", "2"), errReply("ERR bit is not an integer or out of range")},
		{cmd("setbit", "b", "0", "-1"), errReply("ERR bit is not an integer or out of range")},
		{cmd("setbit", "b", "0", "one"), errReply("ERR bit is not an integer or out of range")},
		{cmd("getbit", "b", "-1"), errReply("ERR bit offset is not an integer or out of range")},
		{cmd("getbit", "nokey", "4294967296"), errReply("ERR bit offset is not an integer or out of range")},
		{cmd("setbit", "list", "0", "1"), errReply("WRONGTYPE")},
		{cmd("getbit", "list", "0"), errReply("WRONGTYPE")},
		{cmd("setbit", "b", "0"), errReply("ERR wrong number of arguments for 'setbit' command")},

		// BITCOUNT
		{cmd("set", "s", "foobar"), "OK"},
		{cmd("bitcount", "s"), int64(26)},
		{cmd("bitcount", "s", "1", "1"), int64(6)},
		{cmd("bitcount", "s", "1", "-2"), int64(18)},
		{cmd("bitcount", "s", "-2", "1"), int64(0)},
		{cmd("bitcount", "s", "0", "1000"), int64(26)},
		{cmd("bitcount", "s", "5", "30", "bit"), int64(17)},
		{cmd("bitcount", "s", "5", "30", "BYTE"), int64(4)},
		{cmd("bitcount", "s", "-6", "-7"), int64(0)},
		{cmd("bitcount", "s", "-6", "-7", "nonsense"), int64(0)},
		{cmd("bitcount", "s", "0"), errReply("ERR syntax error")},
		{cmd("bitcount", "s", "0", "1", "bits"), errReply("ERR syntax error")},
		{cmd("bitcount", "s", "a", "1"), errReply("ERR value is not an integer or out of range")},
		{cmd("bitcount", "nokey", "0"), int64(0)},
		{cmd("bitcount", "list"), errReply("WRONGTYPE")},
		{cmd("bitcount", "i"), int64(4)},

		// BITPOS
		{cmd("set", "p", "\xff\xf0\x00"), "OK"},
		{cmd("bitpos", "p", "0"), int64(12)},
		{cmd("bitpos", "p", "1"), int64(0)},
		{cmd("bitpos", "p", "1", "2"), int64(-1)},
		{cmd("bitpos", "p", "0", "0", "0"), int64(-1)},
		{cmd("bitpos", "p", "0", "0"), int64(12)},
		{cmd("bitpos", "p", "0", "3", "10", "bit"), int64(-1)},
		{cmd("bitpos", "p", "0", "3", "12", "bit"), int64(12)},
		{cmd("bitpos", "p", "1", "9", "30", "bit"), int64(9)},
		{cmd("bitpos", "p", "1", "12", "-1", "bit"), int64(-1)},
		{cmd("set", "ones", "\xff\xff"), "OK"},
		{cmd("bitpos", "ones", "0"), int64(16)},
		{cmd("bitpos", "ones", "0", "0", "-1"), int64(-1)},
		{cmd("bitpos", "ones", "0", "1"), int64(16)},
		{cmd("bitpos", "nokey", "0"), int64(0)},
		{cmd("bitpos", "nokey", "1", "x"), int64(-1)},
		{cmd("bitpos", "p", "2"), errReply("ERR The bit argument must be 1 or 0.")},
		{cmd("bitpos", "p", "x"), errReply("ERR value is not an integer or out of range")},
		{cmd("bitpos", "p", "1", "0", "1", "bits"), errReply("ERR syntax error")},
		{cmd("bitpos", "p", "1", "0", "1", "bit", "x"), errReply("ERR syntax error")},
		{cmd("bitpos", "list", "1"), errReply("WRONGTYPE")},
		{cmd("set", "empty", ""), "OK"},
		{cmd("bitpos", "empty", "0"), int64(-1)},
		{cmd("bitpos", "empty", "1"), int64(-1)},

		// BITOP
		{cmd("set", "a", "\x01\x02\xff\xff"), "OK"},
		{cmd("set", "c", "\x01\x02\xff"), "OK"},
		{cmd("bitop", "and", "r", "a", "c"), int64(4)},
		{cmd("get", "r"), "\x01\x02\xff\x00"},
		{cmd("bitop", "OR", "r", "a", "c", "nokey"), int64(4)},
		{cmd("get", "r"), "\x01\x02\xff\xff"},
		{cmd("bitop", "xor", "r", "a", "c"), int64(4)},
		{cmd("get", "r"), "\x00\x00\x00\xff"},
		{cmd("bitop", "not", "r", "c"), int64(3)},
		{cmd("get", "r"), "\xfe\xfd\x00"},
		{cmd("object", "encoding", "r"), "raw"},
		{cmd("bitop", "not", "r", "a", "c"), errReply("ERR BITOP NOT must be called with a single source key.")},
		{cmd("bitop", "nand", "r", "a"), errReply("ERR syntax error")},
		{cmd("bitop", "and", "r", "a", "list"), errReply("WRONGTYPE")},
		{cmd("bitop", "and", "r", "nokey", "nokey2"), int64(0)},
		{cmd("exists", "r"), int64(0)},
		{cmd("bitop", "or", "r", "empty"), int64(0)},
		{cmd("bitop", "xor", "r", "i", "i", "i"), int64(1)},
		{cmd("get", "r"), "3"},
	}
	runSteps(t, rc, steps)
}

// TestBitOffsetLimit checks that offsets are bounded by
// proto-max-bulk-len before anything is allocated, and that the largest
// accepted offset works.
func TestBitOffsetLimit(t *testing.T) {
	_, rc := testServer(t, func(c *Config) { c.ProtoMaxBulkLen = 1 << 20 })
	last := strconv.Itoa(8<<20 - 1)
	runSteps(t, rc, []step{
		{cmd("setbit", "k", strconv.Itoa(8<<20), "1"), errReply("ERR bit offset is not an integer or out of range")},
		{cmd("setbit", "k", "9223372036854775807", "1"), errReply("ERR bit offset is not an integer or out of range")},
		{cmd("bitfield", "k", "set", "u8", "#1048576", "1"), errReply("ERR bit offset is not an integer or out of range")},
		// "#N" multiplies with 64-bit wraparound, as in Redis: 2**61 * 8
		// is offset 0.
		{cmd("bitfield", "w", "set", "i8", "#2305843009213693952", "1"), []any{int64(0)}},
		{cmd("get", "w"), "\x01"},
		{cmd("exists", "k"), int64(0)},
		{cmd("setbit", "k", last, "1"), int64(0)},
		{cmd("strlen", "k"), int64(1 << 20)},
		{cmd("getbit", "k", last), int64(1)},
		{cmd("bitcount", "k"), int64(1)},
		{cmd("bitpos", "k", "1"), int64(8<<20 - 1)},
		{cmd("bitfield", "k", "get", "u8", "#1048575", "get", "i64", last), []any{int64(1), int64(math64Neg)}},
	})
}

// math64Neg is i64 read at the last bit of a string: its sign bit set
// from the string, the rest zero padding.
const math64Neg = -1 << 63

func TestBitPropagation(t *testing.T) {
	s, rc := testServer(t, nil)
	r := record(s)
	ctx := context.Background()
	tests := []struct {
		args   []any
		prop   []string
		events []string
	}{
		{cmd("setbit", "k", "0", "0"), []string{"setbit k 0 0"}, []string{"new:k", "setbit:k"}},
		{cmd("setbit", "k", "0", "0"), nil, nil},
		{cmd("setbit", "k", "0", "1"), []string{"setbit k 0 1"}, []string{"setbit:k"}},
		{cmd("setbit", "k", "20", "0"), []string{"setbit k 20 0"}, []string{"setbit:k"}},
		{cmd("getbit", "k", "20"), nil, nil},
		{cmd("bitop", "not", "d", "k"), []string{"bitop not d k"}, []string{"new:d", "set:d"}},
		{cmd("bitop", "and", "d", "missing"), []string{"bitop and d missing"}, []string{"keymiss:missing", "del:d"}},
		{cmd("bitop", "and", "d", "missing"), nil, []string{"keymiss:missing"}},
		{cmd("bitfield", "f", "set", "i5", "0", "0"), []string{"bitfield f set i5 0 0"}, []string{"new:f", "setbit:f"}},
		{cmd("bitfield", "f", "set", "i5", "0", "0"), nil, nil},
		{cmd("bitfield", "f", "incrby", "u2", "0", "1", "incrby", "u2", "2", "1"), []string{"bitfield f incrby u2 0 1 incrby u2 2 1"}, []string{"setbit:f"}},
		{cmd("bitfield", "f", "overflow", "fail", "incrby", "u2", "0", "7"), nil, nil},
		{cmd("bitfield", "f", "get", "u2", "0"), nil, nil},
		{cmd("bitfield_ro", "f", "get", "u2", "0"), nil, nil},
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

// TestBitDirty checks rdb_changes_since_last_save: a write counts only
// when a bit changed or the string grew (unit/bitops's dirty test).
func TestBitDirty(t *testing.T) {
	s, rc := testServer(t, nil)
	ctx := context.Background()
	dirty := func() int64 {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.dirty
	}
	for _, tc := range []struct {
		args []any
		add  int64
	}{
		{cmd("setbit", "k", "0", "0"), 1},
		{cmd("setbit", "k", "0", "0"), 0},
		{cmd("setbit", "k", "0", "1"), 1},
		{cmd("setbit", "k", "0", "1"), 0},
		{cmd("setbit", "k", "90", "0"), 1},
		{cmd("bitfield", "f", "set", "i5", "0", "0", "set", "i5", "5", "0"), 2},
		{cmd("bitfield", "f", "set", "i5", "0", "0", "set", "i5", "5", "1"), 1},
		{cmd("bitfield", "f", "incrby", "i5", "0", "1", "incrby", "i5", "0", "1"), 2},
		{cmd("bitop", "or", "d", "k"), 1},
		{cmd("bitop", "or", "d", "none"), 1},
		{cmd("bitop", "or", "d", "none"), 0},
	} {
		before := dirty()
		if err := rc.Do(ctx, tc.args...).Err(); err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if got := dirty() - before; got != tc.add {
			t.Errorf("%v: dirty +%d, want +%d", tc.args, got, tc.add)
		}
	}
}

// bitModel is a bitmap command oracle written bit by bit, to check the
// word-at-a-time code on random strings and ranges.
func modelBitcount(b []byte, start, end int64, isbit bool) int64 {
	n := int64(len(b))
	if isbit {
		n *= 8
	}
	if start < 0 && end < 0 && start > end {
		return 0
	}
	if start < 0 {
		start += n
	}
	if end < 0 {
		end += n
	}
	start, end = max(start, 0), min(max(end, 0), n-1)
	var c int64
	for i := start; i <= end; i++ {
		if isbit {
			c += int64(b[i/8] >> (7 - i%8) & 1)
		} else {
			c += int64(bits.OnesCount8(b[i]))
		}
	}
	return c
}

func modelBitpos(b []byte, bit, start, end int64, isbit, endGiven bool) int64 {
	n := int64(len(b))
	if isbit {
		n *= 8
	}
	if start < 0 {
		start += n
	}
	if end < 0 {
		end += n
	}
	start, end = max(start, 0), min(max(end, 0), n-1)
	if start > end {
		return -1
	}
	lo, hi := start, end // in bits
	if !isbit {
		lo, hi = start*8, end*8+7
	}
	for i := lo; i <= hi; i++ {
		if int64(b[i/8]>>(7-i%8)&1) == bit {
			return i
		}
	}
	if bit == 0 && !endGiven {
		return hi + 1
	}
	return -1
}

func TestBitcountBitposRandom(t *testing.T) {
	_, rc := testServer(t, nil)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(11, 12))
	for i := 0; i < 400; i++ {
		b := make([]byte, r.IntN(70))
		for j := range b {
			switch r.IntN(3) {
			case 0:
				b[j] = 0
			case 1:
				b[j] = 0xff
			default:
				b[j] = byte(r.Uint32())
			}
		}
		rc.Set(ctx, "s", b, 0)
		n := int64(len(b)) * 8
		start, end := r.Int64N(2*n+3)-n-1, r.Int64N(2*n+3)-n-1
		for _, isbit := range []bool{false, true} {
			unit := "byte"
			if isbit {
				unit = "bit"
			} else {
				start, end = start/8, end/8
			}
			got, err := rc.Do(ctx, "bitcount", "s", start, end, unit).Int64()
			if want := modelBitcount(b, start, end, isbit); err != nil || got != want {
				t.Fatalf("bitcount %x %d %d %s = %d, %v; want %d", b, start, end, unit, got, err, want)
			}
			for bit := int64(0); bit <= 1; bit++ {
				got, err := rc.Do(ctx, "bitpos", "s", bit, start, end, unit).Int64()
				if want := modelBitpos(b, bit, start, end, isbit, true); err != nil || got != want {
					t.Fatalf("bitpos %x %d %d %d %s = %d, %v; want %d", b, bit, start, end, unit, got, err, want)
				}
				if !isbit {
					got, err := rc.Do(ctx, "bitpos", "s", bit, start).Int64()
					if want := modelBitpos(b, bit, start, -1, false, false); err != nil || got != want {
						t.Fatalf("bitpos %x %d %d = %d, %v; want %d", b, bit, start, got, err, want)
					}
				}
			}
		}
	}
}

func TestBitopRandom(t *testing.T) {
	_, rc := testServer(t, nil)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(13, 14))
	for i := 0; i < 200; i++ {
		srcs := make([][]byte, 1+r.IntN(5))
		keys := make([]any, len(srcs))
		maxlen := 0
		for j := range srcs {
			srcs[j] = make([]byte, r.IntN(100))
			for k := range srcs[j] {
				srcs[j][k] = byte(r.Uint32())
			}
			keys[j] = fmt.Sprintf("src%d", j)
			if len(srcs[j]) == 0 && r.IntN(2) == 0 {
				rc.Del(ctx, keys[j].(string))
			} else {
				rc.Set(ctx, keys[j].(string), srcs[j], 0)
			}
			maxlen = max(maxlen, len(srcs[j]))
		}
		for _, op := range []string{"and", "or", "xor", "not"} {
			if op == "not" {
				srcs, keys = srcs[:1], keys[:1]
				maxlen = len(srcs[0])
			}
			want := make([]byte, maxlen)
			for k := range want {
				at := func(s []byte) byte {
					if k < len(s) {
						return s[k]
					}
					return 0
				}
				v := at(srcs[0])
				for _, s := range srcs[1:] {
					switch op {
					case "and":
						v &= at(s)
					case "or":
						v |= at(s)
					case "xor":
						v ^= at(s)
					}
				}
				if op == "not" {
					v = ^v
				}
				want[k] = v
			}
			n, err := rc.Do(ctx, append([]any{"bitop", op, "dest"}, keys...)...).Int64()
			if err != nil || n != int64(maxlen) {
				t.Fatalf("bitop %s: %d, %v; want %d", op, n, err, maxlen)
			}
			got, err := rc.Get(ctx, "dest").Result()
			if maxlen == 0 {
				if err != redis.Nil {
					t.Fatalf("bitop %s of empty strings left %q", op, got)
				}
				continue
			}
			if err != nil || got != string(want) {
				t.Fatalf("bitop %s: %x, want %x", op, got, want)
			}
		}
	}
}

// twinClients send the same commands to the node and to redis-server
// and compare the replies.
type twinClients struct {
	t          *testing.T
	node, real *redis.Client
}

func newTwinClients(t *testing.T, directives ...string) twinClients {
	t.Helper()
	addr := startRedisServer(t, directives...)
	real := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() { real.Close() })
	_, node := testServer(t, nil)
	return twinClients{t: t, node: node, real: real}
}

func (d twinClients) do(args ...any) any {
	d.t.Helper()
	ctx := context.Background()
	got, gerr := d.node.Do(ctx, args...).Result()
	want, werr := d.real.Do(ctx, args...).Result()
	if fmt.Sprint(gerr) != fmt.Sprint(werr) || !reflect.DeepEqual(normalize(got), normalize(want)) {
		d.t.Fatalf("%v: node %#v, %v; redis-server %#v, %v", args, got, gerr, want, werr)
	}
	return got
}

// TestBitDifferential runs random SETBIT, GETBIT, BITCOUNT, BITPOS,
// BITOP, BITFIELD and string writes on the node and on redis-server,
// comparing every reply and the values.
func TestBitDifferential(t *testing.T) {
	d := newTwinClients(t)
	r := rand.New(rand.NewPCG(21, 22))
	keys := []string{"a", "b", "c"}
	key := func() string { return keys[r.IntN(len(keys))] }
	idx := func(n int) string { return strconv.Itoa(r.IntN(2*n+1) - n) }
	unit := func() []any {
		switch r.IntN(3) {
		case 0:
			return nil
		case 1:
			return []any{"bit"}
		}
		return []any{"BYTE"}
	}
	btype := func() string {
		if r.IntN(2) == 0 {
			return "i" + strconv.Itoa(1+r.IntN(64))
		}
		return "u" + strconv.Itoa(1+r.IntN(63))
	}
	bvalue := func() string {
		switch r.IntN(4) {
		case 0:
			return strconv.FormatInt(r.Int64(), 10)
		case 1:
			return strconv.FormatInt(-r.Int64(), 10)
		case 2:
			return strconv.Itoa(r.IntN(600) - 300)
		}
		return []string{"9223372036854775807", "-9223372036854775808", "0", "-1"}[r.IntN(4)]
	}
	boff := func() string {
		if r.IntN(3) == 0 {
			return "#" + strconv.Itoa(r.IntN(20))
		}
		return strconv.Itoa(r.IntN(300))
	}
	for i := 0; i < 3000; i++ {
		k := key()
		var args []any
		switch r.IntN(12) {
		case 0, 1:
			args = cmd("setbit", k, r.IntN(400), r.IntN(2))
		case 2:
			args = cmd("getbit", k, r.IntN(400))
		case 3:
			args = append(cmd("bitcount", k, idx(60), idx(60)), unit()...)
		case 4:
			args = cmd("bitpos", k, r.IntN(2))
			switch r.IntN(3) {
			case 1:
				args = append(args, idx(60))
			case 2:
				args = append(append(args, idx(60), idx(60)), unit()...)
			}
		case 5:
			op := []string{"and", "or", "xor", "not"}[r.IntN(4)]
			args = cmd("bitop", op, k, key())
			if op != "not" {
				for n := r.IntN(3); n > 0; n-- {
					args = append(args, key())
				}
			}
		case 6, 7, 8:
			args = cmd("bitfield", k)
			for n := 1 + r.IntN(4); n > 0; n-- {
				switch r.IntN(5) {
				case 0:
					args = append(args, "get", btype(), boff())
				case 1:
					args = append(args, "set", btype(), boff(), bvalue())
				case 2:
					args = append(args, "incrby", btype(), boff(), bvalue())
				case 3:
					args = append(args, "overflow", []string{"wrap", "sat", "fail"}[r.IntN(3)])
				case 4:
					args = append(args, "incrby", btype(), boff(), strconv.Itoa(r.IntN(9)-4))
				}
			}
		case 9:
			args = cmd("bitfield_ro", k, "get", btype(), boff())
		case 10:
			args = cmd("setrange", k, r.IntN(50), strings.Repeat("\xa5", r.IntN(4)))
		case 11:
			switch r.IntN(4) {
			case 0:
				args = cmd("set", k, strconv.Itoa(r.IntN(1000)))
			case 1:
				args = cmd("del", k)
			default:
				args = cmd("append", k, "\xff\x00")
			}
		}
		d.do(args...)
		if i%50 == 0 {
			for _, k := range keys {
				d.do("get", k)
			}
		}
	}
	for _, k := range keys {
		d.do("get", k)
		d.do("strlen", k)
	}
}
