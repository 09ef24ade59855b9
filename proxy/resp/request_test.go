package resp

import (
	"bytes"
	"errors"
	"io"
	"math/rand"
	"strings"
	"testing"
)

// chunkReader returns its data in pieces of the given sizes.
type chunkReader struct {
	data  []byte
	sizes []int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := len(c.data)
	if len(c.sizes) > 0 {
		n = min(n, c.sizes[0])
		c.sizes = c.sizes[1:]
	}
	n = min(n, len(p))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

// readAll reads every request, copying each out of the reader.
func readAll(rr *RequestReader) ([][]string, []string, error) {
	var out [][]string
	var raws []string
	for {
		reqs, err := rr.Read()
		for _, r := range reqs {
			var args []string
			for _, a := range r.Args {
				args = append(args, string(a))
			}
			out = append(out, args)
			raws = append(raws, string(r.Raw))
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return out, raws, nil
			}
			return out, raws, err
		}
	}
}

func TestRequestReader(t *testing.T) {
	tests := []struct {
		in   string
		want string // requests joined by "|", args by " "; or "error: ..." for a protocol error
	}{
		{"*1\r\n$4\r\nPING\r\n", "PING"},
		{"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n", "GET k|PING"},
		{"*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n", "PING"},
		{"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n", "SET k "},
		{"PING\r\n", "PING"},
		{"set k \"a b\"\n", "set k a b"},
		{"set k \"\\x41\\n\" 'it\\'s'\r\n", "set k A\n it's"},
		{"\r\n\r\nPING\r\n", "PING"},
		{"set k \"unbalanced\r\n", "error: Protocol error: unbalanced quotes in request"},
		{"set k \"a\"b\r\n", "error: Protocol error: unbalanced quotes in request"},
		{"*x\r\n", "error: Protocol error: invalid multibulk length"},
		{"*1\r\nPING\r\n", "error: Protocol error: expected '$', got 'P'"},
		{"*1\r\n$-1\r\n", "error: Protocol error: invalid bulk length"},
		{"*1\r\n$3\r\nfooXX", "error: Protocol error: invalid bulk length"},
		{"*1\n$4\r\nPING\r\n", "error: Protocol error: invalid multibulk length"},
	}
	for _, tt := range tests {
		rr := NewRequestReader(strings.NewReader(tt.in), 1<<20)
		got, _, err := readAll(rr)
		var parts []string
		for _, args := range got {
			parts = append(parts, strings.Join(args, " "))
		}
		s := strings.Join(parts, "|")
		if err != nil {
			var pe *ProtocolError
			if !errors.As(err, &pe) {
				t.Errorf("%q: error %v is not a ProtocolError", tt.in, err)
			}
			s = "error: " + err.Error()
		}
		if s != tt.want {
			t.Errorf("%q: got %q, want %q", tt.in, s, tt.want)
		}
	}
}

func TestRequestReaderLimits(t *testing.T) {
	rr := NewRequestReader(strings.NewReader("*11\r\n"), 1<<20)
	rr.SetLimits(1<<20, 512<<20, true)
	if _, err := rr.Read(); err == nil || err.Error() != "Protocol error: unauthenticated multibulk length" {
		t.Errorf("unauth multibulk: %v", err)
	}
	rr = NewRequestReader(strings.NewReader("*1\r\n$16385\r\n"), 1<<20)
	rr.SetLimits(1<<20, 512<<20, true)
	if _, err := rr.Read(); err == nil || err.Error() != "Protocol error: unauthenticated bulk length" {
		t.Errorf("unauth bulk: %v", err)
	}
	// A bulk beyond the pending limit is refused before it is read.
	rr = NewRequestReader(strings.NewReader("*1\r\n$5000\r\n"), 1000)
	if _, err := rr.Read(); !errors.Is(err, ErrRequestTooLarge) {
		t.Errorf("big bulk: %v", err)
	}
	// Many small arguments add up to the same limit.
	big := AppendCommandStrings(nil, strings.Split(strings.Repeat("x ", 2000), " ")...)
	rr = NewRequestReader(&chunkReader{data: big, sizes: []int{100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100}}, 1000)
	if _, err := rr.Read(); !errors.Is(err, ErrRequestTooLarge) {
		t.Errorf("many args: %v", err)
	}
	// An endless inline line is cut at 64 KiB.
	rr = NewRequestReader(strings.NewReader(strings.Repeat("x", 70000)), 1<<20)
	if _, err := rr.Read(); err == nil || err.Error() != "Protocol error: too big inline request" {
		t.Errorf("inline: %v", err)
	}
}

func randomRequests(r *rand.Rand) ([][]string, []byte) {
	var reqs [][]string
	var b []byte
	for n := 1 + r.Intn(20); n > 0; n-- {
		args := []string{"CMD"}
		for k := r.Intn(6); k > 0; k-- {
			a := make([]byte, r.Intn(3)*r.Intn(40))
			r.Read(a)
			args = append(args, string(a))
		}
		reqs = append(reqs, args)
		b = AppendCommandStrings(b, args...)
	}
	return reqs, b
}

// TestRequestReaderSplit: requests arriving in random pieces (and
// through ReadDetached) parse exactly as when they arrive whole, and Raw
// is the request's own bytes.
func TestRequestReaderSplit(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	for i := 0; i < 500; i++ {
		want, data := randomRequests(r)
		var sizes []int
		for k := 0; k < 50; k++ {
			sizes = append(sizes, 1+r.Intn(64))
		}
		rr := NewRequestReader(&chunkReader{data: data, sizes: sizes}, 1<<20)
		var got [][]string
		var raw []byte
		var held [][]Request
		for {
			var reqs []Request
			var err error
			if r.Intn(3) == 0 {
				reqs, err = rr.ReadDetached()
				held = append(held, reqs)
			} else {
				reqs, err = rr.Read()
			}
			for _, q := range reqs {
				var args []string
				for _, a := range q.Args {
					args = append(args, string(a))
				}
				got = append(got, args)
				raw = append(raw, q.Raw...)
			}
			if err != nil {
				if err != io.EOF {
					t.Fatal(err)
				}
				break
			}
		}
		if len(got) != len(want) {
			t.Fatalf("got %d requests, want %d", len(got), len(want))
		}
		for k := range want {
			if strings.Join(got[k], "\x00") != strings.Join(want[k], "\x00") {
				t.Fatalf("request %d: got %q, want %q", k, got[k], want[k])
			}
		}
		if !bytes.Equal(raw, data) {
			t.Fatalf("raw bytes differ")
		}
	}
}

func TestRequestReaderAllocs(t *testing.T) {
	var data []byte
	for i := 0; i < 16; i++ {
		data = AppendCommandStrings(data, "SET", "key:000123", "xxx")
	}
	src := &loopReader{data: data}
	rr := NewRequestReader(src, 1<<20)
	rr.Read()
	allocs := testing.AllocsPerRun(100, func() {
		if reqs, err := rr.Read(); err != nil || len(reqs) != 16 {
			t.Fatalf("%d %v", len(reqs), err)
		}
	})
	if allocs > 0 {
		t.Errorf("%v allocations per batch of 16", allocs)
	}
}

type loopReader struct{ data []byte }

func (l *loopReader) Read(p []byte) (int, error) { return copy(p, l.data), nil }

func FuzzRequestReader(f *testing.F) {
	f.Add([]byte("*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n"), uint8(3))
	f.Add([]byte("set \"a\\x41\" 'b'\r\n*0\r\n"), uint8(1))
	f.Add([]byte("*1\r\n$99999999999999\r\n"), uint8(5))
	f.Fuzz(func(t *testing.T, data []byte, piece uint8) {
		whole, wraw, werr := readAll(NewRequestReader(bytes.NewReader(data), 1<<16))
		sizes := make([]int, len(data))
		for i := range sizes {
			sizes[i] = int(piece%16) + 1
		}
		split, sraw, serr := readAll(NewRequestReader(&chunkReader{data: data, sizes: sizes}, 1<<16))
		if (werr == nil) != (serr == nil) {
			t.Fatalf("whole: %v, split: %v", werr, serr)
		}
		if len(whole) != len(split) {
			t.Fatalf("whole %d requests, split %d", len(whole), len(split))
		}
		for i := range whole {
			if strings.Join(whole[i], "\x00") != strings.Join(split[i], "\x00") || wraw[i] != sraw[i] {
				t.Fatalf("request %d differs", i)
			}
			// Raw re-reads as the same request.
			again, _, err := readAll(NewRequestReader(strings.NewReader(wraw[i]), 1<<16))
			if err != nil || len(again) != 1 || strings.Join(again[0], "\x00") != strings.Join(whole[i], "\x00") {
				t.Fatalf("raw %q does not re-read as %q", wraw[i], whole[i])
			}
		}
	})
}
