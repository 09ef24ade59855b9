package node

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidwall/redcon"
)

// fakeConn serves a byte stream as a connection, in reads of at most
// chunk bytes (0: whatever the caller asks), and records what is written.
type fakeConn struct {
	r     io.Reader
	chunk int
	mu    sync.Mutex
	w     bytes.Buffer
}

func (f *fakeConn) Read(p []byte) (int, error) {
	if f.chunk > 0 && len(p) > f.chunk {
		p = p[:f.chunk]
	}
	return f.r.Read(p)
}
func (f *fakeConn) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.w.Write(p)
}
func (f *fakeConn) Close() error                     { return nil }
func (f *fakeConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (f *fakeConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (f *fakeConn) SetDeadline(time.Time) error      { return nil }
func (f *fakeConn) SetReadDeadline(time.Time) error  { return nil }
func (f *fakeConn) SetWriteDeadline(time.Time) error { return nil }

// staticPolicy is a guard policy with fixed limits that records the
// protocol error it is asked to reply.
type staticPolicy struct {
	lim guardLimits
	err string
}

func (p *staticPolicy) limits() guardLimits      { return p.lim }
func (p *staticPolicy) protocolError(msg string) { p.err = msg }

// parseThroughGuard runs input through a guard and redcon's reader, as
// the server does, and returns the requests redcon saw and the protocol
// error the guard replied ("" for none).
func parseThroughGuard(t testing.TB, input []byte, chunk int, lim guardLimits) ([][][]byte, string, error) {
	t.Helper()
	pol := &staticPolicy{lim: lim}
	g := newProtoGuard(&fakeConn{r: bytes.NewReader(input), chunk: chunk}, pol)
	rd := redcon.NewReader(g)
	var cmds [][][]byte
	for {
		cmd, err := rd.ReadCommand()
		if err != nil {
			return cmds, pol.err, err
		}
		args := make([][]byte, len(cmd.Args))
		for i, a := range cmd.Args {
			args[i] = append([]byte(nil), a...)
		}
		cmds = append(cmds, args)
	}
}

func argsString(cmds [][][]byte) string {
	var parts []string
	for _, c := range cmds {
		var q []string
		for _, a := range c {
			q = append(q, strconv.Quote(string(a)))
		}
		parts = append(parts, strings.Join(q, " "))
	}
	return strings.Join(parts, " | ")
}

func TestProtoGuardParse(t *testing.T) {
	big := strings.Repeat("x", 20000)
	tests := []struct {
		name  string
		in    string
		lim   *guardLimits
		want  string // the requests redcon sees
		error string // the protocol error replied
	}{
		{"empty lines ignored", "\r\n\n  \r\nPING\r\n", nil, `"PING"`, ""},
		{"negative and zero counts ignored", "*-10\r\n*0\r\n*1\r\n$4\r\nPING\r\n", nil, `"PING"`, ""},
		{"inline LF only", "ECHO a\n", nil, `"ECHO" "a"`, ""},
		{"inline blanks", " \t ECHO\t a  b \r\n", nil, `"ECHO" "a" "b"`, ""},
		{"inline quotes and escapes", `SET "a\x41\n\"" 'b\'c' "x\q"` + "\r\n", nil, `"SET" "aA\n\"" "b'c" "xq"`, ""},
		{"quote inside a token", `ECHO a"b c"` + "\r\n", nil, `"ECHO" "ab c"`, ""},
		{"bad hex escape kept", `ECHO "\x4g"` + "\r\n", nil, `"ECHO" "x4g"`, ""},
		{"empty quoted argument", `ECHO ""` + "\r\n", nil, `"ECHO" ""`, ""},
		{"pipeline of both forms", "PING\r\n*2\r\n$4\r\nECHO\r\n$3\r\nabc\r\nPING\r\n", nil, `"PING" | "ECHO" "abc" | "PING"`, ""},
		{"bulk trailer is not checked", "*1\r\n$4\r\nPINGxx*1\r\n$4\r\nPING\r\n", nil, `"PING" | "PING"`, ""},
		{"binary payload", "*2\r\n$4\r\nECHO\r\n$5\r\na\r\n\x00b\r\n", nil, `"ECHO" "a\r\n\x00b"`, ""},
		{"big bulk", "*2\r\n$4\r\nECHO\r\n$20000\r\n" + big + "\r\n", nil, `"ECHO" "` + big + `"`, ""},
		{"out of range multibulk length", "*3000000000\r\n", nil, "", "invalid multibulk length"},
		{"leading zero count", "*01\r\n", nil, "", "invalid multibulk length"},
		{"plus sign count", "*+1\r\n", nil, "", "invalid multibulk length"},
		{"empty count", "*\r\n", nil, "", "invalid multibulk length"},
		{"wrong payload header", "*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n", nil, "", "expected '$', got 'f'"},
		{"negative bulk length", "*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$-10\r\n", nil, "", "invalid bulk length"},
		{"bulk above proto-max-bulk-len", "*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$2000000000\r\n", nil, "", "invalid bulk length"},
		{"non-number bulk length", "*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$blabla\r\n", nil, "", "invalid bulk length"},
		{"multibulk without bulks", "*1\r\nfoo\r\n", nil, "", "expected '$', got 'f'"},
		{"unbalanced quotes", "set \"\"\"test-key\"\"\" test-value\r\nping\r\n", nil, "", "unbalanced quotes in request"},
		{"unterminated single quote", "echo 'abc\r\n", nil, "", "unbalanced quotes in request"},
		{"closing quote before text", "echo \"abc\"def\r\n", nil, "", "unbalanced quotes in request"},
		{"requests before an error run", "PING\r\n*1\r\nfoo\r\n", nil, `"PING"`, "expected '$', got 'f'"},
		{"too big inline", "\x00" + strings.Repeat("payload", 10000), nil, "", "too big inline request"},
		{"too big mbulk count", "*\x00" + strings.Repeat("payload", 10000), nil, "", "too big mbulk count string"},
		{"too big bulk count", "*1\r\n$" + strings.Repeat("1", 70000), nil, "", "too big bulk count string"},
		{"dollar starts an inline request", "$\x00" + strings.Repeat("payload", 10000), nil, "", "too big inline request"},
		{"CR not followed by LF skips a byte", "*1\r$4\r\nPING\r\n", nil, "", "expected '$', got '4'"},
		{"unauthenticated multibulk", "*11\r\n", &guardLimits{authRequired: true, maxBulk: 512 << 20, maxQuery: 1 << 30}, "", "unauthenticated multibulk length"},
		{"unauthenticated bulk", "*2\r\n$4\r\nECHO\r\n$16385\r\n", &guardLimits{authRequired: true, maxBulk: 512 << 20, maxQuery: 1 << 30}, "", "unauthenticated bulk length"},
		{"unauthenticated small request", "*2\r\n$4\r\nECHO\r\n$16384\r\n" + strings.Repeat("y", 16384) + "\r\n", &guardLimits{authRequired: true, maxBulk: 512 << 20, maxQuery: 1 << 30}, `"ECHO" "` + strings.Repeat("y", 16384) + `"`, ""},
		{"primary has no bulk limit", "*2\r\n$4\r\nECHO\r\n$2000000\r\n" + strings.Repeat("z", 2000000) + "\r\n", &guardLimits{master: true, maxBulk: 1 << 20, maxQuery: 1 << 20}, `"ECHO" "` + strings.Repeat("z", 2000000) + `"`, ""},
		{"lowered proto-max-bulk-len", "*2\r\n$4\r\nECHO\r\n$2000000\r\n", &guardLimits{maxBulk: 1 << 20, maxQuery: 1 << 30}, "", "invalid bulk length"},
	}
	for _, tc := range tests {
		for _, chunk := range []int{0, 1, 7} {
			if chunk == 1 && len(tc.in) > 100000 {
				continue
			}
			t.Run(fmt.Sprintf("%s/chunk%d", tc.name, chunk), func(t *testing.T) {
				lim := defaultGuardLimits()
				if tc.lim != nil {
					lim = *tc.lim
				}
				cmds, perr, err := parseThroughGuard(t, []byte(tc.in), chunk, lim)
				if got := argsString(cmds); got != tc.want {
					if len(got) > 200 {
						got = got[:200] + "..."
					}
					t.Errorf("requests = %s, want %.200s", got, tc.want)
				}
				if perr != tc.error {
					t.Errorf("protocol error = %q, want %q", perr, tc.error)
				}
				if !errors.Is(err, io.EOF) {
					t.Errorf("reader ended with %v, want EOF", err)
				}
			})
		}
	}
}

// TestProtoGuardQueryBufferLimit: a bulk bigger than
// client-query-buffer-limit closes the connection without a reply.
func TestProtoGuardQueryBufferLimit(t *testing.T) {
	in := "*2\r\n$4\r\nECHO\r\n$3000000\r\n" + strings.Repeat("q", 3000000) + "\r\n"
	cmds, perr, err := parseThroughGuard(t, []byte(in), 0, guardLimits{maxBulk: 512 << 20, maxQuery: 1 << 20})
	if len(cmds) != 0 || perr != "" || !errors.Is(err, errQueryBufferLimit) {
		t.Fatalf("got %d requests, error reply %q, end %v; want none, none, %v", len(cmds), perr, err, errQueryBufferLimit)
	}
}

// TestProtoGuardHugeCountIsCheap: a huge argument count followed by a
// trickle of data costs time proportional to the data, not the count
// (redcon alone loops over the whole count on every read).
func TestProtoGuardHugeCountIsCheap(t *testing.T) {
	in := "*2147483647\r\n" + strings.Repeat("$1\r\na\r\n", 1000)
	start := time.Now()
	cmds, perr, err := parseThroughGuard(t, []byte(in), 3, defaultGuardLimits())
	if len(cmds) != 0 || perr != "" || !errors.Is(err, io.EOF) {
		t.Fatalf("got %d requests, error %q, end %v", len(cmds), perr, err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("parsing took %v", d)
	}
}

func TestSplitArgs(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		ok   bool
	}{
		{"", nil, true},
		{"   ", nil, true},
		{"a b", []string{"a", "b"}, true},
		{"a\vb", []string{"a\vb"}, true}, // \v separates only leading blanks
		{`"\a\b\t\r\n"`, []string{"\a\b\t\r\n"}, true},
		{`"\xff\x00"`, []string{"\xff\x00"}, true},
		{`'\n'`, []string{`\n`}, true},
		{`"a" "b"`, []string{"a", "b"}, true},
		{`"a"b`, nil, false},
		{`'a'b`, nil, false},
		{`"abc`, nil, false},
		{"a\x00b", []string{"a"}, true}, // NUL ends the C string
	}
	for _, tc := range tests {
		got, ok := splitArgs([]byte(tc.in))
		if ok != tc.ok {
			t.Errorf("splitArgs(%q) ok = %v", tc.in, ok)
			continue
		}
		var gs []string
		for _, a := range got {
			gs = append(gs, string(a))
		}
		if fmt.Sprint(gs) != fmt.Sprint(tc.want) || len(gs) != len(tc.want) {
			t.Errorf("splitArgs(%q) = %q, want %q", tc.in, gs, tc.want)
		}
	}
}

func TestParseRedisInt64(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "1": 1, "-1": -1, "9223372036854775807": 9223372036854775807, "-9223372036854775808": -9223372036854775808} {
		if v, ok := parseRedisInt64([]byte(in)); !ok || v != want {
			t.Errorf("parseRedisInt64(%q) = %d, %v", in, v, ok)
		}
	}
	for _, in := range []string{"", "-", "+1", "01", "-0", " 1", "1 ", "9223372036854775808", "-9223372036854775809", "1a", "123456789012345678901"} {
		if _, ok := parseRedisInt64([]byte(in)); ok {
			t.Errorf("parseRedisInt64(%q) accepted", in)
		}
	}
}

// FuzzRequestParser feeds arbitrary bytes through the guard and redcon's
// parser: no panic, no hang, every request well formed; and a request
// encoded from the fuzzed arguments round-trips exactly.
func FuzzRequestParser(f *testing.F) {
	for _, seed := range []string{
		"PING\r\n", "*1\r\n$4\r\nPING\r\n", "*-1\r\n", "*0\r\n", "\x00", "*\x00", "$\x00",
		"set \"a\\x41\" 'b'\r\n", "*2\r\n$1\r\na\r\n$1\r\nb\r\n", "*3000000000\r\n",
		"*1\r\n$-1\r\n", "*1\r$4\r\nPING\r\n",
	} {
		f.Add([]byte(seed), uint8(3))
	}
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		done := make(chan struct{})
		go func() {
			defer close(done)
			cmds, _, _ := parseThroughGuard(t, data, int(chunk%16), defaultGuardLimits())
			for _, c := range cmds {
				if len(c) == 0 {
					t.Errorf("empty request from %q", data)
				}
			}
			// Round trip: the fuzzed bytes split into arguments, encoded as
			// a request, come back unchanged.
			args := bytes.Split(data, []byte{','})
			enc := appendCanonicalRequest(nil, args)
			got, perr, _ := parseThroughGuard(t, enc, int(chunk%16), defaultGuardLimits())
			if perr != "" || len(got) != 1 || len(got[0]) != len(args) {
				t.Fatalf("round trip of %q: %d requests, error %q", args, len(got), perr)
			}
			for i := range args {
				if !bytes.Equal(got[0][i], args[i]) {
					t.Fatalf("round trip arg %d = %q, want %q", i, got[0][i], args[i])
				}
			}
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("parser hung on %q", data)
		}
	})
}

// startRedisServer starts a real redis-server 7.0.15 for a differential
// test, with extra directives, and returns its address. It skips the test
// when redis-server is not installed, unless CI is set.
func startRedisServer(t testing.TB, extra ...string) string {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("redis-server is not installed: the differential tests need it")
		}
		t.Skip("redis-server is not installed (apt-get install redis-server)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	args := append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", t.TempDir(), "--logfile", ""}, extra...)
	cmd := exec.Command(path, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server did not start: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// rawExchange sends data on a new connection and returns everything the
// server replied until it closed the connection or stayed quiet for
// quiet, and whether it closed.
func rawExchange(t testing.TB, addr string, data []byte, quiet time.Duration) ([]byte, bool) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go func() { c.Write(data) }()
	var out []byte
	buf := make([]byte, 64<<10)
	for {
		c.SetReadDeadline(time.Now().Add(quiet))
		n, err := c.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return out, false
			}
			return out, true
		}
	}
}

// TestProtocolAgainstRedis sends the same raw bytes to the node and to a
// real redis-server and compares the raw replies and whether the
// connection was closed.
func TestProtocolAgainstRedis(t *testing.T) {
	payload := strings.Repeat("payload", 10000)
	cases := []struct {
		name  string
		auth  bool // both servers have requirepass "pw"
		small bool // both servers have client-query-buffer-limit 1mb, proto-max-bulk-len 2mb
		in    string
	}{
		{"query buffer limit", false, true, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1500000\r\n" + strings.Repeat("v", 1500000) + "\r\nPING\r\n"},
		{"lowered proto-max-bulk-len", false, true, "PING\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2097153\r\n"},
		{"bulk at proto-max-bulk-len", false, true, "*2\r\n$4\r\nECHO\r\n$1000000\r\n" + strings.Repeat("w", 1000000) + "\r\n"},
		{"empty query", false, false, "\r\nPING\r\n"},
		{"negative multibulk", false, false, "*-10\r\nPING\r\n"},
		{"zero multibulk", false, false, "*0\r\n*1\r\n$4\r\nPING\r\n"},
		{"out of range multibulk", false, false, "*3000000000\r\n"},
		{"wrong payload header", false, false, "*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n"},
		{"negative bulk length", false, false, "*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$-10\r\n"},
		{"too big bulk length", false, false, "*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$2000000000\r\n"},
		{"non-number bulk length", false, false, "*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$blabla\r\n"},
		{"multibulk without bulks", false, false, "*1\r\nfoo\r\n"},
		{"unbalanced quotes", false, false, "set \"\"\"test-key\"\"\" test-value\r\nping\r\n"},
		{"inline escapes", false, false, "ECHO \"a\\x41\\n\\\"\" 'b\\'c'\r\nECHO \"x\\q\" a\"b c\"\r\n"},
		{"inline LF and blanks", false, false, " \t ECHO\t a \nPING\n"},
		{"pipeline of both forms", false, false, "PING\r\n*2\r\n$4\r\nECHO\r\n$3\r\nabc\r\nPING\r\n"},
		{"bulk trailer not checked", false, false, "*2\r\n$4\r\nECHO\r\n$2\r\nabXY*1\r\n$4\r\nPING\r\n"},
		{"CR without LF", false, false, "*1\r$4\r\nPING\r\n"},
		{"leading zero count", false, false, "*01\r\n"},
		{"desync NUL", false, false, "\x00" + payload},
		{"desync star NUL", false, false, "*\x00" + payload},
		{"desync dollar NUL", false, false, "$\x00" + payload},
		{"too big bulk count", false, false, "*1\r\n$" + strings.Repeat("1", 70000)},
		{"too big inline", false, false, strings.Repeat("a", 70000)},
		{"errors after commands", false, false, "PING\r\nECHO hi\r\n*1\r\nfoo\r\n"},
		{"commands after QUIT", false, false, "*1\r\n$4\r\nQUIT\r\n*1\r\n$4\r\nPING\r\n"},
		{"unknown command", false, false, "FOO a b\r\nPING\r\n"},
		{"http request", false, false, "POST / HTTP/1.1\r\nHost: x\r\n\r\nPING\r\n"},
		{"unauthenticated multibulk", true, false, "*11\r\n"},
		{"unauthenticated bulk", true, false, "*2\r\n$4\r\nECHO\r\n$16385\r\n"},
		{"unauthenticated small", true, false, "PING\r\n*2\r\n$4\r\nECHO\r\n$3\r\nabc\r\n"},
		{"auth then big request", true, false, "AUTH pw\r\n*11\r\n$4\r\nPING\r\n" + strings.Repeat("$1\r\na\r\n", 10)},
		{"wrong auth then big request", true, false, "AUTH nope\r\n*11\r\n"},
		{"inline is not limited before auth", true, false, "PING " + strings.Repeat("a ", 20) + "\r\n"},
	}
	plain := startRedisServer(t)
	authed := startRedisServer(t, "--requirepass", "pw")
	small := startRedisServer(t, "--client-query-buffer-limit", "1mb", "--proto-max-bulk-len", "2mb")
	s1, _ := testServer(t, nil)
	s2, _ := testServer(t, func(c *Config) { c.RequirePass = "pw" })
	s3, _ := testServer(t, func(c *Config) { c.ClientQueryBufferLimit = 1 << 20; c.ProtoMaxBulkLen = 2 << 20 })
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ref, node := plain, s1.Addr().String()
			if tc.auth {
				ref, node = authed, s2.Addr().String()
			}
			if tc.small {
				ref, node = small, s3.Addr().String()
			}
			want, wantClosed := rawExchange(t, ref, []byte(tc.in), 300*time.Millisecond)
			if len(want) == 0 && !wantClosed {
				t.Fatalf("redis-server neither replied nor closed: the case tests nothing")
			}
			got, gotClosed := rawExchange(t, node, []byte(tc.in), 300*time.Millisecond)
			if !bytes.Equal(got, want) || gotClosed != wantClosed {
				t.Errorf("node replied %q (closed %v), redis-server %q (closed %v)", got, gotClosed, want, wantClosed)
			}
		})
	}
}

// readRawReply reads one complete RESP2/RESP3 reply and returns its raw
// bytes (an attribute is returned together with the reply it precedes).
func readRawReply(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadBytes('\n')
	if err != nil {
		return line, err
	}
	if len(line) < 3 {
		return line, fmt.Errorf("short line %q", line)
	}
	body := string(line[1 : len(line)-2])
	switch line[0] {
	case '+', '-', ':', ',', '#', '(', '_':
		return line, nil
	case '$', '=', '!':
		n, err := strconv.Atoi(body)
		if err != nil || n < 0 {
			return line, err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return line, err
		}
		return append(line, buf...), nil
	case '*', '~', '>', '%', '|':
		n, err := strconv.Atoi(body)
		if err != nil || n < 0 {
			return line, err
		}
		if line[0] == '%' || line[0] == '|' {
			n *= 2
		}
		out := line
		for i := 0; i < n; i++ {
			el, err := readRawReply(r)
			out = append(out, el...)
			if err != nil {
				return out, err
			}
		}
		if line[0] == '|' {
			el, err := readRawReply(r)
			return append(out, el...), err
		}
		return out, nil
	}
	return line, fmt.Errorf("unknown reply type %q", line)
}

// respConn is a raw connection that sends commands and reads replies.
type respConn struct {
	t  testing.TB
	nc net.Conn
	r  *bufio.Reader
}

func dialRESP(t testing.TB, addr string) *respConn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &respConn{t: t, nc: nc, r: bufio.NewReader(nc)}
}

func (rc *respConn) send(args ...string) {
	rc.t.Helper()
	bs := make([][]byte, len(args))
	for i, a := range args {
		bs[i] = []byte(a)
	}
	if _, err := rc.nc.Write(appendCanonicalRequest(nil, bs)); err != nil {
		rc.t.Fatal(err)
	}
}

func (rc *respConn) read() string {
	rc.t.Helper()
	rc.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := readRawReply(rc.r)
	if err != nil {
		rc.t.Fatalf("reading reply: %v (got %q)", err, b)
	}
	return string(b)
}

// do sends a command and returns its raw reply.
func (rc *respConn) do(args ...string) string {
	rc.t.Helper()
	rc.send(args...)
	rc.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := readRawReply(rc.r)
	if err != nil {
		rc.t.Fatalf("%q to %s: reading reply: %v (got %q)", args, rc.nc.RemoteAddr(), err, b)
	}
	return string(b)
}

// diffScript runs the same commands on the node and on redis-server,
// each on a fresh connection, and reports every reply that differs.
// norm, if set, rewrites replies that legitimately differ (ids, times).
func diffScript(t *testing.T, node, ref string, script [][]string, norm func(string) string) {
	t.Helper()
	a, b := dialRESP(t, node), dialRESP(t, ref)
	for _, cmd := range script {
		got, want := a.do(cmd...), b.do(cmd...)
		if norm != nil {
			got, want = norm(got), norm(want)
		}
		if got != want {
			t.Errorf("%q:\n node:  %q\n redis: %q", cmd, got, want)
		}
	}
}

// BenchmarkProtoGuardPipeline measures the guard's cost per request on a
// pipeline of small SETs, through redcon's reader as the server uses it.
func BenchmarkProtoGuardPipeline(b *testing.B) {
	one := appendCanonicalRequest(nil, [][]byte{[]byte("SET"), []byte("key:000123"), []byte("value-0123")})
	batch := bytes.Repeat(one, 16)
	for _, guarded := range []bool{false, true} {
		name := "redcon"
		if guarded {
			name = "guard+redcon"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(one)))
			src := &repeatReader{batch: batch, left: b.N / 16}
			var r io.Reader = src
			if guarded {
				r = newProtoGuard(&fakeConn{r: src}, nil)
			}
			rd := redcon.NewReader(r)
			b.ResetTimer()
			for i := 0; i < b.N/16*16; i++ {
				if _, err := rd.ReadCommand(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// repeatReader yields batch left times, then EOF.
type repeatReader struct {
	batch []byte
	left  int
	off   int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.batch[r.off:])
	r.off += n
	if r.off == len(r.batch) {
		r.off = 0
		r.left--
	}
	return n, nil
}
