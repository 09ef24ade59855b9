package proxy

import (
	"strconv"
	"strings"
	"testing"
)

// infoFields parses an INFO reply (RESP2 bulk) into its fields.
func infoFields(t *testing.T, reply string) map[string]string {
	t.Helper()
	if !strings.HasPrefix(reply, "$") {
		t.Fatalf("INFO reply %q", reply)
	}
	f := map[string]string{}
	for _, line := range strings.Split(reply, "\r\n")[1:] {
		if k, v, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(line, "#") {
			f[k] = v
		}
	}
	return f
}

// shardCmdUsec sums the commandstats usec of the shards, read directly.
func shardCmdUsec(t *testing.T, srvs []*redisServer) int64 {
	t.Helper()
	var sum int64
	for _, s := range srvs {
		v := s.do(t, "INFO", "commandstats")
		for _, line := range strings.Split(string(v.Str), "\r\n") {
			if _, val, ok := strings.Cut(line, ":"); ok && strings.HasPrefix(line, "cmdstat_") {
				sum += infoListInt(val, "usec")
			}
		}
	}
	return sum
}

func cpuUsec(t *testing.T, s string) int64 {
	t.Helper()
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("used_cpu_user %q: %v", s, err)
	}
	return int64(f*1e6 + 0.5)
}

// INFO's process-level sections show the database's own figures, never
// the hosting process's (which other tenants' shards share).
func TestInfoTenantFigures(t *testing.T) {
	tp, srvs := twoTenants(t)
	a, b := tp.raw(t), tp.raw(t)
	a.expect("+OK\r\n", "AUTH", "a", "pa")
	b.expect("+OK\r\n", "AUTH", "b", "pb")
	for i := 0; i < 300; i++ {
		b.send("SET", "k"+strconv.Itoa(i), strings.Repeat("v", 100))
	}
	for i := 0; i < 300; i++ {
		b.recv()
	}
	a.expect("+OK\r\n", "SET", "x", "1")

	for _, tc := range []struct {
		name string
		conn *raw
		srvs []*redisServer
	}{
		{"a (3 shards)", a, srvs[:3]},
		{"b (1 shard)", b, srvs[3:]},
	} {
		before := shardCmdUsec(t, tc.srvs)
		reply := tc.conn.do("INFO")
		after := shardCmdUsec(t, tc.srvs)
		f := infoFields(t, reply)

		// CPU: the time its shards spent in its commands.
		if got := cpuUsec(t, f["used_cpu_user"]); got < before || got > after || got == 0 {
			t.Errorf("%s: used_cpu_user %s, want between the shards' commandstats usec %d and %d", tc.name, f["used_cpu_user"], before, after)
		}
		if f["used_cpu_user_main_thread"] != f["used_cpu_user"] {
			t.Errorf("%s: used_cpu_user_main_thread %q != used_cpu_user %q", tc.name, f["used_cpu_user_main_thread"], f["used_cpu_user"])
		}
		for _, k := range []string{"used_cpu_sys", "used_cpu_sys_children", "used_cpu_user_children", "used_cpu_sys_main_thread"} {
			if f[k] != "0.000000" {
				t.Errorf("%s: %s = %q, want 0.000000", tc.name, k, f[k])
			}
		}
		// The commandstats asked for the CPU figures are not shown.
		if strings.Contains(reply, "# Commandstats") || strings.Contains(reply, "cmdstat_") {
			t.Errorf("%s: default INFO shows commandstats", tc.name)
		}

		// Memory: the database's used_memory, not the process's RSS.
		used, err := strconv.ParseInt(f["used_memory"], 10, 64)
		if err != nil || used <= 0 {
			t.Fatalf("%s: used_memory %q", tc.name, f["used_memory"])
		}
		var shardUsed int64
		for _, s := range tc.srvs {
			for _, line := range strings.Split(string(s.do(t, "INFO", "memory").Str), "\r\n") {
				if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
					n, _ := strconv.ParseInt(v, 10, 64)
					shardUsed += n
				}
			}
		}
		if d := float64(used-shardUsed) / float64(shardUsed); d < -0.2 || d > 0.2 {
			t.Errorf("%s: used_memory %d, the shards' sum %d", tc.name, used, shardUsed)
		}
		for _, k := range []string{"used_memory_rss", "allocator_allocated", "allocator_active", "allocator_resident"} {
			if f[k] != f["used_memory"] {
				t.Errorf("%s: %s = %q, want used_memory %q", tc.name, k, f[k], f["used_memory"])
			}
		}
		for _, k := range []string{"mem_fragmentation_ratio", "allocator_frag_ratio", "allocator_rss_ratio", "rss_overhead_ratio"} {
			if f[k] != "1.00" {
				t.Errorf("%s: %s = %q, want 1.00", tc.name, k, f[k])
			}
		}
		if f["mem_fragmentation_bytes"] != "0" {
			t.Errorf("%s: mem_fragmentation_bytes = %q", tc.name, f["mem_fragmentation_bytes"])
		}
		if want := bytesToHuman(float64(used)); f["used_memory_human"] != want || f["used_memory_rss_human"] != want {
			t.Errorf("%s: used_memory_human %q, used_memory_rss_human %q, want %q", tc.name, f["used_memory_human"], f["used_memory_rss_human"], want)
		}
		if strings.Contains(reply, "total_system_memory") {
			t.Errorf("%s: INFO shows the host's memory", tc.name)
		}
	}

	// a's figures do not include b's work: b's SETs ran on b's shard.
	fa := infoFields(t, a.do("INFO", "cpu"))
	if got, bUsec := cpuUsec(t, fa["used_cpu_user"]), shardCmdUsec(t, srvs[:3]); got > bUsec {
		t.Errorf("a's used_cpu_user %d > its shards' %d", got, bUsec)
	}

	// INFO cpu alone, INFO commandstats alone, INFO everything.
	cpu := a.do("INFO", "CPU")
	if !strings.Contains(cpu, "# CPU\r\nused_cpu_sys:0.000000\r\nused_cpu_user:") || strings.Contains(cpu, "cmdstat_") {
		t.Errorf("INFO CPU = %q", cpu)
	}
	cs := a.do("INFO", "commandstats")
	if !strings.Contains(cs, "cmdstat_set:calls=") || strings.Contains(cs, "# CPU") {
		t.Errorf("INFO commandstats = %q", cs)
	}
	every := a.do("INFO", "everything")
	if !strings.Contains(every, "# CPU\r\n") || !strings.Contains(every, "cmdstat_set:calls=") {
		t.Errorf("INFO everything lacks CPU or commandstats: %q", every)
	}
}

func TestInfoWants(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want infoWant
	}{
		{nil, infoWant{cpu: true}},
		{[]string{"default"}, infoWant{cpu: true}},
		{[]string{"CPU"}, infoWant{cpu: true}},
		{[]string{"keyspace"}, infoWant{}},
		{[]string{"commandstats"}, infoWant{commandstats: true}},
		{[]string{"keyspace", "cpu"}, infoWant{cpu: true}},
		{[]string{"all"}, infoWant{cpu: true, commandstats: true}},
		{[]string{"Everything"}, infoWant{cpu: true, commandstats: true}},
	} {
		var args [][]byte
		for _, a := range tc.args {
			args = append(args, []byte(a))
		}
		if got := infoWants(args); got != tc.want {
			t.Errorf("infoWants(%q) = %+v, want %+v", tc.args, got, tc.want)
		}
	}
}

func TestBytesToHuman(t *testing.T) {
	for _, tc := range []struct {
		n    float64
		want string
	}{
		{0, "0B"}, {1023, "1023B"}, {1024, "1.00K"}, {1536, "1.50K"},
		{5 << 20, "5.00M"}, {3 << 30, "3.00G"}, {1 << 40, "1.00T"}, {1 << 50, "1.00P"},
	} {
		if got := bytesToHuman(tc.n); got != tc.want {
			t.Errorf("bytesToHuman(%v) = %q, want %q", tc.n, got, tc.want)
		}
	}
}
