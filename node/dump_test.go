package node

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

func TestMigrate(t *testing.T) {
	ctx := context.Background()
	_, src := testServer(t, debugOn)
	dstSrv, dst := testServer(t, func(c *Config) { debugOn(c); c.RequirePass = "pw" })
	host, port, _ := net.SplitHostPort(dstSrv.Addr().String())
	populate(t, src)
	if err := dst.Do(ctx, "auth", "pw").Err(); err != nil {
		t.Fatal(err)
	}
	want := src.Do(ctx, "debug", "digest-value", "hash:ht", "zset:sl", "str:ttl").Val()

	cases := []struct {
		args []any
		want string
	}{
		{[]any{"migrate", host, port, "nosuch", 0, 1000, "auth", "pw"}, "NOKEY"},
		{[]any{"migrate", host, port, "str:ttl", 0, 1000}, "NOAUTH"},
		{[]any{"migrate", host, port, "str:ttl", 0, 1000, "auth", "pw"}, "OK"},
		{[]any{"migrate", host, port, "", 0, 1000, "auth", "pw", "keys", "hash:ht", "zset:sl"}, "OK"},
		{[]any{"migrate", host, port, "str:emb", 0, 1000, "auth", "pw", "copy"}, "OK"},
		{[]any{"migrate", host, port, "str:emb", 0, 1000, "auth", "pw", "copy"}, "BUSYKEY"},
		{[]any{"migrate", host, port, "str:emb", 0, 1000, "auth", "pw", "replace"}, "OK"},
		{[]any{"migrate", host, port, "x", 0, 1000, "keys", "a"}, "the key argument must be set to the empty string"},
		{[]any{"migrate", host, port, "x", "db", 1000}, "not an integer"},
		{[]any{"migrate", host, port, "x", 0, 1000, "bogus"}, "syntax error"},
	}
	for _, c := range cases {
		got, err := src.Do(ctx, c.args...).Result()
		s := ""
		if err != nil {
			s = err.Error()
		} else {
			s = got.(string)
		}
		if !strings.Contains(s, c.want) {
			t.Errorf("%v: %q, want %q", c.args, s, c.want)
		}
	}
	if n := src.Exists(ctx, "str:ttl", "hash:ht", "zset:sl", "str:emb").Val(); n != 0 {
		t.Errorf("%d migrated keys left at the source", n)
	}
	if got := dst.Do(ctx, "debug", "digest-value", "hash:ht", "zset:sl", "str:ttl").Val(); got == nil || strings.Join(toStrings(got), ",") != strings.Join(toStrings(want), ",") {
		t.Errorf("target values %v, source had %v", got, want)
	}
	if ttl := dst.TTL(ctx, "str:ttl").Val(); ttl <= 0 || ttl > time.Hour {
		t.Errorf("TTL at the target %v", ttl)
	}
	// Nothing listens on a closed port: IOERR.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	_, freePort, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	if err := src.Do(ctx, "migrate", "127.0.0.1", freePort, "str:raw", 0, 200).Err(); err == nil || !strings.HasPrefix(err.Error(), "IOERR") {
		t.Errorf("closed port: %v", err)
	}
}

func toStrings(v any) []string {
	var out []string
	if a, ok := v.([]any); ok {
		for _, e := range a {
			out = append(out, e.(string))
		}
	}
	return out
}
