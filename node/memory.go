package node

import (
	"math/rand/v2"
	"runtime/debug"
	"sort"
	"time"

	"github.com/keyfleet/keyfleet/node/keyspace"
)

// Memory accounting. A shard cannot ask the allocator what it holds
// (several shards share one Go heap), so used_memory is a model of what
// the shard's data costs in that heap:
//
//	fixed part  the hash table's bucket array and the expiry side array,
//	            known exactly from the keyspace's counters;
//	per key     an entry in the keyspace's pages, the key's name, the
//	            value, each rounded up to Go's allocation size classes;
//	clients     query and output buffers, refreshed by cron.
//
// The per-key part is the number of keys times a running average of the
// cost of keys sampled at random (by cron, and by eviction, which samples
// anyway). Redis's incremental bookkeeping would need every family to
// report each in-place change; sampling needs nothing from them, keeps
// the hot path free, and its error for a workload of many keys is a few
// percent (see TestMemoryAccountingAccuracy).

func init() {
	serverInits = append(serverInits, func(s *Server) {
		st := &memState{rng: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))}
		s.ext[memExt] = st
		s.ext["usedMemory"] = func() int64 { return s.accountedMemory() }
		s.hooks.cron = append(s.hooks.cron, s.memoryCron)
		// A small database is measured exactly, so a write to it (SETBIT
		// growing a string in place included) can be seen by the next
		// command's eviction check rather than at the next cron sample.
		prevModified := s.hooks.keyModified
		s.hooks.keyModified = func(db *DB, key []byte) {
			if prevModified != nil {
				prevModified(db, key)
			}
			if db.id < len(st.n) && db.ks.Len() <= exactBelow {
				st.n[db.id] = 0
			}
		}
		// INFO took its startup figure before this accounting existed.
		if ist, ok := s.ext[infoExt].(*infoState); ok {
			ist.startUsed = baseMemory
			ist.peak = baseMemory
		}
	})
}

const memExt = "memory"

// memState is the accounting's per-shard state.
type memState struct {
	rng *rand.Rand
	// avg is, per database, the running average cost of one key; n is how
	// many samples it has seen (0: unknown yet).
	avg     []float64
	n       []int64
	clients int64 // client buffers, as of the last cron
}

func (s *Server) memState() *memState {
	st, _ := s.ext[memExt].(*memState)
	if len(st.avg) != len(s.dbs) {
		st.avg = make([]float64, len(s.dbs))
		st.n = make([]int64, len(s.dbs))
	}
	return st
}

// Cost model constants, from the keyspace's layout (dict.go): an entry
// (keyspace.EntryBytes) in its page, a bucket an int32, a volatile key 16
// bytes.
const (
	entryCost    = keyspace.EntryBytes
	bucketCost   = 4
	volatileCost = 16
	// baseMemory stands for what an empty shard holds (tables, command
	// stats, scripting state): Redis's used_memory_startup is of that
	// order, and it keeps ratios (fragmentation, dataset %) meaningful.
	baseMemory = 512 << 10
	// sampleWeight is the weight of one new sample in the running
	// average: about the last thousand samples count (key costs vary
	// tenfold in a mixed cache; fewer samples leave a few % of noise).
	sampleWeight = 1.0 / 1024
	// cronSamples is how many keys cron samples per database and tick.
	cronSamples = 32
	// exactBelow: a database with at most this many keys is measured
	// exactly rather than sampled.
	exactBelow = 256
)

// goSizeClasses are the Go runtime's small allocation size classes
// (runtime/sizeclasses.go); larger objects take whole 8 KiB pages.
var goSizeClasses = [...]int{
	8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224,
	240, 256, 288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768,
	896, 1024, 1152, 1280, 1408, 1536, 1792, 2048, 2304, 2688, 3072, 3200,
	3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728, 10240,
	10880, 12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576,
	27264, 28672, 32768,
}

// goAllocSize is what the Go allocator hands out for a request of n bytes.
func goAllocSize(n int) int64 {
	if n <= 0 {
		return 0
	}
	if n <= goSizeClasses[len(goSizeClasses)-1] {
		i := sort.SearchInts(goSizeClasses[:], n)
		return int64(goSizeClasses[i])
	}
	return int64((n + 8191) &^ 8191)
}

// coallocMax mirrors keyspace's: a string key and value of at most this
// many bytes together share one allocation.
const coallocMax = keyspace.CoallocMax

// collectionCostFactor converts the families' Redis-style estimates
// (objectComputeSize with jemalloc classes, MEMORY USAGE's numbers) into
// Go heap cost: Go's structures (listpacks in byte slices, quicklist nodes,
// dict entries with string headers) cost more than Redis's for the same
// contents. Measured by TestMemoryAccountingAccuracy's collections.
var collectionCostFactor = [...]float64{
	keyspace.TypeList: 1.30,
	keyspace.TypeSet:  0.81,
	keyspace.TypeZSet: 0.78,
	keyspace.TypeHash: 0.865,
}

// keyCost is the Go heap cost of one key: entry, name and value. The
// expiry and bucket share are counted in the fixed part.
func keyCost(key string, o *keyspace.Object) int64 {
	if o.Type == keyspace.TypeString {
		n := cap(o.Str)
		if len(key)+n <= coallocMax {
			return entryCost + goAllocSize(keyspace.NameBytes(len(key), n))
		}
		return entryCost + goAllocSize(keyspace.NameBytes(len(key), 0)) + goAllocSize(n)
	}
	v := float64(objectMemory(o, 5))
	if int(o.Type) < len(collectionCostFactor) && collectionCostFactor[o.Type] > 0 {
		v *= collectionCostFactor[o.Type]
	}
	return entryCost + goAllocSize(keyspace.NameBytes(len(key), 0)) + int64(v)
}

// observe folds one sampled key's cost into database i's average.
func (st *memState) observe(i int, cost int64) {
	if st.n[i] == 0 {
		st.avg[i] = float64(cost)
	} else {
		w := max(sampleWeight, 1/float64(st.n[i]+1))
		st.avg[i] += (float64(cost) - st.avg[i]) * w
	}
	st.n[i]++
}

// measure refreshes database i's average: exactly when it is small, by
// sampling up to n keys otherwise.
func (s *Server) measure(st *memState, i, n int) {
	db := s.dbs[i]
	l := db.ks.Len()
	if l == 0 {
		st.n[i], st.avg[i] = 0, 0
		return
	}
	if l <= exactBelow {
		var sum int64
		db.ks.Each(func(r keyspace.KeyRef) bool {
			sum += keyCost(r.Key, r.Obj)
			return true
		})
		st.avg[i] = float64(sum) / float64(l)
		st.n[i] = int64(l)
		return
	}
	for j := 0; j < n; j++ {
		r, ok := db.ks.RandomKey(st.rng)
		if !ok {
			break
		}
		st.observe(i, keyCost(r.Key, r.Obj))
	}
}

// accountedMemory is used_memory: see the comment at the top of the file.
func (s *Server) accountedMemory() int64 {
	st := s.memState()
	total := int64(baseMemory) + st.clients
	for i, db := range s.dbs {
		l := db.ks.Len()
		if l == 0 {
			continue
		}
		if st.n[i] == 0 {
			s.measure(st, i, cronSamples)
		}
		main, rehashing := db.ks.Buckets()
		total += int64(main+rehashing)*bucketCost + int64(db.ks.VolatileLen())*volatileCost
		total += int64(float64(l) * st.avg[i])
	}
	return total
}

// datasetMemory is the part of used_memory that is keys and values.
func (s *Server) datasetMemory() int64 {
	st := s.memState()
	var total int64
	for i, db := range s.dbs {
		total += int64(float64(db.ks.Len()) * st.avg[i])
	}
	return total
}

// clientBuffers sums the clients' query and output buffers.
func (s *Server) clientBuffers() int64 {
	var n int64
	for _, cl := range s.clients {
		n += int64(cap(cl.out)) + int64(cl.pendingLen())
		if g := guardOf(cl); g != nil {
			q, f := g.queryBufferStats(0)
			n += q + f
		}
	}
	return n
}

// memoryCron keeps the samples fresh and the client buffers current.
func (s *Server) memoryCron(time.Time) {
	st := s.memState()
	st.clients = s.clientBuffers()
	for i := range s.dbs {
		s.measure(st, i, cronSamples)
	}
}

// processMemoryHeadroom is what SetProcessMemoryLimit adds to the shards'
// limits: Go's collector needs room above the live heap, and the process
// has buffers and runtime structures no shard accounts for.
const (
	processHeadroomFrac = 0.25
	processHeadroomMin  = 256 << 20
)

// SetProcessMemoryLimit sets the Go runtime's soft memory limit
// (GOMEMLIMIT) from the sum of the shards' maxmemory: total plus a
// quarter, at least 256 MiB more. Under that limit the collector works
// harder instead of letting the heap double, so a node host whose shards
// all stay under their maxmemory never reaches the machine's OOM killer.
// total <= 0 (no shard has a limit) leaves the limit as it was. It
// returns the limit set, or the current one.
func SetProcessMemoryLimit(total int64) int64 {
	if total <= 0 {
		return debug.SetMemoryLimit(-1)
	}
	limit := total + max(int64(float64(total)*processHeadroomFrac), processHeadroomMin)
	debug.SetMemoryLimit(limit)
	return limit
}
