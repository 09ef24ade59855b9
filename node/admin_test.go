package node

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func debugServer(t *testing.T, mod func(*Config)) (*Server, *respConn) {
	t.Helper()
	s, _ := testServer(t, func(c *Config) {
		c.EnableDebugCommand = "yes"
		if mod != nil {
			mod(c)
		}
	})
	return s, dialRESP(t, s.Addr().String())
}

func TestSlowlog(t *testing.T) {
	s, c := debugServer(t, func(c *Config) { c.SlowlogLogSlowerThan = 0; c.SlowlogMaxLen = 3 })
	c.do("client", "setname", "slowpoke")
	c.do("slowlog", "reset")
	many := []string{"exists"}
	for i := 0; i < 40; i++ {
		many = append(many, strconv.Itoa(i))
	}
	c.do(many...)
	c.do("echo", strings.Repeat("A", 129))
	c.do("auth", "default", "secret")
	got := c.do("slowlog", "get")
	// Newest first: AUTH (redacted), the long argument, the long command.
	wantArgs := []string{
		"*3\r\n$4\r\nauth\r\n$10\r\n(redacted)\r\n$10\r\n(redacted)\r\n",
		"*2\r\n$4\r\necho\r\n$146\r\n" + strings.Repeat("A", 128) + "... (1 more bytes)\r\n",
		"*32\r\n$6\r\nexists\r\n$1\r\n0\r\n",
		"$2\r\n29\r\n$23\r\n... (10 more arguments)\r\n",
	}
	for _, w := range wantArgs {
		if !strings.Contains(got, w) {
			t.Errorf("SLOWLOG GET lacks %q:\n%q", w, got)
		}
	}
	if !strings.HasPrefix(got, "*3\r\n*6\r\n:") || !strings.Contains(got, "$8\r\nslowpoke\r\n") || !strings.Contains(got, c.nc.LocalAddr().String()) {
		t.Errorf("SLOWLOG GET shape: %q", got)
	}
	if got := c.do("slowlog", "len"); got != ":3\r\n" {
		t.Errorf("SLOWLOG LEN with max 3 = %q", got)
	}
	// Entry ids keep counting across RESET.
	c.do("slowlog", "reset")
	first := c.do("slowlog", "get", "1")
	if !regexp.MustCompile(`^\*1\r\n\*6\r\n:(\d+)\r\n`).MatchString(first) {
		t.Fatalf("after RESET: %q", first)
	}
	// -1 disables it; a threshold above the call's time keeps it out.
	s.mu.Lock()
	s.cfg.SlowlogLogSlowerThan = -1
	s.mu.Unlock()
	c.do("slowlog", "reset")
	c.do("debug", "sleep", "0.01")
	if got := c.do("slowlog", "len"); got != ":0\r\n" {
		t.Errorf("disabled slowlog logged: %q", got)
	}
	s.mu.Lock()
	s.cfg.SlowlogLogSlowerThan = 5000
	s.mu.Unlock()
	c.do("ping")
	c.do("debug", "sleep", "0.01")
	got = c.do("slowlog", "get")
	if !strings.Contains(got, "$5\r\nsleep\r\n$4\r\n0.01\r\n") || strings.Contains(got, "ping") {
		t.Errorf("threshold 5ms: %q", got)
	}
}

func TestLatencyMonitor(t *testing.T) {
	s, c := debugServer(t, func(c *Config) { c.LatencyMonitorThreshold = 5 })
	c.do("debug", "sleep", "0.02")
	latest := c.do("latency", "latest")
	m := regexp.MustCompile(`^\*1\r\n\*4\r\n\$7\r\ncommand\r\n:(\d+)\r\n:(\d+)\r\n:(\d+)\r\n$`).FindStringSubmatch(latest)
	if m == nil {
		t.Fatalf("LATENCY LATEST = %q", latest)
	}
	if ms, _ := strconv.Atoi(m[2]); ms < 20 {
		t.Errorf("latency %dms < 20ms", ms)
	}
	if hist := c.do("latency", "history", "command"); !strings.HasPrefix(hist, "*1\r\n*2\r\n:") {
		t.Errorf("LATENCY HISTORY = %q", hist)
	}
	if g := c.do("latency", "graph", "command"); !strings.Contains(g, "command - high ") {
		t.Errorf("LATENCY GRAPH = %q", g)
	}
	if d := c.do("latency", "doctor"); !strings.Contains(d, "1. command: 1 latency spikes") {
		t.Errorf("LATENCY DOCTOR = %q", d)
	}
	if got := c.do("latency", "reset", "COMMAND"); got != ":1\r\n" {
		t.Errorf("LATENCY RESET = %q", got)
	}
	// Subsystems report their own events.
	s.mu.Lock()
	s.latencyAddSampleIfNeeded("expire-cycle", 3)
	s.latencyAddSampleIfNeeded("expire-cycle", 7)
	s.mu.Unlock()
	if got := c.do("latency", "latest"); !strings.Contains(got, "expire-cycle\r\n") || !strings.Contains(got, ":7\r\n:7\r\n") {
		t.Errorf("expire-cycle event: %q", got)
	}
}

func TestLatencyHistogram(t *testing.T) {
	_, c := debugServer(t, nil)
	c.do("set", "a", "b")
	c.do("set", "c", "d")
	c.do("client", "id")
	got := c.do("latency", "histogram", "set", "client", "nosuch")
	m := regexp.MustCompile(`^\*4\r\n\$3\r\nset\r\n\*4\r\n\$5\r\ncalls\r\n:2\r\n\$14\r\nhistogram_usec\r\n\*(\d+)\r\n`).FindStringSubmatch(got)
	if m == nil || !strings.Contains(got, "$9\r\nclient|id\r\n*4\r\n$5\r\ncalls\r\n:1\r\n") {
		t.Fatalf("LATENCY HISTOGRAM = %q", got)
	}
	c.do("hello", "3")
	got = c.do("latency", "histogram", "client|id")
	if !regexp.MustCompile(`^%1\r\n\$9\r\nclient\|id\r\n%2\r\n\$5\r\ncalls\r\n:1\r\n\$14\r\nhistogram_usec\r\n%1\r\n:\d+\r\n:1\r\n$`).MatchString(got) {
		t.Fatalf("RESP3 LATENCY HISTOGRAM = %q", got)
	}
}

func TestLatencyHistogramBuckets(t *testing.T) {
	var h latencyHist
	for _, d := range []time.Duration{1, 1024, 1031, 1032, 3 * time.Microsecond, 2 * time.Second} {
		h.record(d)
	}
	// The first bucket holds up to 1031ns (reported as 1us), the next up
	// to 2063ns (2us); 3us falls in the 4us bucket; 2s is clamped to 1s.
	want := map[int64]int64{1: 3, 2: 1, 4: 1, histBucketTop(latencyBuckets-1) / 1000: 1}
	for k, v := range h.counts {
		if v == 0 {
			continue
		}
		if want[histBucketTop(k)/1000] != v {
			t.Errorf("bucket %dus has %d, want %d", histBucketTop(k)/1000, v, want[histBucketTop(k)/1000])
		}
	}
	if h.total != 6 {
		t.Errorf("total %d", h.total)
	}
}

func TestDebugGate(t *testing.T) {
	s, rc := testServer(t, nil)
	err := rc.Do(context.Background(), "debug", "help").Err()
	if err == nil || err.Error() != errDebugNotAllowed {
		t.Fatalf("DEBUG with enable-debug-command no: %v", err)
	}
	s.mu.Lock()
	rejected := s.stats.cmdStats["debug"].rejected
	s.cfg.EnableDebugCommand = "local"
	s.mu.Unlock()
	if rejected != 1 {
		t.Errorf("rejected_calls=%d, want 1", rejected)
	}
	if err := rc.Do(context.Background(), "debug", "sleep", "0").Err(); err != nil {
		t.Fatalf("DEBUG from loopback with enable-debug-command local: %v", err)
	}
}

func TestDebugNeverCrashes(t *testing.T) {
	_, c := debugServer(t, nil)
	for _, sub := range []string{"segfault", "panic", "assert", "oom", "restart", "crash-and-recover", "mallctl", "mallctl-str"} {
		args := []string{"debug", sub}
		if strings.HasPrefix(sub, "mallctl") {
			args = append(args, "arenas.page")
		}
		if got := c.do(args...); !strings.HasPrefix(got, "-ERR ") {
			t.Errorf("DEBUG %s = %q", sub, got)
		}
	}
	if got := c.do("debug", "populate", "1", "big", "100000000000"); got != "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n" {
		t.Errorf("POPULATE of 100GB values = %q", got)
	}
	if got := c.do("ping"); got != "+PONG\r\n" {
		t.Fatalf("server after the crash requests: %q", got)
	}
	if got := c.do("debug", "stringmatch-test"); got != "+Apparently Redis did not crash: test passed\r\n" {
		t.Fatalf("STRINGMATCH-TEST = %q", got)
	}
	// Persistence exists (persistence.go, aof.go): RELOAD saves and
	// loads; LOADAOF without an AOF refuses instead of exiting as Redis.
	if got := c.do("debug", "reload"); got != "+OK\r\n" {
		t.Fatalf("RELOAD = %q", got)
	}
	if got := c.do("debug", "loadaof"); !strings.HasPrefix(got, "-ERR Error loading the AOF: no AOF to load") {
		t.Fatalf("LOADAOF without an AOF = %q", got)
	}
}

func TestDebugObject(t *testing.T) {
	s, c := debugServer(t, nil)
	c.do("set", "n", "20000")
	re := regexp.MustCompile(`^\+Value at:(0x[0-9a-f]+) refcount:1 encoding:int serializedlength:3 lru:\d+ lru_seconds_idle:\d+\r\n$`)
	first := c.do("debug", "object", "n")
	m := re.FindStringSubmatch(first)
	if m == nil {
		t.Fatalf("DEBUG OBJECT = %q", first)
	}
	// INCR changes the value in place: same address (incr.tcl checks it).
	c.do("incr", "n")
	if m2 := re.FindStringSubmatch(c.do("debug", "object", "n")); m2 == nil || m2[1] != m[1] {
		t.Fatalf("address changed after INCR: %q -> %v", first, m2)
	}
	c.do("set", "sh", "7")
	if got := c.do("debug", "object", "sh"); !strings.Contains(got, "refcount:2147483647 encoding:int") {
		t.Errorf("shared integer: %q", got)
	}
	// A logically expired key is still described, as Redis's dictFind.
	c.do("debug", "set-active-expire", "0")
	c.do("set", "gone", "v", "px", "1")
	time.Sleep(5 * time.Millisecond)
	if got := c.do("debug", "object", "gone"); !strings.HasPrefix(got, "+Value at:") {
		t.Errorf("expired key: %q", got)
	}
	s.mu.Lock()
	s.setActiveExpire(true)
	s.mu.Unlock()
}

func TestDebugDigestOrderIndependent(t *testing.T) {
	_, a := debugServer(t, nil)
	_, b := debugServer(t, nil)
	for i := 0; i < 50; i++ {
		a.do("set", "k"+strconv.Itoa(i), strconv.Itoa(i))
	}
	for i := 49; i >= 0; i-- {
		b.do("set", "k"+strconv.Itoa(i), strconv.Itoa(i))
	}
	da, db := a.do("debug", "digest"), b.do("debug", "digest")
	if da != db || da == "+0000000000000000000000000000000000000000\r\n" {
		t.Fatalf("digests differ or are empty: %q %q", da, db)
	}
	b.do("set", "k1", "changed")
	if b.do("debug", "digest") == da {
		t.Fatal("digest did not change with the data")
	}
	if got := a.do("debug", "digest-value", "k1", "nokey"); !strings.HasPrefix(got, "*2\r\n+") || !strings.HasSuffix(got, "+0000000000000000000000000000000000000000\r\n") {
		t.Fatalf("DIGEST-VALUE = %q", got)
	}
}

func TestDebugSleepBlocksShard(t *testing.T) {
	s, c := debugServer(t, nil)
	c.send("debug", "sleep", "0.2")
	time.Sleep(20 * time.Millisecond)
	other := dialRESP(t, s.Addr().String())
	start := time.Now()
	other.do("ping")
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Fatalf("PING during DEBUG SLEEP answered after %v: the shard was not stopped", d)
	}
	if got := c.read(); got != "+OK\r\n" {
		t.Fatal(got)
	}
}

func TestDebugPauseCron(t *testing.T) {
	s, c := debugServer(t, nil)
	c.do("debug", "pause-cron", "1")
	c.do("set", "k", "v", "px", "1")
	time.Sleep(300 * time.Millisecond) // several cron periods at hz 10
	s.mu.Lock()
	n := s.dbs[0].ks.Len()
	s.mu.Unlock()
	if n != 1 {
		t.Fatalf("active expiry ran while the cron was paused")
	}
	c.do("debug", "pause-cron", "0")
}

func TestWait(t *testing.T) {
	s, c := debugServer(t, nil)
	if got := c.do("wait", "0", "0"); got != ":0\r\n" {
		t.Fatalf("WAIT 0 0 = %q", got)
	}
	start := time.Now()
	if got := c.do("wait", "1", "150"); got != ":0\r\n" {
		t.Fatalf("WAIT 1 150 = %q", got)
	}
	if d := time.Since(start); d < 140*time.Millisecond {
		t.Fatalf("WAIT 1 150 returned after %v", d)
	}
	// A WAIT without timeout blocks until the client is killed; others
	// are served meanwhile.
	w := dialRESP(t, s.Addr().String())
	id := strings.TrimSuffix(strings.TrimPrefix(w.do("client", "id"), ":"), "\r\n")
	w.send("wait", "1", "0")
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(c.do("client", "list", "id", id), "flags=b") {
		if time.Now().After(deadline) {
			t.Fatal("WAIT client never blocked")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := c.do("client", "kill", "id", id); got != ":1\r\n" {
		t.Fatalf("kill the waiting client: %q", got)
	}
	w.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := readRawReply(w.r); err == nil {
		t.Fatal("killed WAIT client got a reply")
	}
}

func TestTimeAndLastsave(t *testing.T) {
	_, c := debugServer(t, nil)
	m := regexp.MustCompile(`^\*2\r\n\$\d+\r\n(\d+)\r\n\$\d+\r\n(\d+)\r\n$`).FindStringSubmatch(c.do("time"))
	if m == nil {
		t.Fatal("TIME shape")
	}
	sec, _ := strconv.ParseInt(m[1], 10, 64)
	usec, _ := strconv.ParseInt(m[2], 10, 64)
	if d := time.Now().Unix() - sec; d < 0 || d > 2 || usec >= 1e6 {
		t.Fatalf("TIME = %d %d", sec, usec)
	}
	ls := c.do("lastsave")
	v, _ := strconv.ParseInt(strings.Trim(ls, ":\r\n"), 10, 64)
	if d := time.Now().Unix() - v; d < 0 || d > 60 {
		t.Fatalf("LASTSAVE = %q", ls)
	}
}

func TestShutdown(t *testing.T) {
	s, c := debugServer(t, nil)
	saved := false
	s.mu.Lock()
	s.adminState().save = func() error { saved = true; return nil }
	s.cfg.Save = nil
	s.mu.Unlock()
	c.send("shutdown", "save")
	select {
	case <-s.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("server still running after SHUTDOWN")
	}
	if !saved {
		t.Error("SHUTDOWN SAVE did not save")
	}
	c.nc.SetReadDeadline(time.Now().Add(2 * time.Second))
	if b, err := readRawReply(c.r); err == nil {
		t.Errorf("SHUTDOWN replied %q", b)
	}
}

func TestShutdownSaveFailure(t *testing.T) {
	s, c := debugServer(t, nil)
	s.mu.Lock()
	s.adminState().save = func() error { return context.DeadlineExceeded }
	s.mu.Unlock()
	if got := c.do("shutdown", "save"); got != "-ERR Errors trying to SHUTDOWN. Check logs.\r\n" {
		t.Fatalf("failed save: %q", got)
	}
	if got := c.do("ping"); got != "+PONG\r\n" {
		t.Fatal("server stopped despite the failed save")
	}
	c.send("shutdown", "save", "force")
	select {
	case <-s.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("SHUTDOWN FORCE did not stop the server")
	}
}

func TestMemoryStats(t *testing.T) {
	_, c := debugServer(t, nil)
	c.do("debug", "populate", "1000")
	c.do("hello", "3")
	got := c.do("memory", "stats")
	if !strings.HasPrefix(got, "%28\r\n") {
		t.Fatalf("MEMORY STATS header: %.40q", got)
	}
	for _, field := range []string{"peak.allocated", "total.allocated", "db.0", "overhead.hashtable.main", "keys.count\r\n:1000", "dataset.percentage\r\n,", "fragmentation.bytes"} {
		if !strings.Contains(got, field) {
			t.Errorf("MEMORY STATS lacks %q", field)
		}
	}
	if d := c.do("memory", "doctor"); !strings.Contains(d, "Sam") {
		t.Errorf("MEMORY DOCTOR = %q", d)
	}
}

// TestNoBlockingInsideCalls: WAIT inside EXEC or a script (a call inside
// a call) replies at once instead of releasing the shard lock.
func TestNoBlockingInsideCalls(t *testing.T) {
	s, _ := debugServer(t, nil)
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.connState()
	st.callDepth = 2
	defer func() { st.callDepth = 0 }()
	c := &Client{srv: s, db: s.dbs[0], resp: 2}
	done := make(chan struct{})
	go func() {
		defer close(done)
		waitCommand(s, c, [][]byte{[]byte("wait"), []byte("1"), []byte("0")})
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("WAIT blocked inside a nested call")
	}
	if string(c.out) != ":0\r\n" {
		t.Fatalf("WAIT inside EXEC = %q", c.out)
	}
	c.out = nil
	monitorCommand(s, c, [][]byte{[]byte("monitor")})
	if string(c.out) != "-ERR MONITOR isn't allowed for DENY BLOCKING client\r\n" {
		t.Fatalf("MONITOR inside EXEC = %q", c.out)
	}
}
