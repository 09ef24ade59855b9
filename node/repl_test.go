package node

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyfleet/keyfleet/node/keyspace"
	"github.com/keyfleet/keyfleet/node/rdb"
)

func TestBacklogRing(t *testing.T) {
	for _, tc := range []struct {
		name       string
		size       int64
		feeds      []string
		wantFirst  int64 // repl_backlog_first_byte_offset
		wantHist   string
		resize     int64 // 0: none
		afterSize  string
		afterFirst int64
	}{
		{name: "empty", size: 8, wantFirst: 1, wantHist: ""},
		{name: "fits", size: 8, feeds: []string{"abc", "de"}, wantFirst: 1, wantHist: "abcde"},
		{name: "wraps", size: 8, feeds: []string{"abcdef", "ghij"}, wantFirst: 3, wantHist: "cdefghij"},
		{name: "one feed larger than the ring", size: 4, feeds: []string{"ab", "cdefghi"}, wantFirst: 6, wantHist: "fghi"},
		{name: "exactly full", size: 4, feeds: []string{"abcd"}, wantFirst: 1, wantHist: "abcd"},
		{name: "many wraps", size: 3, feeds: []string{"ab", "cd", "ef", "g"}, wantFirst: 5, wantHist: "efg"},
		{name: "grow keeps history", size: 4, feeds: []string{"abcdef"}, wantFirst: 3, wantHist: "cdef",
			resize: 10, afterSize: "cdef", afterFirst: 3},
		{name: "shrink keeps the newest", size: 8, feeds: []string{"abcdefgh"}, wantFirst: 1, wantHist: "abcdefgh",
			resize: 3, afterSize: "fgh", afterFirst: 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBacklog(tc.size, 1)
			for _, f := range tc.feeds {
				b.feed([]byte(f))
			}
			if b.offset != tc.wantFirst {
				t.Fatalf("first byte offset %d, want %d", b.offset, tc.wantFirst)
			}
			if got := string(b.from(b.offset)); got != tc.wantHist {
				t.Fatalf("history %q, want %q", got, tc.wantHist)
			}
			// Every suffix is served from its own offset.
			for off := b.offset; off <= b.end(); off++ {
				if got, want := string(b.from(off)), tc.wantHist[off-b.offset:]; got != want {
					t.Fatalf("from(%d) = %q, want %q", off, got, want)
				}
			}
			if b.from(b.offset-1) != nil && b.offset > 1 {
				t.Fatalf("from before the first byte must fail")
			}
			// PSYNC is accepted from the first byte held through the end,
			// even with no history at all, and refused outside.
			if !b.covers(b.offset) || !b.covers(b.end()) {
				t.Fatalf("covers(%d..%d) must hold", b.offset, b.end())
			}
			if b.covers(b.end()+1) || b.covers(b.offset-1) {
				t.Fatalf("covers outside [%d, %d] must fail", b.offset, b.end())
			}
			if tc.resize != 0 {
				b.resize(tc.resize)
				if got := string(b.from(b.offset)); got != tc.afterSize || b.offset != tc.afterFirst {
					t.Fatalf("after resize: %q at %d, want %q at %d", got, b.offset, tc.afterSize, tc.afterFirst)
				}
				b.feed([]byte("Z"))
				if got := string(b.from(b.end() - 1)); got != "Z" {
					t.Fatalf("feed after resize: %q", got)
				}
			}
		})
	}
}

// replConn is a raw connection that acts as a replica.
type replConn struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dialRepl(t *testing.T, s *Server) *replConn {
	t.Helper()
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &replConn{t: t, c: c, r: bufio.NewReader(c)}
}

func (rc *replConn) send(args ...string) {
	rc.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := rc.c.Write([]byte(b.String())); err != nil {
		rc.t.Fatal(err)
	}
}

func (rc *replConn) line() string {
	rc.t.Helper()
	rc.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	l, err := rc.r.ReadString('\n')
	if err != nil {
		rc.t.Fatalf("read: %v", err)
	}
	return strings.TrimRight(l, "\r\n")
}

// do sends a command and returns its one-line reply.
func (rc *replConn) do(args ...string) string {
	rc.t.Helper()
	rc.send(args...)
	return rc.line()
}

// fullSync reads +FULLRESYNC and the RDB payload in either form,
// skipping keep-alive newlines, and returns the replid, the offset and
// the payload.
func (rc *replConn) fullSync() (string, int64, []byte) {
	rc.t.Helper()
	var replid string
	var off int64
	for {
		l := rc.line()
		if l == "" {
			continue
		}
		if strings.HasPrefix(l, "+FULLRESYNC ") {
			f := strings.Fields(l)
			replid = f[1]
			off, _ = strconv.ParseInt(f[2], 10, 64)
			continue
		}
		if !strings.HasPrefix(l, "$") {
			rc.t.Fatalf("unexpected line %q", l)
		}
		if strings.HasPrefix(l, "$EOF:") {
			mark := []byte(l[5:])
			var payload []byte
			rc.c.SetReadDeadline(time.Now().Add(10 * time.Second))
			for !bytes.HasSuffix(payload, mark) {
				b, err := rc.r.ReadByte()
				if err != nil {
					rc.t.Fatalf("reading the RDB: %v", err)
				}
				payload = append(payload, b)
			}
			return replid, off, payload[:len(payload)-len(mark)]
		}
		n, _ := strconv.Atoi(l[1:])
		payload := make([]byte, n)
		rc.c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.ReadFull(rc.r, payload); err != nil {
			rc.t.Fatal(err)
		}
		return replid, off, payload
	}
}

// command reads one command of the stream and the bytes it took.
func (rc *replConn) command() ([]string, int) {
	rc.t.Helper()
	h := rc.line()
	used := len(h) + 2
	if !strings.HasPrefix(h, "*") {
		rc.t.Fatalf("stream: %q is not a multibulk", h)
	}
	n, _ := strconv.Atoi(h[1:])
	argv := make([]string, n)
	for i := range argv {
		l := rc.line()
		size, _ := strconv.Atoi(l[1:])
		buf := make([]byte, size+2)
		if _, err := io.ReadFull(rc.r, buf); err != nil {
			rc.t.Fatal(err)
		}
		argv[i] = string(buf[:size])
		used += len(l) + 2 + size + 2
	}
	return argv, used
}

// expectStream reads len(want) commands and matches them, each a
// space-joined glob pattern of the arguments.
func (rc *replConn) expectStream(want ...string) int {
	rc.t.Helper()
	total := 0
	for _, w := range want {
		argv, n := rc.command()
		total += n
		got := strings.Join(argv, " ")
		if !matchArgs(w, got) {
			rc.t.Fatalf("stream: got %q, want %q", got, w)
		}
	}
	return total
}

// matchArgs matches a space-joined command with a glob pattern, in any
// case (clients send commands in either).
func matchArgs(pattern, s string) bool { return globMatch(pattern, s, true) }

func TestReplFullSyncAndStream(t *testing.T) {
	for _, diskless := range []bool{false, true} {
		t.Run(fmt.Sprintf("diskless=%v", diskless), func(t *testing.T) {
			s, rc := testServer(t, func(c *Config) {
				c.ReplDisklessSync = diskless
				c.ReplDisklessSyncDelay = 0
			})
			ctx := context.Background()
			rc.Set(ctx, "before", "1", 0)
			rc.HSet(ctx, "h", "f", "v")
			r := dialRepl(t, s)
			if got := r.do("REPLCONF", "listening-port", "6380"); got != "+OK" {
				t.Fatalf("REPLCONF: %s", got)
			}
			if got := r.do("REPLCONF", "capa", "eof", "capa", "psync2"); got != "+OK" {
				t.Fatalf("REPLCONF capa: %s", got)
			}
			r.send("PSYNC", "?", "-1")
			replid, off, payload := r.fullSync()
			if len(replid) != 40 || off != 0 {
				t.Fatalf("+FULLRESYNC %q %d", replid, off)
			}
			if !bytes.HasPrefix(payload, []byte("REDIS0010")) || !bytes.Contains(payload, []byte("before")) {
				t.Fatalf("payload is not an RDB with the data: %q", payload[:min(len(payload), 64)])
			}
			r.send("REPLCONF", "ACK", "0") // a diskless replica streams after its first ACK
			rc.Set(ctx, "k", "v", 0)
			rc.Expire(ctx, "k", 100*time.Second)
			rc.Publish(ctx, "ch", "msg")
			rc.Do(ctx, "SELECT", "0")
			pipe := rc.TxPipeline()
			pipe.Incr(ctx, "n")
			pipe.Incr(ctx, "n")
			if _, err := pipe.Exec(ctx); err != nil {
				t.Fatal(err)
			}
			rc.Do(ctx, "SET", "px", "v", "EX", "100")
			n := r.expectStream(
				"SELECT 0",
				"SET k v",
				"PEXPIREAT k *",
				"PUBLISH ch msg",
				"MULTI", "INCR n", "INCR n", "EXEC",
				"SET px v PXAT *",
			)
			info := rc.Info(ctx, "replication").Val()
			want := fmt.Sprintf("master_repl_offset:%d", n)
			if !strings.Contains(info, want) || !strings.Contains(info, "master_replid:"+replid) {
				t.Fatalf("INFO replication lacks %s / replid %s:\n%s", want, replid, info)
			}
			if !strings.Contains(info, "slave0:ip=127.0.0.1,port=6380,state=online,") ||
				!strings.Contains(info, "connected_slaves:1") || !strings.Contains(info, "repl_backlog_active:1") {
				t.Fatalf("INFO replication:\n%s", info)
			}
			if st := rc.Info(ctx, "stats").Val(); !strings.Contains(st, "sync_full:1") {
				t.Fatalf("sync_full not counted:\n%s", st)
			}
			if cl := rc.ClientList(ctx).Val(); !strings.Contains(cl, "flags=S") {
				t.Fatalf("CLIENT LIST has no replica:\n%s", cl)
			}
			role := rc.Do(ctx, "ROLE").Val().([]any)
			if role[0] != "master" || role[1] != int64(n) {
				t.Fatalf("ROLE %v", role)
			}
		})
	}
}

// TestReplWritesDuringSnapshot: what is written while the snapshot is
// taken reaches the replica after the RDB, exactly once, in order.
func TestReplWritesDuringSnapshot(t *testing.T) {
	for _, diskless := range []bool{false, true} {
		t.Run(fmt.Sprintf("diskless=%v", diskless), func(t *testing.T) {
			s, rc := testServer(t, func(c *Config) {
				c.ReplDisklessSync = diskless
				c.ReplDisklessSyncDelay = 0
			})
			s.mu.Lock()
			s.persist().sliceKeys = 10
			s.mu.Unlock()
			ctx := context.Background()
			pipe := rc.Pipeline()
			for i := range 5000 {
				pipe.Set(ctx, fmt.Sprintf("key:%d", i), i, 0)
			}
			if _, err := pipe.Exec(ctx); err != nil {
				t.Fatal(err)
			}
			r := dialRepl(t, s)
			r.do("REPLCONF", "capa", "eof")
			r.send("PSYNC", "?", "-1")
			// Writes race with the snapshot's walk.
			done := make(chan error, 1)
			go func() {
				for i := range 200 {
					if err := rc.Incr(ctx, "counter").Err(); err != nil {
						done <- err
						return
					}
					if i == 100 {
						rc.Set(ctx, "key:1", "changed", 0)
					}
				}
				done <- nil
			}()
			_, off, payload := r.fullSync()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			data := rdbKeys(t, payload)
			r.send("REPLCONF", "ACK", strconv.FormatInt(off, 10))
			// Replay the stream on top of the snapshot: the result must be
			// the primary's data.
			counter, _ := strconv.Atoi(data["counter"])
			key1 := data["key:1"]
			for counter < 200 || key1 != "changed" {
				argv, _ := r.command()
				switch strings.ToUpper(argv[0]) {
				case "INCR":
					counter++
				case "SET":
					if argv[1] == "key:1" {
						key1 = argv[2]
					}
				}
			}
			if counter != 200 || len(data) < 5000 {
				t.Fatalf("snapshot+stream: counter %d, %d keys", counter, len(data))
			}
		})
	}
}

// rdbKeys decodes the string keys of an RDB payload.
func rdbKeys(t *testing.T, payload []byte) map[string]string {
	t.Helper()
	s, _ := testServer(t, nil)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.loadRDB(rdb.NewReader(bytes.NewReader(payload), int64(len(payload)), "payload"), false, int64(len(payload))); err != nil {
		t.Fatalf("loading the payload: %v", err)
	}
	out := map[string]string{}
	s.dbs[0].ks.Each(func(k keyspace.KeyRef) bool {
		if k.Obj.Str != nil {
			out[k.Key] = string(k.Obj.Str)
		} else {
			out[k.Key] = "?"
		}
		return true
	})
	return out
}

func TestReplPartialResync(t *testing.T) {
	s, rc := testServer(t, func(c *Config) {
		c.ReplDisklessSync = true
		c.ReplDisklessSyncDelay = 0
	})
	ctx := context.Background()
	r := dialRepl(t, s)
	r.do("REPLCONF", "capa", "eof", "capa", "psync2")
	r.send("PSYNC", "?", "-1")
	replid, off, _ := r.fullSync()
	r.send("REPLCONF", "ACK", strconv.FormatInt(off, 10))
	rc.Set(ctx, "a", "1", 0)
	off += int64(r.expectStream("SELECT 0", "SET a 1"))
	// The link drops; writes go on meanwhile.
	r.c.Close()
	waitFor(t, func() bool { return !strings.Contains(rc.Info(ctx, "replication").Val(), "slave0:") })
	rc.Set(ctx, "b", "2", 0)
	rc.Del(ctx, "a")
	r2 := dialRepl(t, s)
	r2.do("REPLCONF", "capa", "eof", "capa", "psync2")
	if got := r2.do("PSYNC", replid, strconv.FormatInt(off+1, 10)); got != "+CONTINUE "+replid {
		t.Fatalf("PSYNC: %q", got)
	}
	r2.expectStream("SET b 2", "DEL a")
	st := rc.Info(ctx, "stats").Val()
	if !strings.Contains(st, "sync_partial_ok:1") || !strings.Contains(st, "sync_partial_err:0") {
		t.Fatalf("stats:\n%s", st)
	}
	for _, tc := range []struct {
		name, replid string
		off          int64
	}{
		{"unknown replid", strings.Repeat("a", 40), off + 1},
		{"offset beyond the history", replid, off + 1000},
		{"offset before the backlog", replid, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r3 := dialRepl(t, s)
			r3.do("REPLCONF", "capa", "eof")
			r3.send("PSYNC", tc.replid, strconv.FormatInt(tc.off, 10))
			if got, _, _ := r3.fullSync(); got != replid {
				t.Fatalf("full resync announced %q", got)
			}
		})
	}
	if st := rc.Info(ctx, "stats").Val(); !strings.Contains(st, "sync_partial_err:3") {
		t.Fatalf("stats after refused partial syncs:\n%s", st)
	}
}

// TestReplPromotionHistory: after shiftReplicationID, a replica of the
// old history continues with replid2 up to the switch, not beyond.
func TestReplPromotionHistory(t *testing.T) {
	s, rc := testServer(t, func(c *Config) { c.ReplDisklessSyncDelay = 0 })
	ctx := context.Background()
	r := dialRepl(t, s)
	r.do("REPLCONF", "capa", "eof", "capa", "psync2")
	r.send("PSYNC", "?", "-1")
	old, off, _ := r.fullSync()
	r.send("REPLCONF", "ACK", strconv.FormatInt(off, 10))
	rc.Set(ctx, "a", "1", 0)
	off += int64(r.expectStream("SELECT 0", "SET a 1"))
	s.mu.Lock()
	s.shiftReplicationID()
	newID, second := s.repl().replid, s.repl().secondOffset
	s.mu.Unlock()
	if newID == old || second != off+1 {
		t.Fatalf("shift: replid %s (old %s), second offset %d want %d", newID, old, second, off+1)
	}
	info := rc.Info(ctx, "replication").Val()
	if !strings.Contains(info, "master_replid2:"+old) || !strings.Contains(info, fmt.Sprintf("second_repl_offset:%d", off+1)) {
		t.Fatalf("INFO:\n%s", info)
	}
	r.c.Close()
	r2 := dialRepl(t, s)
	r2.do("REPLCONF", "capa", "eof", "capa", "psync2")
	if got := r2.do("PSYNC", old, strconv.FormatInt(off+1, 10)); got != "+CONTINUE "+newID {
		t.Fatalf("PSYNC with replid2: %q", got)
	}
}

func TestReplconfErrors(t *testing.T) {
	s, _ := testServer(t, nil)
	r := dialRepl(t, s)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"REPLCONF"}, "+OK"},
		{[]string{"REPLCONF", "listening-port"}, "-ERR syntax error"},
		{[]string{"REPLCONF", "listening-port", "x"}, "-ERR value is not an integer or out of range"},
		{[]string{"REPLCONF", "nosuch", "1"}, "-ERR Unrecognized REPLCONF option: nosuch"},
		{[]string{"REPLCONF", "capa", "unknown-capa"}, "+OK"},
		{[]string{"REPLCONF", "rdb-only", "2"}, "-ERR value is out of range, value must between 0 and 1"},
		{[]string{"REPLCONF", "rdb-filter-only", "keys"}, "-ERR Unsupported rdb-filter-only option: keys"},
		{[]string{"REPLCONF", "rdb-filter-only", "functions"}, "+OK"},
		{[]string{"REPLCONF", "ip-address", strings.Repeat("x", 300)}, "-ERR REPLCONF ip-address provided by replica instance is too long: 300 bytes"},
		{[]string{"PSYNC", "?", "x"}, "-ERR Filtered replica requires EOF capability"},
	} {
		if got := r.do(tc.args...); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.args, got, tc.want)
		}
	}
	// ACK from a client that is no replica: no reply at all.
	r.send("REPLCONF", "ACK", "10")
	if got := r.do("PING"); got != "+PONG" {
		t.Fatalf("after ACK: %q", got)
	}
}

// ackingReplica attaches a replica that ACKs what it reads, as a real one.
func ackingReplica(t *testing.T, s *Server) (*replConn, chan struct{}) {
	t.Helper()
	r := dialRepl(t, s)
	r.do("REPLCONF", "capa", "eof", "capa", "psync2")
	r.send("PSYNC", "?", "-1")
	_, off, _ := r.fullSync()
	r.send("REPLCONF", "ACK", strconv.FormatInt(off, 10))
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			r.c.SetReadDeadline(time.Now().Add(20 * time.Second))
			h, err := r.r.ReadString('\n')
			if err != nil {
				return
			}
			off += int64(len(h))
			n, _ := strconv.Atoi(strings.TrimSpace(h[1:]))
			getack := false
			for i := range n {
				l, err := r.r.ReadString('\n')
				if err != nil {
					return
				}
				size, _ := strconv.Atoi(strings.TrimSpace(l[1:]))
				buf := make([]byte, size+2)
				if _, err := io.ReadFull(r.r, buf); err != nil {
					return
				}
				off += int64(len(l) + size + 2)
				if i == 1 && strings.EqualFold(string(buf[:size]), "GETACK") {
					getack = true
				}
			}
			if getack {
				fmt.Fprintf(r.c, "*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n$%d\r\n%d\r\n", len(strconv.FormatInt(off, 10)), off)
			}
		}
	}()
	t.Cleanup(func() { close(stop) })
	return r, stop
}

func TestReplWait(t *testing.T) {
	s, rc := testServer(t, func(c *Config) { c.ReplDisklessSyncDelay = 0 })
	ctx := context.Background()
	if got := rc.Do(ctx, "WAIT", "0", "0").Val(); got != int64(0) {
		t.Fatalf("WAIT 0 0 without replicas: %v", got)
	}
	start := time.Now()
	if got := rc.Do(ctx, "WAIT", "1", "100").Val(); got != int64(0) || time.Since(start) < 90*time.Millisecond {
		t.Fatalf("WAIT 1 100 without replicas: %v after %v", got, time.Since(start))
	}
	ackingReplica(t, s)
	rc.Set(ctx, "x", "1", 0)
	if got := rc.Do(ctx, "WAIT", "1", "5000").Val(); got != int64(1) {
		t.Fatalf("WAIT 1 with an ACKing replica: %v", got)
	}
	start = time.Now()
	if got := rc.Do(ctx, "WAIT", "2", "200").Val(); got != int64(1) || time.Since(start) < 190*time.Millisecond {
		t.Fatalf("WAIT 2 200 with one replica: %v", got)
	}
	// A silent replica never counts.
	r := dialRepl(t, s)
	r.do("REPLCONF", "capa", "eof")
	r.send("PSYNC", "?", "-1")
	r.fullSync()
	rc.Incr(ctx, "x")
	if got := rc.Do(ctx, "WAIT", "2", "300").Val(); got != int64(1) {
		t.Fatalf("WAIT 2 with one silent replica: %v", got)
	}
	if err := rc.Do(ctx, "WAIT", "1", "-1").Err(); err == nil || !strings.Contains(err.Error(), "timeout is negative") {
		t.Fatalf("negative timeout: %v", err)
	}
}

func TestReplMinReplicas(t *testing.T) {
	s, rc := testServer(t, func(c *Config) {
		c.ReplDisklessSyncDelay = 0
		c.MinReplicasToWrite = 1
		c.MinReplicasMaxLag = 10
	})
	ctx := context.Background()
	if err := rc.Set(ctx, "a", "1", 0).Err(); err == nil || err.Error() != errNoReplicas {
		t.Fatalf("write without replicas: %v", err)
	}
	if err := rc.Get(ctx, "a").Err(); err == nil || !strings.Contains(err.Error(), "nil") {
		t.Fatalf("reads go on: %v", err)
	}
	ackingReplica(t, s)
	if err := rc.Set(ctx, "a", "1", 0).Err(); err != nil {
		t.Fatalf("write with a good replica: %v", err)
	}
	if !strings.Contains(rc.Info(ctx, "replication").Val(), "min_slaves_good_slaves:1") {
		t.Fatal("INFO has no min_slaves_good_slaves:1")
	}
}

// TestReplBufferLimit: a replica whose stream piles up while its RDB is
// sent is dropped at client-output-buffer-limit replica.
func TestReplBufferLimit(t *testing.T) {
	s, rc := testServer(t, func(c *Config) {
		c.ReplDisklessSyncDelay = 0
		c.ClientOutputBufferLimit[obufReplica] = ObufLimit{Hard: 64 << 10}
	})
	ctx := context.Background()
	r := dialRepl(t, s)
	r.do("REPLCONF", "capa", "eof")
	r.send("PSYNC", "?", "-1")
	r.fullSync()
	// No ACK: a diskless replica's stream waits in its buffer.
	big := strings.Repeat("x", 8<<10)
	for i := range 20 {
		rc.Set(ctx, fmt.Sprint("k", i), big, 0)
	}
	waitFor(t, func() bool { return strings.Contains(rc.Info(ctx, "replication").Val(), "connected_slaves:0") })
}

func TestReplPingAndTimeout(t *testing.T) {
	s, rc := testServer(t, func(c *Config) {
		c.ReplDisklessSyncDelay = 0
		c.ReplPingReplicaPeriod = 1
		c.ReplTimeout = 2
	})
	ctx := context.Background()
	r := dialRepl(t, s)
	r.do("REPLCONF", "capa", "eof")
	r.send("PSYNC", "?", "-1")
	r.fullSync()
	r.send("REPLCONF", "ACK", "0")
	r.expectStream("PING")
	// It never ACKs again: dropped after repl-timeout.
	waitFor(t, func() bool { return strings.Contains(rc.Info(ctx, "replication").Val(), "connected_slaves:0") })
}

// TestReplSharedSnapshot: replicas that arrive within
// repl-diskless-sync-delay share one diskless snapshot.
func TestReplSharedSnapshot(t *testing.T) {
	s, rc := testServer(t, func(c *Config) {
		c.ReplDisklessSync = true
		c.ReplDisklessSyncDelay = 1
	})
	ctx := context.Background()
	rc.Set(ctx, "k", "v", 0)
	var rs []*replConn
	for range 2 {
		r := dialRepl(t, s)
		r.do("REPLCONF", "capa", "eof", "capa", "psync2")
		r.send("PSYNC", "?", "-1")
		rs = append(rs, r)
	}
	id1, off1, p1 := rs[0].fullSync()
	id2, off2, p2 := rs[1].fullSync()
	if id1 != id2 || off1 != off2 || !bytes.Equal(p1, p2) {
		t.Fatalf("two snapshots: %s@%d (%d bytes) and %s@%d (%d bytes)", id1, off1, len(p1), id2, off2, len(p2))
	}
	for _, r := range rs {
		r.send("REPLCONF", "ACK", strconv.FormatInt(off1, 10))
	}
	rc.Set(ctx, "after", "1", 0)
	for _, r := range rs {
		r.expectStream("SELECT 0", "SET after 1")
	}
	if st := rc.Info(ctx, "stats").Val(); !strings.Contains(st, "sync_full:2") {
		t.Fatalf("stats:\n%s", st)
	}
}

// TestReplShutdownWaitsForReplicas: SHUTDOWN gives a lagging replica
// time to acknowledge the stream, and goes on without it.
func TestReplShutdownWaitsForReplicas(t *testing.T) {
	s, rc := testServer(t, func(c *Config) {
		c.ReplDisklessSyncDelay = 0
		c.ShutdownTimeout = 1
	})
	ctx := context.Background()
	r := dialRepl(t, s)
	r.do("REPLCONF", "capa", "eof")
	r.send("PSYNC", "?", "-1")
	_, off, _ := r.fullSync()
	r.send("REPLCONF", "ACK", strconv.FormatInt(off, 10))
	rc.Set(ctx, "k", "v", 0)
	start := time.Now()
	rc.Shutdown(ctx) // the replica never ACKs the SET
	if d := time.Since(start); d < 900*time.Millisecond || d > 5*time.Second {
		t.Fatalf("SHUTDOWN took %v, want about shutdown-timeout (1 s)", d)
	}
	select {
	case <-s.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the server did not shut down")
	}
}

// TestReplStalledFullSync: a replica that stops reading its diskless RDB
// is dropped after repl-timeout, and the snapshot it held up ends.
func TestReplStalledFullSync(t *testing.T) {
	s, rc := testServer(t, func(c *Config) {
		c.ReplDisklessSync = true
		c.ReplDisklessSyncDelay = 0
		c.ReplTimeout = 1
	})
	ctx := context.Background()
	big := strings.Repeat("x", 1<<20)
	for i := range 40 {
		rc.Set(ctx, fmt.Sprint("big:", i), big+strconv.Itoa(i), 0)
	}
	r := dialRepl(t, s)
	r.do("REPLCONF", "capa", "eof")
	r.send("PSYNC", "?", "-1") // and never read
	waitFor(t, func() bool {
		return strings.Contains(rc.Info(ctx, "replication").Val(), "connected_slaves:1")
	})
	waitFor(t, func() bool {
		return strings.Contains(rc.Info(ctx, "replication").Val(), "connected_slaves:0") &&
			strings.Contains(rc.Info(ctx, "persistence").Val(), "rdb_bgsave_in_progress:0")
	})
	if err := rc.BgSave(ctx).Err(); err != nil {
		t.Fatalf("BGSAVE after the stalled sync: %v", err)
	}
}
