// Package commands holds the metadata of every Redis 7.0 command: name,
// arity, flags, key specifications, ACL categories and the documentation
// COMMAND DOCS serves. It is the single source of truth read by the engine
// (which attaches handlers), by COMMAND, by the proxy's routing and by ACL
// checks.
//
// The rows in table_gen.go are generated from a real redis-server 7.0.15
// (see gen/) and a test compares them with one, so the facts here are
// Redis's facts, not transcriptions of them.
package commands

import (
	"strconv"
	"strings"
)

// Flag is a command flag as COMMAND INFO reports it.
type Flag uint32

const (
	Write Flag = 1 << iota
	ReadOnly
	DenyOOM
	Module
	Admin
	PubSub
	NoScript
	Blocking
	Loading
	Stale
	SkipMonitor
	SkipSlowlog
	Asking
	Fast
	NoAuth
	MayReplicate // hidden by COMMAND INFO
	Sentinel     // hidden by COMMAND INFO
	OnlySentinel // hidden by COMMAND INFO
	NoMandatoryKeys
	Protected // hidden by COMMAND INFO
	NoAsyncLoading
	NoMulti
	MovableKeys
	AllowBusy
)

// flagNames lists the flags in the order COMMAND INFO prints them.
var flagNames = []struct {
	f      Flag
	name   string
	hidden bool
}{
	{Write, "write", false}, {ReadOnly, "readonly", false},
	{DenyOOM, "denyoom", false}, {Module, "module", false},
	{Admin, "admin", false}, {PubSub, "pubsub", false},
	{NoScript, "noscript", false}, {Blocking, "blocking", false},
	{Loading, "loading", false}, {Stale, "stale", false},
	{SkipMonitor, "skip_monitor", false}, {SkipSlowlog, "skip_slowlog", false},
	{Asking, "asking", false}, {Fast, "fast", false},
	{NoAuth, "no_auth", false}, {MayReplicate, "may_replicate", true},
	{Sentinel, "sentinel", true}, {OnlySentinel, "only_sentinel", true},
	{NoMandatoryKeys, "no_mandatory_keys", false}, {Protected, "protected", true},
	{NoAsyncLoading, "no_async_loading", false}, {NoMulti, "no_multi", false},
	{MovableKeys, "movablekeys", false}, {AllowBusy, "allow_busy", false},
}

// Names returns the flag names COMMAND INFO reports, in its order. The
// flags Redis hides (may_replicate, sentinel, only_sentinel, protected)
// are left out.
func (f Flag) Names() []string {
	var out []string
	for _, fn := range flagNames {
		if f&fn.f != 0 && !fn.hidden {
			out = append(out, fn.name)
		}
	}
	return out
}

// FlagByName returns the flag called name (as COMMAND INFO spells it).
func FlagByName(name string) (Flag, bool) {
	for _, fn := range flagNames {
		if fn.name == name {
			return fn.f, true
		}
	}
	return 0, false
}

// ParseFlags turns a space-separated list of flag names into a Flag set.
// It panics on an unknown name: the table is static and a typo must fail
// the tests, not be silently dropped.
func ParseFlags(s string) Flag {
	var f Flag
	for _, w := range strings.Fields(s) {
		x, ok := FlagByName(w)
		if !ok {
			panic("commands: unknown flag " + strconv.Quote(w))
		}
		f |= x
	}
	return f
}

// KeyFlag is a key-spec flag: how a command accesses a key.
type KeyFlag uint16

const (
	KeyRO KeyFlag = 1 << iota
	KeyRW
	KeyOW
	KeyRM
	KeyAccess
	KeyUpdate
	KeyInsert
	KeyDelete
	KeyNotKey
	KeyIncomplete
	KeyVariableFlags
)

// keyFlagNames lists the key flags in the order Redis prints them.
var keyFlagNames = []struct {
	f    KeyFlag
	name string
}{
	{KeyRO, "RO"}, {KeyRW, "RW"}, {KeyOW, "OW"}, {KeyRM, "RM"},
	{KeyAccess, "access"}, {KeyUpdate, "update"}, {KeyInsert, "insert"},
	{KeyDelete, "delete"}, {KeyNotKey, "not_key"},
	{KeyIncomplete, "incomplete"}, {KeyVariableFlags, "variable_flags"},
}

// Names returns the flag names in the order Redis prints them.
func (f KeyFlag) Names() []string {
	var out []string
	for _, fn := range keyFlagNames {
		if f&fn.f != 0 {
			out = append(out, fn.name)
		}
	}
	return out
}

// KeyFlagByName returns the key flag called name.
func KeyFlagByName(name string) (KeyFlag, bool) {
	for _, fn := range keyFlagNames {
		if fn.name == name {
			return fn.f, true
		}
	}
	return 0, false
}

// BeginSearchType says how a key spec finds the first key.
type BeginSearchType uint8

const (
	BeginUnknown BeginSearchType = iota // keys cannot be found from the spec alone
	BeginIndex                          // at a fixed argument index
	BeginKeyword                        // after a keyword
)

// BeginSearch says where the search for keys starts: at a fixed argument
// index, or after the first occurrence of a keyword searched from
// StartFrom (negative: counted from the end, searching backwards).
type BeginSearch struct {
	Type      BeginSearchType
	Index     int
	Keyword   string
	StartFrom int
}

// FindKeysType says how a key spec finds the keys after the first.
type FindKeysType uint8

const (
	FindUnknown FindKeysType = iota
	FindRange
	FindKeyNum
)

// FindKeys says how keys are found once the search has begun: a range
// (LastKey relative to the start, negative counts from the end; KeyStep;
// Limit, if not 0, divides the remaining arguments, as XREAD's STREAMS
// does) or a key count read from an argument (KeyNumIdx and FirstKey
// relative to the start; KeyStep).
type FindKeys struct {
	Type      FindKeysType
	LastKey   int
	KeyStep   int
	Limit     int
	KeyNumIdx int
	FirstKey  int
}

// KeySpec is one Redis 7.0 key specification.
type KeySpec struct {
	Notes       string
	Flags       KeyFlag
	BeginSearch BeginSearch
	FindKeys    FindKeys
}

// Arg is one argument in COMMAND DOCS.
type Arg struct {
	Name            string
	Type            string // string, integer, double, key, pattern, unix-time, pure-token, oneof, block
	Token           string
	HasToken        bool // Token is present, even empty (MIGRATE's empty_string)
	Summary         string
	Since           string
	DeprecatedSince string
	Optional        bool
	Multiple        bool
	MultipleToken   bool
	KeySpec         int // index into KeySpecs for type key, else -1
	Args            []Arg
}

// History is one entry of a command's history in COMMAND DOCS.
type History struct {
	Since   string
	Changes string
}

// Command is one row of the command table.
type Command struct {
	Name       string // lower case; a subcommand is "container|sub"
	Arity      int    // negative: at least -Arity arguments
	Flags      Flag
	ACL        []string // categories without '@', in Redis's order
	Group      string
	Since      string
	Summary    string
	Complexity string
	// DocFlags are "deprecated" and "syscmd".
	DocFlags        []string
	DeprecatedSince string
	ReplacedBy      string
	History         []History
	Tips            []string
	KeySpecs        []KeySpec
	Args            []Arg
	// Subcommands, for container commands such as CONFIG and CLIENT.
	Subcommands []*Command
	// Legacy (first, last, step) triple reported by COMMAND INFO, derived
	// from KeySpecs by Finalize.
	First, Last, Step int

	// specKeys: the key specs find keys (one is not not_key) and their
	// flags are fixed (none is variable_flags), so they are tried first.
	specKeys bool
	// keysFunc is Redis's command-specific key extraction, used where the
	// key specs cannot say everything (SORT's STORE, MIGRATE's KEYS, ...).
	keysFunc keysFunc
}

// Has reports whether c has every flag in f.
func (c *Command) Has(f Flag) bool { return c.Flags&f == f }

// FullName returns the name as COMMAND DOCS and errors print it.
func (c *Command) FullName() string { return c.Name }

// Finalize derives the legacy first/last/step triple and the movablekeys
// flag from the key specs, following Redis's
// populateCommandLegacyRangeSpec: the legacy range is the union of the
// leading consecutive index/range specs with a step of 1 (or a single
// such spec with any step); anything the range cannot describe makes the
// command movablekeys.
func (c *Command) Finalize() {
	c.First, c.Last, c.Step = 0, 0, 0
	c.Flags &^= MovableKeys
	var all, notAll KeyFlag
	for _, ks := range c.KeySpecs {
		all |= ks.Flags
		notAll |= ^ks.Flags
	}
	c.specKeys = notAll&KeyNotKey != 0 && all&KeyVariableFlags == 0
	defer func() {
		for _, sc := range c.Subcommands {
			sc.Finalize()
		}
	}()
	if len(c.KeySpecs) == 0 {
		return
	}
	isRange := func(ks KeySpec) bool {
		return ks.BeginSearch.Type == BeginIndex && ks.FindKeys.Type == FindRange
	}
	if len(c.KeySpecs) == 1 && isRange(c.KeySpecs[0]) {
		ks := c.KeySpecs[0]
		c.First, c.Last, c.Step = legacyTriple(ks.BeginSearch.Index, ks.FindKeys.LastKey, ks.FindKeys.KeyStep)
		if ks.Flags&KeyIncomplete != 0 {
			c.Flags |= MovableKeys
		}
		return
	}
	const none = int(^uint(0) >> 1)
	first, last, prevLast := none, 0, 0
	for _, ks := range c.KeySpecs {
		if !isRange(ks) {
			c.Flags |= MovableKeys
			continue
		}
		if ks.FindKeys.KeyStep != 1 || (prevLast != 0 && prevLast != ks.BeginSearch.Index-1) {
			c.Flags |= MovableKeys
			continue
		}
		if ks.Flags&KeyIncomplete != 0 {
			c.Flags |= MovableKeys
		}
		first = min(first, ks.BeginSearch.Index)
		abs := ks.FindKeys.LastKey
		if abs >= 0 {
			abs += ks.BeginSearch.Index
		}
		// Redis compares as unsigned so that a negative (count from the
		// end) last key wins over any positive one.
		if uint(abs) > uint(last) {
			last = abs
		}
		prevLast = last
	}
	if first == none {
		c.Flags |= MovableKeys
		return
	}
	c.First, c.Last, c.Step = first, last, 1
}

// legacyTriple turns an index/range spec into COMMAND INFO's absolute
// (first, last, step).
func legacyTriple(index, lastKey, step int) (int, int, int) {
	if lastKey >= 0 {
		lastKey += index
	}
	return index, lastKey, step
}

// Sub finds a subcommand of a container command, case-insensitively.
func (c *Command) Sub(name []byte) *Command {
	for _, sc := range c.Subcommands {
		_, sub, _ := strings.Cut(sc.Name, "|")
		if strings.EqualFold(sub, string(name)) {
			return sc
		}
	}
	return nil
}

// HasKeys reports whether the command can take key arguments at all (it
// has a key spec that is not not_key, or a key extraction function), as
// Redis's doesCommandHaveKeys does.
func (c *Command) HasKeys() bool {
	if c.keysFunc != nil {
		return true
	}
	for _, ks := range c.KeySpecs {
		if ks.Flags&KeyNotKey == 0 {
			return true
		}
	}
	return false
}

// Table is the set of all commands, looked up case-insensitively.
type Table struct {
	byName map[string]*Command
	list   []*Command
}

// NewTable builds a table from rows, finalizing each and attaching the
// command-specific key extraction functions.
func NewTable(rows []*Command) *Table {
	t := &Table{byName: make(map[string]*Command, len(rows))}
	var attach func(c *Command)
	attach = func(c *Command) {
		c.keysFunc = keysFuncs[c.Name]
		for _, sc := range c.Subcommands {
			attach(sc)
		}
	}
	for _, r := range rows {
		r.Finalize()
		attach(r)
		if _, dup := t.byName[r.Name]; dup {
			panic("commands: duplicate row " + r.Name)
		}
		t.byName[r.Name] = r
		t.list = append(t.list, r)
	}
	return t
}

// Lookup finds a top-level command by name, case-insensitively, without
// allocating.
func (t *Table) Lookup(name []byte) *Command {
	if c, ok := t.byName[string(name)]; ok {
		return c
	}
	var buf [32]byte
	if len(name) > len(buf) {
		return nil
	}
	low := buf[:len(name)]
	for i, b := range name {
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		low[i] = b
	}
	return t.byName[string(low)]
}

// LookupFull finds a command by its full name ("get", "config|get"),
// case-insensitively, as COMMAND INFO and COMMAND DOCS look names up. A
// name with more than one '|' or naming a subcommand of a command without
// subcommands finds nothing.
func (t *Table) LookupFull(name string) *Command {
	top, sub, hasSub := strings.Cut(name, "|")
	c := t.Lookup([]byte(top))
	if c == nil || !hasSub {
		return c
	}
	if strings.Contains(sub, "|") || len(c.Subcommands) == 0 {
		return nil
	}
	return c.Sub([]byte(sub))
}

// LookupArgs finds the command that args (args[0] is the name) invoke: the
// subcommand named by args[1] for a container command, else the top-level
// row, as Redis's lookupCommand does. An unknown subcommand finds nothing.
func (t *Table) LookupArgs(args [][]byte) *Command {
	if len(args) == 0 {
		return nil
	}
	c := t.Lookup(args[0])
	if c == nil || len(args) == 1 || len(c.Subcommands) == 0 {
		return c
	}
	return c.Sub(args[1])
}

// All returns every top-level command in table order.
func (t *Table) All() []*Command { return t.list }

// Default is the table of Redis 7.0's commands.
var Default = NewTable(rows())

// GetKeysError is an error COMMAND GETKEYS replies with; its text is
// Redis's, without the ERR code.
type GetKeysError string

func (e GetKeysError) Error() string { return string(e) }

// The errors of COMMAND GETKEYS, worded as Redis 7.0 words them.
const (
	ErrInvalidCommand GetKeysError = "Invalid command specified"
	ErrNoKeyArguments GetKeysError = "The command has no key arguments"
	ErrInvalidArity   GetKeysError = "Invalid number of arguments specified for command"
	ErrInvalidKeyArgs GetKeysError = "Invalid arguments specified for command"
)

// CommandGetKeys does what COMMAND GETKEYS does with args (a full command
// line, args[0] the command name): it finds the command or subcommand,
// checks that it takes keys and that the arity fits, and extracts the
// keys. A command that must have keys but where none are found is an
// error unless it is no_mandatory_keys (EVAL with 0 keys).
func (t *Table) CommandGetKeys(args [][]byte) ([]KeyPos, error) {
	c := t.LookupArgs(args)
	switch {
	case c == nil:
		return nil, ErrInvalidCommand
	case !c.HasKeys():
		return nil, ErrNoKeyArguments
	case (c.Arity > 0 && len(args) != c.Arity) || len(args) < -c.Arity:
		return nil, ErrInvalidArity
	}
	keys, _ := c.AppendKeys(nil, args)
	if len(keys) == 0 && !c.Has(NoMandatoryKeys) {
		return nil, ErrInvalidKeyArgs
	}
	return keys, nil
}

// aclCategories are Redis 7.0's ACL categories, in the order COMMAND INFO
// lists a command's categories.
var aclCategories = [...]string{
	"keyspace", "read", "write", "set", "sortedset", "list", "hash", "string",
	"bitmap", "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow",
	"blocking", "dangerous", "connection", "transaction", "scripting",
}

// ACLCategories returns the ACL category names (without '@').
func ACLCategories() []string { return append([]string(nil), aclCategories[:]...) }

// ACLCategory returns the canonical name of an ACL category, matched
// case-insensitively as Redis does, and whether it exists.
func ACLCategory(name string) (string, bool) {
	for _, c := range aclCategories {
		if strings.EqualFold(c, name) {
			return c, true
		}
	}
	return "", false
}

// InACLCategory reports whether the command is in the category (a
// canonical name, as ACLCategory returns).
func (c *Command) InACLCategory(cat string) bool {
	for _, x := range c.ACL {
		if x == cat {
			return true
		}
	}
	return false
}
