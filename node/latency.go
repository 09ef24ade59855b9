package node

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// LATENCY: the latency monitor's event time series (latency-monitor-
// threshold) and the per-command latency histograms (latency-tracking).

func init() {
	register(map[string]handler{
		"latency|latest":    latencyLatestCommand,
		"latency|history":   latencyHistoryCommand,
		"latency|reset":     latencyResetCommand,
		"latency|graph":     latencyGraphCommand,
		"latency|doctor":    latencyDoctorCommand,
		"latency|histogram": latencyHistogramCommand,
		"latency|help":      latencyHelpCommand,
	})
}

// latencyTSLen is the history length of an event (LATENCY_TS_LEN).
const latencyTSLen = 160

type latencySample struct {
	time    int64 // unix seconds; 0 for an empty slot
	latency int64 // milliseconds
}

type latencySeries struct {
	idx     int
	max     int64
	samples [latencyTSLen]latencySample
}

type latencyState struct {
	events map[string]*latencySeries
	order  []string // event names in creation order
}

func (s *Server) latencyState() *latencyState {
	if st, ok := s.ext["latency"].(*latencyState); ok {
		return st
	}
	st := &latencyState{events: make(map[string]*latencySeries)}
	s.ext["latency"] = st
	return st
}

func (s *Server) latencyThreshold() int64 { return s.cfg.LatencyMonitorThreshold }
func (s *Server) latencyTracking() bool   { return s.cfg.LatencyTracking }

// latencyAddSampleIfNeeded records a latency event (a command, an expire
// cycle, an eviction, an fsync...) of ms milliseconds when the latency
// monitor is on and ms reaches its threshold. Subsystems call it.
func (s *Server) latencyAddSampleIfNeeded(event string, ms int64) {
	if th := s.latencyThreshold(); th > 0 && ms >= th {
		s.latencyAddSample(event, ms)
	}
}

// latencyAddSample stores one sample; samples of the same second keep
// the highest latency, as Redis's latencyAddSample.
func (s *Server) latencyAddSample(event string, ms int64) {
	st := s.latencyState()
	ts := st.events[event]
	if ts == nil {
		ts = &latencySeries{}
		st.events[event] = ts
		st.order = append(st.order, event)
	}
	now := time.Now().Unix()
	ts.max = max(ts.max, ms)
	prev := (ts.idx + latencyTSLen - 1) % latencyTSLen
	if ts.samples[prev].time == now {
		ts.samples[prev].latency = max(ts.samples[prev].latency, ms)
		return
	}
	ts.samples[ts.idx] = latencySample{time: now, latency: ms}
	ts.idx = (ts.idx + 1) % latencyTSLen
}

// resetEvent drops the event named (case-insensitively), or every event
// for "", and returns how many were dropped.
func (st *latencyState) resetEvent(name string) int {
	n := 0
	keep := st.order[:0]
	for _, ev := range st.order {
		if name == "" || strings.EqualFold(ev, name) {
			delete(st.events, ev)
			n++
			continue
		}
		keep = append(keep, ev)
	}
	st.order = keep
	return n
}

func latencyLatestCommand(s *Server, c *Client, args [][]byte) {
	st := s.latencyState()
	c.ArrayLen(len(st.order))
	for _, ev := range st.order {
		ts := st.events[ev]
		last := ts.samples[(ts.idx+latencyTSLen-1)%latencyTSLen]
		c.ArrayLen(4)
		c.BulkString(ev)
		c.Int(last.time)
		c.Int(last.latency)
		c.Int(ts.max)
	}
}

func latencyHistoryCommand(s *Server, c *Client, args [][]byte) {
	ts := s.latencyState().events[string(args[2])]
	if ts == nil {
		c.ArrayLen(0)
		return
	}
	var samples []latencySample
	for j := 0; j < latencyTSLen; j++ {
		if sm := ts.samples[(ts.idx+j)%latencyTSLen]; sm.time != 0 {
			samples = append(samples, sm)
		}
	}
	c.ArrayLen(len(samples))
	for _, sm := range samples {
		c.ArrayLen(2)
		c.Int(sm.time)
		c.Int(sm.latency)
	}
}

func latencyResetCommand(s *Server, c *Client, args [][]byte) {
	st := s.latencyState()
	if len(args) == 2 {
		c.Int(int64(st.resetEvent("")))
		return
	}
	n := 0
	for _, a := range args[2:] {
		n += st.resetEvent(string(a))
	}
	c.Int(int64(n))
}

func latencyGraphCommand(s *Server, c *Client, args [][]byte) {
	name := string(args[2])
	ts := s.latencyState().events[name]
	if ts == nil {
		c.Error("ERR No samples available for event '" + name + "'")
		return
	}
	c.Verbatim(latencyGraph(name, ts, time.Now().Unix()), "txt")
}

// latencyGraph draws an event's samples as Redis's sparkline: four rows
// of "_o#|" over the samples, each labelled with how long ago it was.
func latencyGraph(event string, ts *latencySeries, now int64) string {
	type point struct {
		v     float64
		label string
	}
	var pts []point
	var lo, hi int64
	for j := 0; j < latencyTSLen; j++ {
		sm := ts.samples[(ts.idx+j)%latencyTSLen]
		if sm.time == 0 {
			continue
		}
		if len(pts) == 0 {
			lo, hi = sm.latency, sm.latency
		} else {
			lo, hi = min(lo, sm.latency), max(hi, sm.latency)
		}
		el := now - sm.time
		var label string
		switch {
		case el < 60:
			label = strconv.FormatInt(el, 10) + "s"
		case el < 3600:
			label = strconv.FormatInt(el/60, 10) + "m"
		case el < 86400:
			label = strconv.FormatInt(el/3600, 10) + "h"
		default:
			label = strconv.FormatInt(el/86400, 10) + "d"
		}
		pts = append(pts, point{float64(sm.latency), label})
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s - high %d ms, low %d ms (all time high %d ms)\n", event, hi, lo, ts.max)
	b.WriteString(strings.Repeat("-", 80))
	b.WriteByte('\n')
	const rows, cols = 4, 80
	const fill = "_o#"
	for off := 0; off < len(pts); off += cols {
		if off != 0 {
			b.WriteByte('\n')
		}
		part := pts[off:min(off+cols, len(pts))]
		minV, maxV := part[0].v, part[0].v
		for _, p := range pts {
			minV, maxV = math.Min(minV, p.v), math.Max(maxV, p.v)
		}
		rel := maxV - minV
		if rel == 0 {
			rel = 1
		}
		steps := len(fill) * rows
		line := make([]byte, len(part))
		for row := 0; ; row++ {
			any := false
			for j := range line {
				line[j] = ' '
			}
			for j, p := range part {
				step := int((p.v - minV) * float64(steps) / rel)
				step = max(0, min(step, steps-1))
				if row < rows {
					any = true
					ci := step - (rows-row-1)*len(fill)
					if ci >= 0 && ci < len(fill) {
						line[j] = fill[ci]
					} else if ci >= len(fill) {
						line[j] = '|'
					}
					continue
				}
				if row-rows < 1 { // the margin above the labels
					any = true
					break
				}
				if k := row - rows - 1; k < len(p.label) {
					any = true
					line[j] = p.label[k]
				}
			}
			if !any {
				break
			}
			b.Write(line)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

func latencyDoctorCommand(s *Server, c *Client, args [][]byte) {
	c.Verbatim(s.latencyReport(), "txt")
}

// latencyStats summarises an event's samples (analyzeLatencyForEvent).
func latencyStats(ts *latencySeries, now int64) (samples int, avg, mad int64, period int64) {
	var sum, oldest int64
	for _, sm := range ts.samples {
		if sm.time == 0 {
			continue
		}
		samples++
		sum += sm.latency
		if oldest == 0 || sm.time < oldest {
			oldest = sm.time
		}
	}
	if samples == 0 {
		return 0, 0, 0, 0
	}
	avg = sum / int64(samples)
	period = max(now-oldest, 1)
	var dev int64
	for _, sm := range ts.samples {
		if sm.time == 0 {
			continue
		}
		d := avg - sm.latency
		if d < 0 {
			d = -d
		}
		dev += d
	}
	return samples, avg, dev / int64(samples), period
}

// latencyReport is LATENCY DOCTOR's analysis (Redis's createLatencyReport).
func (s *Server) latencyReport() string {
	st := s.latencyState()
	if len(st.order) == 0 && s.latencyThreshold() == 0 {
		return "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n"
	}
	var b strings.Builder
	advise := map[string]bool{}
	advices := 0
	add := func(names ...string) {
		for _, n := range names {
			advise[n] = true
		}
		advices += len(names)
	}
	now := time.Now().Unix()
	for i, ev := range st.order {
		ts := st.events[ev]
		if i == 0 {
			b.WriteString("Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n")
		}
		n, avg, mad, period := latencyStats(ts, now)
		fmt.Fprintf(&b, "%d. %s: %d latency spikes (average %dms, mean deviation %dms, period %.2f sec). Worst all time event %dms.",
			i+1, ev, n, avg, mad, float64(period)/float64(max(n, 1)), ts.max)
		switch strings.ToLower(ev) {
		case "command":
			if s.cfg.SlowlogLogSlowerThan < 0 {
				add("slowlog-enabled")
			} else if s.cfg.SlowlogLogSlowerThan/1000 > s.latencyThreshold() {
				add("slowlog-tuning")
			}
			add("slowlog-inspect", "large-objects")
		case "fast-command":
			add("scheduler")
		case "aof-write-pending-fsync":
			add("local-disk", "disk-contention", "ssd", "data-writeback")
		case "aof-write-active-child":
			add("no-appendfsync", "data-writeback", "ssd")
		case "aof-write-alone":
			add("local-disk", "data-writeback", "ssd")
		case "aof-fsync-always":
			add("relax-fsync")
		case "aof-fstat", "rdb-unlink-temp-file":
			add("disk-contention", "local-disk")
		case "aof-rewrite-diff-write", "aof-rename":
			add("write-load", "data-writeback", "ssd", "local-disk")
		case "expire-cycle":
			add("hz", "large-objects")
		case "eviction-del":
			add("large-objects")
		case "eviction-cycle":
			add("mass-eviction")
		}
		b.WriteByte('\n')
	}
	if anonHugePages() > 0 {
		add("disable-thp")
	}
	switch {
	case len(st.order) == 0 && advices == 0:
		b.WriteString("Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n")
	case len(st.order) > 0 && advices == 0:
		b.WriteString("\nWhile there are latency events logged, I'm not able to suggest any easy fix. Please use the Redis community to get some help, providing this report in your help request.\n")
	default:
		b.WriteString("\nI have a few advices for you:\n\n")
		th := s.latencyThreshold() * 1000
		for _, a := range latencyAdvices {
			if !advise[a.key] {
				continue
			}
			switch a.key {
			case "relax-fsync":
				if s.cfg.AppendFsync != "always" {
					continue
				}
			case "hz":
				if s.cfg.Hz >= 100 {
					continue
				}
			}
			if strings.Contains(a.text, "%d") {
				fmt.Fprintf(&b, a.text, th)
			} else {
				b.WriteString(a.text)
			}
		}
	}
	return b.String()
}

var latencyAdvices = []struct{ key, text string }{
	{"better-vm", "- If you are using a virtual machine, consider upgrading it with a faster one using a hypervisior that provides less latency during fork() calls. Xen is known to have poor fork() performance. Even in the context of the same VM provider, certain kinds of instances can execute fork faster than others.\n"},
	{"slowlog-enabled", "- There are latency issues with potentially slow commands you are using. Try to enable the Slow Log Redis feature using the command 'CONFIG SET slowlog-log-slower-than %d'. If the Slow log is disabled Redis is not able to log slow commands execution for you.\n"},
	{"slowlog-tuning", "- Your current Slow Log configuration only logs events that are slower than your configured latency monitor threshold. Please use 'CONFIG SET slowlog-log-slower-than %d'.\n"},
	{"slowlog-inspect", "- Check your Slow Log to understand what are the commands you are running which are too slow to execute. Please check https://redis.io/commands/slowlog for more information.\n"},
	{"scheduler", "- The system is slow to execute Redis code paths not containing system calls. This usually means the system does not provide Redis CPU time to run for long periods. You should try to:\n" +
		"  1) Lower the system load.\n" +
		"  2) Use a computer / VM just for Redis if you are running other software in the same system.\n" +
		"  3) Check if you have a \"noisy neighbour\" problem.\n" +
		"  4) Check with 'redis-cli --intrinsic-latency 100' what is the intrinsic latency in your system.\n" +
		"  5) Check if the problem is allocator-related by recompiling Redis with MALLOC=libc, if you are using Jemalloc. However this may create fragmentation problems.\n"},
	{"local-disk", "- It is strongly advised to use local disks for persistence, especially if you are using AOF. Remote disks provided by platform-as-a-service providers are known to be slow.\n"},
	{"ssd", "- SSD disks are able to reduce fsync latency, and total time needed for snapshotting and AOF log rewriting (resulting in smaller memory usage). With extremely high write load SSD disks can be a good option. However Redis should perform reasonably with high load using normal disks. Use this advice as a last resort.\n"},
	{"data-writeback", "- Mounting ext3/4 filesystems with data=writeback can provide a performance boost compared to data=ordered, however this mode of operation provides less guarantees, and sometimes it can happen that after a hard crash the AOF file will have a half-written command at the end and will require to be repaired before Redis restarts.\n"},
	{"disk-contention", "- Try to lower the disk contention. This is often caused by other disk intensive processes running in the same computer (including other Redis instances).\n"},
	{"no-appendfsync", "- Assuming from the point of view of data safety this is viable in your environment, you could try to enable the 'no-appendfsync-on-rewrite' option, so that fsync will not be performed while there is a child rewriting the AOF file or producing an RDB file (the moment where there is high disk contention).\n"},
	{"relax-fsync", "- Your fsync policy is set to 'always'. It is very hard to get good performances with such a setup, if possible try to relax the fsync policy to 'onesec'.\n"},
	{"write-load", "- Latency during the AOF atomic rename operation or when the final difference is flushed to the AOF file at the end of the rewrite, sometimes is caused by very high write load, causing the AOF buffer to get very large. If possible try to send less commands to accomplish the same work, or use Lua scripts to group multiple operations into a single EVALSHA call.\n"},
	{"hz", "- In order to make the Redis keys expiring process more incremental, try to set the 'hz' configuration parameter to 100 using 'CONFIG SET hz 100'.\n"},
	{"large-objects", "- Deleting, expiring or evicting (because of maxmemory policy) large objects is a blocking operation. If you have very large objects that are often deleted, expired, or evicted, try to fragment those objects into multiple smaller objects.\n"},
	{"mass-eviction", "- Sudden changes to the 'maxmemory' setting via 'CONFIG SET', or allocation of large objects via sets or sorted sets intersections, STORE option of SORT, Redis Cluster large keys migrations (RESTORE command), may create sudden memory pressure forcing the server to block trying to evict keys. \n"},
	{"disable-thp", "- I detected a non zero amount of anonymous huge pages used by your process. This creates very serious latency events in different conditions, especially when Redis is persisting on disk. To disable THP support use the command 'echo never > /sys/kernel/mm/transparent_hugepage/enabled', make sure to also add it into /etc/rc.local so that the command will be executed again after a reboot. Note that even if you have already disabled THP, you still need to restart the Redis process to get rid of the huge pages already created.\n"},
}

// anonHugePages returns the process's AnonHugePages in kB (Linux), 0 if
// unknown.
func anonHugePages() int64 {
	data, err := os.ReadFile("/proc/self/smaps_rollup")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "AnonHugePages:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}

// Per-command latency histograms, as Redis's HdrHistogram with 2
// significant digits read through a log iterator starting at 1024ns with
// base 2: bucket k counts calls up to the highest value equivalent to
// 1024<<k ns. Durations are clamped to [1ns, 1s] as Redis records them.
const latencyBuckets = 21

type latencyHist struct {
	counts [latencyBuckets]int64
	total  int64
}

// histBucketTop is the highest value (ns) HdrHistogram treats as
// equivalent to 1024<<k at 2 significant digits: its sub-bucket is
// 8<<k wide.
func histBucketTop(k int) int64 { return 1024<<k + 8<<k - 1 }

func (h *latencyHist) record(d time.Duration) {
	ns := min(max(int64(d), 1), int64(time.Second))
	k := 0
	for k < latencyBuckets-1 && ns > histBucketTop(k) {
		k++
	}
	h.counts[k]++
	h.total++
}

// recordCommandLatency adds a call's duration to its command's histogram.
// The histogram lives with the command's stats, so CONFIG RESETSTAT
// clears both; a stats entry whose call count restarted at one gets a
// fresh histogram.
func (s *Server) recordCommandLatency(cmd *command, d time.Duration) {
	st := s.stats.cmdStats[cmd.Name]
	if st == nil {
		return
	}
	if st.hist == nil || st.calls <= 1 {
		st.hist = &latencyHist{}
	}
	st.hist.record(d)
}

// replyHistogram writes one command's "calls"/"histogram_usec" map.
func replyHistogram(c *Client, h *latencyHist) {
	c.MapLen(2)
	c.BulkString("calls")
	c.Int(h.total)
	c.BulkString("histogram_usec")
	n := 0
	for _, v := range h.counts {
		if v > 0 {
			n++
		}
	}
	c.MapLen(n)
	var cum int64
	for k, v := range h.counts {
		if v == 0 {
			continue
		}
		cum += v
		c.Int(histBucketTop(k) / 1000)
		c.Int(cum)
	}
}

func (s *Server) commandHistogram(name string) *latencyHist {
	st := s.stats.cmdStats[name]
	if st == nil || st.hist == nil || st.calls == 0 || st.hist.total == 0 {
		return nil
	}
	return st.hist
}

func latencyHistogramCommand(s *Server, c *Client, args [][]byte) {
	type entry struct {
		name string
		h    *latencyHist
	}
	var out []entry
	addCmd := func(cmd *command) {
		if h := s.commandHistogram(cmd.Name); h != nil {
			out = append(out, entry{cmd.Name, h})
		}
		for _, sc := range cmd.subs {
			if h := s.commandHistogram(sc.Name); h != nil {
				out = append(out, entry{sc.Name, h})
			}
		}
	}
	if len(args) == 2 {
		names := make([]string, 0, len(commandTable()))
		for name := range commandTable() {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			addCmd(commandTable()[name])
		}
	} else {
		for _, a := range args[2:] {
			name := strings.ToLower(string(a))
			if top, sub, ok := strings.Cut(name, "|"); ok {
				if cmd := lookupCommand([]byte(top)); cmd != nil {
					if sc := cmd.sub([]byte(sub)); sc != nil {
						if h := s.commandHistogram(sc.Name); h != nil {
							out = append(out, entry{sc.Name, h})
						}
					}
				}
				continue
			}
			if cmd := lookupCommand([]byte(name)); cmd != nil {
				addCmd(cmd)
			}
		}
	}
	c.MapLen(len(out))
	for _, e := range out {
		c.BulkString(e.name)
		replyHistogram(c, e.h)
	}
}

var latencyHelp = []string{
	"DOCTOR",
	"    Return a human readable latency analysis report.",
	"GRAPH <event>",
	"    Return an ASCII latency graph for the <event> class.",
	"HISTORY <event>",
	"    Return time-latency samples for the <event> class.",
	"LATEST",
	"    Return the latest latency samples for all events.",
	"RESET [<event> ...]",
	"    Reset latency data of one or more <event> classes.",
	"    (default: reset all data for all event classes)",
	"HISTOGRAM [COMMAND ...]",
	"    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
	"    If no commands are specified then all histograms are replied.",
}

func latencyHelpCommand(s *Server, c *Client, args [][]byte) {
	replyHelp(c, args[0], latencyHelp)
}
