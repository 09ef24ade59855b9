package compat

import (
	"bytes"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// defaultModes is how a command's replies compare unless the step says
// otherwise. Everything not listed compares byte for byte. Each entry is
// a reply that legitimately differs between two correct servers: clocks,
// connection ids, hash-table order, memory layout.
var defaultModes = map[string]Options{
	"ttl":             {Mode: "approx", Approx: 1},
	"pttl":            {Mode: "approx", Approx: 500},
	"expiretime":      {Mode: "approx", Approx: 1},
	"pexpiretime":     {Mode: "approx", Approx: 500},
	"object|idletime": {Mode: "approx", Approx: 1},
	"time":            {Mode: "len"},
	"lastsave":        {Mode: "type"},
	"randomkey":       {Mode: "type"},
	"info":            {Mode: "fields"},
	"hello":           {Mode: "hello"},
	"client|id":       {Mode: "type"},
	"client|info":     {Mode: "client"},
	"client|list":     {Mode: "client"},
	"memory|usage":    {Mode: "type"},
	"keys":            {Mode: "sorted"},
	"scan":            {Mode: "scanall"},
	"sscan":           {Mode: "scanall"},
	"hscan":           {Mode: "scanall"},
	"zscan":           {Mode: "scanall"},
	"smembers":        {Mode: "sorted"},
	"sunion":          {Mode: "sorted"},
	"sinter":          {Mode: "sorted"},
	"sdiff":           {Mode: "sorted"},
	"command":         {Mode: "commandinfo"},
	"command|info":    {Mode: "commandinfo"},
	"command|docs":    {Mode: "commanddocs"},
	"command|list":    {Mode: "sorted"},
	"config|get":      {Mode: "config"},
}

// result is what reading one reply gave: a value, or the connection's
// state when there was none ("closed", "timeout", or a protocol error).
type result struct {
	V   Value
	Err string
}

func (r result) String() string {
	if r.Err != "" {
		return "<" + r.Err + ">"
	}
	return r.V.String()
}

func (r result) raw() string { return r.normalised("exact") }

// normalised is r as compared under mode, quoted.
func (r result) normalised(mode string) string {
	if r.Err != "" {
		return "<" + r.Err + ">"
	}
	return strconv.Quote(string(normalise(mode, r.V).Encode()))
}

// equalResults compares two replies under o.
func equalResults(o Options, a, b result) bool {
	if a.Err != "" || b.Err != "" {
		return a.Err == b.Err && (a.Err != "" || equalValues(o, a.V, b.V))
	}
	return equalValues(o, a.V, b.V)
}

func equalValues(o Options, a, b Value) bool {
	switch o.Mode {
	case "ignore":
		return true
	case "approx":
		return approxEqual(a, b, o.Approx)
	}
	return bytes.Equal(normalise(o.Mode, a).Encode(), normalise(o.Mode, b).Encode())
}

// normalise maps v to the form compared under mode.
func normalise(mode string, v Value) Value {
	switch mode {
	case "sorted", "scanall":
		return v.sortedElems(false)
	case "sortpairs":
		return v.sortedElems(true)
	case "config":
		return maskConfig(v).sortedElems(true)
	case "commandinfo":
		return sortSubcommandInfo(v).sortedElems(false)
	case "commanddocs":
		return sortSubcommandDocs(v).sortedElems(true)
	case "type":
		return Value{Type: v.Type, Null: v.Null, Str: errorCode(v)}
	case "len":
		out := Value{Type: v.Type, Null: v.Null, Str: errorCode(v)}
		if v.IsAggregate() {
			out.Elems = make([]Value, len(v.Elems))
			for i := range out.Elems {
				out.Elems[i] = Value{Type: '_'}
			}
		}
		return out
	case "fields":
		return infoFields(v)
	case "client":
		return maskClientFields(v)
	case "hello":
		return maskHelloID(v)
	case "monitor":
		return maskMonitor(v)
	}
	return v
}

// errorCode keeps an error's code ("ERR", "WRONGTYPE") under the looser
// modes: a reply that is an error of another kind is still a difference.
func errorCode(v Value) string {
	if v.Type != '-' {
		return ""
	}
	code, _, _ := strings.Cut(v.Str, " ")
	return code
}

func approxEqual(a, b Value, tol int64) bool {
	if a.Type != b.Type || a.Null != b.Null || len(a.Elems) != len(b.Elems) {
		return false
	}
	if a.Type == ':' {
		x, err1 := strconv.ParseInt(a.Str, 10, 64)
		y, err2 := strconv.ParseInt(b.Str, 10, 64)
		if err1 != nil || err2 != nil {
			return a.Str == b.Str
		}
		// Negative values are TTL's -1/-2 codes: never approximate them.
		if x < 0 || y < 0 {
			return x == y
		}
		d := x - y
		return -tol <= d && d <= tol
	}
	if !a.IsAggregate() {
		return bytes.Equal(a.Encode(), b.Encode())
	}
	for i := range a.Elems {
		if !approxEqual(a.Elems[i], b.Elems[i], tol) {
			return false
		}
	}
	return true
}

// infoFields reduces an INFO reply to its sorted "section.field" names:
// values (uptime, memory, counters) legitimately differ, but a client or
// the test suite that reads a field needs it to be there.
func infoFields(v Value) Value {
	if (v.Type != '$' && v.Type != '=') || v.Null {
		return v
	}
	text := v.Str
	if v.Type == '=' && len(text) >= 4 {
		text = text[4:]
	}
	var names []string
	section := ""
	for _, line := range strings.Split(text, "\r\n") {
		switch {
		case strings.HasPrefix(line, "# "):
			section = strings.ToLower(strings.TrimPrefix(line, "# "))
			names = append(names, line)
		case line == "":
		default:
			k, _, _ := strings.Cut(line, ":")
			// Per-item lines (db0, cmdstat_get, errorstat_ERR) depend on
			// the history; the section header says they may appear.
			if section == "keyspace" || section == "commandstats" || section == "errorstats" || section == "latencystats" {
				continue
			}
			names = append(names, section+"."+k)
		}
	}
	sort.Strings(names)
	out := Value{Type: '*'}
	for _, n := range names {
		out.Elems = append(out.Elems, Value{Type: '+', Str: n})
	}
	return out
}

var clientVolatile = regexp.MustCompile(`\b(id|addr|laddr|fd|age|idle|qbuf|qbuf-free|argv-mem|multi-mem|obl|oll|omem|tot-mem|events|rbs|rbp)=\S*`)

// maskClientFields blanks the CLIENT INFO/LIST fields that depend on the
// connection (ids, addresses, ages, buffer sizes).
func maskClientFields(v Value) Value {
	if (v.Type != '$' && v.Type != '=') || v.Null {
		return v
	}
	out := v
	out.Str = clientVolatile.ReplaceAllString(v.Str, "$1=*")
	return out
}

// maskHelloID blanks the client id in HELLO's reply (map or flat array).
func maskHelloID(v Value) Value {
	if !v.IsAggregate() {
		return v
	}
	out := v
	out.Elems = append([]Value(nil), v.Elems...)
	for i := 0; i+1 < len(out.Elems); i += 2 {
		if out.Elems[i].Str == "id" {
			out.Elems[i+1] = Value{Type: ':', Str: "0"}
		}
	}
	return out
}

// fieldsNote names the INFO fields only one server reported.
func fieldsNote(redis, node Value) string {
	names := func(v Value) map[string]bool {
		m := map[string]bool{}
		for _, e := range infoFields(v).Elems {
			m[e.Str] = true
		}
		return m
	}
	r, n := names(redis), names(node)
	var onlyR, onlyN []string
	for k := range r {
		if !n[k] {
			onlyR = append(onlyR, k)
		}
	}
	for k := range n {
		if !r[k] {
			onlyN = append(onlyN, k)
		}
	}
	sort.Strings(onlyR)
	sort.Strings(onlyN)
	return fmt.Sprintf("fields only redis has: %s\n  fields only the node has: %s", strings.Join(onlyR, " "), strings.Join(onlyN, " "))
}

// harnessConfig are the parameters whose values the harness itself makes
// differ: each server listens on its own port and works in its own dir.
var harnessConfig = map[string]bool{"port": true, "dir": true}

// maskConfig blanks the values of harnessConfig parameters in a CONFIG GET
// reply (flat array or RESP3 map).
func maskConfig(v Value) Value {
	if !v.IsAggregate() || len(v.Elems)%2 != 0 {
		return v
	}
	out := v
	out.Elems = append([]Value(nil), v.Elems...)
	for i := 0; i < len(out.Elems); i += 2 {
		if harnessConfig[out.Elems[i].Str] {
			out.Elems[i+1] = Value{Type: '$', Str: "*"}
		}
	}
	return out
}

// sortSubcommandInfo puts the subcommand entries of COMMAND INFO replies
// (element 10 of each 10-element entry) in byte order: Redis lists them
// in its hash table's order, which no other server shares.
func sortSubcommandInfo(v Value) Value {
	if !v.IsAggregate() || v.Null {
		return v
	}
	out := v
	out.Elems = make([]Value, len(v.Elems))
	for i, e := range v.Elems {
		out.Elems[i] = sortSubcommandInfo(e)
	}
	if len(out.Elems) == 10 && out.Elems[0].Type == '$' && out.Elems[9].IsAggregate() {
		out.Elems[9] = out.Elems[9].sortedElems(false)
	}
	return out
}

// sortSubcommandDocs puts the "subcommands" map of COMMAND DOCS replies in
// byte order of its pairs, for the same reason; it finds the map by its
// key, since in RESP2 a map is a flat array.
func sortSubcommandDocs(v Value) Value {
	if !v.IsAggregate() || v.Null {
		return v
	}
	out := v
	out.Elems = make([]Value, len(v.Elems))
	for i, e := range v.Elems {
		out.Elems[i] = sortSubcommandDocs(e)
	}
	for i := 0; i+1 < len(out.Elems); i += 2 {
		if out.Elems[i].Str == "subcommands" && out.Elems[i+1].IsAggregate() {
			out.Elems[i+1] = out.Elems[i+1].sortedElems(true)
		}
	}
	return out
}

var monitorPrefix = regexp.MustCompile(`^[0-9]+\.[0-9]+ \[([0-9]+) [^\]]*\]`)

// maskMonitor blanks the time and client address that start a MONITOR
// line ("+1732540000.123456 [0 127.0.0.1:40000] "set" "a""), keeping
// the database and the command.
func maskMonitor(v Value) Value {
	if v.Type != '+' {
		return v
	}
	out := v
	out.Str = monitorPrefix.ReplaceAllString(v.Str, "T [$1 ADDR]")
	return out
}
