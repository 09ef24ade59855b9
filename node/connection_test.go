package node

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestAdminRepliesAgainstRedis compares the node's replies with a real
// redis-server 7.0.15's for the deterministic parts of the connection
// and administration commands: errors, help texts, RESP2 and RESP3
// shapes, MEMORY USAGE of strings, DEBUG DIGEST.
func TestAdminRepliesAgainstRedis(t *testing.T) {
	ref := startRedisServer(t, "--enable-debug-command", "yes")
	s, _ := testServer(t, func(c *Config) { c.EnableDebugCommand = "yes" })
	node := s.Addr().String()
	long := strings.Repeat("x", 100)
	longer := strings.Repeat("y", 5000)
	scripts := map[string][][]string{
		"auth": {
			sargs("auth", "pw"), sargs("auth", "default", "anything"), sargs("auth", "nobody", "pw"),
			sargs("auth", "a", "b", "c"), sargs("ping"), sargs("echo", "hi"), sargs("ping", "a", "b"),
		},
		"hello errors": {
			sargs("hello", "4"), sargs("hello", "1"), sargs("hello", "abc"), sargs("hello", "3", "setname"),
			sargs("hello", "3", "foo"), sargs("hello", "2", "setname", "a b"), sargs("hello", "2", "auth", "x", "y"),
			sargs("hello", "2", "auth", "default"),
		},
		"client": {
			sargs("client", "getname"), sargs("client", "setname", "a b"), sargs("client", "setname", "a\nb"),
			sargs("client", "setname", "foo"), sargs("client", "getname"), sargs("client", "setname", ""),
			sargs("client", "getname"), sargs("client", "help"), sargs("client", "no-evict", "maybe"),
			sargs("client", "no-evict", "on"), sargs("client", "no-evict", "off"), sargs("client", "reply", "maybe"),
			sargs("client", "pause", "abc"), sargs("client", "pause", "-1"), sargs("client", "pause", "10", "reads"),
			sargs("client", "pause", "0", "write"), sargs("client", "unpause"), sargs("client", "kill"),
			sargs("client", "kill", "id", "10", "wrong_arg"), sargs("client", "kill", "id", "str"),
			sargs("client", "kill", "id", "-1"), sargs("client", "kill", "id", "0"),
			sargs("client", "kill", "type", "wrong_type"), sargs("client", "kill", "user", "wrong_user"),
			sargs("client", "kill", "skipme", "yes_or_no"), sargs("client", "kill", "1.2.3.4:5"),
			sargs("client", "kill", "addr", "1.2.3.4:5", "skipme", "no"), sargs("client", "kill", "user", "default", "type", "master"),
			sargs("client", "list", "type", "bad"), sargs("client", "list", "id", "abc"), sargs("client", "list", "id", "999999"),
			sargs("client", "list", "foo"), sargs("client", "list", "type", "master"), sargs("client", "list", "type", "pubsub"),
			sargs("client", "unblock", "abc"), sargs("client", "unblock", "1", "maybe"), sargs("client", "unblock", "999999"),
			sargs("client", "unblock", "999999", "error"), sargs("client", "nosuch"), sargs("client"),
		},
		"slowlog": {
			sargs("slowlog", "help"), sargs("slowlog", "get", "-2"), sargs("slowlog", "get", "abc"),
			sargs("slowlog", "reset"), sargs("slowlog", "len"), sargs("slowlog", "get", "0"), sargs("slowlog", "get"),
			sargs("slowlog", "get", "1", "2"), sargs("slowlog", "nosuch"),
		},
		"latency": {
			sargs("latency", "help"), sargs("latency", "reset"), sargs("latency", "latest"),
			sargs("latency", "history", "command"), sargs("latency", "graph", "command"),
			sargs("latency", "reset", "a", "b"), sargs("latency", "doctor"), sargs("latency", "help", "x"),
			sargs("latency", "histogram", "nosuch"),
		},
		"memory": {
			sargs("memory", "help"), sargs("memory", "usage", "nokey"),
			sargs("set", "int", "12345"), sargs("set", "emb", "bar"), sargs("set", "emb44", strings.Repeat("e", 44)),
			sargs("set", "raw", long), sargs("set", "raw5k", longer), sargs("set", strings.Repeat("k", 40), "v"),
			sargs("memory", "usage", "int"), sargs("memory", "usage", "emb"), sargs("memory", "usage", "emb44"),
			sargs("memory", "usage", "raw"), sargs("memory", "usage", "raw5k"), sargs("memory", "usage", strings.Repeat("k", 40)),
			sargs("memory", "usage", "emb", "samples", "10"), sargs("memory", "usage", "emb", "samples", "-1"),
			sargs("memory", "usage", "emb", "samples", "x"), sargs("memory", "usage", "emb", "samples"),
			sargs("memory", "usage", "emb", "foo", "1"), sargs("memory", "purge"), sargs("memory", "nosuch"),
		},
		"debug": {
			sargs("debug", "help"), sargs("debug", "nosuch"), sargs("debug", "object", "nokey"),
			sargs("debug", "sdslen", "nokey"), sargs("debug", "listpack", "nokey"),
			sargs("debug", "digest"), sargs("debug", "digest-value", "nokey"),
			sargs("set", "a", "1"), sargs("set", "b", "hello"), sargs("set", "c", long),
			sargs("pexpire", "c", "1000000"), sargs("select", "3"), sargs("set", "a", "1"), sargs("select", "0"),
			sargs("debug", "digest"), sargs("debug", "digest-value", "a", "b", "c", "nokey"),
			sargs("debug", "listpack", "a"), sargs("debug", "quicklist", "a"), sargs("debug", "sdslen", "a"),
			sargs("debug", "htstats", "99"), sargs("debug", "htstats", "x"), sargs("debug", "htstats-key", "a"),
			sargs("debug", "error", "MYERR some\nthing"), sargs("debug", "structsize"), sargs("debug", "sleep", "0"),
			sargs("debug", "sleep", "0.001"), sargs("debug", "set-active-expire", "1"), sargs("debug", "log", "hello"),
			sargs("debug", "quicklist-packed-threshold", "5gb"), sargs("debug", "quicklist-packed-threshold", "x"),
			sargs("debug", "quicklist-packed-threshold", "0"), sargs("debug", "set-skip-checksum-validation", "0"),
			sargs("debug", "replybuffer", "peak-reset-time", "reset"), sargs("debug", "replybuffer", "foo", "1"),
			sargs("debug", "replybuffer", "peak-reset-time", "x"),
			sargs("debug", "populate", "-1"), sargs("debug", "populate", "x"), sargs("debug", "populate", "10", "p", "x"),
			sargs("debug", "populate", "100"), sargs("debug", "populate", "10", "pre", "30"), sargs("debug", "populate", "5", "big", "3"),
			sargs("dbsize"), sargs("get", "pre:3"), sargs("get", "big:1"), sargs("get", "key:42"), sargs("debug", "digest"),
			sargs("debug", "reload", "foo"), sargs("debug", "clusterlink", "kill", "to", "x"),
			sargs("debug", "drop-cluster-packet-filter", "x"), sargs("debug", "drop-cluster-packet-filter", "1"),
			sargs("debug", "set-disable-deny-scripts", "0"),
		},
		"protocol resp2": {
			sargs("debug", "protocol", "string"), sargs("debug", "protocol", "integer"), sargs("debug", "protocol", "double"),
			sargs("debug", "protocol", "bignum"), sargs("debug", "protocol", "null"), sargs("debug", "protocol", "array"),
			sargs("debug", "protocol", "set"), sargs("debug", "protocol", "map"), sargs("debug", "protocol", "attrib"),
			sargs("debug", "protocol", "push"), sargs("debug", "protocol", "true"), sargs("debug", "protocol", "false"),
			sargs("debug", "protocol", "verbatim"), sargs("debug", "protocol", "nosuch"),
		},
		"protocol resp3": {
			sargs("hello", "3", "setname", "x"),
			sargs("debug", "protocol", "string"), sargs("debug", "protocol", "integer"), sargs("debug", "protocol", "double"),
			sargs("debug", "protocol", "bignum"), sargs("debug", "protocol", "null"), sargs("debug", "protocol", "array"),
			sargs("debug", "protocol", "set"), sargs("debug", "protocol", "map"), sargs("debug", "protocol", "attrib"),
			sargs("debug", "protocol", "push"), sargs("debug", "protocol", "true"), sargs("debug", "protocol", "false"),
			sargs("debug", "protocol", "verbatim"), sargs("client", "getname"), sargs("slowlog", "get", "0"),
			sargs("memory", "usage", "nokey"), sargs("reset"), sargs("client", "getname"), sargs("debug", "protocol", "null"),
		},
		"admin": {
			sargs("wait", "0", "0"), sargs("wait", "abc", "0"), sargs("wait", "0", "-1"), sargs("wait", "0", "x"),
			sargs("wait", "-5", "0"), sargs("shutdown", "abort"), sargs("shutdown", "save", "nosave"),
			sargs("shutdown", "foo"), sargs("shutdown", "abort", "now"), sargs("time", "x"), sargs("lastsave", "x"),
		},
		"reset": {
			sargs("client", "setname", "n1"), sargs("select", "5"), sargs("client", "no-evict", "on"),
			sargs("reset"), sargs("client", "getname"), sargs("set", "in0", "1"), sargs("select", "0"), sargs("get", "in0"),
		},
	}
	hidden := regexp.MustCompile(`id\r\n:\d+`)
	norm := func(r string) string { return hidden.ReplaceAllString(r, "id\r\n:N") }
	for name, script := range scripts {
		t.Run(name, func(t *testing.T) {
			for _, a := range []string{node, ref} {
				rc := dialRESP(t, a)
				rc.do("flushall")
				rc.do("slowlog", "reset")
			}
			diffScript(t, node, ref, script, norm)
		})
	}
}

func TestAuth(t *testing.T) {
	s, _ := testServer(t, func(c *Config) { c.RequirePass = "secret" })
	rc := dialRESP(t, s.Addr().String())
	steps := []struct {
		cmd  []string
		want string
	}{
		{sargs("get", "k"), "-NOAUTH Authentication required.\r\n"},
		{sargs("hello", "3"), "-" + errHelloNoAuth + "\r\n"},
		{sargs("auth", "wrong"), "-" + errWrongPass + "\r\n"},
		{sargs("auth", "other", "secret"), "-" + errWrongPass + "\r\n"},
		{sargs("ping"), "-NOAUTH Authentication required.\r\n"},
		{sargs("auth", "secret"), "+OK\r\n"},
		{sargs("ping"), "+PONG\r\n"},
		{sargs("reset"), "+RESET\r\n"},
		{sargs("ping"), "-NOAUTH Authentication required.\r\n"},
		{sargs("auth", "default", "secret"), "+OK\r\n"},
		{sargs("reset"), "+RESET\r\n"},
		{sargs("hello", "2", "auth", "default", "bad"), "-" + errWrongPass + "\r\n"},
		{sargs("hello", "2", "auth", "default", "secret", "setname", "me"), ""},
		{sargs("client", "getname"), "$2\r\nme\r\n"},
	}
	for _, st := range steps {
		got := rc.do(st.cmd...)
		if st.want != "" && got != st.want {
			t.Errorf("%q = %q, want %q", st.cmd, got, st.want)
		}
	}

	// A client connected while there was no password stays authenticated
	// when one is set, and one connected with a password needs none once
	// it is removed, as in Redis.
	s2, rc2 := testServer(t, nil)
	ctx := context.Background()
	if err := rc2.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	s2.mu.Lock()
	s2.cfg.RequirePass = "pw"
	s2.mu.Unlock()
	if err := rc2.Ping(ctx).Err(); err != nil {
		t.Fatalf("connected client lost its authentication: %v", err)
	}
	late := dialRESP(t, s2.Addr().String())
	if got := late.do("ping"); !strings.HasPrefix(got, "-NOAUTH") {
		t.Fatalf("new client without AUTH: %q", got)
	}
	// Before AUTH, requests bigger than Redis allows are protocol errors.
	late.nc.Write([]byte("*20\r\n"))
	if got := late.read(); got != "-ERR Protocol error: unauthenticated multibulk length\r\n" {
		t.Fatalf("big request before AUTH: %q", got)
	}
}

func TestHello(t *testing.T) {
	s, _ := testServer(t, nil)
	rc := dialRESP(t, s.Addr().String())
	id := strings.TrimSuffix(strings.TrimPrefix(rc.do("client", "id"), ":"), "\r\n")
	want3 := "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:" + id +
		"\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n"
	if got := rc.do("hello", "3"); got != want3 {
		t.Fatalf("HELLO 3 = %q, want %q", got, want3)
	}
	if got := rc.do("hello"); !strings.HasPrefix(got, "%7\r\n") || !strings.Contains(got, "proto\r\n:3") {
		t.Fatalf("HELLO without version keeps RESP3: %q", got)
	}
	if got := rc.do("hello", "2"); !strings.HasPrefix(got, "*14\r\n") || !strings.Contains(got, "proto\r\n:2") {
		t.Fatalf("HELLO 2 = %q", got)
	}
	// go-redis opens RESP3 connections with HELLO 3.
	r3 := newClient(t, s, 3)
	if v, err := r3.Do(context.Background(), "debug", "protocol", "true").Result(); err == nil || v != nil {
		// DEBUG is disabled by default: the error proves the connection works.
		if err == nil || !strings.Contains(err.Error(), "DEBUG command not allowed") {
			t.Fatalf("DEBUG through a RESP3 client: %v, %v", v, err)
		}
	}
}

func TestQuit(t *testing.T) {
	s, rc := testServer(t, nil)
	c := dialRESP(t, s.Addr().String())
	c.send("quit")
	c.send("set", "foo", "bar")
	if got := c.read(); got != "+OK\r\n" {
		t.Fatalf("QUIT = %q", got)
	}
	if _, err := readRawReply(c.r); err == nil {
		t.Fatal("connection still open after QUIT")
	}
	if n, err := rc.Exists(context.Background(), "foo").Result(); err != nil || n != 0 {
		t.Fatalf("a request after QUIT ran: exists=%d %v", n, err)
	}
}

func TestReset(t *testing.T) {
	s, _ := testServer(t, nil)
	c := dialRESP(t, s.Addr().String())
	c.do("hello", "3", "setname", "me")
	c.do("select", "4")
	c.do("client", "no-evict", "on")
	if got := c.do("reset"); got != "+RESET\r\n" {
		t.Fatalf("RESET = %q", got)
	}
	info := c.do("client", "info")
	// RESET keeps CLIENT NO-EVICT, as Redis.
	for _, want := range []string{" name= ", " db=0 ", " resp=2", " flags=e "} {
		if !strings.Contains(info, want) {
			t.Errorf("after RESET, CLIENT INFO %q lacks %q", info, want)
		}
	}
	if got := c.do("client", "getname"); got != "$-1\r\n" {
		t.Errorf("name after RESET = %q", got)
	}
}

func TestMaxClients(t *testing.T) {
	s, rc := testServer(t, func(c *Config) { c.MaxClients = 2 })
	ctx := context.Background()
	if err := rc.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	second := dialRESP(t, s.Addr().String())
	if got := second.do("ping"); got != "+PONG\r\n" {
		t.Fatalf("second client: %q", got)
	}
	third := dialRESP(t, s.Addr().String())
	third.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, _ := third.r.ReadString('\n')
	if line != "-ERR max number of clients reached\r\n" {
		t.Fatalf("third client got %q", line)
	}
	if _, err := third.r.ReadByte(); err == nil {
		t.Fatal("refused connection left open")
	}
}

func TestSecurityAttackClosesConnection(t *testing.T) {
	s, _ := testServer(t, nil)
	for _, req := range []string{"POST / HTTP/1.1\r\n", "Host: example.com\r\n"} {
		out, closed := rawExchange(t, s.Addr().String(), []byte(req+"PING\r\n"), 2*time.Second)
		if len(out) != 0 || !closed {
			t.Errorf("%q: replied %q, closed %v; want no reply and a close", req, out, closed)
		}
	}
}

func sargs(a ...string) []string { return a }

// newRedisClientNamed opens a go-redis client whose connection has a name.
func newRedisClientNamed(t *testing.T, s *Server, name string) *redis.Client {
	t.Helper()
	rc := redis.NewClient(&redis.Options{Addr: s.Addr().String(), Protocol: 2, DisableIdentity: true, ClientName: name, PoolSize: 1})
	t.Cleanup(func() { rc.Close() })
	if err := rc.Ping(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	return rc
}
