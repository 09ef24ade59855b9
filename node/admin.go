package node

import (
	"fmt"
	"strings"
	"time"

	"github.com/keyfleet/keyfleet/node/keyspace"
)

// Server administration: SHUTDOWN, TIME, LASTSAVE, WAIT and MEMORY.
// Saving on shutdown and replica acknowledgements belong to persistence
// and replication; they plug in through adminState's hooks.

func init() {
	register(map[string]handler{
		"shutdown":            shutdownCommand,
		"time":                timeCommand,
		"lastsave":            lastsaveCommand,
		"memory|usage":        memoryUsageCommand,
		"memory|stats":        memoryStatsCommand,
		"memory|doctor":       memoryDoctorCommand,
		"memory|malloc-stats": memoryMallocStatsCommand,
		"memory|purge":        memoryPurgeCommand,
		"memory|help":         memoryHelpCommand,
	})
	serverInits = append(serverInits, func(s *Server) {
		s.adminState().lastSave = time.Now().Unix()
	})
}

// adminState holds the hooks other subsystems provide and LASTSAVE.
type adminState struct {
	// save writes the dataset for SHUTDOWN (persistence); nil: nothing to
	// save with.
	save func() error
	// beforeShutdown lets replication let replicas catch up (SHUTDOWN
	// without NOW waits up to shutdown-timeout); an error aborts.
	beforeShutdown func(now, force bool) error
	// lastSave is the unix time of the last successful save.
	lastSave int64
	// waitCh is closed (and replaced) when acknowledgements arrive, to
	// wake WAIT.
	waitCh chan struct{}
}

func (s *Server) adminState() *adminState {
	if st, ok := s.ext["admin"].(*adminState); ok {
		return st
	}
	st := &adminState{waitCh: make(chan struct{})}
	s.ext["admin"] = st
	return st
}

// setLastSave records a successful save for LASTSAVE (persistence).
func (s *Server) setLastSave(unix int64) { s.adminState().lastSave = unix }

// replicaAcksChanged wakes the clients in WAIT (replication calls it).
func (s *Server) replicaAcksChanged() {
	st := s.adminState()
	close(st.waitCh)
	st.waitCh = make(chan struct{})
}

// denyBlocking reports whether c cannot block (Redis's
// CLIENT_DENY_BLOCKING): in MULTI, inside EXEC or a script. Blocking
// there would release the shard lock in the middle of an atomic unit.
func (s *Server) denyBlocking(c *Client) bool {
	return c.flags&(flagMulti|flagLuaClient) != 0 || s.connState().callDepth > 1
}

// denyBlocking is Server.denyBlocking for c's server.
func denyBlocking(c *Client) bool {
	if c.srv == nil {
		return c.flags&(flagMulti|flagLuaClient) != 0
	}
	return c.srv.denyBlocking(c)
}

func shutdownCommand(s *Server, c *Client, args [][]byte) {
	var nosave, save, now, force, abort bool
	for _, a := range args[1:] {
		switch strings.ToLower(string(a)) {
		case "nosave":
			nosave = true
		case "save":
			save = true
		case "now":
			now = true
		case "force":
			force = true
		case "abort":
			abort = true
		default:
			c.Error(errSyntax)
			return
		}
	}
	if (abort && (nosave || save || now || force)) || (nosave && save) {
		c.Error(errSyntax)
		return
	}
	if abort {
		// A shutdown never waits here (no replicas to wait for), so
		// there is never one in progress to abort.
		c.Error("ERR No shutdown in progress.")
		return
	}
	if !now && s.denyBlocking(c) {
		c.Error("ERR SHUTDOWN without NOW or ABORT isn't allowed for DENY BLOCKING client")
		return
	}
	st := s.adminState()
	if st.beforeShutdown != nil {
		if err := st.beforeShutdown(now, force); err != nil && !force {
			c.Error("ERR Errors trying to SHUTDOWN. Check logs.")
			return
		}
	}
	if (save || (len(s.cfg.Save) > 0 && !nosave)) && st.save != nil {
		if err := st.save(); err != nil {
			s.log.Error("error trying to save the DB on shutdown", "err", err)
			if !force {
				c.Error("ERR Errors trying to SHUTDOWN. Check logs.")
				return
			}
		}
	}
	s.log.Warn("User requested shutdown...", "client", c.addr)
	// No reply: the connection closes with the server, as Redis exits.
	c.closeAfterReply = true
	s.Shutdown()
}

func timeCommand(s *Server, c *Client, args [][]byte) {
	now := time.Now()
	c.ArrayLen(2)
	c.BulkInt(now.Unix())
	c.BulkInt(int64(now.Nanosecond() / 1000))
}

func lastsaveCommand(s *Server, c *Client, args [][]byte) {
	c.Int(s.adminState().lastSave)
}

var memoryHelp = []string{
	"DOCTOR",
	"    Return memory problems reports.",
	"MALLOC-STATS",
	"    Return internal statistics report from the memory allocator.",
	"PURGE",
	"    Attempt to purge dirty pages for reclamation by the allocator.",
	"STATS",
	"    Return information about the memory usage of the server.",
	"USAGE <key> [SAMPLES <count>]",
	"    Return memory in bytes used by <key> and its value. Nested values are",
	"    sampled up to <count> times (default: 5, 0 means sample all).",
}

func memoryHelpCommand(s *Server, c *Client, args [][]byte) { replyHelp(c, args[0], memoryHelp) }

// memoryTypes estimate the memory of values of a type (samples: how many
// nested elements to sample, math.MaxInt64 for all), registered by the
// type families from init functions.
var memoryTypes = map[keyspace.Type]func(o *keyspace.Object, samples int64) int64{}

func registerMemoryUsage(t keyspace.Type, f func(o *keyspace.Object, samples int64) int64) {
	if _, dup := memoryTypes[t]; dup {
		panic("node: memory usage registered twice for " + t.String())
	}
	memoryTypes[t] = f
}

// robjSize is sizeof(robj) and dictEntrySize sizeof(dictEntry).
const (
	robjSize      = 16
	dictEntrySize = 24
)

// sdsAllocSize is what jemalloc gives an sds string of capacity n.
func sdsAllocSize(n int) int64 {
	return int64(jemallocSize(sdsHeaderSize(n) + n + 1))
}

// objectMemory is Redis's objectComputeSize for the value.
func objectMemory(o *keyspace.Object, samples int64) int64 {
	if o.Type == keyspace.TypeString {
		switch o.Enc {
		case keyspace.EncInt:
			return robjSize
		case keyspace.EncEmbStr:
			return int64(jemallocSize(robjSize + 3 + len(o.Str) + 1))
		default:
			return sdsAllocSize(cap(o.Str)) + robjSize
		}
	}
	if f := memoryTypes[o.Type]; f != nil {
		return f(o, samples)
	}
	return robjSize
}

func memoryUsageCommand(s *Server, c *Client, args [][]byte) {
	samples := int64(5)
	for j := 3; j < len(args); j++ {
		if !strings.EqualFold(string(args[j]), "samples") || j+1 >= len(args) {
			c.Error(errSyntax)
			return
		}
		v, ok := parseRedisInt64(args[j+1])
		if !ok {
			c.Error(errNotInt)
			return
		}
		if v < 0 {
			c.Error(errSyntax)
			return
		}
		if v == 0 {
			v = 1<<63 - 1
		}
		samples = v
		j++
	}
	// As Redis, a direct dictionary lookup: a logically expired key that
	// is still in memory is measured.
	o := rawLookup(c, args[2])
	if o == nil {
		c.Null()
		return
	}
	key := args[2]
	c.Int(objectMemory(o, samples) + sdsAllocSize(len(key)) + dictEntrySize)
}

func memoryStatsCommand(s *Server, c *Client, args [][]byte) {
	st := s.infoState()
	used := s.usedMemory()
	if used > st.peak {
		st.peak = used
	}
	objects, unused, _, released, total := heapStats()
	rss := processRSS()
	active := objects + unused
	resident := total - released
	startup := st.startUsed
	var clients int64
	for _, cl := range s.clients {
		clients += int64(cap(cl.out)) + int64(cl.pendingLen())
		if g := guardOf(cl); g != nil {
			q, f := g.queryBufferStats(0)
			clients += q + f
		}
	}
	type dbOverhead struct{ id, main, expires int64 }
	var dbs []dbOverhead
	var keys int64
	var overheadDBs int64
	for _, db := range s.dbs {
		n := int64(db.ks.Len())
		if n == 0 {
			continue
		}
		keys += n
		main, _ := db.ks.Buckets()
		d := dbOverhead{id: int64(db.id), main: n*dictEntrySize + int64(main)*8 + robjSize*n, expires: int64(db.ks.VolatileLen()) * (dictEntrySize + 8)}
		overheadDBs += d.main + d.expires
		dbs = append(dbs, d)
	}
	overhead := startup + clients + overheadDBs
	dataset := max(used-overhead, 0)
	var perKey int64
	if keys > 0 {
		perKey = (used - startup) / keys
	}
	c.MapLen(27 + len(dbs))
	field := func(name string, v int64) {
		c.BulkString(name)
		c.Int(v)
	}
	ratioField := func(name string, v float64) {
		c.BulkString(name)
		c.Double(v)
	}
	field("peak.allocated", st.peak)
	field("total.allocated", used)
	field("startup.allocated", startup)
	field("replication.backlog", 0)
	field("clients.slaves", 0)
	field("clients.normal", clients)
	field("cluster.links", 0)
	field("aof.buffer", 0)
	field("lua.caches", 0)
	field("functions.caches", 0)
	for _, d := range dbs {
		c.BulkString(fmt.Sprintf("db.%d", d.id))
		c.MapLen(3)
		field("overhead.hashtable.main", d.main)
		field("overhead.hashtable.expires", d.expires)
		field("overhead.hashtable.slot-to-keys", 0)
	}
	field("overhead.total", overhead)
	field("keys.count", keys)
	field("keys.bytes-per-key", perKey)
	field("dataset.bytes", dataset)
	ratioField("dataset.percentage", 100*ratio(dataset, max(used-startup, 1)))
	ratioField("peak.percentage", 100*ratio(used, st.peak))
	field("allocator.allocated", objects)
	field("allocator.active", active)
	field("allocator.resident", resident)
	ratioField("allocator-fragmentation.ratio", ratio(active, objects))
	field("allocator-fragmentation.bytes", active-objects)
	ratioField("allocator-rss.ratio", ratio(resident, active))
	field("allocator-rss.bytes", resident-active)
	ratioField("rss-overhead.ratio", ratio(rss, resident))
	field("rss-overhead.bytes", rss-resident)
	ratioField("fragmentation", ratio(rss, used))
	field("fragmentation.bytes", rss-used)
}

// memoryDoctorCommand reports as Redis's getMemoryDoctorReport: the
// empty-instance and healthy cases, or the problems it can see.
func memoryDoctorCommand(s *Server, c *Client, args [][]byte) {
	st := s.infoState()
	used := s.usedMemory()
	var report string
	switch {
	case used < 5<<20:
		report = "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n"
	default:
		var issues []string
		if st.peak > 0 && float64(st.peak)/float64(used) > 1.5 {
			issues = append(issues, " * Peak memory: In the past this instance used more than 150% the memory that is currently using. The allocator is normally not able to release memory after a peak, so you can expect to see a big fragmentation ratio, however this is actually harmless and is only due to the memory peak, and if the Redis instance Resident Set Size (RSS) is currently bigger than expected, the memory will be used as soon as you fill the Redis instance with more data. If the memory peak was only occasional and you want to try to reclaim memory, please try the MEMORY PURGE command, otherwise the only other option is to shutdown and restart the instance.\n\n")
		}
		if rss := processRSS(); rss > 0 && float64(rss)/float64(used) > 1.4 && rss-used > 10<<20 {
			issues = append(issues, fmt.Sprintf(" * High total RSS: This instance has a memory fragmentation and RSS overhead greater than 1.4 (this means that the Resident Set Size of the Redis process is much larger than the sum of the logical allocations Redis performed). This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. If the problem is a large peak memory, then there is no issue. Otherwise, make sure you are using the Jemalloc allocator and not the default libc malloc. Note: The currently used allocator is \"go\".\n\n"))
		}
		if len(issues) == 0 {
			report = "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n"
		} else {
			report = "Sam, I detected a few issues in this Redis instance memory implants:\n\n" + strings.Join(issues, "") +
				"I'm here to keep you safe, Sam. I want to help you.\n"
		}
	}
	c.Verbatim(report, "txt")
}

func memoryMallocStatsCommand(s *Server, c *Client, args [][]byte) {
	// Redis built without jemalloc replies this.
	c.BulkString("Stats not supported for the current allocator")
}

func memoryPurgeCommand(s *Server, c *Client, args [][]byte) {
	c.OK()
}
