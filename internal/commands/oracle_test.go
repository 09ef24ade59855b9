package commands_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyfleet/keyfleet/internal/commands"
	"github.com/keyfleet/keyfleet/internal/commands/oracle"
)

// startOracle starts a real redis-server, the reference for these tests.
// Without one the tests skip, except under CI=true where they must run.
func startOracle(t *testing.T) *oracle.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	srv, err := oracle.Start(ctx)
	if errors.Is(err, oracle.ErrNoRedis) {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is not on PATH and CI=true: the command table cannot be checked against Redis")
		}
		t.Skip("redis-server is not on PATH: install redis-server 7.0.15 to compare the command table with Redis")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	v, err := srv.Version(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v != "7.0.15" {
		t.Logf("warning: reference redis-server is %s, the table describes 7.0.15", v)
	}
	return srv
}

// TestTableMatchesRedis compares every row (and subcommand) with what
// redis-server reports in COMMAND INFO and COMMAND DOCS.
func TestTableMatchesRedis(t *testing.T) {
	srv := startOracle(t)
	ref, err := srv.Commands(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, want := range ref {
		got := commands.Default.Lookup([]byte(want.Name))
		if got == nil {
			t.Errorf("%s: missing from the table", want.Name)
			continue
		}
		seen[want.Name] = true
		compareCommand(t, got, want)
	}
	for _, c := range commands.Default.All() {
		if !seen[c.Name] {
			t.Errorf("%s: in the table but not in Redis", c.Name)
		}
	}
	if len(commands.Default.All()) != len(ref) {
		t.Errorf("table has %d commands, Redis %d", len(commands.Default.All()), len(ref))
	}
}

func compareCommand(t *testing.T, got, want *commands.Command) {
	t.Helper()
	check := func(field string, g, w any) {
		t.Helper()
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s %s:\n got %#v\nwant %#v", want.Name, field, g, w)
		}
	}
	check("name", got.Name, want.Name)
	check("arity", got.Arity, want.Arity)
	check("flags", got.Flags.Names(), want.Flags.Names())
	check("first/last/step", [3]int{got.First, got.Last, got.Step}, [3]int{want.First, want.Last, want.Step})
	check("acl categories", got.ACL, want.ACL)
	check("tips", got.Tips, want.Tips)
	check("key specs", got.KeySpecs, want.KeySpecs)
	check("summary", got.Summary, want.Summary)
	check("since", got.Since, want.Since)
	check("group", got.Group, want.Group)
	check("complexity", got.Complexity, want.Complexity)
	check("doc flags", got.DocFlags, want.DocFlags)
	check("deprecated since", got.DeprecatedSince, want.DeprecatedSince)
	check("replaced by", got.ReplacedBy, want.ReplacedBy)
	check("history", got.History, want.History)
	check("arguments", got.Args, want.Args)
	var gs, ws []string
	for _, s := range got.Subcommands {
		gs = append(gs, s.Name)
	}
	for _, s := range want.Subcommands {
		ws = append(ws, s.Name)
	}
	check("subcommands", gs, ws)
	for _, w := range want.Subcommands {
		if g := commands.Default.LookupFull(w.Name); g != nil {
			compareCommand(t, g, w)
		}
	}
}

// getKeysCases are invocations whose keys are found in every way Redis
// finds them: plain ranges, key counts, keywords, and the extraction
// functions (SORT, MIGRATE, GEORADIUS, XREAD, SET, BITFIELD), plus the
// malformed ones that make the specs fail.
var getKeysCases = []string{
	"get k", "set k v", "set k v get", "set k v nx get", "set k v GeT",
	"mset a 1 b 2", "mset a 1 b", "del a b c", "mget a", "exists a b",
	"getex k persist", "copy a b", "copy a b db 2 replace", "rename a b", "smove a b m",
	"lmove a b left right", "blmove a b left right 0", "rpoplpush a b", "brpoplpush a b 0",
	"blpop a b c 0", "bzpopmin a b 1", "msetnx a 1 b 2",
	"eval s 2 k1 k2 a1", "eval s 0 a1", "eval s 0", "eval s 5 k1", "eval s x", "eval s -1 k",
	"eval s 1", "eval s 2abc k1 k2", "eval s 01 k1", "eval s +1 k1", "eval s ' 1' k",
	"evalsha sha 1 k1 a", "eval_ro s 1 k", "evalsha_ro sha 2 a b", "fcall f 2 a b c", "fcall_ro f 1 a",
	"fcall f 0",
	"zunion 2 a b", "zunion 2 a b weights 1 2", "zunion 3 a b", "zunion 0 a", "zunion x a",
	"zinter 1 a withscores", "zdiff 2 a b", "zintercard 2 a b limit 1",
	"zunionstore d 2 a b", "zunionstore d 2 a b aggregate sum", "zinterstore d 1 a",
	"zdiffstore d 2 a b", "zunionstore d 3 a b", "zunionstore d 0 a",
	"sintercard 2 a b", "sintercard 2 a b limit 5", "sintercard 3 a b",
	"lmpop 2 a b left", "lmpop 2 a b left count 3", "lmpop 1 a right", "lmpop 3 a b left",
	"blmpop 0 2 a b left", "blmpop 1.5 1 a right count 2",
	"zmpop 2 a b min", "zmpop 1 a max count 2", "bzmpop 0 2 a b min", "bzmpop 0 1 a max count 1",
	"xread streams s1 0", "xread count 2 streams s1 s2 0 0", "xread block 0 streams s 0",
	"xread streams s1 s2 0", "xread streams", "xread count 1 streams streams streams 0 0",
	"xread count streams streams s 0", "xread noack streams s 0",
	"xreadgroup group g c streams s 0", "xreadgroup group g c count 1 noack streams s1 s2 > >",
	"xreadgroup group streams c streams s >", "xreadgroup group g c streams s1 s2 >",
	"sort k", "sort k store d", "sort k by w get # store d", "sort k limit 0 10 store d",
	"sort k store d1 store d2", "sort k store", "sort k get store store d", "sort k limit store d",
	"sort k alpha desc", "sort_ro k", "sort_ro k by w get #",
	"migrate h 1 k 0 5000", "migrate h 1 \"\" 0 5000 keys a b", "migrate h 1 k 0 5000 keys a b",
	"migrate h 1 \"\" 0 5000 copy replace keys a", "migrate h 1 \"\" 0 5000 auth p keys a b",
	"migrate h 1 \"\" 0 5000 auth2 u p keys a b", "migrate h 1 \"\" 0 5000 auth keys keys a",
	"migrate h 1 k 0 5000 copy", "migrate h 1 \"\" 0 5000 keys",
	"georadius k 0 0 1 m", "georadius k 0 0 1 m store d", "georadius k 0 0 1 m storedist d",
	"georadius k 0 0 1 m store d storedist e", "georadius k 0 0 1 m withdist store",
	"georadius k 0 0 1 m store", "georadius_ro k 0 0 1 m", "georadiusbymember k m 1 km store d",
	"georadiusbymember k m 1 km storedist d count 1", "geosearchstore d s frommember m byradius 1 m",
	"bitfield k get u8 0", "bitfield k set u8 0 1", "bitfield k get u8", "bitfield k overflow wrap get u8 0",
	"bitfield k incrby u8 0 1 get u8 0", "bitfield k", "bitfield_ro k get u8 0",
	"object encoding k", "object freq k", "object idletime k", "object refcount k", "object help",
	"memory usage k", "memory usage k samples 5", "memory stats",
	"xinfo stream s", "xinfo stream s full count 1", "xinfo groups s", "xinfo consumers s g",
	"xgroup create s g $", "xgroup destroy s g", "xgroup createconsumer s g c", "xgroup setid s g 0",
	"pfcount a b", "pfmerge d a b", "bitop and d a b", "touch a b", "unlink a",
	"lcs a b", "watch a b", "dump k", "restore k 0 x", "expire k 10",
	"ping", "config get maxmemory", "nosuch k", "object nosuch k", "get", "get a b",
	"debug object k", "publish c m", "spublish c m", "subscribe c", "command getkeys get k",
	"lpos k e rank 1", "xadd s * f v", "xadd s maxlen 5 * f v", "xautoclaim s g c 0 0",
	"geosearch k frommember m byradius 1 m", "zrangestore d s 0 -1", "hello 3", "auth p",
}

// splitArgs splits a case on spaces; "" is an empty argument.
func splitArgs(s string) []string {
	var out []string
	for _, f := range strings.Fields(s) {
		if f == `""` {
			f = ""
		}
		out = append(out, f)
	}
	return out
}

// ourGetKeys answers as COMMAND GETKEYSANDFLAGS would.
func ourGetKeys(args []string) (keys []string, flags []commands.KeyFlag, errText string) {
	b := make([][]byte, len(args))
	for i, a := range args {
		b[i] = []byte(a)
	}
	kp, err := commands.Default.CommandGetKeys(b)
	if err != nil {
		return nil, nil, "ERR " + err.Error()
	}
	for _, k := range kp {
		keys = append(keys, args[k.Index])
		flags = append(flags, k.Flags)
	}
	return keys, flags, ""
}

func compareGetKeys(t *testing.T, srv *oracle.Server, args []string) bool {
	t.Helper()
	if len(args) < 2 {
		return true // COMMAND GETKEYS needs a command and an argument (arity -4)
	}
	wk, wf, werr, err := srv.GetKeys(context.Background(), args)
	if err != nil {
		t.Fatalf("%q: %v", args, err)
	}
	gk, gf, gerr := ourGetKeys(args)
	if gerr != werr || !slices.Equal(gk, wk) || !slices.Equal(gf, wf) {
		t.Errorf("GETKEYSANDFLAGS %q:\n got %q %v %q\nwant %q %v %q", args, gk, flagNames(gf), gerr, wk, flagNames(wf), werr)
		return false
	}
	return true
}

func flagNames(fs []commands.KeyFlag) [][]string {
	var out [][]string
	for _, f := range fs {
		out = append(out, f.Names())
	}
	return out
}

func TestGetKeysMatchesRedis(t *testing.T) {
	srv := startOracle(t)
	for _, c := range getKeysCases {
		compareGetKeys(t, srv, splitArgs(c))
	}
}

// TestGetKeysMatchesRedisGenerated builds invocations of every command
// from its COMMAND DOCS arguments (optional ones taken or not, repeated
// ones repeated, sometimes with a keyword in a value's place or an
// argument dropped) and compares the keys with Redis's.
func TestGetKeysMatchesRedisGenerated(t *testing.T) {
	srv := startOracle(t)
	rng := rand.New(rand.NewSource(1))
	n := 40
	if testing.Short() {
		n = 5
	}
	var all []*commands.Command
	for _, c := range commands.Default.All() {
		all = append(all, c)
		all = append(all, c.Subcommands...)
	}
	failures := 0
	for _, c := range all {
		if len(c.Subcommands) > 0 {
			continue
		}
		for i := 0; i < n && failures < 20; i++ {
			args := strings.Split(c.Name, "|")
			args = append(args, sampleArgs(rng, c.Args)...)
			if i%5 == 4 && len(args) > 2 {
				j := 1 + rng.Intn(len(args)-1)
				args = append(args[:j], args[j+1:]...)
			}
			if !compareGetKeys(t, srv, args) {
				failures++
			}
		}
	}
}

var words = []string{"STORE", "STOREDIST", "KEYS", "STREAMS", "GET", "SET", "LIMIT", "BY", "AUTH", "AUTH2",
	"COUNT", "BLOCK", "GROUP", "NOACK", "INCRBY", "OVERFLOW", "WEIGHTS", "x", ""}

func sampleArgs(rng *rand.Rand, args []commands.Arg) []string {
	var out []string
	for _, a := range args {
		if a.Optional && rng.Intn(2) == 0 {
			continue
		}
		reps := 1
		if a.Multiple {
			reps = 1 + rng.Intn(3)
		}
		for r := 0; r < reps; r++ {
			if a.Token != "" && (r == 0 || a.MultipleToken) {
				out = append(out, a.Token)
			}
			out = append(out, sampleValue(rng, a)...)
		}
	}
	return out
}

func sampleValue(rng *rand.Rand, a commands.Arg) []string {
	switch a.Type {
	case "pure-token":
		return nil
	case "oneof":
		return sampleArgs(rng, []commands.Arg{a.Args[rng.Intn(len(a.Args))]})
	case "block":
		return sampleArgs(rng, a.Args)
	case "key":
		return []string{fmt.Sprintf("k%d", rng.Intn(100))}
	case "integer":
		return []string{[]string{"0", "1", "2", "3", "-1", "x", "5"}[rng.Intn(7)]}
	}
	if rng.Intn(4) == 0 {
		return []string{words[rng.Intn(len(words))]}
	}
	return []string{"v"}
}

// TestGetKeysMatchesRedisRandom throws random words at the commands whose
// keys move (key counts, keywords, extraction functions).
func TestGetKeysMatchesRedisRandom(t *testing.T) {
	srv := startOracle(t)
	rng := rand.New(rand.NewSource(2))
	var movable []*commands.Command
	for _, c := range commands.Default.All() {
		for _, x := range append([]*commands.Command{c}, c.Subcommands...) {
			if x.Has(commands.MovableKeys) || x.Name == "set" || x.Name == "bitfield" {
				movable = append(movable, x)
			}
		}
	}
	vocab := append([]string{"0", "1", "2", "3", "-1", "4294967297", "k1", "k2", "k3", "01", " 2", "2x"}, words...)
	n := 300
	if testing.Short() {
		n = 30
	}
	failures := 0
	for _, c := range movable {
		for i := 0; i < n && failures < 20; i++ {
			args := strings.Split(c.Name, "|")
			for j := rng.Intn(10); j > 0; j-- {
				args = append(args, vocab[rng.Intn(len(vocab))])
			}
			if !compareGetKeys(t, srv, args) {
				failures++
			}
		}
	}
}
