package node

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// MIGRATE's AUTH and AUTH2 credentials never reach SLOWLOG or MONITOR, as
// Redis's redactClientCommandArgument (slowlog.tcl, introspection.tcl).
func TestMigrateRedactsCredentials(t *testing.T) {
	s, c := debugServer(t, func(c *Config) { c.SlowlogLogSlowerThan = 0 })
	mon := dialRESP(t, s.Addr().String())
	if got := mon.do("monitor"); got != "+OK\r\n" {
		t.Fatalf("MONITOR = %q", got)
	}
	c.do("slowlog", "reset")
	calls := []struct {
		argv []string
		mon  string
	}{
		{[]string{"migrate", "127.0.0.1", "1", "", "0", "100", "auth", "secret", "keys", "nokey"},
			`"migrate" "127.0.0.1" "1" "" "0" "100" "auth" "(redacted)" "keys" "nokey"`},
		{[]string{"migrate", "127.0.0.1", "1", "", "0", "100", "auth2", "user", "secret", "keys", "nokey"},
			`"migrate" "127.0.0.1" "1" "" "0" "100" "auth2" "(redacted)" "(redacted)" "keys" "nokey"`},
	}
	for _, tc := range calls {
		if got := c.do(tc.argv...); got != "+NOKEY\r\n" {
			t.Fatalf("%v = %q", tc.argv, got)
		}
		line := mon.read()
		if !strings.HasSuffix(line, "] "+tc.mon+"\r\n") {
			t.Errorf("monitor line %q, want args %s", line, tc.mon)
		}
	}
	got := c.do("slowlog", "get")
	if strings.Contains(got, "secret") || strings.Contains(got, "user") {
		t.Errorf("SLOWLOG shows credentials: %q", got)
	}
	if n := strings.Count(got, "$10\r\n(redacted)\r\n"); n != 3 {
		t.Errorf("SLOWLOG has %d redacted args, want 3: %q", n, got)
	}
}

// CLUSTER and friends exist as in Redis 7.0 without cluster-enabled: listed
// by COMMAND, every call refused with the same error.
func TestClusterDisabled(t *testing.T) {
	_, c := debugServer(t, nil)
	const disabled = "-ERR This instance has cluster support disabled\r\n"
	for _, tc := range []struct {
		argv []string
		want string
	}{
		{[]string{"cluster", "help"}, disabled},
		{[]string{"cluster", "keyslot", "foo"}, disabled},
		{[]string{"cluster", "info"}, disabled},
		{[]string{"CLUSTER", "SLOTS"}, disabled},
		{[]string{"asking"}, disabled},
		{[]string{"readonly"}, disabled},
		{[]string{"readwrite"}, disabled},
		{[]string{"cluster"}, "-ERR wrong number of arguments for 'cluster' command\r\n"},
		{[]string{"cluster", "keyslot"}, "-ERR wrong number of arguments for 'cluster|keyslot' command\r\n"},
		{[]string{"cluster", "foo"}, "-ERR unknown subcommand 'foo'. Try CLUSTER HELP.\r\n"},
	} {
		if got := c.do(tc.argv...); got != tc.want {
			t.Errorf("%v = %q, want %q", tc.argv, got, tc.want)
		}
	}
	got := c.do("command", "list", "filterby", "pattern", "cluster*")
	for _, name := range []string{"cluster", "cluster|help", "cluster|shards", "cluster|keyslot"} {
		if !strings.Contains(got, "$"+strconv.Itoa(len(name))+"\r\n"+name+"\r\n") {
			t.Errorf("COMMAND LIST FILTERBY PATTERN cluster* lacks %s: %q", name, got)
		}
	}
	if got := c.do("command", "info", "cluster|help"); !strings.HasPrefix(got, "*1\r\n*10\r\n$12\r\ncluster|help\r\n") {
		t.Errorf("COMMAND INFO cluster|help = %q", got)
	}
}

// The active expiry cycle records its duration as the expire-cycle latency
// event once it reaches latency-monitor-threshold, as Redis's
// activeExpireCycle (latency-monitor.tcl "LATENCY of expire events").
func TestExpireCycleLatencyEvent(t *testing.T) {
	s, c := debugServer(t, nil)
	c.do("debug", "set-active-expire", "0")
	if got := c.do("debug", "populate", "100000"); got != "+OK\r\n" {
		t.Fatalf("DEBUG POPULATE = %q", got)
	}
	c.do("eval", "for i=0,tonumber(ARGV[1])-1 do redis.call('pexpire','key:'..i,1) end", "0", "100000")
	c.do("config", "set", "latency-monitor-threshold", "1")
	s.mu.Lock()
	s.setActiveExpire(true)
	s.activeExpireCycle(time.Now().Add(time.Second)) // past the 1 ms TTLs
	s.mu.Unlock()
	// Deleting even part of 100000 expired keys, with their notifications
	// and propagation, takes well over a millisecond.
	if got := c.do("latency", "latest"); !strings.Contains(got, "$12\r\nexpire-cycle\r\n") {
		t.Errorf("LATENCY LATEST after a long expire cycle = %q", got)
	}
	if got := c.do("latency", "history", "expire-cycle"); !strings.HasPrefix(got, "*1\r\n") {
		t.Errorf("LATENCY HISTORY expire-cycle = %q", got)
	}
}

// SLOWLOG logs commands as the client sent them, whatever they propagate
// as, and a blocked command once it is served (slowlog.tcl "Rewritten
// commands are logged as their original command").
func TestSlowlogOriginalCommand(t *testing.T) {
	s, c := debugServer(t, func(c *Config) { c.SlowlogLogSlowerThan = 0 })
	newest := func() string {
		t.Helper()
		got := c.do("slowlog", "get", "1")
		// *1 *6 :id :time :usec *argc ...: keep the argv onwards.
		parts := strings.SplitN(got, "\r\n", 6)
		if len(parts) < 6 {
			t.Fatalf("SLOWLOG GET 1 = %q", got)
		}
		return parts[5]
	}
	c.do("sadd", "set", "a", "b", "c", "d", "e")
	c.do("set", "A", "0")
	for _, argv := range [][]string{
		{"spop", "set", "10"},
		{"geoadd", "cool-cities", "-122.33207", "47.60621", "Seattle"},
		{"getset", "a", "5"},
		{"INCRBYFLOAT", "A", "1.0"},
	} {
		c.do("slowlog", "reset")
		c.do(argv...)
		if got, want := newest(), respArray(argv); !strings.HasPrefix(got, want) {
			t.Errorf("SLOWLOG after %v: %q, want prefix %q", argv, got, want)
		}
	}

	rd := dialRESP(t, s.Addr().String())
	rd.send("blpop", "l", "0")
	waitBlocked(t, s, 1)
	c.do("multi")
	c.do("lpush", "l", "foo")
	c.do("slowlog", "reset")
	c.do("exec")
	if got := rd.read(); got != "*2\r\n$1\r\nl\r\n$3\r\nfoo\r\n" {
		t.Fatalf("BLPOP = %q", got)
	}
	if got, want := newest(), respArray([]string{"blpop", "l", "0"}); !strings.HasPrefix(got, want) {
		t.Errorf("SLOWLOG after a served BLPOP: %q, want prefix %q", got, want)
	}
}

func respArray(argv []string) string {
	b := "*" + strconv.Itoa(len(argv)) + "\r\n"
	for _, a := range argv {
		b += "$" + strconv.Itoa(len(a)) + "\r\n" + a + "\r\n"
	}
	return b
}
