package node

import (
	"bytes"
	"fmt"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/keyfleet/keyfleet/internal/commands"
	"github.com/keyfleet/keyfleet/node/lua"
)

// Lua scripting: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT, and the
// machinery scripts and functions (functions.go) share: the script run
// (redis.call through the engine's dispatch with the script rules), busy
// scripts (other clients get -BUSY while a script runs past
// busy-reply-threshold, SCRIPT/FUNCTION KILL stop it) and the checks
// Redis applies to a script command from its declared flags.

func init() {
	register(map[string]handler{
		"eval":          evalCommand,
		"evalsha":       evalShaCommand,
		"eval_ro":       evalCommand,
		"evalsha_ro":    evalShaCommand,
		"script|load":   scriptLoadCommand,
		"script|exists": scriptExistsCommand,
		"script|flush":  scriptFlushCommand,
		"script|kill":   scriptKillCommand,
		"script|help":   scriptHelpCommand,
		"script|debug":  scriptDebugCommand,
	})
	// A busy script answers for everyone before anything else looks at
	// the command (MULTI queueing, client pause), and a script command's
	// declared flags are checked where Redis checks a command's flags.
	interceptors = append([]interceptor{scriptInterceptor}, interceptors...)
	// Client pause tells reads from writes by these flags: a no-writes
	// script runs during CLIENT PAUSE WRITE, as in Redis.
	for _, name := range []string{"eval", "eval_ro", "evalsha", "evalsha_ro", "fcall", "fcall_ro"} {
		// Looked up when called: the table is built once every init ran.
		registerDynamicFlags(name, func(s *Server, c *Client, args [][]byte) commands.Flag {
			return s.scriptCommandFlags(lookupCommand([]byte(name)), args)
		})
	}
	serverInits = append(serverInits, func(s *Server) {
		st := &scriptingState{rand: lua.NewRand48()}
		s.ext[scriptingExt] = st
		st.scripts = make(map[string]*evalScript)
		st.functions = newFunctionsState()
	})
	onInfoField("used_memory_lua", func(s *Server) string { return strconv.FormatInt(s.scripting().evalMemory(), 10) })
	onInfoField("used_memory_vm_eval", func(s *Server) string { return strconv.FormatInt(s.scripting().evalMemory(), 10) })
	onInfoField("used_memory_lua_human", func(s *Server) string { return bytesToHuman(uint64(s.scripting().evalMemory())) })
	onInfoField("used_memory_scripts_eval", func(s *Server) string { return strconv.FormatInt(s.scripting().scriptsMem, 10) })
	onInfoField("number_of_cached_scripts", func(s *Server) string { return strconv.Itoa(len(s.scripting().scripts)) })
}

const scriptingExt = "scripting"

// Error replies of the scripting commands, as Redis 7.0 sends them.
const (
	errBusyFunction = "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
	errNotBusy      = "NOTBUSY No scripts in execution right now."
	errUnkillableRO = "UNKILLABLE The busy script was sent by a master instance in the context of replication and cannot be killed."
	errUnkillable   = "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command."
	errNoReplicas   = "NOREPLICAS Not enough good replicas to write."
	errMasterDown   = "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."
)

// scriptingState is the shard's scripting state: the EVAL interpreter
// and its script cache, the function libraries, the running script.
type scriptingState struct {
	eval       *lua.State
	scripts    map[string]*evalScript // by lower-case SHA1
	scriptsMem int64
	rand       *lua.Rand48 // math.random's generator, shared as in Redis
	functions  *functionsState
	run        *scriptRun // the script running now, if any
	// looked is the script the interceptor found for the EVAL about to
	// run (Redis's c->cur_script), so the body is hashed once.
	lookedArg  []byte
	looked     *evalScript
	evalClient *Client
	fnClient   *Client
}

// evalScript is a script of the EVAL cache.
type evalScript struct {
	sha      string
	body     []byte
	flags    scriptFlags
	compiled *lua.Script
}

func (s *Server) scripting() *scriptingState {
	return s.ext[scriptingExt].(*scriptingState)
}

// evalMemory is used_memory_lua: the interpreter's nominal size.
func (st *scriptingState) evalMemory() int64 {
	if st.eval == nil {
		return 31 << 10
	}
	return st.eval.MemoryUsed()
}

// evalState returns the EVAL interpreter, building it on first use.
func (s *Server) evalState() *lua.State {
	st := s.scripting()
	if st.eval == nil {
		st.eval = lua.New(lua.Eval, s.luaOptions())
	}
	return st.eval
}

func (s *Server) luaOptions() lua.Options {
	return lua.Options{
		Version: Version,
		Rand:    s.scripting().rand,
		Log:     s.luaLog,
	}
}

// luaLog writes a redis.log message at its level, filtered by loglevel
// as Redis's serverLogRaw does.
func (s *Server) luaLog(level int, msg string) {
	verbosity := map[string]int{"debug": 0, "verbose": 1, "notice": 2, "warning": 3, "nothing": 4}[s.cfg.LogLevel]
	if level < verbosity {
		return
	}
	switch level {
	case lua.LogDebug, lua.LogVerbose:
		s.log.Debug(msg, "source", "lua")
	case lua.LogNotice:
		s.log.Info(msg, "source", "lua")
	default:
		s.log.Warn(msg, "source", "lua")
	}
}

// scriptFlags are the flags a script declares (shebang or
// redis.register_function), plus Redis's compatibility mode for EVAL
// scripts that declare none.
type scriptFlags uint8

const (
	scriptNoWrites scriptFlags = 1 << iota
	scriptAllowOOM
	scriptAllowStale
	scriptNoCluster
	scriptAllowCrossSlot
	scriptEvalCompat
)

var scriptFlagNames = []struct {
	flag scriptFlags
	name string
}{
	{scriptNoWrites, "no-writes"},
	{scriptAllowOOM, "allow-oom"},
	{scriptAllowStale, "allow-stale"},
	{scriptNoCluster, "no-cluster"},
	{scriptAllowCrossSlot, "allow-cross-slot-keys"},
}

// parseShebang reads an EVAL script's "#!lua flags=..." line, as Redis's
// evalExtractShebangFlags. It returns the flags and the length of the
// line (without its newline, which stays to keep the line numbers).
func parseShebang(body []byte) (scriptFlags, int, string) {
	if !bytes.HasPrefix(body, []byte("#!")) {
		return scriptEvalCompat, 0, ""
	}
	end := bytes.IndexByte(body, '\n')
	if end < 0 {
		return 0, 0, "Invalid script shebang"
	}
	parts, ok := splitArgs(body[:end])
	if !ok || len(parts) == 0 {
		return 0, 0, "Invalid engine in script shebang"
	}
	if string(parts[0]) != "#!lua" {
		return 0, 0, "Unexpected engine in script shebang: " + string(parts[0])
	}
	var flags scriptFlags
	for _, p := range parts[1:] {
		v, ok := bytes.CutPrefix(p, []byte("flags="))
		if !ok {
			return 0, 0, "Unknown lua shebang option: " + string(p)
		}
		if len(v) == 0 {
			continue
		}
		for _, f := range strings.Split(string(v), ",") {
			known := false
			for _, fn := range scriptFlagNames {
				if f == fn.name {
					flags |= fn.flag
					known = true
				}
			}
			if !known {
				return 0, 0, "Unexpected flag in script shebang: " + f
			}
		}
	}
	return flags, end, ""
}

// commandFlags is Redis's scriptFlagsToCmdFlags: a script that declares
// flags replaces the command's write, deny-oom and stale flags by what
// it declared.
func (f scriptFlags) commandFlags(cmd commands.Flag) commands.Flag {
	if f&scriptEvalCompat != 0 {
		return cmd
	}
	cmd &^= commands.Stale | commands.DenyOOM | commands.Write | commands.MayReplicate
	if f&(scriptAllowOOM|scriptNoWrites) == 0 {
		cmd |= commands.DenyOOM
	}
	if f&scriptNoWrites == 0 {
		cmd |= commands.Write
	}
	if f&scriptAllowStale != 0 {
		cmd |= commands.Stale
	}
	return cmd
}

// cachedScript returns the cached script for an EVAL body or EVALSHA
// digest, or nil.
func (st *scriptingState) cachedScript(arg []byte, sha bool) *evalScript {
	if sha {
		if len(arg) != 40 {
			return nil
		}
		return st.scripts[strings.ToLower(string(arg))]
	}
	return st.scripts[lua.SHA1Hex(arg)]
}

// createScript compiles body into the cache (Redis's luaCreateFunction),
// returning its SHA1, or an error reply.
func (s *Server) createScript(body []byte) (string, string) {
	st := s.scripting()
	sha := lua.SHA1Hex(body)
	if _, ok := st.scripts[sha]; ok {
		return sha, ""
	}
	flags, shebangLen, err := parseShebang(body)
	if err != "" {
		return "", "ERR " + err
	}
	// The shebang line is skipped, its newline kept: line numbers stay.
	compiled, cerr := s.evalState().Compile(body[shebangLen:])
	if cerr != nil {
		return "", "ERR Error compiling script (new function): " + cerr.Error()
	}
	st.scripts[sha] = &evalScript{sha: sha, body: append([]byte(nil), body...), flags: flags, compiled: compiled}
	st.scriptsMem += int64(len(body)) + 40
	return sha, ""
}

// parseNumKeys reads the numkeys argument of EVAL/FCALL.
func parseNumKeys(c *Client, args [][]byte, badNumber string) (int, bool) {
	n, err := strconv.ParseInt(string(args[2]), 10, 64)
	if err != nil || !canonicalInt(args[2]) {
		c.Error(badNumber)
		return 0, false
	}
	if n > int64(len(args)-3) {
		c.Error("ERR Number of keys can't be greater than number of args")
		return 0, false
	}
	if n < 0 {
		c.Error("ERR Number of keys can't be negative")
		return 0, false
	}
	return int(n), true
}

// canonicalInt reports whether b is an integer as Redis's string2ll
// accepts it (no spaces, no plus sign, no leading zeros).
func canonicalInt(b []byte) bool {
	if len(b) == 0 || len(b) > 20 {
		return false
	}
	i := 0
	if b[0] == '-' {
		i = 1
		if len(b) == 1 {
			return false
		}
	}
	if b[i] == '0' && len(b) > i+1 {
		return false
	}
	if b[i] == '0' && i == 1 {
		return false
	}
	for ; i < len(b); i++ {
		if b[i] < '0' || b[i] > '9' {
			return false
		}
	}
	return true
}

// EVAL and FCALL are not fed to MONITOR after they ran, as commands are:
// Redis shows them before the commands their script runs.

func evalCommand(s *Server, c *Client, args [][]byte) {
	s.feedMonitors(c, c.db.id, args)
	s.evalGeneric(c, args, false)
}

func evalShaCommand(s *Server, c *Client, args [][]byte) {
	s.feedMonitors(c, c.db.id, args)
	if len(args[1]) != 40 {
		c.Error(errNoScript)
		return
	}
	s.evalGeneric(c, args, true)
}

func (s *Server) evalGeneric(c *Client, args [][]byte, sha bool) {
	numkeys, ok := parseNumKeys(c, args, errNotInt)
	if !ok {
		return
	}
	st := s.scripting()
	script := st.looked
	if script == nil || len(st.lookedArg) != len(args[1]) || len(args[1]) == 0 || &st.lookedArg[0] != &args[1][0] {
		script = st.cachedScript(args[1], sha)
	}
	st.looked, st.lookedArg = nil, nil
	if script == nil {
		if sha {
			c.Error(errNoScript)
			return
		}
		digest, err := s.createScript(args[1])
		if err != "" {
			c.Error(err)
			return
		}
		script = st.scripts[digest]
	}
	name := script.sha
	ro := strings.HasSuffix(strings.ToLower(string(args[0])), "_ro")
	run, ok := s.prepareScriptRun(c, st.evalFakeClient(s), name, script.flags, ro, true, args)
	if !ok {
		return
	}
	defer s.endScriptRun(run)
	s.evalState().Call(&run.lrun, script.compiled, args[3:3+numkeys], args[3+numkeys:], scriptReply{c})
}

// scriptRun is one running script or function: the context of Redis's
// scriptRunCtx, and the lua.Host its redis.call goes through.
type scriptRun struct {
	s      *Server
	caller *Client
	fake   *Client
	name   string
	eval   bool
	argv   [][]byte // the caller's command (FUNCTION STATS)
	lrun   lua.Run

	readOnly       bool // EVAL_RO/FCALL_RO or a no-writes script
	allowOOM       bool
	writeDirty     bool // a write command ran: the script can't be killed
	oomAtStart     bool // used memory was above maxmemory when it started
	replFlags      int  // redis.set_repl
	start          time.Time
	timedOut       bool // past busy-reply-threshold: others get -BUSY
	killRequested  bool // SCRIPT KILL / FUNCTION KILL
	prevPropagate  func(dbid int, argv [][]byte)
	effects        []propagated
	wrapsPropagate bool
}

type propagated struct {
	dbid int
	argv [][]byte
}

// evalFakeClient is the client EVAL scripts run their commands as (one
// per shard, as Redis's lua_client).
func (st *scriptingState) evalFakeClient(s *Server) *Client {
	if st.evalClient == nil {
		st.evalClient = s.newScriptClient()
	}
	return st.evalClient
}

func (st *scriptingState) functionsFakeClient(s *Server) *Client {
	if st.fnClient == nil {
		st.fnClient = s.newScriptClient()
	}
	return st.fnClient
}

// newScriptClient is a client without a connection that scripts run
// their commands as: never blocks, never listed.
func (s *Server) newScriptClient() *Client {
	now := time.Now()
	return &Client{
		srv:           s,
		ID:            s.nextClientID.Add(1),
		createdAt:     now,
		lastActive:    now,
		db:            s.dbs[0],
		resp:          2,
		authenticated: true,
		flags:         flagLuaClient,
	}
}

// prepareScriptRun is Redis's scriptPrepareForRun: the checks of a
// script's declared flags against the server's state, then the run
// context. It replies the error and returns false when the script may
// not run.
func (s *Server) prepareScriptRun(c *Client, fake *Client, name string, flags scriptFlags, ro, eval bool, argv [][]byte) (*scriptRun, bool) {
	st := s.scripting()
	stale := s.runningStale()
	obey := c.flags&flagPrimary != 0 || s.persist().loading
	oom := s.overMaxmemory()
	if flags&scriptEvalCompat == 0 {
		if stale && flags&scriptAllowStale == 0 {
			c.Error("MASTERDOWN Link with MASTER is down, replica-serve-stale-data is set to 'no' and 'allow-stale' flag is not set on the script.")
			return nil, false
		}
		if flags&scriptNoWrites == 0 {
			if s.readOnlyReplica() && !obey {
				c.Error("READONLY Can not run script with write flag on readonly replica")
				return nil, false
			}
			if ro {
				c.Error("ERR Can not execute a script with write flag using *_ro command.")
				return nil, false
			}
			if !s.goodReplicasForWrite() {
				c.Error(errNoReplicas)
				return nil, false
			}
		}
		if oom && flags&(scriptAllowOOM|scriptNoWrites) == 0 {
			c.Error("OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'")
			return nil, false
		}
	} else if stale {
		c.Error(errMasterDown)
		return nil, false
	}
	fake.db = c.db
	fake.resp = 2
	fake.user = c.user
	fake.out = fake.out[:0]
	if c.flags&flagMulti != 0 {
		fake.flags |= flagMulti
	}
	run := &scriptRun{
		s:          s,
		caller:     c,
		fake:       fake,
		name:       name,
		eval:       eval,
		argv:       argv,
		oomAtStart: oom,
		replFlags:  lua.ReplAll,
		start:      time.Now(),
	}
	run.lrun = lua.Run{Host: run, Name: name}
	if ro || (flags&scriptEvalCompat == 0 && flags&scriptNoWrites != 0) {
		run.readOnly = true
	}
	if flags&scriptEvalCompat == 0 && flags&scriptAllowOOM != 0 {
		run.allowOOM = true
	}
	// A script's effects propagate as one transaction when there are
	// several (Redis 7.0 replicates scripts by effects); inside EXEC the
	// transaction already wraps them. When the engine batches what a
	// top-level command propagates (multi.go), nothing reaches this
	// collector and the batch does the wrapping.
	if s.hooks.propagate != nil && s.connState().callDepth <= 1 {
		run.prevPropagate = s.hooks.propagate
		run.wrapsPropagate = true
		s.hooks.propagate = run.collectEffect
	}
	st.run = run
	return run, true
}

// collectEffect keeps a write the script propagates, for endScriptRun.
func (r *scriptRun) collectEffect(dbid int, argv [][]byte) {
	if r.replFlags == lua.ReplNone {
		return
	}
	cp := make([][]byte, len(argv))
	for i, a := range argv {
		cp[i] = append([]byte(nil), a...)
	}
	r.effects = append(r.effects, propagated{dbid, cp})
}

// endScriptRun is Redis's scriptResetRun.
func (s *Server) endScriptRun(r *scriptRun) {
	st := s.scripting()
	st.run = nil
	r.fake.flags &^= flagMulti
	r.fake.out = r.fake.out[:0]
	if cap(r.fake.out) > 64<<10 {
		r.fake.out = nil // don't pin a big reply buffer
	}
	if r.timedOut {
		s.log.Warn("Slow script finished", "script", r.name, "duration_ms", time.Since(r.start).Milliseconds())
	}
	if r.wrapsPropagate {
		s.hooks.propagate = r.prevPropagate
		switch len(r.effects) {
		case 0:
		case 1:
			r.prevPropagate(r.effects[0].dbid, r.effects[0].argv)
		default:
			// MULTI in the first command's database, EXEC in the last
			// one's: no SELECT is needed around either.
			r.prevPropagate(r.effects[0].dbid, [][]byte{[]byte("MULTI")})
			for _, e := range r.effects {
				r.prevPropagate(e.dbid, e.argv)
			}
			r.prevPropagate(r.effects[len(r.effects)-1].dbid, [][]byte{[]byte("EXEC")})
		}
	}
}

// Call runs a command for redis.call/pcall (Redis's scriptCall).
func (r *scriptRun) Call(argv [][]byte) ([]byte, string) {
	s := r.s
	fc := r.fake
	cmd, row := s.scriptLookup(argv)
	if row == nil {
		return nil, s.scriptReject(nil, "Unknown Redis command called from script")
	}
	if (row.Arity > 0 && len(argv) != row.Arity) || len(argv) < -row.Arity {
		return nil, s.scriptReject(cmd, "Wrong number of args calling Redis command from script")
	}
	if cmd == nil {
		// A command Redis has that the engine does not serve: refused as
		// Redis refuses it in scripts, else the reply a client gets.
		if row.Has(commands.NoScript) && !s.scriptsDenyDisabled() {
			return nil, s.scriptReject(nil, "This Redis command is not allowed from script")
		}
		fc.out = fc.out[:0]
		fc.Error(unknownCommandError(argv))
		return fc.out, ""
	}
	if cmd.Has(commands.NoScript) && !s.scriptsDenyDisabled() {
		return nil, s.scriptReject(cmd, "This Redis command is not allowed from script")
	}
	if s.runningStale() && !cmd.Has(commands.Stale) {
		return nil, s.scriptReject(cmd, "Can not execute the command on a stale replica")
	}
	if msg := r.verifyWrite(cmd); msg != "" {
		return nil, s.scriptReject(cmd, msg)
	}
	if !r.allowOOM && s.cfg.MaxMemory > 0 && r.caller.flags&flagPrimary == 0 && !r.writeDirty &&
		r.oomAtStart && cmd.Has(commands.DenyOOM) {
		return nil, s.scriptReject(cmd, "-"+errOOM)
	}
	if cmd.Has(commands.Write) {
		r.writeDirty = true
	}
	fc.out = fc.out[:0]
	if r.replFlags != lua.ReplAll {
		// redis.set_repl: the command's effects reach only the targets
		// the script left (lua.ReplAOF is propAOF, lua.ReplReplica
		// propRepl).
		rs := s.repl()
		saved := rs.suppress
		rs.suppress = propAll &^ r.replFlags
		defer func() { rs.suppress = saved }()
	}
	return r.callInner(cmd, argv)
}

// callInner runs a script's command. The interpreter turns any panic
// into a script error, so a handler that panics would leave the call
// bookkeeping half done: it is restored here, the panic logged, and the
// script sees an error.
func (r *scriptRun) callInner(cmd *command, argv [][]byte) (reply []byte, scriptErr string) {
	s, fc := r.s, r.fake
	depth := s.connState().callDepth
	defer func() {
		if p := recover(); p != nil {
			s.connState().callDepth = depth
			s.log.Error("command panicked inside a script", "command", cmd.Name, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			reply, scriptErr = nil, s.scriptReject(cmd, "-ERR internal error running '"+cmd.Name+"' from script")
		}
	}()
	s.call(fc, cmd, argv)
	return fc.out, ""
}

// scriptLookup resolves a script's command as Redis's lookupCommand: a
// container's subcommand when there are arguments. cmd is the served
// command (nil when the engine has no handler for it), row its metadata
// (nil for a command Redis does not have either).
func (s *Server) scriptLookup(argv [][]byte) (*command, *commands.Command) {
	cmd := s.lookupCommand(argv[0])
	if cmd == nil {
		row := commands.Default.LookupArgs(argv)
		return nil, row
	}
	if len(cmd.Subcommands) == 0 || len(argv) == 1 {
		if cmd.proc == nil {
			return nil, cmd.Command
		}
		return cmd, cmd.Command
	}
	if sc := cmd.sub(argv[1]); sc != nil {
		return sc, sc.Command
	}
	return nil, cmd.Command.Sub(argv[1])
}

// verifyWrite is Redis's scriptVerifyWriteCommandAllow.
func (r *scriptRun) verifyWrite(cmd *command) string {
	if r.readOnly && cmd.Flags&(commands.Write|commands.MayReplicate) != 0 {
		return "Write commands are not allowed from read-only scripts."
	}
	if !cmd.Has(commands.Write) || r.writeDirty {
		return ""
	}
	s := r.s
	if s.readOnlyReplica() && r.caller.flags&flagPrimary == 0 {
		return "-" + errReadOnly
	}
	if r.caller.flags&flagPrimary == 0 && !s.isReplica() && s.leaseExpired() {
		return "-" + errLeaseExpired // managed.go: self-fencing
	}
	if msg := s.diskError(); msg != "" {
		return "-" + msg
	}
	if !s.goodReplicasForWrite() {
		return "-" + errNoReplicas
	}
	return ""
}

// scriptReject records a command a script may not run, as Redis's
// afterErrorReply + incrCommandStatsOnError, and returns the error.
func (s *Server) scriptReject(cmd *command, msg string) string {
	if strings.HasPrefix(msg, "-") {
		s.countError(msg[1:])
	} else {
		s.countError("ERR " + msg)
	}
	if cmd != nil {
		st := s.stats.cmdStats[cmd.Name]
		if st == nil {
			st = &cmdStat{}
			s.stats.cmdStats[cmd.Name] = st
		}
		st.rejected++
	}
	return msg
}

// SetResp is redis.setresp.
func (r *scriptRun) SetResp(resp int) { r.fake.resp = resp }

// SetRepl is redis.set_repl: which of the AOF and the replicas get the
// effects of the script's next commands (Call narrows propagateTo).
func (r *scriptRun) SetRepl(flags int) { r.replFlags = flags }

// ACLCheck is redis.acl_check_cmd: the engine has only the default user,
// who may run every command.
func (r *scriptRun) ACLCheck(argv [][]byte) (bool, bool) {
	_, row := r.s.scriptLookup(argv)
	return row != nil, row != nil
}

// yieldEvery bounds how long clients wait for a busy script to let them
// in once it is past busy-reply-threshold.
const yieldEvery = 2 * time.Millisecond

// Interrupt is called from the script's instructions (Redis's count hook
// and scriptInterrupt). Past busy-reply-threshold the script is "timed
// out": it lets the other clients of the shard in from time to time
// (processEventsWhileBlocked), who get -BUSY except for the commands
// allowed while a script is busy (SCRIPT KILL, FUNCTION KILL, ...).
func (r *scriptRun) Interrupt() bool {
	s := r.s
	if s.closing.Load() {
		// The server is stopping: no script may hold it up.
		return true
	}
	if !r.timedOut {
		limit := s.cfg.LuaTimeLimit
		elapsed := time.Since(r.start)
		if limit <= 0 || elapsed < time.Duration(limit)*time.Millisecond {
			return false
		}
		r.timedOut = true
		cmd := "SCRIPT KILL"
		if !r.eval {
			cmd = "FUNCTION KILL"
		}
		s.log.Warn(fmt.Sprintf("Slow script detected: still in execution after %d milliseconds. "+
			"You can try killing the script using the %s command. Script name is: %s.",
			elapsed.Milliseconds(), cmd, r.name))
	}
	// The script's clock stays frozen while others run commands.
	cmdTime, lru := s.cmdTime, s.lruClock
	s.mu.Unlock()
	runtime.Gosched()
	s.mu.Lock()
	s.cmdTime, s.lruClock = cmdTime, lru
	return r.killRequested
}

// scriptYielding reports whether a timed-out script has let other
// clients in: cron and blocked-client wake-ups must wait for it to end.
func (s *Server) scriptYielding() bool {
	st, ok := s.ext[scriptingExt].(*scriptingState)
	return ok && st.run != nil && st.run.timedOut
}

// scriptInterceptor runs before every command: the busy-script check,
// then the checks of a script command's declared flags.
func scriptInterceptor(s *Server, c *Client, cmd *command, args [][]byte) bool {
	st := s.scripting()
	// What the previous command looked up is stale: request buffers are
	// reused, so only this command's own lookup may reach its handler.
	st.looked, st.lookedArg = nil, nil
	if run := st.run; run != nil && run.timedOut {
		return busyScript(s, c, cmd, run)
	}
	return scriptFlagsInterceptor(s, c, cmd, args)
}

// busyScript answers -BUSY while a timed-out script runs, except for
// the commands flagged allow-busy.
func busyScript(s *Server, c *Client, cmd *command, run *scriptRun) bool {
	if c == run.caller || cmd.Has(commands.AllowBusy) {
		return false
	}
	if run.eval {
		s.rejectCommand(c, cmd, errBusy)
	} else {
		s.rejectCommand(c, cmd, errBusyFunction)
	}
	return true
}

// scriptFlagsInterceptor applies to a script command the checks Redis's
// processCommand applies to every command, with the flags the script
// declared (Redis's getCommandFlags → evalGetCommandFlags /
// fcallGetCommandFlags): deny-oom under maxmemory, writes on a read-only
// replica or without enough good replicas, stale data.
func scriptFlagsInterceptor(s *Server, c *Client, cmd *command, args [][]byte) bool {
	var flags commands.Flag
	switch cmd.Name {
	case "eval", "eval_ro", "evalsha", "evalsha_ro", "fcall", "fcall_ro":
		flags = s.scriptCommandFlags(cmd, args)
	case "function|load", "function|restore":
		flags = cmd.Flags
	default:
		return false
	}
	// The primary and the AOF being loaded are obeyed (Redis's
	// mustObeyClient).
	if c.flags&flagPrimary != 0 || s.persist().loading {
		return false
	}
	write := flags&commands.Write != 0
	if flags&commands.DenyOOM != 0 && s.overMaxmemory() {
		s.rejectCommand(c, cmd, errOOM)
		return true
	}
	if write && !s.goodReplicasForWrite() {
		s.rejectCommand(c, cmd, errNoReplicas)
		return true
	}
	if write && s.readOnlyReplica() {
		s.rejectCommand(c, cmd, errReadOnly)
		return true
	}
	if s.runningStale() && flags&commands.Stale == 0 {
		s.rejectCommand(c, cmd, errMasterDown)
		return true
	}
	return false
}

// scriptCommandFlags is Redis's evalGetCommandFlags / fcallGetCommandFlags:
// the flags of a script command once the script's declared flags replace
// the row's write, deny-oom and stale flags.
func (s *Server) scriptCommandFlags(cmd *command, args [][]byte) commands.Flag {
	flags := cmd.Flags
	switch cmd.Name {
	case "fcall", "fcall_ro":
		if f := s.scripting().functions.lookup(string(args[1])); f != nil {
			flags = f.flags.commandFlags(flags)
		}
	default:
		sha := cmd.Name == "evalsha" || cmd.Name == "evalsha_ro"
		if sf, ok := s.evalDeclaredFlags(args[1], sha); ok {
			flags = sf.commandFlags(flags)
		}
	}
	return flags
}

// evalDeclaredFlags is Redis's evalGetCommandFlags: the flags of a
// cached script, or of a new script's shebang.
func (s *Server) evalDeclaredFlags(arg []byte, sha bool) (scriptFlags, bool) {
	st := s.scripting()
	if sc := st.cachedScript(arg, sha); sc != nil {
		st.looked, st.lookedArg = sc, arg
		return sc.flags, sc.flags&scriptEvalCompat == 0
	}
	if sha {
		return 0, false
	}
	f, _, err := parseShebang(arg)
	if err != "" || f&scriptEvalCompat != 0 {
		return 0, false
	}
	return f, true
}

// overMaxmemory is Redis's pre-command OOM state: maxmemory is set and
// used memory is above it after evicting what the policy allows
// (evict.go; this interceptor runs before the eviction one).
func (s *Server) overMaxmemory() bool {
	return s.cfg.MaxMemory > 0 && !s.performEvictions()
}

// readOnlyReplica reports whether writes from clients are refused
// because the server replicates a primary with replica-read-only.
func (s *Server) readOnlyReplica() bool {
	return (s.isReplica() || s.cfg.ReplicaOf.Host != "") && s.cfg.ReplicaReadOnly
}

// runningStale reports whether the server is a replica whose link to its
// primary is down with replica-serve-stale-data off.
func (s *Server) runningStale() bool {
	return s.cfg.ReplicaOf.Host != "" && !s.replLinkUp() && !s.cfg.ReplicaServeStaleData
}

// goodReplicasForWrite is Redis's checkGoodReplicasStatus: with
// min-replicas-to-write set, a primary needs that many replicas in sync
// (repl.go's goodReplicas).
func (s *Server) goodReplicasForWrite() bool {
	if s.cfg.ReplicaOf.Host != "" || s.cfg.MinReplicasMaxLag == 0 || s.cfg.MinReplicasToWrite == 0 {
		return true
	}
	return s.goodReplicas() >= s.cfg.MinReplicasToWrite
}

// scriptReply writes a script's reply to its caller.
type scriptReply struct{ *Client }

// ScriptError replies an error as Redis's addReplyErrorFormatEx: a
// message without a leading '-' gets "ERR "; newlines become spaces.
func (w scriptReply) ScriptError(msg string, countStats bool) {
	if strings.HasPrefix(msg, "-") {
		msg = msg[1:]
	} else {
		msg = "ERR " + msg
	}
	msg = strings.TrimRight(msg, "\r\n")
	msg = strings.NewReplacer("\r", " ", "\n", " ").Replace(msg)
	c := w.Client
	c.appendLine('-', msg)
	c.errorReplied = true
	if countStats && c.srv != nil {
		c.srv.countError(msg)
	}
}

func scriptLoadCommand(s *Server, c *Client, args [][]byte) {
	sha, err := s.createScript(args[2])
	if err != "" {
		c.Error(err)
		return
	}
	c.BulkString(sha)
}

func scriptExistsCommand(s *Server, c *Client, args [][]byte) {
	st := s.scripting()
	c.ArrayLen(len(args) - 2)
	for _, a := range args[2:] {
		if st.cachedScript(a, true) != nil {
			c.Int(1)
		} else {
			c.Int(0)
		}
	}
}

func scriptFlushCommand(s *Server, c *Client, args [][]byte) {
	if len(args) > 3 || (len(args) == 3 && !strings.EqualFold(string(args[2]), "sync") && !strings.EqualFold(string(args[2]), "async")) {
		c.Error("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
		return
	}
	// Redis resets the interpreter too: a fresh one is built on next use.
	st := s.scripting()
	st.scripts = make(map[string]*evalScript)
	st.scriptsMem = 0
	if st.eval != nil {
		st.eval.Close()
		st.eval = nil
	}
	c.OK()
}

func scriptKillCommand(s *Server, c *Client, args [][]byte) { s.scriptKill(c, true) }

// scriptKill is Redis's scriptKill for SCRIPT KILL (eval) and FUNCTION
// KILL.
func (s *Server) scriptKill(c *Client, eval bool) {
	run := s.scripting().run
	switch {
	case run == nil:
		c.Error(errNotBusy)
	case run.caller.flags&flagPrimary != 0:
		c.Error(errUnkillableRO)
	case run.writeDirty:
		c.Error(errUnkillable)
	case eval && !run.eval:
		c.Error(errBusyFunction)
	case !eval && run.eval:
		c.Error(errBusy)
	default:
		run.killRequested = true
		c.OK()
	}
}

var scriptHelp = []string{
	"DEBUG (YES|SYNC|NO)",
	"    Set the debug mode for subsequent scripts executed.",
	"EXISTS <sha1> [<sha1> ...]",
	"    Return information about the existence of the scripts in the script cache.",
	"FLUSH [ASYNC|SYNC]",
	"    Flush the Lua scripts cache. Very dangerous on replicas.",
	"    When called without the optional mode argument, the behavior is determined by the",
	"    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
	"    * ASYNC: Asynchronously flush the scripts cache.",
	"    * SYNC: Synchronously flush the scripts cache.",
	"KILL",
	"    Kill the currently executing Lua script.",
	"LOAD <script>",
	"    Load a script into the scripts cache without executing it.",
}

func scriptHelpCommand(s *Server, c *Client, args [][]byte) { replyHelp(c, args[0], scriptHelp) }

// scriptDebugCommand: the Lua debugger (LDB) is not available; turning
// it off is always possible.
func scriptDebugCommand(s *Server, c *Client, args [][]byte) {
	switch strings.ToLower(string(args[2])) {
	case "no":
		c.OK()
	case "yes", "sync":
		c.Error("ERR SCRIPT DEBUG is not supported by this server")
	default:
		c.Error("ERR Use SCRIPT DEBUG YES/SYNC/NO")
	}
}
