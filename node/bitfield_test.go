package node

import (
	"context"
	"math/big"
	mrand "math/rand"
	"math/rand/v2"
	"strconv"
	"testing"
)

// The replies below are redis-server 7.0.15's for the same commands.
func TestBitfieldCommands(t *testing.T) {
	s, rc := testServer(t, nil)
	putObject(s, 0, "list", listObject())
	runSteps(t, rc, []step{
		{cmd("bitfield", "bits", "set", "i8", "0", "-100"), []any{int64(0)}},
		{cmd("bitfield", "bits", "set", "i8", "0", "101"), []any{int64(-100)}},
		{cmd("bitfield", "bits", "get", "i8", "0"), []any{int64(101)}},
		{cmd("bitfield", "bits", "set", "i8", "0", "255", "set", "i8", "0", "100", "get", "i8", "0"), []any{int64(101), int64(-1), int64(100)}},
		{cmd("bitfield", "bits", "set", "u8", "0", "255", "incrby", "u8", "0", "100", "get", "u8", "0"), []any{int64(100), int64(99), int64(99)}},
		{cmd("bitfield", "bits"), []any{}},
		{cmd("bitfield_ro", "bits"), []any{}},
		{cmd("del", "bits"), int64(1)},
		{cmd("bitfield", "bits", "set", "u8", "#0", "65", "set", "u8", "#1", "66", "SET", "U8", "#2", "67"), errReply("ERR Invalid bitfield type")},
		{cmd("bitfield", "bits", "set", "u8", "#0", "65", "set", "u8", "#1", "66", "SET", "u8", "#2", "67"), []any{int64(0), int64(0), int64(0)}},
		{cmd("get", "bits"), "ABC"},
		{cmd("bitfield", "bits", "overflow", "sat", "incrby", "u8", "#0", "300", "overflow", "FAIL", "incrby", "u8", "#1", "300", "incrby", "i4", "0", "1"), []any{int64(255), nil, int64(0)}},
		{cmd("get", "bits"), "\x0fBC"},
		{cmd("bitfield", "bits", "overflow", "wrap", "incrby", "u8", "#0", "257", "get", "u2", "100"), []any{int64(16), int64(0)}},
		{cmd("bitfield", "bits", "get", "i64", "0", "get", "u63", "1"), []any{int64(1171572520348811264), int64(1171572520348811264)}},
		{cmd("bitfield", "bits", "set", "i64", "0", "-9223372036854775808", "incrby", "i64", "0", "-1"), []any{int64(1171572520348811264), int64(9223372036854775807)}},
		{cmd("bitfield", "bits", "overflow", "sat", "incrby", "i64", "0", "1"), []any{int64(9223372036854775807)}},
		{cmd("bitfield", "bits", "overflow", "fail", "set", "i3", "0", "4", "set", "u3", "0", "8", "set", "u3", "0", "-1"), []any{nil, nil, nil}},
		{cmd("bitfield", "bits", "overflow", "sat", "set", "i3", "0", "4", "set", "u3", "0", "8", "set", "u3", "0", "-1", "set", "i3", "0", "-9"), []any{int64(3), int64(3), int64(7), int64(-1)}},
		{cmd("bitfield", "bits", "get", "i3", "0"), []any{int64(-4)}},
		{cmd("set", "n", "1"), "OK"},
		{cmd("bitfield", "n", "get", "u1", "0", "get", "u8", "0"), []any{int64(0), int64(49)}},

		{cmd("bitfield", "bits", "get", "u64", "0"), errReply("ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.")},
		{cmd("bitfield", "bits", "get", "i65", "0"), errReply("ERR Invalid bitfield type")},
		{cmd("bitfield", "bits", "get", "i0", "0"), errReply("ERR Invalid bitfield type")},
		{cmd("bitfield", "bits", "get", "x8", "0"), errReply("ERR Invalid bitfield type")},
		{cmd("bitfield", "bits", "get", "i", "0"), errReply("ERR Invalid bitfield type")},
		{cmd("bitfield", "bits", "get", "u8", "-1"), errReply("ERR bit offset is not an integer or out of range")},
		{cmd("bitfield", "bits", "get", "u8", "#-1"), errReply("ERR bit offset is not an integer or out of range")},
		{cmd("bitfield", "bits", "get", "u8", "##1"), errReply("ERR bit offset is not an integer or out of range")},
		{cmd("bitfield", "bits", "set", "u8", "0", "x"), errReply("ERR value is not an integer or out of range")},
		{cmd("bitfield", "bits", "get", "u8"), errReply("ERR syntax error")},
		{cmd("bitfield", "bits", "set", "u8", "0"), errReply("ERR syntax error")},
		{cmd("bitfield", "bits", "frob", "u8", "0"), errReply("ERR syntax error")},
		{cmd("bitfield", "bits", "overflow"), errReply("ERR syntax error")},
		{cmd("bitfield", "bits", "overflow", "never"), errReply("ERR Invalid OVERFLOW type specified")},
		{cmd("bitfield", "list", "get", "u8", "0"), errReply("WRONGTYPE")},
		{cmd("bitfield", "list", "set", "u8", "0", "1"), errReply("WRONGTYPE")},
		{cmd("bitfield_ro", "bits", "set", "u8", "0", "1", "get", "u8", "0"), errReply("ERR BITFIELD_RO only supports the GET subcommand")},
		{cmd("bitfield_ro", "bits", "get", "u8", "#1", "get", "i4", "4"), []any{int64(255), int64(-1)}},
		{cmd("bitfield_ro", "nokey", "get", "u8", "0"), []any{int64(0)}},
		{cmd("exists", "nokey"), int64(0)},
		{cmd("bitfield", "nokey", "overflow", "fail", "incrby", "u2", "0", "5"), []any{nil}},
		{cmd("strlen", "nokey"), int64(1)},
		{cmd("bitfield", "mystring", "SET", "i8", "0", "10", "SET", "i8", "64", "10", "INCRBY", "i8", "10", "99900"), []any{int64(0), int64(0), int64(60)}},
	})
}

// TestBitfieldOverflowModel checks SET and INCRBY under each overflow
// mode against arbitrary-precision arithmetic, for every width (the
// fuzz tests of unit/bitfield).
func TestBitfieldOverflowModel(t *testing.T) {
	_, rc := testServer(t, nil)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(31, 32))
	r1 := mrand.New(mrand.NewSource(33))
	clamp := func(v *big.Int) *big.Int {
		lo, hi := big.NewInt(-1<<63), big.NewInt(1<<63-1)
		if v.Cmp(lo) < 0 {
			return lo
		}
		if v.Cmp(hi) > 0 {
			return hi
		}
		return v
	}
	for i := 0; i < 1500; i++ {
		width := 1 + r.IntN(64)
		signed := r.IntN(2) == 0 || width == 64
		rng := new(big.Int).Lsh(big.NewInt(1), uint(width))
		minv := big.NewInt(0)
		typ := "u" + strconv.Itoa(width)
		if signed {
			minv.Neg(new(big.Int).Rsh(rng, 1))
			typ = "i" + strconv.Itoa(width)
		}
		maxv := new(big.Int).Sub(new(big.Int).Add(minv, rng), big.NewInt(1))
		pick := func() *big.Int {
			// Anything from 2*min to 2*max, clamped to int64.
			span := new(big.Int).Mul(rng, big.NewInt(2))
			v := new(big.Int).Rand(r1, span)
			return clamp(v.Add(v, new(big.Int).Mul(minv, big.NewInt(2))))
		}
		value, incr := pick(), pick()
		sum := new(big.Int).Add(value, incr)
		overflow := value.Cmp(maxv) > 0 || value.Cmp(minv) < 0 || sum.Cmp(maxv) > 0 || sum.Cmp(minv) < 0
		rc.Del(ctx, "bits")
		res, err := rc.Do(ctx, "bitfield", "bits", "overflow", "fail", "set", typ, "0", value.String(), "incrby", typ, "0", incr.String()).Slice()
		if err != nil {
			t.Fatal(err)
		}
		if failed := res[0] == nil || res[1] == nil; failed != overflow {
			t.Fatalf("%s %v+%v: FAIL replies %v, overflow %v", typ, value, incr, res, overflow)
		}
		// WRAP: the sum modulo 2**width, in the type's range.
		rc.Del(ctx, "bits")
		if err := rc.Do(ctx, "bitfield", "bits", "overflow", "wrap", "set", typ, "0", value.String(), "incrby", typ, "0", incr.String()).Err(); err != nil {
			t.Fatal(err)
		}
		got, err := rc.Do(ctx, "bitfield", "bits", "get", typ, "0").Slice()
		want := new(big.Int).Sub(sum, minv)
		want.Mod(want, rng).Add(want, minv)
		if err != nil || got[0].(int64) != want.Int64() {
			t.Fatalf("WRAP %s %v+%v = %v, %v; want %v", typ, value, incr, got, err, want)
		}
		// SAT: the sum clamped to the range. The SET value is in range:
		// for values outside it Redis's overflow check wraps (an i63 SET
		// of -2**63+1 saturates to the maximum), which the differential
		// test covers.
		sat := func(v *big.Int) *big.Int {
			if v.Cmp(maxv) > 0 {
				return maxv
			}
			if v.Cmp(minv) < 0 {
				return minv
			}
			return v
		}
		value = sat(value)
		rc.Del(ctx, "bits")
		if err := rc.Do(ctx, "bitfield", "bits", "overflow", "sat", "set", typ, "0", value.String(), "incrby", typ, "0", incr.String()).Err(); err != nil {
			t.Fatal(err)
		}
		got, err = rc.Do(ctx, "bitfield", "bits", "get", typ, "0").Slice()
		want = sat(new(big.Int).Add(value, incr))
		if err != nil || got[0].(int64) != want.Int64() {
			t.Fatalf("SAT %s %v+%v = %v, %v; want %v", typ, value, incr, got, err, want)
		}
	}
}

// TestBitfieldRESP3 checks that a FAIL overflow is RESP3's null inside
// the array, and the other replies' shapes.
func TestBitfieldRESP3(t *testing.T) {
	s, _ := testServer(t, nil)
	rc3 := resp3Client(t, s)
	runSteps(t, rc3, []step{
		{cmd("bitfield", "k", "overflow", "fail", "incrby", "u2", "0", "5", "get", "u2", "0"), []any{nil, int64(0)}},
		{cmd("bitfield_ro", "k", "get", "i8", "0"), []any{int64(0)}},
		{cmd("bitcount", "k"), int64(0)},
		{cmd("pfadd", "h", "a"), int64(1)},
		{cmd("pfdebug", "encoding", "h"), "sparse"},
	})
}
