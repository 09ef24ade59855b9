package node

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// The replies below are redis-server 7.0.15's for the same commands.
func TestStreamReplies(t *testing.T) {
	_, rc := testServer(t, nil)
	ctx := context.Background()
	e := func(s string) error { return errString(s) }
	entry := func(id string, fv ...any) []any { return []any{id, fv} }
	cases := []struct {
		args []any
		want any
		err  error
	}{
		{[]any{"xadd", "s", "1-1", "a", "1"}, "1-1", nil},
		{[]any{"xadd", "s", "1-*", "a", "2", "b", "x"}, "1-2", nil},
		{[]any{"xadd", "s", "5", "a", "3"}, "5-0", nil},
		{[]any{"xadd", "s", "5", "a", "3"}, nil, e("ERR The ID specified in XADD is equal or smaller than the target stream top item")},
		{[]any{"xadd", "s", "0-0", "a", "3"}, nil, e("ERR The ID specified in XADD must be greater than 0-0")},
		{[]any{"xadd", "s", "abc", "a", "3"}, nil, e("ERR Invalid stream ID specified as stream command argument")},
		{[]any{"xadd", "s", "+", "a", "3"}, nil, e("ERR Invalid stream ID specified as stream command argument")},
		{[]any{"xadd", "s", "6", "a"}, nil, e("ERR wrong number of arguments for 'xadd' command")},
		{[]any{"xadd", "s", "maxlen", "-1", "*", "a", "1"}, nil, e("ERR The MAXLEN argument must be >= 0.")},
		{[]any{"xadd", "s", "maxlen", "1", "minid", "1", "*", "a", "1"}, nil, e("ERR syntax error, MAXLEN and MINID options at the same time are not compatible")},
		{[]any{"xadd", "s", "limit", "1", "*", "a", "1"}, nil, e("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy")},
		{[]any{"xadd", "s", "maxlen", "1", "limit", "1", "*", "a", "1"}, nil, e("ERR syntax error, LIMIT cannot be used without the special ~ option")},
		{[]any{"xadd", "nokey", "nomkstream", "*", "a", "1"}, nil, redis.Nil},
		{[]any{"xlen", "s"}, int64(3), nil},
		{[]any{"xlen", "nokey"}, int64(0), nil},
		{[]any{"xrange", "s", "-", "+"}, []any{entry("1-1", "a", "1"), entry("1-2", "a", "2", "b", "x"), entry("5-0", "a", "3")}, nil},
		{[]any{"xrange", "s", "(1-1", "+", "count", "1"}, []any{entry("1-2", "a", "2", "b", "x")}, nil},
		{[]any{"xrevrange", "s", "+", "-", "count", "1"}, []any{entry("5-0", "a", "3")}, nil},
		{[]any{"xrevrange", "s", "(5-0", "1"}, []any{entry("1-2", "a", "2", "b", "x"), entry("1-1", "a", "1")}, nil},
		{[]any{"xrange", "s", "-", "+", "count", "0"}, nil, redis.Nil},
		{[]any{"xrange", "s", "(-", "+"}, nil, e("ERR Invalid stream ID specified as stream command argument")},
		{[]any{"xrange", "s", "(18446744073709551615-18446744073709551615", "+"}, nil, e("ERR invalid start ID for the interval")},
		{[]any{"xrange", "s", "-", "(0-0"}, nil, e("ERR invalid end ID for the interval")},
		{[]any{"xrange", "s", "-", "+", "limit", "1"}, nil, e("ERR syntax error")},
		{[]any{"xrange", "nokey", "-", "+"}, []any{}, nil},
		{[]any{"xdel", "s", "1-2", "9-9"}, int64(1), nil},
		{[]any{"xdel", "s", "zz"}, nil, e("ERR Invalid stream ID specified as stream command argument")},
		{[]any{"xdel", "nokey", "1"}, int64(0), nil},
		{[]any{"xtrim", "s", "limit", "0"}, nil, e("ERR syntax error, XTRIM must be called with a trimming strategy")},
		{[]any{"xtrim", "s", "maxlen", "1"}, int64(1), nil},
		{[]any{"xtrim", "s", "minid", "9"}, int64(1), nil},
		{[]any{"xlen", "s"}, int64(0), nil},
		{[]any{"xsetid", "s", "4"}, nil, nil},
		{[]any{"xsetid", "nokey", "4"}, nil, e("ERR no such key")},
		{[]any{"xsetid", "s", "4", "maxdeletedid", "5"}, nil, e("ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id")},
		{[]any{"xsetid", "s", "4", "entriesadded", "-1"}, nil, e("ERR entries_added must be positive")},
		{[]any{"xread", "streams", "s", "t", "0"}, nil, e("ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.")},
		{[]any{"xread", "count", "1", "s"}, nil, e("ERR syntax error")},
		{[]any{"xread", "streams", "s", ">"}, nil, e("ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.")},
		{[]any{"xread", "group", "g", "c", "streams", "s", "0"}, nil, e("ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.")},
		{[]any{"xread", "block", "-1", "streams", "s", "0"}, nil, e("ERR timeout is negative")},
		{[]any{"set", "str", "v"}, "OK", nil},
		{[]any{"xadd", "str", "*", "a", "1"}, nil, e(errWrongType)},
		{[]any{"xrange", "str", "-", "+"}, nil, e(errWrongType)},
		{[]any{"xread", "streams", "str", "0"}, nil, e(errWrongType)},
		{[]any{"type", "s"}, "stream", nil},
		{[]any{"object", "encoding", "s"}, "stream", nil},
		{[]any{"xinfo", "stream", "s", "full", "x"}, nil, e("ERR unknown subcommand or wrong number of arguments for 'stream'. Try XINFO HELP.")},
	}
	for _, c := range cases {
		got, err := rc.Do(ctx, c.args...).Result()
		if fmt.Sprint(err) != fmt.Sprint(c.err) {
			t.Errorf("%v: error %v, want %v", c.args, err, c.err)
			continue
		}
		if c.want != nil && !reflect.DeepEqual(normalize(got), normalize(c.want)) {
			t.Errorf("%v: %#v, want %#v", c.args, got, c.want)
		}
	}
	// XINFO STREAM after the trims: the metadata survives an empty stream.
	info, err := rc.Do(ctx, "xinfo", "stream", "s").Result()
	if err != nil {
		t.Fatal(err)
	}
	want := []any{"length", int64(0), "radix-tree-keys", int64(0), "radix-tree-nodes", int64(1),
		"last-generated-id", "4-0", "max-deleted-entry-id", "1-2", "entries-added", int64(3),
		"recorded-first-entry-id", "0-0", "groups", int64(0), "first-entry", nil, "last-entry", nil}
	if !reflect.DeepEqual(normalize(info), normalize(want)) {
		t.Errorf("xinfo stream: %#v, want %#v", info, want)
	}
}

// TestStreamRESP3 checks the RESP3 shapes: XREAD is a map of key to
// entries, XINFO STREAM a map.
func TestStreamRESP3(t *testing.T) {
	s, _ := testServer(t, nil)
	rc := newClient(t, s, 3)
	ctx := context.Background()
	rc.Do(ctx, "xadd", "s", "1-1", "f", "v")
	got, err := rc.Do(ctx, "xread", "streams", "s", "0").Result()
	if err != nil {
		t.Fatal(err)
	}
	want := map[any]any{"s": []any{[]any{"1-1", []any{"f", "v"}}}}
	if !reflect.DeepEqual(normalize(got), normalize(want)) {
		t.Fatalf("xread resp3: %#v", got)
	}
	info, err := rc.Do(ctx, "xinfo", "stream", "s").Result()
	if err != nil {
		t.Fatal(err)
	}
	m, ok := info.(map[any]any)
	if !ok || m["length"] != int64(1) || m["last-generated-id"] != "1-1" {
		t.Fatalf("xinfo stream resp3: %#v", info)
	}
	if got, err := rc.Do(ctx, "xread", "streams", "s", "$").Result(); err != redis.Nil {
		t.Fatalf("xread $ with nothing new: %#v %v", got, err)
	}
}

func TestStreamBlockingXread(t *testing.T) {
	s, rc := testServer(t, nil)
	ctx := context.Background()
	rc.Do(ctx, "xadd", "s", "1-1", "f", "v")
	reader := newClient(t, s, 2)
	res := make(chan any, 1)
	go func() {
		v, err := reader.Do(ctx, "xread", "block", "0", "streams", "s", "other", "$", "$").Result()
		if err != nil {
			res <- err
			return
		}
		res <- v
	}()
	waitFor(t, func() bool { return s.lockedBlockedClients() == 1 })
	rc.Do(ctx, "xadd", "other", "2-1", "g", "w")
	select {
	case v := <-res:
		want := []any{[]any{"other", []any{[]any{"2-1", []any{"g", "w"}}}}}
		if !reflect.DeepEqual(v, want) {
			t.Fatalf("blocked xread got %#v", v)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("blocked XREAD was not served")
	}
	// A timeout answers a null array; MULTI never blocks.
	start := time.Now()
	if _, err := reader.Do(ctx, "xread", "block", "50", "streams", "s", "$").Result(); err != redis.Nil {
		t.Fatalf("timed out xread: %v", err)
	}
	if time.Since(start) < 40*time.Millisecond {
		t.Fatal("xread block 50 returned early")
	}
	pipe := rc.TxPipeline()
	cmd := pipe.Do(ctx, "xread", "block", "0", "streams", "s", "$")
	pipe.Exec(ctx)
	if cmd.Err() != redis.Nil {
		t.Fatalf("xread block in multi: %v", cmd.Err())
	}
}

// lockedBlockedClients is BlockedClients under the shard lock.
func (s *Server) lockedBlockedClients() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.BlockedClients()
}

func TestStreamPropagation(t *testing.T) {
	s, rc := testServer(t, func(c *Config) { c.StreamNodeMaxEntries = 10 })
	ctx := context.Background()
	var mu sync.Mutex
	var got []string
	s.mu.Lock()
	s.hooks.propagate = func(dbid int, argv [][]byte) {
		mu.Lock()
		defer mu.Unlock()
		parts := make([]string, len(argv))
		for i, a := range argv {
			parts[i] = string(a)
		}
		got = append(got, strings.Join(parts, " "))
	}
	s.mu.Unlock()
	take := func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := got
		got = nil
		return out
	}
	rc.Do(ctx, "xadd", "s", "100-*", "f", "v")
	if g := take(); !reflect.DeepEqual(g, []string{"xadd s 100-0 f v"}) {
		t.Fatalf("xadd 100-* propagated %q", g)
	}
	for i := 0; i < 30; i++ {
		rc.Do(ctx, "xadd", "s", fmt.Sprintf("%d-1", 200+i), "f", "v")
	}
	take()
	// 32 entries in nodes of 10: ~ 15 removes whole nodes only.
	rc.Do(ctx, "xadd", "s", "maxlen", "~", "15", "300-1", "f", "v")
	if g := take(); !reflect.DeepEqual(g, []string{"xadd s maxlen = 22 300-1 f v"}) {
		t.Fatalf("xadd maxlen ~ propagated %q", g)
	}
	rc.Do(ctx, "xtrim", "s", "minid", "~", "225")
	if g := take(); !reflect.DeepEqual(g, []string{"xtrim s minid = 219-1"}) {
		t.Fatalf("xtrim minid ~ propagated %q", g)
	}
	rc.Do(ctx, "xtrim", "s", "maxlen", "~", "100")
	rc.Do(ctx, "xdel", "s", "1-1")
	if g := take(); len(g) != 0 {
		t.Fatalf("no-op trims and deletes propagated %q", g)
	}
	rc.Do(ctx, "xdel", "s", "220-1")
	rc.Do(ctx, "xsetid", "s", "400-0")
	if g := take(); !reflect.DeepEqual(g, []string{"xdel s 220-1", "xsetid s 400-0"}) {
		t.Fatalf("xdel/xsetid propagated %q", g)
	}
	id, _ := rc.Do(ctx, "xadd", "s", "*", "f", "v").Text()
	if g := take(); !reflect.DeepEqual(g, []string{"xadd s " + id + " f v"}) {
		t.Fatalf("xadd * propagated %q", g)
	}
}

func TestStreamKeyspaceEvents(t *testing.T) {
	s, rc := testServer(t, nil)
	ctx := context.Background()
	rc.ConfigSet(ctx, "notify-keyspace-events", "Et")
	sub := newClient(t, s, 2).PSubscribe(ctx, "__keyevent@0__:*")
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	rc.Do(ctx, "xadd", "s", "1", "f", "v")
	rc.Do(ctx, "xadd", "s", "maxlen", "0", "2", "f", "v")
	rc.Do(ctx, "xadd", "s", "3", "f", "v")
	rc.Do(ctx, "xdel", "s", "3")
	rc.Do(ctx, "xsetid", "s", "9")
	var events []string
	for _, want := range []string{"xadd", "xadd", "xtrim", "xadd", "xdel", "xsetid"} {
		m, err := sub.ReceiveMessage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, strings.TrimPrefix(m.Channel, "__keyevent@0__:"))
		if events[len(events)-1] != want || m.Payload != "s" {
			t.Fatalf("events %v (payload %q)", events, m.Payload)
		}
	}
}

func TestStreamCopyAndDigest(t *testing.T) {
	_, rc := testServer(t, debugOn)
	ctx := context.Background()
	for i := 1; i <= 250; i++ {
		rc.Do(ctx, "xadd", "s", strconv.Itoa(i), "f", strconv.Itoa(i), "g", "x")
	}
	rc.Do(ctx, "xdel", "s", "7", "120")
	if err := rc.Copy(ctx, "s", "t", 0, false).Err(); err != nil {
		t.Fatal(err)
	}
	rc.Do(ctx, "xadd", "s", "300", "f", "v")
	a, _ := rc.Do(ctx, "xrange", "t", "-", "+").Result()
	if n := len(a.([]any)); n != 248 {
		t.Fatalf("copy has %d entries", n)
	}
	rc.Do(ctx, "xdel", "s", "300")
	d1, _ := rc.Do(ctx, "debug", "digest-value", "s").Result()
	d2, _ := rc.Do(ctx, "debug", "digest-value", "t").Result()
	if !reflect.DeepEqual(d1, d2) {
		t.Fatalf("digests differ %v %v", d1, d2)
	}
	if n, err := rc.MemoryUsage(ctx, "s").Result(); err != nil || n < 250*4 {
		t.Fatalf("memory usage %d %v", n, err)
	}
}

// TestStreamDifferential runs random stream commands with explicit IDs
// on the node and on redis-server with small nodes, comparing replies.
func TestStreamDifferential(t *testing.T) {
	d := newTwinClients(t)
	ctx := context.Background()
	for _, c := range []*redis.Client{d.node, d.real} {
		c.ConfigSet(ctx, "stream-node-max-entries", "7")
		c.ConfigSet(ctx, "stream-node-max-bytes", "300")
	}
	r := rand.New(rand.NewPCG(11, 12))
	keys := []string{"s1", "s2"}
	next := map[string]uint64{}
	id := func(k string) string {
		switch r.IntN(6) {
		case 0:
			return strconv.FormatUint(next[k]+uint64(r.IntN(3)), 10) + "-*"
		case 1:
			return strconv.FormatUint(next[k]-uint64(r.IntN(2)), 10)
		}
		next[k] += uint64(1 + r.IntN(3))
		return strconv.FormatUint(next[k], 10) + "-" + strconv.Itoa(r.IntN(3))
	}
	anyID := func(k string) string {
		switch r.IntN(8) {
		case 0:
			return "-"
		case 1:
			return "+"
		case 2:
			return "(" + strconv.FormatUint(uint64(r.IntN(int(next[k]+2))), 10)
		}
		return strconv.FormatUint(uint64(r.IntN(int(next[k]+2))), 10) + "-" + strconv.Itoa(r.IntN(3))
	}
	fields := func() []any {
		var out []any
		n := 1 + r.IntN(3)
		base := []string{"a", "b", "1", "c", "22"}
		same := r.IntN(2) == 0
		for i := 0; i < n; i++ {
			f := base[i]
			if !same {
				f = base[r.IntN(len(base))]
			}
			v := strings.Repeat("v", r.IntN(40))
			if r.IntN(3) == 0 {
				v = strconv.Itoa(r.IntN(100000) - 50)
			}
			out = append(out, f, v)
		}
		return out
	}
	for i := 0; i < 3000; i++ {
		k := keys[r.IntN(len(keys))]
		var args []any
		switch op := r.IntN(12); op {
		case 0, 1, 2, 3:
			args = []any{"xadd", k}
			switch r.IntN(6) {
			case 0:
				args = append(args, "maxlen", []string{"=", "~"}[r.IntN(2)], r.IntN(30))
			case 1:
				args = append(args, "minid", "~", anyID(k), "limit", r.IntN(20))
			case 2:
				args = append(args, "minid", anyID(k))
			}
			args = append(append(args, id(k)), fields()...)
		case 4:
			args = []any{"xrange", k, anyID(k), anyID(k)}
			if r.IntN(2) == 0 {
				args = append(args, "count", r.IntN(5)-1)
			}
		case 5:
			args = []any{"xrevrange", k, anyID(k), anyID(k), "count", r.IntN(6)}
		case 6:
			args = []any{"xdel", k, anyID(k), anyID(k)}
		case 7:
			if r.IntN(2) == 0 {
				args = []any{"xtrim", k, "maxlen", r.IntN(40)}
			} else {
				args = []any{"xtrim", k, "minid", "~", anyID(k)}
			}
		case 8:
			args = []any{"xread", "count", r.IntN(4), "streams", "s1", "s2", anyID("s1"), anyID("s2")}
		case 9:
			args = []any{"xlen", k}
		case 10:
			args = []any{"xsetid", k, anyID(k)}
		case 11:
			// XINFO STREAM, radix-tree-nodes included.
			for _, c := range []*redis.Client{d.node, d.real} {
				c.Do(ctx, "select", 0)
			}
			a, aerr := d.node.Do(ctx, "xinfo", "stream", k).Result()
			b, berr := d.real.Do(ctx, "xinfo", "stream", k).Result()
			if fmt.Sprint(aerr) != fmt.Sprint(berr) {
				t.Fatalf("xinfo stream %s: %v vs %v", k, aerr, berr)
			}
			if aerr == nil {
				la, lb := a.([]any), b.([]any)
				if !reflect.DeepEqual(normalize(la), normalize(lb)) {
					t.Fatalf("xinfo stream %s:\nnode  %v\nredis %v", k, la, lb)
				}
			}
			continue
		}
		d.do(args...)
	}
	total := 0
	for _, k := range keys {
		total += len(d.do("xrange", k, "-", "+").([]any))
	}
	if total == 0 {
		t.Fatal("the random run left no entries to compare")
	}
}

// errString compares equal (through fmt) to a server error reply.
type errString string

func (e errString) Error() string { return string(e) }

// BenchmarkXADD measures XADD with a generated ID over loopback, as
// BenchmarkPipelined does for SET (compare the two: XADD's own cost is
// the difference).
func BenchmarkXADD(b *testing.B) {
	for _, pipeline := range []int{1, 16} {
		b.Run(fmt.Sprintf("P%d", pipeline), func(b *testing.B) {
			benchPipelined(b, func(i int) string {
				return "*7\r\n$4\r\nXADD\r\n$6\r\nstream\r\n$1\r\n*\r\n$5\r\nfield\r\n$5\r\nvalue\r\n$4\r\nname\r\n$5\r\n12345\r\n"
			}, pipeline)
		})
	}
}

// TestStreamFollowers has producers append on several connections while
// readers follow the stream with blocking XREADs from the last ID they
// saw: every reader must see every entry once, in ID order.
func TestStreamFollowers(t *testing.T) {
	s, rc := testServer(t, func(c *Config) { c.StreamNodeMaxEntries = 13 })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const producers, each, readers = 3, 400, 4
	total := producers * each
	var wg sync.WaitGroup
	got := make([][]string, readers)
	errs := make(chan error, producers+readers)
	for r := 0; r < readers; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			c := newClient(t, s, 2+r%2)
			last := "0-0"
			for len(got[r]) < total {
				res, err := c.XRead(ctx, &redis.XReadArgs{Streams: []string{"s", last}, Count: int64(1 + r*5), Block: 5 * time.Second}).Result()
				if err != nil {
					errs <- fmt.Errorf("reader %d after %s: %w", r, last, err)
					return
				}
				for _, m := range res[0].Messages {
					got[r] = append(got[r], m.ID)
					last = m.ID
				}
			}
		}(r)
	}
	for p := 0; p < producers; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			c := newClient(t, s, 2)
			for i := 0; i < each; i++ {
				if err := c.XAdd(ctx, &redis.XAddArgs{Stream: "s", Values: []any{"p", p, "i", i}}).Err(); err != nil {
					errs <- err
					return
				}
			}
		}(p)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	want, err := rc.XRange(ctx, "s", "-", "+").Result()
	if err != nil || len(want) != total {
		t.Fatalf("stream holds %d entries (%v), want %d", len(want), err, total)
	}
	for r := range got {
		if len(got[r]) != total {
			t.Fatalf("reader %d saw %d entries", r, len(got[r]))
		}
		for i, m := range want {
			if got[r][i] != m.ID {
				t.Fatalf("reader %d: entry %d is %s, want %s", r, i, got[r][i], m.ID)
			}
		}
	}
}
