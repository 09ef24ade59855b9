package proxy

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/keyfleet/keyfleet/internal/wire"
)

func bulk(s string) string { return fmt.Sprintf("$%d\r\n%s\r\n", len(s), s) }

func TestBlocking(t *testing.T) {
	tp, srvs := threeShards(t)
	r := tp.raw(t)
	r.expect("+OK\r\n", "AUTH", "db3", "pw3")
	pusher := tp.raw(t)
	pusher.expect("+OK\r\n", "AUTH", "db3", "pw3")

	// The command's timeout is honoured.
	start := time.Now()
	r.expect("*-1\r\n", "BLPOP", "q", "0.3")
	if d := time.Since(start); d < 280*time.Millisecond || d > 2*time.Second {
		t.Errorf("BLPOP 0.3 returned after %v", d)
	}

	// Woken by a push from another client; the other clients are not held
	// up meanwhile (the blocked command has a connection of its own).
	q := keyOn("q", 1, 3)
	r.send("BLPOP", q, "0")
	waitBlocked(t, srvs[1], 1)
	pusher.expect("+OK\r\n", "SET", q+"x", "1")
	pusher.expect(":1\r\n", "RPUSH", q, "job")
	r.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if got, want := r.recv(), "*2\r\n"+bulk(q)+bulk("job"); got != want {
		t.Errorf("BLPOP = %q, want %q", got, want)
	}

	// A command pipelined behind a blocked one runs after it.
	r.send("BRPOP", q, "0")
	r.send("LLEN", q)
	waitBlocked(t, srvs[1], 1)
	pusher.expect(":2\r\n", "RPUSH", q, "a", "b")
	if got, want := r.recv(), "*2\r\n"+bulk(q)+bulk("b"); got != want {
		t.Errorf("BRPOP = %q, want %q", got, want)
	}
	if got := r.recv(); got != ":1\r\n" {
		t.Errorf("LLEN after BRPOP = %q, want :1", got)
	}

	// Keys of two shards: CROSSSLOT, as in Redis Cluster.
	r.expect("-CROSSSLOT Keys in request don't hash to the same slot\r\n", "BLPOP", keyOn("q", 0, 3), keyOn("q", 2, 3), "1")

	// XREAD without BLOCK is an ordinary read; with BLOCK it blocks.
	s := keyOn("st", 2, 3)
	r.expectPrefix("$", "XADD", s, "1-1", "f", "v")
	r.expectPrefix("*1\r\n", "XREAD", "STREAMS", s, "0")
	start = time.Now()
	r.expect("*-1\r\n", "XREAD", "BLOCK", "200", "STREAMS", s, "$")
	if d := time.Since(start); d < 190*time.Millisecond {
		t.Errorf("XREAD BLOCK 200 returned after %v", d)
	}
}

// TestBlockedClientLeaves: a client that disconnects while blocked is
// unblocked on the shard, so it does not swallow the next element.
func TestBlockedClientLeaves(t *testing.T) {
	tp, srv := oneShard(t, wire.Limits{}, nil)
	r := tp.raw(t)
	r.expect("+OK\r\n", "AUTH", "db1", "pw1")
	r.send("BLPOP", "jobs", "0")
	waitBlocked(t, srv, 1)
	r.conn.Close()
	waitBlocked(t, srv, 0)
	other := tp.raw(t)
	other.expect("+OK\r\n", "AUTH", "db1", "pw1")
	other.expect(":1\r\n", "RPUSH", "jobs", "j1")
	other.expect(":1\r\n", "LLEN", "jobs")
}

// TestClientUnblock: CLIENT UNBLOCK with the proxy's client id reaches the
// shard the client is blocked on.
func TestClientUnblock(t *testing.T) {
	tp, srv := oneShard(t, wire.Limits{}, nil)
	r := tp.raw(t)
	r.expect("+OK\r\n", "AUTH", "db1", "pw1")
	id := r.do("CLIENT", "ID")
	r.send("BLPOP", "none", "0")
	waitBlocked(t, srv, 1)
	other := tp.raw(t)
	other.expect("+OK\r\n", "AUTH", "db1", "pw1")
	other.expect(":1\r\n", "CLIENT", "UNBLOCK", id[1:len(id)-2])
	if got := r.recv(); got != "*-1\r\n" {
		t.Errorf("unblocked BLPOP = %q", got)
	}
	other.expect(":0\r\n", "CLIENT", "UNBLOCK", id[1:len(id)-2])
}

// waitBlocked waits until the shard reports n blocked clients.
func waitBlocked(t *testing.T, s *redisServer, n int) {
	t.Helper()
	want := fmt.Sprintf("blocked_clients:%d\r\n", n)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		v := s.do(t, "INFO", "clients")
		if strings.Contains(string(v.Str), want) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("shard never had %d blocked clients", n)
}
