package resp

import (
	"errors"
	"math"
	"math/rand"
	"testing"
)

func TestScan(t *testing.T) {
	tests := []struct {
		in   string
		want int // length of the first reply; 0 = incomplete; -1 = error
	}{
		{"+OK\r\n", 5},
		{"+OK\r\n+OK\r\n", 5},
		{"+OK\r", 0},
		{"+OK\n", -1},
		{"-ERR x\r\n", 8},
		{":123\r\n", 6},
		{"$3\r\nfoo\r\n", 9},
		{"$3\r\nfoo\r", 0},
		{"$3\r\nfooXX", -1},
		{"$-1\r\n", 5},
		{"$-2\r\n", -1},
		{"$x\r\n", -1},
		{"*2\r\n$1\r\na\r\n:1\r\n", 15},
		{"*2\r\n$1\r\na\r\n", 0},
		{"*-1\r\n", 5},
		{"*0\r\n", 4},
		{"%1\r\n+a\r\n:1\r\n", 12},
		{"%1\r\n+a\r\n", 0},
		{"~1\r\n_\r\n", 7},
		{">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nm\r\n", 31},
		{",3.14\r\n", 7},
		{"#t\r\n", 4},
		{"(123\r\n", 6},
		{"=8\r\ntxt:abcd\r\n", 14},
		{"!3\r\nERR\r\n", 9},
		{"|1\r\n+ttl\r\n:3\r\n+OK\r\n", 19},
		{"|1\r\n+ttl\r\n:3\r\n", 0},
		{"*1\r\n*1\r\n*1\r\n:1\r\n", 16},
		{"?\r\n", -1},
		{"", 0},
		{"*99999999999\r\n", -1},
	}
	for _, tt := range tests {
		n, err := Scan([]byte(tt.in))
		switch {
		case tt.want == -1:
			if !errors.Is(err, ErrProtocol) {
				t.Errorf("Scan(%q) = %d, %v; want a protocol error", tt.in, n, err)
			}
		case err != nil || n != tt.want:
			t.Errorf("Scan(%q) = %d, %v; want %d", tt.in, n, err, tt.want)
		}
	}
}

func TestParse(t *testing.T) {
	in := "*4\r\n$3\r\nfoo\r\n:-7\r\n*-1\r\n%1\r\n+k\r\n,1.5\r\n"
	v, n, err := Parse([]byte(in))
	if err != nil || n != len(in) {
		t.Fatalf("Parse = %d, %v", n, err)
	}
	if v.Type != '*' || len(v.Elems) != 4 {
		t.Fatalf("got %+v", v)
	}
	if string(v.Elems[0].Str) != "foo" || string(v.Elems[0].Raw) != "$3\r\nfoo\r\n" {
		t.Errorf("elem 0 = %q raw %q", v.Elems[0].Str, v.Elems[0].Raw)
	}
	if v.Elems[1].Int != -7 {
		t.Errorf("elem 1 = %d", v.Elems[1].Int)
	}
	if !v.Elems[2].Null {
		t.Errorf("elem 2 not null")
	}
	m := v.Elems[3]
	if m.Type != '%' || len(m.Elems) != 2 || string(m.Elems[0].Str) != "k" || string(m.Elems[1].Str) != "1.5" {
		t.Errorf("map = %+v", m)
	}
	// An attribute is folded into the reply it annotates.
	v, n, err = Parse([]byte("|1\r\n+a\r\n:1\r\n:42\r\n"))
	if err != nil || v.Type != ':' || v.Int != 42 || n != 17 || len(v.Raw) != 17 {
		t.Errorf("attribute: %+v %d %v", v, n, err)
	}
	// Nesting beyond the bound is an error, not a deep recursion.
	deep := make([]byte, 0, 5*1000)
	for i := 0; i < 1000; i++ {
		deep = append(deep, "*1\r\n"...)
	}
	deep = append(deep, ":1\r\n"...)
	if _, _, err := Parse(deep); !errors.Is(err, ErrProtocol) {
		t.Errorf("deep nesting: err = %v", err)
	}
}

func TestParseInt(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"-1", -1, true}, {"9223372036854775807", math.MaxInt64, true},
		{"-9223372036854775808", math.MinInt64, true}, {"9223372036854775808", 0, false},
		{"", 0, false}, {"-", 0, false}, {"1a", 0, false}, {"+1", 0, false},
	}
	for _, tt := range tests {
		got, ok := ParseInt([]byte(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseInt(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestAppend(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"null2", AppendNull(nil, 2), "$-1\r\n"},
		{"null3", AppendNull(nil, 3), "_\r\n"},
		{"nullarray2", AppendNullArray(nil, 2), "*-1\r\n"},
		{"map2", AppendMapLen(nil, 2, 3), "*6\r\n"},
		{"map3", AppendMapLen(nil, 3, 3), "%3\r\n"},
		{"set3", AppendSetLen(nil, 3, 2), "~2\r\n"},
		{"push2", AppendPushLen(nil, 2, 3), "*3\r\n"},
		{"push3", AppendPushLen(nil, 3, 3), ">3\r\n"},
		{"error", AppendError(nil, "ERR a\r\nb"), "-ERR a  b\r\n"},
		{"double2", AppendDouble(nil, 2, 1.5), "$3\r\n1.5\r\n"},
		{"double3", AppendDouble(nil, 3, math.Inf(-1)), ",-inf\r\n"},
		{"verbatim2", AppendVerbatim(nil, 2, "ab"), "$2\r\nab\r\n"},
		{"verbatim3", AppendVerbatim(nil, 3, "ab"), "=6\r\ntxt:ab\r\n"},
		{"command", AppendCommandStrings(nil, "GET", "k"), "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"},
		{"bulkint", AppendBulkInt(nil, -12), "$3\r\n-12\r\n"},
	}
	for _, tt := range tests {
		if string(tt.got) != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}

// randomReply builds a random well-formed reply.
func randomReply(r *rand.Rand, b []byte, depth int) []byte {
	k := r.Intn(12)
	if depth > 4 {
		k %= 6
	}
	switch k {
	case 0:
		return AppendStatus(b, "OK")
	case 1:
		return AppendError(b, "ERR x")
	case 2:
		return AppendInt(b, r.Int63()-r.Int63())
	case 3:
		s := make([]byte, r.Intn(40))
		r.Read(s)
		return AppendBulk(b, s)
	case 4:
		return AppendNull(b, 2+r.Intn(2))
	case 5:
		return AppendDouble(b, 3, r.NormFloat64())
	case 6, 7:
		n := r.Intn(5)
		b = AppendArrayLen(b, n)
		for i := 0; i < n; i++ {
			b = randomReply(r, b, depth+1)
		}
		return b
	case 8:
		n := r.Intn(4)
		b = AppendMapLen(b, 3, n)
		for i := 0; i < 2*n; i++ {
			b = randomReply(r, b, depth+1)
		}
		return b
	case 9:
		n := r.Intn(4)
		b = AppendPushLen(b, 3, n)
		for i := 0; i < n; i++ {
			b = randomReply(r, b, depth+1)
		}
		return b
	case 10:
		return AppendVerbatim(b, 3, "hello")
	default:
		b = append(b, "|1\r\n+k\r\n:1\r\n"...)
		return randomReply(r, b, depth+1)
	}
}

// TestScanRandom checks that Scan and Parse agree on the length of random
// replies, and that every strict prefix is reported incomplete.
func TestScanRandom(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 2000; i++ {
		one := randomReply(r, nil, 0)
		two := append(append([]byte(nil), one...), "+tail\r\n"...)
		n, err := Scan(two)
		if err != nil || n != len(one) {
			t.Fatalf("Scan(%q) = %d, %v; want %d", two, n, err, len(one))
		}
		v, pn, err := Parse(two)
		if err != nil || pn != len(one) || len(v.Raw) != len(one) {
			t.Fatalf("Parse(%q) = %d (raw %d), %v; want %d", one, pn, len(v.Raw), err, len(one))
		}
		var sc Scanner
		for cut := 0; cut < len(one); cut++ {
			if n, err := Scan(one[:cut]); n != 0 || err != nil {
				t.Fatalf("Scan(prefix %q) = %d, %v; want incomplete", one[:cut], n, err)
			}
			// The resumable scanner, fed the same reply byte by byte,
			// must agree.
			if n, err := sc.Scan(one[:cut]); n != 0 || err != nil {
				t.Fatalf("Scanner(prefix %q) = %d, %v; want incomplete", one[:cut], n, err)
			}
		}
		if n, err := sc.Scan(two); n != len(one) || err != nil {
			t.Fatalf("Scanner(%q) = %d, %v; want %d", two, n, err, len(one))
		}
	}
}

func FuzzScan(f *testing.F) {
	f.Add([]byte("*2\r\n$1\r\na\r\n:1\r\n"))
	f.Add([]byte("|1\r\n+k\r\n:1\r\n%1\r\n+a\r\n~1\r\n_\r\n"))
	f.Add([]byte("$5\r\nab\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := Scan(b)
		if err != nil {
			return
		}
		if n < 0 || n > len(b) {
			t.Fatalf("Scan returned %d for %d bytes", n, len(b))
		}
		if n == 0 {
			return
		}
		v, pn, perr := Parse(b)
		if perr == nil && (pn != n || len(v.Raw) != n) {
			t.Fatalf("Parse length %d (raw %d), Scan %d", pn, len(v.Raw), n)
		}
	})
}
