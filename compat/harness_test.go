package compat

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
	"time"
)

// These test the harness itself, without servers: a comparison that
// always said "equal" would make every differential test pass.

func TestReadValueRoundTrip(t *testing.T) {
	wires := []string{
		"+OK\r\n",
		"-ERR wrong number of arguments for 'get' command\r\n",
		":0\r\n", ":-9223372036854775808\r\n",
		"$0\r\n\r\n", "$-1\r\n", "$5\r\na\r\nb\x00\r\n",
		"*-1\r\n", "*0\r\n", "*2\r\n$1\r\na\r\n*1\r\n:1\r\n",
		"_\r\n", ",1.5\r\n", ",inf\r\n", "#t\r\n", "#f\r\n",
		"(3492890328409238509324850943850943825024385\r\n",
		"!21\r\nSYNTAX invalid syntax\r\n", "=15\r\ntxt:Some string\r\n",
		"%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n", "~2\r\n+a\r\n+b\r\n",
		">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n",
		"|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n*1\r\n:1\r\n",
	}
	for _, w := range wires {
		v, err := ReadValue(bufio.NewReader(strings.NewReader(w)))
		if err != nil {
			t.Errorf("ReadValue(%q): %v", w, err)
			continue
		}
		if got := string(v.Encode()); got != w {
			t.Errorf("round trip of %q gave %q", w, got)
		}
	}
}

func TestReadValueRejects(t *testing.T) {
	bad := []string{
		"", "+OK\n", "$3\r\nab\r\n", "$-2\r\n", "*-2\r\n", "%-1\r\n",
		"$99999999999\r\n", "*x\r\n", "%00\r\n", "$01\r\nx\r\n", "*+1\r\n:1\r\n", "?\r\n", "#x\r\n", "_x\r\n", "$3\r\nabcde",
	}
	for _, w := range bad {
		if v, err := ReadValue(bufio.NewReader(strings.NewReader(w))); err == nil {
			t.Errorf("ReadValue(%q) accepted it as %v", w, v)
		}
	}
}

func FuzzReadValue(f *testing.F) {
	f.Add([]byte("*2\r\n$1\r\na\r\n%1\r\n+k\r\n:1\r\n"))
	f.Add([]byte("|1\r\n+a\r\n+b\r\n$-1\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := ReadValue(bufio.NewReader(bytes.NewReader(data)))
		if err != nil {
			return
		}
		enc := v.Encode()
		if !bytes.HasPrefix(data, enc) {
			t.Fatalf("value read from %q encodes as %q", data, enc)
		}
		_ = v.String()
	})
}

func TestSplitArgs(t *testing.T) {
	tests := []struct {
		line string
		want []string
		err  bool
	}{
		{`SET k v`, []string{"SET", "k", "v"}, false},
		{`  SET   "a b"  'c d' `, []string{"SET", "a b", "c d"}, false},
		{`SET k "\x00\xff\r\n\"\\"`, []string{"SET", "k", "\x00\xff\r\n\"\\"}, false},
		{`SET k 'it\'s'`, []string{"SET", "k", "it's"}, false},
		{`SET k ""`, []string{"SET", "k", ""}, false},
		{`SET k "unterminated`, nil, true},
		{`SET k "a"b`, nil, true},
	}
	for _, tt := range tests {
		got, err := SplitArgs(tt.line)
		if (err != nil) != tt.err {
			t.Errorf("SplitArgs(%q) error = %v, want error %v", tt.line, err, tt.err)
			continue
		}
		if !tt.err && strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("SplitArgs(%q) = %q, want %q", tt.line, got, tt.want)
		}
	}
}

func FuzzQuoteArg(f *testing.F) {
	f.Add("a b\x00\"'\\[!#")
	f.Fuzz(func(t *testing.T, a string) {
		got, err := SplitArgs("X " + QuoteArg(a))
		if err != nil || len(got) != 2 || got[1] != a {
			t.Fatalf("QuoteArg(%q) = %s read back as %q, %v", a, QuoteArg(a), got, err)
		}
	})
}

func TestParseScript(t *testing.T) {
	src := `# header
=== first
SET k v
[sorted n=2] KEYS *
!conn other
!sleep 5
[closed] !raw "PING\r\n"
=== second
[approx=3] TTL k
`
	cases, err := ParseScript("x.txt", strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) != 2 || len(cases[0].Steps) != 5 || len(cases[1].Steps) != 1 {
		t.Fatalf("parsed %+v", cases)
	}
	s := cases[0].Steps
	if s[1].Opts.Mode != "sorted" || s[1].Opts.Replies != 2 || s[1].Line != 4 {
		t.Errorf("options of line 4: %+v", s[1])
	}
	if s[2].Kind != stepConn || s[2].Conn != "other" || s[3].Sleep != 5*time.Millisecond {
		t.Errorf("directives: %+v %+v", s[2], s[3])
	}
	if s[4].Kind != stepRaw || string(s[4].Raw) != "PING\r\n" || !s[4].Opts.Closed {
		t.Errorf("raw step: %+v", s[4])
	}
	if o := cases[1].Steps[0].Opts; o.Mode != "approx" || o.Approx != 3 {
		t.Errorf("approx option: %+v", o)
	}
	for _, st := range s {
		again, err := parseStep(FormatStep(st))
		if err != nil || FormatStep(again) != FormatStep(st) {
			t.Errorf("FormatStep(%+v) = %q does not parse back (%v)", st, FormatStep(st), err)
		}
	}
	for _, bad := range []string{"[bogus] GET k", "!nosuch", "[n=x] GET k", "=== empty\n=== next\nGET k"} {
		if _, err := ParseScript("bad.txt", strings.NewReader(bad)); err == nil {
			t.Errorf("ParseScript accepted %q", bad)
		}
	}
}

func TestEqualResults(t *testing.T) {
	v := func(w string) result {
		x, err := ReadValue(bufio.NewReader(strings.NewReader(w)))
		if err != nil {
			t.Fatalf("%q: %v", w, err)
		}
		return result{V: x}
	}
	bulk := func(s string) result { return result{V: Value{Type: '$', Str: s}} }
	tests := []struct {
		mode   Options
		a, b   result
		expect bool
	}{
		{Options{}, v("+OK\r\n"), v("+OK\r\n"), true},
		{Options{}, v("+OK\r\n"), v("$2\r\nOK\r\n"), false},
		{Options{}, v(":1\r\n"), v(":2\r\n"), false},
		{Options{Mode: "approx", Approx: 1}, v(":100\r\n"), v(":101\r\n"), true},
		{Options{Mode: "approx", Approx: 1}, v(":100\r\n"), v(":102\r\n"), false},
		{Options{Mode: "approx", Approx: 5}, v(":-1\r\n"), v(":-2\r\n"), false},
		{Options{Mode: "sorted"}, v("*2\r\n+a\r\n+b\r\n"), v("*2\r\n+b\r\n+a\r\n"), true},
		{Options{Mode: "sorted"}, v("*2\r\n+a\r\n+b\r\n"), v("*2\r\n+b\r\n+b\r\n"), false},
		{Options{Mode: "sortpairs"}, v("*4\r\n+a\r\n+1\r\n+b\r\n+2\r\n"), v("*4\r\n+b\r\n+2\r\n+a\r\n+1\r\n"), true},
		{Options{Mode: "sortpairs"}, v("*4\r\n+a\r\n+1\r\n+b\r\n+2\r\n"), v("*4\r\n+a\r\n+2\r\n+b\r\n+1\r\n"), false},
		{Options{Mode: "type"}, v("$1\r\na\r\n"), v("$2\r\nbb\r\n"), true},
		{Options{Mode: "type"}, v("$1\r\na\r\n"), v("$-1\r\n"), false},
		{Options{Mode: "type"}, v("-ERR x\r\n"), v("-WRONGTYPE y\r\n"), false},
		{Options{Mode: "len"}, v("*2\r\n$1\r\n1\r\n$1\r\n2\r\n"), v("*2\r\n$1\r\n3\r\n$1\r\n4\r\n"), true},
		{Options{Mode: "len"}, v("*2\r\n$1\r\n1\r\n$1\r\n2\r\n"), v("*1\r\n$1\r\n3\r\n"), false},
		{Options{Mode: "fields"}, bulk("# Server\r\nuptime:1\r\nrun_id:a\r\n"), bulk("# Server\r\nuptime:9\r\nrun_id:b\r\n"), true},
		{Options{Mode: "fields"}, bulk("# Server\r\nuptime:1\r\nrun_id:a\r\n"), bulk("# Server\r\nuptime:9\r\n"), false},
		{Options{Mode: "client"}, bulk("id=3 addr=1 db=0\n"), bulk("id=9 addr=2 db=0\n"), true},
		{Options{Mode: "client"}, bulk("id=3 addr=1 db=0\n"), bulk("id=9 addr=2 db=1\n"), false},
		{Options{Mode: "hello"}, v("%2\r\n$2\r\nid\r\n:3\r\n$5\r\nproto\r\n:3\r\n"), v("%2\r\n$2\r\nid\r\n:7\r\n$5\r\nproto\r\n:3\r\n"), true},
		{Options{Mode: "hello"}, v("%2\r\n$2\r\nid\r\n:3\r\n$5\r\nproto\r\n:3\r\n"), v("%2\r\n$2\r\nid\r\n:7\r\n$5\r\nproto\r\n:2\r\n"), false},
		{Options{Mode: "config"}, v("*4\r\n$4\r\nport\r\n$1\r\n1\r\n$2\r\nhz\r\n$2\r\n10\r\n"), v("*4\r\n$2\r\nhz\r\n$2\r\n10\r\n$4\r\nport\r\n$1\r\n2\r\n"), true},
		{Options{Mode: "config"}, v("*4\r\n$4\r\nport\r\n$1\r\n1\r\n$2\r\nhz\r\n$2\r\n10\r\n"), v("*4\r\n$2\r\nhz\r\n$2\r\n11\r\n$4\r\nport\r\n$1\r\n1\r\n"), false},
		{Options{Mode: "monitor"}, v("+1732540000.123456 [0 127.0.0.1:4000] \"set\" \"a\"\r\n"), v("+1732540001.5 [0 127.0.0.1:5] \"set\" \"a\"\r\n"), true},
		{Options{Mode: "monitor"}, v("+1732540000.123456 [0 127.0.0.1:4000] \"set\" \"a\"\r\n"), v("+1732540001.5 [1 127.0.0.1:5] \"set\" \"a\"\r\n"), false},
		{Options{}, result{Err: "closed"}, result{Err: "closed"}, true},
		{Options{Mode: "ignore"}, v("+OK\r\n"), result{Err: "timeout"}, false},
		{Options{Mode: "ignore"}, v("+OK\r\n"), v(":1\r\n"), true},
	}
	for i, tt := range tests {
		if got := equalResults(tt.mode, tt.a, tt.b); got != tt.expect {
			t.Errorf("%d: equalResults(%+v, %s, %s) = %v, want %v", i, tt.mode, tt.a.raw(), tt.b.raw(), got, tt.expect)
		}
	}
}

func TestExpandTime(t *testing.T) {
	now := time.Unix(1000, 5e6)
	tests := map[string]string{
		"{now}": "1000", "{now+10}": "1010", "{now-10}": "990", "x{nowms+1}y": "x1000006y",
		"{nowish}": "{nowish}", "plain": "plain", "{now+x}": "{now+x}",
	}
	for in, want := range tests {
		if got := expandTime(in, now); got != want {
			t.Errorf("expandTime(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestShrink(t *testing.T) {
	// The "bug": a divergence at the last step whenever steps A and B both
	// precede it.
	var steps []Step
	for i := 0; i < 40; i++ {
		steps = append(steps, Step{Kind: stepCommand, Args: []string{"X"}})
	}
	steps[7].Args = []string{"A"}
	steps[23].Args = []string{"B"}
	steps = append(steps, Step{Kind: stepCommand, Args: []string{"FAIL"}})
	replay := func(s []Step) *divergence {
		var a, b bool
		for i, st := range s {
			a = a || st.Args[0] == "A"
			b = b || st.Args[0] == "B"
			if st.Args[0] == "FAIL" && a && b {
				return &divergence{Index: i}
			}
		}
		return nil
	}
	got := shrink(steps, 5*time.Second, replay)
	var names []string
	for _, st := range got {
		names = append(names, st.Args[0])
	}
	if strings.Join(names, " ") != "A B FAIL" {
		t.Errorf("shrink left %v", names)
	}
}
