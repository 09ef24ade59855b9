package node

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// clientLine is the CLIENT LIST line format of Redis 7.0.15, every field
// in order.
var clientLine = regexp.MustCompile(`^id=\d+ addr=[\d.:]+ laddr=[\d.:]+ fd=\d+ name=\S* age=\d+ idle=\d+ flags=[A-Za-z]+ db=\d+ sub=\d+ psub=\d+ ssub=\d+ multi=-?\d+ qbuf=\d+ qbuf-free=\d+ argv-mem=\d+ multi-mem=\d+ rbs=\d+ rbp=\d+ obl=\d+ oll=\d+ omem=\d+ tot-mem=\d+ events=r?w? cmd=\S+ user=\S+ redir=-?\d+ resp=[23]$`)

func verbatimBody(t *testing.T, raw string) string {
	t.Helper()
	if !strings.HasPrefix(raw, "$") {
		t.Fatalf("not a bulk reply: %q", raw)
	}
	_, body, _ := strings.Cut(raw, "\r\n")
	return strings.TrimSuffix(body, "\r\n")
}

func TestClientListAndInfo(t *testing.T) {
	s, _ := testServer(t, nil)
	a := dialRESP(t, s.Addr().String())
	b := dialRESP(t, s.Addr().String())
	b.do("client", "setname", "bee")
	b.do("select", "3")
	idA := strings.TrimSuffix(strings.TrimPrefix(a.do("client", "id"), ":"), "\r\n")
	list := verbatimBody(t, a.do("client", "list"))
	lines := strings.Split(strings.TrimSuffix(list, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("CLIENT LIST has %d lines: %q", len(lines), list)
	}
	for _, l := range lines {
		if !clientLine.MatchString(l) {
			t.Errorf("line does not match Redis's format: %q", l)
		}
	}
	// The caller's own line, as introspection.tcl checks it.
	mine := lines[0]
	for _, want := range []string{"id=" + idA + " ", " flags=N ", " qbuf=26 ", " cmd=client|list ", " resp=2", " multi=-1 ", " events=r ", " user=default "} {
		if !strings.Contains(mine, want) {
			t.Errorf("own line %q lacks %q", mine, want)
		}
	}
	if !strings.Contains(lines[1], " name=bee ") || !strings.Contains(lines[1], " db=3 ") || !strings.Contains(lines[1], " cmd=select ") {
		t.Errorf("other client's line: %q", lines[1])
	}
	info := verbatimBody(t, a.do("client", "info"))
	if !clientLine.MatchString(strings.TrimSuffix(info, "\n")) || !strings.Contains(info, " cmd=client|info ") {
		t.Errorf("CLIENT INFO = %q", info)
	}
	byID := verbatimBody(t, a.do("client", "list", "id", idA, "999999"))
	if strings.Count(byID, "\n") != 1 || !strings.HasPrefix(byID, "id="+idA+" ") {
		t.Errorf("CLIENT LIST ID = %q", byID)
	}
	if got := verbatimBody(t, a.do("client", "list", "type", "normal")); strings.Count(got, "\n") != 2 {
		t.Errorf("CLIENT LIST TYPE normal = %q", got)
	}
	// RESP3: a verbatim string.
	a.do("hello", "3")
	if got := a.do("client", "info"); !strings.HasPrefix(got, "=") || !strings.Contains(got, "txt:id="+idA) {
		t.Errorf("RESP3 CLIENT INFO = %q", got)
	}
	// An unknown command leaves cmd=NULL, as Redis.
	b.do("nosuchcommand")
	if got := verbatimBody(t, b.do("client", "list", "id", idA)); !strings.Contains(got, " resp=3") {
		t.Errorf("resp field: %q", got)
	}
}

func TestClientKill(t *testing.T) {
	s, rc := testServer(t, nil)
	ctx := context.Background()
	me := dialRESP(t, s.Addr().String())
	victims := []*respConn{dialRESP(t, s.Addr().String()), dialRESP(t, s.Addr().String()), dialRESP(t, s.Addr().String())}
	ids := make([]string, len(victims))
	addrs := make([]string, len(victims))
	for i, v := range victims {
		ids[i] = strings.TrimSuffix(strings.TrimPrefix(v.do("client", "id"), ":"), "\r\n")
		addrs[i] = v.nc.LocalAddr().String()
	}
	expectClosed := func(v *respConn) {
		t.Helper()
		v.send("ping")
		v.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := readRawReply(v.r); err == nil {
			t.Error("killed client still answered")
		}
	}
	if got := me.do("client", "kill", "id", ids[0]); got != ":1\r\n" {
		t.Fatalf("KILL ID = %q", got)
	}
	expectClosed(victims[0])
	if got := me.do("client", "kill", addrs[1]); got != "+OK\r\n" {
		t.Fatalf("old-style KILL = %q", got)
	}
	expectClosed(victims[1])
	if got := me.do("client", "kill", addrs[1]); got != "-ERR No such client\r\n" {
		t.Fatalf("KILL of a gone client = %q", got)
	}
	if got := me.do("client", "kill", "addr", addrs[2], "type", "pubsub"); got != ":0\r\n" {
		t.Fatalf("KILL with a non-matching filter = %q", got)
	}
	// SKIPME yes (the default) spares the caller; go-redis's pooled
	// connection and the last victim go.
	rc.Ping(ctx)
	if got := me.do("client", "kill", "type", "normal"); got != ":2\r\n" {
		t.Fatalf("KILL TYPE normal = %q", got)
	}
	expectClosed(victims[2])
	if got := me.do("ping"); got != "+PONG\r\n" {
		t.Fatalf("caller after SKIPME yes: %q", got)
	}
	// SKIPME no kills the caller after the reply.
	if got := me.do("client", "kill", "user", "default", "skipme", "no"); got != ":1\r\n" {
		t.Fatalf("KILL SKIPME no = %q", got)
	}
	expectClosed(me)
	// go-redis reconnects: the server is fine.
	if err := rc.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
}

func TestClientReply(t *testing.T) {
	s, _ := testServer(t, nil)
	c := dialRESP(t, s.Addr().String())
	c.send("client", "reply", "off")
	c.send("ping", "a")
	c.send("set", "k", "v")
	c.send("client", "reply", "on")
	if got := c.read(); got != "+OK\r\n" {
		t.Fatalf("first reply after REPLY OFF..ON = %q", got)
	}
	c.send("client", "reply", "skip")
	c.send("ping", "skipped")
	if got := c.do("ping", "seen"); got != "$4\r\nseen\r\n" {
		t.Fatalf("after SKIP = %q", got)
	}
	c.send("client", "reply", "skip")
	if got := c.do("client", "reply", "on"); got != "+OK\r\n" {
		t.Fatalf("REPLY ON after SKIP = %q", got)
	}
	if got := c.do("get", "k"); got != "$1\r\nv\r\n" {
		t.Fatalf("the silenced SET did not run: %q", got)
	}
}

func TestClientPause(t *testing.T) {
	s, rc := testServer(t, nil)
	ctx := context.Background()
	admin := dialRESP(t, s.Addr().String())
	if got := admin.do("client", "pause", "100000", "write"); got != "+OK\r\n" {
		t.Fatal(got)
	}
	// Reads pass.
	if err := rc.Get(ctx, "k").Err(); err != nil && err.Error() != "redis: nil" {
		t.Fatalf("read during WRITE pause: %v", err)
	}
	w := dialRESP(t, s.Addr().String())
	w.send("set", "k", "v")
	waitBlocked := func(n int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			s.mu.Lock()
			got := s.pausedClientCount()
			s.mu.Unlock()
			if got == n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d paused clients, want %d", got, n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitBlocked(1)
	if list := verbatimBody(t, admin.do("client", "list")); !strings.Contains(list, "flags=b") {
		t.Errorf("paused client not flagged b: %q", list)
	}
	if got := admin.do("get", "k"); got != "$-1\r\n" {
		t.Fatalf("write ran during the pause: %q", got)
	}
	// Arity errors are replied at once.
	if got := dialRESP(t, s.Addr().String()).do("set", "k"); !strings.HasPrefix(got, "-ERR wrong number") {
		t.Fatalf("bad command during pause: %q", got)
	}
	admin.do("client", "unpause")
	if got := w.read(); got != "+OK\r\n" {
		t.Fatalf("paused write after UNPAUSE = %q", got)
	}
	waitBlocked(0)

	// ALL pauses reads too, until the pause times out.
	admin.do("client", "pause", "300", "all")
	start := time.Now()
	if got := w.do("get", "k"); got != "$1\r\nv\r\n" {
		t.Fatalf("read after ALL pause = %q", got)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Fatalf("read during ALL pause waited only %v", d)
	}

	// A paused client that is killed or disconnects goes away.
	admin.do("client", "pause", "100000", "write")
	v := dialRESP(t, s.Addr().String())
	vid := strings.TrimSuffix(strings.TrimPrefix(v.do("client", "id"), ":"), "\r\n")
	v.send("set", "x", "1")
	gone := dialRESP(t, s.Addr().String())
	gone.send("set", "y", "1")
	waitBlocked(2)
	if got := admin.do("client", "kill", "id", vid); got != ":1\r\n" {
		t.Fatalf("kill paused client: %q", got)
	}
	gone.nc.Close()
	waitBlocked(0)
	admin.do("client", "unpause")
	if got := admin.do("exists", "x", "y"); got != ":0\r\n" {
		t.Fatalf("a killed or gone paused client's write ran: %q", got)
	}
}

func TestPauseStopsExpiry(t *testing.T) {
	s, _ := testServer(t, nil)
	c := dialRESP(t, s.Addr().String())
	c.do("set", "k", "v", "px", "10")
	c.do("client", "pause", "100000", "write")
	time.Sleep(50 * time.Millisecond) // let the key's time pass
	if got := c.do("get", "k"); got != "$-1\r\n" {
		t.Fatalf("expired key visible: %q", got)
	}
	s.mu.Lock()
	expired := s.stats.expiredKeys
	n := s.dbs[0].ks.Len()
	s.mu.Unlock()
	if expired != 0 || n != 1 {
		t.Fatalf("during the pause: expired_keys=%d, keys in memory=%d; want 0 and 1", expired, n)
	}
	c.do("client", "unpause")
	c.do("get", "k")
	s.mu.Lock()
	expired = s.stats.expiredKeys
	s.mu.Unlock()
	if expired != 1 {
		t.Fatalf("after the pause: expired_keys=%d, want 1", expired)
	}
}

func TestMonitor(t *testing.T) {
	s, _ := testServer(t, func(c *Config) { c.RequirePass = "pw" })
	mon := dialRESP(t, s.Addr().String())
	mon.do("auth", "pw")
	if got := mon.do("monitor"); got != "+OK\r\n" {
		t.Fatalf("MONITOR = %q", got)
	}
	c := dialRESP(t, s.Addr().String())
	c.do("auth", "pw")
	c.do("select", "2")
	c.do("set", "foo", "b\"a\\r\x01\n")
	c.do("config", "get", "maxmemory") // admin: not shown
	c.do("get", "foo")
	c.do("nosuchcommand") // never executed: not shown
	c.do("auth", "default", "pw")
	line := regexp.MustCompile(`^\+\d+\.\d{6} \[(\d+) ([\d.:]+)\] (.*)\r\n$`)
	want := []struct{ db, args string }{
		{"0", `"auth" "(redacted)"`},
		{"2", `"select" "2"`},
		{"2", `"set" "foo" "b\"a\\r\x01\n"`},
		{"2", `"get" "foo"`},
		{"2", `"auth" "(redacted)" "(redacted)"`},
	}
	for _, w := range want {
		got := mon.read()
		m := line.FindStringSubmatch(got)
		if m == nil || m[1] != w.db || m[2] != c.nc.LocalAddr().String() || m[3] != w.args {
			t.Errorf("monitor line %q, want db %s args %s", got, w.db, w.args)
		}
	}
	// A monitor cannot touch the keyspace; RESET ends monitoring.
	if got := mon.do("get", "foo"); got != "-ERR Replica can't interact with the keyspace\r\n" {
		t.Errorf("GET from a monitor = %q", got)
	}
	mon.do("reset")
	c.do("ping")
	mon.nc.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if b, err := mon.r.ReadByte(); err == nil {
		t.Errorf("monitoring went on after RESET: %q", b)
	}
}

func TestMonitorOfLuaClientFormat(t *testing.T) {
	s, _ := testServer(t, nil)
	mon := dialRESP(t, s.Addr().String())
	mon.do("monitor")
	s.mu.Lock()
	lua := &Client{srv: s, db: s.dbs[0], flags: flagLuaClient}
	s.feedMonitors(lua, 0, [][]byte{[]byte("set"), []byte("k"), []byte("v")})
	s.mu.Unlock()
	if got := mon.read(); !regexp.MustCompile(`^\+\d+\.\d{6} \[0 lua\] "set" "k" "v"\r\n$`).MatchString(got) {
		t.Fatalf("lua monitor line %q", got)
	}
}

func TestQueryBufferModel(t *testing.T) {
	s, _ := testServer(t, nil)
	c := dialRESP(t, s.Addr().String())
	c.do("client", "setname", "qb")
	qbufOf := func(list string) (int64, int64) {
		for _, l := range strings.Split(list, "\n") {
			if strings.Contains(l, "name=qb ") {
				m := regexp.MustCompile(`qbuf=(\d+) qbuf-free=(\d+)`).FindStringSubmatch(l)
				a, _ := strconv.ParseInt(m[1], 10, 64)
				b, _ := strconv.ParseInt(m[2], 10, 64)
				return a, b
			}
		}
		t.Fatalf("client not listed: %q", list)
		return 0, 0
	}
	other := dialRESP(t, s.Addr().String())
	q, f := qbufOf(verbatimBody(t, other.do("client", "list")))
	if total := q + f; total < 16384 || total >= 32768 {
		t.Fatalf("fresh query buffer %d+%d, want 16k..32k as Redis", q, f)
	}
	c.do("set", "x", strings.Repeat("A", 400000))
	q, f = qbufOf(verbatimBody(t, other.do("client", "list")))
	if q+f <= 32768 {
		t.Fatalf("query buffer after a 400k argument: %d", q+f)
	}
	// The cron shrinks a buffer much larger than its recent peak.
	s.mu.Lock()
	for _, cl := range s.clients {
		if g := guardOf(cl); g != nil && cl.Name == "qb" {
			g.cronResize(time.Now())
			g.cronResize(time.Now())
		}
	}
	s.mu.Unlock()
	q2, f2 := qbufOf(verbatimBody(t, other.do("client", "list")))
	if q2+f2 >= q+f {
		t.Fatalf("query buffer not shrunk: %d -> %d", q+f, q2+f2)
	}
}

// TestClientPauseWriteLetsReadOnlyScriptsRun: scripts and functions that
// declare no-writes (and EVAL_RO) are reads for CLIENT PAUSE WRITE, as in
// Redis's pause.tcl "Test RO scripts are not blocked by pause RO"; a script
// without flags still waits.
func TestClientPauseWriteLetsReadOnlyScriptsRun(t *testing.T) {
	s, _ := testServer(t, nil)
	admin := dialRESP(t, s.Addr().String())
	admin.do("set", "x", "y")
	lib := "#!lua name=f1\nredis.register_function{function_name='f1', callback=function() return 'hello' end, flags={'no-writes'}}"
	if got := admin.do("function", "load", "replace", lib); !strings.HasPrefix(got, "$2") {
		t.Fatalf("FUNCTION LOAD = %q", got)
	}
	roScript := "#!lua flags=no-writes\nreturn 'unique script'"
	if got := admin.do("client", "pause", "100000", "write"); got != "+OK\r\n" {
		t.Fatal(got)
	}
	c := dialRESP(t, s.Addr().String())
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"eval", roScript, "0"}, "$13\r\nunique script\r\n"}, // not cached yet
		{[]string{"eval", roScript, "0"}, "$13\r\nunique script\r\n"}, // cached
		{[]string{"eval_ro", "return redis.call('get', KEYS[1])", "1", "x"}, "$1\r\ny\r\n"},
		{[]string{"fcall", "f1", "0"}, "$5\r\nhello\r\n"},
	} {
		if got := c.do(tc.args...); got != tc.want {
			t.Errorf("%v during PAUSE WRITE = %q, want %q", tc.args[0], got, tc.want)
		}
	}
	w := dialRESP(t, s.Addr().String())
	w.send("eval", "return redis.call('set', 'x', 'z')", "0")
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		n := s.pausedClientCount()
		s.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a script without flags did not wait for the WRITE pause")
		}
		time.Sleep(5 * time.Millisecond)
	}
	admin.do("client", "unpause")
	if got := w.read(); got != "+OK\r\n" {
		t.Fatalf("paused script after UNPAUSE = %q", got)
	}
}
