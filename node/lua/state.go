// Package lua is Redis 7.0's Lua scripting environment on gopher-lua
// (Lua 5.1, as Redis): the sandboxed globals, the redis API, the cjson,
// cmsgpack, bit and struct libraries, and the conversions between Lua
// values and RESP replies, for EVAL scripts and for function libraries.
// The engine (package node) runs the commands behind redis.call through
// Host, one script at a time per State: a State is not safe for
// concurrent use.
//
// Known differences from Redis's Lua, all from gopher-lua: numbers
// concatenated or joined by table.concat print in Go's shortest form
// (1/3 gives 0.3333333333333333 where Lua prints 0.33333333333333;
// tostring and arguments to redis.call are exact); syntax errors are
// worded by gopher-lua's parser; `#t` counts the array part only.
package lua

import (
	"bytes"
	"context"
	"fmt"
	stdmath "math"
	"reflect"
	"strconv"
	"strings"
	"time"

	glua "github.com/yuin/gopher-lua"
)

func init() {
	// gopher-lua keeps integer keys up to MaxArrayIndex in a table's
	// array part and fills the gap below a new key with nils, so
	// t[60000000] = 1 would allocate a gigabyte. Lua 5.1 would use its
	// hash part; a lower bound keeps a single assignment to at most
	// 256 MB while arrays of 16M elements keep working.
	glua.MaxArrayIndex = 1 << 24
}

// Kind selects the environment a State builds: Redis keeps one
// interpreter for EVAL and another for function libraries, with
// different globals.
type Kind int

const (
	// Eval is the EVAL/EVALSHA environment: KEYS and ARGV are globals.
	Eval Kind = iota
	// Functions is the FUNCTION/FCALL environment: libraries register
	// functions at load time and get KEYS and ARGV as arguments.
	Functions
)

// Log levels of redis.log, as Redis's LL_* values.
const (
	LogDebug   = 0
	LogVerbose = 1
	LogNotice  = 2
	LogWarning = 3
)

// Replication flags of redis.set_repl (Redis's PROPAGATE_*).
const (
	ReplNone    = 0
	ReplAOF     = 1
	ReplReplica = 2
	ReplAll     = ReplAOF | ReplReplica
)

// Host runs what a script asks of the server. Its methods are called on
// the goroutine running the script.
type Host interface {
	// Call runs one command for redis.call/redis.pcall. It returns the
	// command's RESP reply in the protocol the script selected, or a
	// non-empty scriptErr when the script may not run the command (Redis's
	// scriptCall errors: "Unknown Redis command called from script",
	// "-OOM ...": with a leading '-' the message carries its own code).
	Call(argv [][]byte) (reply []byte, scriptErr string)
	// SetResp is redis.setresp: later replies come in that protocol.
	SetResp(resp int)
	// SetRepl is redis.set_repl with ReplNone..ReplAll.
	SetRepl(flags int)
	// ACLCheck is redis.acl_check_cmd: known is false for an unknown
	// command.
	ACLCheck(argv [][]byte) (allowed, known bool)
	// Interrupt is called every few thousand Lua instructions while the
	// script runs (Redis's count hook): the host serves other clients when
	// the script is slow, and returns true to kill it.
	Interrupt() (kill bool)
}

// Options configure a State.
type Options struct {
	// Version is the Redis version redis.REDIS_VERSION reports.
	Version string
	// Rand is the PRNG behind math.random, shared by the server's states.
	Rand *Rand48
	// Log receives redis.log messages (level LogDebug..LogWarning).
	Log func(level int, msg string)
}

// Run is one invocation of a script or function.
type Run struct {
	Host Host
	// Name is what errors call the script: the SHA1 of an EVAL script or
	// the name of a function.
	Name string

	resp   int
	killed bool
}

// State is one Lua interpreter with Redis's environment.
type State struct {
	L    *glua.LState
	kind Kind
	opts Options

	globals *glua.LTable // the real globals
	env     *glua.LTable // the environment scripts see (locked)
	envMeta *glua.LTable // Functions: env's metatable, whose __index switches
	libAPI  *glua.LTable // Functions: the globals seen while loading a library

	proxyOf    map[*glua.LTable]*glua.LTable
	realOf     map[*glua.LTable]*glua.LTable
	roNewIndex *glua.LFunction
	empty      *glua.LTable

	errHandler *glua.LFunction
	errTables  map[*glua.LTable]bool // error tables raised by the redis API

	run     *Run
	loading *loadCtx
	ticks   uint64
	cdepth  int // nested pcall/xpcall/resume: Lua's C call depth
	threads int // coroutines created by the running script

	cjson cjsonConfig
	null  *glua.LUserData // cjson.null
}

// New builds an interpreter with Redis's environment for kind.
func New(kind Kind, opts Options) *State {
	if opts.Rand == nil {
		opts.Rand = NewRand48()
	}
	if opts.Log == nil {
		opts.Log = func(int, string) {}
	}
	if opts.Version == "" {
		opts.Version = "7.0.15"
	}
	L := glua.NewState(glua.Options{
		SkipOpenLibs: true,
		// Lua 5.1 allows deep recursion (LUAI_MAXCALLS) and 8000 stack
		// slots for a C call (unpack of 7999 values must work).
		// Frames above maxCallDepth are refused by the hook (tick), so
		// the error handler always has room to run.
		CallStackSize:       maxCallDepth + 1000,
		MinimizeStackMemory: true,
		// Small to start with: every coroutine is an LState of its own.
		RegistrySize:     256,
		RegistryMaxSize:  1024 * 256,
		RegistryGrowStep: 1024,
	})
	st := &State{
		L:         L,
		kind:      kind,
		opts:      opts,
		proxyOf:   make(map[*glua.LTable]*glua.LTable),
		realOf:    make(map[*glua.LTable]*glua.LTable),
		errTables: make(map[*glua.LTable]bool),
		cjson:     defaultCJSONConfig(),
	}
	st.roNewIndex = L.NewFunction(roNewIndexFn)
	st.empty = L.NewTable()
	L.SetContext(&hookCtx{st: st, L: L})
	st.setup()
	return st
}

// Close releases the interpreter.
func (st *State) Close() { st.L.Close() }

func openLib(L *glua.LState, name string, open glua.LGFunction) {
	L.Push(L.NewFunction(open))
	L.Push(glua.LString(name))
	L.Call(1, 0)
}

func (st *State) setup() {
	L := st.L
	openLib(L, glua.BaseLibName, glua.OpenBase)
	openLib(L, glua.TabLibName, glua.OpenTable)
	openLib(L, glua.StringLibName, glua.OpenString)
	openLib(L, glua.MathLibName, glua.OpenMath)
	openLib(L, glua.CoroutineLibName, glua.OpenCoroutine)
	g := L.G.Global
	st.globals = g
	// What Lua 5.1 has and Redis keeps out of scripts (and gopher-lua's
	// extras).
	for _, name := range []string{"dofile", "loadfile", "print", "_printregs", "module", "require", "newproxy", "_GOPHER_LUA_VERSION"} {
		g.RawSetString(name, glua.LNil)
	}
	st.installBaseOverrides(g)
	st.installProxyAwareBuiltins(g)
	openCJSON(st, g)
	openStruct(st, g)
	openCMsgpack(st, g)
	openBit(st, g)

	st.errHandler = L.NewFunction(st.handleError)
	redis := st.newRedisTable(st.kind == Eval)
	g.RawSetString("redis", redis)
	if st.kind == Eval {
		g.RawSetString("__redis__err__handler", st.errHandler)
	}

	// Reading an undefined global is an error (Redis's error metatable).
	errMeta := L.NewTable()
	errMeta.RawSetString("__index", L.NewFunction(protectedTableError))
	g.Metatable = errMeta

	if st.kind == Functions {
		// While a library loads, its globals are only the registration
		// API: redis.register_function, redis.log and the version.
		api := L.NewTable()
		lr := L.NewTable()
		lr.RawSetString("register_function", L.NewFunction(st.registerFunction))
		st.addLogAPI(lr)
		st.addVersion(lr)
		lrMeta := L.NewTable()
		lrMeta.RawSetString("__index", L.NewFunction(protectedTableError))
		lr.Metatable = lrMeta
		api.RawSetString("redis", lr)
		apiMeta := L.NewTable()
		apiMeta.RawSetString("__index", L.NewFunction(protectedTableError))
		api.Metatable = apiMeta
		st.libAPI = st.protect(api)
	}

	p := st.protect(g)
	g.RawSetString("_G", p)
	switch st.kind {
	case Eval:
		st.env = p
	case Functions:
		st.env, st.envMeta = st.newLocked(p)
	}
	L.Env = st.env
}

// protectedTableError is the __index of the locked globals.
func protectedTableError(L *glua.LState) int {
	name := L.Get(2)
	switch name.(type) {
	case glua.LString, glua.LNumber:
	default:
		L.RaiseError("Second argument to luaProtectedTableError must be a string or number")
	}
	L.RaiseError("Script attempted to access nonexistent global variable '%s'", name.String())
	return 0
}

// installBaseOverrides replaces base functions whose gopher-lua versions
// differ from Redis's Lua in ways scripts can see.
func (st *State) installBaseOverrides(g *glua.LTable) {
	L := st.L
	// redis.pcall-style pcall: an error table raised by the redis API
	// reaches the script as its message, as in Redis 7.
	g.RawSetString("pcall", L.NewFunction(func(L *glua.LState) int {
		L.CheckAny(1)
		defer st.enterCCall(L)()
		nargs := L.GetTop() - 1
		if err := L.PCall(nargs, glua.MultRet, nil); err != nil {
			L.Push(glua.LFalse)
			obj := errorObject(err)
			if t, ok := obj.(*glua.LTable); ok {
				if s, ok := t.RawGetString("err").(glua.LString); ok {
					obj = s
				}
			}
			L.Push(obj)
			return 2
		}
		L.Insert(glua.LTrue, 1)
		return L.GetTop()
	}))
	// error(nil) is allowed: the error object is nil.
	g.RawSetString("error", L.NewFunction(func(L *glua.LState) int {
		obj := L.Get(1)
		level := L.OptInt(2, 1)
		if s, ok := obj.(glua.LString); ok && level > 0 {
			if dbg, ok := L.GetStack(level); ok {
				if _, err := L.GetInfo("Sl", dbg, glua.LNil); err == nil && dbg.What != "G" && dbg.CurrentLine > 0 {
					obj = glua.LString(fmt.Sprintf("%s:%d: %s", dbg.Source, dbg.CurrentLine, s))
				}
			}
		}
		L.Error(obj, 0)
		return 0
	}))
	// tostring formats numbers as Lua 5.1 does ("%.14g"), not as Go does.
	// gopher-lua's own conversions (concatenation, table.concat) keep
	// Go's shortest form; see the package doc.
	tostring := g.RawGetString("tostring").(*glua.LFunction)
	g.RawSetString("tostring", L.NewFunction(func(L *glua.LState) int {
		if n, ok := L.Get(1).(glua.LNumber); ok {
			L.Push(glua.LString(formatG(float64(n), 14)))
			return 1
		}
		return tostring.GFunction(L)
	}))
	xpcall := g.RawGetString("xpcall").(*glua.LFunction)
	g.RawSetString("xpcall", L.NewFunction(func(L *glua.LState) int {
		defer st.enterCCall(L)()
		return xpcall.GFunction(L)
	}))
	collect := func(L *glua.LState) int {
		opt := L.OptString(1, "collect")
		switch opt {
		case "count":
			L.Push(glua.LNumber(float64(st.MemoryUsed()) / 1024))
		case "step":
			L.Push(glua.LFalse)
		case "setpause", "setstepmul":
			L.Push(glua.LNumber(200))
		case "collect", "stop", "restart":
			L.Push(glua.LNumber(0))
		default:
			L.ArgError(1, "invalid option '"+opt+"'")
		}
		return 1
	}
	// The collector is Go's: a script must not trigger a whole-process GC.
	g.RawSetString("collectgarbage", L.NewFunction(collect))
	g.RawSetString("gcinfo", L.NewFunction(func(L *glua.LState) int {
		L.Push(glua.LNumber(st.MemoryUsed() / 1024))
		return 1
	}))
	g.RawSetString("loadstring", L.NewFunction(func(L *glua.LState) int {
		src := L.CheckString(1)
		name := L.OptString(2, src)
		return st.loadChunk(L, src, name)
	}))
	g.RawSetString("load", L.NewFunction(func(L *glua.LState) int {
		fn := L.CheckFunction(1)
		name := L.OptString(2, "=(load)")
		var buf strings.Builder
		for {
			L.Push(fn)
			L.Call(0, 1)
			piece := L.Get(-1)
			L.Pop(1)
			if piece == glua.LNil {
				break
			}
			s, ok := piece.(glua.LString)
			if !ok {
				if n, isNum := piece.(glua.LNumber); isNum {
					s = glua.LString(n.String())
				} else {
					L.Push(glua.LNil)
					L.Push(glua.LString("reader function must return a string"))
					return 2
				}
			}
			if s == "" {
				break
			}
			buf.WriteString(string(s))
		}
		return st.loadChunk(L, buf.String(), name)
	}))
	g.RawSetString("getfenv", L.NewFunction(func(L *glua.LState) int {
		var env glua.LValue
		switch v := L.Get(1).(type) {
		case *glua.LFunction:
			env = v.Env
		case glua.LNumber, *glua.LNilType:
			level := 1
			if n, ok := v.(glua.LNumber); ok {
				level = int(n)
			}
			if level < 0 {
				L.ArgError(1, "level must be non-negative")
			}
			if level == 0 {
				env = L.Env
			} else {
				dbg, ok := L.GetStack(level)
				if !ok {
					L.ArgError(1, "invalid level")
				}
				fv, _ := L.GetInfo("f", dbg, glua.LNil)
				if f, ok := fv.(*glua.LFunction); ok {
					env = f.Env
				}
			}
		default:
			env = L.Env
		}
		if t, ok := env.(*glua.LTable); ok {
			if p, ok := st.proxyOf[t]; ok {
				env = p
			}
		}
		if env == nil {
			env = glua.LNil
		}
		L.Push(env)
		return 1
	}))
	str := g.RawGetString("string").(*glua.LTable)
	str.RawSetString("rep", L.NewFunction(strRep))
	str.RawSetString("dump", L.NewFunction(func(L *glua.LState) int {
		L.CheckFunction(1)
		// Binary chunks cannot be loaded back (Redis refuses them), so
		// any bytes with the signature do.
		L.Push(glua.LString("\x1bLua\x51\x00"))
		return 1
	}))
	math := g.RawGetString("math").(*glua.LTable)
	// HUGE_VAL is infinity (gopher-lua has the largest finite number).
	math.RawSetString("huge", glua.LNumber(stdmath.Inf(1)))
	math.RawSetString("random", L.NewFunction(st.mathRandom))
	math.RawSetString("randomseed", L.NewFunction(st.mathRandomSeed))
	co := g.RawGetString("coroutine").(*glua.LTable)
	st.installCoroutines(co)
}

// loadChunk compiles src for loadstring/load: binary chunks are refused,
// and the chunk runs in the scripts' environment.
func (st *State) loadChunk(L *glua.LState, src, name string) int {
	if strings.HasPrefix(src, "\x1b") {
		L.Push(glua.LNil)
		L.Push(glua.LString("binary code loading is disabled"))
		return 2
	}
	chunk := name
	if !strings.HasPrefix(name, "=") && !strings.HasPrefix(name, "@") {
		chunk = `[string "` + firstLine(name) + `"]`
	} else {
		chunk = name[1:]
	}
	fn, err := L.Load(strings.NewReader(src), chunk)
	if err != nil {
		L.Push(glua.LNil)
		L.Push(glua.LString(compileMessage(err)))
		return 2
	}
	fn.Env = st.env
	noArgTable(fn)
	L.Push(fn)
	return 1
}

func firstLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i] + "..."
	}
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}

// strRep is string.rep with Lua 5.1's C int count and a bound on the
// result, so a script cannot ask for terabytes.
func strRep(L *glua.LState) int {
	s := L.CheckString(1)
	n := int64(cInt(checkNumber(L, 2)))
	if n <= 0 || s == "" {
		L.Push(glua.LString(""))
		return 1
	}
	if int64(len(s))*n > maxStringSize {
		raisef(L, "not enough memory")
	}
	L.Push(glua.LString(strings.Repeat(s, int(n))))
	return 1
}

// maxStringSize bounds strings the libraries build (string.rep, struct
// padding, cjson buffers): Redis's proto-max-bulk-len default.
const maxStringSize = 512 << 20

// cInt converts a Lua number as luaL_checkint does: through a 64-bit
// integer (x86 gives the minimum for out-of-range values), keeping the
// low 32 bits.
func cInt(f float64) int32 {
	return int32(cInteger(f))
}

// cInteger converts a Lua number to lua_Integer as x86-64 does.
func cInteger(f float64) int64 {
	if f != f || f >= 9.223372036854775807e18 || f < -9.223372036854775808e18 {
		return -1 << 63
	}
	return int64(f)
}

// installCoroutines makes coroutines run under the interrupt hook (a
// coroutine's instructions count for lua-time-limit and SCRIPT KILL).
func (st *State) installCoroutines(co *glua.LTable) {
	L := st.L
	newThread := func(L *glua.LState) *glua.LState {
		st.countThread(L)
		th, _ := L.NewThread()
		th.SetContext(&hookCtx{st: st, L: th})
		return th
	}
	create := co.RawGetString("create").(*glua.LFunction)
	co.RawSetString("create", L.NewFunction(func(L *glua.LState) int {
		st.countThread(L)
		n := create.GFunction(L)
		if th, ok := L.Get(-1).(*glua.LState); ok {
			th.SetContext(&hookCtx{st: st, L: th})
		}
		return n
	}))
	resume := co.RawGetString("resume").(*glua.LFunction)
	co.RawSetString("resume", L.NewFunction(func(L *glua.LState) int {
		if st.cdepth >= maxCCalls {
			L.Push(glua.LFalse)
			L.Push(glua.LString("C stack overflow"))
			return 2
		}
		defer st.enterCCall(L)()
		return resume.GFunction(L)
	}))
	co.RawSetString("wrap", L.NewFunction(func(L *glua.LState) int {
		fn := L.CheckFunction(1)
		th := newThread(L)
		started := false
		L.Push(L.NewFunction(func(L *glua.LState) int {
			defer st.enterCCall(L)()
			args := make([]glua.LValue, L.GetTop())
			for i := range args {
				args[i] = L.Get(i + 1)
			}
			var f *glua.LFunction
			if !started {
				f = fn
				started = true
			}
			_, err, vals := L.Resume(th, f, args...)
			if err != nil {
				obj := errorObject(err)
				if s, ok := obj.(glua.LString); ok {
					raisef(L, "%s", string(s))
				}
				L.Error(obj, 0)
			}
			for _, v := range vals {
				L.Push(v)
			}
			return len(vals)
		}))
		return 1
	}))
}

// enterCCall counts a call that nests through Go (Lua's nCcalls) and
// returns its end; past maxCCalls it raises "C stack overflow".
func (st *State) enterCCall(L *glua.LState) func() {
	if st.cdepth >= maxCCalls {
		L.Error(glua.LString("C stack overflow"), 0)
	}
	st.cdepth++
	return func() { st.cdepth-- }
}

// countThread refuses a script's coroutine beyond maxCoroutines.
func (st *State) countThread(L *glua.LState) {
	st.threads++
	if st.threads > maxCoroutines {
		raisef(L, "too many coroutines (%d)", maxCoroutines)
	}
}

// frameDepth is the number of call frames of L (gopher-lua keeps it in
// an unexported field; read through reflection).
func frameDepth(L *glua.LState) int {
	cf := reflect.ValueOf(L).Elem().FieldByIndex(currentFrameField)
	if cf.IsNil() {
		return 0
	}
	return int(cf.Elem().FieldByIndex(frameIdxField).Int())
}

var currentFrameField, frameIdxField = func() ([]int, []int) {
	f, ok := reflect.TypeOf(glua.LState{}).FieldByName("currentFrame")
	if !ok {
		panic("gopher-lua: LState has no currentFrame")
	}
	idx, ok := f.Type.Elem().FieldByName("Idx")
	if !ok {
		panic("gopher-lua: callFrame has no Idx")
	}
	return f.Index, idx.Index
}()

// errorObject is the Lua value an error carries.
func errorObject(err error) glua.LValue {
	if aerr, ok := err.(*glua.ApiError); ok {
		if aerr.Object != nil {
			return aerr.Object
		}
		return glua.LString(aerr.Error())
	}
	return glua.LString(err.Error())
}

// hookCtx stands in for Lua's count hook: gopher-lua asks the context of
// a running state for its Done channel before every instruction, which
// gives the interpreter a place to check the clock and the kill flag.
type hookCtx struct {
	st *State
	L  *glua.LState
}

func (h *hookCtx) Deadline() (time.Time, bool) { return time.Time{}, false }
func (h *hookCtx) Err() error                  { return nil }
func (h *hookCtx) Value(any) any               { return nil }

// Done never returns a channel (so deriving contexts costs nothing); it
// raises the kill or timeout error itself.
func (h *hookCtx) Done() <-chan struct{} {
	h.st.tick(h.L)
	return nil
}

var _ context.Context = (*hookCtx)(nil)

// hookInterval is how many instructions run between two interrupt
// checks.
const hookInterval = 1 << 11

// Limits of Lua 5.1: LUAI_MAXCALLS frames ("stack overflow") and
// LUAI_MAXCCALLS nested calls through C ("C stack overflow"), and a
// bound on the coroutines a script creates (each is an interpreter).
const (
	maxCallDepth  = 20000
	maxCCalls     = 200
	maxCoroutines = 1000
)

func (st *State) tick(L *glua.LState) {
	st.ticks++
	run := st.run
	if run != nil && run.killed {
		// Once killed, every instruction raises, so pcall cannot keep
		// the script alive (Redis switches its hook to every line).
		st.raiseKilled(L)
	}
	// A call takes a few instructions: checking every 64 catches deep
	// recursion well within the call stack's headroom.
	if st.ticks%64 == 0 && frameDepth(L) >= maxCallDepth {
		L.RaiseError("stack overflow")
	}
	if st.ticks%hookInterval != 0 {
		return
	}
	switch {
	case run != nil:
		if run.Host.Interrupt() {
			run.killed = true
			st.raiseKilled(L)
		}
	case st.loading != nil:
		if st.loading.timeout > 0 && time.Since(st.loading.start) > st.loading.timeout {
			st.loading.timedOut = true
			L.Error(st.newErrorTable("FUNCTION LOAD timeout", false), 0)
		}
	}
}

func (st *State) raiseKilled(L *glua.LState) {
	L.Error(st.newErrorTable("Script killed by user with SCRIPT KILL...", false), 0)
}

// newErrorTable builds the {err=...} table Redis's luaPushErrorBuff
// builds: "-CODE msg" keeps its code, a bare message gets ERR; trailing
// newlines are trimmed.
func (st *State) newErrorTable(buf string, fromServer bool) *glua.LTable {
	var code, msg string
	if strings.HasPrefix(buf, "-") {
		if i := strings.IndexByte(buf, ' '); i >= 0 {
			code, msg = buf[1:i], buf[i+1:]
		} else {
			code, msg = "ERR", buf[1:]
		}
	} else {
		code, msg = "ERR", buf
	}
	msg = strings.Trim(msg, "\r\n")
	t := st.L.NewTable()
	t.RawSetString("err", glua.LString(code+" "+msg))
	if fromServer {
		// The command already counted this error in the stats.
		t.RawSetString("ignore_error_stats_update", glua.LTrue)
	}
	return t
}

// newRedisTable builds the redis API table.
func (st *State) newRedisTable(eval bool) *glua.LTable {
	L := st.L
	t := L.NewTable()
	t.RawSetString("call", L.NewFunction(func(L *glua.LState) int { return st.redisCall(L, true) }))
	t.RawSetString("pcall", L.NewFunction(func(L *glua.LState) int { return st.redisCall(L, false) }))
	st.addLogAPI(t)
	st.addVersion(t)
	t.RawSetString("setresp", L.NewFunction(st.setResp))
	t.RawSetString("sha1hex", L.NewFunction(redisSha1hex))
	t.RawSetString("error_reply", L.NewFunction(st.luaErrorReply))
	t.RawSetString("status_reply", L.NewFunction(statusReply))
	t.RawSetString("set_repl", L.NewFunction(st.setRepl))
	t.RawSetString("REPL_NONE", glua.LNumber(ReplNone))
	t.RawSetString("REPL_AOF", glua.LNumber(ReplAOF))
	t.RawSetString("REPL_SLAVE", glua.LNumber(ReplReplica))
	t.RawSetString("REPL_REPLICA", glua.LNumber(ReplReplica))
	t.RawSetString("REPL_ALL", glua.LNumber(ReplAll))
	t.RawSetString("acl_check_cmd", L.NewFunction(st.aclCheckCmd))
	if eval {
		// Debugger entry points: there is no debugger, so they do what
		// Redis's do outside a debugging session.
		t.RawSetString("breakpoint", L.NewFunction(func(L *glua.LState) int {
			L.Push(glua.LFalse)
			return 1
		}))
		t.RawSetString("debug", L.NewFunction(func(L *glua.LState) int { return 0 }))
		t.RawSetString("replicate_commands", L.NewFunction(func(L *glua.LState) int {
			L.Push(glua.LTrue)
			return 1
		}))
	}
	return t
}

func (st *State) addLogAPI(t *glua.LTable) {
	t.RawSetString("log", st.L.NewFunction(st.redisLog))
	t.RawSetString("LOG_DEBUG", glua.LNumber(LogDebug))
	t.RawSetString("LOG_VERBOSE", glua.LNumber(LogVerbose))
	t.RawSetString("LOG_NOTICE", glua.LNumber(LogNotice))
	t.RawSetString("LOG_WARNING", glua.LNumber(LogWarning))
}

func (st *State) addVersion(t *glua.LTable) {
	t.RawSetString("REDIS_VERSION_NUM", glua.LNumber(versionNum(st.opts.Version)))
	t.RawSetString("REDIS_VERSION", glua.LString(st.opts.Version))
}

// versionNum is Redis's REDIS_VERSION_NUM: 0x00MMmmpp.
func versionNum(v string) int {
	parts := strings.SplitN(v, ".", 3)
	n := 0
	for i := 0; i < 3; i++ {
		x := 0
		if i < len(parts) {
			x, _ = strconv.Atoi(parts[i])
		}
		n = n<<8 | (x & 0xff)
	}
	return n
}

// raiseError raises an error table built from msg (luaPushError +
// luaError).
func (st *State) raiseError(L *glua.LState, msg string) {
	L.Error(st.newErrorTable(msg, false), 0)
}

// redisCall is redis.call (raise) and redis.pcall.
func (st *State) redisCall(L *glua.LState, raise bool) int {
	run := st.run
	if run == nil {
		st.raiseError(L, "redis.call/pcall can only be called inside a script invocation")
	}
	argv, ok := st.argv(L)
	if !ok {
		if raise {
			L.Error(L.Get(-1), 0)
		}
		return 1
	}
	reply, serr := run.Host.Call(argv)
	if serr != "" {
		t := st.newErrorTable(serr, true)
		if raise {
			L.Error(t, 0)
		}
		L.Push(t)
		return 1
	}
	v, isErr := st.parseReply(reply)
	if raise && isErr {
		L.Error(v, 0)
	}
	L.Push(v)
	return 1
}

// argv converts the arguments of a redis API call into a command. On a
// bad argument it leaves the error table on the stack and returns false.
func (st *State) argv(L *glua.LState) ([][]byte, bool) {
	n := L.GetTop()
	if n == 0 {
		L.Push(st.newErrorTable("Please specify at least one argument for this redis lib call", false))
		return nil, false
	}
	argv := make([][]byte, n)
	for i := 1; i <= n; i++ {
		switch v := L.Get(i).(type) {
		case glua.LString:
			argv[i-1] = []byte(v)
		case glua.LNumber:
			// Not Lua's own %.14g: that would lose precision.
			argv[i-1] = formatArgNumber(float64(v))
		default:
			L.SetTop(0)
			L.Push(st.newErrorTable("Lua redis lib command arguments must be strings or integers", false))
			return nil, false
		}
	}
	L.SetTop(0)
	return argv, true
}

// formatArgNumber formats a number argument as Redis's "%.17g".
func formatArgNumber(f float64) []byte {
	switch {
	case f != f:
		return []byte("nan")
	case f > 1.7976931348623157e308:
		return []byte("inf")
	case f < -1.7976931348623157e308:
		return []byte("-inf")
	}
	return strconv.AppendFloat(nil, f, 'g', 17, 64)
}

func redisSha1hex(L *glua.LState) int {
	if L.GetTop() != 1 {
		L.Error(stateOf(L).newErrorTable("wrong number of arguments", false), 0)
	}
	var s string
	switch v := L.Get(1).(type) {
	case glua.LString:
		s = string(v)
	case glua.LNumber:
		s = v.String()
	}
	L.Push(glua.LString(SHA1Hex([]byte(s))))
	return 1
}

// stateOf finds the State an LState belongs to (through its hook).
func stateOf(L *glua.LState) *State {
	if h, ok := L.Context().(*hookCtx); ok {
		return h.st
	}
	return nil
}

func (st *State) luaErrorReply(L *glua.LState) int {
	s, ok := L.Get(1).(glua.LString)
	if L.GetTop() != 1 || !ok {
		L.Push(st.newErrorTable("wrong number or type of arguments", false))
		return 1
	}
	msg := string(s)
	if !strings.HasPrefix(msg, "-") {
		msg = "-" + msg
	}
	L.Push(st.newErrorTable(msg, false))
	return 1
}

func statusReply(L *glua.LState) int {
	s, ok := L.Get(1).(glua.LString)
	if L.GetTop() != 1 || !ok {
		L.Push(stateOf(L).newErrorTable("wrong number or type of arguments", false))
		return 1
	}
	t := L.NewTable()
	t.RawSetString("ok", s)
	L.Push(t)
	return 1
}

func (st *State) setRepl(L *glua.LState) int {
	if st.run == nil {
		st.raiseError(L, "redis.set_repl can only be called inside a script invocation")
	}
	if L.GetTop() != 1 {
		st.raiseError(L, "redis.set_repl() requires two arguments.")
	}
	flags := int(cInt(toNumber(L.Get(-1))))
	if flags&^ReplAll != 0 {
		st.raiseError(L, "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.")
	}
	st.run.Host.SetRepl(flags)
	return 0
}

func (st *State) setResp(L *glua.LState) int {
	if st.run == nil {
		st.raiseError(L, "redis.setresp can only be called inside a script invocation")
	}
	if L.GetTop() != 1 {
		st.raiseError(L, "redis.setresp() requires one argument.")
	}
	resp := int(cInt(toNumber(L.Get(1))))
	if resp != 2 && resp != 3 {
		st.raiseError(L, "RESP version must be 2 or 3.")
	}
	st.run.resp = resp
	st.run.Host.SetResp(resp)
	return 0
}

// toNumber is lua_tonumber: numbers and numeric strings, else 0.
func toNumber(v glua.LValue) float64 {
	switch v := v.(type) {
	case glua.LNumber:
		return float64(v)
	case glua.LString:
		if f, err := parseLuaNumber(string(v)); err == nil {
			return f
		}
	}
	return 0
}

// isNumber is lua_isnumber: a number or a string convertible to one.
func isNumber(v glua.LValue) bool {
	switch v := v.(type) {
	case glua.LNumber:
		return true
	case glua.LString:
		_, err := parseLuaNumber(string(v))
		return err == nil
	}
	return false
}

func (st *State) aclCheckCmd(L *glua.LState) int {
	if st.run == nil {
		st.raiseError(L, "redis.acl_check_cmd can only be called inside a script invocation")
	}
	argv, ok := st.argv(L)
	if !ok {
		L.Error(L.Get(-1), 0)
	}
	allowed, known := st.run.Host.ACLCheck(argv)
	if !known {
		st.raiseError(L, "Invalid command passed to redis.acl_check_cmd()")
	}
	L.Push(glua.LBool(allowed))
	return 1
}

func (st *State) redisLog(L *glua.LState) int {
	argc := L.GetTop()
	if argc < 2 {
		st.raiseError(L, "redis.log() requires two arguments or more.")
	}
	if !isNumber(L.Get(1)) {
		st.raiseError(L, "First argument must be a number (log level).")
	}
	level := int(cInt(toNumber(L.Get(1))))
	if level < LogDebug || level > LogWarning {
		st.raiseError(L, "Invalid debug level.")
	}
	var b bytes.Buffer
	first := true
	for i := 2; i <= argc; i++ {
		var s string
		switch v := L.Get(i).(type) {
		case glua.LString:
			s = string(v)
		case glua.LNumber:
			s = v.String()
		default:
			continue
		}
		if !first {
			b.WriteByte(' ')
		}
		first = false
		b.WriteString(s)
	}
	st.opts.Log(level, b.String())
	return 0
}

func (st *State) mathRandom(L *glua.LState) int {
	if st.run == nil {
		raisef(L, "math.random can only be called inside a script invocation")
	}
	r := float64(st.opts.Rand.Next()%rand48Max) / float64(rand48Max)
	switch L.GetTop() {
	case 0:
		L.Push(glua.LNumber(r))
	case 1:
		u := cInt(checkNumber(L, 1))
		if u < 1 {
			L.ArgError(1, "interval is empty")
		}
		L.Push(glua.LNumber(floor(r*float64(u)) + 1))
	case 2:
		l := cInt(checkNumber(L, 1))
		u := cInt(checkNumber(L, 2))
		if l > u {
			L.ArgError(2, "interval is empty")
		}
		L.Push(glua.LNumber(floor(r*float64(int64(u)-int64(l)+1)) + float64(l)))
	default:
		raisef(L, "wrong number of arguments")
	}
	return 1
}

func (st *State) mathRandomSeed(L *glua.LState) int {
	if st.run == nil {
		raisef(L, "math.randomseed can only be called inside a script invocation")
	}
	st.opts.Rand.Seed(cInt(checkNumber(L, 1)))
	return 0
}

// MemoryUsed estimates the interpreter's memory for INFO and
// collectgarbage("count"): gopher-lua allocates from Go's heap, so this
// is a nominal figure of the same order as Redis's fresh interpreter.
func (st *State) MemoryUsed() int64 { return 31 << 10 }
