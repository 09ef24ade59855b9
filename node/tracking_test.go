package node

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// trackingClient opens a RESP3 connection with tracking on (extra options
// appended to CLIENT TRACKING on).
func trackingClient(t *testing.T, s *Server, opts ...string) *rawConn {
	t.Helper()
	rc := dialNode(t, s)
	rc.do(t, "HELLO", "3")
	if got := fmtResp(rc.do(t, append([]string{"CLIENT", "TRACKING", "on"}, opts...)...)); got != `+"OK"` {
		t.Fatalf("CLIENT TRACKING on %q: %s", opts, got)
	}
	return rc
}

func clientID(t *testing.T, rc *rawConn) string {
	t.Helper()
	return rc.do(t, "CLIENT", "ID").str
}

func TestTrackingInvalidation(t *testing.T) {
	s, _ := testServer(t, nil)
	w := dialNode(t, s)
	tr := trackingClient(t, s)
	runTx(t, tr, []txStep{st(`_""`, "GET", "k"), st(`*[_"" _""]`, "MGET", "a", "b")})
	w.do(t, "SET", "k", "1")
	if got, want := tr.next(t), `>[$"invalidate" *[$"k"]]`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	// Invalidated once: the key is forgotten until read again.
	w.do(t, "SET", "k", "2")
	w.do(t, "MSET", "a", "1", "b", "2")
	for _, want := range []string{`>[$"invalidate" *[$"a"]]`, `>[$"invalidate" *[$"b"]]`} {
		if got := tr.next(t); got != want {
			t.Fatalf("got %s, want %s", got, want)
		}
	}
	// A write not preceded by a read of the key is not tracked.
	w.do(t, "SET", "untracked", "1")
	if !tr.quiet(50 * time.Millisecond) {
		t.Fatalf("unexpected push: %s", tr.next(t))
	}
}

// TestTrackingSelfInvalidationFollowsReply: the client's own write comes
// back as an invalidation after the command's reply, never inside it,
// also for a transaction and for a key expiring while a reply is written.
func TestTrackingSelfInvalidationFollowsReply(t *testing.T) {
	s, _ := testServer(t, func(c *Config) { c.EnableDebugCommand = "yes" })
	tr := trackingClient(t, s)
	runTx(t, tr, []txStep{
		st(`:"1"`, "HSET", "h", "f", "1"),
		st(`$"1"`, "HGET", "h", "f"),
		st(`:"1"`, "HDEL", "h", "f"),
	})
	if got, want := tr.next(t), `>[$"invalidate" *[$"h"]]`; got != want {
		t.Fatalf("after HDEL: %s, want %s", got, want)
	}
	runTx(t, tr, []txStep{
		st(`+"OK"`, "MSET", "a", "1", "b", "2"),
		st(`$"1"`, "GET", "a"),
		st(`+"OK"`, "MULTI"),
		st(`+"QUEUED"`, "INCR", "a"),
		st(`+"QUEUED"`, "GET", "b"),
		st(`*[:"2" $"2"]`, "EXEC"),
	})
	if got, want := tr.next(t), `>[$"invalidate" *[$"a"]]`; got != want {
		t.Fatalf("after EXEC: %s, want %s", got, want)
	}
	tr.do(t, "DEBUG", "SET-ACTIVE-EXPIRE", "0")
	runTx(t, tr, []txStep{
		st(`+"OK"`, "MSET", "x", "1", "y", "2"),
		st(`:"1"`, "PEXPIRE", "y", "20"),
		st(`$"2"`, "GET", "y"),
	})
	time.Sleep(40 * time.Millisecond) // y's TTL must pass
	runTx(t, tr, []txStep{st(`*[$"1" _""]`, "MGET", "x", "y")})
	if got, want := tr.next(t), `>[$"invalidate" *[$"y"]]`; got != want {
		t.Fatalf("after MGET: %s, want %s", got, want)
	}
	tr.do(t, "DEBUG", "SET-ACTIVE-EXPIRE", "1")
}

func TestTrackingRedirect(t *testing.T) {
	s, _ := testServer(t, nil)
	w := dialNode(t, s)
	redir := dialNode(t, s)
	id := clientID(t, redir)
	redir.do(t, "SUBSCRIBE", "__redis__:invalidate")
	tr := dialNode(t, s) // RESP2: only a redirection can carry invalidations
	runTx(t, tr, []txStep{
		st(`+"OK"`, "CLIENT", "TRACKING", "on", "REDIRECT", id),
		st(":\""+id+"\"", "CLIENT", "GETREDIR"),
		st(`$nil`, "GET", "k"),
	})
	w.do(t, "SET", "k", "1")
	if got, want := redir.next(t), `*[$"message" $"__redis__:invalidate" *[$"k"]]`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	// A flush invalidates everything with a null.
	tr.do(t, "GET", "k")
	w.do(t, "FLUSHALL")
	if got, want := redir.next(t), `*[$"message" $"__redis__:invalidate" $nil]`; got != want {
		t.Fatalf("after FLUSHALL: %s, want %s", got, want)
	}
	// The redirection target goes away: a RESP3 client hears of it.
	tr.do(t, "HELLO", "3")
	tr.do(t, "GET", "k")
	redir.c.Close()
	waitFor(t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		n, _ := parseRedisInt64([]byte(id))
		return s.clients[n] == nil
	})
	w.do(t, "SET", "k", "2")
	if got, want := tr.next(t), `>[$"tracking-redir-broken" :"`+id+`"]`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	info := fmtResp(tr.do(t, "CLIENT", "TRACKINGINFO"))
	if want := `%[$"flags" ~[$"on" $"broken_redirect"] $"redirect" :"` + id + `" $"prefixes" *[]]`; info != want {
		t.Fatalf("TRACKINGINFO %s, want %s", info, want)
	}
	// A redirection to a client that does not exist is refused.
	runTx(t, dialNode(t, s), []txStep{st(`-"ERR The client ID you want redirect to does not exist"`, "CLIENT", "TRACKING", "on", "REDIRECT", id)})
}

func TestTrackingRedirectToRESP3(t *testing.T) {
	s, _ := testServer(t, nil)
	redir := dialNode(t, s)
	redir.do(t, "HELLO", "3")
	id := clientID(t, redir)
	tr := dialNode(t, s)
	tr.do(t, "CLIENT", "TRACKING", "on", "REDIRECT", id)
	tr.do(t, "GET", "k")
	dialNode(t, s).do(t, "SET", "k", "1")
	if got, want := redir.next(t), `>[$"invalidate" *[$"k"]]`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestTrackingOptinOptout(t *testing.T) {
	s, _ := testServer(t, nil)
	w := dialNode(t, s)
	in := trackingClient(t, s, "OPTIN")
	in.do(t, "GET", "a") // not cached: no CACHING yes
	runTx(t, in, []txStep{st(`+"OK"`, "CLIENT", "CACHING", "yes"), st(`_""`, "GET", "b"), st(`_""`, "GET", "c")})
	out := trackingClient(t, s, "OPTOUT")
	runTx(t, out, []txStep{st(`+"OK"`, "CLIENT", "CACHING", "no"), st(`_""`, "GET", "d"), st(`_""`, "GET", "e")})
	w.do(t, "MSET", "a", "1", "b", "1", "c", "1", "d", "1", "e", "1")
	// CACHING lasts one command: c was read after it.
	if got, want := in.next(t), `>[$"invalidate" *[$"b"]]`; got != want {
		t.Fatalf("OPTIN: %s, want %s", got, want)
	}
	if got, want := out.next(t), `>[$"invalidate" *[$"e"]]`; got != want {
		t.Fatalf("OPTOUT: %s, want %s", got, want)
	}
	if !in.quiet(30*time.Millisecond) || !out.quiet(30*time.Millisecond) {
		t.Fatal("an invalidation for a key not cached")
	}
	// CACHING yes covers a whole transaction.
	runTx(t, in, []txStep{
		st(`+"OK"`, "CLIENT", "CACHING", "yes"),
		st(`+"OK"`, "MULTI"),
		st(`+"QUEUED"`, "GET", "x"),
		st(`+"QUEUED"`, "GET", "y"),
		st(`*[_"" _""]`, "EXEC"),
	})
	w.do(t, "MSET", "x", "1", "y", "1")
	for _, want := range []string{`>[$"invalidate" *[$"x"]]`, `>[$"invalidate" *[$"y"]]`} {
		if got := in.next(t); got != want {
			t.Fatalf("got %s, want %s", got, want)
		}
	}
}

func TestTrackingBcast(t *testing.T) {
	s, _ := testServer(t, func(c *Config) { c.EnableDebugCommand = "yes" })
	w := dialNode(t, s)
	b := trackingClient(t, s, "BCAST", "PREFIX", "a:", "PREFIX", "b:")
	w.do(t, "MULTI")
	for _, k := range []string{"a:1", "a:2", "b:1", "c:1"} {
		w.do(t, "INCR", k)
	}
	w.do(t, "EXEC")
	for _, want := range []string{`>[$"invalidate" *[$"a:1" $"a:2"]]`, `>[$"invalidate" *[$"b:1"]]`} {
		if got := b.next(t); got != want {
			t.Fatalf("got %s, want %s", got, want)
		}
	}
	// Prefixes add up; NOLOOP hides the client's own changes but not
	// expiries.
	runTx(t, b, []txStep{st(`+"OK"`, "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "c:", "NOLOOP")})
	b.do(t, "SET", "c:mine", "1")
	w.do(t, "SET", "c:theirs", "1")
	if got, want := b.next(t), `>[$"invalidate" *[$"c:theirs"]]`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	// The expiry (by the cron, or by a later access) is the server's
	// change, even when the client's own write is in the same broadcast.
	runTx(t, b, []txStep{
		st(`+"OK"`, "MULTI"),
		st(`+"QUEUED"`, "SET", "c:exp", "v", "PX", "1"),
		st(`+"QUEUED"`, "SET", "c:other", "v"),
		st(`*[+"OK" +"OK"]`, "EXEC"),
	})
	if got, want := b.next(t), `>[$"invalidate" *[$"c:exp"]]`; got != want {
		t.Fatalf("expiry: %s, want %s", got, want)
	}
	info := fmtResp(b.do(t, "CLIENT", "TRACKINGINFO"))
	if want := `%[$"flags" ~[$"on" $"bcast" $"noloop"] $"redirect" :"0" $"prefixes" *[$"a:" $"b:" $"c:"]]`; info != want {
		t.Fatalf("TRACKINGINFO %s, want %s", info, want)
	}
	s.mu.Lock()
	prefixes := s.TrackingTotalPrefixes()
	s.mu.Unlock()
	if prefixes != 3 {
		t.Fatalf("TrackingTotalPrefixes = %d", prefixes)
	}
	b.c.Close()
	waitFor(t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.TrackingTotalPrefixes() == 0
	})
}

func TestTrackingOptionErrors(t *testing.T) {
	s, _ := testServer(t, nil)
	rc := dialNode(t, s)
	const overlap = "Prefixes for a single client must not overlap."
	runTx(t, rc, []txStep{
		st(`*[$"flags" *[$"off"] $"redirect" :"-1" $"prefixes" *[]]`, "CLIENT", "TRACKINGINFO"),
		st(`:"-1"`, "CLIENT", "GETREDIR"),
		st(`-"ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled"`, "CLIENT", "CACHING", "yes"),
		st(`-"ERR PREFIX option requires BCAST mode to be enabled"`, "CLIENT", "TRACKING", "on", "PREFIX", "a"),
		st(`-"ERR OPTIN and OPTOUT are not compatible with BCAST"`, "CLIENT", "TRACKING", "on", "BCAST", "OPTIN"),
		st(`-"ERR You can't specify both OPTIN mode and OPTOUT mode"`, "CLIENT", "TRACKING", "on", "OPTIN", "OPTOUT"),
		st(`-"ERR syntax error"`, "CLIENT", "TRACKING", "on", "FOO"),
		st(`-"ERR syntax error"`, "CLIENT", "TRACKING", "maybe"),
		st(`-"ERR syntax error"`, "CLIENT", "TRACKING", "on", "REDIRECT"),
		st(`-"ERR value is not an integer or out of range"`, "CLIENT", "TRACKING", "on", "REDIRECT", "x"),
		st(`-"ERR Prefix 'FOOBAR' overlaps with another provided prefix 'FOO'. `+overlap+`"`, "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "FOOBAR", "PREFIX", "FOO"),
		st(`+"OK"`, "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "FOO", "PREFIX", "BAR"),
		st(`-"ERR Prefix 'FO' overlaps with an existing prefix 'FOO'. `+overlap+`"`, "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "FO"),
		st(`-"ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode."`, "CLIENT", "TRACKING", "on"),
		st(`+"OK"`, "CLIENT", "TRACKING", "off"),
		st(`+"OK"`, "CLIENT", "TRACKING", "on", "OPTIN"),
		st(`-"ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode."`, "CLIENT", "TRACKING", "on", "OPTOUT"),
		st(`-"ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode."`, "CLIENT", "CACHING", "no"),
		st(`-"ERR syntax error"`, "CLIENT", "CACHING", "maybe"),
		st(`+"OK"`, "CLIENT", "CACHING", "yes"),
		st(`*[$"flags" *[$"on" $"optin" $"caching-yes"] $"redirect" :"0" $"prefixes" *[]]`, "CLIENT", "TRACKINGINFO"),
		st(`:"0"`, "CLIENT", "GETREDIR"),
	})
}

// TestTrackingFlushAndTable: the table counts keys and IDs; a flush
// empties it and sends one null per client, even for FLUSHALL's many
// databases.
func TestTrackingFlushAndTable(t *testing.T) {
	s, _ := testServer(t, nil)
	w := dialNode(t, s)
	tr := trackingClient(t, s)
	tr2 := trackingClient(t, s)
	tr.do(t, "MGET", "k1", "k2")
	tr2.do(t, "GET", "k1")
	s.mu.Lock()
	keys, items := s.TrackingTotalKeys(), s.TrackingTotalItems()
	s.mu.Unlock()
	if keys != 2 || items != 3 {
		t.Fatalf("tracking table: %d keys, %d items; want 2 and 3", keys, items)
	}
	w.do(t, "FLUSHALL", "ASYNC")
	s.mu.Lock()
	keys = s.TrackingTotalKeys()
	s.mu.Unlock()
	if keys != 0 {
		t.Fatalf("%d keys tracked after FLUSHALL", keys)
	}
	for _, rc := range []*rawConn{tr, tr2} {
		if got, want := rc.next(t), `>[$"invalidate" _""]`; got != want {
			t.Fatalf("got %s, want %s", got, want)
		}
		if !rc.quiet(30 * time.Millisecond) {
			t.Fatalf("more than one null: %s", rc.next(t))
		}
	}
	// The client's own FLUSHDB in a transaction: after EXEC's reply.
	runTx(t, tr, []txStep{st(`+"OK"`, "MULTI"), st(`+"QUEUED"`, "FLUSHDB"), st(`*[+"OK"]`, "EXEC")})
	if got, want := tr.next(t), `>[$"invalidate" _""]`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

// TestTrackingTableMaxKeys: over tracking-table-max-keys, keys are
// invalidated (exactly as many as needed) until the table fits, working
// harder on each run that stays over.
func TestTrackingTableMaxKeys(t *testing.T) {
	s, _ := testServer(t, nil)
	redir := dialNode(t, s)
	id := clientID(t, redir)
	redir.do(t, "SUBSCRIBE", "__redis__:invalidate")
	tr := dialNode(t, s)
	tr.do(t, "CLIENT", "TRACKING", "on", "REDIRECT", id)
	const n = 250
	for i := range n {
		tr.do(t, "GET", fmt.Sprint("key", i))
	}
	dialNode(t, s).do(t, "CONFIG", "SET", "tracking-table-max-keys", "1")
	seen := map[string]bool{}
	for range n - 1 {
		v := redir.next(t)
		if seen[v] {
			t.Fatalf("invalidated twice: %s", v)
		}
		seen[v] = true
	}
	if got := fmtResp(redir.do(t, "PING")); got != `*[$"pong" $""]` {
		t.Fatalf("an extra invalidation: %s", got)
	}
	s.mu.Lock()
	keys := s.TrackingTotalKeys()
	s.mu.Unlock()
	if keys != 1 {
		t.Fatalf("%d keys left, want 1", keys)
	}
}

// TestTrackingNoloop: a NOLOOP client is not told of its own writes.
func TestTrackingNoloop(t *testing.T) {
	s, _ := testServer(t, nil)
	w := dialNode(t, s)
	tr := trackingClient(t, s, "NOLOOP")
	tr.do(t, "MGET", "mine", "theirs")
	tr.do(t, "SET", "mine", "1")
	w.do(t, "SET", "theirs", "1")
	if got, want := tr.next(t), `>[$"invalidate" *[$"theirs"]]`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

// TestTrackingBlockedClientServed: a client served after blocking gets its
// reply before the invalidation its command caused.
func TestTrackingBlockedClientServed(t *testing.T) {
	s, _ := testServer(t, nil)
	w := dialNode(t, s)
	w.do(t, "RPUSH", "dst", "a")
	tr := trackingClient(t, s)
	tr.do(t, "LRANGE", "dst", "0", "-1")
	tr.send(t, "BLMOVE", "src", "dst", "LEFT", "LEFT", "0")
	waitBlocked(t, s, 1)
	w.do(t, "RPUSH", "src", "foo")
	for _, want := range []string{`$"foo"`, `>[$"invalidate" *[$"dst"]]`} {
		if got := tr.next(t); got != want {
			t.Fatalf("got %s, want %s", got, want)
		}
	}
}

// TestTrackingReplyOff: invalidations are pushes, sent whatever CLIENT
// REPLY says, and do not disturb the replies that follow.
func TestTrackingReplyOff(t *testing.T) {
	s, _ := testServer(t, nil)
	w := dialNode(t, s)
	tr := trackingClient(t, s)
	tr.do(t, "GET", "foo")
	tr.send(t, "CLIENT", "REPLY", "OFF")
	w.do(t, "SET", "foo", "bar")
	if got, want := tr.next(t), `>[$"invalidate" *[$"foo"]]`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	tr.send(t, "CLIENT", "REPLY", "ON")
	tr.send(t, "PING")
	for _, want := range []string{`+"OK"`, `+"PONG"`} {
		if got := tr.next(t); got != want {
			t.Fatalf("got %s, want %s", got, want)
		}
	}
	if strings.Contains(fmtResp(tr.do(t, "CLIENT", "TRACKINGINFO")), "off") {
		t.Fatal("tracking turned off")
	}
}

// TestTrackingEvictionBeforeReply: a string grown in place (SETBIT) puts
// memory over maxmemory at once, so the next command, even a read, first
// evicts a volatile key, and its invalidation comes before that command's
// reply (Redis's tracking.tcl "eviction keys should be before response").
func TestTrackingEvictionBeforeReply(t *testing.T) {
	s, _ := testServer(t, nil)
	tr := trackingClient(t, s)
	used := rawInfoField(t, tr, "used_memory")
	tr.do(t, "CONFIG", "SET", "maxmemory", fmt.Sprint(used+100*1024))
	tr.do(t, "CONFIG", "SET", "maxmemory-policy", "volatile-random")
	runTx(t, tr, []txStep{
		st(`+"OK"`, "SETEX", "volatile-key", "10000", "x"),
		st(`$"x"`, "GET", "volatile-key"),
		st(`:"0"`, "SETBIT", "big-key", "1600000", "0"),
	})
	tr.send(t, "GETBIT", "big-key", "0")
	for _, want := range []string{`>[$"invalidate" *[$"volatile-key"]]`, `:"0"`} {
		if got := tr.next(t); got != want {
			t.Fatalf("got %s, want %s", got, want)
		}
	}
	if got := fmtResp(tr.do(t, "EXISTS", "volatile-key")); got != `:"0"` {
		t.Fatalf("volatile-key not evicted: EXISTS = %s", got)
	}
}

// rawInfoField reads an integer field of INFO over rc.
func rawInfoField(t *testing.T, rc *rawConn, field string) int64 {
	t.Helper()
	info := rc.do(t, "INFO", "memory").str
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			var n int64
			if _, err := fmt.Sscan(v, &n); err != nil {
				t.Fatalf("INFO %s: %q: %v", field, v, err)
			}
			return n
		}
	}
	t.Fatalf("INFO has no %s", field)
	return 0
}
