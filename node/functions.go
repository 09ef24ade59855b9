package node

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keyfleet/keyfleet/node/ds/crc64"
	"github.com/keyfleet/keyfleet/node/ds/lzf"
	"github.com/keyfleet/keyfleet/node/lua"
)

// Functions: FUNCTION LOAD|DELETE|LIST|DUMP|RESTORE|FLUSH|STATS|KILL|HELP
// and FCALL/FCALL_RO, as Redis 7.0. Libraries live in their own Lua
// interpreter; FUNCTION DUMP payloads are Redis's (FUNCTION2 opcodes,
// RDB version, CRC64), so libraries move between this engine and Redis.

func init() {
	register(map[string]handler{
		"fcall":            fcallCommand,
		"fcall_ro":         fcallCommand,
		"function|load":    functionLoadCommand,
		"function|delete":  functionDeleteCommand,
		"function|list":    functionListCommand,
		"function|dump":    functionDumpCommand,
		"function|restore": functionRestoreCommand,
		"function|flush":   functionFlushCommand,
		"function|stats":   functionStatsCommand,
		"function|kill":    functionKillCommand,
		"function|help":    functionHelpCommand,
	})
	onInfoField("number_of_functions", func(s *Server) string { return fmt.Sprint(len(s.scripting().functions.funcs)) })
	onInfoField("number_of_libraries", func(s *Server) string { return fmt.Sprint(len(s.scripting().functions.libs)) })
	onInfoField("used_memory_vm_functions", func(s *Server) string { return fmt.Sprint(s.scripting().functions.vmMemory()) })
	onInfoField("used_memory_functions", func(s *Server) string { return fmt.Sprint(s.scripting().functions.overhead()) })
	onInfoField("used_memory_vm_total", func(s *Server) string {
		st := s.scripting()
		return fmt.Sprint(st.evalMemory() + st.functions.vmMemory())
	})
	onInfoField("used_memory_vm_total_human", func(s *Server) string {
		st := s.scripting()
		return bytesToHuman(uint64(st.evalMemory() + st.functions.vmMemory()))
	})
	onInfoField("used_memory_scripts", func(s *Server) string {
		st := s.scripting()
		return fmt.Sprint(st.scriptsMem + st.functions.overhead())
	})
	onInfoField("used_memory_scripts_human", func(s *Server) string {
		st := s.scripting()
		return bytesToHuman(uint64(st.scriptsMem + st.functions.overhead()))
	})
}

// functionLoadTimeout bounds the run of a library's top level, as Redis's
// LOAD_TIMEOUT_MS.
const functionLoadTimeout = 500 * time.Millisecond

// functionsState holds the function libraries of a shard.
type functionsState struct {
	engine *lua.State
	libs   map[string]*library     // by name (case-sensitive)
	funcs  map[string]*libFunction // by lower-case name (Redis's are case-insensitive)
	order  []*library              // listing order: load order
}

type library struct {
	name  string
	code  []byte
	funcs []*libFunction
}

type libFunction struct {
	name    string
	desc    string
	hasDesc bool
	flags   scriptFlags
	lib     *library
	script  *lua.Script
}

func newFunctionsState() *functionsState {
	return &functionsState{libs: make(map[string]*library), funcs: make(map[string]*libFunction)}
}

func (fs *functionsState) lookup(name string) *libFunction {
	return fs.funcs[strings.ToLower(name)]
}

func (fs *functionsState) vmMemory() int64 {
	if fs.engine == nil {
		return 31 << 10
	}
	return fs.engine.MemoryUsed()
}

// overhead is used_memory_functions: the libraries' code and names.
func (fs *functionsState) overhead() int64 {
	var n int64
	for _, l := range fs.libs {
		n += int64(len(l.code)+len(l.name)) + 64
		for _, f := range l.funcs {
			n += int64(len(f.name)+len(f.desc)) + 64
		}
	}
	return n
}

func (s *Server) functionsEngine() *lua.State {
	fs := s.scripting().functions
	if fs.engine == nil {
		fs.engine = lua.New(lua.Functions, s.luaOptions())
	}
	return fs.engine
}

func (fs *functionsState) link(l *library) {
	fs.libs[l.name] = l
	fs.order = append(fs.order, l)
	for _, f := range l.funcs {
		fs.funcs[strings.ToLower(f.name)] = f
	}
}

func (fs *functionsState) unlink(l *library) {
	delete(fs.libs, l.name)
	for i, o := range fs.order {
		if o == l {
			fs.order = append(fs.order[:i:i], fs.order[i+1:]...)
			break
		}
	}
	for _, f := range l.funcs {
		delete(fs.funcs, strings.ToLower(f.name))
	}
}

func (fs *functionsState) clear() {
	fs.libs = make(map[string]*library)
	fs.funcs = make(map[string]*libFunction)
	fs.order = nil
}

// libraryMeta reads a library's "#!<engine> name=<name>" line, as Redis's
// functionExtractLibMetaData; code is the rest, from the line's newline.
func libraryMeta(payload []byte) (engine, name string, code []byte, err error) {
	if !bytes.HasPrefix(payload, []byte("#!")) {
		return "", "", nil, errors.New("Missing library metadata")
	}
	end := bytes.IndexByte(payload, '\n')
	if end < 0 {
		return "", "", nil, errors.New("Invalid library metadata")
	}
	parts, ok := splitArgs(payload[:end])
	if !ok || len(parts) == 0 {
		return "", "", nil, errors.New("Invalid library metadata")
	}
	engine = string(parts[0][2:])
	haveName := false
	for _, p := range parts[1:] {
		if len(p) >= 5 && strings.EqualFold(string(p[:5]), "name=") {
			if haveName {
				return "", "", nil, errors.New("Invalid metadata value, name argument was given multiple times")
			}
			name, haveName = string(p[5:]), true
			continue
		}
		return "", "", nil, fmt.Errorf("Invalid metadata value given: %s", p)
	}
	if !haveName {
		return "", "", nil, errors.New("Library name was not given")
	}
	return engine, name, payload[end:], nil
}

// createLibrary is Redis's functionsCreateWithLibraryCtx: it loads a
// library from its code into fs (replacing one of the same name when
// replace), leaving fs unchanged on error.
func (s *Server) createLibrary(fs *functionsState, payload []byte, replace bool, timeout time.Duration) (string, error) {
	engine, name, code, err := libraryMeta(payload)
	if err != nil {
		return "", err
	}
	if !lua.ValidName(name) {
		return "", errors.New("Library names can only contain letters, numbers, or underscores(_) and must be at least one character long")
	}
	if !strings.EqualFold(engine, "lua") {
		return "", fmt.Errorf("Engine '%s' not found", engine)
	}
	old := fs.libs[name]
	if old != nil && !replace {
		return "", fmt.Errorf("Library '%s' already exists", name)
	}
	if old != nil {
		fs.unlink(old)
	}
	relink := func() {
		if old != nil {
			fs.link(old)
		}
	}
	registered, err := s.functionsEngine().LoadLibrary(code, timeout)
	if err != nil {
		relink()
		return "", err
	}
	if len(registered) == 0 {
		relink()
		return "", errors.New("No functions registered")
	}
	lib := &library{name: name, code: append([]byte(nil), payload...)}
	for _, rf := range registered {
		if fs.lookup(rf.Name) != nil {
			relink()
			return "", fmt.Errorf("Function %s already exists", rf.Name)
		}
		f := &libFunction{name: rf.Name, desc: rf.Description, hasDesc: rf.HasDesc, lib: lib, script: rf.Script}
		for _, fl := range rf.Flags {
			for _, fn := range scriptFlagNames {
				if fn.name == fl {
					f.flags |= fn.flag
				}
			}
		}
		lib.funcs = append(lib.funcs, f)
	}
	fs.link(lib)
	return name, nil
}

func functionLoadCommand(s *Server, c *Client, args [][]byte) {
	replace := false
	pos := 2
	for pos < len(args)-1 {
		a := args[pos]
		pos++
		if strings.EqualFold(string(a), "replace") {
			replace = true
			continue
		}
		c.Error("ERR Unknown option given: " + string(a))
		return
	}
	if pos >= len(args) {
		c.Error("ERR Function code is missing")
		return
	}
	timeout := functionLoadTimeout
	if c.flags&flagPrimary != 0 {
		timeout = 0
	}
	name, err := s.createLibrary(s.scripting().functions, args[pos], replace, timeout)
	if err != nil {
		c.Error("ERR " + err.Error())
		return
	}
	s.dirty++
	s.propagateCommand(c, args)
	c.BulkString(name)
}

// propagateCommand propagates a command as it was sent (the function
// commands change no key: their effect is the command itself).
func (s *Server) propagateCommand(c *Client, args [][]byte) {
	if !s.propagating() {
		return
	}
	argv := make([][]byte, len(args))
	for i, a := range args {
		argv[i] = append([]byte(nil), a...)
	}
	s.propagate(c.db.id, argv)
}

func functionDeleteCommand(s *Server, c *Client, args [][]byte) {
	fs := s.scripting().functions
	l := fs.libs[string(args[2])]
	if l == nil {
		c.Error("ERR Library not found")
		return
	}
	fs.unlink(l)
	s.dirty++
	s.propagateCommand(c, args)
	c.OK()
}

func functionListCommand(s *Server, c *Client, args [][]byte) {
	withCode := false
	var pattern []byte
	havePattern := false
	for i := 2; i < len(args); i++ {
		a := args[i]
		if !withCode && strings.EqualFold(string(a), "withcode") {
			withCode = true
			continue
		}
		if !havePattern && strings.EqualFold(string(a), "libraryname") {
			if i >= len(args)-1 {
				c.Error("ERR library name argument was not given")
				return
			}
			i++
			pattern, havePattern = args[i], true
			continue
		}
		c.Error("ERR Unknown argument " + string(a))
		return
	}
	fs := s.scripting().functions
	var libs []*library
	for _, l := range fs.order {
		if havePattern && !globMatch(pattern, l.name, true) {
			continue
		}
		libs = append(libs, l)
	}
	c.ArrayLen(len(libs))
	for _, l := range libs {
		if withCode {
			c.MapLen(4)
		} else {
			c.MapLen(3)
		}
		c.BulkString("library_name")
		c.BulkString(l.name)
		c.BulkString("engine")
		c.BulkString("LUA")
		c.BulkString("functions")
		c.ArrayLen(len(l.funcs))
		for _, f := range l.funcs {
			c.MapLen(3)
			c.BulkString("name")
			c.BulkString(f.name)
			c.BulkString("description")
			if f.hasDesc {
				c.BulkString(f.desc)
			} else {
				c.Null()
			}
			c.BulkString("flags")
			n := 0
			for _, fn := range scriptFlagNames {
				if f.flags&fn.flag != 0 {
					n++
				}
			}
			c.SetLen(n)
			for _, fn := range scriptFlagNames {
				if f.flags&fn.flag != 0 {
					c.Status(fn.name)
				}
			}
		}
		if withCode {
			c.BulkString("library_code")
			c.Bulk(l.code)
		}
	}
}

// RDB pieces of a function payload.
const (
	rdbOpcodeFunction  = 246 // 7.0 release candidates' format
	rdbOpcodeFunction2 = 245
	rdbVersion         = 10
)

// functionsPayload serializes the libraries as Redis's FUNCTION DUMP.
func (s *Server) functionsPayload() []byte {
	var b []byte
	for _, l := range s.scripting().functions.order {
		b = append(b, rdbOpcodeFunction2)
		b = appendRDBString(b, l.code, s.cfg.RDBCompression)
	}
	b = append(b, rdbVersion&0xff, rdbVersion>>8)
	return binary.LittleEndian.AppendUint64(b, crc64.Checksum(b))
}

func functionDumpCommand(s *Server, c *Client, args [][]byte) {
	c.Bulk(s.functionsPayload())
}

// appendRDBLen appends an RDB length.
func appendRDBLen(b []byte, n uint64) []byte {
	switch {
	case n < 1<<6:
		return append(b, byte(n))
	case n < 1<<14:
		return append(b, byte(n>>8)|0x40, byte(n))
	case n <= 0xffffffff:
		b = append(b, 0x80)
		return binary.BigEndian.AppendUint32(b, uint32(n))
	default:
		b = append(b, 0x81)
		return binary.BigEndian.AppendUint64(b, n)
	}
}

// appendRDBString appends s as Redis's rdbSaveRawString: an integer
// encoding for short numeric strings, LZF when it saves at least four
// bytes (with rdbcompression), raw otherwise.
func appendRDBString(b, s []byte, compress bool) []byte {
	if len(s) <= 11 && canonicalInt(s) {
		var v int64
		fmt.Sscan(string(s), &v)
		switch {
		case v >= -1<<7 && v < 1<<7:
			return append(b, 0xC0, byte(int8(v)))
		case v >= -1<<15 && v < 1<<15:
			return binary.LittleEndian.AppendUint16(append(b, 0xC1), uint16(int16(v)))
		case v >= -1<<31 && v < 1<<31:
			return binary.LittleEndian.AppendUint32(append(b, 0xC2), uint32(int32(v)))
		}
	}
	if compress && len(s) > 20 {
		if out := lzf.Compress(nil, s, len(s)-4); out != nil {
			b = append(b, 0xC3)
			b = appendRDBLen(b, uint64(len(out)))
			b = appendRDBLen(b, uint64(len(s)))
			return append(b, out...)
		}
	}
	b = appendRDBLen(b, uint64(len(s)))
	return append(b, s...)
}

var errRDBShort = errors.New("short read")

// readRDBLen reads an RDB length; enc reports an encoded (0b11) value
// whose kind is n.
func readRDBLen(p []byte) (n uint64, enc bool, rest []byte, err error) {
	if len(p) < 1 {
		return 0, false, nil, errRDBShort
	}
	switch p[0] >> 6 {
	case 0:
		return uint64(p[0] & 0x3f), false, p[1:], nil
	case 1:
		if len(p) < 2 {
			return 0, false, nil, errRDBShort
		}
		return uint64(p[0]&0x3f)<<8 | uint64(p[1]), false, p[2:], nil
	case 2:
		switch p[0] {
		case 0x80:
			if len(p) < 5 {
				return 0, false, nil, errRDBShort
			}
			return uint64(binary.BigEndian.Uint32(p[1:])), false, p[5:], nil
		case 0x81:
			if len(p) < 9 {
				return 0, false, nil, errRDBShort
			}
			return binary.BigEndian.Uint64(p[1:]), false, p[9:], nil
		}
		return 0, false, nil, errors.New("unknown length encoding")
	default:
		return uint64(p[0] & 0x3f), true, p[1:], nil
	}
}

// readRDBString reads a string as Redis's rdbGenericLoadStringObject.
func readRDBString(p []byte) ([]byte, []byte, error) {
	n, enc, p, err := readRDBLen(p)
	if err != nil {
		return nil, nil, err
	}
	if !enc {
		if uint64(len(p)) < n {
			return nil, nil, errRDBShort
		}
		return p[:n], p[n:], nil
	}
	switch n {
	case 0:
		if len(p) < 1 {
			return nil, nil, errRDBShort
		}
		return fmt.Appendf(nil, "%d", int8(p[0])), p[1:], nil
	case 1:
		if len(p) < 2 {
			return nil, nil, errRDBShort
		}
		return fmt.Appendf(nil, "%d", int16(binary.LittleEndian.Uint16(p))), p[2:], nil
	case 2:
		if len(p) < 4 {
			return nil, nil, errRDBShort
		}
		return fmt.Appendf(nil, "%d", int32(binary.LittleEndian.Uint32(p))), p[4:], nil
	case 3:
		clen, _, rest, err := readRDBLen(p)
		if err != nil {
			return nil, nil, err
		}
		ulen, _, rest, err := readRDBLen(rest)
		if err != nil {
			return nil, nil, err
		}
		if uint64(len(rest)) < clen || ulen > 1<<32 {
			return nil, nil, errRDBShort
		}
		out, err := lzf.Decompress(nil, rest[:clen], int(ulen))
		if err != nil {
			return nil, nil, err
		}
		return out, rest[clen:], nil
	}
	return nil, nil, errors.New("unknown string encoding")
}

// verifyDumpPayload is Redis's: an RDB version no newer than ours and a
// matching CRC64 in the ten-byte footer.
func verifyDumpPayload(p []byte) bool {
	if len(p) < 10 {
		return false
	}
	footer := p[len(p)-10:]
	if binary.LittleEndian.Uint16(footer) > rdbVersion {
		return false
	}
	return binary.LittleEndian.Uint64(footer[2:]) == crc64.Checksum(p[:len(p)-8])
}

// decodeFunctionsPayload loads the libraries of a payload into a new
// state.
func (s *Server) decodeFunctionsPayload(p []byte) (*functionsState, error) {
	fs := newFunctionsState()
	body := p[:len(p)-10]
	for len(body) > 0 {
		typ := body[0]
		body = body[1:]
		var code []byte
		var err error
		switch typ {
		case rdbOpcodeFunction2:
			code, body, err = readRDBString(body)
			if err != nil {
				return nil, errors.New("Failed loading library payload")
			}
		case rdbOpcodeFunction:
			// 7.0 release candidates: name, engine, optional
			// description, then the code without its metadata line.
			var name, engine, blob []byte
			if name, body, err = readRDBString(body); err != nil {
				return nil, errors.New("Failed loading library name")
			}
			if engine, body, err = readRDBString(body); err != nil {
				return nil, errors.New("Failed loading engine name")
			}
			var hasDesc uint64
			if hasDesc, _, body, err = readRDBLen(body); err != nil {
				return nil, errors.New("Failed loading library description indicator")
			}
			if hasDesc != 0 {
				if _, body, err = readRDBString(body); err != nil {
					return nil, errors.New("Failed loading library description")
				}
			}
			if blob, body, err = readRDBString(body); err != nil {
				return nil, errors.New("Failed loading library blob")
			}
			code = fmt.Appendf(nil, "#!%s name=%s\n%s", engine, name, blob)
		default:
			return nil, errors.New("given type is not a function")
		}
		if _, err := s.createLibrary(fs, code, false, 0); err != nil {
			return nil, err
		}
	}
	return fs, nil
}

func functionRestoreCommand(s *Server, c *Client, args [][]byte) {
	if len(args) > 4 {
		subcommandSyntaxError(c, args)
		return
	}
	policy := "append"
	if len(args) == 4 {
		policy = strings.ToLower(string(args[3]))
		if policy != "append" && policy != "replace" && policy != "flush" {
			c.Error("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.")
			return
		}
	}
	if !verifyDumpPayload(args[2]) {
		c.Error("ERR DUMP payload version or checksum are wrong")
		return
	}
	loaded, err := s.decodeFunctionsPayload(args[2])
	if err != nil {
		c.Error("ERR " + err.Error())
		return
	}
	st := s.scripting()
	if policy == "flush" {
		st.functions.libs, st.functions.funcs, st.functions.order = loaded.libs, loaded.funcs, loaded.order
	} else if err := st.functions.join(loaded, policy == "replace"); err != nil {
		c.Error("ERR " + err.Error())
		return
	}
	s.dirty++
	s.propagateCommand(c, args)
	c.OK()
}

// join adds src's libraries to fs, as Redis's libraryJoin: a library of
// the same name is an error unless replace; a function name taken by
// another library is always one. fs is unchanged on error.
func (fs *functionsState) join(src *functionsState, replace bool) error {
	var replaced []*library
	undo := func() {
		for _, l := range replaced {
			fs.link(l)
		}
	}
	for _, l := range src.order {
		if old := fs.libs[l.name]; old != nil {
			if !replace {
				undo()
				return fmt.Errorf("Library %s already exists", l.name)
			}
			fs.unlink(old)
			replaced = append(replaced, old)
		}
	}
	for _, l := range src.order {
		for _, f := range l.funcs {
			if fs.lookup(f.name) != nil {
				undo()
				return fmt.Errorf("Function %s already exists", f.name)
			}
		}
	}
	for _, l := range src.order {
		fs.link(l)
	}
	return nil
}

func functionFlushCommand(s *Server, c *Client, args [][]byte) {
	if len(args) > 3 {
		subcommandSyntaxError(c, args)
		return
	}
	if len(args) == 3 && !strings.EqualFold(string(args[2]), "sync") && !strings.EqualFold(string(args[2]), "async") {
		c.Error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
		return
	}
	s.scripting().functions.clear()
	s.dirty++
	s.propagateCommand(c, args)
	c.OK()
}

func functionStatsCommand(s *Server, c *Client, args [][]byte) {
	st := s.scripting()
	run := st.run
	if run != nil && run.eval {
		c.Error(errBusy)
		return
	}
	c.MapLen(2)
	c.BulkString("running_script")
	if run == nil {
		c.Null()
	} else {
		c.MapLen(3)
		c.BulkString("name")
		c.BulkString(run.name)
		c.BulkString("command")
		c.ArrayLen(len(run.argv))
		for _, a := range run.argv {
			c.Bulk(a)
		}
		c.BulkString("duration_ms")
		c.Int(time.Since(run.start).Milliseconds())
	}
	c.BulkString("engines")
	c.MapLen(1)
	c.BulkString("LUA")
	c.MapLen(2)
	c.BulkString("libraries_count")
	c.Int(int64(len(st.functions.libs)))
	c.BulkString("functions_count")
	c.Int(int64(len(st.functions.funcs)))
}

func functionKillCommand(s *Server, c *Client, args [][]byte) { s.scriptKill(c, false) }

var functionHelp = []string{
	"LOAD [REPLACE] <FUNCTION CODE>",
	"    Create a new library with the given library name and code.",
	"DELETE <LIBRARY NAME>",
	"    Delete the given library.",
	"LIST [LIBRARYNAME PATTERN] [WITHCODE]",
	"    Return general information on all the libraries:",
	"    * Library name",
	"    * The engine used to run the Library",
	"    * Library description",
	"    * Functions list",
	"    * Library code (if WITHCODE is given)",
	"    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
	"STATS",
	"    Return information about the current function running:",
	"    * Function name",
	"    * Command used to run the function",
	"    * Duration in MS that the function is running",
	"    If no function is running, return nil",
	"    In addition, returns a list of available engines.",
	"KILL",
	"    Kill the current running function.",
	"FLUSH [ASYNC|SYNC]",
	"    Delete all the libraries.",
	"    When called without the optional mode argument, the behavior is determined by the",
	"    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
	"    * ASYNC: Asynchronously flush the libraries.",
	"    * SYNC: Synchronously flush the libraries.",
	"DUMP",
	"    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
	"RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
	"    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
	"    control how to handle existing libraries (default APPEND):",
	"    * FLUSH: delete all existing libraries.",
	"    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
	"    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
	"      libraries with the new libraries (notice that even on this option there is a chance of failure",
	"      in case of functions name collision with another library).",
}

func functionHelpCommand(s *Server, c *Client, args [][]byte) { replyHelp(c, args[0], functionHelp) }

func fcallCommand(s *Server, c *Client, args [][]byte) {
	s.feedMonitors(c, c.db.id, args)
	st := s.scripting()
	f := st.functions.lookup(string(args[1]))
	if f == nil {
		c.Error("ERR Function not found")
		return
	}
	numkeys, ok := parseNumKeys(c, args, "ERR Bad number of keys provided")
	if !ok {
		return
	}
	ro := strings.EqualFold(string(args[0]), "fcall_ro")
	run, ok := s.prepareScriptRun(c, st.functionsFakeClient(s), f.name, f.flags, ro, false, args)
	if !ok {
		return
	}
	defer s.endScriptRun(run)
	s.functionsEngine().Call(&run.lrun, f.script, args[3:3+numkeys], args[3+numkeys:], scriptReply{c})
}

// FunctionLibraries returns the code of every library in load order, for
// an RDB file (one FUNCTION2 record each).
func (s *Server) functionLibraries() [][]byte {
	var out [][]byte
	for _, l := range s.scripting().functions.order {
		out = append(out, l.code)
	}
	return out
}

// loadFunctionLibrary creates a library from an RDB's FUNCTION2 record,
// replacing one of the same name when replace (DEBUG RELOAD ... MERGE).
func (s *Server) loadFunctionLibrary(code []byte, replace bool) error {
	_, err := s.createLibrary(s.scripting().functions, code, replace, 0)
	return err
}

// flushFunctionLibraries drops every library (a full RDB load starts
// from none).
func (s *Server) flushFunctionLibraries() { s.scripting().functions.clear() }
