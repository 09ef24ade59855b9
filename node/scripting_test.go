package node

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestEvalReplies(t *testing.T) {
	s, rc := testServer(t, nil)
	ctx := context.Background()
	rc.Set(ctx, "mykey", "myval", 0)
	cases := []struct {
		script string
		keys   []string
		args   []any
		want   any
	}{
		{"return 'hello'", nil, nil, "hello"},
		{"return 100.5", nil, nil, int64(100)},
		{"return {1,2,3,'ciao',{1,2}}", nil, nil, []any{int64(1), int64(2), int64(3), "ciao", []any{int64(1), int64(2)}}},
		{"return {1,2,nil,3}", nil, nil, []any{int64(1), int64(2)}},
		{"return {KEYS[1],KEYS[2],ARGV[1],ARGV[2]}", []string{"a", "b"}, []any{"c", "d"}, []any{"a", "b", "c", "d"}},
		{"return redis.call('get',KEYS[1])", []string{"mykey"}, nil, "myval"},
		{"return {ok='fine'}", nil, nil, "fine"},
		{"local foo = redis.pcall('incr',KEYS[1]); return {type(foo),foo['err']}", []string{"mykey"}, nil, []any{"table", "ERR value is not an integer or out of range"}},
		{"return redis.sha1hex('Pizza & Mandolino')", nil, nil, "74822d82031af7493c20eefa13bd07ec4fada82f"},
	}
	for _, c := range cases {
		got, err := rc.Eval(ctx, c.script, c.keys, c.args...).Result()
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: %#v, %v; want %#v", c.script, got, err, c.want)
		}
	}
	if _, err := rc.Eval(ctx, "return false", nil).Result(); err != redis.Nil {
		t.Errorf("false: %v, want nil reply", err)
	}
	if err := rc.Eval(ctx, "return {err='MYCODE custom'}", nil).Err(); err == nil || err.Error() != "MYCODE custom" {
		t.Errorf("error table: %v", err)
	}
	// RESP3: a script that selects RESP3 returns maps, sets, booleans.
	r3 := newClient(t, s, 3)
	m, err := r3.Eval(ctx, "redis.setresp(3); return {map={a=1}}", nil).Result()
	if err != nil || !reflect.DeepEqual(m, map[any]any{"a": int64(1)}) {
		t.Errorf("RESP3 map: %#v, %v", m, err)
	}
	b, err := r3.Eval(ctx, "redis.setresp(3); return false", nil).Result()
	if err != nil || b != false {
		t.Errorf("RESP3 false: %#v, %v", b, err)
	}
	r3.HSet(ctx, "h", "field", "value")
	for resp, want := range map[int]any{3: map[any]any{"field": "value"}, 2: []any{"field", "value"}} {
		got, err := r3.Eval(ctx, fmt.Sprintf("redis.setresp(%d); return redis.call('hgetall', KEYS[1])", resp), []string{"h"}).Result()
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("hgetall with setresp(%d): %#v, %v", resp, got, err)
		}
	}
}

func TestEvalErrorsAndCache(t *testing.T) {
	_, rc := testServer(t, nil)
	ctx := context.Background()
	// want ending in "…" is a prefix (the message goes on with the SHA1).
	cases := []struct {
		args []any
		want string
	}{
		{[]any{"eval", "return a", 0}, "ERR user_script:1: Script attempted to access nonexistent global variable 'a' script: bbfcd1ececc90deec823f7fb730e4bfb2a4ba625, on @user_script:1."},
		{[]any{"eval", "a=10", 0}, "ERR user_script:1: Attempt to modify a readonly table script: 933044db579a2f8fd45d8065f04a8d0249383e57, on @user_script:1."},
		{[]any{"eval", "return redis.call('nosuch')", 0}, "ERR Unknown Redis command called from script script: 206396248e12c6e742fd7296250433c8d7343b74, on @user_script:1."},
		{[]any{"eval", "redis.call('get','a','b')", 0}, "ERR Wrong number of args calling Redis command from script script: 60abc8784953be134715999deef5e07bed35e3d8, on @user_script:1."},
		{[]any{"eval", "return redis.pcall('blpop','x',0)", 0}, "ERR This Redis command is not allowed from script"},
		{[]any{"eval", "return 1", -12}, "ERR Number of keys can't be negative"},
		{[]any{"eval", "return 1", 3, "a"}, "ERR Number of keys can't be greater than number of args"},
		{[]any{"eval", "return 1", "x"}, "ERR value is not an integer or out of range"},
		{[]any{"evalsha", "NotValidShaSUM", 0}, "NOSCRIPT No matching script. Please use EVAL."},
		{[]any{"eval", "#!not-lua\nreturn 1", 0}, "ERR Unexpected engine in script shebang: #!not-lua"},
		{[]any{"eval", "#!lua flags=allow-oom,what?\nreturn 1", 0}, "ERR Unexpected flag in script shebang: what?"},
		{[]any{"eval", "#!lua badger=data\nreturn 1", 0}, "ERR Unknown lua shebang option: badger=data"},
		{[]any{"eval_ro", "return redis.call('del','x')", 1, "x"}, "ERR Write commands are not allowed from read-only scripts. script: …"},
		{[]any{"eval", "#!lua flags=no-writes\nredis.call('set','x',1)", 1, "x"}, "ERR Write commands are not allowed from read-only scripts. script: …"},
		{[]any{"eval_ro", "#!lua\nreturn 1", 0}, "ERR Can not execute a script with write flag using *_ro command."},
		{[]any{"script", "flush", "bad"}, "ERR SCRIPT FLUSH only support SYNC|ASYNC option"},
		{[]any{"script", "kill"}, "NOTBUSY No scripts in execution right now."},
	}
	for _, c := range cases {
		err := rc.Do(ctx, c.args...).Err()
		want, prefix := strings.CutSuffix(c.want, "…")
		if err == nil || (prefix && !strings.HasPrefix(err.Error(), want)) || (!prefix && err.Error() != want) {
			t.Errorf("%v: %v, want %q", c.args, err, c.want)
		}
	}
	// The cache: EVAL caches, SCRIPT LOAD caches, EVALSHA in any case,
	// SCRIPT FLUSH empties it.
	rc.ScriptFlush(ctx)
	rc.Set(ctx, "mykey", "myval", 0)
	rc.Eval(ctx, "return redis.call('get',KEYS[1])", []string{"mykey"})
	if v, err := rc.EvalSha(ctx, "FD758D1589D044DD850A6F05D52F2EEFD27F033F", []string{"mykey"}).Result(); err != nil || v != "myval" {
		t.Fatalf("evalsha uppercase: %v %v", v, err)
	}
	sha, err := rc.ScriptLoad(ctx, "return 'loaded'").Result()
	if err != nil || sha != "b534286061d4b9e4026607613b95c06c06015ae8" {
		t.Fatalf("script load: %v %v", sha, err)
	}
	if ex, _ := rc.ScriptExists(ctx, sha, "ffd632c7d33e571e9f24556ebed26c3479a87130").Result(); !reflect.DeepEqual(ex, []bool{true, false}) {
		t.Fatalf("script exists: %v", ex)
	}
	if n := scriptInfoField(t, rc, "memory", "number_of_cached_scripts"); n != "2" {
		t.Fatalf("number_of_cached_scripts %s", n)
	}
	rc.ScriptFlush(ctx)
	if err := rc.EvalSha(ctx, sha, nil).Err(); err == nil || !strings.HasPrefix(err.Error(), "NOSCRIPT") {
		t.Fatalf("after flush: %v", err)
	}
}

func scriptInfoField(t *testing.T, rc *redis.Client, section, name string) string {
	t.Helper()
	info, err := rc.Info(context.Background(), section).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(l, name+":"); ok {
			return v
		}
	}
	t.Fatalf("INFO %s has no %s", section, name)
	return ""
}

// waitBusy pings until the server answers -BUSY (a script is past
// busy-reply-threshold).
func waitBusy(t *testing.T, rc *redis.Client) error {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		err := rc.Ping(context.Background()).Err()
		if err != nil && strings.HasPrefix(err.Error(), "BUSY") {
			return err
		}
	}
	t.Fatal("the server never answered BUSY")
	return nil
}

func TestBusyScriptAndKill(t *testing.T) {
	s, rc := testServer(t, func(c *Config) { c.LuaTimeLimit = 20 })
	ctx := context.Background()
	runner := newClient(t, s, 2)
	done := make(chan error, 1)
	go func() {
		done <- runner.Eval(ctx, "local f = function() while 1 do redis.call('ping') end end while 1 do pcall(f) end", nil).Err()
	}()
	if err := waitBusy(t, rc); err.Error() != errBusy {
		t.Fatalf("busy reply %q", err)
	}
	// Only the commands allowed while busy run; FUNCTION KILL does not
	// stop an EVAL script.
	if err := rc.Do(ctx, "function", "stats").Err(); err == nil || err.Error() != errBusy {
		t.Fatalf("FUNCTION STATS during EVAL: %v", err)
	}
	if err := rc.Do(ctx, "function", "kill").Err(); err == nil || err.Error() != errBusy {
		t.Fatalf("FUNCTION KILL during EVAL: %v", err)
	}
	if err := rc.Do(ctx, "set", "k", "v").Err(); err == nil || err.Error() != errBusy {
		t.Fatalf("SET during busy script: %v", err)
	}
	if err := rc.ScriptKill(ctx).Err(); err != nil {
		t.Fatalf("SCRIPT KILL: %v", err)
	}
	select {
	case err := <-done:
		if err == nil || !strings.HasPrefix(err.Error(), "ERR Script killed by user with SCRIPT KILL... script: ") {
			t.Fatalf("killed script replied %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("script still running after SCRIPT KILL")
	}
	if err := rc.Ping(ctx).Err(); err != nil {
		t.Fatalf("after kill: %v", err)
	}
	if v, _ := rc.Exists(ctx, "k").Result(); v != 0 {
		t.Fatal("a command refused with BUSY ran")
	}
}

func TestBusyScriptThatWroteIsUnkillable(t *testing.T) {
	s, rc := testServer(t, func(c *Config) { c.LuaTimeLimit = 20 })
	ctx := context.Background()
	runner := newClient(t, s, 2)
	done := make(chan error, 1)
	go func() {
		// Writes, then runs for about 300 ms of real time.
		done <- runner.Eval(ctx, `redis.call('set', KEYS[1], 'y')
			local t0 = redis.call('time')
			while true do
				local t = redis.call('time')
				if (t[1] - t0[1]) * 1000000 + (t[2] - t0[2]) > 300000 then break end
			end
			return 'finished'`, []string{"x"}).Err()
	}()
	waitBusy(t, rc)
	if err := rc.ScriptKill(ctx).Err(); err == nil || !strings.HasPrefix(err.Error(), "UNKILLABLE Sorry the script already executed write commands") {
		t.Fatalf("SCRIPT KILL after a write: %v", err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("script: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("script never finished")
	}
	if v, _ := rc.Get(ctx, "x").Result(); v != "y" {
		t.Fatalf("x = %q", v)
	}
}

func TestScriptPropagation(t *testing.T) {
	s, rc := testServer(t, nil)
	ctx := context.Background()
	var mu sync.Mutex
	var got []string
	s.mu.Lock()
	s.hooks.propagate = func(dbid int, argv [][]byte) {
		mu.Lock()
		defer mu.Unlock()
		parts := make([]string, len(argv))
		for i, a := range argv {
			parts[i] = string(a)
		}
		got = append(got, fmt.Sprintf("%d:%s", dbid, strings.Join(parts, " ")))
	}
	s.mu.Unlock()
	take := func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := got
		got = nil
		return out
	}
	cases := []struct {
		script string
		want   []string
	}{
		{"return redis.call('get', 'a')", nil},
		{"redis.call('set', 'a', '1')", []string{"0:set a 1"}},
		{"redis.call('set', 'a', '1') redis.call('select', '3') redis.call('incr', 'n')",
			[]string{"0:MULTI", "0:set a 1", "3:incr n", "3:EXEC"}},
		{"redis.set_repl(redis.REPL_NONE) redis.call('set', 'b', '2') redis.set_repl(redis.REPL_ALL) redis.call('set', 'c', '3')",
			[]string{"0:set c 3"}},
		{"redis.call('set', 'a', '1') error('boom')", []string{"0:set a 1"}},
	}
	for _, c := range cases {
		rc.Eval(ctx, c.script, nil)
		if g := take(); !reflect.DeepEqual(g, c.want) {
			t.Errorf("%q propagated %q, want %q", c.script, g, c.want)
		}
	}
	// Function libraries propagate as the commands that changed them.
	code := "#!lua name=p\nredis.register_function('p', function() return 1 end)"
	rc.Do(ctx, "function", "load", code)
	rc.Do(ctx, "function", "delete", "p")
	if g := take(); !reflect.DeepEqual(g, []string{"0:function load " + code, "0:function delete p"}) {
		t.Errorf("function commands propagated %q", g)
	}
}

func TestScriptFlagsUnderMaxmemory(t *testing.T) {
	_, rc := testServer(t, nil)
	ctx := context.Background()
	rc.Set(ctx, "x", "123", 0)
	rc.ConfigSet(ctx, "maxmemory", "1")
	defer rc.ConfigSet(ctx, "maxmemory", "0")
	cases := []struct {
		script string
		want   string // error prefix, "" for success
	}{
		{"redis.call('set','x',1) return 1", "OOM command not allowed when used memory > 'maxmemory'. script:"},
		{"return redis.call('get','x')", ""},
		{"#!lua flags=\nreturn 1", "OOM command not allowed when used memory > 'maxmemory'."},
		{"#!lua flags=allow-oom\nredis.call('set','x',1) return 1", ""},
		{"#!lua flags=no-writes\nredis.call('get','x') return 1", ""},
		{"local t = redis.pcall('set','x','y') return t['err']", ""},
	}
	for _, c := range cases {
		err := rc.Eval(ctx, c.script, []string{"x"}).Err()
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.HasPrefix(err.Error(), c.want)) {
			t.Errorf("%q: %v, want %q", c.script, err, c.want)
		}
	}
	// Errors count once: the refused SET as rejected, EVAL as failed.
	rc.ConfigResetStat(ctx)
	rc.Eval(ctx, "return redis.call('set','x','y')", []string{"x"})
	stats := rc.Info(ctx, "errorstats", "commandstats").Val()
	for _, want := range []string{"errorstat_OOM:count=1", "rejected_calls=1,failed_calls=0", "cmdstat_eval:calls=1"} {
		if !strings.Contains(stats, want) {
			t.Errorf("INFO lacks %q:\n%s", want, stats)
		}
	}
	if !strings.Contains(stats, "total_error_replies") && scriptInfoField(t, rc, "stats", "total_error_replies") != "1" {
		t.Errorf("total_error_replies %s", scriptInfoField(t, rc, "stats", "total_error_replies"))
	}
}

func TestScriptClockIsFrozen(t *testing.T) {
	_, rc := testServer(t, nil)
	ctx := context.Background()
	// The key expires 1 ms after it was set, but the script's clock stops
	// at its start: it still sees the key after 10 ms of busy waiting.
	v, err := rc.Eval(ctx, `redis.call('set', 'key', 'value', 'PX', 1)
		local t0 = redis.call('time')
		repeat local t = redis.call('time') until (t[1] - t0[1]) * 1000000 + (t[2] - t0[2]) > 10000
		return redis.call('exists', 'key')`, nil).Result()
	if err != nil || v != int64(1) {
		t.Fatalf("exists inside the script: %v %v", v, err)
	}
	if n, _ := rc.Exists(ctx, "key").Result(); n != 0 {
		t.Fatal("the key did not expire after the script")
	}
}
