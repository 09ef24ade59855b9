package node

import (
	"context"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// The replies below are redis-server 7.0.15's for the same commands.
func TestHLLCommands(t *testing.T) {
	s, rc := testServer(t, nil)
	putObject(s, 0, "list", listObject())
	runSteps(t, rc, []step{
		{cmd("pfadd", "h"), int64(1)},
		{cmd("get", "h"), "HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x7f\xff"},
		{cmd("pfadd", "h"), int64(0)},
		{cmd("pfcount", "h"), int64(0)},
		{cmd("pfadd", "h", "a", "b", "c"), int64(1)},
		{cmd("pfadd", "h", "a", "b", "c"), int64(0)},
		{cmd("get", "h"), "HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80`\xf3\x80P\xb1\x84K\xfb\x80BZ"},
		{cmd("pfcount", "h"), int64(3)},
		{cmd("getrange", "h", "8", "15"), "\x03\x00\x00\x00\x00\x00\x00\x00"},
		{cmd("object", "encoding", "h"), "raw"},
		{cmd("pfdebug", "encoding", "h"), "sparse"},
		{cmd("pfdebug", "decode", "h"), "Z:8436 v:1,1 Z:4274 v:2,1 Z:3068 v:1,1 Z:603"},
		{cmd("pfdebug", "todense", "h"), int64(1)},
		{cmd("pfdebug", "todense", "h"), int64(0)},
		{cmd("pfdebug", "encoding", "h"), "dense"},
		{cmd("strlen", "h"), int64(12304)},
		{cmd("pfcount", "h"), int64(3)},
		{cmd("pfdebug", "decode", "h"), errReply("ERR HLL encoding is not sparse")},
		{cmd("pfdebug", "frob", "h"), errReply("ERR Unknown PFDEBUG subcommand 'frob'")},
		{cmd("pfdebug", "getreg", "nokey"), errReply("ERR The specified key does not exist")},
		{cmd("pfdebug", "getreg"), errReply("ERR wrong number of arguments for 'pfdebug' command")},
		{cmd("pfadd", "h2", "c", "d", "e"), int64(1)},
		{cmd("pfcount", "h", "h2"), int64(5)},
		{cmd("pfcount", "h", "h2", "nokey"), int64(5)},
		{cmd("pfmerge", "m", "h", "h2"), "OK"},
		{cmd("pfdebug", "encoding", "m"), "dense"},
		{cmd("pfcount", "m"), int64(5)},
		{cmd("pfmerge", "m2", "h2", "nokey"), "OK"},
		{cmd("pfdebug", "encoding", "m2"), "sparse"},
		{cmd("pfdebug", "decode", "m2"), "Z:7292 v:1,1 Z:1143 v:1,1 Z:6720 v:1,1 Z:1226"},
		{cmd("pfmerge", "empty"), "OK"},
		{cmd("pfcount", "empty"), int64(0)},
		{cmd("pfcount", "nokey"), int64(0)},

		{cmd("set", "str", "hello"), "OK"},
		{cmd("set", "int", "12345678901234567"), "OK"},
		{cmd("pfadd", "str", "a"), errReply("WRONGTYPE Key is not a valid HyperLogLog string value.")},
		{cmd("pfcount", "int"), errReply("WRONGTYPE Key is not a valid HyperLogLog string value.")},
		{cmd("pfcount", "h", "str"), errReply("WRONGTYPE Key is not a valid HyperLogLog string value.")},
		{cmd("pfmerge", "str", "h"), errReply("WRONGTYPE Key is not a valid HyperLogLog string value.")},
		{cmd("pfmerge", "h", "str"), errReply("WRONGTYPE Key is not a valid HyperLogLog string value.")},
		{cmd("pfdebug", "encoding", "str"), errReply("WRONGTYPE Key is not a valid HyperLogLog string value.")},
		{cmd("pfadd", "list", "a"), errReply("WRONGTYPE Operation against a key holding the wrong kind of value")},
		{cmd("pfcount", "list"), errReply("WRONGTYPE Operation against a key holding the wrong kind of value")},
		{cmd("pfmerge", "x", "list"), errReply("WRONGTYPE Operation against a key holding the wrong kind of value")},
		{cmd("exists", "x"), int64(0)},

		// Corruptions: a broken header is not an HLL; broken registers are.
		{cmd("pfadd", "c", "a", "b", "c"), int64(1)},
		{cmd("append", "c", "hello"), int64(32)},
		{cmd("pfcount", "c"), errReply("INVALIDOBJ Corrupted HLL object detected")},
		{cmd("pfcount", "c", "h"), errReply("INVALIDOBJ Corrupted HLL object detected")},
		{cmd("pfmerge", "x", "c"), errReply("INVALIDOBJ Corrupted HLL object detected")},
		{cmd("pfdebug", "getreg", "c"), errReply("INVALIDOBJ Corrupted HLL object detected")},
		{cmd("pfdebug", "decode", "c"), "Z:8436 v:1,1 Z:4274 v:2,1 Z:3068 v:1,1 Z:603 Z:10342 Z:11373 Z:12033"},
		{cmd("setrange", "c", "4", "\x00"), int64(32)},
		{cmd("pfcount", "c"), errReply("WRONGTYPE Key is not a valid HyperLogLog string value.")},
		{cmd("setrange", "c", "4", "x"), int64(32)},
		{cmd("pfcount", "c"), errReply("WRONGTYPE Key is not a valid HyperLogLog string value.")},
		{cmd("setrange", "c", "0", "0123"), int64(32)},
		{cmd("pfadd", "c", "z"), errReply("WRONGTYPE Key is not a valid HyperLogLog string value.")},
	})
}

func TestHLLCache(t *testing.T) {
	_, rc := testServer(t, nil)
	runSteps(t, rc, []step{
		{cmd("pfadd", "h", "a", "b", "c"), int64(1)},
		{cmd("getrange", "h", "15", "15"), "\x80"},
		{cmd("pfcount", "h"), int64(3)},
		{cmd("getrange", "h", "15", "15"), "\x00"},
		{cmd("pfadd", "h", "a", "b", "c"), int64(0)},
		{cmd("getrange", "h", "15", "15"), "\x00"},
		{cmd("pfadd", "h", "1", "2", "3"), int64(1)},
		{cmd("getrange", "h", "15", "15"), "\x80"},
		// A cached value is believed as it is, as in Redis.
		{cmd("pfcount", "h"), int64(6)},
		{cmd("setrange", "h", "8", "\x2a"), int64(36)},
		{cmd("pfcount", "h"), int64(42)},
		{cmd("pfdebug", "todense", "h"), int64(1)},
		{cmd("pfcount", "h"), int64(42)},
		{cmd("pfadd", "h", "new"), int64(1)},
		{cmd("pfcount", "h"), int64(7)},
	})
}

func TestHLLPropagation(t *testing.T) {
	s, rc := testServer(t, nil)
	r := record(s)
	ctx := context.Background()
	tests := []struct {
		args   []any
		prop   []string
		events []string
	}{
		{cmd("pfadd", "h", "a"), []string{"pfadd h a"}, []string{"new:h", "pfadd:h"}},
		{cmd("pfadd", "h", "a"), nil, nil},
		{cmd("pfcount", "h"), []string{"pfcount h"}, nil},
		{cmd("pfcount", "h"), nil, nil},
		{cmd("pfcount", "h", "nokey"), nil, []string{"keymiss:nokey"}},
		{cmd("pfmerge", "m", "h"), []string{"pfmerge m h"}, []string{"keymiss:m", "new:m", "pfadd:m"}},
		{cmd("pfdebug", "todense", "m"), []string{"pfdebug todense m"}, nil},
		{cmd("pfdebug", "todense", "m"), nil, nil},
		{cmd("pfdebug", "getreg", "h"), []string{"pfdebug getreg h"}, nil},
		{cmd("pfdebug", "encoding", "h"), nil, nil},
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

func TestHLLGetreg(t *testing.T) {
	_, rc := testServer(t, nil)
	ctx := context.Background()
	rc.Do(ctx, "pfadd", "h", "a", "b", "c")
	regs, err := rc.Do(ctx, "pfdebug", "getreg", "h").Slice()
	if err != nil || len(regs) != 16384 {
		t.Fatalf("getreg: %d registers, %v", len(regs), err)
	}
	// Z:8436 v:1,1 Z:4274 v:2,1 Z:3068 v:1,1 Z:603
	want := map[int]int64{8436: 1, 8436 + 1 + 4274: 2, 8436 + 1 + 4274 + 1 + 3068: 1}
	for i, v := range regs {
		if v.(int64) != want[i] {
			t.Fatalf("register %d = %v, want %d", i, v, want[i])
		}
	}
	if enc := rc.Do(ctx, "pfdebug", "encoding", "h").Val(); enc != "dense" {
		t.Fatalf("GETREG left the value %v", enc)
	}
}

func TestPFSelftest(t *testing.T) {
	if testing.Short() {
		t.Skip("ten million adds")
	}
	_, rc := testServer(t, nil)
	if res, err := rc.Do(context.Background(), "pfselftest").Result(); err != nil || res != "OK" {
		t.Fatalf("pfselftest: %v, %v", res, err)
	}
}

// TestHLLDifferential adds the same random elements to HyperLogLogs on
// the node and on redis-server, with several hll-sparse-max-bytes, and
// compares every reply and the stored bytes: sparse updates, promotions,
// merges and the cached estimates must be byte-identical.
func TestHLLDifferential(t *testing.T) {
	d := newTwinClients(t)
	r := rand.New(rand.NewPCG(41, 42))
	keys := []string{"h1", "h2", "h3"}
	key := func() string { return keys[r.IntN(len(keys))] }
	elements := func(n int) []any {
		out := make([]any, n)
		for i := range out {
			switch r.IntN(3) {
			case 0:
				out[i] = strconv.Itoa(r.IntN(100000))
			case 1:
				out[i] = strings.Repeat("e", r.IntN(20)) + strconv.FormatUint(r.Uint64(), 36)
			default:
				out[i] = string([]byte{byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())})
			}
		}
		return out
	}
	for _, sparseMax := range []string{"3000", "200", "0", "12000"} {
		d.do("flushall")
		d.do("config", "set", "hll-sparse-max-bytes", sparseMax)
		for i := 0; i < 600; i++ {
			k := key()
			switch r.IntN(10) {
			case 0, 1, 2, 3:
				d.do(append(cmd("pfadd", k), elements(1+r.IntN(4))...)...)
			case 4:
				d.do(append(cmd("pfadd", k), elements(r.IntN(300))...)...)
			case 5:
				d.do("pfcount", k)
			case 6:
				d.do("pfcount", k, key(), key())
			case 7:
				d.do("pfmerge", k, key())
			case 8:
				if r.IntN(4) == 0 {
					d.do("pfdebug", "todense", k)
				} else {
					d.do("pfdebug", "encoding", k)
				}
			case 9:
				d.do("get", k)
			}
		}
		for _, k := range keys {
			d.do("get", k)
			d.do("pfcount", k)
			d.do("get", k)
		}
	}
}

// TestHLLCorruptedDifferential corrupts HyperLogLogs at random bytes, as
// unit/hyperloglog's fuzzer does, and has the node and redis-server read
// and update them: both must detect the same corruptions and leave the
// same bytes.
func TestHLLCorruptedDifferential(t *testing.T) {
	d := newTwinClients(t)
	r := rand.New(rand.NewPCG(51, 52))
	for i := 0; i < 300; i++ {
		d.do("del", "h")
		n := r.IntN(600)
		if r.IntN(4) == 0 {
			n = r.IntN(5000)
		}
		elems := make([]any, n)
		for j := range elems {
			elems[j] = strconv.FormatFloat(r.Float64(), 'g', -1, 64)
		}
		d.do(append(cmd("pfadd", "h"), elems...)...)
		for j := 0; j < 1+r.IntN(5); j++ {
			size := d.do("strlen", "h").(int64)
			pos := r.Int64N(size)
			if r.IntN(3) == 0 && pos < 16 {
				pos += 16
			}
			d.do("setrange", "h", pos, string([]byte{byte(r.Uint32())}))
		}
		switch r.IntN(5) {
		case 0:
			d.do("pfcount", "h")
		case 1:
			d.do("pfadd", "h", "x"+strconv.Itoa(r.IntN(1000)), "y"+strconv.Itoa(r.IntN(1000)))
		case 2:
			d.do("pfcount", "h", "nokey")
		case 3:
			d.do("pfmerge", "m", "h")
		case 4:
			d.do("pfdebug", "todense", "h")
		}
		d.do("get", "h")
	}
}
