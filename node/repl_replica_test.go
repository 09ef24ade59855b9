package node

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// replicate makes replica follow primary and waits until it is in sync.
func replicate(t *testing.T, replica *redis.Client, primary *Server, primaryClient *redis.Client) {
	t.Helper()
	host, port, _ := net.SplitHostPort(primary.Addr().String())
	if err := replica.Do(context.Background(), "replicaof", host, port).Err(); err != nil {
		t.Fatalf("REPLICAOF: %v", err)
	}
	waitInSync(t, primaryClient, replica)
}

func TestReplicaFullSyncThenStream(t *testing.T) {
	ctx := context.Background()
	p, pc := testServer(t, func(c *Config) { c.EnableDebugCommand = "yes" })
	_, rc := testServer(t, func(c *Config) { c.EnableDebugCommand = "yes" })
	populateAllTypes(t, pc, "")
	replicate(t, rc, p, pc)
	compareDatasets(t, pc, rc)

	populateAllTypes(t, pc, "more:")
	streamWrites(t, pc)
	waitInSync(t, pc, rc)
	compareDatasets(t, pc, rc)

	info := rc.Info(ctx, "replication").Val()
	for _, want := range []string{"role:slave", "master_link_status:up", "master_sync_in_progress:0", "slave_read_only:1",
		"master_replid:" + replInfoField(pc.Info(ctx, "replication").Val(), "master_replid")} {
		if !strings.Contains(info, want+"\r\n") {
			t.Errorf("replica's INFO replication lacks %q:\n%s", want, info)
		}
	}
	if strings.Contains(info, "master_link_down_since_seconds") {
		t.Errorf("INFO shows master_link_down_since_seconds while the link is up")
	}
	if list := rc.ClientList(ctx).Val(); !strings.Contains(list, "flags=M") {
		t.Errorf("no master client (flags=M) in CLIENT LIST:\n%s", list)
	}
	role := fmt.Sprint(rc.Do(ctx, "role").Val())
	if !strings.HasPrefix(role, "[slave 127.0.0.1 ") || !strings.Contains(role, " connected ") {
		t.Errorf("ROLE = %s", role)
	}
}

func TestReplicaRefusesWritesAndServesStale(t *testing.T) {
	ctx := context.Background()
	dead := freePort(t)
	for _, tc := range []struct {
		name             string
		readOnly, stale  bool
		setErr, getErr   string
		infoWorksAnyway  bool
		evalWriteErrPref string
	}{
		{"read-only, stale served", true, true, "READONLY You can't write against a read only replica.", "", true, "READONLY"},
		{"writable, stale served", false, true, "", "", true, ""},
		{"read-only, stale refused", true, false, "READONLY You can't write against a read only replica.",
			"MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.", true, "READONLY"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, rc := testServer(t, func(c *Config) {
				c.ReplicaReadOnly = tc.readOnly
				c.ReplicaServeStaleData = tc.stale
			})
			rc.Set(ctx, "k", "v", 0)
			if err := rc.Do(ctx, "replicaof", "127.0.0.1", dead).Err(); err != nil {
				t.Fatal(err)
			}
			errOf := func(err error) string {
				if err == nil || err == redis.Nil {
					return ""
				}
				return err.Error()
			}
			if got := errOf(rc.Set(ctx, "k", "w", 0).Err()); got != tc.setErr {
				t.Errorf("SET = %q, want %q", got, tc.setErr)
			}
			if got := errOf(rc.Get(ctx, "k").Err()); got != tc.getErr {
				t.Errorf("GET = %q, want %q", got, tc.getErr)
			}
			if err := rc.Info(ctx, "replication").Err(); err != nil {
				t.Errorf("INFO on a stale replica: %v", err)
			}
			if got := errOf(rc.Eval(ctx, "#!lua\nreturn redis.call('set','k','x')", nil).Err()); tc.evalWriteErrPref != "" &&
				!strings.HasPrefix(got, tc.evalWriteErrPref) && !strings.HasPrefix(got, "MASTERDOWN") {
				t.Errorf("EVAL with writes = %q, want %s", got, tc.evalWriteErrPref)
			}
			// A write queued in MULTI aborts the transaction.
			if tc.readOnly && tc.stale {
				_, err := rc.TxPipelined(ctx, func(p redis.Pipeliner) error {
					p.Set(ctx, "k", "x", 0)
					return nil
				})
				if err == nil || !strings.HasPrefix(err.Error(), "EXECABORT") {
					t.Errorf("MULTI SET EXEC = %v, want EXECABORT", err)
				}
			}
			info := rc.Info(ctx, "replication").Val()
			if !strings.Contains(info, "master_link_status:down") || !strings.Contains(info, "master_link_down_since_seconds:") {
				t.Errorf("INFO replication of a replica without its primary:\n%s", info)
			}
			role := fmt.Sprint(rc.Do(ctx, "role").Val())
			if !strings.HasPrefix(role, "[slave 127.0.0.1 "+dead+" ") || !strings.HasSuffix(role, " -1]") {
				t.Errorf("ROLE = %s", role)
			}
			if err := rc.Do(ctx, "replicaof", "no", "one").Err(); err != nil {
				t.Fatal(err)
			}
			if err := rc.Set(ctx, "k", "w", 0).Err(); err != nil {
				t.Errorf("SET after REPLICAOF NO ONE: %v", err)
			}
			_ = s
		})
	}
}

func TestReplicaofArguments(t *testing.T) {
	ctx := context.Background()
	_, rc := testServer(t, nil)
	dead := freePort(t)
	for _, tc := range []struct {
		args []any
		want string
	}{
		{[]any{"replicaof", "127.0.0.1", "notaport"}, "ERR Invalid master port"},
		{[]any{"replicaof", "127.0.0.1", "70000"}, "ERR Invalid master port"},
		{[]any{"replicaof", "127.0.0.1"}, "ERR wrong number of arguments for 'replicaof' command"},
		{[]any{"slaveof", "127.0.0.1", dead}, "OK"},
		{[]any{"replicaof", "127.0.0.1", dead}, "OK Already connected to specified master"},
		{[]any{"replicaof", "NO", "ONE"}, "OK"},
		{[]any{"replicaof", "no", "one"}, "OK"},
	} {
		v, err := rc.Do(ctx, tc.args...).Result()
		got := fmt.Sprint(v)
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("%v = %q, want %q", tc.args, got, tc.want)
		}
	}
}

func TestReplicaPartialResyncAfterLinkDrop(t *testing.T) {
	ctx := context.Background()
	p, pc := testServer(t, func(c *Config) { c.EnableDebugCommand = "yes" })
	_, rc := testServer(t, func(c *Config) { c.EnableDebugCommand = "yes" })
	populateAllTypes(t, pc, "")
	replicate(t, rc, p, pc)
	for i, kill := range []func() error{
		// The primary drops the replica; then the replica drops its primary.
		func() error { return pc.Do(ctx, "client", "kill", "type", "replica").Err() },
		func() error { return rc.Do(ctx, "client", "kill", "type", "master").Err() },
	} {
		if err := kill(); err != nil {
			t.Fatal(err)
		}
		streamWrites(t, pc)
		waitInSync(t, pc, rc)
		compareDatasets(t, pc, rc)
		stats := pc.Info(ctx, "stats").Val()
		if replInfoInt(stats, "sync_full") != 1 || replInfoInt(stats, "sync_partial_ok") != int64(i+1) {
			t.Errorf("after drop %d: sync_full=%d sync_partial_ok=%d", i+1, replInfoInt(stats, "sync_full"), replInfoInt(stats, "sync_partial_ok"))
		}
	}
}

func TestChainedReplica(t *testing.T) {
	ctx := context.Background()
	p, pc := testServer(t, func(c *Config) { c.EnableDebugCommand = "yes" })
	r1, r1c := testServer(t, func(c *Config) { c.EnableDebugCommand = "yes" })
	_, r2c := testServer(t, func(c *Config) { c.EnableDebugCommand = "yes" })
	populateAllTypes(t, pc, "")
	replicate(t, r1c, p, pc)
	replicate(t, r2c, r1, pc) // in sync with the top primary's offset
	streamWrites(t, pc)
	waitInSync(t, pc, r2c)
	compareDatasets(t, pc, r2c)
	pid := replInfoField(pc.Info(ctx, "replication").Val(), "master_replid")
	for _, c := range []*redis.Client{r1c, r2c} {
		if got := replInfoField(c.Info(ctx, "replication").Val(), "master_replid"); got != pid {
			t.Errorf("a chained replica's replid = %s, want its primary's %s", got, pid)
		}
	}
}

func TestPromotionThenSiblingPartialResync(t *testing.T) {
	ctx := context.Background()
	p, pc := testServer(t, func(c *Config) { c.EnableDebugCommand = "yes" })
	r1, r1c := testServer(t, func(c *Config) { c.EnableDebugCommand = "yes" })
	_, r2c := testServer(t, func(c *Config) { c.EnableDebugCommand = "yes" })
	populateAllTypes(t, pc, "")
	replicate(t, r1c, p, pc)
	replicate(t, r2c, p, pc)
	streamWrites(t, pc)
	waitInSync(t, pc, r1c)
	waitInSync(t, pc, r2c)
	oldID := replInfoField(pc.Info(ctx, "replication").Val(), "master_replid")
	p.Shutdown()
	<-p.Done()

	// r1 is promoted; r2 follows it and continues from where it was.
	if err := r1c.Do(ctx, "replicaof", "no", "one").Err(); err != nil {
		t.Fatal(err)
	}
	info := r1c.Info(ctx, "replication").Val()
	if replInfoField(info, "role") != "master" || replInfoField(info, "master_replid2") != oldID {
		t.Errorf("promoted replica's INFO replication:\n%s", info)
	}
	if err := r1c.Set(ctx, "after-promotion", "1", 0).Err(); err != nil {
		t.Fatalf("SET on the promoted replica: %v", err)
	}
	replicate(t, r2c, r1, r1c)
	stats := r1c.Info(ctx, "stats").Val()
	if replInfoInt(stats, "sync_partial_ok") != 1 || replInfoInt(stats, "sync_full") != 0 {
		t.Errorf("the sibling did not continue partially: sync_full=%d sync_partial_ok=%d",
			replInfoInt(stats, "sync_full"), replInfoInt(stats, "sync_partial_ok"))
	}
	compareDatasets(t, r1c, r2c)
}

// A replica neither expires keys actively nor deletes them on access: a
// logically expired key reads as missing until the primary's DEL.
func TestReplicaExpiry(t *testing.T) {
	ctx := context.Background()
	p, pc := testServer(t, func(c *Config) { c.EnableDebugCommand = "yes" })
	_, rc := testServer(t, func(c *Config) { c.EnableDebugCommand = "yes" })
	replicate(t, rc, p, pc)
	if err := pc.Do(ctx, "debug", "set-active-expire", "0").Err(); err != nil {
		t.Fatal(err)
	}
	pc.Set(ctx, "k", "v", 50*time.Millisecond)
	waitInSync(t, pc, rc)
	eventually(t, "the key to expire", 2*time.Second, func() bool {
		return rc.Exists(ctx, "k").Val() == 0
	})
	if err := rc.Get(ctx, "k").Err(); err != redis.Nil {
		t.Errorf("GET of an expired key on the replica = %v, want nil", err)
	}
	if n := rc.DBSize(ctx).Val(); n != 1 {
		t.Errorf("DBSIZE on the replica = %d: it deleted the key itself", n)
	}
	pc.Get(ctx, "k") // the primary expires it and propagates DEL
	waitInSync(t, pc, rc)
	if n := rc.DBSize(ctx).Val(); n != 0 {
		t.Errorf("DBSIZE on the replica after the primary's DEL = %d", n)
	}
}

// Stream requests are counted byte for byte, whatever their form.
func TestReadStreamCommand(t *testing.T) {
	for _, tc := range []struct {
		in   string
		args []string
		raw  int
	}{
		{"*1\r\n$4\r\nPING\r\n", []string{"PING"}, 14},
		{"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n", []string{"SET", "k", ""}, 26},
		{"\n", nil, 1},
		{"\r\n", nil, 2},
		{"PING\r\n", []string{"PING"}, 6},
		{"*0\r\n", []string{}, 4},
	} {
		var raw []byte
		cmd, err := readStreamCommand(bufio.NewReader(strings.NewReader(tc.in+"*1\r\n$4\r\nNEXT\r\n")), &raw)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if cmd.raw != tc.raw || string(raw) != tc.in || fmt.Sprint(bytesToStrings(cmd.args)) != fmt.Sprint(tc.args) {
			t.Errorf("%q: args %q raw %d (%q), want %q %d", tc.in, cmd.args, cmd.raw, raw, tc.args, tc.raw)
		}
	}
	for _, bad := range []string{"*x\r\n", "*1\r\n+OK\r\n", "*1\r\n$-3\r\n"} {
		var raw []byte
		if _, err := readStreamCommand(bufio.NewReader(strings.NewReader(bad)), &raw); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func bytesToStrings(b [][]byte) []string {
	out := make([]string, len(b))
	for i, x := range b {
		out[i] = string(x)
	}
	return out
}

func replInfoField(info, field string) string {
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return v
		}
	}
	return ""
}

// freePort returns a port nothing listens on.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return strconv.Itoa(port)
}

// The link is cut again and again while clients write to several
// databases, with transactions: every reconnection continues partially
// and the replica ends identical (the selected database and an open
// transaction survive a partial resync as in Redis).
func TestReplicaPartialResyncUnderLoad(t *testing.T) {
	ctx := context.Background()
	// A backlog big enough for the writes made while the link is down.
	p, pc := testServer(t, func(c *Config) { c.EnableDebugCommand = "yes"; c.ReplBacklogSize = 64 << 20 })
	_, rc := testServer(t, func(c *Config) { c.EnableDebugCommand = "yes" })
	replicate(t, rc, p, pc)
	stop := make(chan struct{})
	done := make(chan error, 3)
	for _, db := range []int{0, 9, 12} {
		go func() {
			o := *pc.Options()
			o.DB = db
			c := redis.NewClient(&o)
			defer c.Close()
			for i := 0; ; i++ {
				select {
				case <-stop:
					done <- nil
					return
				default:
				}
				_, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
					p.Incr(ctx, "counter")
					p.RPush(ctx, fmt.Sprint("list", i%7), i)
					p.HSet(ctx, "h", fmt.Sprint("f", i%50), i)
					return nil
				})
				if err == nil {
					err = c.Set(ctx, fmt.Sprint("k", i%100), i, 0).Err()
				}
				if err != nil {
					done <- err
					return
				}
			}
		}()
	}
	const cuts = 4
	for i := range cuts {
		time.Sleep(100 * time.Millisecond) // let writes pile up between cuts
		var err error
		if i%2 == 0 {
			err = pc.Do(ctx, "client", "kill", "type", "replica").Err()
		} else {
			err = rc.Do(ctx, "client", "kill", "type", "master").Err()
		}
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, "a partial resync", 10*time.Second, func() bool {
			return replInfoInt(pc.Info(ctx, "stats").Val(), "sync_partial_ok") == int64(i+1) &&
				strings.Contains(rc.Info(ctx, "replication").Val(), "master_link_status:up")
		})
	}
	close(stop)
	for range 3 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	waitInSync(t, pc, rc)
	compareDatasets(t, pc, rc)
	stats := pc.Info(ctx, "stats").Val()
	if replInfoInt(stats, "sync_full") != 1 || replInfoInt(stats, "sync_partial_ok") != cuts {
		t.Errorf("sync_full=%d sync_partial_ok=%d, want one full sync and partial ones after",
			replInfoInt(stats, "sync_full"), replInfoInt(stats, "sync_partial_ok"))
	}
}

// A replica restarted from its own RDB continues from the history saved
// in it (repl-id, repl-offset, repl-stream-db) with a partial resync.
func TestReplicaRestartContinuesFromRDB(t *testing.T) {
	ctx := context.Background()
	p, pc := testServer(t, func(c *Config) { c.EnableDebugCommand = "yes" })
	dir := t.TempDir()
	host, port, _ := net.SplitHostPort(p.Addr().String())
	portN, _ := strconv.Atoi(port)
	withPrimary := func(c *Config) {
		c.EnableDebugCommand = "yes"
		c.Dir = dir
		c.ReplicaOf = ReplicaOf{Host: host, Port: portN}
	}
	r, rc := testServer(t, withPrimary)
	populateAllTypes(t, pc, "")
	waitInSync(t, pc, rc)
	o := *pc.Options()
	o.DB = 5
	c5 := redis.NewClient(&o)
	defer c5.Close()
	c5.Set(ctx, "in-db-5", "1", 0) // the stream's selected database is 5
	waitInSync(t, pc, rc)
	if err := rc.Save(ctx).Err(); err != nil {
		t.Fatalf("SAVE on the replica: %v", err)
	}
	r.Shutdown()
	<-r.Done()
	c5.Set(ctx, "while-down", "1", 0) // continues in database 5, no SELECT
	rc2 := startLoaded(t, withPrimary)
	waitInSync(t, pc, rc2)
	compareDatasets(t, pc, rc2)
	stats := pc.Info(ctx, "stats").Val()
	if replInfoInt(stats, "sync_full") != 1 || replInfoInt(stats, "sync_partial_ok") != 1 {
		t.Errorf("after the restart: sync_full=%d sync_partial_ok=%d, want 1 and 1",
			replInfoInt(stats, "sync_full"), replInfoInt(stats, "sync_partial_ok"))
	}
}

// startLoaded starts a server that loads its dump file first, as the
// standalone node does (Start does not load).
func startLoaded(t *testing.T, mod func(*Config)) *redis.Client {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Port = 0
	cfg.Bind = []string{"127.0.0.1"}
	mod(cfg)
	s := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := s.LoadData(); err != nil {
		t.Fatalf("LoadData: %v", err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go s.Run(ctx)
	rc := redis.NewClient(&redis.Options{Addr: s.Addr().String(), Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() {
		rc.Close()
		cancel()
		<-s.Done()
	})
	return rc
}

// A read-only replica replays its own AOF whole: the loader is obeyed as
// the primary is (Redis's mustObeyClient), scripts' writes included.
func TestReadOnlyReplicaLoadsItsAOF(t *testing.T) {
	ctx := context.Background()
	_, rc := testServer(t, func(c *Config) { c.EnableDebugCommand = "yes" })
	if err := rc.ConfigSet(ctx, "appendonly", "yes").Err(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the AOF's first rewrite", 10*time.Second, func() bool {
		info := rc.Info(ctx, "persistence").Val()
		return strings.Contains(info, "aof_rewrite_in_progress:0") && strings.Contains(info, "aof_rewrite_scheduled:0")
	})
	lib := "#!lua name=aoflib\nredis.register_function('f', function() return 'hello' end)"
	if err := rc.Do(ctx, "function", "load", lib).Err(); err != nil {
		t.Fatal(err)
	}
	rc.Set(ctx, "k", "v", 0)
	rc.Eval(ctx, "return redis.call('set', 'from-script', '1')", nil)
	if err := rc.Do(ctx, "replicaof", "127.0.0.1", freePort(t)).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rc.Do(ctx, "debug", "loadaof").Err(); err != nil {
		t.Fatalf("DEBUG LOADAOF on a read-only replica: %v", err)
	}
	if v, err := rc.Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Errorf("GET k after the replay = %q, %v", v, err)
	}
	if v, err := rc.Get(ctx, "from-script").Result(); err != nil || v != "1" {
		t.Errorf("GET from-script after the replay = %q, %v", v, err)
	}
	if libs := fmt.Sprint(rc.Do(ctx, "function", "list").Val()); !strings.Contains(libs, "aoflib") {
		t.Errorf("FUNCTION LIST after the replay = %s", libs)
	}
}
