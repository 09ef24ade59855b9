package commands

import (
	"reflect"
	"strings"
	"testing"
)

func args(s string) [][]byte {
	var out [][]byte
	for _, f := range strings.Fields(s) {
		out = append(out, []byte(f))
	}
	return out
}

func TestGetKeys(t *testing.T) {
	cases := []struct {
		cmd  string
		want []int
		ok   bool
	}{
		{"get k", []int{1}, true},
		{"mset a 1 b 2", []int{1, 3}, true},
		{"del a b c", []int{1, 2, 3}, true},
		{"eval s 2 k1 k2 a1", []int{3, 4}, true},
		{"eval s 0 a1", nil, true},
		{"eval s 5 k1", []int{3}, false},
		{"eval s x", nil, false},
		{"xread count 2 streams s1 s2 0 0", []int{4, 5}, true},
		{"xread streams s1 0", []int{2}, true},
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

func TestLegacyRange(t *testing.T) {
	cases := []struct {
		name              string
		first, last, step int
		movable           bool
	}{
		{"get", 1, 1, 1, false},
		{"mset", 1, -1, 2, false},
		{"eval", 0, 0, 0, true},
		{"ping", 0, 0, 0, false},
	}
	for _, c := range cases {
		cmd := Default.Lookup([]byte(c.name))
		if cmd.First != c.first || cmd.Last != c.last || cmd.Step != c.step || cmd.Has(MovableKeys) != c.movable {
			t.Errorf("%s: got %d %d %d movable=%v", c.name, cmd.First, cmd.Last, cmd.Step, cmd.Has(MovableKeys))
		}
	}
}

func TestLookupCaseInsensitive(t *testing.T) {
	if Default.Lookup([]byte("GeT")) == nil {
		t.Fatal("GeT not found")
	}
	if Default.Lookup([]byte("nosuchcommand")) != nil {
		t.Fatal("found a command that does not exist")
	}
}
