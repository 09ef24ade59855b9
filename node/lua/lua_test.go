package lua

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	glua "github.com/yuin/gopher-lua"
)

// recorder is a ReplyWriter that prints replies in a compact form:
// "bulk", :1, +status, -error(count), null, #t, ,1.5, (big, =txt:s,
// [a b] for arrays, %{k v} for maps, ~{a} for sets.
type recorder struct {
	b     strings.Builder
	stack []int // remaining elements of open aggregates
}

func (r *recorder) item(s string) {
	r.b.WriteString(s)
	for len(r.stack) > 0 {
		r.stack[len(r.stack)-1]--
		if r.stack[len(r.stack)-1] > 0 {
			r.b.WriteByte(' ')
			return
		}
		r.stack = r.stack[:len(r.stack)-1]
		r.b.WriteByte(']')
	}
}

func (r *recorder) open(prefix string, n int) {
	r.b.WriteString(prefix + "[")
	if n == 0 {
		r.item("]")
		r.b.WriteString("")
		return
	}
	r.stack = append(r.stack, n)
}

func (r *recorder) BulkString(s string)  { r.item(strconv.Quote(s)) }
func (r *recorder) Status(s string)      { r.item("+" + s) }
func (r *recorder) Int(n int64)          { r.item(":" + strconv.FormatInt(n, 10)) }
func (r *recorder) Null()                { r.item("null") }
func (r *recorder) Bool(v bool)          { r.item(map[bool]string{true: "#t", false: "#f"}[v]) }
func (r *recorder) Double(f float64)     { r.item("," + strconv.FormatFloat(f, 'g', -1, 64)) }
func (r *recorder) BigNum(s string)      { r.item("(" + s) }
func (r *recorder) Verbatim(s, f string) { r.item("=" + f + ":" + s) }
func (r *recorder) ArrayLen(n int)       { r.open("", n) }
func (r *recorder) MapLen(n int)         { r.open("%", 2*n) }
func (r *recorder) SetLen(n int)         { r.open("~", n) }
func (r *recorder) ScriptError(m string, count bool) {
	r.item(fmt.Sprintf("-%s(%v)", m, count))
}

// fakeHost answers redis.call with canned replies keyed by the command
// line, and records what it was asked.
type fakeHost struct {
	replies    map[string]string
	calls      []string
	resp       int
	repl       int
	kill       func() bool
	interrupts int
}

func (h *fakeHost) Call(argv [][]byte) ([]byte, string) {
	parts := make([]string, len(argv))
	for i, a := range argv {
		parts[i] = string(a)
	}
	line := strings.Join(parts, " ")
	h.calls = append(h.calls, line)
	if r, ok := h.replies[line]; ok {
		if strings.HasPrefix(r, "!") {
			return nil, r[1:]
		}
		return []byte(r), ""
	}
	return []byte("-ERR unknown command '" + parts[0] + "'\r\n"), ""
}
func (h *fakeHost) SetResp(resp int)  { h.resp = resp }
func (h *fakeHost) SetRepl(flags int) { h.repl = flags }
func (h *fakeHost) ACLCheck(argv [][]byte) (bool, bool) {
	return string(argv[0]) != "denied", string(argv[0]) != "nosuch"
}
func (h *fakeHost) Interrupt() bool {
	h.interrupts++
	return h.kill != nil && h.kill()
}

// evalOn runs body as an EVAL script on st and returns the recorded reply.
func evalOn(t testing.TB, st *State, h *fakeHost, body string, keys, args []string) string {
	t.Helper()
	s, err := st.Compile([]byte(body))
	if err != nil {
		return "compile: " + err.Error()
	}
	var rec recorder
	st.Call(&Run{Host: h, Name: SHA1Hex([]byte(body))}, s, toBytes(keys), toBytes(args), &rec)
	if len(rec.stack) != 0 {
		t.Fatalf("%q: unbalanced reply %q", body, rec.b.String())
	}
	return rec.b.String()
}

func toBytes(ss []string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

func TestLuaToReply(t *testing.T) {
	st := New(Eval, Options{})
	defer st.Close()
	h := &fakeHost{}
	sha := func(s string) string { return SHA1Hex([]byte(s)) }
	cases := []struct{ body, want string }{
		{"return 'hello'", `"hello"`},
		{"return 100.5", ":100"},
		{"return -3.99", ":-3"},
		{"return 0/0", ":-9223372036854775808"},
		{"return true", ":1"},
		{"return false", "null"},
		{"return nil", "null"},
		{"redis.setresp(3) return true", "#t"},
		{"redis.setresp(3) return false", "#f"},
		{"return {ok='fine'}", "+fine"},
		{"return {ok='a\\r\\nb'}", "+a  b"},
		{"return {err='ERR this is an error'}", "--ERR this is an error(true)"},
		{"return redis.error_reply('MY_CODE msg')", "--MY_CODE msg(true)"},
		{"return redis.error_reply('')", "--ERR (true)"},
		{"return redis.status_reply('OK2')", "+OK2"},
		{"return {1,2,3,'ciao',{1,2}}", `[:1 :2 :3 "ciao" [:1 :2]]`},
		{"return {1,2,nil,3}", "[:1 :2]"},
		{"return {}", "[]"},
		{"return {double=3.5}", ",3.5"},
		{"return {big_number='12\\r\\n3'}", "(12  3"},
		{"return {verbatim_string={format='txt', string='hi'}}", "=txt:hi"},
		{"return {map={a=1}}", `%["a" :1]`},
		{"return {set={x=true}}", `~["x"]`},
		{"return {1,{err='ERR nested'},3}", "[:1 --ERR nested(true) :3]"},
		{"local a = {}; setmetatable(a,{__index=function() error('no') end}) return a", "[]"},
		{"return function() end", "null"},
		{"return KEYS[1] .. ARGV[1]", `"kv"`},
		{"return a", "--ERR user_script:1: Script attempted to access nonexistent global variable 'a' script: " + sha("return a") + ", on @user_script:1.(true)"},
		{"a = 1", "--ERR user_script:1: Attempt to modify a readonly table script: " + sha("a = 1") + ", on @user_script:1.(true)"},
		{"\n\nerror('x', 0)", "--ERR x script: " + sha("\n\nerror('x', 0)") + ", on @user_script:3.(true)"},
		{"error({err='FOO bar'})", "--FOO bar script: " + sha("error({err='FOO bar'})") + ", on @user_script:1.(true)"},
		{"local t = nil; return t.x", "--ERR user_script:1: attempt to index local 't' (a nil value) script: " + sha("local t = nil; return t.x") + ", on @user_script:1.(true)"},
		{"return redis.nosuch()", "--ERR user_script:1: attempt to call field 'nosuch' (a nil value) script: " + sha("return redis.nosuch()") + ", on @user_script:1.(true)"},
	}
	for _, c := range cases {
		if got := evalOn(t, st, h, c.body, []string{"k"}, []string{"v"}); got != c.want {
			t.Errorf("%q:\n got  %s\n want %s", c.body, got, c.want)
		}
	}
	// A returned table that contains itself stops at Lua's stack depth.
	got := evalOn(t, st, h, "local a = {}; local b = {a}; a[1] = b; return a", nil, nil)
	if !strings.HasSuffix(got, "--ERR reached lua stack limit(true)"+strings.Repeat("]", maxReplyDepth)) ||
		strings.Count(got, "[") != maxReplyDepth {
		t.Errorf("recursive table: %d levels, tail %q", strings.Count(got, "["), got[len(got)-60:])
	}
}

func TestRedisReplyToLua(t *testing.T) {
	st := New(Eval, Options{})
	defer st.Close()
	h := &fakeHost{replies: map[string]string{
		"int":     ":42\r\n",
		"bulk":    "$3\r\nabc\r\n",
		"nilbulk": "$-1\r\n",
		"nilarr":  "*-1\r\n",
		"status":  "+OK\r\n",
		"err":     "-WRONGTYPE bad type\r\n",
		"arr":     "*3\r\n:1\r\n$1\r\nx\r\n*1\r\n:2\r\n",
		"map":     "%1\r\n$1\r\nk\r\n:7\r\n",
		"set":     "~1\r\n$1\r\nm\r\n",
		"null":    "_\r\n",
		"true":    "#t\r\n",
		"double":  ",3.25\r\n",
		"big":     "(123456789012345678901234567890\r\n",
		"verb":    "=8\r\ntxt:abcd\r\n",
		"attr":    "|1\r\n$1\r\na\r\n$1\r\nb\r\n$4\r\nreal\r\n",
		"refused": "!-OOM command not allowed when used memory > 'maxmemory'.",
		"noerr":   "!Unknown Redis command called from script",
	}}
	cases := []struct{ body, want string }{
		{"local r = redis.call('int') return {type(r), r}", `["number" :42]`},
		{"return redis.call('bulk')", `"abc"`},
		{"return redis.call('nilbulk') == false", ":1"},
		{"return redis.call('nilarr') == false", ":1"},
		{"return redis.call('status').ok", `"OK"`},
		{"return redis.pcall('err').err", `"WRONGTYPE bad type"`},
		{"return redis.pcall('err').ignore_error_stats_update", ":1"},
		{"return redis.call('arr')", `[:1 "x" [:2]]`},
		{"return redis.call('map').map.k", ":7"},
		{"return redis.call('set').set.m", ":1"},
		{"return redis.call('null') == nil", ":1"},
		{"return redis.call('true')", ":1"},
		{"return tostring(redis.call('double').double)", `"3.25"`},
		{"return redis.call('big').big_number", `"123456789012345678901234567890"`},
		{"local v = redis.call('verb').verbatim_string return v.format .. '|' .. v.string", `"txt|abcd"`},
		{"return redis.call('attr')", `"real"`},
		{"return redis.pcall('refused').err", `"OOM command not allowed when used memory > 'maxmemory'."`},
		{"return redis.pcall('noerr').err", `"ERR Unknown Redis command called from script"`},
		{"return redis.pcall('err')", "--WRONGTYPE bad type(false)"},
		{"return redis.call('err')", "--WRONGTYPE bad type script: " + SHA1Hex([]byte("return redis.call('err')")) + ", on @user_script:1.(false)"},
		{"return {pcall(redis.call, 'err')}", `[null "WRONGTYPE bad type"]`},
		{"local ok, e = pcall(redis.call, 'err') return e", `"WRONGTYPE bad type"`},
		{"return redis.pcall()", "--ERR Please specify at least one argument for this redis lib call(true)"},
		{"return redis.pcall({})", "--ERR Lua redis lib command arguments must be strings or integers(true)"},
	}
	for _, c := range cases {
		if got := evalOn(t, st, h, c.body, nil, nil); got != c.want {
			t.Errorf("%q:\n got  %s\n want %s", c.body, got, c.want)
		}
	}
	// Numbers reach commands formatted as %.17g, not Lua's %.14g.
	h.calls = nil
	evalOn(t, st, h, "redis.pcall('set', 'k', 9007199254740991, 0.1, 1e20)", nil, nil)
	if want := "set k 9007199254740991 0.10000000000000001 1e+20"; len(h.calls) != 1 || h.calls[0] != want {
		t.Errorf("number arguments: %q, want %q", h.calls, want)
	}
}

func TestSandboxRefusesEscapes(t *testing.T) {
	st := New(Eval, Options{})
	defer st.Close()
	h := &fakeHost{}
	refused := []string{
		"rawset(_G, 'x', 1)",
		"setmetatable(_G, {})",
		"getmetatable(_G).__index = {}",
		"redis.call = function() end",
		"rawset(redis, 'call', 1)",
		"table.insert(cjson, 1)",
		"getmetatable('').__index = {}",
		"getmetatable('').__index.upper = function() end",
		"string.upper = nil",
		"getfenv(redis.call).x = 1",
		"rawset(getfenv(redis.call), 'x', 1)",
		"getfenv(0).x = 1",
		"_G._G.x = 1",
	}
	for _, body := range refused {
		got := evalOn(t, st, h, body, nil, nil)
		if !strings.Contains(got, "Attempt to modify a readonly table") {
			t.Errorf("%q was not refused: %s", body, got)
		}
	}
	for _, name := range []string{"dofile", "loadfile", "print", "require", "module", "os", "io", "debug", "newproxy", "channel"} {
		got := evalOn(t, st, h, "return "+name, nil, nil)
		if !strings.Contains(got, "nonexistent global variable '"+name+"'") {
			t.Errorf("%s is reachable: %s", name, got)
		}
	}
	// Binary chunks never load; huge strings are refused, not allocated.
	if got := evalOn(t, st, h, "return loadstring(string.dump(function() return 1 end))", nil, nil); got != "null" {
		t.Errorf("binary chunk loaded: %s", got)
	}
	if got := evalOn(t, st, h, "return string.rep('x', 2^31 - 1)", nil, nil); !strings.Contains(got, "not enough memory") {
		t.Errorf("huge string.rep: %s", got)
	}
	// Nothing a script does is visible to the next one.
	evalOn(t, st, h, "pcall(function() x = 1 end) pcall(setfenv, 0, {y = 1})", nil, nil)
	if got := evalOn(t, st, h, "return {rawget(_G, 'x'), type(y)}", nil, nil); !strings.Contains(got, "nonexistent global variable 'y'") {
		t.Errorf("globals leaked between scripts: %s", got)
	}
	// collectgarbage is answered without running Go's collector.
	if got := evalOn(t, st, h, "return {collectgarbage('collect'), collectgarbage('count') > 0}", nil, nil); got != "[:0 :1]" {
		t.Errorf("collectgarbage: %s", got)
	}
}

func TestKillAndInterrupt(t *testing.T) {
	st := New(Eval, Options{})
	defer st.Close()
	deadline := time.Now().Add(50 * time.Millisecond)
	h := &fakeHost{kill: func() bool { return time.Now().After(deadline) }}
	for _, body := range []string{
		"while true do end",
		"local f = function() while 1 do end end while 1 do pcall(f) end",
		"coroutine.wrap(function() while true do end end)()",
		"local co = coroutine.create(function() while true do end end) while true do coroutine.resume(co) end",
	} {
		deadline = time.Now().Add(50 * time.Millisecond)
		done := make(chan string, 1)
		go func() { done <- evalOn(t, st, h, body, nil, nil) }()
		select {
		case got := <-done:
			if !strings.HasPrefix(got, "--ERR Script killed by user with SCRIPT KILL... script: ") {
				t.Errorf("%q: %s", body, got)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%q was not killed", body)
		}
	}
	if h.interrupts == 0 {
		t.Fatal("Interrupt never called")
	}
	// The state works normally after a kill.
	h.kill = nil
	if got := evalOn(t, st, h, "return 1", nil, nil); got != ":1" {
		t.Fatalf("after kill: %s", got)
	}
}

func TestLibraries(t *testing.T) {
	st := New(Eval, Options{})
	defer st.Close()
	h := &fakeHost{}
	hex := "local function hex(s) local h = '' for i = 1, #s do h = h .. string.format('%02x', string.byte(s, i)) end return h end "
	// Expected values are redis-server 7.0.15's.
	cases := []struct{ body, want string }{
		{"return cjson.encode({1,2,3,{a=1},'x\"y/z\\n'})", `"[1,2,3,{\"a\":1},\"x\\\"y\\/z\\n\"]"`},
		{"return cjson.encode({})", `"{}"`},
		{"return cjson.encode({[1]=1,[30]=3})", "--ERR user_script:1: Cannot serialise table: excessively sparse array script: " + SHA1Hex([]byte("return cjson.encode({[1]=1,[30]=3})")) + ", on @user_script:1.(true)"},
		{"return table.concat(cjson.decode('[0.0, -5e3, -1, 0.3e-3, 1023.2, 0e10]'), ' ')", `"0 -5000 -1 0.0003 1023.2 0"`},
		{"return cjson.decode('\"\\\\u00e9\"')", `"é"`},
		{"return cjson.decode('[1,{\"a\":null}]')[2].a == cjson.null", ":1"},
		{"local ok, e = pcall(cjson.decode, '[1,2') return e", `"Expected comma or array end but found T_END at character 5"`},
		{hex + "return hex(cmsgpack.pack(0.1))", `"cb3fb999999999999a"`},
		{hex + "return hex(cmsgpack.pack(-1099511627776))", `"d3ffffff0000000000"`},
		{hex + "return hex(cmsgpack.pack({1, 'a', true, {k=5}}))", `"9401a161c381a16b05"`},
		{"return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2, 0)}", "[:2 :1 :2]"},
		{"local ok, e = pcall(cmsgpack.unpack, '\\193') return e", `"Bad data format in input."`},
		{"local ok, e = pcall(cmsgpack.unpack, '\\146\\1') return e", `"Missing bytes in input."`},
		{"return {bit.band(0xff, 0x0f), bit.lshift(1, 31), bit.tohex(-1), bit.tobit(2^32 + 5), bit.bswap(0x12345678)}", `[:15 :-2147483648 "ffffffff" :5 :2018915346]`},
		{hex + "return hex(struct.pack('>i2<I4bd', 258, 7, -1, 1.5))", `"010207000000ff000000000000f83f"`},
		{"return {struct.unpack('>i2<I4', struct.pack('>i2<I4', -2, 7))}", "[:-2 :7 :7]"},
		{"return struct.size('!4bi')", ":8"},
		{"math.randomseed(10) return {math.random(100), math.random(100)}", "[:88 :80]"},
	}
	for _, c := range cases {
		if got := evalOn(t, st, h, c.body, nil, nil); got != c.want {
			t.Errorf("%q:\n got  %s\n want %s", c.body, got, c.want)
		}
	}
}

func TestFunctionLibraries(t *testing.T) {
	st := New(Functions, Options{})
	defer st.Close()
	h := &fakeHost{}
	funcs, err := st.LoadLibrary([]byte("\nlocal function add1(a) return a + 1 end\n"+
		"redis.register_function('f1', function(keys, args) return add1(#keys + #args) end)\n"+
		"redis.register_function{function_name='f2', callback=function() return redis.register_function end, flags={'NO-WRITES', 'allow-oom'}, description='d'}"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(funcs) != 2 || funcs[0].Name != "f1" || funcs[1].Name != "f2" || !funcs[1].HasDesc ||
		strings.Join(funcs[1].Flags, ",") != "no-writes,allow-oom" {
		t.Fatalf("registered %+v", funcs)
	}
	var rec recorder
	st.Call(&Run{Host: h, Name: "f1"}, funcs[0].Script, toBytes([]string{"a"}), toBytes([]string{"b", "c"}), &rec)
	if rec.b.String() != ":4" {
		t.Fatalf("f1: %s", rec.b.String())
	}
	// Outside a load, the registration API is not there.
	rec = recorder{}
	st.Call(&Run{Host: h, Name: "f2"}, funcs[1].Script, nil, nil, &rec)
	if rec.b.String() != "null" {
		t.Fatalf("f2: %s", rec.b.String())
	}
	loadErrors := []struct{ code, want string }{
		{"return math.random()", "Error registering functions: ERR user_function:1: Script attempted to access nonexistent global variable 'math'"},
		{"redis.call('ping')", "Error registering functions: ERR user_function:1: Script attempted to access nonexistent global variable 'call'"},
		{"a = 1", "Error registering functions: ERR user_function:1: Attempt to modify a readonly table"},
		{"redis.register_function('f', 'x')", "Error registering functions: ERR second argument to redis.register_function must be a function"},
		{"redis.register_function('a b', function() end)", "Error registering functions: ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"},
		{"redis.register_function{function_name='f', callback=function() end, flags={'bad'}}", "Error registering functions: ERR unknown flag given"},
		{"local a = 1 while 1 do a = a + 1 end", "Error registering functions: ERR FUNCTION LOAD timeout"},
		{"bad code", "Error compiling function: user_function:1:"},
	}
	for _, c := range loadErrors {
		_, err := st.LoadLibrary([]byte(c.code), 100*time.Millisecond)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.code, err, c.want)
		}
	}
}

// Hostile input to the decoders ends in a Lua error, never a panic or
// runaway allocation.
func FuzzDecoders(f *testing.F) {
	for _, s := range []string{`[1,2,{"a":[null,true]}]`, "\x93\x01\x02\xa1a", "\xdd\xff\xff\xff\xff", `"\ud800"`, "[[[[[[[[[["} {
		f.Add(s, "<i2bc0s")
	}
	st := New(Eval, Options{})
	defer st.Close()
	fns := []string{"cjson.decode", "cmsgpack.unpack", "struct.unpack"}
	f.Fuzz(func(t *testing.T, data, format string) {
		for _, fn := range fns {
			L := st.L
			parts := strings.Split(fn, ".")
			lib := L.GetField(st.globals, parts[0])
			target := L.GetField(lib, parts[1])
			L.Push(target)
			n := 1
			if fn == "struct.unpack" {
				L.Push(glua.LString(format))
				n = 2
			}
			L.Push(glua.LString(data))
			_ = L.PCall(n, glua.MultRet, nil)
			L.SetTop(0)
		}
	})
}

// Runaway recursion ends in Lua 5.1's errors, quickly and without
// exhausting memory (every coroutine is an interpreter of its own).
func TestRecursionLimits(t *testing.T) {
	st := New(Eval, Options{})
	defer st.Close()
	h := &fakeHost{}
	cases := []struct{ body, want string }{
		{"local function f() return f() + 1 end return f()", "ERR user_script:1: stack overflow script:"},
		{"local function f() pcall(f) end f() return 'ok'", `"ok"`},
		{"local function f() local ok, e = pcall(f) if not ok then error(e, 0) end end f()", "ERR C stack overflow script:"},
		{"local function f() local co = coroutine.create(f) local ok, e = coroutine.resume(co) if not ok then error(e, 0) end end f()", "ERR C stack overflow script:"},
		{"local t = {} for i = 1, 100000 do t[i] = coroutine.create(function() end) end", "ERR user_script:1: too many coroutines (1000) script:"},
		{"local t = setmetatable({}, {__index = function(t, k) return t[k] end}) return t.x", "ERR user_script:1: stack overflow script:"},
	}
	for _, c := range cases {
		start := time.Now()
		got := evalOn(t, st, h, c.body, nil, nil)
		if !strings.HasPrefix(strings.TrimLeft(got, "-"), c.want) {
			t.Errorf("%q: %s, want %s...", c.body, got, c.want)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%q took %v", c.body, d)
		}
	}
}
