package node

import (
	"context"
	"encoding/hex"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// goldenLibrary and its FUNCTION DUMP payload as redis-server 7.0.15
// produces it (the code LZF-compressed, RDB version 10, CRC64).
const (
	goldenLibrary = "#!lua name=golden\nredis.register_function{function_name=\"g\", callback=function(keys, args) return \"gold\" end, flags={\"no-writes\"}, description=\"golden lib\"}"
	goldenPayload = "f5c3408d409c1f23216c7561206e616d653d676f6c64656e0a72656469732e7265676973746572095f66756e6374696f6e7bc008005f602c0d2267222c2063616c6c6261636b3dc01b14286b6579732c2061726773292072657475726e202240571f2220656e642c20666c6167733d7b226e6f2d777269746573227d2c20646573630272697040642056608405206c6962227d0a00cc0dd831b93ceec7"
)

func TestFunctionDumpMatchesRedis(t *testing.T) {
	_, rc := testServer(t, nil)
	ctx := context.Background()
	if name, err := rc.FunctionLoad(ctx, goldenLibrary).Result(); err != nil || name != "golden" {
		t.Fatalf("load: %v %v", name, err)
	}
	dump, err := rc.FunctionDump(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString([]byte(dump)); got != goldenPayload {
		t.Fatalf("FUNCTION DUMP\n got  %s\n want %s", got, goldenPayload)
	}
	// A payload from Redis restores here, with its flags and description.
	payload, _ := hex.DecodeString(goldenPayload)
	rc.FunctionFlush(ctx)
	if err := rc.FunctionRestore(ctx, string(payload)).Err(); err != nil {
		t.Fatalf("restore: %v", err)
	}
	list, err := rc.Do(ctx, "function", "list").Result()
	want := []any{[]any{"library_name", "golden", "engine", "LUA", "functions",
		[]any{[]any{"name", "g", "description", "golden lib", "flags", []any{"no-writes"}}}}}
	if err != nil || !reflect.DeepEqual(list, want) {
		t.Fatalf("FUNCTION LIST: %#v %v", list, err)
	}
	if v, err := rc.FCallRO(ctx, "g", nil).Result(); err != nil || v != "gold" {
		t.Fatalf("FCALL_RO: %v %v", v, err)
	}
}

func TestFunctionRestorePolicies(t *testing.T) {
	_, rc := testServer(t, nil)
	ctx := context.Background()
	lib := func(name, fn, ret string) string {
		return "#!lua name=" + name + "\nredis.register_function('" + fn + "', function() return '" + ret + "' end)"
	}
	rc.FunctionLoad(ctx, lib("a", "fa", "1"))
	dump := rc.FunctionDump(ctx).Val()

	steps := []struct {
		args []any
		want string // reply or error text
	}{
		{[]any{"function", "restore", dump}, "ERR Library a already exists"},
		{[]any{"function", "restore", dump, "bad"}, "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE."},
		{[]any{"function", "restore", "bad_payload"}, "ERR DUMP payload version or checksum are wrong"},
		{[]any{"function", "restore", dump[:len(dump)-1] + "x"}, "ERR DUMP payload version or checksum are wrong"},
		{[]any{"function", "restore", "a", "b", "c"}, "ERR unknown subcommand or wrong number of arguments for 'restore'. Try FUNCTION HELP."},
		{[]any{"function", "load", "replace", lib("a", "fa", "2")}, "a"},
		{[]any{"fcall", "fa", 0}, "2"},
		{[]any{"function", "restore", dump, "replace"}, "OK"},
		{[]any{"fcall", "fa", 0}, "1"},
		{[]any{"function", "load", lib("b", "FA", "x")}, "ERR Function FA already exists"},
		{[]any{"function", "load", lib("b", "fb", "x")}, "b"},
		{[]any{"function", "restore", dump, "flush"}, "OK"},
		{[]any{"fcall", "fb", 0}, "ERR Function not found"},
		{[]any{"function", "delete", "a"}, "OK"},
		{[]any{"function", "delete", "a"}, "ERR Library not found"},
		{[]any{"function", "restore", dump, "append"}, "OK"},
		{[]any{"fcall", "FA", 0}, "1"},
	}
	for _, st := range steps {
		v, err := rc.Do(ctx, st.args...).Result()
		got := ""
		if err != nil {
			got = err.Error()
		} else {
			got, _ = v.(string)
		}
		if got != st.want {
			t.Errorf("%q: %q, want %q", st.args, got, st.want)
		}
	}
}

func TestFunctionFlagsAndStats(t *testing.T) {
	s, rc := testServer(t, func(c *Config) { c.LuaTimeLimit = 20 })
	ctx := context.Background()
	code := "#!lua name=lib\n" +
		"redis.register_function('w', function(keys, args) return redis.call('set', keys[1], args[1]) end)\n" +
		"redis.register_function{function_name='r', callback=function(keys) return redis.call('get', keys[1]) end, flags={'no-writes'}}\n" +
		"redis.register_function{function_name='loop', callback=function() local a = 1 while true do a = a + 1 end end, flags={'no-writes'}}"
	if err := rc.FunctionLoad(ctx, code).Err(); err != nil {
		t.Fatal(err)
	}
	if v, err := rc.FCall(ctx, "w", []string{"k"}, "v").Result(); err != nil || v != "OK" {
		t.Fatalf("fcall w: %v %v", v, err)
	}
	if v, err := rc.FCallRO(ctx, "r", []string{"k"}).Result(); err != nil || v != "v" {
		t.Fatalf("fcall_ro r: %v %v", v, err)
	}
	if err := rc.FCallRO(ctx, "w", []string{"k"}, "v").Err(); err == nil || err.Error() != "ERR Can not execute a script with write flag using *_ro command." {
		t.Fatalf("fcall_ro w: %v", err)
	}
	stats, err := rc.Do(ctx, "function", "stats").Result()
	wantStats := []any{"running_script", nil, "engines", []any{"LUA", []any{"libraries_count", int64(1), "functions_count", int64(3)}}}
	if err != nil || !reflect.DeepEqual(stats, wantStats) {
		t.Fatalf("FUNCTION STATS: %#v %v", stats, err)
	}
	// A busy function: FUNCTION STATS names it, SCRIPT KILL refuses,
	// FUNCTION KILL stops it.
	runner := newClient(t, s, 2)
	done := make(chan error, 1)
	go func() { done <- runner.FCall(ctx, "loop", nil).Err() }()
	if err := waitBusy(t, rc); err.Error() != errBusyFunction {
		t.Fatalf("busy reply %q", err)
	}
	running, err := rc.Do(ctx, "function", "stats").Result()
	if err != nil {
		t.Fatal(err)
	}
	rs := running.([]any)[1].([]any)
	if rs[0] != "name" || rs[1] != "loop" || !reflect.DeepEqual(rs[3], []any{"fcall", "loop", "0"}) {
		t.Fatalf("running_script %#v", rs)
	}
	if err := rc.ScriptKill(ctx).Err(); err == nil || err.Error() != errBusyFunction {
		t.Fatalf("SCRIPT KILL on a function: %v", err)
	}
	if err := rc.Do(ctx, "function", "kill").Err(); err != nil {
		t.Fatalf("FUNCTION KILL: %v", err)
	}
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "Script killed by user") {
			t.Fatalf("killed function replied %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("function still running")
	}
	// FLUSHALL keeps libraries; FUNCTION FLUSH drops them.
	rc.FlushAll(ctx)
	if n := len(rc.FunctionList(ctx, redis.FunctionListQuery{}).Val()); n != 1 {
		t.Fatalf("libraries after FLUSHALL: %d", n)
	}
	rc.FunctionFlush(ctx)
	if err := rc.FCall(ctx, "r", []string{"k"}).Err(); err == nil || err.Error() != "ERR Function not found" {
		t.Fatalf("after FUNCTION FLUSH: %v", err)
	}
}
