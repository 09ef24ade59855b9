package node

import (
	"strings"
	"testing"
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
