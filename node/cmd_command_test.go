package node

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyfleet/keyfleet/internal/commands"
	"github.com/keyfleet/keyfleet/internal/commands/oracle"
)

func TestCommandCountAndList(t *testing.T) {
	_, rc := testServer(t, nil)
	ctx := context.Background()
	n, err := rc.Do(ctx, "COMMAND", "COUNT").Int64()
	if err != nil || int(n) != len(commandTable()) {
		t.Fatalf("COMMAND COUNT = %d, %v; served %d", n, err, len(commandTable()))
	}
	all, err := rc.Do(ctx, "COMMAND").Slice()
	if err != nil || len(all) != int(n) {
		t.Fatalf("COMMAND returned %d entries, %v; want %d", len(all), err, n)
	}
	list, err := rc.Do(ctx, "command", "list").StringSlice()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"get", "command", "command|info", "command|getkeys"} {
		if !slices.Contains(list, want) {
			t.Errorf("COMMAND LIST lacks %q", want)
		}
	}
	subs := 0
	for _, c := range commandTable() {
		subs += len(c.subs)
	}
	if len(list) != int(n)+subs {
		t.Errorf("COMMAND LIST has %d names, want %d commands + %d subcommands", len(list), n, subs)
	}

	filters := []struct {
		args []any
		want []string // each must be in the result
		not  []string // none may be
		err  string
	}{
		{args: []any{"filterby", "pattern", "get"}, want: []string{"get"}},
		{args: []any{"filterby", "pattern", "command|*keys*"}, want: []string{"command|getkeys", "command|getkeysandflags"}, not: []string{"command", "command|info"}},
		{args: []any{"filterby", "PATTERN", "COMM*"}, want: []string{"command", "command|info"}, not: []string{"get"}},
		{args: []any{"filterby", "aclcat", "connection"}, want: []string{"command", "command|docs"}, not: []string{"get"}},
		{args: []any{"FILTERBY", "ACLCAT", "String"}, want: []string{"get"}, not: []string{"command"}},
		{args: []any{"filterby", "aclcat", "nosuchcategory"}},
		{args: []any{"filterby", "module", "nosuchmodule"}},
		{args: []any{"filterby", "pattern", "non_exists*"}},
		{args: []any{"bad_arg"}, err: "ERR syntax error"},
		{args: []any{"filterby", "bad_arg"}, err: "ERR syntax error"},
		{args: []any{"filterby", "bad_arg", "bad_arg2"}, err: "ERR syntax error"},
		{args: []any{"filterby", "pattern", "a", "extra"}, err: "ERR syntax error"},
	}
	for _, f := range filters {
		got, err := rc.Do(ctx, append([]any{"command", "list"}, f.args...)...).StringSlice()
		if f.err != "" {
			if err == nil || err.Error() != f.err {
				t.Errorf("COMMAND LIST %v: err %v, want %q", f.args, err, f.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("COMMAND LIST %v: %v", f.args, err)
			continue
		}
		if f.want == nil && len(got) != 0 {
			t.Errorf("COMMAND LIST %v = %q, want nothing", f.args, got)
		}
		for _, w := range f.want {
			if !slices.Contains(got, w) {
				t.Errorf("COMMAND LIST %v = %q, lacks %q", f.args, got, w)
			}
		}
		for _, w := range f.not {
			if slices.Contains(got, w) {
				t.Errorf("COMMAND LIST %v = %q, has %q", f.args, got, w)
			}
		}
	}
}

func TestCommandInfoShape(t *testing.T) {
	s, rc := testServer(t, nil)
	ctx := context.Background()
	v, err := rc.Do(ctx, "COMMAND", "INFO", "get", "GET", "get|key", "config|get|x", "nosuch", "command|count").Slice()
	if err != nil {
		t.Fatal(err)
	}
	if len(v) != 6 || v[2] != nil || v[3] != nil || v[4] != nil {
		t.Fatalf("COMMAND INFO = %#v", v)
	}
	get, _ := v[0].([]any)
	if len(get) != 10 || get[0] != "get" || get[1] != int64(2) || get[3] != int64(1) || get[4] != int64(1) || get[5] != int64(1) {
		t.Fatalf("COMMAND INFO get = %#v", get)
	}
	if fmt.Sprint(get[2]) != "[readonly fast]" || fmt.Sprint(get[6]) != "[@read @string @fast]" {
		t.Errorf("get flags %v, categories %v", get[2], get[6])
	}
	if cc, _ := v[5].([]any); len(cc) != 10 || cc[0] != "command|count" {
		t.Errorf("COMMAND INFO command|count = %#v", v[5])
	}

	// go-redis parses COMMAND into its CommandInfo: the shape must fit,
	// in RESP2 and in RESP3 where flags and categories are sets.
	for _, proto := range []int{2, 3} {
		cl := newClient(t, s, proto)
		infos, err := cl.Command(ctx).Result()
		if err != nil {
			t.Fatalf("RESP%d COMMAND: %v", proto, err)
		}
		gi := infos["get"]
		if gi == nil || gi.Arity != 2 || !gi.ReadOnly || gi.FirstKeyPos != 1 || !slices.Contains(gi.ACLFlags, "@read") {
			t.Errorf("RESP%d COMMAND get parsed as %+v", proto, gi)
		}
		if len(infos) != len(commandTable()) {
			t.Errorf("RESP%d COMMAND parsed %d commands, want %d", proto, len(infos), len(commandTable()))
		}
	}

	// The container lists its served subcommands as full entries.
	ci, err := rc.Do(ctx, "COMMAND", "INFO", "command").Slice()
	if err != nil {
		t.Fatal(err)
	}
	entry := ci[0].([]any)
	subs := entry[9].([]any)
	var names []string
	for _, sc := range subs {
		names = append(names, sc.([]any)[0].(string))
	}
	sort.Strings(names)
	want := []string{"command|count", "command|docs", "command|getkeys", "command|getkeysandflags", "command|help", "command|info", "command|list"}
	if !slices.Equal(names, want) {
		t.Errorf("COMMAND INFO command subcommands = %q", names)
	}
}

func TestCommandDocs(t *testing.T) {
	s, rc := testServer(t, nil)
	ctx := context.Background()
	v, err := rc.Do(ctx, "COMMAND", "DOCS", "get", "nosuch", "command|info").Slice()
	if err != nil {
		t.Fatal(err)
	}
	if len(v) != 4 || v[0] != "get" || v[2] != "command|info" {
		t.Fatalf("COMMAND DOCS = %#v", v)
	}
	// RESP3: a map of maps, arguments an array of maps.
	m := execDirect(t, s, 3, "COMMAND", "DOCS", "get")
	if m.kind != '%' || len(m.elems) != 2 || m.elems[0].str != "get" {
		t.Fatalf("RESP3 COMMAND DOCS get = %s", m)
	}
	doc := m.elems[1]
	if doc.kind != '%' || doc.get("group").str != "string" || doc.get("since").str != "1.0.0" || doc.get("summary").kind != '$' {
		t.Fatalf("RESP3 COMMAND DOCS get = %s", doc)
	}
	args := doc.get("arguments")
	if args.kind != '*' || len(args.elems) != 1 {
		t.Fatalf("get arguments = %s", args)
	}
	a := args.elems[0]
	if a.kind != '%' || a.get("name").str != "key" || a.get("type").str != "key" || a.get("key_spec_index").String() != `:"0"` {
		t.Errorf("get key argument = %s", a)
	}
	all := execDirect(t, s, 3, "COMMAND", "DOCS")
	if all.kind != '%' || len(all.elems) != 2*len(commandTable()) {
		t.Errorf("COMMAND DOCS returned %c with %d elements, want a map of %d", all.kind, len(all.elems), len(commandTable()))
	}
	cd := execDirect(t, s, 3, "COMMAND", "DOCS", "command")
	subs := cd.elems[1].get("subcommands")
	if subs.kind != '%' || len(subs.elems) != 14 || subs.get("command|getkeys").kind != '%' {
		t.Errorf("COMMAND DOCS command subcommands = %s", subs)
	}
	info := execDirect(t, s, 3, "COMMAND", "INFO", "get", "nosuch")
	if len(info.elems) != 2 || info.elems[1].kind != '_' {
		t.Fatalf("RESP3 COMMAND INFO get nosuch = %s", info)
	}
	kinds := ""
	for _, e := range info.elems[0].elems {
		kinds += string(e.kind)
	}
	// name, arity, flags, first, last, step, categories, tips, key specs, subcommands
	if kinds != "$:~:::~~~~" {
		t.Errorf("RESP3 COMMAND INFO get element types %q", kinds)
	}
}

// execDirect runs a command line as a client speaking proto would, inside
// the server but without a connection (so RESP3 needs no HELLO), and
// parses the reply.
func execDirect(t *testing.T, s *Server, proto int, args ...string) respValue {
	t.Helper()
	argv := make([][]byte, len(args))
	for i, a := range args {
		argv[i] = []byte(a)
	}
	c := &Client{srv: s, db: s.dbs[0], resp: proto, authenticated: true}
	s.mu.Lock()
	s.execute(c, argv)
	s.mu.Unlock()
	v, err := readResp(bufio.NewReader(bytes.NewReader(c.out)))
	if err != nil {
		t.Fatalf("%q: reply %q does not parse: %v", args, c.out, err)
	}
	return v
}

func TestCommandGetKeys(t *testing.T) {
	_, rc := testServer(t, nil)
	ctx := context.Background()
	cases := []struct {
		args []any
		want string // fmt of the reply, or the error
	}{
		{[]any{"getkeys", "get", "key"}, "[key]"},
		{[]any{"getkeys", "memory", "usage", "key"}, "[key]"},
		{[]any{"getkeys", "xgroup", "create", "key", "groupname", "$"}, "[key]"},
		{[]any{"getkeys", "eval", "return 1", "1", "key"}, "[key]"},
		{[]any{"getkeys", "eval", "return 1", "0"}, "[]"},
		{[]any{"getkeys", "lcs", "key1", "key2"}, "[key1 key2]"},
		{[]any{"getkeys", "zunionstore", "d", "2", "a", "b", "weights", "1", "2"}, "[d a b]"},
		{[]any{"getkeys", "sort", "k", "by", "w", "store", "d"}, "[k d]"},
		{[]any{"getkeys", "migrate", "h", "1", "", "0", "5000", "keys", "a", "b"}, "[a b]"},
		{[]any{"getkeys", "georadius", "k", "0", "0", "1", "m", "storedist", "d"}, "[k d]"},
		{[]any{"getkeys", "xread", "count", "1", "streams", "s1", "s2", "0", "0"}, "[s1 s2]"},
		{[]any{"getkeysandflags", "set", "k1", "v1"}, "[[k1 [OW update]]]"},
		{[]any{"getkeysandflags", "mset", "k1", "v1", "k2", "v2"}, "[[k1 [OW update]] [k2 [OW update]]]"},
		{[]any{"getkeysandflags", "LMOVE", "k1", "k2", "left", "right"}, "[[k1 [RW access delete]] [k2 [RW insert]]]"},
		{[]any{"getkeysandflags", "sort", "k1", "store", "k2"}, "[[k1 [RO access]] [k2 [OW update]]]"},
		{[]any{"getkeys", "nosuch", "k"}, "ERR Invalid command specified"},
		{[]any{"getkeys", "object", "nosuch", "k"}, "ERR Invalid command specified"},
		{[]any{"getkeys", "ping", "x"}, "ERR The command has no key arguments"},
		{[]any{"getkeys", "get", "a", "b"}, "ERR Invalid number of arguments specified for command"},
		{[]any{"getkeys", "zunion", "0", "a"}, "ERR Invalid arguments specified for command"},
		{[]any{"getkeys", "get"}, "ERR wrong number of arguments for 'command|getkeys' command"},
	}
	for _, c := range cases {
		v, err := rc.Do(ctx, append([]any{"COMMAND"}, c.args...)...).Result()
		got := fmt.Sprint(v)
		if err != nil {
			got = err.Error()
		}
		if got != c.want {
			t.Errorf("COMMAND %q = %s, want %s", c.args, got, c.want)
		}
	}
	// More than 256 keys, as introspection-2.tcl asks.
	args := []any{"COMMAND", "GETKEYS", "ZUNIONSTORE", "target", 260}
	want := []string{"target"}
	for i := 1; i <= 260; i++ {
		args = append(args, "key"+strconv.Itoa(i))
		want = append(want, "key"+strconv.Itoa(i))
	}
	got, err := rc.Do(ctx, args...).StringSlice()
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("GETKEYS ZUNIONSTORE of 260 keys = %d keys, %v", len(got), err)
	}
}

func TestCommandHelpAndErrors(t *testing.T) {
	_, rc := testServer(t, nil)
	ctx := context.Background()
	help, err := rc.Do(ctx, "command", "help").StringSlice()
	if err != nil || len(help) != 21 || help[0] != "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:" || help[20] != "    Prints this help." {
		t.Fatalf("COMMAND HELP = %q, %v", help, err)
	}
	errs := []struct {
		args []any
		want string
	}{
		{[]any{"command", "nosuch"}, "ERR unknown subcommand 'nosuch'. Try COMMAND HELP."},
		{[]any{"command", "count", "x"}, "ERR wrong number of arguments for 'command|count' command"},
		{[]any{"command", "help", "x"}, "ERR wrong number of arguments for 'command|help' command"},
	}
	for _, e := range errs {
		if err := rc.Do(ctx, e.args...).Err(); err == nil || err.Error() != e.want {
			t.Errorf("%v: %v, want %q", e.args, err, e.want)
		}
	}
}

// TestCommandMatchesRedis compares, byte for byte in RESP2 and RESP3, what
// the node and a real redis-server answer to COMMAND INFO, COMMAND DOCS,
// GETKEYS and HELP for every command the node serves. A container's
// subcommands are compared one by one (Redis lists them in hash order,
// and the node lists only those it serves).
func TestCommandMatchesRedis(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ref, err := oracle.Start(ctx)
	if errors.Is(err, oracle.ErrNoRedis) {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is not on PATH and CI=true")
		}
		t.Skip("redis-server is not on PATH: install redis-server 7.0.15 to compare COMMAND with Redis")
	}
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	s, _ := testServer(t, nil)

	for _, proto := range []string{"2", "3"} {
		// RESP2 over the wire; RESP3 inside the server, so that it does
		// not depend on HELLO.
		ours := dialRaw(t, "tcp", s.Addr().String())
		theirs := dialRaw(t, "unix", ref.Socket)
		run := func(args ...string) respValue {
			t.Helper()
			if proto == "3" {
				return execDirect(t, s, 3, args...)
			}
			return ours.do(t, args...)
		}
		if proto == "3" {
			theirs.do(t, "HELLO", "3")
		}
		compare := func(args ...string) {
			t.Helper()
			got, want := run(args...), theirs.do(t, args...)
			if got.String() != want.String() {
				t.Errorf("RESP%s %q:\n got %s\nwant %s", proto, args, got, want)
			}
		}
		var leaves []string
		for _, c := range servedCommands() {
			if len(c.subs) == 0 {
				leaves = append(leaves, c.Name)
			}
			for _, sc := range c.subs {
				leaves = append(leaves, sc.Name)
			}
		}
		for _, name := range leaves {
			compare("COMMAND", "INFO", name)
			compare("COMMAND", "DOCS", name)
		}
		for _, c := range servedCommands() {
			if len(c.subs) == 0 {
				continue
			}
			got, want := run("COMMAND", "INFO", c.Name), theirs.do(t, "COMMAND", "INFO", c.Name)
			if !sameContainer(got.elems[0], want.elems[0], 9, c) {
				t.Errorf("RESP%s COMMAND INFO %s:\n got %s\nwant %s", proto, c.Name, got, want)
			}
		}
		compare("COMMAND", "INFO", "get|key", "config|get|x", "nosuch", "GET", "", "|", "get|", "command|", "Command|INFO")
		compare("COMMAND", "DOCS", "nosuch", "GeT", "", "|", "command|", "COMMAND|list")
		compare("COMMAND", "HELP")
		compare("COMMAND", "LIST", "FILTERBY", "PATTERN", "get")
		compare("COMMAND", "LIST", "FILTERBY", "ACLCAT", "nosuch")
		compare("COMMAND", "LIST", "FILTERBY", "x", "y")
		for _, line := range [][]string{
			{"get", "k"}, {"set", "k", "v", "get"}, {"sort", "k", "store", "d"},
			{"eval", "s", "0"}, {"eval", "s", "x"}, {"zunion", "0", "a"}, {"object", "encoding", "k"},
			{"object", "nosuch", "k"}, {"ping", "x"}, {"get", "a", "b"}, {"nosuch", "x"},
			{"migrate", "h", "1", "", "0", "5", "auth", "p", "keys", "a", "b"},
		} {
			compare(append([]string{"COMMAND", "GETKEYS"}, line...)...)
			compare(append([]string{"COMMAND", "GETKEYSANDFLAGS"}, line...)...)
		}
	}
}

// TestCommandRenderMatchesRedis renders COMMAND INFO and COMMAND DOCS for
// every row of the table, served or not (as if each had a handler and all
// its subcommands), and compares them with redis-server's in RESP2 and
// RESP3: when the families land, COMMAND is already right for them.
func TestCommandRenderMatchesRedis(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ref, err := oracle.Start(ctx)
	if errors.Is(err, oracle.ErrNoRedis) {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is not on PATH and CI=true")
		}
		t.Skip("redis-server is not on PATH: install redis-server 7.0.15 to compare COMMAND with Redis")
	}
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	for _, proto := range []int{2, 3} {
		theirs := dialRaw(t, "unix", ref.Socket)
		if proto == 3 {
			theirs.do(t, "HELLO", "3")
		}
		for _, row := range commands.Default.All() {
			cmd := &command{Command: row}
			for _, sr := range row.Subcommands {
				cmd.subs = append(cmd.subs, &command{Command: sr})
			}
			c := &Client{resp: proto}
			c.ArrayLen(1)
			replyCommandInfo(c, cmd)
			got, err := readResp(bufio.NewReader(bytes.NewReader(c.out)))
			if err != nil {
				t.Fatalf("%s: our COMMAND INFO does not parse: %v", row.Name, err)
			}
			want := theirs.do(t, "COMMAND", "INFO", row.Name)
			if canonInfo(got).String() != canonInfo(want).String() {
				t.Errorf("RESP%d COMMAND INFO %s:\n got %s\nwant %s", proto, row.Name, got, want)
			}
			c.out = c.out[:0]
			c.MapLen(1)
			c.BulkString(row.Name)
			replyCommandDocs(c, cmd)
			got, err = readResp(bufio.NewReader(bytes.NewReader(c.out)))
			if err != nil {
				t.Fatalf("%s: our COMMAND DOCS does not parse: %v", row.Name, err)
			}
			want = theirs.do(t, "COMMAND", "DOCS", row.Name)
			if canonDocs(got).String() != canonDocs(want).String() {
				t.Errorf("RESP%d COMMAND DOCS %s:\n got %s\nwant %s", proto, row.Name, got, want)
			}
		}
	}
}

// canonInfo sorts the subcommand entries of a COMMAND INFO reply, which
// Redis lists in hash order.
func canonInfo(v respValue) respValue {
	for i := range v.elems {
		e := &v.elems[i]
		if len(e.elems) == 10 && e.elems[9].kind == '*' {
			sort.Slice(e.elems[9].elems, func(a, b int) bool {
				return e.elems[9].elems[a].elems[0].str < e.elems[9].elems[b].elems[0].str
			})
		}
	}
	return v
}

// canonDocs sorts the "subcommands" map of each COMMAND DOCS entry by
// name.
func canonDocs(v respValue) respValue {
	for i := 1; i < len(v.elems); i += 2 {
		doc := &v.elems[i]
		for j := 0; j+1 < len(doc.elems); j += 2 {
			if doc.elems[j].str != "subcommands" {
				continue
			}
			m := doc.elems[j+1].elems
			type pair struct{ k, v respValue }
			var ps []pair
			for x := 0; x+1 < len(m); x += 2 {
				ps = append(ps, pair{m[x], m[x+1]})
			}
			sort.Slice(ps, func(a, b int) bool { return ps[a].k.str < ps[b].k.str })
			for x, p := range ps {
				m[2*x], m[2*x+1] = p.k, p.v
			}
		}
	}
	return v
}

// sameContainer compares two COMMAND INFO entries of a container: every
// field but the subcommand list exactly, and each of our subcommands with
// Redis's entry of the same name.
func sameContainer(got, want respValue, subIdx int, c *command) bool {
	if len(got.elems) != len(want.elems) {
		return false
	}
	for i := range got.elems {
		if i != subIdx && got.elems[i].String() != want.elems[i].String() {
			return false
		}
	}
	theirs := map[string]string{}
	for _, e := range want.elems[subIdx].elems {
		theirs[e.elems[0].str] = e.String()
	}
	if len(got.elems[subIdx].elems) != len(c.subs) {
		return false
	}
	for _, e := range got.elems[subIdx].elems {
		if theirs[e.elems[0].str] != e.String() {
			return false
		}
	}
	return true
}

// rawConn speaks RESP directly, so that replies can be compared byte for
// byte, types included.
type rawConn struct {
	c net.Conn
	r *bufio.Reader
}

func dialRaw(t *testing.T, network, addr string) *rawConn {
	t.Helper()
	c, err := net.Dial(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{c: c, r: bufio.NewReader(c)}
}

func (rc *rawConn) do(t *testing.T, args ...string) respValue {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	rc.c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := rc.c.Write([]byte(b.String())); err != nil {
		t.Fatal(err)
	}
	v, err := readResp(rc.r)
	if err != nil {
		t.Fatalf("%q: %v", args, err)
	}
	return v
}

// respValue is one parsed reply: its type byte, its line or bulk payload,
// and its elements (maps as key, value, key, value).
type respValue struct {
	kind  byte
	str   string
	elems []respValue
}

func (v respValue) String() string {
	if v.elems == nil && v.kind != '*' && v.kind != '%' && v.kind != '~' && v.kind != '>' {
		return string(v.kind) + strconv.Quote(v.str)
	}
	parts := make([]string, len(v.elems))
	for i, e := range v.elems {
		parts[i] = e.String()
	}
	return string(v.kind) + "[" + strings.Join(parts, " ") + "]"
}

// get returns the value of key in a map reply (zero if absent).
func (v respValue) get(key string) respValue {
	for i := 0; i+1 < len(v.elems); i += 2 {
		if v.elems[i].str == key {
			return v.elems[i+1]
		}
	}
	return respValue{}
}

func readResp(r *bufio.Reader) (respValue, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return respValue{}, err
	}
	if len(line) < 3 {
		return respValue{}, fmt.Errorf("short line %q", line)
	}
	kind, body := line[0], line[1:len(line)-2]
	switch kind {
	case '+', '-', ':', ',', '_', '#', '(':
		return respValue{kind: kind, str: body}, nil
	case '$', '=', '!':
		n, err := strconv.Atoi(body)
		if err != nil {
			return respValue{}, err
		}
		if n < 0 {
			return respValue{kind: kind, str: "<nil>"}, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return respValue{}, err
		}
		return respValue{kind: kind, str: string(buf[:n])}, nil
	case '*', '~', '>', '%', '|':
		n, err := strconv.Atoi(body)
		if err != nil {
			return respValue{}, err
		}
		if n < 0 {
			return respValue{kind: kind, str: "<nil>"}, nil
		}
		if kind == '%' || kind == '|' {
			n *= 2
		}
		v := respValue{kind: kind, elems: make([]respValue, 0, n)}
		for i := 0; i < n; i++ {
			e, err := readResp(r)
			if err != nil {
				return respValue{}, err
			}
			v.elems = append(v.elems, e)
		}
		return v, nil
	}
	return respValue{}, fmt.Errorf("unknown reply type %q", line)
}
