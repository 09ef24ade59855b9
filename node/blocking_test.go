package node

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// waitBlocked waits until n clients are blocked on keys (polling INFO's
// figure, as Redis's own tests do), failing after a deadline.
func waitBlocked(t *testing.T, s *Server, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		got := s.BlockedClients()
		s.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d clients blocked, want %d", got, n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// async runs a command on its own connection and delivers the reply.
type asyncReply struct {
	val any
	err error
}

func async(rc *redis.Client, args ...any) <-chan asyncReply {
	ch := make(chan asyncReply, 1)
	go func() {
		v, err := rc.Do(context.Background(), args...).Result()
		ch <- asyncReply{v, err}
	}()
	return ch
}

func await(t *testing.T, ch <-chan asyncReply) asyncReply {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("no reply from the blocked client")
	}
	return asyncReply{}
}

func TestBlockingFIFOAndServe(t *testing.T) {
	s, rc := testServer(t, nil)
	ctx := context.Background()
	var chans []<-chan asyncReply
	for i := 0; i < 3; i++ {
		chans = append(chans, async(newClient(t, s, 2), "blpop", "a", "b", "0"))
		waitBlocked(t, s, i+1)
	}
	if info := rc.Info(ctx, "clients").Val(); !strings.Contains(info, "blocked_clients:3") {
		t.Fatalf("INFO clients: %s", info)
	}
	rc.RPush(ctx, "b", "x", "y")
	for i, want := range []string{"x", "y"} {
		r := await(t, chans[i])
		if r.err != nil || !equalAny(r.val, []any{"b", want}) {
			t.Fatalf("client %d: %#v, %v", i, r.val, r.err)
		}
	}
	waitBlocked(t, s, 1)
	if n := rc.Exists(ctx, "b").Val(); n != 0 {
		t.Fatal("emptied list still exists")
	}
	rc.LPush(ctx, "a", "z")
	if r := await(t, chans[2]); !equalAny(r.val, []any{"a", "z"}) {
		t.Fatalf("third client: %#v, %v", r.val, r.err)
	}
	waitBlocked(t, s, 0)
}

// equalAny compares a reply with the expected value.
func equalAny(got, want any) bool { return reflect.DeepEqual(normalize(got), normalize(want)) }

func TestBlockingTimeouts(t *testing.T) {
	s, rc := testServer(t, nil)
	runSteps(t, rc, []step{
		{cmd("blpop", "k", "-1"), errReply("ERR timeout is negative")},
		{cmd("blpop", "k", "1e30"), errReply("ERR timeout is negative")},
		{cmd("blpop", "k", "inf"), errReply("ERR timeout is negative")},
		{cmd("blpop", "k", "abc"), errReply("ERR timeout is not a float or out of range")},
		{cmd("blpop", "k", " 1"), errReply("ERR timeout is not a float or out of range")},
		{cmd("brpoplpush", "k", "d", "-0.5"), errReply("ERR timeout is negative")},
		{cmd("blmove", "k", "d", "left", "up", "0"), errReply("ERR syntax error")},
		{cmd("blmpop", "0", "0", "k", "left"), errReply("ERR numkeys should be greater than 0")},
		{cmd("blmpop", "x", "1", "k", "left"), errReply("ERR timeout is not a float or out of range")},
	})
	start := time.Now()
	for _, args := range [][]any{cmd("blpop", "k", "0.05"), cmd("brpop", "k", "k2", "0.01"),
		cmd("blmpop", "0.01", "1", "k", "left"), cmd("brpoplpush", "k", "d", "0.01"), cmd("blmove", "k", "d", "left", "right", "0.01"),
		cmd("blpop", "k", "0x1p-10")} {
		if err := rc.Do(context.Background(), args...).Err(); err != redis.Nil {
			t.Fatalf("%v: %v, want a null reply on timeout", args, err)
		}
	}
	if d := time.Since(start); d < 50*time.Millisecond || d > 3*time.Second {
		t.Fatalf("timeouts took %v", d)
	}
	waitBlocked(t, s, 0)
}

func TestBlockingDisconnectAndUnblock(t *testing.T) {
	s, rc := testServer(t, nil)
	ctx := context.Background()
	gone := newClient(t, s, 2)
	async(gone, "blpop", "k", "0")
	waitBlocked(t, s, 1)
	gone.Close()
	waitBlocked(t, s, 0)
	rc.RPush(ctx, "k", "kept")
	if v := rc.LRange(ctx, "k", 0, -1).Val(); len(v) != 1 || v[0] != "kept" {
		t.Fatalf("a disconnected client consumed the element: %v", v)
	}
	rc.Del(ctx, "k")

	for _, mode := range []string{"timeout", "error"} {
		c := newClient(t, s, 2)
		id := c.ClientID(ctx).Val()
		ch := async(c, "brpop", "k", "0")
		waitBlocked(t, s, 1)
		if n := rc.ClientUnblock(ctx, 999999).Val(); n != 0 {
			t.Fatalf("CLIENT UNBLOCK of an unknown id: %d", n)
		}
		if n := rc.Do(ctx, "client", "unblock", id, mode).Val(); n != int64(1) {
			t.Fatalf("CLIENT UNBLOCK %s: %v", mode, n)
		}
		r := await(t, ch)
		switch mode {
		case "timeout":
			if r.err != redis.Nil {
				t.Fatalf("unblocked with TIMEOUT: %#v, %v", r.val, r.err)
			}
		case "error":
			if r.err == nil || r.err.Error() != "UNBLOCKED client unblocked via CLIENT UNBLOCK" {
				t.Fatalf("unblocked with ERROR: %v", r.err)
			}
		}
		waitBlocked(t, s, 0)
		if n := rc.Do(ctx, "client", "unblock", id).Val(); n != int64(0) {
			t.Fatalf("CLIENT UNBLOCK of a client no longer blocked: %v", n)
		}
		// The connection works on.
		if err := c.Ping(ctx).Err(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestBlockingPipeline: commands pipelined after a blocking one wait for
// it, and earlier replies are delivered while the client waits.
func TestBlockingPipeline(t *testing.T) {
	s, rc := testServer(t, nil)
	ctx := context.Background()
	c := newClient(t, s, 2)
	done := make(chan []redis.Cmder, 1)
	go func() {
		cmds, _ := c.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, "before", "1", 0)
			p.BLPop(ctx, 0, "q")
			p.Get(ctx, "after")
			return nil
		})
		done <- cmds
	}()
	waitBlocked(t, s, 1)
	if v := rc.Get(ctx, "before").Val(); v != "1" {
		t.Fatalf("the command before the blocked one did not run: %q", v)
	}
	rc.Set(ctx, "after", "2", 0)
	rc.RPush(ctx, "q", "v")
	select {
	case cmds := <-done:
		if got := cmds[1].(*redis.StringSliceCmd).Val(); len(got) != 2 || got[1] != "v" {
			t.Fatalf("BLPOP in a pipeline: %v", got)
		}
		if got := cmds[2].(*redis.StringCmd).Val(); got != "2" {
			t.Fatalf("the GET after BLPOP ran before it was served: %q", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("pipeline did not finish")
	}
}

func TestBlockingTypeChangesAndMoves(t *testing.T) {
	s, rc := testServer(t, nil)
	ctx := context.Background()
	ch := async(newClient(t, s, 2), "blpop", "k", "0")
	waitBlocked(t, s, 1)
	rc.Set(ctx, "k", "str", 0)
	rc.Del(ctx, "k")
	rc.SAdd(ctx, "k", "member")
	waitBlocked(t, s, 1) // a string or a set does not serve a list client
	rc.Del(ctx, "k")
	rc.RPush(ctx, "k", "v")
	if r := await(t, ch); !equalAny(r.val, []any{"k", "v"}) {
		t.Fatalf("after the type changes: %#v, %v", r.val, r.err)
	}

	// BLMOVE into a key of the wrong type: WRONGTYPE, nothing moved.
	rc.Set(ctx, "dst", "str", 0)
	ch = async(newClient(t, s, 2), "blmove", "src", "dst", "left", "right", "0")
	waitBlocked(t, s, 1)
	rc.RPush(ctx, "src", "e")
	if r := await(t, ch); r.err == nil || !strings.HasPrefix(r.err.Error(), "WRONGTYPE") {
		t.Fatalf("BLMOVE to a string: %#v, %v", r.val, r.err)
	}
	if v := rc.LRange(ctx, "src", 0, -1).Val(); len(v) != 1 {
		t.Fatalf("source after a refused move: %v", v)
	}
	rc.Del(ctx, "src", "dst")

	// Linked moves: serving the first makes the second's key ready.
	ch1 := async(newClient(t, s, 2), "blmove", "l1", "l2", "right", "left", "0")
	waitBlocked(t, s, 1)
	ch2 := async(newClient(t, s, 2), "blmove", "l2", "l3", "left", "right", "0")
	waitBlocked(t, s, 2)
	rc.RPush(ctx, "l1", "foo")
	await(t, ch1)
	await(t, ch2)
	if v := rc.LRange(ctx, "l3", 0, -1).Val(); len(v) != 1 || v[0] != "foo" {
		t.Fatalf("linked moves: l3 = %v", v)
	}
	if n := rc.Exists(ctx, "l1", "l2").Val(); n != 0 {
		t.Fatalf("linked moves left %d source keys", n)
	}

	// SWAPDB makes a waited-for key appear.
	ch = async(newClient(t, s, 2), "blpop", "sw", "0")
	waitBlocked(t, s, 1)
	rc.Do(ctx, "select", "1")
	c1 := newClient(t, s, 2)
	c1.Do(ctx, "select", "1")
	c1.RPush(ctx, "sw", "from1")
	rc.Do(ctx, "swapdb", "0", "1")
	if r := await(t, ch); !equalAny(r.val, []any{"sw", "from1"}) {
		t.Fatalf("after SWAPDB: %#v, %v", r.val, r.err)
	}
}

// TestBlockingDeniedInTransaction: inside MULTI (or a script) a blocking
// command answers as a timeout at once; wake-ups caused inside a
// transaction are served once it ends.
func TestBlockingDeniedInTransaction(t *testing.T) {
	s := New(DefaultConfig(), nil)
	c := &Client{srv: s, db: s.dbs[0], resp: 2, authenticated: true, flags: flagMulti}
	b := func(ss ...string) [][]byte {
		out := make([][]byte, len(ss))
		for i, x := range ss {
			out[i] = []byte(x)
		}
		return out
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, args := range [][][]byte{b("blpop", "k", "0"), b("blmpop", "0", "1", "k", "left")} {
		c.out = c.out[:0]
		s.call(c, lookupCommand(args[0]), args)
		if string(c.out) != "*-1\r\n" {
			t.Fatalf("%s in MULTI: %q", args[0], c.out)
		}
	}
	c.out = c.out[:0]
	s.call(c, lookupCommand([]byte("brpoplpush")), b("brpoplpush", "k", "d", "0"))
	if string(c.out) != "$-1\r\n" {
		t.Fatalf("BRPOPLPUSH in MULTI: %q", c.out)
	}

	// A blocked client and a transaction that pushes then deletes: the
	// client is not served, the key being gone when the transaction ends.
	w := &Client{srv: s, db: s.dbs[0], resp: 2, authenticated: true}
	s.call(w, lookupCommand([]byte("blpop")), b("blpop", "q", "0"))
	if w.flags&flagBlocked == 0 || s.BlockedClients() != 1 {
		t.Fatal("BLPOP on a missing key did not block")
	}
	tx := &Client{srv: s, db: s.dbs[0], resp: 2, authenticated: true}
	s.call(tx, lookupCommand([]byte("lpush")), b("lpush", "q", "a"))
	s.call(tx, lookupCommand([]byte("del")), b("del", "q"))
	s.serveReadyKeys()
	if w.flags&flagBlocked == 0 || len(w.out) != 0 {
		t.Fatalf("served from a key deleted in the same transaction: %q", w.out)
	}
	s.call(tx, lookupCommand([]byte("lpush")), b("lpush", "q", "a", "b", "c"))
	if len(w.out) != 0 {
		t.Fatal("served before the end of the transaction")
	}
	s.serveReadyKeys()
	if string(w.out) != "*2\r\n$1\r\nq\r\n$1\r\nc\r\n" || w.flags&flagBlocked != 0 {
		t.Fatalf("after the transaction: %q", w.out)
	}
}

func TestBlockingShutdownEndsWait(t *testing.T) {
	s, _ := testServer(t, nil)
	c := newClient(t, s, 2)
	ch := async(c, "blpop", "k", "0")
	waitBlocked(t, s, 1)
	s.Shutdown()
	select {
	case r := <-ch:
		if r.err == nil {
			t.Fatalf("blocked client got %#v at shutdown", r.val)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("shutdown left the client blocked")
	}
	select {
	case <-s.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("server did not stop")
	}
}

// TestBlockingPropagation replays Redis's "BLMPOP propagate as pop with
// count command to replica": served and unserved blocking pops
// propagate as [LR]POP with the count actually popped.
func TestBlockingPropagation(t *testing.T) {
	s, rc := testServer(t, nil)
	r := record(s)
	ctx := context.Background()
	rd := newClient(t, s, 2)
	rc.LPush(ctx, "mylist", "a", "b", "c")
	rc.RPush(ctx, "mylist2", "1", "2", "3")
	rc.Do(ctx, "blmpop", "0", "1", "mylist", "left", "count", "1")
	rc.Do(ctx, "blmpop", "0", "2", "mylist", "mylist2", "right", "count", "10")
	rc.Do(ctx, "blmpop", "0", "2", "mylist", "mylist2", "right", "count", "10")
	for _, step := range []struct {
		block []any
		push  func()
	}{
		{cmd("blmpop", "0", "1", "mylist", "left", "count", "1"), func() { rc.LPush(ctx, "mylist", "a") }},
		{cmd("blmpop", "0", "2", "mylist", "mylist2", "left", "count", "5"), func() { rc.LPush(ctx, "mylist", "a", "b", "c") }},
		{cmd("blmpop", "0", "2", "mylist", "mylist2", "right", "count", "10"), func() { rc.RPush(ctx, "mylist2", "a", "b", "c") }},
	} {
		ch := async(rd, step.block...)
		waitBlocked(t, s, 1)
		step.push()
		await(t, ch)
	}
	if err := rc.Do(ctx, "blmpop", "0.01", "1", "mylist", "left", "count", "10").Err(); err != redis.Nil {
		t.Fatalf("timed-out BLMPOP: %v", err)
	}
	rc.Set(ctx, "foo", "bar", 0)
	prop, _ := r.take()
	want := []string{
		"lpush mylist a b c", "rpush mylist2 1 2 3",
		"LPOP mylist 1", "RPOP mylist 2", "RPOP mylist2 3",
		"lpush mylist a", "LPOP mylist 1",
		"lpush mylist a b c", "LPOP mylist 3",
		"rpush mylist2 a b c", "RPOP mylist2 3",
		"set foo bar",
	}
	if !reflect.DeepEqual(prop, want) {
		t.Fatalf("propagated\n%q\nwant\n%q", prop, want)
	}
}
