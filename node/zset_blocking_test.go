package node

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// waitBlockedClients waits until n clients are blocked on keys.
func waitBlockedClients(t *testing.T, s *Server, n int) {
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
			t.Fatalf("%d blocked clients, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// blockingCall sends a blocking command on its own connection and
// returns a channel with its reply.
func blockingCall(s *Server, rc *redis.Client, args ...any) <-chan []any {
	ch := make(chan []any, 1)
	go func() {
		v, err := rc.Do(context.Background(), args...).Result()
		ch <- []any{v, err}
	}()
	return ch
}

func recv(t *testing.T, ch <-chan []any) (any, error) {
	t.Helper()
	select {
	case r := <-ch:
		err, _ := r[1].(error)
		return r[0], err
	case <-time.After(5 * time.Second):
		t.Fatal("no reply from the blocked client")
	}
	return nil, nil
}

// The replies below are redis-server 7.0.15's.
func TestZsetBlockingImmediate(t *testing.T) {
	_, rc := testServer(t, nil)
	ctx := context.Background()
	rc.ZAdd(ctx, "z", redis.Z{Score: 0, Member: "a"}, redis.Z{Score: 1, Member: "b"}, redis.Z{Score: 2, Member: "c"})
	rc.Set(ctx, "str", "x", 0)
	runSteps(t, rc, []step{
		{cmd("bzpopmin", "nokey", "z", "1"), []any{"z", "a", "0"}},
		{cmd("bzpopmax", "z", "1"), []any{"z", "c", "2"}},
		{cmd("bzmpop", "1", "2", "nokey", "z", "min", "count", "5"), []any{"z", []any{[]any{"b", "1"}}}},
		{cmd("exists", "z"), 0},
		{cmd("bzpopmin", "str", "1"), errReply("WRONGTYPE")},
		{cmd("bzmpop", "1", "1", "str", "max"), errReply("WRONGTYPE")},
		{cmd("bzpopmin", "z", "-1"), errReply("ERR timeout is negative")},
		{cmd("bzpopmin", "z", "x"), errReply("ERR timeout is not a float or out of range")},
		{cmd("bzmpop", "x", "1", "z", "min"), errReply("ERR timeout is not a float or out of range")},
		{cmd("bzmpop", "1", "0", "z", "min"), errReply("ERR numkeys should be greater than 0")},
		{cmd("bzmpop", "1", "1", "z", "min", "count", "0"), errReply("ERR count should be greater than 0")},
		{cmd("bzmpop", "1", "1", "z", "bad"), errReply("ERR syntax error")},
		{cmd("bzpopmin", "z", "0.01"), nil},
		{cmd("bzmpop", "0.01", "1", "z", "min"), nil},
	})
}

func TestZsetBlockingWakeups(t *testing.T) {
	s, rc := testServer(t, nil)
	ctx := context.Background()
	r := record(s)

	// Served in the order they blocked, each with its own shape.
	c1, c2 := newClient(t, s, 2), newClient(t, s, 2)
	ch1 := blockingCall(s, c1, "bzpopmin", "z1", "z2", "0")
	waitBlockedClients(t, s, 1)
	ch2 := blockingCall(s, c2, "bzmpop", "0", "2", "z1", "z2", "max", "count", "10")
	waitBlockedClients(t, s, 2)
	r.take()
	rc.ZAdd(ctx, "z2", redis.Z{Score: 1, Member: "a"}, redis.Z{Score: 2, Member: "b"}, redis.Z{Score: 3, Member: "c"})
	if v, err := recv(t, ch1); err != nil || !reflect.DeepEqual(v, []any{"z2", "a", "1"}) {
		t.Fatalf("BZPOPMIN got %#v, %v", v, err)
	}
	if v, err := recv(t, ch2); err != nil || !reflect.DeepEqual(v, []any{"z2", []any{[]any{"c", "3"}, []any{"b", "2"}}}) {
		t.Fatalf("BZMPOP got %#v, %v", v, err)
	}
	prop, _ := r.take()
	if !matchWords(prop, []string{"zadd z2 1 a 2 b 3 c", "ZPOPMIN z2", "ZPOPMAX z2 2"}) {
		t.Errorf("propagated %q", prop)
	}

	// A key that turns into another type does not serve; the client
	// stays blocked until the key holds a sorted set again.
	ch3 := blockingCall(s, c1, "bzpopmin", "k", "0")
	waitBlockedClients(t, s, 1)
	rc.Set(ctx, "k", "str", 0)
	rc.Del(ctx, "k")
	rc.ZAdd(ctx, "k", redis.Z{Score: 5, Member: "x"})
	if v, err := recv(t, ch3); err != nil || !reflect.DeepEqual(v, []any{"k", "x", "5"}) {
		t.Fatalf("BZPOPMIN after a type change got %#v, %v", v, err)
	}

	// A timeout answers null.
	start := time.Now()
	if v, err := recv(t, blockingCall(s, c1, "bzpopmax", "none", "0.05")); err != redis.Nil {
		t.Fatalf("timed-out BZPOPMAX got %#v, %v", v, err)
	}
	if time.Since(start) < 40*time.Millisecond {
		t.Fatal("BZPOPMAX returned before its timeout")
	}
}

func TestZsetBlockingRESP3(t *testing.T) {
	s, _ := testServer(t, nil)
	rc3 := resp3Client(t, s)
	ctx := context.Background()
	if err := rc3.Do(ctx, "bzpopmin", "none", "0.01").Err(); err != redis.Nil {
		t.Fatalf("RESP3 timeout: %v, want null", err)
	}
	rc3.ZAdd(ctx, "z", redis.Z{Score: 1.5, Member: "a"})
	v, err := rc3.Do(ctx, "bzpopmin", "z", "1").Result()
	if err != nil || !reflect.DeepEqual(v, []any{"z", "a", 1.5}) {
		t.Fatalf("RESP3 BZPOPMIN = %#v, %v", v, err)
	}
}
