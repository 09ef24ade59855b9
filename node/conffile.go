package node

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// redis.conf parsing and CONFIG REWRITE, following config.c: the same line
// splitting (sdssplitargs), directive lookup, argument-count rules, include
// handling and fatal error report, and the same in-place rewrite that keeps
// comments and unknown lines.

// ConfigError is a fatal configuration error, rendered as redis-server
// reports it (with the file named, which Redis leaves out).
type ConfigError struct {
	File string // "" for command-line options
	Line int    // 1-based; 0 when the error is not tied to a line
	Text string // the offending line, trimmed
	Msg  string // the reason
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n*** FATAL CONFIG FILE ERROR (Redis %s) ***\n", Version)
	if e.Line > 0 {
		src := ""
		if e.File != "" {
			src = " " + e.File
		} else {
			src = " (command line)"
		}
		fmt.Fprintf(&b, "Reading the configuration file%s, at line %d\n", src, e.Line)
		fmt.Fprintf(&b, ">>> '%s'\n", e.Text)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// maxIncludeDepth bounds nested include directives: Redis recurses without
// a limit (an include cycle crashes it); the node refuses instead.
const maxIncludeDepth = 16

// configLoader carries the state of one start-up configuration load.
type configLoader struct {
	// saveLoaded is set by the first save directive, which replaces the
	// built-in save points; later ones add to them.
	saveLoaded bool
	// createDir makes a dir directive create a missing directory.
	createDir bool
	// readFile and glob give access to included files; nil refuses
	// includes (the fuzz test parses without a file system).
	readFile func(path string) ([]byte, error)
	glob     func(pattern string) ([]string, error)
	depth    int
}

func newFileLoader() *configLoader {
	return &configLoader{createDir: true, readFile: os.ReadFile, glob: filepath.Glob}
}

// deprecatedDirectives are accepted and ignored with exactly these
// argument counts (including the directive), as Redis 7.0 does.
var deprecatedDirectives = map[string][2]int{
	"list-max-ziplist-entries": {2, 2},
	"list-max-ziplist-value":   {2, 2},
	"lua-replicate-commands":   {2, 2},
}

// LoadConfig builds a configuration as redis-server does at start-up: the
// defaults, then the file (when file is not ""), then stdin (when given),
// then the options (directive lines from the command line). Errors are
// *ConfigError.
func LoadConfig(file string, stdin []byte, options string) (*Config, error) {
	c := DefaultConfig()
	ld := newFileLoader()
	var content []byte
	fileLines := 0
	if file != "" {
		abs, err := filepath.Abs(file)
		if err == nil {
			file = abs
		}
		data, err := ld.readConfigFile(file)
		if err != nil {
			return nil, err
		}
		content = data
		c.ConfigFile = file
		fileLines = bytes.Count(content, []byte("\n"))
		if len(content) > 0 && content[len(content)-1] != '\n' {
			fileLines++
		}
	}
	if stdin != nil {
		content = append(content, stdin...)
	}
	if options != "" {
		content = append(content, '\n')
		content = append(content, options...)
	}
	name := func(line int) string {
		if line <= fileLines {
			return file
		}
		return ""
	}
	if err := ld.load(c, string(content), name); err != nil {
		return nil, err
	}
	return c, nil
}

// readConfigFile reads one config file (or every file matching a pattern)
// with Redis's error for a missing one.
func (ld *configLoader) readConfigFile(path string) ([]byte, error) {
	if ld.readFile == nil {
		return nil, &ConfigError{Msg: fmt.Sprintf("Fatal error, can't open config file '%s': includes are not allowed here", path)}
	}
	if strings.ContainsAny(path, "*?[") {
		// With a pattern, no match is not an error: an empty conf.d works.
		matches, err := ld.glob(path)
		if err != nil {
			return nil, &ConfigError{Msg: fmt.Sprintf("Fatal error, can't open config file '%s': %s", path, strerror(err))}
		}
		var all []byte
		for _, m := range matches {
			data, err := ld.readFile(m)
			if err != nil {
				return nil, &ConfigError{Msg: fmt.Sprintf("Fatal error, can't open config file '%s': %s", m, strerror(err))}
			}
			all = append(all, data...)
		}
		return all, nil
	}
	data, err := ld.readFile(path)
	if err != nil {
		return nil, &ConfigError{Msg: fmt.Sprintf("Fatal error, can't open config file '%s': %s", path, strerror(err))}
	}
	return data, nil
}

// load applies config text to c (loadServerConfigFromString). fileOf
// names the source of a line for error reports.
func (ld *configLoader) load(c *Config, text string, fileOf func(line int) string) error {
	lines := strings.Split(text, "\n")
	for i, raw := range lines {
		line := strings.Trim(raw, " \t\r\n")
		if line == "" || line[0] == '#' {
			continue
		}
		fail := func(msg string) error {
			return &ConfigError{File: fileOf(i + 1), Line: i + 1, Text: line, Msg: msg}
		}
		argv, ok := splitConfigArgs(line)
		if !ok {
			return fail("Unbalanced quotes in configuration line")
		}
		if len(argv) == 0 {
			continue
		}
		argv[0] = strings.ToLower(argv[0])
		if p := lookupConfig(argv[0]); p != nil {
			if !p.has(cfgMultiArg) && len(argv) != 2 {
				return fail("wrong number of arguments")
			}
			args := argv[1:]
			if p.has(cfgMultiArg) && len(argv) == 2 && argv[1] != "" {
				// "--save '900 1 300 10'" arrives as one argument.
				args, _ = splitConfigArgs(argv[1])
			}
			if _, err := p.setArgs(c, args, ld); err != nil {
				return fail(err.Error())
			}
			continue
		}
		if n, ok := deprecatedDirectives[argv[0]]; ok && n[0] <= len(argv) && len(argv) <= n[1] {
			continue
		}
		switch {
		case argv[0] == "include" && len(argv) == 2:
			if ld.depth >= maxIncludeDepth {
				return fail("include nesting is too deep (an include cycle?)")
			}
			data, err := ld.readConfigFile(argv[1])
			if err != nil {
				return err
			}
			ld.depth++
			err = ld.load(c, string(data), func(int) string { return argv[1] })
			ld.depth--
			if err != nil {
				return err
			}
		case argv[0] == "rename-command" && len(argv) == 3:
			if err := validRename(c, argv[1], argv[2]); err != nil {
				return fail(err.Error())
			}
			c.RenameCommands = append(c.RenameCommands, RenameCommand{From: argv[1], To: argv[2]})
		case argv[0] == "user" && len(argv) >= 2:
			// ACL users are not implemented: refusing is safer than running
			// with fewer restrictions than the file asks for.
			return fail(fmt.Sprintf("Error in user declaration '%s': ACL users are not supported by this server", argv[1]))
		case argv[0] == "loadmodule" && len(argv) >= 2:
			return fail(fmt.Sprintf("Module %s failed to load: modules are not supported by this server", argv[1]))
		case strings.ContainsRune(argv[0], '.'):
			if len(argv) < 2 {
				return fail("Module config specified without value")
			}
			return fail("Module Configuration detected without loadmodule directive or no ApplyConfig call: aborting")
		case argv[0] == "sentinel":
			if len(argv) != 1 {
				return fail("sentinel directive while not in sentinel mode")
			}
		default:
			return fail("Bad directive or wrong number of arguments")
		}
	}
	if c.LogFile != "" && ld.readFile != nil {
		f, err := os.OpenFile(c.LogFile, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return &ConfigError{Msg: "Can't open the log file: " + strerror(err)}
		}
		f.Close()
	}
	// Redis accepts an out-of-range hz in a file and clamps it.
	c.Hz = clampHz(c.Hz)
	return nil
}

// validRename checks a rename-command directive against the command table
// and the renames before it.
func validRename(c *Config, from, to string) error {
	known := lookupCommand([]byte(from)) != nil
	for _, r := range c.RenameCommands {
		if strings.EqualFold(r.From, from) {
			known = false
		}
		if strings.EqualFold(r.To, from) && r.To != "" {
			known = true
		}
	}
	if !known {
		return errors.New("No such command in rename-command")
	}
	if to != "" && lookupCommand([]byte(to)) != nil {
		renamedAway := false
		for _, r := range c.RenameCommands {
			if strings.EqualFold(r.From, to) {
				renamedAway = true
			}
		}
		if !renamedAway && !strings.EqualFold(from, to) {
			return errors.New("Target command name already exists")
		}
	}
	return nil
}

func clampHz(hz int) int { return min(max(hz, 1), 500) }

// splitConfigArgs splits a config line as Redis's sdssplitargs, with the
// engine's implementation of it (splitArgs, protoguard.go). ok is false on
// unbalanced quotes.
func splitConfigArgs(line string) ([]string, bool) {
	args, ok := splitArgs([]byte(line))
	if !ok {
		return nil, false
	}
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = string(a)
	}
	return out, true
}

// reprString quotes s as sdscatrepr does, so that splitConfigArgs reads it back.
func reprString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\\', '"':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\a':
			b.WriteString(`\a`)
		case '\b':
			b.WriteString(`\b`)
		default:
			if c >= 0x20 && c < 0x7f {
				b.WriteByte(c)
			} else {
				fmt.Fprintf(&b, `\x%02x`, c)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// argsToOptions turns redis-server's command-line arguments (after the
// config file) into config text, as its main() does: "--name" starts a
// directive, other arguments are quoted values of the current one.
// It reports whether "-" asked to read the configuration from stdin.
func argsToOptions(args []string, first bool) (options string, stdin bool) {
	var b strings.Builder
	handledLast := true
	for j, a := range args {
		switch {
		case a == "-" && ((first && j == 0) || j == len(args)-1):
			stdin = true
		case handledLast && strings.HasPrefix(a, "--"):
			if b.Len() > 0 {
				b.WriteByte('\n')
			}
			b.WriteString(a[2:])
			b.WriteByte(' ')
			parts, _ := splitConfigArgs(a)
			if len(parts) == 1 {
				// Only the name, like "--port": its value follows.
				handledLast = false
				last := j == len(args)-1
				nextIsOpt := !last && strings.HasPrefix(args[j+1], "--")
				switch {
				case strings.EqualFold(a, "--save") && nextIsOpt:
					// "--save --port 1" means an empty save.
					b.WriteString(`""`)
					handledLast = true
				case strings.EqualFold(a, "--save") && last:
					b.WriteString(`""`)
				case strings.EqualFold(a, "--sentinel") && nextIsOpt:
					handledLast = true
				}
			} else {
				// "--port 6380" in one argument.
				handledLast = true
			}
		default:
			b.WriteString(reprString(a))
			b.WriteByte(' ')
			handledLast = true
		}
	}
	return b.String(), stdin
}

// ---- CONFIG REWRITE ----

// rewriteSignature marks where CONFIG REWRITE started appending lines.
const rewriteSignature = "# Generated by CONFIG REWRITE"

// rewriteState is the old file split into lines, with the lines each
// directive occupied, as config.c's rewriteConfigState.
type rewriteState struct {
	lines          []string
	optionToLines  map[string][]int
	rewritten      map[string]bool
	needsSignature bool
	forceAll       bool
}

func newRewriteState() *rewriteState {
	return &rewriteState{
		optionToLines:  make(map[string][]int),
		rewritten:      make(map[string]bool),
		needsSignature: true,
	}
}

// readRewriteState parses the current file; a missing file is empty.
func readRewriteState(path string) (*rewriteState, error) {
	st := newRewriteState()
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return st, nil
		}
		return nil, err
	}
	if len(data) == 0 {
		return st, nil
	}
	for _, raw := range strings.Split(string(data), "\n") {
		line := strings.Trim(raw, "\r\n\t ")
		if line == "" || line[0] == '#' {
			if st.needsSignature && line == rewriteSignature {
				st.needsSignature = false
			}
			st.lines = append(st.lines, line)
			continue
		}
		argv, ok := splitConfigArgs(line)
		if !ok || len(argv) == 0 || !rewriteKnows(argv[0]) {
			// Unparsable or unknown: kept, but as a comment.
			st.lines = append(st.lines, "# ??? "+line)
			continue
		}
		opt := strings.ToLower(argv[0])
		if p := lookupConfig(opt); p != nil {
			opt = p.name // an alias's lines belong to the primary name
		}
		st.optionToLines[opt] = append(st.optionToLines[opt], len(st.lines))
		st.lines = append(st.lines, line)
	}
	return st, nil
}

func rewriteKnows(name string) bool {
	if lookupConfig(name) != nil {
		return true
	}
	switch strings.ToLower(name) {
	case "include", "rename-command", "user", "loadmodule", "sentinel":
		return true
	}
	return false
}

func (st *rewriteState) markProcessed(option string) { st.rewritten[option] = true }

// rewriteLine puts line in the place of the option's next old line, or
// appends it when the option had none and force (it is not at its
// default) is set.
func (st *rewriteState) rewriteLine(option, line string, force bool) {
	st.markProcessed(option)
	old := st.optionToLines[option]
	if len(old) == 0 && !force && !st.forceAll {
		return
	}
	if len(old) > 0 {
		st.lines[old[0]] = line
		if len(old) == 1 {
			delete(st.optionToLines, option)
		} else {
			st.optionToLines[option] = old[1:]
		}
		return
	}
	if st.needsSignature {
		st.lines = append(st.lines, rewriteSignature)
		st.needsSignature = false
	}
	st.lines = append(st.lines, line)
}

// removeOrphaned blanks the old lines of rewritten options that were not
// reused (a second save line that is now gone, a duplicate directive).
func (st *rewriteState) removeOrphaned() {
	for opt, lines := range st.optionToLines {
		if !st.rewritten[opt] {
			continue
		}
		for _, n := range lines {
			st.lines[n] = ""
		}
		delete(st.optionToLines, opt)
	}
}

// content joins the lines, squeezing runs of empty lines into one.
func (st *rewriteState) content() string {
	var b strings.Builder
	wasEmpty := false
	for _, l := range st.lines {
		if l == "" {
			if wasEmpty {
				continue
			}
			wasEmpty = true
		} else {
			wasEmpty = false
		}
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String()
}

// rewriteConfig rewrites the file at path from c, keeping its comments,
// unknown lines and order, as Redis's rewriteConfig.
func rewriteConfig(c *Config, path string, forceAll bool) error {
	st, err := readRewriteState(path)
	if err != nil {
		return err
	}
	st.forceAll = forceAll
	for _, p := range configParams {
		p.kind.rewrite(c, p.name, st)
	}
	// Renames are kept as written; users and modules do not exist here.
	for _, r := range c.RenameCommands {
		to := r.To
		if to == "" {
			to = `""`
		}
		st.rewriteLine("rename-command", "rename-command "+r.From+" "+to, true)
	}
	st.markProcessed("rename-command")
	st.markProcessed("user")
	st.markProcessed("loadmodule")
	st.removeOrphaned()
	return overwriteFile(path, st.content())
}

// overwriteFile replaces path atomically: a temporary file in the same
// directory, synced, then renamed over it.
func overwriteFile(path, content string) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			os.Remove(tmp)
		}
	}()
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
