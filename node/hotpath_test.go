package node

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/keyfleet/keyfleet/node/keyspace"
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

// TestPrefetchBatchCoversRequests: prefetchBatch reports how many
// requests it looked at, so that the caller prefetches each request's
// keys once, and takes a multi-key request whole or leaves it for the
// next call.
func TestPrefetchBatchCoversRequests(t *testing.T) {
	s, _ := testServer(t, nil)
	c := &Client{srv: s, db: s.dbs[0]}
	req := func(a ...string) [][]byte {
		args := make([][]byte, len(a))
		for i, x := range a {
			args[i] = []byte(x)
		}
		return args
	}
	mset := func(pairs int) [][]byte {
		a := []string{"MSET"}
		for i := 0; i < pairs; i++ {
			a = append(a, fmt.Sprint("k", i), "v")
		}
		return req(a...)
	}
	gets := func(n int) [][][]byte {
		b := make([][][]byte, n)
		for i := range b {
			b[i] = req("GET", fmt.Sprint("k", i))
		}
		return b
	}
	for _, tc := range []struct {
		name  string
		batch [][][]byte
		want  int
	}{
		{"one GET", gets(1), 1},
		{"a batch of GETs", gets(10), 10},
		{"more GETs than one prefetch", gets(100), keyspace.PrefetchMax},
		{"PING and GETs", append([][][]byte{req("PING")}, gets(3)...), 4},
		{"a command without keys", [][][]byte{req("CONFIG", "SET", "hz", "10"), req("GET", "a")}, 2},
		{"MSETs of 10 keys", [][][]byte{mset(10), mset(10), mset(10), mset(10)}, 3},
		{"one MSET of 100 keys", [][][]byte{mset(100), mset(1)}, 1},
		{"an unknown command", [][][]byte{req("NOSUCH", "a", "b", "c"), req("GET", "a")}, 2},
	} {
		if got := s.prefetchBatch(c, tc.batch); got != tc.want {
			t.Errorf("%s: prefetchBatch covered %d requests, want %d", tc.name, got, tc.want)
		}
	}
}

// TestPipelinedMultiKeyBatches: batches whose keys are prefetched (MSET,
// MGET, a SELECT in the middle of a batch) give the same results as
// commands sent one at a time.
func TestPipelinedMultiKeyBatches(t *testing.T) {
	s, rc := testServer(t, nil)
	nc, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var buf bytes.Buffer
	cmd := func(a ...string) {
		fmt.Fprintf(&buf, "*%d\r\n", len(a))
		for _, x := range a {
			fmt.Fprintf(&buf, "$%d\r\n%s\r\n", len(x), x)
		}
	}
	const n = 200
	for i := 0; i < n; i++ {
		a := []string{"MSET"}
		for j := 0; j < 10; j++ {
			a = append(a, fmt.Sprintf("m:%d:%d", i, j), fmt.Sprintf("v%d.%d", i, j))
		}
		cmd(a...)
		if i == n/2 {
			cmd("SELECT", "1")
		}
		cmd("INCR", fmt.Sprint("ctr:", i%7))
	}
	if _, err := nc.Write(buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	rd := bufio.NewReader(nc)
	for i := 0; i < 2*n+1; i++ {
		if err := skipReply(rd); err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
	}
	ctx := t.Context()
	for i := 0; i < n; i++ {
		db := 0
		if i > n/2 {
			db = 1
		}
		c := newClient(t, s, 2)
		if err := c.Do(ctx, "SELECT", db).Err(); err != nil {
			t.Fatal(err)
		}
		keys := make([]string, 10)
		for j := range keys {
			keys[j] = fmt.Sprintf("m:%d:%d", i, j)
		}
		got, err := c.MGet(ctx, keys...).Result()
		if err != nil {
			t.Fatal(err)
		}
		for j, v := range got {
			if want := fmt.Sprintf("v%d.%d", i, j); v != want {
				t.Fatalf("db %d %s = %v, want %s", db, keys[j], v, want)
			}
		}
		c.Close()
	}
	// INCRs: 100 in db 0 (i < n/2: the SELECT comes before the 101st), 100 in db 1.
	var total int64
	for k := 0; k < 7; k++ {
		v, _ := rc.Get(ctx, fmt.Sprint("ctr:", k)).Int64()
		total += v
	}
	if total != n/2 {
		t.Fatalf("db 0 counters sum to %d, want %d", total, n/2)
	}
}
