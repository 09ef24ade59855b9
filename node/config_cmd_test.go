package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// configDo runs a command and returns its reply or error text.
func configDo(ctx context.Context, rc *redis.Client, args ...any) (any, string) {
	v, err := rc.Do(ctx, args...).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err.Error()
	}
	return v, ""
}

func configGet(t *testing.T, rc *redis.Client, name string) string {
	t.Helper()
	m, err := rc.ConfigGet(context.Background(), name).Result()
	if err != nil {
		t.Fatalf("CONFIG GET %s: %v", name, err)
	}
	v, ok := m[name]
	if !ok {
		t.Fatalf("CONFIG GET %s: missing in %v", name, m)
	}
	return v
}

// TestConfigSetGetTypes sets one parameter of every type and reads it
// back as Redis shows it.
func TestConfigSetGetTypes(t *testing.T) {
	_, rc := testServer(t, func(c *Config) { c.EnableProtectedConfigs = "yes" })
	ctx := context.Background()
	dir := t.TempDir()
	tests := []struct{ name, set, want string }{
		{"appendfsync", "ALWAYS", "always"},
		{"activerehashing", "NO", "no"},
		{"maxmemory", "1gb", "1073741824"},
		{"maxmemory", "2k", "2000"},
		{"maxmemory", "", "0"},
		{"maxmemory", "18446744073709551615", "18446744073709551615"},
		{"maxmemory-clients", "10%", "10%"},
		{"maxmemory-clients", "1mb", "1048576"},
		{"hz", "0", "1"},
		{"hz", "100000", "500"},
		{"hz", "10", "10"},
		{"slowlog-log-slower-than", "-1", "-1"},
		{"list-max-ziplist-size", "-5", "-5"},
		{"list-max-listpack-size", "128", "128"},
		{"hash-max-ziplist-entries", "100", "100"},
		{"hash-max-listpack-entries", "100", "100"},
		{"save", "", ""},
		{"save", "100 10 20 30", "100 10 20 30"},
		{"client-output-buffer-limit", "pubsub 1mb 2mb 3", "normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 2097152 3"},
		{"client-output-buffer-limit", "replica 1 2 3", "normal 0 0 0 slave 1 2 3 pubsub 1048576 2097152 3"},
		{"notify-keyspace-events", "KEA", "AKE"},
		{"notify-keyspace-events", "Egx$", "g$xE"},
		{"notify-keyspace-events", "", ""},
		{"oom-score-adj", "relative", "yes"},
		{"oom-score-adj-values", "1 2 3", "1 2 3"},
		{"shutdown-on-sigint", "force now nosave", "nosave now force"},
		{"latency-tracking-info-percentiles", "0.0 50.0 100.0", "0 50 100"},
		{"latency-tracking-info-percentiles", "", ""},
		{"latency-tracking-info-percentiles", "50 99 99.9", "50 99 99.9"},
		{"proc-title-template", "{title} x", "{title} x"},
		{"dbfilename", "x.rdb", "x.rdb"},
		{"dir", dir, dir},
		{"bind", "127.0.0.1", "127.0.0.1"},
		{"lua-time-limit", "100", "100"},
		{"busy-reply-threshold", "100", "100"},
		{"tls-cert-file", "/x", "/x"},
		{"key-load-delay", "-5", "-5"},
	}
	for _, tt := range tests {
		if _, e := configDo(ctx, rc, "config", "set", tt.name, tt.set); e != "" {
			t.Errorf("CONFIG SET %s %q: %s", tt.name, tt.set, e)
			continue
		}
		if got := configGet(t, rc, tt.name); got != tt.want {
			t.Errorf("CONFIG SET %s %q: GET = %q, want %q", tt.name, tt.set, got, tt.want)
		}
	}
}

func TestConfigSetErrors(t *testing.T) {
	_, rc := testServer(t, nil)
	ctx := context.Background()
	e := "ERR CONFIG SET failed (possibly related to argument '%s') - %s"
	tests := []struct {
		args []any
		want string
	}{
		{[]any{"maxmemory", "-1"}, fmt.Sprintf(e, "maxmemory", "argument must be a memory value")},
		{[]any{"port", "abc"}, fmt.Sprintf(e, "port", "argument couldn't be parsed into an integer")},
		{[]any{"maxclients", "0"}, fmt.Sprintf(e, "maxclients", "argument must be between 1 and 4294967295 inclusive")},
		{[]any{"hash-max-listpack-entries", "-1"}, fmt.Sprintf(e, "hash-max-listpack-entries", "argument must be between 0 and 9223372036854775807 inclusive")},
		{[]any{"HASH-max-ziplist-entries", "-1"}, fmt.Sprintf(e, "hash-max-ziplist-entries", "argument must be between 0 and 9223372036854775807 inclusive")},
		{[]any{"slowlog-max-len", "-1"}, fmt.Sprintf(e, "slowlog-max-len", "argument must be between 0 and 9223372036854775807 inclusive")},
		{[]any{"maxmemory-clients", "200%"}, fmt.Sprintf(e, "maxmemory-clients", "percentage argument must be less or equal to 100")},
		{[]any{"maxmemory-clients", "-5"}, fmt.Sprintf(e, "maxmemory-clients", "argument must be a memory or percent value")},
		{[]any{"loglevel", "foo"}, fmt.Sprintf(e, "loglevel", "argument(s) must be one of the following: debug, verbose, notice, warning")},
		{[]any{"appendonly", "1"}, fmt.Sprintf(e, "appendonly", "argument must be 'yes' or 'no'")},
		{[]any{"daemonize", "yes"}, fmt.Sprintf(e, "daemonize", "can't set immutable config")},
		{[]any{"DATABASES", "1"}, fmt.Sprintf(e, "DATABASES", "can't set immutable config")},
		{[]any{"slaveof", "no one"}, fmt.Sprintf(e, "slaveof", "can't set immutable config")},
		{[]any{"dir", "/tmp"}, fmt.Sprintf(e, "dir", "can't set protected config")},
		{[]any{"dbfilename", "x"}, fmt.Sprintf(e, "dbfilename", "can't set protected config")},
		{[]any{"notify-keyspace-events", "Q"}, fmt.Sprintf(e, "notify-keyspace-events", "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")},
		{[]any{"save", "1 2 3"}, fmt.Sprintf(e, "save", "Invalid save parameters")},
		{[]any{"save", "0 1"}, fmt.Sprintf(e, "save", "Invalid save parameters")},
		{[]any{"save", "1  2"}, fmt.Sprintf(e, "save", "Invalid save parameters")},
		{[]any{"shutdown-on-sigint", "save nosave"}, fmt.Sprintf(e, "shutdown-on-sigint", "shutdown options SAVE and NOSAVE can't be used simultaneously")},
		{[]any{"latency-tracking-info-percentiles", "10.0 50.0 a"}, fmt.Sprintf(e, "latency-tracking-info-percentiles", "Invalid latency-tracking-info-percentiles parameters")},
		{[]any{"latency-tracking-info-percentiles", "101"}, fmt.Sprintf(e, "latency-tracking-info-percentiles", "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]")},
		{[]any{"proc-title-template", "{foo}"}, fmt.Sprintf(e, "proc-title-template", "template format is invalid or contains unknown variables")},
		{[]any{"activedefrag", "yes"}, fmt.Sprintf(e, "activedefrag", "Active defragmentation cannot be enabled: it requires a Redis server compiled with a modified Jemalloc like the one shipped by default with the Redis source distribution")},
		{[]any{"oom-score-adj-values", "1 2"}, fmt.Sprintf(e, "oom-score-adj-values", "wrong number of arguments")},
		{[]any{"client-output-buffer-limit", "normal 1 2"}, fmt.Sprintf(e, "client-output-buffer-limit", "Wrong number of arguments in buffer limit configuration.")},
		{[]any{"maxmemory", "1", "MAXMEMORY", "2"}, fmt.Sprintf(e, "MAXMEMORY", "duplicate parameter")},
		{[]any{"hash-max-ziplist-entries", "1", "hash-ZIPLIST-max-entries", "2"}, "ERR Unknown option or number of arguments for CONFIG SET - 'hash-ZIPLIST-max-entries'"},
		{[]any{"hash-max-ziplist-entries", "1", "HASH-max-ziplist-entries", "2"}, fmt.Sprintf(e, "HASH-max-ziplist-entries", "duplicate parameter")},
		{[]any{"foo", "bar"}, "ERR Unknown option or number of arguments for CONFIG SET - 'foo'"},
		{[]any{"maxmemory", "1", "foo", "bar", "daemonize", "yes"}, "ERR Unknown option or number of arguments for CONFIG SET - 'foo'"},
		{[]any{"daemonize", "yes", "foo", "bar"}, fmt.Sprintf(e, "daemonize", "can't set immutable config")},
		{[]any{"maxmemory", "1", "maxmemory"}, "ERR syntax error"},
	}
	for _, tt := range tests {
		_, got := configDo(ctx, rc, append([]any{"config", "set"}, tt.args...)...)
		if got != tt.want {
			t.Errorf("CONFIG SET %v:\n got %q\nwant %q", tt.args, got, tt.want)
		}
	}
	if _, got := configDo(ctx, rc, "config", "set", "maxmemory"); got != "ERR wrong number of arguments for 'config|set' command" {
		t.Errorf("arity: %q", got)
	}
}

// TestConfigSetAtomic checks that a CONFIG SET with a bad pair changes
// nothing, as "CONFIG SET rollback on set error" in Redis's suite.
func TestConfigSetAtomic(t *testing.T) {
	_, rc := testServer(t, nil)
	ctx := context.Background()
	if _, e := configDo(ctx, rc, "config", "set", "maxmemory", "10000002"); e != "" {
		t.Fatal(e)
	}
	_, e := configDo(ctx, rc, "config", "set", "maxmemory", "10000001", "maxmemory-clients", "200%", "client-query-buffer-limit", "invalid")
	if e != "ERR CONFIG SET failed (possibly related to argument 'maxmemory-clients') - percentage argument must be less or equal to 100" {
		t.Errorf("error %q", e)
	}
	for name, want := range map[string]string{"maxmemory": "10000002", "maxmemory-clients": "0", "client-query-buffer-limit": "1073741824"} {
		if got := configGet(t, rc, name); got != want {
			t.Errorf("%s = %q after a failed CONFIG SET, want %q", name, got, want)
		}
	}
	if _, e := configDo(ctx, rc, "config", "set", "maxmemory", "10000001", "repl-backlog-size", "10000002", "save", "3000 5"); e != "" {
		t.Fatal(e)
	}
	for name, want := range map[string]string{"maxmemory": "10000001", "repl-backlog-size": "10000002", "save": "3000 5"} {
		if got := configGet(t, rc, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}

// TestConfigSetPort moves the listener: the new port serves, an existing
// connection stays, and a port in use is refused with everything rolled
// back.
func TestConfigSetPort(t *testing.T) {
	s, rc := testServer(t, nil)
	ctx := context.Background()
	busy, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := busy.Addr().(*net.TCPAddr).Port
	oldAddr := s.Addr().String()
	_, e := configDo(ctx, rc, "config", "set", "maxmemory", "10000001", "port", strconv.Itoa(busyPort), "client-query-buffer-limit", "10m")
	if !strings.HasPrefix(e, "ERR CONFIG SET failed (possibly related to argument 'port') - Unable to listen on this port") {
		t.Fatalf("busy port: %q", e)
	}
	if got := configGet(t, rc, "maxmemory"); got != "0" {
		t.Errorf("maxmemory %q after rollback", got)
	}
	if s.Addr().String() != oldAddr {
		t.Errorf("address moved to %s after a failed CONFIG SET", s.Addr())
	}
	// A free port: find one, release it, move there.
	free, _ := net.Listen("tcp4", "127.0.0.1:0")
	port := free.Addr().(*net.TCPAddr).Port
	free.Close()
	if _, e := configDo(ctx, rc, "config", "set", "port", strconv.Itoa(port)); e != "" {
		t.Fatal(e)
	}
	if err := rc.Ping(ctx).Err(); err != nil {
		t.Errorf("existing connection after the move: %v", err)
	}
	nc := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), Protocol: 2, DisableIdentity: true})
	defer nc.Close()
	if err := nc.Ping(ctx).Err(); err != nil {
		t.Errorf("new port: %v", err)
	}
	if c, err := net.DialTimeout("tcp", oldAddr, time.Second); err == nil {
		c.Close()
		t.Errorf("old address %s still accepts connections", oldAddr)
	}
}

func TestConfigGetPatterns(t *testing.T) {
	s, rc := testServer(t, nil)
	ctx := context.Background()
	m, err := rc.ConfigGet(ctx, "maxmemory").Result()
	if err != nil || len(m) != 1 || m["maxmemory"] != "0" {
		t.Errorf("exact: %v %v", m, err)
	}
	m, _ = rc.ConfigGet(ctx, "MAXMEMORY").Result()
	if m["MAXMEMORY"] != "0" {
		t.Errorf("case-insensitive name: %v", m)
	}
	res, err := rc.Do(ctx, "config", "get", "maxmemory", "maxmemory*", "bind", "*of", "maxmemory").Slice()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i := 0; i < len(res); i += 2 {
		k := res[i].(string)
		if seen[k] {
			t.Errorf("%s twice", k)
		}
		seen[k] = true
	}
	for _, k := range []string{"maxmemory", "maxmemory-samples", "maxmemory-clients", "maxmemory-policy", "maxmemory-eviction-tenacity", "bind", "slaveof", "replicaof"} {
		if !seen[k] {
			t.Errorf("%s missing from %v", k, res)
		}
	}
	all, _ := rc.ConfigGet(ctx, "*").Result()
	if _, ok := all["key-load-delay"]; ok {
		t.Error("hidden key-load-delay matched a pattern")
	}
	if len(all) < 190 {
		t.Errorf("CONFIG GET * has %d parameters, want every Redis 7.0 one", len(all))
	}
	m, _ = rc.ConfigGet(ctx, "key-load-delay").Result()
	if m["key-load-delay"] != "0" {
		t.Errorf("hidden by exact name: %v", m)
	}
	m, _ = rc.ConfigGet(ctx, "nosuch").Result()
	if len(m) != 0 {
		t.Errorf("unknown: %v", m)
	}
	// RESP3: a map.
	r3 := newClient(t, s, 3)
	v, err := r3.Do(ctx, "config", "get", "hz").Result()
	if _, ok := v.(map[any]any); err != nil || !ok {
		t.Errorf("RESP3 reply %T %v %v", v, v, err)
	}
}

// TestConfigSanity is Redis's "CONFIG sanity": every parameter set to its
// own value and read back unchanged.
func TestConfigSanity(t *testing.T) {
	_, rc := testServer(t, func(c *Config) { c.EnableProtectedConfigs = "yes" })
	ctx := context.Background()
	before, err := rc.ConfigGet(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range before {
		p := lookupConfig(k)
		if p.has(cfgImmutable) || k == "dir" || k == "port" || k == "bind" {
			continue
		}
		if _, e := configDo(ctx, rc, "config", "set", k, v); e != "" {
			t.Errorf("CONFIG SET %s %q: %s", k, v, e)
		}
	}
	after, _ := rc.ConfigGet(ctx, "*").Result()
	if !reflect.DeepEqual(before, after) {
		for k, v := range before {
			if after[k] != v {
				t.Errorf("%s: %q, was %q", k, after[k], v)
			}
		}
	}
}

func TestConfigApply(t *testing.T) {
	s, rc := testServer(t, nil)
	ctx := context.Background()
	rc.ConfigSet(ctx, "notify-keyspace-events", "KEA")
	s.mu.Lock()
	flags := s.notifyFlags
	s.mu.Unlock()
	if flags != notifyKeyspace|notifyKeyevent|notifyAll {
		t.Errorf("notifyFlags %b after KEA", flags)
	}
	rc.ConfigSet(ctx, "notify-keyspace-events", "An")
	s.mu.Lock()
	flags = s.notifyFlags
	s.mu.Unlock()
	if flags != notifyAll|notifyNew {
		t.Errorf("notifyFlags %b after An", flags)
	}
	// requirepass: a new connection must authenticate; clearing it lets
	// every connection in.
	if err := rc.ConfigSet(ctx, "requirepass", "pw").Err(); err != nil {
		t.Fatal(err)
	}
	other := newClient(t, s, 2)
	if err := other.Ping(ctx).Err(); err == nil || !strings.HasPrefix(err.Error(), "NOAUTH") {
		t.Errorf("new connection without AUTH: %v", err)
	}
	if err := rc.ConfigSet(ctx, "requirepass", "").Err(); err != nil {
		t.Fatal(err)
	}
	if err := other.Ping(ctx).Err(); err != nil {
		t.Errorf("after clearing requirepass: %v", err)
	}
}

func TestConfigRewriteCommand(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.conf")
	os.WriteFile(path, []byte("# mine\nmaxmemory 1mb\n"), 0o644)
	s, rc := testServer(t, nil)
	ctx := context.Background()
	if _, e := configDo(ctx, rc, "config", "rewrite"); e != "ERR The server is running without a config file" {
		t.Errorf("without a file: %q", e)
	}
	s.mu.Lock()
	s.cfg.ConfigFile = path
	s.mu.Unlock()
	rc.ConfigSet(ctx, "maxmemory", "2mb")
	rc.ConfigSet(ctx, "hash-max-ziplist-entries", "7")
	if _, e := configDo(ctx, rc, "config", "rewrite"); e != "" {
		t.Fatal(e)
	}
	data, _ := os.ReadFile(path)
	text := string(data)
	for _, want := range []string{"# mine\nmaxmemory 2mb\n", rewriteSignature, "\nhash-max-listpack-entries 7\n", "\nbind 127.0.0.1\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("rewritten file lacks %q:\n%s", want, text)
		}
	}
	c, err := LoadConfig(path, nil, "")
	if err != nil || c.MaxMemory != 2<<20 || c.HashMaxListpackEntries != 7 {
		t.Errorf("reload: %v", err)
	}
}

func TestConfigResetStat(t *testing.T) {
	_, rc := testServer(t, nil)
	ctx := context.Background()
	rc.Set(ctx, "a", "b", 0)
	rc.Do(ctx, "nosuchcommand")
	info, _ := rc.Info(ctx, "stats", "commandstats", "errorstats").Result()
	if !strings.Contains(info, "cmdstat_set:calls=1") || !strings.Contains(info, "errorstat_ERR:count=1") {
		t.Fatalf("stats before reset:\n%s", info)
	}
	if err := rc.Do(ctx, "config", "resetstat").Err(); err != nil {
		t.Fatal(err)
	}
	info, _ = rc.Info(ctx, "stats", "commandstats", "errorstats").Result()
	if strings.Contains(info, "cmdstat_set") || strings.Contains(info, "errorstat_ERR") || !strings.Contains(info, "total_error_replies:0\r\n") {
		t.Errorf("stats after reset:\n%s", info)
	}
}

func TestConfigHelp(t *testing.T) {
	_, rc := testServer(t, nil)
	lines, err := rc.Do(context.Background(), "config", "help").StringSlice()
	if err != nil || len(lines) != 11 || !strings.HasPrefix(lines[0], "CONFIG <subcommand>") {
		t.Errorf("CONFIG HELP: %q %v", lines, err)
	}
}

func TestProtectedActions(t *testing.T) {
	s, rc := testServer(t, func(c *Config) {
		c.EnableDebugCommand = "local"
		c.EnableProtectedConfigs = "local"
	})
	ctx := context.Background()
	if err := rc.ConfigSet(ctx, "dbfilename", "x.rdb").Err(); err != nil {
		t.Errorf("local client, protected config: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	local := &Client{addr: "127.0.0.1:5000"}
	remote := &Client{addr: "10.1.2.3:5000"}
	if !s.debugAllowed(local) || s.debugAllowed(remote) {
		t.Error("enable-debug-command local: wrong decision")
	}
	s.cfg.EnableDebugCommand = "no"
	if s.debugAllowed(local) {
		t.Error("enable-debug-command no allowed DEBUG")
	}
	s.cfg.EnableDebugCommand = "yes"
	if !s.debugAllowed(remote) {
		t.Error("enable-debug-command yes refused DEBUG")
	}
	if s.moduleAllowed(local) {
		t.Error("enable-module-command no allowed MODULE")
	}
}

// redisServer starts a real redis-server 7.0 for differential tests. It
// skips when there is none, unless CI=true.
func redisServer(t *testing.T) *redis.Client {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is required in CI")
		}
		t.Skip("redis-server not installed")
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", t.TempDir(), "--enable-protected-configs", "yes", "--enable-debug-command", "yes")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	rc := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() { rc.Close() })
	deadline := time.Now().Add(10 * time.Second)
	for rc.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatal("redis-server did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return rc
}

// TestConfigDifferential sends the same CONFIG commands to the node and to
// redis-server 7.0.15 and compares the replies, then compares every
// parameter's value and default.
func TestConfigDifferential(t *testing.T) {
	ref := redisServer(t)
	_, rc := testServer(t, func(c *Config) { c.EnableProtectedConfigs = "yes"; c.EnableDebugCommand = "yes" })
	ctx := context.Background()
	cmds := [][]any{
		{"config", "set", "maxmemory", "1mb"}, {"config", "get", "maxmemory"},
		{"config", "set", "maxmemory", "2G"}, {"config", "get", "maxmemory"},
		{"config", "set", "maxmemory", "1.5mb"},
		{"config", "set", "maxmemory", " 1"},
		{"config", "set", "maxmemory", "0"},
		{"config", "set", "timeout", "01"},
		{"config", "set", "timeout", "+1"},
		{"config", "set", "timeout", "99999999999"},
		{"config", "set", "hz", "-1"},
		{"config", "set", "list-max-listpack-size", "-2147483649"},
		{"config", "set", "maxmemory-clients", "0%"}, {"config", "get", "maxmemory-clients"},
		{"config", "set", "maxmemory-clients", "0"},
		{"config", "set", "maxmemory-policy", "Allkeys-LRU"}, {"config", "get", "maxmemory-policy"},
		{"config", "set", "maxmemory-policy", "noeviction"},
		{"config", "set", "appendfsync", "sometimes"},
		{"config", "set", "save", "10 1 20"},
		{"config", "set", "save", "10 -1"},
		{"config", "set", "save", "10 1 20 2"}, {"config", "get", "save"},
		{"config", "set", "save", ""}, {"config", "get", "save"},
		{"config", "set", "notify-keyspace-events", "lshzxetdgn$"}, {"config", "get", "notify-keyspace-events"},
		{"config", "set", "notify-keyspace-events", "AKEmn"}, {"config", "get", "notify-keyspace-events"},
		{"config", "set", "notify-keyspace-events", ""},
		{"config", "set", "client-output-buffer-limit", "normal 1k 2kb 3 slave 1gb 1g 0"}, {"config", "get", "client-output-buffer-limit"},
		{"config", "set", "client-output-buffer-limit", "master 1 1 1"},
		{"config", "set", "client-output-buffer-limit", "normal 1 1 -1"},
		{"config", "set", "client-output-buffer-limit", "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"},
		{"config", "set", "oom-score-adj-values", "-2001 0 0"},
		{"config", "set", "oom-score-adj-values", "0 200 800"},
		{"config", "set", "shutdown-on-sigterm", "now force"}, {"config", "get", "shutdown-on-sigterm"},
		{"config", "set", "shutdown-on-sigterm", "default"},
		{"config", "set", "shutdown-on-sigterm", "bogus"},
		{"config", "set", "latency-tracking-info-percentiles", "99.99 1e1"}, {"config", "get", "latency-tracking-info-percentiles"},
		{"config", "set", "latency-tracking-info-percentiles", "nan"},
		{"config", "set", "latency-tracking-info-percentiles", "50 99 99.9"},
		{"config", "set", "cluster-announce-hostname", "bad_host"},
		{"config", "set", "appendfilename", "x"},
		{"config", "set", "proc-title-template", "{{title}"},
		{"config", "set", "proc-title-template", "{title"},
		{"config", "set", "proc-title-template", "{server-mode}"},
		{"config", "set", "proc-title-template", "{title} {listen-addr} {server-mode}"},
		{"config", "set", "dbfilename", "../x"},
		{"config", "set", "dir", "/nonexistent/dir"},
		{"config", "set", "unixsocketperm", "700"},
		{"config", "set", "maxmemory", "1", "maxmemory", "2"},
		{"config", "set", "a"},
		{"config", "get"},
		{"config", "resetstat", "x"},
		{"config", "nosuch"},
		{"config", "get", "*max-*-entries*", "save"},
	}
	for _, cmd := range cmds {
		want, wantErr := configDo(ctx, ref, cmd...)
		got, gotErr := configDo(ctx, rc, cmd...)
		if ws, ok := want.([]any); ok {
			want = pairsToMap(ws)
			if gs, ok := got.([]any); ok {
				got = pairsToMap(gs)
			}
		}
		if !reflect.DeepEqual(want, got) || wantErr != gotErr {
			t.Errorf("%v:\n  redis: %v %q\n  node:  %v %q", cmd, want, wantErr, got, gotErr)
		}
	}
	// Every parameter exists on both sides with the same default value,
	// except those that describe the process rather than the defaults.
	refAll, _ := ref.ConfigGet(ctx, "*").Result()
	all, _ := rc.ConfigGet(ctx, "*").Result()
	differ := map[string]bool{"port": true, "dir": true, "bind": true, "daemonize": true, "pidfile": true,
		"logfile": true, "enable-debug-command": true, "enable-protected-configs": true, "save": true, "appendonly": true}
	for k, v := range refAll {
		got, ok := all[k]
		if !ok {
			t.Errorf("parameter %s missing", k)
			continue
		}
		if !differ[k] && got != v {
			t.Errorf("%s: %q, redis-server has %q", k, got, v)
		}
	}
	for k := range all {
		if _, ok := refAll[k]; !ok {
			t.Errorf("parameter %s does not exist in Redis", k)
		}
	}
}

func pairsToMap(s []any) map[any]any {
	m := make(map[any]any, len(s)/2)
	for i := 0; i+1 < len(s); i += 2 {
		m[s[i]] = s[i+1]
	}
	return m
}

func TestConfigTimeoutClosesIdleClients(t *testing.T) {
	s, rc := testServer(t, nil)
	ctx := context.Background()
	idle := newClient(t, s, 2)
	if err := idle.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rc.ConfigSet(ctx, "timeout", "1").Err(); err != nil {
		t.Fatal(err)
	}
	// Make every client look idle for two seconds, then run the cron.
	s.mu.Lock()
	for _, c := range s.clients {
		c.lastActive = c.lastActive.Add(-2 * time.Second)
	}
	s.closeIdleClients(time.Now())
	n := len(s.clients)
	s.mu.Unlock()
	if n == 0 {
		t.Fatal("no clients to close")
	}
	// The closed connections go away once their goroutines see EOF.
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		n = len(s.clients)
		s.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d idle clients still connected", n)
		}
		runtime.Gosched()
	}
}

func TestRenameCommand(t *testing.T) {
	_, rc := testServer(t, func(c *Config) {
		if err := c.Set("rename-command", "flushdb", "badger"); err != nil {
			t.Fatal(err)
		}
		if err := c.Set("rename-command", "echo", ""); err != nil {
			t.Fatal(err)
		}
	})
	ctx := context.Background()
	if _, e := configDo(ctx, rc, "flushdb"); !strings.HasPrefix(e, "ERR unknown command 'flushdb'") {
		t.Errorf("flushdb after rename: %q", e)
	}
	if _, e := configDo(ctx, rc, "BADGER"); e != "" {
		t.Errorf("badger: %q", e)
	}
	if _, e := configDo(ctx, rc, "echo", "x"); !strings.HasPrefix(e, "ERR unknown command 'echo'") {
		t.Errorf("echo removed: %q", e)
	}
	if _, e := configDo(ctx, rc, "ping"); e != "" {
		t.Errorf("ping: %q", e)
	}
}

func TestProtectedMode(t *testing.T) {
	s, _ := testServer(t, nil)
	s.mu.Lock()
	defer s.mu.Unlock()
	remote := &remoteConn{remote: &net.TCPAddr{IP: net.IPv4(10, 1, 2, 3), Port: 5000}}
	local := &remoteConn{remote: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5000}}
	if s.protectedModeDenies(local) {
		t.Error("loopback client refused")
	}
	if !s.protectedModeDenies(remote) || !strings.HasPrefix(remote.written.String(), "-DENIED Redis is running in protected mode") {
		t.Errorf("remote client accepted, wrote %q", remote.written.String())
	}
	s.cfg.RequirePass = "x"
	if s.protectedModeDenies(remote) {
		t.Error("remote client refused with a password set")
	}
	s.cfg.RequirePass, s.cfg.ProtectedMode = "", false
	if s.protectedModeDenies(remote) {
		t.Error("remote client refused with protected-mode no")
	}
}

// remoteConn is a net.Conn with a chosen remote address.
type remoteConn struct {
	net.Conn
	remote  net.Addr
	written strings.Builder
}

func (f *remoteConn) RemoteAddr() net.Addr        { return f.remote }
func (f *remoteConn) Write(b []byte) (int, error) { return f.written.Write(b) }

// TestConfigDifferentialSweep tries a set of awkward values on every
// parameter of redis-server 7.0.15 and on the node, and compares the
// replies and the values read back.
func TestConfigDifferentialSweep(t *testing.T) {
	ref := redisServer(t)
	_, rc := testServer(t, func(c *Config) {
		c.EnableProtectedConfigs, c.EnableDebugCommand, c.Save = "yes", "yes", nil
	})
	ctx := context.Background()
	// Left out: parameters whose change would disturb the test itself
	// (connections, files, auth, timers) and those where the node
	// deliberately differs (no TLS, no active defrag: Debian's Redis has
	// both).
	skip := map[string]bool{"port": true, "bind": true, "dir": true, "dbfilename": true, "requirepass": true,
		"timeout": true, "maxclients": true, "watchdog-period": true, "activedefrag": true, "appendonly": true,
		"tls-port": true, "tls-cluster": true, "tls-replication": true, "tls-cert-file": true, "tls-key-file": true,
		"tls-client-cert-file": true, "tls-client-key-file": true, "tls-dh-params-file": true, "tls-ca-cert-file": true,
		"tls-ca-cert-dir": true, "tls-protocols": true, "tls-ciphers": true, "tls-ciphersuites": true,
		"tls-key-file-pass": true, "tls-client-key-file-pass": true, "tls-session-cache-size": true,
		"tls-session-cache-timeout": true, "tls-prefer-server-ciphers": true, "tls-session-caching": true, "tls-auth-clients": true,
		"oom-score-adj": true, "oom-score-adj-values": true}
	values := []string{"yes", "no", "YES", "0", "1", "-1", "7", "01", "1k", "1kb", "2MB", "1g", "50%", "101%",
		"abc", "", "2147483648", "-2147483649", "4294967296", "9223372036854775808", "0777", "local",
		"allkeys-lru", "everysec", "1 2", "1 2 3", "normal 1 2 3", "KEA", "nosave now", "0.5 99", "a b c"}
	all, err := ref.ConfigGet(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for name, orig := range all {
		if skip[name] {
			continue
		}
		for _, v := range values {
			_, wantErr := configDo(ctx, ref, "config", "set", name, v)
			_, gotErr := configDo(ctx, rc, "config", "set", name, v)
			if wantErr != gotErr {
				t.Errorf("CONFIG SET %s %q:\n  redis: %q\n  node:  %q", name, v, wantErr, gotErr)
			}
			want, _ := ref.ConfigGet(ctx, name).Result()
			got, _ := rc.ConfigGet(ctx, name).Result()
			if want[name] != got[name] {
				t.Errorf("CONFIG SET %s %q then GET: redis %q, node %q", name, v, want[name], got[name])
			}
			configDo(ctx, ref, "config", "set", name, orig)
			configDo(ctx, rc, "config", "set", name, orig)
		}
	}
}

func TestUnixSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "node.sock")
	os.WriteFile(sock, nil, 0o600) // a stale file is replaced
	s, rc := testServer(t, func(c *Config) {
		c.UnixSocket = sock
		c.UnixSocketPerm = 0o700
	})
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o700 {
		t.Fatalf("socket file: %v %v", fi, err)
	}
	uc := redis.NewClient(&redis.Options{Network: "unix", Addr: sock, Protocol: 2, DisableIdentity: true})
	defer uc.Close()
	ctx := context.Background()
	if err := uc.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING over the unix socket: %v", err)
	}
	// A unix client is local: protected mode lets it in with bind "".
	if err := rc.ConfigSet(ctx, "bind", "").Err(); err != nil {
		t.Fatal(err)
	}
	if err := uc.ConfigSet(ctx, "bind", "127.0.0.1").Err(); err != nil {
		t.Fatalf("CONFIG SET bind over the unix socket: %v", err)
	}
	_ = s
}

// TestOOMScoreAdj follows unit/oom-score-adj: the process's score follows
// the setting and returns to its own value with "no".
func TestOOMScoreAdj(t *testing.T) {
	if _, err := os.Stat(oomScoreFile); err != nil {
		t.Skip("no /proc/self/oom_score_adj")
	}
	read := func() int {
		data, _ := os.ReadFile(oomScoreFile)
		v, _ := strconv.Atoi(strings.TrimSpace(string(data)))
		return v
	}
	base := read()
	_, rc := testServer(t, nil)
	ctx := context.Background()
	if err := rc.ConfigSet(ctx, "oom-score-adj-values", "10 20 30").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rc.ConfigSet(ctx, "oom-score-adj", "absolute").Err(); err != nil {
		if strings.Contains(err.Error(), "Failed to set") {
			t.Skip("cannot write oom_score_adj here")
		}
		t.Fatal(err)
	}
	if got := read(); got != 10 {
		t.Errorf("absolute: oom_score_adj %d, want 10", got)
	}
	rc.ConfigSet(ctx, "oom-score-adj", "relative")
	if got := read(); got != min(base+10, 1000) {
		t.Errorf("relative: oom_score_adj %d, want %d", got, base+10)
	}
	rc.ConfigSet(ctx, "oom-score-adj", "no")
	if got := read(); got != base {
		t.Errorf("no: oom_score_adj %d, want the original %d", got, base)
	}
}

func TestServerConfigSet(t *testing.T) {
	s, rc := testServer(t, nil)
	if err := s.ConfigSet("maxmemory", "1mb", "dbfilename", "x.rdb", "notify-keyspace-events", "KEA"); err != nil {
		t.Fatal(err)
	}
	if got := configGet(t, rc, "dbfilename"); got != "x.rdb" {
		t.Errorf("dbfilename %q", got)
	}
	s.mu.Lock()
	mm, flags := s.cfg.MaxMemory, s.notifyFlags
	s.mu.Unlock()
	if mm != 1<<20 || flags&notifyKeyspace == 0 {
		t.Errorf("maxmemory %d notify %b", mm, flags)
	}
	err := s.ConfigSet("maxmemory", "2mb", "databases", "3")
	if err == nil || err.Error() != "ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config" {
		t.Errorf("immutable: %v", err)
	}
	if got := configGet(t, rc, "maxmemory"); got != "1048576" {
		t.Errorf("maxmemory %q after a failed ConfigSet", got)
	}
	if err := s.ConfigSet("maxmemory"); err == nil {
		t.Error("odd argument count accepted")
	}
}
