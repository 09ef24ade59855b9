package node

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// INFO [section ...], with every section and field of Redis 7.0 in its
// order. Subsystems that own the numbers of a field or a whole section
// (blocking, pub/sub, persistence, replication, memory accounting) plug
// in with onInfoField / onInfoSection from their init functions; until
// they do, the fields show what a server without that activity shows.

func init() {
	register(map[string]handler{"info": infoCommand})
	serverInits = append(serverInits, func(s *Server) {
		st := &infoState{}
		st.replID = randomHex(rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())), 40)
		s.ext[infoExt] = st
		st.startUsed = s.usedMemory()
		st.peak = st.startUsed
		s.hooks.cron = append(s.hooks.cron, s.infoCron)
	})
}

const infoExt = "info"

// infoFieldOverrides replace the value of one field; infoSectionOverrides
// replace the body of a section (the header is written for them).
var (
	infoFieldOverrides   = map[string]func(s *Server) string{}
	infoSectionOverrides = map[string]func(s *Server, w *infoWriter){}
)

// onInfoField makes fn the source of INFO field name. Init functions only.
func onInfoField(name string, fn func(s *Server) string) { infoFieldOverrides[name] = fn }

// onInfoSection makes fn write the fields of INFO section name (lower
// case, e.g. "persistence"). Init functions only.
func onInfoSection(name string, fn func(s *Server, w *infoWriter)) { infoSectionOverrides[name] = fn }

// infoState is INFO's own per-server state: instantaneous metric samples
// taken by cron, the memory peak, the replication id shown until
// replication exists.
type infoState struct {
	samples   [3]metricSamples // ops, net input, net output
	lastAt    time.Time
	peak      int64
	startUsed int64
	replID    string
}

const (
	metricOps = iota
	metricNetIn
	metricNetOut
)

// metricSamples is Redis's instantaneous metric: the rate over the last
// 16 intervals of about 100 ms.
type metricSamples struct {
	at     time.Time
	last   int64
	vals   [16]float64
	idx    int
	filled int
}

func (m *metricSamples) track(now time.Time, cur int64) {
	if !m.at.IsZero() {
		dt := now.Sub(m.at).Seconds()
		if dt > 0 {
			m.vals[m.idx] = float64(cur-m.last) / dt
			m.idx = (m.idx + 1) % len(m.vals)
			m.filled = min(m.filled+1, len(m.vals))
		}
	}
	m.at, m.last = now, cur
}

func (m *metricSamples) rate() float64 {
	if m.filled == 0 {
		return 0
	}
	sum := 0.0
	for _, v := range m.vals[:m.filled] {
		sum += v
	}
	return sum / float64(m.filled)
}

func (st *infoState) resetSamples() {
	st.samples = [3]metricSamples{}
}

func (s *Server) infoState() *infoState {
	st, ok := s.ext[infoExt].(*infoState)
	if !ok {
		st = &infoState{}
		s.ext[infoExt] = st
	}
	return st
}

// infoCron samples the instantaneous metrics every 100 ms and tracks the
// memory peak, as serverCron does.
func (s *Server) infoCron(now time.Time) {
	st := s.infoState()
	if now.Sub(st.lastAt) < 100*time.Millisecond {
		return
	}
	st.lastAt = now
	st.samples[metricOps].track(now, s.stats.totalCommands)
	in, out := s.netBytes()
	st.samples[metricNetIn].track(now, in)
	st.samples[metricNetOut].track(now, out)
	if u := s.usedMemory(); u > st.peak {
		st.peak = u
	}
}

// usedMemory is the memory the shard accounts for (INFO used_memory,
// maxmemory). STAND-IN: until the engine accounts its own memory it is
// the Go heap's live object bytes of the whole process; a subsystem that
// accounts memory replaces it by storing a func() int64 in
// s.ext["usedMemory"].
func (s *Server) usedMemory() int64 {
	if f, ok := s.ext["usedMemory"].(func() int64); ok {
		return f()
	}
	return heapObjectBytes()
}

var heapMetrics = []string{
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/heap/unused:bytes",
	"/memory/classes/heap/free:bytes",
	"/memory/classes/heap/released:bytes",
	"/memory/classes/total:bytes",
}

// heapStats reads the runtime's memory classes (cheap: no stop-the-world).
func heapStats() (objects, unused, free, released, total int64) {
	ss := make([]metrics.Sample, len(heapMetrics))
	for i, n := range heapMetrics {
		ss[i].Name = n
	}
	metrics.Read(ss)
	v := func(i int) int64 {
		if ss[i].Value.Kind() == metrics.KindUint64 {
			return int64(ss[i].Value.Uint64())
		}
		return 0
	}
	return v(0), v(1), v(2), v(3), v(4)
}

func heapObjectBytes() int64 {
	o, _, _, _, _ := heapStats()
	return o
}

// processRSS reads the resident set size from /proc (0 elsewhere).
func processRSS() int64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

func totalSystemMemory() int64 {
	var si syscall.Sysinfo_t
	if err := syscall.Sysinfo(&si); err != nil {
		return 0
	}
	return int64(si.Totalram) * int64(si.Unit)
}

// infoWriter builds the INFO text.
type infoWriter struct {
	s        *Server
	b        []byte
	sections int
}

func (w *infoWriter) header(title string) {
	if w.sections > 0 {
		w.b = append(w.b, "\r\n"...)
	}
	w.sections++
	w.b = append(w.b, "# "...)
	w.b = append(w.b, title...)
	w.b = append(w.b, "\r\n"...)
}

// field writes name:value, unless a subsystem supplies the value.
func (w *infoWriter) field(name string, value any) {
	if f := infoFieldOverrides[name]; f != nil {
		w.raw(name, f(w.s))
		return
	}
	switch v := value.(type) {
	case string:
		w.raw(name, v)
	case int:
		w.raw(name, strconv.Itoa(v))
	case int64:
		w.raw(name, strconv.FormatInt(v, 10))
	case uint64:
		w.raw(name, strconv.FormatUint(v, 10))
	case bool:
		if v {
			w.raw(name, "1")
		} else {
			w.raw(name, "0")
		}
	case float64:
		w.raw(name, strconv.FormatFloat(v, 'f', 2, 64))
	default:
		w.raw(name, fmt.Sprint(v))
	}
}

func (w *infoWriter) raw(name, value string) {
	w.b = append(w.b, name...)
	w.b = append(w.b, ':')
	w.b = append(w.b, value...)
	w.b = append(w.b, "\r\n"...)
}

// infoSection is one section in output order.
type infoSection struct {
	name      string // lower case, as requested
	title     string
	inDefault bool
	inAll     bool
	gen       func(s *Server, w *infoWriter)
}

var infoSections = []infoSection{
	{"server", "Server", true, true, (*Server).infoServer},
	{"clients", "Clients", true, true, (*Server).infoClients},
	{"memory", "Memory", true, true, (*Server).infoMemory},
	{"persistence", "Persistence", true, true, (*Server).infoPersistence},
	{"stats", "Stats", true, true, (*Server).infoStats},
	{"replication", "Replication", true, true, (*Server).infoReplication},
	{"cpu", "CPU", true, true, (*Server).infoCPU},
	{"modules", "Modules", true, true, func(*Server, *infoWriter) {}},
	{"commandstats", "Commandstats", false, true, (*Server).infoCommandStats},
	{"errorstats", "Errorstats", true, true, (*Server).infoErrorStats},
	{"latencystats", "Latencystats", false, true, (*Server).infoLatencyStats},
	{"cluster", "Cluster", true, true, func(s *Server, w *infoWriter) { w.field("cluster_enabled", 0) }},
	{"keyspace", "Keyspace", true, true, (*Server).infoKeyspace},
}

// genInfo renders the requested sections. With no section the defaults
// are shown; "default", "all" and "everything" select groups, and unknown
// names select nothing.
func (s *Server) genInfo(sections []string) []byte {
	want := make(map[string]bool)
	all := false
	if len(sections) == 0 {
		want["default"] = true
	}
	for _, sec := range sections {
		sec = strings.ToLower(sec)
		switch sec {
		case "all", "everything":
			all = true
		case "module_list":
			want["modules"] = true
		default:
			want[sec] = true
		}
	}
	w := &infoWriter{s: s}
	for _, sec := range infoSections {
		if !(all || want[sec.name] || (want["default"] && sec.inDefault)) {
			continue
		}
		w.header(sec.title)
		if f := infoSectionOverrides[sec.name]; f != nil {
			f(s, w)
		} else {
			sec.gen(s, w)
		}
	}
	return w.b
}

func infoCommand(s *Server, c *Client, args [][]byte) {
	secs := make([]string, 0, len(args)-1)
	for _, a := range args[1:] {
		secs = append(secs, string(a))
	}
	c.Verbatim(string(s.genInfo(secs)), "txt")
}

var unameOS = func() string {
	var u syscall.Utsname
	if err := syscall.Uname(&u); err != nil {
		return runtime.GOOS + " " + runtime.GOARCH
	}
	str := func(a [65]int8) string {
		b := make([]byte, 0, len(a))
		for _, c := range a {
			if c == 0 {
				break
			}
			b = append(b, byte(c))
		}
		return string(b)
	}
	return str(u.Sysname) + " " + str(u.Release) + " " + str(u.Machine)
}()

// listenPort is the TCP port clients reach the server on.
func (s *Server) listenPort() int {
	if a, ok := s.Addr().(interface{ String() string }); ok && a != nil {
		if _, p, err := splitHostPort(a.String()); err == nil {
			return p
		}
	}
	return s.cfg.Port
}

func splitHostPort(hp string) (string, int, error) {
	i := strings.LastIndexByte(hp, ':')
	if i < 0 {
		return "", 0, fmt.Errorf("no port in %q", hp)
	}
	p, err := strconv.Atoi(hp[i+1:])
	return hp[:i], p, err
}

func (s *Server) infoServer(w *infoWriter) {
	now := time.Now()
	uptime := int64(now.Sub(s.startTime).Seconds())
	w.field("redis_version", Version)
	w.field("redis_git_sha1", "00000000")
	w.field("redis_git_dirty", 0)
	w.field("redis_build_id", "keyfleet"+KeyfleetVersion)
	w.field("redis_mode", "standalone")
	w.field("os", unameOS)
	w.field("arch_bits", strconv.IntSize)
	w.field("monotonic_clock", "POSIX clock_gettime")
	w.field("multiplexing_api", "epoll")
	w.field("atomicvar_api", "c11-builtin")
	w.field("gcc_version", "0.0.0")
	w.field("process_id", os.Getpid())
	w.field("process_supervised", "no")
	w.field("run_id", s.runID)
	w.field("tcp_port", s.listenPort())
	w.field("server_time_usec", now.UnixMicro())
	w.field("uptime_in_seconds", uptime)
	w.field("uptime_in_days", uptime/(3600*24))
	w.field("hz", s.cfg.Hz)
	w.field("configured_hz", s.cfg.Hz)
	w.field("lru_clock", int64(s.lruClock))
	w.field("executable", s.cfg.Executable)
	w.field("config_file", s.cfg.ConfigFile)
	w.field("io_threads_active", 0)
}

func (s *Server) infoClients(w *infoWriter) {
	connected, blocked, tracking := 0, 0, 0
	var maxIn, maxOut int64
	for _, c := range s.clients {
		if g := guardOf(c); g != nil {
			q, free := g.queryBufferStats(0)
			maxIn = max(maxIn, q+free)
		}
		if c.flags&flagReplica == 0 {
			connected++
		}
		if c.flags&flagBlocked != 0 {
			blocked++
		}
		if c.flags&flagTracking != 0 {
			tracking++
		}
		maxOut = max(maxOut, int64(cap(c.out)))
	}
	w.field("connected_clients", connected)
	w.field("cluster_connections", 0)
	w.field("maxclients", s.cfg.MaxClients)
	w.field("client_recent_max_input_buffer", maxIn)
	w.field("client_recent_max_output_buffer", maxOut)
	w.field("blocked_clients", blocked)
	w.field("tracking_clients", tracking)
	inTimeout := 0
	if st, ok := s.ext[blockingExt].(*blockingState); ok {
		for _, bc := range st.byClient {
			if bc.deadline != 0 {
				inTimeout++
			}
		}
	}
	w.field("clients_in_timeout_table", inTimeout)
}

// bytesToHuman is Redis's bytesToHuman: 100B, 1.50K, 2.00M, ...
func bytesToHuman(n uint64) string {
	const k = 1024
	switch {
	case n < k:
		return fmt.Sprintf("%dB", n)
	case n < k*k:
		return fmt.Sprintf("%.2fK", float64(n)/k)
	case n < k*k*k:
		return fmt.Sprintf("%.2fM", float64(n)/(k*k))
	case n < k*k*k*k:
		return fmt.Sprintf("%.2fG", float64(n)/(k*k*k))
	case n < k*k*k*k*k:
		return fmt.Sprintf("%.2fT", float64(n)/(k*k*k*k))
	case n < k*k*k*k*k*k:
		return fmt.Sprintf("%.2fP", float64(n)/(k*k*k*k*k))
	}
	return fmt.Sprintf("%dB", n)
}

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func (s *Server) infoMemory(w *infoWriter) {
	st := s.infoState()
	used := s.usedMemory()
	if used > st.peak {
		st.peak = used
	}
	objects, unused, _, released, total := heapStats()
	rss := processRSS()
	active := objects + unused // heap spans in use
	resident := total - released
	startup := st.startUsed
	overhead := startup
	for _, c := range s.clients {
		overhead += int64(cap(c.out))
	}
	dataset := max(used-overhead, 0)
	sysmem := totalSystemMemory()
	mm := uint64(s.cfg.MaxMemory)

	w.field("used_memory", used)
	w.field("used_memory_human", bytesToHuman(uint64(used)))
	w.field("used_memory_rss", rss)
	w.field("used_memory_rss_human", bytesToHuman(uint64(rss)))
	w.field("used_memory_peak", st.peak)
	w.field("used_memory_peak_human", bytesToHuman(uint64(st.peak)))
	w.field("used_memory_peak_perc", fmt.Sprintf("%.2f%%", 100*ratio(used, st.peak)))
	w.field("used_memory_overhead", overhead)
	w.field("used_memory_startup", startup)
	w.field("used_memory_dataset", dataset)
	w.field("used_memory_dataset_perc", fmt.Sprintf("%.2f%%", 100*ratio(dataset, max(used-startup, 1))))
	w.field("allocator_allocated", objects)
	w.field("allocator_active", active)
	w.field("allocator_resident", resident)
	w.field("total_system_memory", sysmem)
	w.field("total_system_memory_human", bytesToHuman(uint64(sysmem)))
	w.field("used_memory_lua", 0)
	w.field("used_memory_vm_eval", 0)
	w.field("used_memory_lua_human", "0B")
	w.field("used_memory_scripts_eval", 0)
	w.field("number_of_cached_scripts", 0)
	w.field("number_of_functions", 0)
	w.field("number_of_libraries", 0)
	w.field("used_memory_vm_functions", 0)
	w.field("used_memory_vm_total", 0)
	w.field("used_memory_vm_total_human", "0B")
	w.field("used_memory_functions", 0)
	w.field("used_memory_scripts", 0)
	w.field("used_memory_scripts_human", "0B")
	w.field("maxmemory", mm)
	w.field("maxmemory_human", bytesToHuman(mm))
	w.field("maxmemory_policy", s.cfg.MaxMemoryPolicy)
	w.field("allocator_frag_ratio", ratio(active, objects))
	w.field("allocator_frag_bytes", active-objects)
	w.field("allocator_rss_ratio", ratio(resident, active))
	w.field("allocator_rss_bytes", resident-active)
	w.field("rss_overhead_ratio", ratio(rss, resident))
	w.field("rss_overhead_bytes", rss-resident)
	w.field("mem_fragmentation_ratio", ratio(rss, used))
	w.field("mem_fragmentation_bytes", rss-used)
	w.field("mem_not_counted_for_evict", 0)
	w.field("mem_replication_backlog", 0)
	w.field("mem_total_replication_buffers", 0)
	w.field("mem_clients_slaves", 0)
	w.field("mem_clients_normal", overhead-startup)
	w.field("mem_cluster_links", 0)
	w.field("mem_aof_buffer", 0)
	w.field("mem_allocator", "go-"+runtime.Version())
	w.field("active_defrag_running", 0)
	pending, freed := s.lazyfreeInfo()
	w.field("lazyfree_pending_objects", pending)
	w.field("lazyfreed_objects", freed)
}

func (s *Server) infoPersistence(w *infoWriter) {
	w.field("loading", s.isLoading())
	w.field("async_loading", 0)
	s.infoLoadingFields(w) // loading.go
	w.field("current_cow_peak", 0)
	w.field("current_cow_size", 0)
	w.field("current_cow_size_age", 0)
	w.field("current_fork_perc", 0.0)
	w.field("current_save_keys_processed", 0)
	w.field("current_save_keys_total", 0)
	w.field("rdb_changes_since_last_save", s.dirty)
	w.field("rdb_bgsave_in_progress", 0)
	w.field("rdb_last_save_time", s.startTime.Unix())
	w.field("rdb_last_bgsave_status", "ok")
	w.field("rdb_last_bgsave_time_sec", -1)
	w.field("rdb_current_bgsave_time_sec", -1)
	w.field("rdb_saves", 0)
	w.field("rdb_last_cow_size", 0)
	w.field("rdb_last_load_keys_expired", 0)
	w.field("rdb_last_load_keys_loaded", 0)
	w.field("aof_enabled", s.cfg.AppendOnly)
	w.field("aof_rewrite_in_progress", 0)
	w.field("aof_rewrite_scheduled", 0)
	w.field("aof_last_rewrite_time_sec", -1)
	w.field("aof_current_rewrite_time_sec", -1)
	w.field("aof_last_bgrewrite_status", "ok")
	w.field("aof_rewrites", 0)
	w.field("aof_rewrites_consecutive_failures", 0)
	w.field("aof_last_write_status", "ok")
	w.field("aof_last_cow_size", 0)
	w.field("module_fork_in_progress", 0)
	w.field("module_fork_last_cow_size", 0)
	if s.cfg.AppendOnly {
		w.field("aof_current_size", 0)
		w.field("aof_base_size", 0)
		w.field("aof_pending_rewrite", 0)
		w.field("aof_buffer_length", 0)
		w.field("aof_pending_bio_fsync", 0)
		w.field("aof_delayed_fsync", 0)
	}
}

func (s *Server) infoStats(w *infoWriter) {
	st := s.infoState()
	w.field("total_connections_received", s.stats.totalConnections)
	w.field("total_commands_processed", s.stats.totalCommands)
	w.field("instantaneous_ops_per_sec", int64(st.samples[metricOps].rate()))
	in, out := s.netBytes()
	w.field("total_net_input_bytes", in)
	w.field("total_net_output_bytes", out)
	w.field("total_net_repl_input_bytes", 0)
	w.field("total_net_repl_output_bytes", 0)
	w.field("instantaneous_input_kbps", st.samples[metricNetIn].rate()/1024)
	w.field("instantaneous_output_kbps", st.samples[metricNetOut].rate()/1024)
	w.field("instantaneous_input_repl_kbps", 0.0)
	w.field("instantaneous_output_repl_kbps", 0.0)
	w.field("rejected_connections", s.stats.rejectedConns)
	w.field("sync_full", s.repl().syncFull)
	w.field("sync_partial_ok", s.repl().syncPartialOK)
	w.field("sync_partial_err", s.repl().syncPartialErr)
	w.field("expired_keys", s.stats.expiredKeys)
	stale, capReached, cycleMs := s.expireInfo()
	w.field("expired_stale_perc", stale)
	w.field("expired_time_cap_reached_count", capReached)
	w.field("expire_cycle_cpu_milliseconds", cycleMs)
	w.field("evicted_keys", s.stats.evictedKeys)
	w.field("evicted_clients", 0)
	w.field("total_eviction_exceeded_time", 0)
	w.field("current_eviction_exceeded_time", 0)
	w.field("keyspace_hits", s.stats.keyspaceHits)
	w.field("keyspace_misses", s.stats.keyspaceMisses)
	w.field("pubsub_channels", s.PubsubChannels())
	w.field("pubsub_patterns", s.PubsubPatterns())
	w.field("pubsubshard_channels", s.PubsubShardChannels())
	w.field("latest_fork_usec", 0)
	w.field("total_forks", 0)
	w.field("migrate_cached_sockets", 0)
	w.field("slave_expires_tracked_keys", 0)
	w.field("active_defrag_hits", 0)
	w.field("active_defrag_misses", 0)
	w.field("active_defrag_key_hits", 0)
	w.field("active_defrag_key_misses", 0)
	w.field("total_active_defrag_time", 0)
	w.field("current_active_defrag_time", 0)
	w.field("tracking_total_keys", s.TrackingTotalKeys())
	w.field("tracking_total_items", s.TrackingTotalItems())
	w.field("tracking_total_prefixes", s.TrackingTotalPrefixes())
	w.field("unexpected_error_replies", 0)
	w.field("total_error_replies", s.stats.totalErrors)
	w.field("dump_payload_sanitizations", 0)
	w.field("total_reads_processed", s.stats.totalCommands)
	w.field("total_writes_processed", s.stats.totalCommands)
	w.field("io_threaded_reads_processed", 0)
	w.field("io_threaded_writes_processed", 0)
	w.field("reply_buffer_shrinks", 0)
	w.field("reply_buffer_expands", 0)
}

// infoReplication is INFO replication (repl.go).
func (s *Server) infoReplication(w *infoWriter) { s.infoReplicationFields(w) }

func rusageTime(tv syscall.Timeval) string {
	return fmt.Sprintf("%d.%06d", tv.Sec, tv.Usec)
}

func (s *Server) infoCPU(w *infoWriter) {
	var self, children syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children)
	w.field("used_cpu_sys", rusageTime(self.Stime))
	w.field("used_cpu_user", rusageTime(self.Utime))
	w.field("used_cpu_sys_children", rusageTime(children.Stime))
	w.field("used_cpu_user_children", rusageTime(children.Utime))
	// Go has no main thread: the process's figures stand for it.
	w.field("used_cpu_sys_main_thread", rusageTime(self.Stime))
	w.field("used_cpu_user_main_thread", rusageTime(self.Utime))
}

// infoSafe replaces the characters that would break INFO's format.
func infoSafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '#', ':', '\n', '\r':
			return '_'
		}
		return r
	}, s)
}

func (s *Server) infoCommandStats(w *infoWriter) {
	names := make([]string, 0, len(s.stats.cmdStats))
	for n, st := range s.stats.cmdStats {
		if st.calls != 0 || st.failed != 0 || st.rejected != 0 {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		st := s.stats.cmdStats[n]
		perCall := 0.0
		if st.calls != 0 {
			perCall = float64(st.usec) / float64(st.calls)
		}
		w.raw("cmdstat_"+infoSafe(n), fmt.Sprintf("calls=%d,usec=%d,usec_per_call=%.2f,rejected_calls=%d,failed_calls=%d",
			st.calls, st.usec, perCall, st.rejected, st.failed))
	}
}

func (s *Server) infoErrorStats(w *infoWriter) {
	codes := make([]string, 0, len(s.stats.errorCounts))
	for code := range s.stats.errorCounts {
		codes = append(codes, code)
	}
	slices.Sort(codes)
	for _, code := range codes {
		w.raw("errorstat_"+infoSafe(code), "count="+strconv.FormatInt(s.stats.errorCounts[code], 10))
	}
}

// commandPercentiles returns a command's latency (µs) at each percentile
// from its histogram (latency.go), as hdr_value_at_percentile reads it:
// the top of the bucket holding the percentile's sample.
func (s *Server) commandPercentiles(name string, pcts []float64) ([]float64, bool) {
	h := s.commandHistogram(name)
	if h == nil {
		return nil, false
	}
	vals := make([]float64, len(pcts))
	for i, p := range pcts {
		target := max(int64(p/100*float64(h.total)+0.5), 1)
		var cum int64
		for k, n := range h.counts {
			cum += n
			if cum >= target {
				vals[i] = float64(histBucketTop(k)) / 1000
				break
			}
		}
	}
	return vals, true
}

func (s *Server) infoLatencyStats(w *infoWriter) {
	if !s.cfg.LatencyTracking {
		return
	}
	names := make([]string, 0, len(s.stats.cmdStats))
	for n := range s.stats.cmdStats {
		names = append(names, n)
	}
	slices.Sort(names)
	pcts := s.cfg.LatencyTrackingInfoPercentiles
	for _, n := range names {
		vals, ok := s.commandPercentiles(n, pcts)
		if !ok {
			continue
		}
		var b strings.Builder
		for i, p := range pcts {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "p%s=%.3f", trimFloat(p), vals[i])
		}
		w.raw("latency_percentiles_usec_"+infoSafe(n), b.String())
	}
}

func (s *Server) infoKeyspace(w *infoWriter) {
	for _, db := range s.dbs {
		keys, vkeys := db.ks.Len(), db.ks.VolatileLen()
		if keys == 0 && vkeys == 0 {
			continue
		}
		w.raw(fmt.Sprintf("db%d", db.id), fmt.Sprintf("keys=%d,expires=%d,avg_ttl=%d", keys, vkeys, s.avgTTL(db)))
	}
}

// avgTTL estimates a database's average TTL in ms from a sample of its
// volatile keys (Redis keeps a running estimate from its expire cycle).
func (s *Server) avgTTL(db *DB) int64 {
	n := db.ks.VolatileLen()
	if n == 0 {
		return 0
	}
	now := s.now()
	var sum, cnt int64
	for i := 0; i < min(n, 16); i++ {
		ref, ok := db.ks.RandomVolatile(s.rng)
		if !ok {
			break
		}
		if ttl := ref.Expire - now; ttl > 0 {
			sum += ttl
			cnt++
		}
	}
	if cnt == 0 {
		return 0
	}
	return sum / cnt
}
