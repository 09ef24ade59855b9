// Package commands holds the metadata of every Redis 7.0 command: name,
// arity, flags, key specifications and ACL categories. It is the single
// source of truth read by the engine (which attaches handlers), by COMMAND,
// by the proxy's routing and by ACL checks.
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
	Blocking // not a Redis 7.0 COMMAND flag; derived from the @blocking ACL category
	Loading
	Stale
	SkipMonitor
	SkipSlowlog
	Fast
	NoAuth
	MayReplicate
	Sentinel
	OnlySentinel
	NoMandatoryKeys
	Protected
	NoAsyncLoading
	NoMulti
	MovableKeys
	AllowBusy
)

var flagNames = []struct {
	f    Flag
	name string
}{
	{Write, "write"}, {ReadOnly, "readonly"}, {DenyOOM, "denyoom"},
	{Module, "module"}, {Admin, "admin"}, {PubSub, "pubsub"},
	{NoScript, "noscript"}, {Blocking, "blocking"}, {Loading, "loading"},
	{Stale, "stale"}, {SkipMonitor, "skip_monitor"},
	{SkipSlowlog, "skip_slowlog"}, {Fast, "fast"}, {NoAuth, "no_auth"},
	{MayReplicate, "may_replicate"}, {Sentinel, "sentinel"},
	{OnlySentinel, "only_sentinel"}, {NoMandatoryKeys, "no_mandatory_keys"},
	{Protected, "protected"}, {NoAsyncLoading, "no_async_loading"},
	{NoMulti, "no_multi"}, {MovableKeys, "movablekeys"},
	{AllowBusy, "allow_busy"},
}

// Names returns the flag names in the order Redis prints them. Blocking is
// left out: Redis 7.0 reports it only as an ACL category.
func (f Flag) Names() []string {
	var out []string
	for _, fn := range flagNames {
		if f&fn.f != 0 && fn.f != Blocking {
			out = append(out, fn.name)
		}
	}
	return out
}

// ParseFlags turns a space-separated list of flag names into a Flag set.
// It panics on an unknown name: the table is static and a typo must fail
// the tests, not be silently dropped.
func ParseFlags(s string) Flag {
	var f Flag
	for _, w := range strings.Fields(s) {
		found := false
		for _, fn := range flagNames {
			if fn.name == w {
				f |= fn.f
				found = true
				break
			}
		}
		if !found {
			panic("commands: unknown flag " + strconv.Quote(w))
		}
	}
	return f
}

// BeginSearch says where the search for keys starts: at a fixed argument
// index, or after a keyword searched from StartFrom (negative: from the end).
type BeginSearch struct {
	Index     int    // >0: fixed index
	Keyword   string // non-empty: keyword search
	StartFrom int
}

// FindKeys says how keys are found once the search has begun: a range
// (LastKey relative to the start, -1 = last argument; KeyStep; Limit) or a
// key count read from an argument (KeyNumIdx relative to the start,
// FirstKey relative to the start, KeyStep).
type FindKeys struct {
	Range     bool
	LastKey   int
	KeyStep   int
	Limit     int
	KeyNumIdx int
	FirstKey  int
}

// KeySpec is one Redis 7.0 key specification.
type KeySpec struct {
	Notes       string
	Flags       []string // RW, RO, OW, RM, access, update, insert, delete, not_key, incomplete, variable_flags
	BeginSearch BeginSearch
	FindKeys    FindKeys
}

// Arg is one argument in COMMAND DOCS.
type Arg struct {
	Name     string
	Type     string // string, integer, double, key, pattern, unix-time, pure-token, oneof, block
	Token    string
	Optional bool
	Multiple bool
	KeySpec  int // index into KeySpecs for type key, else -1
	Args     []Arg
}

// Command is one row of the command table.
type Command struct {
	Name     string // lower case; a subcommand is "container|sub"
	Arity    int    // negative: at least -Arity arguments
	Flags    Flag
	ACL      []string // categories without '@'
	Group    string
	Since    string
	Summary  string
	Tips     []string
	KeySpecs []KeySpec
	Args     []Arg
	// Subcommands, for container commands such as CONFIG and CLIENT.
	Subcommands []*Command
	// Legacy (first, last, step) triple reported by COMMAND INFO, derived
	// from KeySpecs by Finalize.
	First, Last, Step int
}

// Has reports whether c has every flag in f.
func (c *Command) Has(f Flag) bool { return c.Flags&f == f }

// FullName returns the name as COMMAND DOCS and errors print it.
func (c *Command) FullName() string { return c.Name }

// Finalize derives the legacy first/last/step triple and the movablekeys
// flag from the key specs, as Redis's populateCommandLegacyRangeSpec does.
func (c *Command) Finalize() {
	c.First, c.Last, c.Step = 0, 0, 0
	movable := false
	prevLast := 0
	for i, ks := range c.KeySpecs {
		if ks.BeginSearch.Index == 0 || !ks.FindKeys.Range {
			movable = true
			continue
		}
		if ks.FindKeys.Range && ks.FindKeys.Limit > 1 {
			movable = true
			continue
		}
		first := ks.BeginSearch.Index
		last := ks.FindKeys.LastKey
		if last >= 0 {
			last += first
		}
		step := ks.FindKeys.KeyStep
		if i == 0 || c.First == 0 {
			c.First, c.Last, c.Step = first, last, step
			prevLast = last
			continue
		}
		// Merge adjacent specs with the same step (e.g. SMOVE, LMOVE).
		if c.Step == step && prevLast >= 0 && first == prevLast+step {
			c.Last = last
			prevLast = last
			continue
		}
		movable = true
	}
	if movable {
		c.Flags |= MovableKeys
	} else {
		c.Flags &^= MovableKeys
	}
	for _, sc := range c.Subcommands {
		sc.Finalize()
	}
}

// KeyPos is the position of one key in a command's arguments (args[0] is
// the command name).
type KeyPos struct {
	Index int
	Spec  int // which key spec found it
}

// GetKeys returns the positions of the keys in args, following the key
// specs. It never panics on malformed input: a key count that is not a
// number or runs past the end yields the keys found so far and ok=false.
func (c *Command) GetKeys(args [][]byte) (keys []KeyPos, ok bool) {
	ok = true
	argc := len(args)
	for si, ks := range c.KeySpecs {
		if hasFlag(ks.Flags, "not_key") {
			continue
		}
		start := 0
		bs := ks.BeginSearch
		if bs.Index > 0 {
			start = bs.Index
		} else if bs.Keyword != "" {
			if bs.StartFrom >= 0 {
				for i := bs.StartFrom; i < argc; i++ {
					if strings.EqualFold(string(args[i]), bs.Keyword) {
						start = i + 1
						break
					}
				}
			} else {
				for i := argc + bs.StartFrom; i > 0; i-- {
					if strings.EqualFold(string(args[i]), bs.Keyword) {
						start = i + 1
						break
					}
				}
			}
			if start == 0 {
				continue
			}
		} else {
			continue
		}
		if start >= argc {
			continue
		}
		fk := ks.FindKeys
		var first, last, step int
		if fk.Range {
			step = max(fk.KeyStep, 1)
			first = start
			switch {
			case fk.LastKey >= 0:
				last = start + fk.LastKey
			case fk.Limit > 1:
				last = start + (argc-1-start)/fk.Limit
			default:
				last = argc + fk.LastKey
			}
		} else {
			ni := start + fk.KeyNumIdx
			if ni >= argc {
				ok = false
				continue
			}
			n, err := strconv.Atoi(string(args[ni]))
			if err != nil || n < 0 {
				ok = false
				continue
			}
			step = max(fk.KeyStep, 1)
			first = start + fk.FirstKey
			last = first + (n-1)*step
			if n == 0 {
				continue
			}
		}
		if last >= argc {
			ok = false
			last = argc - 1
		}
		for i := first; i <= last; i += step {
			keys = append(keys, KeyPos{Index: i, Spec: si})
		}
	}
	return keys, ok
}

func hasFlag(flags []string, f string) bool {
	for _, x := range flags {
		if x == f {
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

// NewTable builds a table from rows, finalizing each.
func NewTable(rows []*Command) *Table {
	t := &Table{byName: make(map[string]*Command, len(rows))}
	for _, r := range rows {
		r.Finalize()
		if _, dup := t.byName[r.Name]; dup {
			panic("commands: duplicate row " + r.Name)
		}
		t.byName[r.Name] = r
		t.list = append(t.list, r)
	}
	return t
}

// Lookup finds a command by name, case-insensitively, without allocating
// for names already in lower case.
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

// All returns every top-level command in table order.
func (t *Table) All() []*Command { return t.list }

// Default is the table of Redis 7.0's commands.
var Default = NewTable(rows())
