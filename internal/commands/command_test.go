package commands

import (
	"reflect"
	"strings"
	"testing"
)

func args(s string) [][]byte {
	var out [][]byte
	for _, f := range strings.Fields(s) {
		if f == `""` {
			f = ""
		}
		out = append(out, []byte(f))
	}
	return out
}

// TestGetKeys pins key positions and the ok contract; oracle_test.go
// checks many more invocations against a real Redis.
func TestGetKeys(t *testing.T) {
	cases := []struct {
		cmd  string
		want []int
		ok   bool
	}{
		{"get k", []int{1}, true},
		{"GET k", []int{1}, true},
		{"get", nil, false},
		{"get a b", nil, false},
		{"mset a 1 b 2", []int{1, 3}, true},
		{"del a b c", []int{1, 2, 3}, true},
		{"lmove a b left right", []int{1, 2}, true},
		{"eval s 2 k1 k2 a1", []int{3, 4}, true},
		{"eval s 0 a1", nil, true},
		{"eval s 5 k1", nil, false},
		{"eval s x", nil, false},
		{"fcall f 1 k a", []int{3}, true},
		{"zunionstore d 2 a b weights 1 2", []int{1, 3, 4}, true},
		{"zinter 2 a b", []int{2, 3}, true},
		{"sintercard 2 a b limit 1", []int{2, 3}, true},
		{"blmpop 0 2 a b left", []int{3, 4}, true},
		{"xread count 2 streams s1 s2 0 0", []int{4, 5}, true},
		{"xread streams s1 0", []int{2}, true},
		{"xreadgroup group g c streams s >", []int{5}, true},
		{"sort k by w store d", []int{1, 5}, true},
		{"sort k limit 0 1 store d", []int{1, 6}, true},
		{`migrate h 1 "" 0 5000 keys a b`, []int{7, 8}, true},
		{"migrate h 1 k 0 5000", []int{3}, true},
		{"georadius k 0 0 1 m store d", []int{1, 7}, true},
		{"georadius k 0 0 1 m store", []int{1}, true},
		{"object encoding k", []int{2}, true},
		{"object nosuch k", nil, false},
		{"memory usage k samples 5", []int{2}, true},
		{"xinfo stream s full", []int{2}, true},
		{"set k v get", []int{1}, true},
		{"ping", nil, true},
	}
	for _, c := range cases {
		a := args(c.cmd)
		cmd := Default.Lookup(a[0])
		if cmd == nil {
			t.Fatalf("%s: no row", a[0])
		}
		kp, ok := cmd.GetKeys(a)
		var got []int
		for _, k := range kp {
			got = append(got, k.Index)
		}
		if !reflect.DeepEqual(got, c.want) || ok != c.ok {
			t.Errorf("GetKeys(%q) = %v,%v want %v,%v", c.cmd, got, ok, c.want, c.ok)
		}
	}
}

func TestGetKeysFlags(t *testing.T) {
	cases := []struct {
		cmd  string
		want []KeyFlag
	}{
		{"set k v", []KeyFlag{KeyOW | KeyUpdate}},
		{"set k v get", []KeyFlag{KeyRW | KeyAccess | KeyUpdate}},
		{"bitfield k get u8 0", []KeyFlag{KeyRO | KeyAccess}},
		{"bitfield k set u8 0 1", []KeyFlag{KeyRW | KeyAccess | KeyUpdate}},
		{"lmove a b left right", []KeyFlag{KeyRW | KeyAccess | KeyDelete, KeyRW | KeyInsert}},
		{"sort k store d", []KeyFlag{KeyRO | KeyAccess, KeyOW | KeyUpdate}},
	}
	for _, c := range cases {
		a := args(c.cmd)
		kp, _ := Default.Lookup(a[0]).GetKeys(a)
		var got []KeyFlag
		for _, k := range kp {
			got = append(got, k.Flags)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("GetKeys(%q) flags = %v want %v", c.cmd, got, c.want)
		}
	}
}

func TestCommandGetKeys(t *testing.T) {
	cases := []struct {
		cmd  string
		want []int
		err  error
	}{
		{"get k", []int{1}, nil},
		{"nosuch k", nil, ErrInvalidCommand},
		{"config get x", nil, ErrNoKeyArguments},
		{"config", nil, ErrNoKeyArguments},
		{"object nosuch k", nil, ErrInvalidCommand},
		{"get a b", nil, ErrInvalidArity},
		{"zunion 0 a", nil, ErrInvalidKeyArgs},
		{"eval s 0", nil, nil},
		{"object encoding k", []int{2}, nil},
	}
	for _, c := range cases {
		kp, err := Default.CommandGetKeys(args(c.cmd))
		var got []int
		for _, k := range kp {
			got = append(got, k.Index)
		}
		if !reflect.DeepEqual(got, c.want) || err != c.err {
			t.Errorf("CommandGetKeys(%q) = %v,%v want %v,%v", c.cmd, got, err, c.want, c.err)
		}
	}
}

func TestLegacyRange(t *testing.T) {
	cases := []struct {
		name              string
		first, last, step int
		movable           bool
	}{
		{"get", 1, 1, 1, false},
		{"mset", 1, -1, 2, false},
		{"lmove", 1, 2, 1, false},
		{"eval", 0, 0, 0, true},
		{"sort", 1, 1, 1, true},
		{"migrate", 3, 3, 1, true},
		{"ping", 0, 0, 0, false},
		{"object|encoding", 2, 2, 1, false},
	}
	for _, c := range cases {
		cmd := Default.LookupFull(c.name)
		if cmd.First != c.first || cmd.Last != c.last || cmd.Step != c.step || cmd.Has(MovableKeys) != c.movable {
			t.Errorf("%s: got %d %d %d movable=%v", c.name, cmd.First, cmd.Last, cmd.Step, cmd.Has(MovableKeys))
		}
	}
}

func TestLookup(t *testing.T) {
	if Default.Lookup([]byte("GeT")) == nil {
		t.Fatal("GeT not found")
	}
	if Default.Lookup([]byte("nosuchcommand")) != nil {
		t.Fatal("found a command that does not exist")
	}
	for name, want := range map[string]string{
		"CONFIG|get": "config|get", "config": "config", "get|x": "", "config|x": "",
		"config|get|x": "", "": "", "|": "",
	} {
		c := Default.LookupFull(name)
		got := ""
		if c != nil {
			got = c.Name
		}
		if got != want {
			t.Errorf("LookupFull(%q) = %q want %q", name, got, want)
		}
	}
}

func TestTableShape(t *testing.T) {
	n, subs := 0, 0
	for _, c := range Default.All() {
		n++
		for _, s := range c.Subcommands {
			subs++
			if !strings.HasPrefix(s.Name, c.Name+"|") {
				t.Errorf("subcommand %s of %s", s.Name, c.Name)
			}
		}
	}
	// Redis 7.0.15: COMMAND COUNT is 240, COMMAND LIST has 366 names.
	if n != 240 || n+subs != 366 {
		t.Errorf("%d commands and %d subcommands, want 240 and 126", n, subs)
	}
	for _, name := range []string{"eval", "evalsha", "fcall", "publish", "spublish", "pfcount"} {
		if !Default.LookupFull(name).Has(MayReplicate) {
			t.Errorf("%s lacks may_replicate", name)
		}
	}
	if !Default.LookupFull("module|load").Has(Protected) || !Default.LookupFull("debug").Has(Protected) {
		t.Error("module|load and debug must be protected")
	}
}

func TestAtoi(t *testing.T) {
	for in, want := range map[string]int{
		"2": 2, "2abc": 2, " 2": 2, "+3": 3, "-1": -1, "x": 0, "": 0,
		"4294967297": 1, "99999999999999999999": -1, "-99999999999999999999": 0,
	} {
		if got := atoi([]byte(in)); got != want {
			t.Errorf("atoi(%q) = %d want %d", in, got, want)
		}
	}
}

func TestParseInt64(t *testing.T) {
	for in, want := range map[string]bool{
		"0": true, "12": true, "-3": true, "01": false, "+1": false, " 1": false,
		"": false, "-": false, "-0": false, "9223372036854775807": true,
		"9223372036854775808": false, "-9223372036854775808": true, "1x": false,
	} {
		if _, ok := parseInt64([]byte(in)); ok != want {
			t.Errorf("parseInt64(%q) ok=%v want %v", in, ok, want)
		}
	}
}

// FuzzGetKeys: any argument vector, for any command, finds keys without
// panicking, and every key it reports is inside the arguments.
func FuzzGetKeys(f *testing.F) {
	for _, s := range []string{
		"get k", "eval s 2 a b", "xread streams s 0", "sort k store d", "migrate h 1 \x00 0 5 keys a",
		"georadius k 0 0 1 m store d", "zunionstore d 2 a b", "object encoding k", "bitfield k get u8 0",
		"set k v get", "xreadgroup group g c streams s >", "lmpop 4294967297 a left",
	} {
		f.Add(strings.ReplaceAll(s, " ", "\n"))
	}
	var all []*Command
	for _, c := range Default.All() {
		all = append(all, c)
		all = append(all, c.Subcommands...)
	}
	f.Fuzz(func(t *testing.T, line string) {
		parts := strings.Split(line, "\n")
		a := make([][]byte, len(parts))
		for i, p := range parts {
			a[i] = []byte(p)
		}
		check := func(c *Command, a [][]byte) {
			keys, _ := c.GetKeys(a)
			for _, k := range keys {
				if k.Index < 1 || k.Index >= len(a) {
					t.Fatalf("%s %q: key index %d out of range", c.Name, a, k.Index)
				}
			}
		}
		if c := Default.LookupArgs(a); c != nil {
			check(c, a)
		}
		Default.CommandGetKeys(a)
		// Every command, with these arguments after its own name.
		for _, c := range all {
			b := append([][]byte{[]byte(c.Name)}, a...)
			if _, sub, ok := strings.Cut(c.Name, "|"); ok {
				b[0] = []byte(c.Name[:len(c.Name)-len(sub)-1])
				b = append(b[:1], append([][]byte{[]byte(sub)}, a...)...)
			}
			check(c, b)
		}
	})
}

// TestACLCategoryOrder: every row lists its categories in Redis's order.
func TestACLCategoryOrder(t *testing.T) {
	pos := map[string]int{}
	for i, c := range ACLCategories() {
		pos[c] = i
	}
	var check func(c *Command)
	check = func(c *Command) {
		last := -1
		for _, cat := range c.ACL {
			p, ok := pos[cat]
			if !ok || p <= last {
				t.Errorf("%s: category %q unknown or out of order", c.Name, cat)
			}
			last = p
		}
		for _, s := range c.Subcommands {
			check(s)
		}
	}
	for _, c := range Default.All() {
		check(c)
	}
	if n, ok := ACLCategory("SortedSet"); !ok || n != "sortedset" {
		t.Errorf("ACLCategory(SortedSet) = %q, %v", n, ok)
	}
}

func BenchmarkAppendKeys(b *testing.B) {
	for _, line := range []string{"get k", "mset a 1 b 2 c 3", "eval s 2 k1 k2 a", "xread count 1 streams a b 0 0", "sort k by w store d"} {
		a := args(line)
		c := Default.Lookup(a[0])
		b.Run(string(a[0]), func(b *testing.B) {
			var dst []KeyPos
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				dst, _ = c.AppendKeys(dst[:0], a)
			}
			if len(dst) == 0 {
				b.Fatal("no keys")
			}
		})
	}
}
