package node

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"testing"
)

// BenchmarkPipelined measures the request path end to end over loopback:
// a client sends batches of pipelined commands on one connection and
// reads every reply, as redis-benchmark -P does. ns/op and allocs/op are
// per command (client and server share the process).
func BenchmarkPipelined(b *testing.B) {
	for _, tc := range []struct {
		name string
		req  func(i int) string
	}{
		{"SET", func(i int) string {
			return fmt.Sprintf("*3\r\n$3\r\nSET\r\n$16\r\nkey:%012d\r\n$3\r\nxxx\r\n", i%100000)
		}},
		{"GET", func(i int) string { return fmt.Sprintf("*2\r\n$3\r\nGET\r\n$16\r\nkey:%012d\r\n", i%100000) }},
		{"INCR", func(i int) string { return fmt.Sprintf("*2\r\n$4\r\nINCR\r\n$16\r\nctr:%012d\r\n", i%100000) }},
	} {
		for _, pipeline := range []int{1, 16} {
			b.Run(fmt.Sprintf("%s/P%d", tc.name, pipeline), func(b *testing.B) {
				benchPipelined(b, tc.req, pipeline)
			})
		}
	}
}

func benchPipelined(b *testing.B, req func(int) string, pipeline int) {
	s, _ := testServer(b, nil)
	nc, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	// Batches are built up front so the client costs little per command.
	const batches = 256
	bufs := make([][]byte, batches)
	for k := range bufs {
		var buf bytes.Buffer
		for j := 0; j < pipeline; j++ {
			buf.WriteString(req(k*pipeline + j))
		}
		bufs[k] = buf.Bytes()
	}
	rd := bufio.NewReaderSize(nc, 64<<10)
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n += pipeline {
		if _, err := nc.Write(bufs[(n/pipeline)%batches]); err != nil {
			b.Fatal(err)
		}
		for j := 0; j < pipeline; j++ {
			if err := skipReply(rd); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// skipReply reads one simple reply (status, error, integer or bulk).
func skipReply(rd *bufio.Reader) error {
	line, err := rd.ReadSlice('\n')
	if err != nil {
		return err
	}
	switch line[0] {
	case '+', ':':
		return nil
	case '$':
		if line[1] == '-' {
			return nil // null
		}
		n := 0
		for _, d := range line[1 : len(line)-2] {
			n = n*10 + int(d-'0')
		}
		_, err := rd.Discard(n + 2)
		return err
	case '-':
		return fmt.Errorf("error reply: %q", line)
	}
	return io.ErrUnexpectedEOF
}

// TestPipelinedRequestsKeepTheirArguments checks that arguments handed to
// commands own their memory: values set by one batch survive the parsing
// of the next ones, whole or split across reads.
func TestPipelinedRequestsKeepTheirArguments(t *testing.T) {
	s, rc := testServer(t, nil)
	nc, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var buf bytes.Buffer
	for i := 0; i < 500; i++ {
		v := fmt.Sprintf("value-%d-%s", i, bytes.Repeat([]byte{'x'}, i%37))
		fmt.Fprintf(&buf, "*3\r\n$3\r\nSET\r\n$%d\r\nk%d\r\n$%d\r\n%s\r\n", len(fmt.Sprint(i))+1, i, len(v), v)
		fmt.Fprintf(&buf, "RPUSH l%d %s\r\n", i%7, v) // inline, kept by the list
	}
	data := buf.Bytes()
	for len(data) > 0 { // odd-sized writes split requests across reads
		n := min(len(data), 777)
		if _, err := nc.Write(data[:n]); err != nil {
			t.Fatal(err)
		}
		data = data[n:]
	}
	rd := bufio.NewReader(nc)
	for i := 0; i < 1000; i++ {
		if err := skipReply(rd); err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
	}
	ctx := t.Context()
	for i := 0; i < 500; i++ {
		want := fmt.Sprintf("value-%d-%s", i, bytes.Repeat([]byte{'x'}, i%37))
		if got, err := rc.Get(ctx, fmt.Sprintf("k%d", i)).Result(); err != nil || got != want {
			t.Fatalf("GET k%d = %q, %v; want %q", i, got, err, want)
		}
		if got, err := rc.LIndex(ctx, fmt.Sprintf("l%d", i%7), int64(i/7)).Result(); err != nil || got != want {
			t.Fatalf("LINDEX l%d %d = %q, %v; want %q", i%7, i/7, got, err, want)
		}
	}
}
