package node

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// infoLayout returns the section titles and field names of INFO text in
// order, leaving out the per-item fields (db0, cmdstat_x, ...).
func infoLayout(info string) (sections []string, fields map[string][]string) {
	fields = make(map[string][]string)
	cur := ""
	for _, line := range strings.Split(info, "\r\n") {
		switch {
		case strings.HasPrefix(line, "# "):
			cur = line[2:]
			sections = append(sections, cur)
		case line == "":
		default:
			k, _, _ := strings.Cut(line, ":")
			if strings.HasPrefix(k, "db") || strings.HasPrefix(k, "cmdstat_") || strings.HasPrefix(k, "errorstat_") ||
				strings.HasPrefix(k, "latency_percentiles_usec_") {
				continue
			}
			fields[cur] = append(fields[cur], k)
		}
	}
	return sections, fields
}

func infoField(t *testing.T, info, name string) string {
	t.Helper()
	v, ok := infoFieldValue([]byte(info), name)
	if !ok {
		t.Fatalf("INFO has no %s:\n%s", name, info)
	}
	return v
}

// TestInfoMatchesRedis compares the sections and fields of INFO
// everything with redis-server 7.0.15's, in order.
func TestInfoMatchesRedis(t *testing.T) {
	ref := redisServer(t)
	_, rc := testServer(t, nil)
	ctx := context.Background()
	for _, arg := range [][]any{{"info"}, {"info", "everything"}, {"info", "default"}, {"info", "all"}, {"info", "cpu", "commandstats"}} {
		want, err := ref.Do(ctx, arg...).Text()
		if err != nil {
			t.Fatal(err)
		}
		got, err := rc.Do(ctx, arg...).Text()
		if err != nil {
			t.Fatal(err)
		}
		ws, wf := infoLayout(want)
		gs, gf := infoLayout(got)
		if !slices.Equal(ws, gs) {
			t.Errorf("%v sections %q, redis-server has %q", arg, gs, ws)
		}
		for _, sec := range ws {
			if !slices.Equal(wf[sec], gf[sec]) {
				t.Errorf("%v section %s fields:\n node  %q\n redis %q", arg, sec, gf[sec], wf[sec])
			}
		}
	}
}

func TestInfoSections(t *testing.T) {
	_, rc := testServer(t, nil)
	ctx := context.Background()
	rc.Set(ctx, "k", "v", 0)
	rc.Set(ctx, "t", "v", time.Hour)
	rc.Get(ctx, "k")
	rc.Get(ctx, "missing")
	rc.Do(ctx, "nosuch")

	tests := []struct {
		args       []any
		has, lacks []string
	}{
		{[]any{"info"}, []string{"redis_version:7.0.15", "used_cpu_user", "used_memory:", "# Keyspace", "db0:keys=2,expires=1,avg_ttl=", "errorstat_ERR:count=1"}, []string{"rejected_calls", "# Latencystats"}},
		{[]any{"info", "default"}, []string{"redis_version", "# Errorstats"}, []string{"cmdstat_"}},
		{[]any{"info", "all"}, []string{"cmdstat_set:calls=2,usec=", "rejected_calls=0,failed_calls=0", "# Latencystats", "# Modules"}, nil},
		{[]any{"info", "everything"}, []string{"cmdstat_get:calls=2", "# Cluster\r\ncluster_enabled:0"}, nil},
		{[]any{"info", "commandSTATS"}, []string{"# Commandstats\r\n", "rejected_calls"}, []string{"used_memory"}},
		{[]any{"info", "cpu", "sentinel"}, []string{"used_cpu_user"}, []string{"sentinel", "master_repl_offset"}},
		{[]any{"info", "cpu", "default"}, []string{"used_cpu_user", "used_memory", "master_repl_offset"}, []string{"rejected_calls"}},
		{[]any{"info", "sentinel"}, nil, []string{"#"}},
		{[]any{"info", "keyspace", "stats"}, []string{"# Stats\r\n", "keyspace_hits:1", "keyspace_misses:1", "total_error_replies:1", "\r\n\r\n# Keyspace"}, nil},
		{[]any{"info", "replication"}, []string{"role:master", "connected_slaves:0", "master_replid:", "master_repl_offset:0"}, nil},
		{[]any{"info", "server"}, []string{"redis_mode:standalone", "tcp_port:", "run_id:", "hz:10", "configured_hz:10", "process_id:"}, nil},
		{[]any{"info", "persistence"}, []string{"loading:0", "rdb_bgsave_in_progress:0", "aof_enabled:0", "rdb_changes_since_last_save:"}, nil},
		{[]any{"info", "clients"}, []string{"connected_clients:1", "maxclients:10000", "blocked_clients:0"}, nil},
		{[]any{"info", "memory"}, []string{"maxmemory:0", "maxmemory_policy:noeviction", "mem_fragmentation_ratio:"}, nil},
	}
	for _, tt := range tests {
		info, err := rc.Do(ctx, tt.args...).Text()
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range tt.has {
			if !strings.Contains(info, h) {
				t.Errorf("%v lacks %q:\n%s", tt.args, h, info)
			}
		}
		for _, l := range tt.lacks {
			if strings.Contains(info, l) {
				t.Errorf("%v has %q", tt.args, l)
			}
		}
	}
	// Sections appear once even when asked twice.
	info, _ := rc.Do(ctx, "info", "cpu", "all", "cpu").Text()
	if strings.Count(info, "used_cpu_user_children") != 1 {
		t.Errorf("cpu twice:\n%s", info)
	}
}

func TestInfoRESP3Verbatim(t *testing.T) {
	s, _ := testServer(t, nil)
	nc, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.Write([]byte("HELLO 3\r\nINFO server\r\nPING\r\n"))
	var buf []byte
	tmp := make([]byte, 64<<10)
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	for !bytes.HasSuffix(buf, []byte("+PONG\r\n")) {
		n, err := nc.Read(tmp)
		if err != nil {
			t.Fatalf("read: %v (got %q)", err, buf)
		}
		buf = append(buf, tmp[:n]...)
	}
	i := bytes.Index(buf, []byte("\r\n=")) // after the HELLO map
	if i < 0 || !bytes.Contains(buf[i:], []byte("\r\ntxt:# Server\r\nredis_version:7.0.15\r\n")) {
		t.Errorf("INFO in RESP3 is not a verbatim string: %q", buf)
	}
}

func TestInfoInstantaneousOps(t *testing.T) {
	s, rc := testServer(t, nil)
	// Drive the sampler with a synthetic clock: 1000 commands in 100 ms.
	s.mu.Lock()
	base := time.Now().Add(time.Hour)
	s.infoCron(base)
	s.stats.totalCommands += 1000
	s.infoCron(base.Add(100 * time.Millisecond))
	s.mu.Unlock()
	info, _ := rc.Info(context.Background(), "stats").Result()
	ops, _ := strconv.Atoi(infoField(t, info, "instantaneous_ops_per_sec"))
	// One sample of 10000/s among the samples the cron took before.
	if ops < 10000/16 {
		t.Errorf("instantaneous_ops_per_sec %d after 1000 commands in 100ms", ops)
	}
}

func TestInfoUsedMemoryOverride(t *testing.T) {
	s, rc := testServer(t, nil)
	s.mu.Lock()
	s.ext["usedMemory"] = func() int64 { return 12345 }
	s.mu.Unlock()
	info, _ := rc.Info(context.Background(), "memory").Result()
	if infoField(t, info, "used_memory") != "12345" || infoField(t, info, "used_memory_human") != "12.06K" {
		t.Errorf("override not used:\n%s", info)
	}
}

func TestBytesToHuman(t *testing.T) {
	for n, want := range map[uint64]string{0: "0B", 1023: "1023B", 1024: "1.00K", 1536: "1.50K", 5 << 20: "5.00M", 3 << 30: "3.00G", 1 << 40: "1.00T"} {
		if got := bytesToHuman(n); got != want {
			t.Errorf("bytesToHuman(%d) = %q, want %q", n, got, want)
		}
	}
}

// infoFieldValue extracts one field from INFO text.
func infoFieldValue(info []byte, name string) (string, bool) {
	sc := bufio.NewScanner(bytes.NewReader(info))
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if k, v, ok := strings.Cut(line, ":"); ok && k == name {
			return v, true
		}
	}
	return "", false
}

// TestInfoLatencyStats follows unit/info's latencystats tests.
func TestInfoLatencyStats(t *testing.T) {
	_, rc := testServer(t, nil)
	ctx := context.Background()
	lat := func(cmd string) string {
		info, _ := rc.Info(ctx, "latencystats").Result()
		v, _ := infoFieldValue([]byte(info), "latency_percentiles_usec_"+cmd)
		return v
	}
	rc.Do(ctx, "config", "resetstat")
	rc.ConfigSet(ctx, "latency-tracking", "no")
	rc.Set(ctx, "a", "b", 0)
	if v := lat("set"); v != "" {
		t.Errorf("tracking off: %q", v)
	}
	rc.ConfigSet(ctx, "latency-tracking", "yes")
	rc.Set(ctx, "a", "b", 0)
	if v := lat("set"); !strings.HasPrefix(v, "p50=") || !strings.Contains(v, ",p99=") || !strings.Contains(v, ",p99.9=") {
		t.Errorf("set: %q", v)
	}
	if v := lat("config|set"); !strings.HasPrefix(v, "p50=") {
		t.Errorf("config|set: %q", v)
	}
	rc.ConfigSet(ctx, "latency-tracking-info-percentiles", "0.0 50.0 100.0")
	if v := lat("set"); !strings.HasPrefix(v, "p0=") || !strings.Contains(v, ",p50=") || !strings.Contains(v, ",p100=") {
		t.Errorf("custom percentiles: %q", v)
	}
	rc.Do(ctx, "config", "resetstat")
	if v := lat("set"); v != "" {
		t.Errorf("after resetstat: %q", v)
	}
}

// TestInfoRejectedCalls: arity and NOAUTH refusals count as the
// command's rejected_calls, as unit/info's errorstats tests expect.
func TestInfoRejectedCalls(t *testing.T) {
	s, rc := testServer(t, nil)
	ctx := context.Background()
	rc.Do(ctx, "set", "k")
	rc.Set(ctx, "k1", "v1", 0)
	rc.Set(ctx, "k2", "v2", 0)
	info, _ := rc.Info(ctx, "commandstats", "errorstats").Result()
	if v, _ := infoFieldValue([]byte(info), "cmdstat_set"); !strings.HasPrefix(v, "calls=2,") || !strings.HasSuffix(v, ",rejected_calls=1,failed_calls=0") {
		t.Errorf("cmdstat_set:%s", v)
	}
	if v, _ := infoFieldValue([]byte(info), "errorstat_ERR"); v != "count=1" {
		t.Errorf("errorstat_ERR:%s", v)
	}
	rc.ConfigSet(ctx, "requirepass", "pw")
	// A raw connection: a client library may send more than the GET.
	nc, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.Write([]byte("GET k\r\n"))
	if line, _ := bufio.NewReader(nc).ReadString('\n'); !strings.HasPrefix(line, "-NOAUTH") {
		t.Fatalf("GET without AUTH: %q", line)
	}
	info, _ = rc.Info(ctx, "commandstats", "errorstats").Result()
	if v, _ := infoFieldValue([]byte(info), "cmdstat_get"); !strings.Contains(v, "rejected_calls=1") {
		t.Errorf("cmdstat_get after NOAUTH:%s", v)
	}
	if v, _ := infoFieldValue([]byte(info), "errorstat_NOAUTH"); v != "count=1" {
		t.Errorf("errorstat_NOAUTH:%s", v)
	}
}

func TestInfoNetBytes(t *testing.T) {
	_, rc := testServer(t, nil)
	ctx := context.Background()
	rc.Set(ctx, "k", strings.Repeat("x", 10000), 0)
	rc.Get(ctx, "k")
	info, _ := rc.Info(ctx, "stats").Result()
	in, _ := strconv.Atoi(infoField(t, info, "total_net_input_bytes"))
	out, _ := strconv.Atoi(infoField(t, info, "total_net_output_bytes"))
	if in < 10000 || out < 10000 {
		t.Errorf("net bytes in %d out %d after moving 10000 bytes each way", in, out)
	}
}

func TestInfoBlockedClients(t *testing.T) {
	s, rc := testServer(t, nil)
	ctx := context.Background()
	b1, b2 := newClient(t, s, 2), newClient(t, s, 2)
	go b1.BLPop(ctx, 0, "nokey1")
	go b2.BLPop(ctx, 100*time.Second, "nokey2")
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, _ := rc.Info(ctx, "clients").Result()
		if infoField(t, info, "blocked_clients") == "2" {
			if v := infoField(t, info, "clients_in_timeout_table"); v != "1" {
				t.Errorf("clients_in_timeout_table:%s, want 1", v)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("blocked clients never counted:\n%s", info)
		}
		runtime.Gosched()
	}
	rc.RPush(ctx, "nokey1", "x")
	rc.RPush(ctx, "nokey2", "x")
}

// TestInfoUnblockedWithErrorFails: a blocked command ended by CLIENT
// UNBLOCK ERROR counts as one call that failed (Redis's
// updateStatsOnUnblock; info.tcl "errorstats: blocking commands").
func TestInfoUnblockedWithErrorFails(t *testing.T) {
	s, rc := testServer(t, nil)
	ctx := context.Background()
	b := dialNode(t, s)
	id := b.do(t, "CLIENT", "ID").str
	b.send(t, "BLPOP", "list1", "0")
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, _ := rc.Info(ctx, "clients").Result()
		if infoField(t, info, "blocked_clients") == "1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("BLPOP never blocked:\n%s", info)
		}
		runtime.Gosched()
	}
	if n, err := rc.Do(ctx, "CLIENT", "UNBLOCK", id, "ERROR").Int(); err != nil || n != 1 {
		t.Fatalf("CLIENT UNBLOCK: %d %v", n, err)
	}
	if got := b.next(t); !strings.HasPrefix(got, `-"UNBLOCKED`) {
		t.Fatalf("BLPOP replied %s, want -UNBLOCKED", got)
	}
	info, _ := rc.Info(ctx, "commandstats", "errorstats").Result()
	if v := infoField(t, info, "cmdstat_blpop"); !strings.HasPrefix(v, "calls=1,") || !strings.HasSuffix(v, ",rejected_calls=0,failed_calls=1") {
		t.Errorf("cmdstat_blpop:%s", v)
	}
	if v := infoField(t, info, "errorstat_UNBLOCKED"); v != "count=1" {
		t.Errorf("errorstat_UNBLOCKED:%s", v)
	}
}
