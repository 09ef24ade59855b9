package node

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// Helpers shared by the transaction, pub/sub and tracking tests: a raw
// RESP connection whose replies are compared in respValue's String form
// (+"OK", :"1", $"v", -"ERR ...", *[...], >[...], _"").

// dialNode opens a raw connection to s.
func dialNode(t *testing.T, s *Server) *rawConn {
	t.Helper()
	return dialRaw(t, "tcp", s.Addr().String())
}

// send writes a command without reading its reply.
func (rc *rawConn) send(t *testing.T, args ...string) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	rc.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := rc.c.Write([]byte(b.String())); err != nil {
		t.Fatal(err)
	}
}

// next reads one reply (or push), failing after 10 s.
func (rc *rawConn) next(t *testing.T) string {
	t.Helper()
	rc.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	v, err := readResp(rc.r)
	if err != nil {
		t.Fatalf("reading a reply: %v", err)
	}
	return fmtResp(v)
}

// fmtResp is respValue's String form, with null aggregates as *nil (and
// null bulk strings as $nil), so that they differ from empty ones.
func fmtResp(v respValue) string {
	if v.str == "<nil>" && v.elems == nil {
		return string(v.kind) + "nil"
	}
	if v.elems == nil && v.kind != '*' && v.kind != '%' && v.kind != '~' && v.kind != '>' {
		return v.String()
	}
	parts := make([]string, len(v.elems))
	for i, e := range v.elems {
		parts[i] = fmtResp(e)
	}
	return string(v.kind) + "[" + strings.Join(parts, " ") + "]"
}

// quiet reports whether nothing arrives within d (a push that must not
// come). Waiting is the only way to observe an absence.
func (rc *rawConn) quiet(d time.Duration) bool {
	rc.c.SetReadDeadline(time.Now().Add(d))
	_, err := rc.r.Peek(1)
	var ne net.Error
	return err != nil && errors.As(err, &ne) && ne.Timeout()
}

// closed reports whether the server closed the connection (EOF or reset)
// within d.
func (rc *rawConn) closed(d time.Duration) bool {
	rc.c.SetReadDeadline(time.Now().Add(d))
	for {
		if _, err := rc.r.ReadByte(); err != nil {
			var ne net.Error
			return !(errors.As(err, &ne) && ne.Timeout())
		}
	}
}

// step is one command and the reply it must get ("" skips the check).
type txStep struct {
	args []string
	want string
}

func st(want string, args ...string) txStep { return txStep{args: args, want: want} }

func runTx(t *testing.T, rc *rawConn, steps []txStep) {
	t.Helper()
	for i, s := range steps {
		got := fmtResp(rc.do(t, s.args...))
		if s.want != "" && got != s.want {
			t.Fatalf("step %d %q: got %s, want %s", i, s.args, got, s.want)
		}
	}
}

func TestMultiExec(t *testing.T) {
	s, _ := testServer(t, nil)
	for _, tc := range []struct {
		name  string
		steps []txStep
	}{
		{"basics", []txStep{
			st(`:"3"`, "RPUSH", "l", "a", "b", "c"),
			st(`+"OK"`, "MULTI"),
			st(`+"QUEUED"`, "LRANGE", "l", "0", "-1"),
			st(`+"QUEUED"`, "PING"),
			st(`*[*[$"a" $"b" $"c"] +"PONG"]`, "EXEC"),
			st(`-"ERR EXEC without MULTI"`, "EXEC"),
			st(`-"ERR DISCARD without MULTI"`, "DISCARD"),
		}},
		{"empty transaction", []txStep{
			st(`+"OK"`, "MULTI"),
			st(`*[]`, "EXEC"),
		}},
		{"runtime errors are elements", []txStep{
			st(`+"OK"`, "SET", "s", "x"),
			st(`+"OK"`, "MULTI"),
			st(`+"QUEUED"`, "INCR", "s"),
			st(`+"QUEUED"`, "SET", "t", "1"),
			st(`*[-"ERR value is not an integer or out of range" +"OK"]`, "EXEC"),
			st(`$"1"`, "GET", "t"),
		}},
		{"unknown command aborts", []txStep{
			st(`+"OK"`, "MULTI"),
			st(`+"QUEUED"`, "SET", "a", "1"),
			st(`-"ERR unknown command 'NOSUCH', with args beginning with: 'x' "`, "NOSUCH", "x"),
			st(`+"QUEUED"`, "SET", "b", "2"),
			st(`-"EXECABORT Transaction discarded because of previous errors."`, "EXEC"),
			st(`:"0"`, "EXISTS", "a", "b"),
			st(`+"PONG"`, "PING"),
		}},
		{"arity error aborts", []txStep{
			st(`+"OK"`, "MULTI"),
			st(`-"ERR wrong number of arguments for 'get' command"`, "GET"),
			st(`-"EXECABORT Transaction discarded because of previous errors."`, "EXEC"),
		}},
		{"unknown subcommand aborts", []txStep{
			st(`+"OK"`, "MULTI"),
			st("", "CLIENT", "NOSUCH"),
			st(`-"EXECABORT Transaction discarded because of previous errors."`, "EXEC"),
		}},
		{"no_multi command aborts", []txStep{
			st(`+"OK"`, "MULTI"),
			st(`-"ERR Command not allowed inside a transaction"`, "SAVE"),
			st(`-"EXECABORT Transaction discarded because of previous errors."`, "EXEC"),
		}},
		{"nested MULTI and WATCH inside MULTI do not abort", []txStep{
			st(`+"OK"`, "MULTI"),
			st(`-"ERR MULTI calls can not be nested"`, "MULTI"),
			st(`-"ERR WATCH inside MULTI is not allowed"`, "WATCH", "x"),
			st(`+"QUEUED"`, "SET", "n", "1"),
			st(`*[+"OK"]`, "EXEC"),
		}},
		{"EXEC with arguments", []txStep{
			st(`-"EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command"`, "EXEC", "x"),
			st(`+"OK"`, "MULTI"),
			st(`+"QUEUED"`, "SET", "z", "1"),
			st(`-"EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command"`, "EXEC", "x"),
			st(`-"ERR EXEC without MULTI"`, "EXEC"),
			st(`:"0"`, "EXISTS", "z"),
		}},
		{"DISCARD", []txStep{
			st(`+"OK"`, "SET", "d", "1"),
			st(`+"OK"`, "MULTI"),
			st(`+"QUEUED"`, "DEL", "d"),
			st(`+"OK"`, "DISCARD"),
			st(`$"1"`, "GET", "d"),
		}},
		{"commands alter argv", []txStep{
			st(`:"1"`, "SADD", "set", "a"),
			st(`+"OK"`, "MULTI"),
			st(`+"QUEUED"`, "SPOP", "set"),
			st(`*[$"a"]`, "EXEC"),
			st(`:"0"`, "EXISTS", "set"),
		}},
		{"SELECT inside", []txStep{
			st(`+"OK"`, "MULTI"),
			st(`+"QUEUED"`, "SELECT", "1"),
			st(`+"QUEUED"`, "SET", "db1", "x"),
			st(`+"QUEUED"`, "SELECT", "0"),
			st(`*[+"OK" +"OK" +"OK"]`, "EXEC"),
			st(`:"0"`, "EXISTS", "db1"),
		}},
		{"blocking commands do not block", []txStep{
			st(`+"OK"`, "MULTI"),
			st(`+"QUEUED"`, "BLPOP", "nolist", "0"),
			st(`+"QUEUED"`, "BRPOPLPUSH", "l1", "l2", "0"),
			st(`+"QUEUED"`, "BZPOPMIN", "nozset", "0"),
			st(`*[*nil $nil *nil]`, "EXEC"),
		}},
		{"subscribe allowed, ssubscribe refused", []txStep{
			st(`+"OK"`, "MULTI"),
			st(`+"QUEUED"`, "SUBSCRIBE", "ch"),
			st(`+"QUEUED"`, "SSUBSCRIBE", "sch"),
			st(`+"QUEUED"`, "PING"),
			st(`*[*[$"subscribe" $"ch" :"1"] -"ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client" *[$"pong" $""]]`, "EXEC"),
			st(`*[$"unsubscribe" $"ch" :"0"]`, "UNSUBSCRIBE"),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runTx(t, dialNode(t, s), tc.steps)
		})
	}
}

func TestMultiRESP3(t *testing.T) {
	s, _ := testServer(t, nil)
	rc := dialNode(t, s)
	rc.do(t, "HELLO", "3")
	runTx(t, rc, []txStep{
		st(`+"OK"`, "WATCH", "w"),
		st(`+"OK"`, "SET", "w", "1"),
		st(`+"OK"`, "MULTI"),
		st(`+"QUEUED"`, "GET", "w"),
		st(`_""`, "EXEC"),
		st(`+"OK"`, "MULTI"),
		st(`+"QUEUED"`, "HGETALL", "nokey"),
		st(`*[%[]]`, "EXEC"),
	})
}

func TestWatch(t *testing.T) {
	s, _ := testServer(t, func(c *Config) { c.EnableDebugCommand = "yes" })
	other := func(t *testing.T, args ...string) {
		t.Helper()
		if v := dialNode(t, s).do(t, args...); v.kind == '-' {
			t.Fatalf("%q: %s", args, fmtResp(v))
		}
	}
	const aborted, ran = `*nil`, `*[+"PONG"]`
	execPing := func(t *testing.T, rc *rawConn) string {
		t.Helper()
		rc.do(t, "MULTI")
		rc.do(t, "PING")
		return fmtResp(rc.do(t, "EXEC"))
	}
	for _, tc := range []struct {
		name string
		// setup runs on the watching connection (rc) before WATCH x.
		setup []string
		// between runs between WATCH and MULTI: on rc when self, on
		// another connection otherwise.
		between [][]string
		self    bool
		sleepMs int
		want    string
	}{
		{name: "unmodified", setup: []string{"SET", "x", "1"}, want: ran},
		{name: "modified by another client", setup: []string{"SET", "x", "1"}, between: [][]string{{"SET", "x", "2"}}, want: aborted},
		{name: "modified by the client itself", setup: []string{"SET", "x", "1"}, between: [][]string{{"INCR", "x"}}, self: true, want: aborted},
		{name: "created", between: [][]string{{"SET", "x", "1"}}, want: aborted},
		{name: "deleted", setup: []string{"SET", "x", "1"}, between: [][]string{{"DEL", "x"}}, want: aborted},
		{name: "delete of a missing key", between: [][]string{{"DEL", "x"}}, want: ran},
		{name: "EXPIRE", setup: []string{"SET", "x", "1"}, between: [][]string{{"EXPIRE", "x", "100"}}, want: aborted},
		{name: "RENAME onto it", setup: []string{"SET", "y", "1"}, between: [][]string{{"RENAME", "y", "x"}}, want: aborted},
		{name: "RENAME away", setup: []string{"SET", "x", "1"}, between: [][]string{{"RENAME", "x", "y"}}, want: aborted},
		{name: "SORT STORE empty result", setup: []string{"LPUSH", "x", "a"}, between: [][]string{{"SORT", "nolist", "STORE", "x"}}, want: aborted},
		{name: "FLUSHDB", setup: []string{"SET", "x", "1"}, between: [][]string{{"FLUSHDB"}}, want: aborted},
		{name: "FLUSHALL", setup: []string{"SET", "x", "1"}, between: [][]string{{"FLUSHALL"}}, want: aborted},
		{name: "FLUSHALL of a missing key", between: [][]string{{"FLUSHALL"}}, want: ran},
		{name: "SWAPDB removing it", setup: []string{"SET", "x", "1"}, between: [][]string{{"SWAPDB", "0", "1"}}, want: aborted},
		{name: "SWAPDB bringing it", between: [][]string{{"SELECT", "1"}, {"SET", "x", "1"}, {"SELECT", "0"}, {"SWAPDB", "0", "1"}}, self: true, want: aborted},
		{name: "other database", setup: []string{"SET", "x", "1"}, between: [][]string{{"SELECT", "1"}, {"SET", "x", "2"}, {"SELECT", "0"}}, self: true, want: ran},
		{name: "expires before EXEC", setup: []string{"SET", "x", "1", "PX", "30"}, sleepMs: 60, want: aborted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := dialNode(t, s)
			rc.do(t, "FLUSHALL")
			rc.do(t, "DEBUG", "SET-ACTIVE-EXPIRE", "0")
			defer rc.do(t, "DEBUG", "SET-ACTIVE-EXPIRE", "1")
			if tc.setup != nil {
				rc.do(t, tc.setup...)
			}
			rc.do(t, "WATCH", "x")
			for _, cmd := range tc.between {
				if tc.self {
					rc.do(t, cmd...)
				} else {
					other(t, cmd...)
				}
			}
			if tc.sleepMs > 0 {
				time.Sleep(time.Duration(tc.sleepMs) * time.Millisecond) // the key's TTL must pass
			}
			if got := execPing(t, rc); got != tc.want {
				t.Fatalf("EXEC: %s, want %s", got, tc.want)
			}
			// Whatever the outcome, the keys are no longer watched.
			other(t, "SET", "x", "3")
			if got := execPing(t, rc); got != ran {
				t.Fatalf("EXEC after EXEC: %s, want %s", got, ran)
			}
		})
	}
}

// TestWatchStaleKeys: a key already expired (not yet deleted) when watched
// is no change when it is deleted, by access, flush or SWAPDB.
func TestWatchStaleKeys(t *testing.T) {
	s, _ := testServer(t, func(c *Config) { c.EnableDebugCommand = "yes" })
	rc := dialNode(t, s)
	rc.do(t, "DEBUG", "SET-ACTIVE-EXPIRE", "0")
	stale := func(db, key string) {
		rc.do(t, "SELECT", db)
		rc.do(t, "SET", key, "v", "PX", "1")
		rc.do(t, "SELECT", "0")
	}
	for _, tc := range []struct {
		name    string
		prepare func()
		between []string
	}{
		{"watched only", func() { stale("0", "x") }, nil},
		{"deleted by access", func() { stale("0", "x") }, []string{"EXISTS", "x"}},
		{"flushed", func() { stale("0", "x") }, []string{"FLUSHDB"}},
		{"swapped with nothing", func() { stale("0", "x") }, []string{"SWAPDB", "0", "1"}},
		{"nothing swapped with a stale key", func() { stale("1", "x") }, []string{"SWAPDB", "0", "1"}},
		{"stale swapped with stale", func() { stale("0", "x"); stale("1", "x") }, []string{"SWAPDB", "0", "1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc.do(t, "FLUSHALL")
			tc.prepare()
			time.Sleep(5 * time.Millisecond) // the 1 ms TTLs must pass
			rc.do(t, "WATCH", "x")
			if tc.between != nil {
				rc.do(t, tc.between...)
			}
			runTx(t, rc, []txStep{st(`+"OK"`, "MULTI"), st(`+"QUEUED"`, "PING"), st(`*[+"PONG"]`, "EXEC")})
		})
	}
	rc.do(t, "DEBUG", "SET-ACTIVE-EXPIRE", "1")
}

// TestWatchActiveExpiry: a watched key deleted by the active expiry cycle
// fails EXEC.
func TestWatchActiveExpiry(t *testing.T) {
	s, _ := testServer(t, nil)
	rc := dialNode(t, s)
	rc.do(t, "SET", "x", "1", "PX", "20")
	rc.do(t, "WATCH", "x")
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		o, _ := s.dbs[0].ks.Lookup([]byte("x"))
		s.mu.Unlock()
		if o == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the key was not expired by the cron")
		}
		time.Sleep(10 * time.Millisecond)
	}
	runTx(t, rc, []txStep{st(`+"OK"`, "MULTI"), st(`+"QUEUED"`, "PING"), st(`*nil`, "EXEC")})
}

func TestWatchUnwatchAndDiscard(t *testing.T) {
	s, _ := testServer(t, nil)
	rc := dialNode(t, s)
	runTx(t, rc, []txStep{
		st(`+"OK"`, "UNWATCH"),
		st(`+"OK"`, "SET", "x", "30"),
		st(`+"OK"`, "WATCH", "x"),
		st(`+"OK"`, "SET", "x", "40"),
		st(`+"OK"`, "UNWATCH"),
		st(`+"OK"`, "MULTI"),
		st(`+"QUEUED"`, "PING"),
		st(`*[+"PONG"]`, "EXEC"),
		// DISCARD clears the dirty flag and the watches.
		st(`+"OK"`, "WATCH", "x"),
		st(`+"OK"`, "SET", "x", "10"),
		st(`+"OK"`, "MULTI"),
		st(`+"OK"`, "DISCARD"),
		st(`+"OK"`, "MULTI"),
		st(`+"QUEUED"`, "INCR", "x"),
		st(`*[:"11"]`, "EXEC"),
		// Several keys, one client, one flush.
		st(`+"OK"`, "MSET", "a", "a", "b", "b"),
		st(`+"OK"`, "WATCH", "b", "a"),
		st(`+"OK"`, "FLUSHALL"),
		st(`+"PONG"`, "PING"),
		st(`+"OK"`, "UNWATCH"),
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.multiState()
	if st.nwatched != 0 || len(st.txns) != 0 {
		t.Fatalf("watch state left: %d watched, %d transactions", st.nwatched, len(st.txns))
	}
}

// TestMultiStateReleased: a connection closed (or RESET) in MULTI with
// watched keys leaves nothing behind, and a new connection is not in MULTI.
func TestMultiStateReleased(t *testing.T) {
	s, rc := testServer(t, nil)
	a := dialNode(t, s)
	a.do(t, "WATCH", "k1", "k2")
	a.do(t, "MULTI")
	a.do(t, "SET", "k1", "v")
	a.c.Close()
	b := dialNode(t, s)
	b.do(t, "WATCH", "k3")
	b.do(t, "MULTI")
	runTx(t, b, []txStep{st(`+"RESET"`, "RESET"), st(`-"ERR EXEC without MULTI"`, "EXEC")})
	c := dialNode(t, s)
	runTx(t, c, []txStep{st(`$nil`, "GET", "k1"), st(`-"ERR EXEC without MULTI"`, "EXEC")})
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		st := s.multiState()
		left := st.nwatched + len(st.txns)
		s.mu.Unlock()
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("transaction state left after disconnect: %d", left)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if list := rc.ClientList(t.Context()).Val(); strings.Contains(list, "flags=x") {
		t.Fatalf("a client is still in MULTI:\n%s", list)
	}
}

// TestMultiOOM: with memory over maxmemory nothing is queued, DISCARD
// works, an EXEC of reads runs, an EXEC with a write that may grow memory
// aborts.
func TestMultiOOM(t *testing.T) {
	s, _ := testServer(t, nil)
	rc := dialNode(t, s)
	admin := dialNode(t, s)
	const oom = `-"OOM command not allowed when used memory > 'maxmemory'."`
	rc.do(t, "SET", "x", "v")
	runTx(t, rc, []txStep{st(`+"OK"`, "MULTI"), st(`+"QUEUED"`, "GET", "x"), st(`+"QUEUED"`, "PING")})
	admin.do(t, "CONFIG", "SET", "maxmemory", "1")
	runTx(t, rc, []txStep{
		st(`*[$"v" +"PONG"]`, "EXEC"),
		// MULTI itself is no write; what would be queued is refused.
		st(`+"OK"`, "MULTI"),
		st(oom, "SET", "x", "1"),
		st(oom, "MULTI"),
		st(`+"OK"`, "DISCARD"),
	})
	admin.do(t, "CONFIG", "SET", "maxmemory", "0")
	runTx(t, rc, []txStep{st(`+"OK"`, "MULTI"), st(`+"QUEUED"`, "SET", "y", "1")})
	admin.do(t, "CONFIG", "SET", "maxmemory", "1")
	runTx(t, rc, []txStep{
		st(`-"EXECABORT Transaction discarded because of: OOM command not allowed when used memory > 'maxmemory'."`, "EXEC"),
		st(`-"ERR EXEC without MULTI"`, "EXEC"),
	})
	admin.do(t, "CONFIG", "SET", "maxmemory", "0")
	runTx(t, rc, []txStep{st(`$"v"`, "GET", "x"), st(`:"0"`, "EXISTS", "y")})
}

// TestMultiPropagation: what a top-level command propagates goes out as a
// unit, wrapped in MULTI/EXEC when it is more than one command.
func TestMultiPropagation(t *testing.T) {
	s, _ := testServer(t, nil)
	var got []string
	s.mu.Lock()
	s.hooks.propagate = func(dbid int, argv [][]byte) {
		parts := []string{fmt.Sprint(dbid)}
		for _, a := range argv {
			parts = append(parts, string(a))
		}
		got = append(got, strings.Join(parts, " "))
	}
	s.mu.Unlock()
	take := func() []string {
		s.mu.Lock()
		defer s.mu.Unlock()
		out := got
		got = nil
		return out
	}
	rc := dialNode(t, s)
	for _, tc := range []struct {
		name string
		cmds [][]string
		want []string
	}{
		{"single write is not wrapped", [][]string{{"MULTI"}, {"SET", "foo", "bar"}, {"EXEC"}, {"SET", "foo2", "bar"}},
			[]string{"0 SET foo bar", "0 SET foo2 bar"}},
		{"several writes are wrapped", [][]string{{"MULTI"}, {"SET", "a", "1"}, {"GET", "a"}, {"SET", "b", "2"}, {"EXEC"}},
			[]string{"0 MULTI", "0 SET a 1", "0 SET b 2", "0 EXEC"}},
		{"databases are kept", [][]string{{"MULTI"}, {"SELECT", "1"}, {"SET", "a", "1"}, {"SELECT", "2"}, {"SET", "b", "2"}, {"SELECT", "0"}, {"EXEC"}},
			[]string{"1 MULTI", "1 SET a 1", "2 SET b 2", "2 EXEC"}},
		{"empty transaction", [][]string{{"MULTI"}, {"EXEC"}}, nil},
		{"reads only", [][]string{{"MULTI"}, {"GET", "a"}, {"EXEC"}}, nil},
		{"write without effect", [][]string{{"MULTI"}, {"DEL", "nokey"}, {"EXEC"}}, nil},
		// PUBLISH goes to replicas only, never to the AOF (this hook).
		{"publish", [][]string{{"MULTI"}, {"PUBLISH", "ch", "m"}, {"EXEC"}}, nil},
		{"aborted transaction", [][]string{{"MULTI"}, {"SET", "a", "1"}, {"NOSUCH"}, {"EXEC"}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, c := range tc.cmds {
				rc.do(t, c...)
			}
			if g := take(); strings.Join(g, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("propagated %q, want %q", g, tc.want)
			}
		})
	}
}

// TestMultiClientList: CLIENT LIST shows the transaction (flags x and d,
// multi=, multi-mem=); a dirty transaction queues nothing.
func TestMultiClientList(t *testing.T) {
	s, rc := testServer(t, nil)
	a := dialNode(t, s)
	a.do(t, "CLIENT", "SETNAME", "tx")
	a.do(t, "MULTI")
	a.do(t, "SET", "a", "1")
	b := dialNode(t, s)
	b.do(t, "CLIENT", "SETNAME", "dirty")
	b.do(t, "WATCH", "k")
	rc.Set(t.Context(), "k", "1", 0)
	b.do(t, "MULTI")
	b.do(t, "SET", "a", "1")
	lines := map[string]string{}
	for _, l := range strings.Split(rc.ClientList(t.Context()).Val(), "\n") {
		for _, name := range []string{"tx", "dirty"} {
			if strings.Contains(l, "name="+name+" ") {
				lines[name] = l
			}
		}
	}
	// SET a 1: 5 bytes of arguments and 3 pointers.
	for name, wants := range map[string][]string{
		"tx":    {" flags=x ", " multi=1 ", " multi-mem=29 "},
		"dirty": {" flags=xd ", " multi=0 ", " multi-mem=0 "},
	} {
		for _, want := range wants {
			if !strings.Contains(lines[name], want) {
				t.Errorf("CLIENT LIST line of %s lacks %q: %s", name, want, lines[name])
			}
		}
	}
}

// TestQueuedArgumentsAreCopied: queued arguments survive the read buffer
// being reused by later requests of the same pipeline.
func TestQueuedArgumentsAreCopied(t *testing.T) {
	s, _ := testServer(t, nil)
	rc := dialNode(t, s)
	var b strings.Builder
	b.WriteString("MULTI\r\n")
	for i := range 200 {
		fmt.Fprintf(&b, "SET key%d %s\r\n", i, strings.Repeat(string(rune('a'+i%26)), 100))
	}
	b.WriteString("EXEC\r\n")
	rc.c.Write([]byte(b.String()))
	for range 201 {
		rc.next(t)
	}
	if got := rc.next(t); !strings.HasPrefix(got, `*[+"OK"`) {
		t.Fatalf("EXEC: %.60s", got)
	}
	for i := range 200 {
		want := `$"` + strings.Repeat(string(rune('a'+i%26)), 100) + `"`
		if got := rc.do(t, "GET", fmt.Sprintf("key%d", i)).String(); got != want {
			t.Fatalf("key%d: %s", i, got)
		}
	}
}
