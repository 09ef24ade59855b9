package lua

import (
	"errors"
	"fmt"
	"strings"
	"time"

	glua "github.com/yuin/gopher-lua"
)

// Script is a compiled EVAL script or library function.
type Script struct {
	fn *glua.LFunction
}

// CompileError is a script that does not compile; Msg is Lua's message
// ("user_script:1: ...").
type CompileError struct{ Msg string }

func (e *CompileError) Error() string { return e.Msg }

// Compile compiles an EVAL script body. The caller has already replaced
// a shebang line by an empty line, so line numbers stay the user's.
func (st *State) Compile(body []byte) (*Script, error) {
	fn, err := st.L.Load(strings.NewReader(string(body)), "user_script")
	if err != nil {
		return nil, &CompileError{Msg: compileMessage(err)}
	}
	fn.Env = st.env
	noArgTable(fn)
	return &Script{fn: fn}, nil
}

// noArgTable stops gopher-lua from building Lua 5.0's "arg" table on
// every call of a chunk: Lua 5.1 never gives a main chunk one (its
// "arg" is a global), and the table cost an allocation per script call.
func noArgTable(fn *glua.LFunction) {
	fn.Proto.IsVarArg &^= glua.VarArgNeedsArg
}

// Call runs a script: an EVAL script sees keys and args as the KEYS and
// ARGV globals, a library function gets them as its two arguments. The
// reply (or the error, in Redis's format with the script's name and
// position) goes to w.
func (st *State) Call(run *Run, s *Script, keys, args [][]byte, w ReplyWriter) {
	L := st.L
	run.resp = 2
	run.killed = false
	st.run = run
	st.cdepth, st.threads = 0, 0
	L.Env = st.env
	defer func() {
		st.run = nil
		L.SetTop(0)
	}()
	kt := newArray(L, keys)
	at := newArray(L, args)
	L.Push(s.fn)
	nargs := 0
	if st.kind == Eval {
		st.globals.RawSetString("KEYS", kt)
		st.globals.RawSetString("ARGV", at)
	} else {
		L.Push(kt)
		L.Push(at)
		nargs = 2
	}
	if err := L.PCall(nargs, 1, st.errHandler); err != nil {
		msg, count := st.errorReply(run.Name, errorObject(err))
		w.ScriptError(msg, count)
		return
	}
	st.writeReply(w, L.Get(-1), run.resp, 0)
}

func newArray(L *glua.LState, items [][]byte) *glua.LTable {
	t := L.CreateTable(len(items), 0)
	for i, b := range items {
		t.RawSetInt(i+1, glua.LString(b))
	}
	return t
}

// handleError is the error handler scripts run under (Redis's
// __redis__err__handler): it turns any error into a table with the
// message in err and the script's position in source and line.
func (st *State) handleError(L *glua.LState) int {
	errv := L.Get(1)
	dbg, ok := L.GetStack(1)
	if ok {
		if _, err := L.GetInfo("Sl", dbg, glua.LNil); err != nil {
			ok = false
		} else if dbg.What == "G" {
			// An error raised by a builtin: report its caller.
			dbg, ok = L.GetStack(2)
			if ok {
				if _, err := L.GetInfo("Sl", dbg, glua.LNil); err != nil {
					ok = false
				}
			}
		}
	}
	t, isTable := errv.(*glua.LTable)
	if isTable && st.locked(t) {
		isTable = false
	}
	if !isTable {
		msg := luaToString(errv)
		if s, isStr := errv.(glua.LString); isStr {
			msg = st.rewriteMessage(L, string(s))
		}
		t = L.NewTable()
		t.RawSetString("err", glua.LString("ERR "+msg))
	}
	if ok && dbg.What != "G" {
		t.RawSetString("source", glua.LString(sourceName(dbg.Source)))
		t.RawSetString("line", glua.LNumber(dbg.CurrentLine))
	}
	L.Push(t)
	return 1
}

// sourceName is a chunk's source as Lua 5.1 reports it: "@user_script"
// for the script itself.
func sourceName(chunk string) string {
	if strings.HasPrefix(chunk, "[") || strings.HasPrefix(chunk, "=") || strings.HasPrefix(chunk, "@") {
		return chunk
	}
	return "@" + chunk
}

// luaToString is Lua's tostring for an error value.
func luaToString(v glua.LValue) string {
	switch v := v.(type) {
	case glua.LString:
		return string(v)
	case *glua.LNilType:
		return "nil"
	case glua.LBool:
		if v {
			return "true"
		}
		return "false"
	}
	return v.String()
}

// errorReply formats the reply of a failed script as Redis's
// luaCallFunction does, and whether it counts in the error stats.
func (st *State) errorReply(name string, obj glua.LValue) (string, bool) {
	t, ok := obj.(*glua.LTable)
	if !ok {
		return fmt.Sprintf("ERR Error running script %s, %.100s", name, luaToString(obj)), true
	}
	msg := "ERR (error object is not a string)"
	if e, ok := t.RawGetString("err").(glua.LString); ok {
		msg = string(e)
	}
	var b strings.Builder
	b.WriteString("-")
	b.WriteString(msg)
	source, sok := t.RawGetString("source").(glua.LString)
	line := t.RawGetString("line")
	if sok && (line.Type() == glua.LTNumber || line.Type() == glua.LTString) {
		fmt.Fprintf(&b, " script: %s, on %s:%s.", name, source, luaToString(line))
	}
	count := true
	if ig, ok := t.RawGetString("ignore_error_stats_update").(glua.LBool); ok && bool(ig) {
		count = false
	}
	return b.String(), count
}

// compileMessage turns a gopher-lua syntax error into Lua 5.1's form:
// "user_script:3: <message> near '<token>'".
func compileMessage(err error) string {
	var aerr *glua.ApiError
	msg := err.Error()
	if errors.As(err, &aerr) && aerr.Cause != nil {
		msg = aerr.Cause.Error()
	}
	msg = strings.TrimSpace(msg)
	// gopher-lua: "<chunk> line:3(column:5) near 'x':   syntax error"
	if i := strings.Index(msg, " line:"); i > 0 {
		chunk := msg[:i]
		rest := msg[i+len(" line:"):]
		line := rest
		if j := strings.IndexAny(rest, "( "); j >= 0 {
			line = rest[:j]
		}
		near := ""
		if j := strings.Index(rest, "near '"); j >= 0 {
			k := strings.Index(rest[j+6:], "'")
			if k >= 0 {
				near = rest[j+6 : j+6+k]
			}
		}
		what := rest
		if j := strings.LastIndex(rest, ":"); j >= 0 {
			what = strings.TrimSpace(rest[j+1:])
		}
		if near != "" {
			if near == "EOF" {
				near = "<eof>"
			}
			return fmt.Sprintf("%s:%s: %s near '%s'", chunk, line, what, near)
		}
		return fmt.Sprintf("%s:%s: %s", chunk, line, what)
	}
	return msg
}

// Function is a function a library registered.
type Function struct {
	Name        string
	Description string // "" with HasDescription false: none given
	HasDesc     bool
	Flags       []string // Redis's flag names, lower case, as given
	Script      *Script
}

type loadCtx struct {
	start    time.Time
	timeout  time.Duration
	timedOut bool
	funcs    []*Function
}

// LoadLibrary runs a library's code (everything after its "#!lua ..."
// line, starting with that line's newline) so that it registers its
// functions, with Redis's load-time environment and time limit (0: no
// limit). The error is the reply text without its "ERR " code.
func (st *State) LoadLibrary(code []byte, timeout time.Duration) ([]*Function, error) {
	if st.kind != Functions {
		return nil, errors.New("not a function engine")
	}
	L := st.L
	fn, err := L.Load(strings.NewReader(string(code)), "user_function")
	if err != nil {
		return nil, fmt.Errorf("Error compiling function: %s", compileMessage(err))
	}
	fn.Env = st.env
	noArgTable(fn)
	st.envMeta.RawSetString("__index", st.libAPI)
	lc := &loadCtx{start: time.Now(), timeout: timeout}
	st.loading = lc
	defer func() {
		st.envMeta.RawSetString("__index", st.proxyOf[st.globals])
		st.loading = nil
		L.SetTop(0)
	}()
	L.Push(fn)
	if err := L.PCall(0, 0, nil); err != nil {
		obj := errorObject(err)
		msg := luaToString(obj)
		if t, ok := obj.(*glua.LTable); ok {
			if e, ok := t.RawGetString("err").(glua.LString); ok {
				msg = string(e)
			}
		} else if s, ok := obj.(glua.LString); ok {
			msg = "ERR " + string(s)
		}
		return nil, fmt.Errorf("Error registering functions: %s", msg)
	}
	return lc.funcs, nil
}

// scriptFlags are the flags a function or a shebang may declare.
var scriptFlags = []string{"no-writes", "allow-oom", "allow-stale", "no-cluster", "allow-cross-slot-keys"}

// registerFunction is redis.register_function, available while a
// library loads.
func (st *State) registerFunction(L *glua.LState) int {
	lc := st.loading
	if lc == nil {
		st.raiseError(L, "redis.register_function can only be called on FUNCTION LOAD command")
	}
	f := &Function{}
	var cb *glua.LFunction
	switch L.GetTop() {
	case 1:
		t, ok := L.Get(1).(*glua.LTable)
		if !ok {
			st.raiseError(L, "calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).")
		}
		t = st.underlying(t)
		var failure string
		forEach(t, func(k, v glua.LValue) {
			if failure != "" {
				return
			}
			key, ok := luaStringOf(k)
			if !ok {
				failure = "named argument key given to redis.register_function is not a string"
				return
			}
			switch strings.ToLower(key) {
			case "function_name":
				s, ok := luaStringOf(v)
				if !ok {
					failure = "function_name argument given to redis.register_function must be a string"
					return
				}
				f.Name = s
			case "description":
				s, ok := luaStringOf(v)
				if !ok {
					failure = "description argument given to redis.register_function must be a string"
					return
				}
				f.Description, f.HasDesc = s, true
			case "callback":
				fn, ok := v.(*glua.LFunction)
				if !ok {
					failure = "callback argument given to redis.register_function must be a function"
					return
				}
				cb = fn
			case "flags":
				ft, ok := v.(*glua.LTable)
				if !ok {
					failure = "flags argument to redis.register_function must be a table representing function flags"
					return
				}
				flags, ok := st.readFlags(ft)
				if !ok {
					failure = "unknown flag given"
					return
				}
				f.Flags = flags
			default:
				failure = "unknown argument given to redis.register_function"
			}
		})
		if failure != "" {
			st.raiseError(L, failure)
		}
		if f.Name == "" && !hasKey(t, "function_name") {
			st.raiseError(L, "redis.register_function must get a function name argument")
		}
		if cb == nil {
			st.raiseError(L, "redis.register_function must get a callback argument")
		}
	case 2:
		name, ok := luaStringOf(L.Get(1))
		if !ok {
			st.raiseError(L, "first argument to redis.register_function must be a string")
		}
		fn, ok := L.Get(2).(*glua.LFunction)
		if !ok {
			st.raiseError(L, "second argument to redis.register_function must be a function")
		}
		f.Name, cb = name, fn
	default:
		st.raiseError(L, "wrong number of arguments to redis.register_function")
	}
	if !ValidName(f.Name) {
		st.raiseError(L, "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long")
	}
	for _, other := range lc.funcs {
		if other.Name == f.Name {
			st.raiseError(L, "Function already exists in the library")
		}
	}
	f.Script = &Script{fn: cb}
	lc.funcs = append(lc.funcs, f)
	return 0
}

func hasKey(t *glua.LTable, key string) bool {
	found := false
	forEach(t, func(k, _ glua.LValue) {
		if s, ok := k.(glua.LString); ok && strings.EqualFold(string(s), key) {
			found = true
		}
	})
	return found
}

// readFlags reads a flags table: strings naming known flags, any case.
func (st *State) readFlags(t *glua.LTable) ([]string, bool) {
	t = st.underlying(t)
	var out []string
	for i := 1; ; i++ {
		v := t.RawGetInt(i)
		if v == glua.LNil {
			break
		}
		s, ok := luaStringOf(v)
		if !ok {
			return nil, false
		}
		known := false
		for _, f := range scriptFlags {
			if strings.EqualFold(f, s) {
				out = append(out, f)
				known = true
				break
			}
		}
		if !known {
			return nil, false
		}
	}
	return out, true
}

// luaStringOf is lua_isstring + lua_tostring: strings and numbers.
func luaStringOf(v glua.LValue) (string, bool) {
	switch v := v.(type) {
	case glua.LString:
		return string(v), true
	case glua.LNumber:
		return v.String(), true
	}
	return "", false
}

// ValidName reports whether name is a valid library or function name:
// letters, digits and underscores, at least one.
func ValidName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
