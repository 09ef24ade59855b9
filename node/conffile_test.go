package node

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSplitConfigArgs(t *testing.T) {
	tests := []struct {
		line string
		want []string
		ok   bool
	}{
		{"", nil, true},
		{"   ", nil, true},
		{"port 6379", []string{"port", "6379"}, true},
		{"  save  900   1 ", []string{"save", "900", "1"}, true},
		{`dir "/tmp/a b"`, []string{"dir", "/tmp/a b"}, true},
		{`x "a\x41\n\t\"\\"`, []string{"x", "aA\n\t\"\\"}, true},
		{`x "\xZZ"`, []string{"x", "xZZ"}, true},
		{`x 'it\'s'`, []string{"x", "it's"}, true},
		{`x 'a\nb'`, []string{"x", `a\nb`}, true},
		{`x ""`, []string{"x", ""}, true},
		{`x ''`, []string{"x", ""}, true},
		{`x a"b"`, []string{"x", "ab"}, true},
		{`x "a"b`, nil, false},
		{`x 'a'b`, nil, false},
		{`x "unterminated`, nil, false},
		{`x 'unterminated`, nil, false},
		{"a\tb\rc", []string{"a", "b", "c"}, true},
	}
	for _, tt := range tests {
		got, ok := splitConfigArgs(tt.line)
		if ok != tt.ok || !slices.Equal(got, tt.want) {
			t.Errorf("splitConfigArgs(%q) = %q, %v; want %q, %v", tt.line, got, ok, tt.want, tt.ok)
		}
	}
}

func TestReprStringRoundTrip(t *testing.T) {
	for _, s := range []string{"", "plain", "a b", "q\"uote", `back\slash`, "nl\n\r\t\a\b", "\x00\x01\xff", "é"} {
		line := "x " + reprString(s)
		got, ok := splitConfigArgs(line)
		if !ok || len(got) != 2 || got[1] != s {
			t.Errorf("round trip of %q via %q = %q, %v", s, line, got, ok)
		}
	}
}

func TestMemToUint(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"0", 0, true},
		{"", 0, true},
		{"100", 100, true},
		{"1b", 1, true},
		{"1k", 1000, true},
		{"1kb", 1024, true},
		{"1KB", 1024, true},
		{"2m", 2000000, true},
		{"2mb", 2 << 20, true},
		{"3g", 3000000000, true},
		{"3gb", 3 << 30, true},
		{"-1", 0, false},
		{"1tb", 0, false},
		{"1 mb", 0, false},
		{"+5", 0, false},
		{"abc", 0, false},
		{"18446744073709551615", 18446744073709551615, true},
		{"18446744073709551616", 18446744073709551615, true}, // saturates as strtoull
	}
	for _, tt := range tests {
		got, ok := memToUint(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("memToUint(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseLL(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"-1", -1, true}, {"123", 123, true},
		{"9223372036854775807", 9223372036854775807, true},
		{"-9223372036854775808", -9223372036854775808, true},
		{"9223372036854775808", 0, false}, {"01", 0, false}, {"+1", 0, false},
		{" 1", 0, false}, {"1 ", 0, false}, {"", 0, false}, {"-", 0, false}, {"-0", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseLL(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseLL(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// loadString parses config text with no file system behind it.
func loadString(text string) (*Config, error) {
	c := DefaultConfig()
	ld := &configLoader{}
	err := ld.load(c, text, func(int) string { return "test.conf" })
	return c, err
}

func TestConfigFileGood(t *testing.T) {
	text := `# a comment
   # indented comment

port 7777
bind 127.0.0.1 ::1
maxmemory 100mb
maxmemory-policy ALLKEYS-LRU
save 900 1
save 300 10
client-output-buffer-limit normal 1mb 512kb 10
hash-max-ziplist-entries 99
slaveof 10.0.0.1 6380
notify-keyspace-events "KEA"
requirepass "sec ret"
list-max-ziplist-entries 5
lua-replicate-commands yes
sentinel
appendfsync always
shutdown-on-sigterm "nosave now"
latency-tracking-info-percentiles 50 99.9
hz 100000
unixsocketperm 700
maxmemory-clients 10%
`
	c, err := loadString(text)
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string]string{
		"port":                              "7777",
		"bind":                              "127.0.0.1 ::1",
		"maxmemory":                         "104857600",
		"maxmemory-policy":                  "allkeys-lru",
		"save":                              "900 1 300 10",
		"client-output-buffer-limit":        "normal 1048576 524288 10 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
		"hash-max-listpack-entries":         "99",
		"hash-max-ziplist-entries":          "99",
		"replicaof":                         "10.0.0.1 6380",
		"slaveof":                           "10.0.0.1 6380",
		"notify-keyspace-events":            "AKE",
		"requirepass":                       "sec ret",
		"appendfsync":                       "always",
		"shutdown-on-sigterm":               "nosave now",
		"latency-tracking-info-percentiles": "50 99.9",
		"hz":                                "500",
		"unixsocketperm":                    "700",
		"maxmemory-clients":                 "10%",
	}
	for name, want := range checks {
		if got, _ := c.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if c.MaxMemory != 100<<20 || c.MaxMemoryPolicy != "allkeys-lru" || c.Port != 7777 || c.RequirePass != "sec ret" {
		t.Errorf("fields not set: %+v", c)
	}
}

func TestConfigFileErrors(t *testing.T) {
	tests := []struct {
		text string
		line int
		want string
	}{
		{"port 1\nfoo bar\n", 2, "Bad directive or wrong number of arguments"},
		{"port\n", 1, "wrong number of arguments"},
		{"port 1 2\n", 1, "wrong number of arguments"},
		{"port abc\n", 1, "argument couldn't be parsed into an integer"},
		{"port 70000\n", 1, "argument must be between 0 and 65535 inclusive"},
		{"maxmemory lots\n", 1, "argument must be a memory value"},
		{"appendonly maybe\n", 1, "argument must be 'yes' or 'no'"},
		{"loglevel loud\n", 1, "argument(s) must be one of the following: debug, verbose, notice, warning"},
		{"dir \"/tmp\n", 1, "Unbalanced quotes in configuration line"},
		{"\n\n\nsave 1\n", 4, "Invalid save parameters"},
		{"save 0 1\n", 1, "Invalid save parameters"},
		{"client-output-buffer-limit normal 0 0\n", 1, "Wrong number of arguments in buffer limit configuration."},
		{"client-output-buffer-limit master 0 0 0\n", 1, "Invalid client class specified in buffer limit configuration."},
		{"client-output-buffer-limit normal x 0 0\n", 1, "Error in hard, soft or soft_seconds setting in buffer limit configuration."},
		{"notify-keyspace-events Q\n", 1, "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."},
		{"replicaof host port\n", 1, "Invalid master port"},
		{"shutdown-on-sigint save nosave\n", 1, "shutdown options SAVE and NOSAVE can't be used simultaneously"},
		{"dbfilename a/b\n", 1, "dbfilename can't be a path, just a filename"},
		{"latency-tracking-info-percentiles 101\n", 1, "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"},
		{"sentinel monitor x\n", 1, "sentinel directive while not in sentinel mode"},
		{"loadmodule /x.so\n", 1, "Module /x.so failed to load: modules are not supported by this server"},
		{"mymod.opt 1\n", 1, "Module Configuration detected without loadmodule directive or no ApplyConfig call: aborting"},
		{"rename-command nosuchcmd x\n", 1, "No such command in rename-command"},
		{"include /x.conf\n", 0, "Fatal error, can't open config file '/x.conf': includes are not allowed here"},
		{"list-max-ziplist-entries 1 2\n", 1, "Bad directive or wrong number of arguments"},
		{"maxmemory-clients 101%\n", 1, "percentage argument must be less or equal to 100"},
		{"unixsocketperm 1000\n", 1, "argument must be between 0 and 777 inclusive"},
		{"maxclients 0\n", 1, "argument must be between 1 and 4294967295 inclusive"},
	}
	for _, tt := range tests {
		_, err := loadString(tt.text)
		var ce *ConfigError
		if !errors.As(err, &ce) {
			t.Errorf("%q: error %v, want a ConfigError", tt.text, err)
			continue
		}
		if ce.Line != tt.line || ce.Msg != tt.want {
			t.Errorf("%q: line %d %q, want line %d %q", tt.text, ce.Line, ce.Msg, tt.line, tt.want)
		}
		if tt.line > 0 && ce.File != "test.conf" {
			t.Errorf("%q: file %q, want test.conf", tt.text, ce.File)
		}
	}
}

func TestConfigErrorReport(t *testing.T) {
	e := &ConfigError{File: "/etc/r.conf", Line: 3, Text: "foo bar", Msg: "Bad directive or wrong number of arguments"}
	want := "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file /etc/r.conf, at line 3\n>>> 'foo bar'\nBad directive or wrong number of arguments"
	if e.Error() != want {
		t.Errorf("report:\n%s\nwant:\n%s", e.Error(), want)
	}
}

// TestParseArgs follows redis-server's command-line handling, including
// the cases its own test suite checks (introspection.tcl).
func TestParseArgs(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "r.conf")
	if err := os.WriteFile(file, []byte("port 1111\nsave 900 1\nloglevel warning\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want map[string]string
		err  string // substring of the error report
	}{
		{args: []string{"--port", "7777", "--dir", dir}, want: map[string]string{"port": "7777", "dir": dir}},
		{args: []string{file}, want: map[string]string{"port": "1111", "save": "900 1", "loglevel": "warning"}},
		{args: []string{file, "--port", "2222", "--save", "100", "100"}, want: map[string]string{"port": "2222", "save": "900 1 100 100"}},
		{args: []string{file, "--save", ""}, want: map[string]string{"save": ""}},
		{args: []string{"--save", "--loglevel", "verbose"}, want: map[string]string{"save": "", "loglevel": "verbose"}},
		{args: []string{"--loglevel", "verbose", "--save"}, want: map[string]string{"save": "", "loglevel": "verbose"}},
		{args: []string{"--save", "900 1 300 10"}, want: map[string]string{"save": "900 1 300 10"}},
		{args: []string{"--maxmemory 700mb", "--maxmemory-policy volatile-lru"}, want: map[string]string{"maxmemory": "734003200", "maxmemory-policy": "volatile-lru"}},
		{args: []string{"--proc-title-template", "--my--title--template {title}", "--loglevel", "verbose"}, want: map[string]string{"proc-title-template": "--my--title--template {title}"}},
		{args: []string{"--proc-title-template", "--save", "--save", "", "--loglevel", "verbose"}, want: map[string]string{"proc-title-template": "--save", "save": ""}},
		{args: []string{"--shutdown-on-sigint", "nosave", "force", "now", "--shutdown-on-sigterm", "nosave force"}, want: map[string]string{"shutdown-on-sigint": "nosave now force", "shutdown-on-sigterm": "nosave force"}},
		{args: []string{"--client-output-buffer-limit", "normal 0 0 0 pubsub 1mb 1mb 1"}, want: map[string]string{"client-output-buffer-limit": "normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 1048576 1"}},
		{args: []string{"--enable-debug-command", "yes", "--enable-protected-configs", "yes", "--enable-module-command", "local"}, want: map[string]string{"enable-debug-command": "yes", "enable-module-command": "local"}},
		{args: []string{"--port"}, err: "'port'\nwrong number of arguments"},
		{args: []string{"--port", "6380", "--loglevel"}, err: "'loglevel'\nwrong number of arguments"},
		{args: []string{"--port", "6379", "6380"}, err: `'port "6379" "6380"'` + "\nwrong number of arguments"},
		{args: []string{"--port", "--loglevel", "verbose"}, err: `'port "--loglevel" "verbose"'` + "\nwrong number of arguments"},
		{args: []string{"--port", "--bla", "--loglevel", "verbose"}, err: `'port "--bla"'` + "\nargument couldn't be parsed into an integer"},
		{args: []string{"--logfile", "--my--log--file", "--loglevel", "--bla"}, err: `'loglevel "--bla"'` + "\nargument(s) must be one of the following"},
		{args: []string{"--shutdown-on-sigint"}, err: "'shutdown-on-sigint'\nargument(s) must be one of the following"},
		{args: []string{"--replicaof", "127.0.0.1", "abc"}, err: `'replicaof "127.0.0.1" "abc"'` + "\nInvalid master port"},
		{args: []string{"--replicaof", "--127.0.0.1", "--abc"}, err: `'replicaof "--127.0.0.1"'` + "\nwrong number of arguments"},
		{args: []string{"--nosuch", "1"}, err: "at line 2\n>>> 'nosuch \"1\"'\nBad directive or wrong number of arguments"},
		{args: []string{filepath.Join(dir, "missing.conf")}, err: "can't open config file"},
		{args: []string{"--dir", file}, err: "Not a directory"},
	}
	for _, tt := range tests {
		cfg, err := ParseArgs(tt.args, new(strings.Builder), strings.NewReader(""))
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: error %v, want one containing %q", tt.args, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.args, err)
			continue
		}
		for k, v := range tt.want {
			if got, _ := cfg.Get(k); got != v {
				t.Errorf("%q: %s = %q, want %q", tt.args, k, got, v)
			}
		}
	}
}

func TestParseArgsVersionHelpStdin(t *testing.T) {
	var out strings.Builder
	cfg, err := ParseArgs([]string{"--version"}, &out, nil)
	if cfg != nil || err != nil || !strings.Contains(out.String(), "v=7.0.15") {
		t.Errorf("--version: %v %v %q", cfg, err, out.String())
	}
	out.Reset()
	if _, err := ParseArgs([]string{"-h"}, &out, nil); !errors.Is(err, ErrUsage) || !strings.Contains(out.String(), "Usage:") {
		t.Errorf("-h: %v %q", err, out.String())
	}
	cfg, err = ParseArgs([]string{"--port", "5", "-"}, &out, strings.NewReader("maxmemory 1mb\nport 6\n"))
	if err != nil {
		t.Fatal(err)
	}
	// stdin comes before the options: --port wins.
	if cfg.Port != 5 || cfg.MaxMemory != 1<<20 {
		t.Errorf("stdin: port %d maxmemory %d", cfg.Port, cfg.MaxMemory)
	}
}

func TestConfigInclude(t *testing.T) {
	dir := t.TempDir()
	inc := filepath.Join(dir, "inc.conf")
	confd := filepath.Join(dir, "conf.d")
	os.Mkdir(confd, 0o755)
	os.WriteFile(inc, []byte("maxmemory 2mb\n"), 0o644)
	os.WriteFile(filepath.Join(confd, "a.conf"), []byte("hz 20\n"), 0o644)
	os.WriteFile(filepath.Join(confd, "b.conf"), []byte("\nnot-a-directive 1\n"), 0o644)
	main := filepath.Join(dir, "main.conf")
	os.WriteFile(main, []byte("include "+inc+"\ninclude "+filepath.Join(dir, "empty.d", "*.conf")+"\nport 3\n"), 0o644)
	c, err := LoadConfig(main, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxMemory != 2<<20 || c.Port != 3 || c.ConfigFile != main {
		t.Errorf("include: maxmemory %d port %d file %q", c.MaxMemory, c.Port, c.ConfigFile)
	}
	// An error in an included file names that file and its line.
	os.WriteFile(main, []byte("include "+filepath.Join(confd, "*.conf")+"\n"), 0o644)
	_, err = LoadConfig(main, nil, "")
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.File != filepath.Join(confd, "*.conf") || ce.Line != 3 {
		t.Errorf("error in include: %v", err)
	}
	// A cycle is refused, not followed forever.
	os.WriteFile(main, []byte("include "+main+"\n"), 0o644)
	if _, err := LoadConfig(main, nil, ""); err == nil || !strings.Contains(err.Error(), "include nesting") {
		t.Errorf("include cycle: %v", err)
	}
}

func TestConfigRewrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "r.conf")
	orig := `# My config
port 1234
# keep this comment
save 900 1
save 300 10
unknown-thing here
hash-max-ziplist-entries 20
maxmemory 1mb
`
	os.WriteFile(path, []byte(orig), 0o644)
	c := DefaultConfig()
	if err := (&configLoader{}).load(c, "port 1234\nsave 900 1\nsave 300 10\nhash-max-ziplist-entries 20\nmaxmemory 1mb\n", func(int) string { return path }); err != nil {
		t.Fatal(err)
	}
	c.Port = 4321
	c.Save = []SaveParam{{60, 5}}
	c.HashMaxListpackEntries = 100
	c.MaxMemory = 0
	c.MaxMemoryPolicy = "allkeys-lfu"
	c.NotifyKeyspaceEvents, c.notifyFlags = "xE", notifyExpired|notifyKeyevent
	if err := rewriteConfig(c, path, false); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	want := `# My config
port 4321
# keep this comment
save 60 5

# ??? unknown-thing here
hash-max-listpack-entries 100
maxmemory 0

# Generated by CONFIG REWRITE
maxmemory-policy allkeys-lfu
dir "` + absDir(".") + `"
notify-keyspace-events "xE"
latency-tracking-info-percentiles 50 99 99.9
`
	if string(got) != want {
		t.Errorf("rewritten file:\n%s\nwant:\n%s", got, want)
	}
	// The rewritten file loads back to the same values.
	c2, err := LoadConfig(path, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range configParams {
		if p.name == "dir" {
			continue
		}
		if a, b := p.kind.get(c), p.kind.get(c2); a != b {
			t.Errorf("%s: %q after reload, want %q", p.name, b, a)
		}
	}
}

// TestConfigRewriteForceAll writes every parameter and reads it back: the
// check CONFIG REWRITE sanity makes on a restarted server.
func TestConfigRewriteForceAll(t *testing.T) {
	path := filepath.Join(t.TempDir(), "all.conf")
	c := DefaultConfig()
	c.Dir = t.TempDir()
	if err := rewriteConfig(c, path, true); err != nil {
		t.Fatal(err)
	}
	c2, err := LoadConfig(path, nil, "")
	if err != nil {
		data, _ := os.ReadFile(path)
		t.Fatalf("%v\n%s", err, data)
	}
	for _, p := range configParams {
		if a, b := p.kind.get(c), p.kind.get(c2); a != b {
			t.Errorf("%s: %q after reload, want %q", p.name, b, a)
		}
	}
}

// FuzzConfigParse feeds arbitrary text to the config parser: it must
// return a value or a ConfigError, never panic or hang.
func FuzzConfigParse(f *testing.F) {
	for _, s := range []string{
		"port 6379\nsave 900 1\n",
		"save \"\"\nbind \"\"\n",
		"client-output-buffer-limit normal 0 0 0 replica 1gb 1gb 0\n",
		"notify-keyspace-events \"\\x41KE\"\n",
		"maxmemory-clients 10%\nunixsocketperm 0777\n",
		"include x\nrename-command get \"\"\n",
		"'unbalanced\n",
		"latency-tracking-info-percentiles \"1 2 inf\"\n",
		"replicaof no one\nshutdown-on-sigint \"save now\"\n",
		"proc-title-template \"{{title}} {title}\"\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		c := DefaultConfig()
		err := (&configLoader{}).load(c, text, func(int) string { return "fuzz.conf" })
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error %T %v is not a ConfigError", err, err)
			}
			return
		}
		// Whatever loaded must read back as a value CONFIG GET can give.
		for _, p := range configParams {
			_ = p.kind.get(c)
		}
	})
}

// TestConfigFileErrorsMatchRedis feeds bad config files to redis-server
// 7.0.15 and to the node's loader and compares line, text and reason.
func TestConfigFileErrorsMatchRedis(t *testing.T) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is required in CI")
		}
		t.Skip("redis-server not installed")
	}
	dir := t.TempDir()
	texts := []string{
		"port 1\nfoo bar\n",
		"port\n",
		"port 1 2\n",
		"  port   abc  \n",
		"maxmemory 1zb\n",
		"appendonly 1\n",
		"loglevel loud\n",
		"dir \"/tmp\n",
		"dir '/tmp'x\n",
		"# c\n\nsave 1\n",
		"save 0 1\n",
		"save \"1 a\"\n",
		"client-output-buffer-limit normal 0 0\n",
		"client-output-buffer-limit master 0 0 0\n",
		"notify-keyspace-events Q\n",
		"replicaof host port\n",
		"slaveof a b c\n",
		"shutdown-on-sigint save nosave\n",
		"shutdown-on-sigint \"save bogus\"\n",
		"dbfilename a/b\n",
		"latency-tracking-info-percentiles 101\n",
		"latency-tracking-info-percentiles 1 x\n",
		"sentinel monitor x\n",
		"rename-command nosuchcmd x\n",
		"rename-command get set\n",
		"list-max-ziplist-entries 1 2\n",
		"maxmemory-clients 101%\n",
		"unixsocketperm 1000\n",
		"unixsocketperm 9\n",
		"maxclients 0\n",
		"hz abc\n",
		"bind 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n",
		"oom-score-adj-values 1 2\n",
		"proc-title-template \"{nope}\"\n",
		"appendfilename \"\"\n",
		"appenddirname a/b\n",
		"cluster-announce-hostname a_b\n",
		"enable-debug-command maybe\n",
		"MAXMEMORY 1x\n",
	}
	for i, text := range texts {
		path := filepath.Join(dir, fmt.Sprintf("c%d.conf", i))
		os.WriteFile(path, []byte(text), 0o644)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, _ := exec.CommandContext(ctx, bin, path).CombinedOutput()
		cancel()
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) < 4 || !strings.Contains(string(out), "FATAL CONFIG FILE ERROR") {
			t.Errorf("%q: redis-server did not refuse it: %s", text, out)
			continue
		}
		n := len(lines)
		wantLine, wantText, wantMsg := lines[n-3], lines[n-2], lines[n-1]
		_, err := LoadConfig(path, nil, "")
		var ce *ConfigError
		if !errors.As(err, &ce) {
			t.Errorf("%q: node accepted it (%v); redis: %s", text, err, wantMsg)
			continue
		}
		gotLine := fmt.Sprintf("Reading the configuration file, at line %d", ce.Line)
		gotText := ">>> '" + ce.Text + "'"
		if gotLine != wantLine || gotText != wantText || ce.Msg != wantMsg {
			t.Errorf("%q:\n  redis: %s | %s | %s\n  node:  %s | %s | %s", text, wantLine, wantText, wantMsg, gotLine, gotText, ce.Msg)
		}
	}
}
