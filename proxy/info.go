package proxy

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/keyfleet/keyfleet/proxy/resp"
)

// INFO through the proxy is one view of the tenant's database: every
// shard's INFO merged, counters summed, the keyspace joined, the clients
// section the proxy's own. A shard holds only its database's data, so its
// keyspace, stats, command, error and latency figures are the tenant's.
// What a shard reports about the process that hosts it is not: a node
// runs other tenants' shards in the same process, so its CPU time, RSS and
// allocator figures add up everyone's. Those fields are replaced by the
// database's own figures:
//
//   - CPU: used_cpu_user (and _main_thread) is the time the database's
//     shards spent running its commands, the sum of their commandstats
//     usec (INFO asks the shards for commandstats when it needs them);
//     the system and children times of a shared process cannot be split
//     per database and are 0.
//   - Memory: used_memory_rss and the allocator_* sizes are the
//     database's used_memory, and the fragmentation and overhead ratios
//     and byte counts are those of an unfragmented heap (1.00, 0); the
//     host's total memory is left out.
//   - Server: the host, the process and the build (os, process_id,
//     run_id, executable, ...) are left out; tcp_port is the proxy's.
//   - Replication: the replicas' addresses and links are left out.

// infoCommand gathers INFO from every shard and merges it.
func infoCommand(c *client, r *request) {
	if c.p.opts.Unrestricted && len(c.route.shards) == 1 {
		c.sendTo(0, r.raw)
		return
	}
	want := infoWants(r.args[1:])
	raw := r.raw
	if want.cpu && !want.commandstats {
		// The CPU section is computed from the shards' commandstats,
		// which the client did not ask for: ask the shards for them too
		// and leave them out of the reply.
		args := append([][]byte(nil), r.args...)
		if len(args) == 1 {
			args = append(args, []byte("default"))
		}
		args = append(args, []byte("commandstats"))
		raw = resp.AppendCommand(nil, args...)
	}
	n := len(c.route.shards)
	shards := make([]int, n)
	raws := make([][]byte, n)
	for i := range shards {
		shards[i] = i
		raws[i] = raw
	}
	c.fanout(shards, raws, func(c *client, out []byte, parts [][]byte) []byte {
		return mergeInfo(c, out, parts, want)
	})
}

// infoWant says which of the sections the proxy computes a request
// includes, by Redis 7.0's rules: no argument is "default"; "all" and
// "everything" are every section; names are case-insensitive.
type infoWant struct {
	cpu, commandstats bool
}

func infoWants(args [][]byte) infoWant {
	if len(args) == 0 {
		return infoWant{cpu: true}
	}
	var w infoWant
	for _, a := range args {
		switch strings.ToLower(string(a)) {
		case "all", "everything":
			w.cpu, w.commandstats = true, true
		case "default", "cpu":
			w.cpu = true
		case "commandstats":
			w.commandstats = true
		}
	}
	return w
}

func mergeInfo(c *client, out []byte, parts [][]byte, want infoWant) []byte {
	if e := firstError(parts); e != nil {
		return append(out, e...)
	}
	var texts []string
	for _, p := range parts {
		v, _, err := resp.Parse(p)
		if err != nil {
			return resp.AppendError(out, "ERR bad reply from shard")
		}
		s := v.Str
		if v.Type == '=' && len(s) >= 4 {
			s = s[4:]
		}
		texts = append(texts, string(s))
	}
	return resp.AppendVerbatim(out, c.proto, c.buildInfo(texts, want))
}

type infoSection struct {
	name string // as in the header: "Server", "Keyspace", ...
	keys []string
	vals map[string][]string // per key, one value per shard that has it
}

func parseInfo(text string) []*infoSection {
	var out []*infoSection
	var cur *infoSection
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "# ") {
			cur = &infoSection{name: line[2:], vals: map[string][]string{}}
			out = append(out, cur)
			continue
		}
		if cur == nil {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		if _, seen := cur.vals[k]; !seen {
			cur.keys = append(cur.keys, k)
		}
		cur.vals[k] = append(cur.vals[k], v)
	}
	return out
}

// serverHidden are INFO server fields about the host or the process.
var serverHidden = map[string]bool{
	"os": true, "process_id": true, "process_supervised": true, "run_id": true,
	"executable": true, "config_file": true, "gcc_version": true, "multiplexing_api": true,
	"atomicvar_api": true, "io_threads_active": true, "redis_build_id": true,
	"redis_git_sha1": true, "redis_git_dirty": true, "arch_bits": true,
}

func (c *client) buildInfo(texts []string, want infoWant) string {
	merged := []*infoSection{}
	byName := map[string]*infoSection{}
	for _, t := range texts {
		for _, sec := range parseInfo(t) {
			m := byName[sec.name]
			if m == nil {
				m = &infoSection{name: sec.name, vals: map[string][]string{}}
				byName[sec.name] = m
				merged = append(merged, m)
			}
			for _, k := range sec.keys {
				if _, seen := m.vals[k]; !seen {
					m.keys = append(m.keys, k)
				}
				m.vals[k] = append(m.vals[k], sec.vals[k]...)
			}
		}
	}
	var cmdUsec int64
	if cs := byName["Commandstats"]; cs != nil {
		for _, k := range cs.keys {
			for _, v := range cs.vals[k] {
				cmdUsec += infoListInt(v, "usec")
			}
		}
	}
	var b strings.Builder
	first := true
	for _, sec := range merged {
		name := strings.ToLower(sec.name)
		if name == "commandstats" && !want.commandstats {
			continue
		}
		if !first {
			b.WriteString("\r\n")
		}
		first = false
		b.WriteString("# " + sec.name + "\r\n")
		switch name {
		case "server":
			_, port := c.hostPort()
			for _, k := range sec.keys {
				switch {
				case serverHidden[k]:
				case k == "tcp_port":
					fmt.Fprintf(&b, "tcp_port:%d\r\n", port)
				case k == "redis_mode":
					mode := "standalone"
					if len(c.route.shards) > 1 {
						mode = "cluster"
					}
					b.WriteString("redis_mode:" + mode + "\r\n")
				default:
					b.WriteString(k + ":" + sec.vals[k][0] + "\r\n")
				}
			}
		case "clients":
			c.writeClientsInfo(&b)
		case "replication":
			for _, k := range sec.keys {
				switch {
				case k == "role":
					b.WriteString("role:master\r\n")
				case strings.HasPrefix(k, "slave") && k != "slave_read_only" || strings.HasPrefix(k, "master_host") ||
					strings.HasPrefix(k, "master_port") || strings.HasPrefix(k, "master_link") || strings.HasPrefix(k, "master_sync"):
					// Replica addresses and links are the platform's.
				default:
					b.WriteString(k + ":" + sec.vals[k][0] + "\r\n")
				}
			}
		case "cpu":
			writeCPUInfo(&b, cmdUsec)
		case "memory":
			writeMemoryInfo(&b, sec)
		case "stats", "keyspace", "commandstats", "errorstats", "latencystats", "persistence":
			for _, k := range sec.keys {
				b.WriteString(k + ":" + mergeInfoValue(k, sec.vals[k]) + "\r\n")
			}
		default:
			for _, k := range sec.keys {
				b.WriteString(k + ":" + sec.vals[k][0] + "\r\n")
			}
		}
	}
	return b.String()
}

// writeCPUInfo writes the CPU section from the time the database's shards
// spent in its commands (microseconds).
func writeCPUInfo(b *strings.Builder, usec int64) {
	user := fmt.Sprintf("%d.%06d", usec/1e6, usec%1e6)
	fmt.Fprintf(b, "used_cpu_sys:0.000000\r\nused_cpu_user:%s\r\n"+
		"used_cpu_sys_children:0.000000\r\nused_cpu_user_children:0.000000\r\n"+
		"used_cpu_sys_main_thread:0.000000\r\nused_cpu_user_main_thread:%s\r\n", user, user)
}

// Memory fields that describe the hosting process rather than the
// database, and what the database's own view of them is.
var (
	memSizeOfUsed = map[string]bool{
		"used_memory_rss": true, "allocator_allocated": true, "allocator_active": true, "allocator_resident": true,
	}
	memUnitRatio = map[string]bool{
		"allocator_frag_ratio": true, "allocator_rss_ratio": true, "rss_overhead_ratio": true, "mem_fragmentation_ratio": true,
	}
	memNoBytes = map[string]bool{
		"allocator_frag_bytes": true, "allocator_rss_bytes": true, "rss_overhead_bytes": true, "mem_fragmentation_bytes": true,
	}
)

// writeMemoryInfo writes the memory section: sizes summed over the
// shards, the process's figures replaced by the database's (see the top
// of this file), and the human-readable sizes and percentages computed
// from the merged numbers rather than taken from one shard.
func writeMemoryInfo(b *strings.Builder, sec *infoSection) {
	final := make(map[string]string, len(sec.keys))
	num := func(k string) float64 {
		f, _ := strconv.ParseFloat(final[k], 64)
		return f
	}
	used := sumNumbers(sec.vals["used_memory"])
	for _, k := range sec.keys {
		var v string
		switch {
		case strings.HasPrefix(k, "total_system_memory"):
			continue
		case memSizeOfUsed[k]:
			v = used
		case memUnitRatio[k]:
			v = "1.00"
		case memNoBytes[k]:
			v = "0"
		case strings.HasSuffix(k, "_human"):
			base, ok := final[strings.TrimSuffix(k, "_human")]
			if !ok {
				v = sec.vals[k][0]
				break
			}
			n, _ := strconv.ParseFloat(base, 64)
			v = bytesToHuman(n)
		case k == "used_memory_peak_perc":
			v = percent(num("used_memory"), num("used_memory_peak"))
		case k == "used_memory_dataset_perc":
			v = percent(num("used_memory_dataset"), num("used_memory")-num("used_memory_startup"))
		default:
			v = mergeInfoValue(k, sec.vals[k])
		}
		final[k] = v
		b.WriteString(k + ":" + v + "\r\n")
	}
}

func percent(part, whole float64) string {
	if whole <= 0 {
		return "0.00%"
	}
	return fmt.Sprintf("%.2f%%", 100*part/whole)
}

// bytesToHuman formats a size as Redis's INFO does (1.50K, 2.00M, ...).
func bytesToHuman(n float64) string {
	const k = 1024.0
	switch {
	case n < k:
		return fmt.Sprintf("%dB", int64(n))
	case n < k*k:
		return fmt.Sprintf("%.2fK", n/k)
	case n < k*k*k:
		return fmt.Sprintf("%.2fM", n/(k*k))
	case n < k*k*k*k:
		return fmt.Sprintf("%.2fG", n/(k*k*k))
	case n < k*k*k*k*k:
		return fmt.Sprintf("%.2fT", n/(k*k*k*k))
	default:
		return fmt.Sprintf("%.2fP", n/(k*k*k*k*k))
	}
}

// infoListInt returns field of a "k=v,k=v" INFO value, or 0.
func infoListInt(v, field string) int64 {
	for _, kv := range strings.Split(v, ",") {
		if k, val, ok := strings.Cut(kv, "="); ok && k == field {
			n, _ := strconv.ParseInt(val, 10, 64)
			return n
		}
	}
	return 0
}

func (c *client) writeClientsInfo(b *strings.Builder) {
	blocked, tracking := 0, 0
	for _, o := range c.db.clientList() {
		if o.blocked.Load() {
			blocked++
		}
		o.info.Lock()
		if o.info.tracking {
			tracking++
		}
		o.info.Unlock()
	}
	maxClients := c.route.limits.MaxConnections
	if maxClients <= 0 {
		maxClients = c.p.opts.MaxClients
	}
	fmt.Fprintf(b, "connected_clients:%d\r\ncluster_connections:0\r\nmaxclients:%d\r\n"+
		"client_recent_max_input_buffer:0\r\nclient_recent_max_output_buffer:0\r\n"+
		"blocked_clients:%d\r\ntracking_clients:%d\r\nclients_in_timeout_table:0\r\n",
		c.db.nconns.Load(), maxClients, blocked, tracking)
}

// mergeInfoValue combines one INFO field across shards: numbers are
// summed (ratios and averages are not), "k=v,k=v" lists are merged field
// by field, and anything else is the first shard's.
func mergeInfoValue(key string, vals []string) string {
	if len(vals) == 1 {
		return vals[0]
	}
	if strings.HasSuffix(key, "_human") || strings.Contains(key, "ratio") || strings.Contains(key, "frag") ||
		strings.Contains(key, "_perc") || strings.HasSuffix(key, "_time") || strings.HasPrefix(key, "rdb_") ||
		strings.HasPrefix(key, "aof_") || strings.Contains(key, "policy") || key == "mem_allocator" {
		return vals[0]
	}
	if strings.Contains(vals[0], "=") {
		return mergeInfoList(vals)
	}
	return sumNumbers(vals)
}

func sumNumbers(vals []string) string {
	var isum int64
	var fsum float64
	isFloat := false
	for _, v := range vals {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			isum += n
			fsum += float64(n)
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return vals[0]
		}
		isFloat = true
		fsum += f
	}
	if isFloat {
		return strconv.FormatFloat(fsum, 'f', 2, 64)
	}
	return strconv.FormatInt(isum, 10)
}

// mergeInfoList merges "keys=1,expires=0,avg_ttl=0" style values.
func mergeInfoList(vals []string) string {
	var order []string
	fields := map[string][]string{}
	for _, v := range vals {
		for _, kv := range strings.Split(v, ",") {
			k, val, _ := strings.Cut(kv, "=")
			if _, seen := fields[k]; !seen {
				order = append(order, k)
			}
			fields[k] = append(fields[k], val)
		}
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		vs := fields[k]
		var v string
		switch {
		case k == "usec_per_call":
			calls, _ := strconv.ParseFloat(sumNumbers(fields["calls"]), 64)
			usec, _ := strconv.ParseFloat(sumNumbers(fields["usec"]), 64)
			per := 0.0
			if calls > 0 {
				per = usec / calls
			}
			v = strconv.FormatFloat(per, 'f', 2, 64)
		case k == "avg_ttl" || strings.HasPrefix(k, "p"):
			v = maxNumber(vs)
		default:
			v = sumNumbers(vs)
		}
		out = append(out, k+"="+v)
	}
	return strings.Join(out, ",")
}

func maxNumber(vals []string) string {
	best, bestV := -1.0, vals[0]
	for _, v := range vals {
		if f, err := strconv.ParseFloat(v, 64); err == nil && f > best {
			best, bestV = f, v
		}
	}
	return bestV
}
