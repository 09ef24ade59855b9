package node

import (
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/keyfleet/keyfleet/internal/commands"
	"github.com/keyfleet/keyfleet/node/aof"
	"github.com/keyfleet/keyfleet/node/keyspace"
	"github.com/keyfleet/keyfleet/node/rdb"
)

// RDB persistence: SAVE, BGSAVE, save points, the INFO persistence
// fields, saving on SHUTDOWN, DEBUG RELOAD and loading at start. The
// value codecs are in rdbtypes.go, the format's primitives in node/rdb.
//
// BGSAVE without fork. Redis forks and lets the kernel's copy-on-write
// keep the child's view frozen. Go cannot fork, and copying the dataset
// would double memory, so a background save is an incremental snapshot
// of the instant BGSAVE ran (T), taken while the shard keeps serving:
//
//   - A writer goroutine repeatedly takes the shard lock, walks the next
//     slice of the current database with the keyspace's SCAN cursor,
//     serializes the keys of the slice into a buffer, releases the lock
//     and writes the buffer to the file. The shard serves between slices.
//   - Every key serialized is remembered in the snapshot's visited set
//     (key names only). The walker skips visited keys, which also
//     absorbs the duplicates SCAN may return across a rehash.
//   - Before a write command runs (the beforeCall hook), each key it
//     names that the snapshot has not visited is serialized first, with
//     its value as of T (it has not changed since: every change goes
//     through a command), and marked visited; an absent key is marked
//     visited without output, so a key created after T never enters the
//     file. This is Dragonfly's "serialize before the first mutation".
//   - Commands whose keys cannot be known in advance (FLUSHALL, FLUSHDB,
//     SWAPDB, MOVE, COPY, scripts, DEBUG) first finish the whole
//     snapshot synchronously: rare, and correct.
//
// Memory stays at the dataset plus the visited key names plus one slice
// of output, never a copy of the values. Keys are emitted in whatever
// order the walk and the writes dictate; each carries its own SELECTDB
// when the database changes, which the format allows.
//
// What the snapshot does not freeze: keys deleted between T and their
// visit by expiry (they would be dropped at load anyway, their time
// having passed) or by eviction (maxmemory), and a key changed by a
// blocked client served on another key's push (BLMOVE's destination):
// those reach the file in their state at the visit.

func init() {
	register(map[string]handler{
		"save":   saveCommand,
		"bgsave": bgsaveCommand,
	})
	interceptors = append(interceptors, diskErrorInterceptor)
	serverInits = append(serverInits, func(s *Server) {
		st := &persistState{lastBgsaveOK: true, lastBgsaveSec: -1, sliceKeys: sliceKeys, aof: s.aof()}
		s.ext[persistExt] = st
		s.ext["loading"] = func() bool { return st.loading }
		s.hooks.cron = append(s.hooks.cron, s.saveCron)
		s.adminState().save = func() error {
			// SHUTDOWN kills a background save, as Redis its child.
			s.abortBgsave()
			s.waitBgsave()
			return s.saveRDBSync()
		}
		ds := s.debugState()
		ds.reload = s.debugReloadRDB
		ds.serializedLen = func(key []byte, o *keyspace.Object) int64 {
			var cw countWriter
			w := rdb.NewWriter(&cw, s.cfg.RDBCompression)
			saveObject(w, o, nil)
			w.Flush()
			return cw.n - 1 // without the type byte, as rdbSavedObjectLen
		}
	})
	onInfoField("rdb_changes_since_last_save", func(s *Server) string { return strconv.FormatInt(s.dirty, 10) })
	onInfoField("rdb_bgsave_in_progress", func(s *Server) string { return boolDigit(s.persist().bg != nil) })
	onInfoField("rdb_last_save_time", func(s *Server) string { return strconv.FormatInt(s.adminState().lastSave, 10) })
	onInfoField("rdb_last_bgsave_status", func(s *Server) string { return okErr(s.persist().lastBgsaveOK) })
	onInfoField("rdb_last_bgsave_time_sec", func(s *Server) string { return strconv.FormatInt(s.persist().lastBgsaveSec, 10) })
	onInfoField("rdb_current_bgsave_time_sec", func(s *Server) string {
		if bg := s.persist().bg; bg != nil {
			return strconv.FormatInt(int64(time.Since(bg.start).Seconds()), 10)
		}
		return "-1"
	})
	onInfoField("rdb_saves", func(s *Server) string { return strconv.FormatInt(s.persist().saves, 10) })
	onInfoField("rdb_last_load_keys_expired", func(s *Server) string { return strconv.FormatInt(s.persist().loadExpired, 10) })
	onInfoField("rdb_last_load_keys_loaded", func(s *Server) string { return strconv.FormatInt(s.persist().loadLoaded, 10) })
	onInfoField("current_save_keys_processed", func(s *Server) string {
		if bg := s.persist().bg; bg != nil {
			return strconv.FormatInt(bg.keys, 10)
		}
		return "0"
	})
	onInfoField("current_save_keys_total", func(s *Server) string {
		if bg := s.persist().bg; bg != nil {
			return strconv.FormatInt(bg.total, 10)
		}
		return "0"
	})
}

func boolDigit(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func okErr(ok bool) string {
	if ok {
		return "ok"
	}
	return "err"
}

const persistExt = "persistence"

type persistState struct {
	bg            *bgsave
	lastBgsaveOK  bool
	lastBgsaveSec int64
	lastTry       time.Time // last failed background save, for the retry delay
	saves         int64
	loadExpired   int64
	loadLoaded    int64
	loading       bool
	// loadYield, set while a replica loads its primary's payload, lets
	// clients in between slices of the load (they get -LOADING); the
	// loading_* INFO fields follow it.
	loadYield  func()
	loadStart  time.Time
	loadTotal  int64
	loadedSize int64
	scheduled  bool // BGSAVE SCHEDULE waiting for an AOF rewrite
	sliceKeys  int  // keys per lock hold of a background save (tests lower it)
	aof        *aofState
}

func (s *Server) persist() *persistState { return s.ext[persistExt].(*persistState) }

type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

// Redis's -MISCONF replies (shared.bgsaveerr and the AOF variant).
const (
	errMisconfRDB = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error."
	errMisconfAOF = "MISCONF Errors writing to the AOF file: "
)

// diskError is Redis's writeCommandsDeniedByDiskError with its message:
// "" while writes may go on. A failed background save refuses writes
// while save points are set and stop-writes-on-bgsave-error is on, until
// a save succeeds; a failed AOF write or fsync refuses them until the
// AOF is written again.
func (s *Server) diskError() string {
	if s.cfg.StopWritesOnBgsaveError && len(s.cfg.Save) > 0 && !s.persist().lastBgsaveOK {
		return errMisconfRDB
	}
	if err := s.aofError(); err != nil {
		return errMisconfAOF + strerror(err)
	}
	return ""
}

// diskErrorInterceptor refuses writes (and PING, as Redis does) while
// persistence is failing. The primary's commands are applied regardless:
// a replica's data is its primary's.
func diskErrorInterceptor(s *Server, c *Client, cmd *command, args [][]byte) bool {
	// The common configurations decide from the config alone, without
	// looking the persistence state up.
	if c.flags&flagPrimary != 0 || !s.cfg.AppendOnly && (len(s.cfg.Save) == 0 || !s.cfg.StopWritesOnBgsaveError) {
		return false
	}
	if st := s.persist(); st.lastBgsaveOK && !st.aof.on {
		return false
	}
	msg := s.diskError()
	if msg == "" || !(cmd.Name == "ping" || s.writesData(c, cmd, args)) {
		return false
	}
	s.rejectCommand(c, cmd, msg)
	return true
}

// writesData is Redis's is_write_command: the command's write flag, with
// EXEC taking its queued commands' and scripts the flags they declare
// (getCommandFlags).
func (s *Server) writesData(c *Client, cmd *command, args [][]byte) bool {
	switch cmd.Name {
	case "exec":
		return execFlags(s, c, args)&commands.Write != 0
	case "eval", "eval_ro", "evalsha", "evalsha_ro":
		sha := cmd.Name == "evalsha" || cmd.Name == "evalsha_ro"
		if sf, ok := s.evalDeclaredFlags(args[1], sha); ok {
			return sf.commandFlags(cmd.Flags)&commands.Write != 0
		}
	case "fcall", "fcall_ro":
		if f := s.scripting().functions.lookup(string(args[1])); f != nil {
			return f.flags.commandFlags(cmd.Flags)&commands.Write != 0
		}
	}
	return cmd.Has(commands.Write)
}

// rdbPath is the dump file's path.
func (s *Server) rdbPath() string { return filepath.Join(s.cfg.Dir, s.cfg.DBFilename) }

// writeHeader writes the magic and Redis 7.0's aux fields.
func (s *Server) writeHeader(w *rdb.Writer, aofBase bool) {
	w.Header()
	w.Aux("redis-ver", Version)
	w.AuxInt("redis-bits", strconv.IntSize)
	w.AuxInt("ctime", time.Now().Unix())
	w.AuxInt("used-mem", s.usedMemory())
	if db, ok := s.replSaveInfo(); ok { // repl_replica.go
		w.AuxInt("repl-stream-db", int64(db))
		w.Aux("repl-id", s.repl().replid)
		w.AuxInt("repl-offset", s.repl().offset)
	}
	if aofBase {
		w.AuxInt("aof-base", 1)
	} else {
		w.AuxInt("aof-base", 0)
	}
	// Function libraries follow the aux fields, one FUNCTION2 record
	// each (rdbSaveFunctions).
	for _, code := range s.functionLibraries() {
		w.Byte(rdb.OpFunction2)
		w.String(code)
	}
}

// writeKey writes one key with its expiry and eviction metadata.
func (s *Server) writeKey(w *rdb.Writer, key string, o *keyspace.Object, expire int64) bool {
	if rdbSavers[o.Type] == nil {
		return false
	}
	if expire != 0 {
		w.ExpireMs(expire)
	}
	if s.lfuPolicy() {
		w.Freq(uint8(s.lfuDecr(o)))
	} else if s.lruPolicy() {
		w.Idle(uint64(s.objectIdleMs(o) / 1000))
	}
	saveObject(w, o, []byte(key))
	return true
}

// lruPolicy reports an LRU maxmemory policy (IDLE is then saved).
func (s *Server) lruPolicy() bool {
	p := s.cfg.MaxMemoryPolicy
	return len(p) > 3 && p[len(p)-3:] == "lru"
}

// writeRDB serializes the whole dataset synchronously (under the lock).
func (s *Server) writeRDB(out io.Writer) error {
	w := rdb.NewWriter(out, s.cfg.RDBCompression)
	w.NoChecksum = !s.cfg.RDBChecksum
	s.writeHeader(w, false)
	for _, db := range s.dbs {
		if db.ks.Len() == 0 {
			continue
		}
		w.SelectDB(db.id)
		w.ResizeDB(db.ks.Len(), db.ks.VolatileLen())
		db.ks.Each(func(k keyspace.KeyRef) bool {
			s.writeKey(w, k.Key, k.Obj, k.Expire)
			if s.cfg.RDBKeySaveDelay != 0 {
				debugDelay(s.cfg.RDBKeySaveDelay)
			}
			return w.Err() == nil
		})
	}
	return w.End()
}

// writeFileAtomically writes via a temp file, fsyncs and renames, so a
// crash never leaves a half-written dump in place.
func writeFileAtomically(path string, write func(f *os.File) error) error {
	tmp := filepath.Join(filepath.Dir(path), fmt.Sprintf("temp-%d-%d.rdb", os.Getpid(), time.Now().UnixNano()))
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("failed opening the temp RDB file %s (in server root dir %s) for saving: %w", filepath.Base(tmp), filepath.Dir(tmp), err)
	}
	err = write(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// saveRDBSync is SAVE: the whole dataset, blocking the shard.
func (s *Server) saveRDBSync() error {
	start := time.Now()
	err := writeFileAtomically(s.rdbPath(), func(f *os.File) error { return s.writeRDB(f) })
	if err != nil {
		s.log.Warn("Error saving DB on disk", "err", err)
		return err
	}
	s.savedOK(time.Now())
	s.log.Info("DB saved on disk", "ms", time.Since(start).Milliseconds())
	return nil
}

func (s *Server) savedOK(at time.Time) {
	s.dirty = 0
	// Any good save, SAVE included, clears a failed BGSAVE's MISCONF
	// (Redis's rdbSave sets lastbgsave_status).
	s.persist().lastBgsaveOK = true
	s.setLastSave(at.Unix())
	s.persist().saves++
}

func saveCommand(s *Server, c *Client, args [][]byte) {
	if bg := s.persist().bg; bg != nil && bg.onDone == nil {
		c.Error("ERR Background save already in progress")
		return
	}
	if err := s.saveRDBSync(); err != nil {
		c.Error("ERR " + err.Error())
		return
	}
	c.OK()
}

func bgsaveCommand(s *Server, c *Client, args [][]byte) {
	if len(args) > 2 || (len(args) == 2 && !eqFold(args[1], "schedule")) {
		c.Error(errSyntax)
		return
	}
	schedule := len(args) == 2
	if bg := s.persist().bg; bg != nil {
		switch {
		case bg.onDone == nil:
			c.Error("ERR Background save already in progress")
		case schedule:
			s.persist().scheduled = true
			c.Status("Background saving scheduled")
		default:
			c.Error("ERR An AOF log rewriting in progress: can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.")
		}
		return
	}
	if err := s.startBgsave(); err != nil {
		c.Error("ERR " + err.Error())
		return
	}
	c.Status("Background saving started")
}

func eqFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// bgsave is a background save in progress (see the design above). Its
// fields are guarded by the shard lock except f, which the writer
// goroutine alone uses.
type bgsave struct {
	start    time.Time
	w        *rdb.Writer
	sink     sliceSink
	visited  []*keySet // per database; nil once its walk is complete
	db       int       // database being walked
	cursor   uint64    // its SCAN cursor
	began    bool      // the current database's walk has started
	streamDB int       // database of the last SELECTDB written
	keys     int64
	total    int64
	early    int64 // keys serialized ahead of the walk by a write
	done     bool
	prev     func(c *Client, cmd *command, args [][]byte)
	finished chan struct{}
	// resp writes RESP commands instead of RDB: an AOF base without the
	// preamble (aof-use-rdb-preamble no, aof.go's appendRewriteKey).
	resp bool
	// onDone, when set, finishes an AOF rewrite (under the lock) instead
	// of the RDB bookkeeping.
	onDone func(err error)
	// aborted asks the writer to stop without output (a shutdown kills
	// the save as Redis kills its child).
	aborted atomic.Bool
}

// errBgsaveAborted is the outcome of a background save a shutdown killed.
var errBgsaveAborted = errors.New("background save aborted")

// abortBgsave stops a background save to disk and waits for its writer,
// as Redis's finishShutdown kills its RDB child; the temp file goes.
func (s *Server) abortBgsave() {
	bg := s.persist().bg
	if bg == nil || bg.onDone != nil {
		return
	}
	if rs := s.repl().running; rs != nil && rs.bg == bg {
		// A diskless sync to replicas: nothing on disk to kill, and
		// no reason to wait for it.
		return
	}
	s.log.Warn("There is a child saving an .rdb. Killing it!")
	bg.aborted.Store(true)
	s.waitBgsave()
}

// keySet is a snapshot's visited set. It keeps 128 bits of two
// independently seeded hashes per key instead of the key: no pointers for
// the garbage collector to scan and about 20 bytes a key, where the key
// strings cost their length plus 40 and GC work. Two keys sharing both
// hashes (about 2^-128 for a pair) would leave the second one out of the
// snapshot.
type keySet struct {
	m      map[[2]uint64]struct{}
	s1, s2 maphash.Seed
}

// newKeySet makes the set for a database of n keys. It is sized for at
// most keySetHint of them at first: sizing it for a million keys at once
// took about 100 ms under the shard lock (allocating and zeroing some
// 30 MB), where letting it grow splits one small table at a time (Go's
// maps grow incrementally) for some garbage instead.
func newKeySet(n int) *keySet {
	return &keySet{m: make(map[[2]uint64]struct{}, min(n, keySetHint)), s1: maphash.MakeSeed(), s2: maphash.MakeSeed()}
}

const keySetHint = 1 << 14

// add reports whether key was not in the set, and adds it.
func (k *keySet) add(key string) bool {
	id := [2]uint64{maphash.String(k.s1, key), maphash.String(k.s2, key)}
	if _, ok := k.m[id]; ok {
		return false
	}
	k.m[id] = struct{}{}
	return true
}

type sliceSink struct{ b []byte }

func (k *sliceSink) Write(p []byte) (int, error) { k.b = append(k.b, p...); return len(p), nil }

// loadSlice is how long a sliced load holds the shard lock at a time.
const loadSlice = 5 * time.Millisecond

// sliceKeys bounds the keys serialized per lock hold; sliceBytes the
// buffer, so big values do not hold the lock for long either.
const (
	sliceKeys  = 128
	sliceBytes = 1 << 20
)

// startBgsave begins a background save (under the lock).
func (s *Server) startBgsave() error {
	return s.startSnapshot(s.rdbPath(), nil)
}

// startSnapshot begins a background snapshot into path; onDone (AOF
// rewrites) replaces the RDB bookkeeping at the end.
func (s *Server) startSnapshot(path string, onDone func(error)) error {
	bg := &bgsave{start: time.Now(), streamDB: -1, finished: make(chan struct{}), onDone: onDone}
	bg.w = rdb.NewWriter(&bg.sink, s.cfg.RDBCompression)
	bg.w.NoChecksum = !s.cfg.RDBChecksum
	bg.resp = onDone != nil && !s.cfg.AOFUseRDBPreamble
	bg.visited = make([]*keySet, len(s.dbs))
	for i, db := range s.dbs {
		bg.visited[i] = newKeySet(db.ks.Len())
		bg.total += int64(db.ks.Len())
	}
	if bg.resp {
		bg.sink.b = s.appendRewriteFunctions(bg.sink.b)
	} else {
		s.writeHeader(bg.w, onDone != nil)
	}
	tmp := filepath.Join(s.cfg.Dir, fmt.Sprintf("temp-%d-%d.rdb", os.Getpid(), time.Now().UnixNano()))
	f, err := os.Create(tmp)
	if err != nil {
		if onDone == nil {
			s.persist().lastBgsaveOK = false
		}
		return fmt.Errorf("failed opening the temp RDB file %s for saving: %w", tmp, err)
	}
	bg.prev = s.hooks.beforeCall
	s.hooks.beforeCall = func(c *Client, cmd *command, args [][]byte) {
		s.bgPreWrite(c, cmd, args)
		if bg.prev != nil {
			bg.prev(c, cmd, args)
		}
	}
	s.persist().bg = bg
	if onDone == nil {
		s.log.Info("Background saving started")
	}
	go s.bgsaveLoop(bg, f, tmp, path)
	return nil
}

// newSocketSnapshot prepares a fork-less RDB snapshot whose output the
// caller drains from bg.sink slice by slice with bgStep, as bgsaveLoop
// does for a file (replication streams it to replicas' sockets). With
// data false it holds the header alone (functions unless !functions):
// REPLCONF rdb-filter-only.
func (s *Server) newSocketSnapshot(data, functions bool) *bgsave {
	bg := &bgsave{start: time.Now(), streamDB: -1, finished: make(chan struct{})}
	bg.w = rdb.NewWriter(&bg.sink, s.cfg.RDBCompression)
	bg.w.NoChecksum = !s.cfg.RDBChecksum
	bg.visited = make([]*keySet, len(s.dbs))
	if !data {
		s.writeFilteredHeader(bg.w, functions)
		bg.db = len(s.dbs) // nothing to walk
		return bg
	}
	for i, db := range s.dbs {
		bg.visited[i] = newKeySet(db.ks.Len())
		bg.total += int64(db.ks.Len())
	}
	s.writeHeader(bg.w, false)
	return bg
}

// fullSnapshotCommands change keys they do not name (or whole
// databases): the snapshot completes before they run. Scripts are not
// among them: each command a script runs goes through call, and so
// through bgPreWrite, like a transaction's.
var fullSnapshotCommands = map[string]bool{
	"flushall": true, "flushdb": true, "swapdb": true, "move": true, "copy": true,
	"debug": true,
}

// bgPreWrite serializes, before a write command runs, the keys it names
// that the snapshot has not reached.
func (s *Server) bgPreWrite(c *Client, cmd *command, args [][]byte) {
	bg := s.persist().bg
	if bg == nil || bg.done || !cmd.Has(commands.Write) && !fullSnapshotCommands[cmd.Name] {
		return
	}
	if fullSnapshotCommands[cmd.Name] {
		for !s.bgStep(bg, -1) {
		}
		return
	}
	keys, ok := cmd.GetKeys(args)
	if !ok {
		for !s.bgStep(bg, -1) {
		}
		return
	}
	for _, k := range keys {
		s.bgVisit(bg, c.db, string(args[k.Index]))
	}
}

// bgVisit serializes key of db unless visited.
func (s *Server) bgVisit(bg *bgsave, db *DB, key string) {
	seen := bg.visited[db.id]
	if seen == nil { // that database's walk is complete
		return
	}
	if !seen.add(key) {
		return
	}
	o, at := db.ks.Lookup([]byte(key))
	if o == nil {
		return
	}
	bg.early++
	s.bgEmit(bg, db.id, key, o, at)
}

func (s *Server) bgEmit(bg *bgsave, dbid int, key string, o *keyspace.Object, at int64) {
	if bg.resp {
		if bg.streamDB != dbid {
			bg.sink.b = aof.AppendCommand(bg.sink.b, [][]byte{[]byte("SELECT"), strconv.AppendInt(nil, int64(dbid), 10)})
			bg.streamDB = dbid
		}
		var ok bool
		if bg.sink.b, ok = s.appendRewriteKey(bg.sink.b, key, o, at); ok {
			bg.keys++
		}
		return
	}
	if bg.streamDB != dbid {
		bg.w.SelectDB(dbid)
		bg.w.ResizeDB(s.dbs[dbid].ks.Len(), s.dbs[dbid].ks.VolatileLen())
		bg.streamDB = dbid
	}
	if s.writeKey(bg.w, key, o, at) {
		bg.keys++
	}
}

// bgStep walks one slice (budget keys; -1 all that remain) and reports
// whether the snapshot is complete (EOF written).
func (s *Server) bgStep(bg *bgsave, budget int) bool {
	if bg.done {
		return true
	}
	for bg.db < len(s.dbs) {
		db := s.dbs[bg.db]
		if !bg.began {
			bg.began, bg.cursor = true, 0
			if db.ks.Len() == 0 {
				bg.db, bg.began = bg.db+1, false
				continue
			}
		}
		seen := bg.visited[bg.db]
		n := 0
		for {
			bg.cursor = db.ks.Scan(bg.cursor, func(k keyspace.KeyRef) {
				if !seen.add(k.Key) {
					return
				}
				s.bgEmit(bg, bg.db, k.Key, k.Obj, k.Expire)
				n++
			})
			if bg.cursor == 0 {
				break
			}
			if budget >= 0 && (n >= budget || len(bg.sink.b) >= sliceBytes) {
				return false
			}
		}
		bg.visited[bg.db] = nil // this database is complete: later writes need nothing
		bg.db, bg.began = bg.db+1, false
		if budget >= 0 && n >= budget {
			return false
		}
	}
	bg.done = true
	return true
}

// bgsaveLoop is the writer goroutine.
func (s *Server) bgsaveLoop(bg *bgsave, f *os.File, tmp, path string) {
	var err error
	var spare []byte // the chunk written last time, reused for the next
	for {
		s.mu.Lock()
		if bg.aborted.Load() {
			s.hooks.beforeCall = bg.prev
			s.mu.Unlock()
			err = errBgsaveAborted
			break
		}
		// rdb-key-save-delay sleeps per key between slices of one key,
		// off the lock: Redis's child sleeps, not the server.
		budget, before := s.persist().sliceKeys, bg.keys
		delay := s.cfg.RDBKeySaveDelay
		if delay != 0 {
			budget = 1
		}
		done := s.bgStep(bg, budget)
		saved := bg.keys - before
		var tail error
		if done && !bg.resp {
			tail = bg.w.End()
		} else {
			tail = bg.w.Flush()
		}
		chunk := bg.sink.b
		bg.sink.b = spare[:0]
		if done {
			s.hooks.beforeCall = bg.prev
		}
		s.mu.Unlock()
		if err == nil {
			err = tail
		}
		if err == nil {
			_, err = f.Write(chunk)
		}
		spare = chunk
		if done {
			break
		}
		if delay != 0 {
			sleepUnless(delayFor(delay, saved), bg.aborted.Load)
		}
		// Let the connections waiting for the lock in before the next
		// slice: Go's mutex favours the goroutine that just released it.
		runtime.Gosched()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	s.mu.Lock()
	st := s.persist()
	st.bg = nil
	if bg.onDone != nil {
		bg.onDone(err)
		s.mu.Unlock()
		close(bg.finished)
		return
	}
	st.lastBgsaveSec = int64(time.Since(bg.start).Seconds())
	st.lastBgsaveOK = err == nil
	if err == nil {
		// Changes made during the save are not in it (dirty counts since T).
		s.savedOK(bg.start)
		s.log.Info("Background saving terminated with success")
	} else {
		st.lastTry = time.Now()
		s.log.Warn("Background saving error", "err", err)
	}
	s.mu.Unlock()
	close(bg.finished)
}

// saveCron starts a background save when a save point is reached, as
// serverCron: after a failure, only once CONFIG_BGSAVE_RETRY_DELAY (5s)
// passed.
func (s *Server) saveCron(now time.Time) {
	st := s.persist()
	if st.bg != nil || st.loading {
		return
	}
	if st.scheduled {
		st.scheduled = false
		if err := s.startBgsave(); err != nil {
			s.log.Warn("scheduled background save failed to start", "err", err)
		}
		return
	}
	last := s.adminState().lastSave
	for _, p := range s.cfg.Save {
		if s.dirty >= p.Changes && now.Unix()-last > p.Seconds &&
			(st.lastBgsaveOK || now.Sub(st.lastTry) > 5*time.Second) {
			s.log.Info(fmt.Sprintf("%d changes in %d seconds. Saving...", p.Changes, p.Seconds))
			if err := s.startBgsave(); err != nil {
				st.lastTry = now
				s.log.Warn("background save failed to start", "err", err)
			}
			return
		}
	}
}

// waitBgsave waits (releasing the lock) for a background save to end.
func (s *Server) waitBgsave() {
	for {
		bg := s.persist().bg
		if bg == nil {
			return
		}
		s.mu.Unlock()
		<-bg.finished
		s.mu.Lock()
	}
}

// debugReloadRDB is DEBUG RELOAD: save (unless !save), empty the
// databases (unless !flush) and load the file back (merge: keys already
// there are replaced instead of an error).
func (s *Server) debugReloadRDB(c *Client, save, flush, merge bool) error {
	if save {
		if s.persist().bg != nil {
			s.waitBgsave()
		}
		if err := s.saveRDBSync(); err != nil {
			return err
		}
	}
	if flush {
		for _, db := range s.dbs {
			s.emptyDB(db, false)
		}
		s.flushFunctionLibraries() // emptyData drops the functions too
	}
	if err := s.loadRDBFile(s.rdbPath(), merge); err != nil {
		return err
	}
	return nil
}

// LoadData loads the dump file at start, if there is one (redis-server's
// loadDataFromDisk). A missing file is an empty dataset; a corrupt one
// is an error naming the file and offset.
func (s *Server) LoadData() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg.AppendOnly {
		// As redis-server: with appendonly the AOF is the dataset.
		return s.aofLoadAtStart()
	}
	path := s.rdbPath()
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	start := time.Now()
	if err := s.loadRDBFile(path, false); err != nil {
		s.log.Warn("Fatal error loading the DB, exiting.", "err", err)
		return err
	}
	s.restoreReplInfoFromRDB()
	s.log.Warn(fmt.Sprintf("DB loaded from disk: %.3f seconds", time.Since(start).Seconds()))
	return nil
}

// loadRDBFile loads path into the databases; replace lets a key in the
// file overwrite one already present, otherwise that is an error
// (Redis's "duplicate key" on load).
func (s *Server) loadRDBFile(path string, replace bool) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	st := s.persist()
	st.loading = true
	defer func() { st.loading = false }()
	return s.loadRDB(rdb.NewReader(f, fi.Size(), filepath.Base(path)), replace, fi.Size())
}

// loadRDB reads a whole RDB stream into the databases.
func (s *Server) loadRDB(r *rdb.Reader, replace bool, size int64) error {
	ver, err := r.Header()
	if err != nil {
		return err
	}
	st := s.persist()
	st.loadExpired, st.loadLoaded = 0, 0
	s.beginRDBReplInfo()
	db := s.dbs[0]
	var expire int64 = -1
	var lru int64 = -1
	var lfu int = -1
	lastLog := time.Now()
	lastYield := lastLog
	st.loadStart, st.loadTotal, st.loadedSize = lastLog, size, 0
	now := time.Now().UnixMilli()
	for {
		t, err := r.Byte()
		if err != nil {
			return err
		}
		switch t {
		case rdb.OpExpireTime:
			sec, err := r.Seconds()
			if err != nil {
				return err
			}
			expire = sec * 1000
			continue
		case rdb.OpExpireTimeMs:
			if expire, err = r.Millis(); err != nil {
				return err
			}
			continue
		case rdb.OpFreq:
			b, err := r.Byte()
			if err != nil {
				return err
			}
			lfu = int(b)
			continue
		case rdb.OpIdle:
			v, err := r.Len()
			if err != nil {
				return err
			}
			lru = int64(min(v, 1<<40))
			continue
		case rdb.OpEOF:
			if ver >= 5 {
				return r.Trailer(s.cfg.RDBChecksum && !s.skipChecksumValidation())
			}
			return nil
		case rdb.OpSelectDB:
			id, err := r.Len()
			if err != nil {
				return err
			}
			if id >= uint64(len(s.dbs)) {
				return r.Errorf("FATAL: Data file was created with a Redis server configured to handle more than %d databases. Exiting", len(s.dbs))
			}
			db = s.dbs[id]
			continue
		case rdb.OpResizeDB:
			if _, err := r.Len(); err != nil {
				return err
			}
			if _, err := r.Len(); err != nil {
				return err
			}
			continue
		case rdb.OpAux:
			k, err := r.String()
			if err != nil {
				return err
			}
			v, err := r.String()
			if err != nil {
				return err
			}
			if string(k) == "redis-ver" {
				s.log.Info("Loading RDB produced by version " + string(v))
			}
			s.noteRDBAux(string(k), v) // replication history (repl_replica.go)
			continue
		case rdb.OpModuleAux:
			return r.Errorf("the RDB file contains AUX module data I can't load: no matching module")
		case rdb.OpFunction, rdb.OpFunction2:
			if err := s.loadFunctionLib(r, t, replace); err != nil {
				return err
			}
			continue
		}
		key, err := r.String()
		if err != nil {
			return err
		}
		o, err := s.loadObject(r, t, s.cfg.SanitizeDumpPayload == "yes")
		exp, idle, freq := expire, lru, lfu
		expire, lru, lfu = -1, -1, -1
		if errors.Is(err, errEmptyKey) {
			s.log.Warn("rdbLoadObject skipping empty key", "key", string(key))
			continue
		}
		if err != nil {
			return err
		}
		if exp != -1 && !s.isReplica() && exp < now {
			st.loadExpired++
			s.noteRDBExpired(db.id, key)
			continue
		}
		if !replace {
			if old, _ := db.ks.Lookup(key); old != nil {
				return r.Errorf("duplicate key '%s' found in RDB file", key)
			}
		}
		o.LRU = s.newLRU()
		if freq >= 0 && s.lfuPolicy() {
			o.LRU = lfuMinutes(s.lruClock)<<8 | uint32(freq)
		} else if idle >= 0 && !s.lfuPolicy() {
			o.LRU = s.lruSecondsAgo(idle)
		}
		db.ks.Set(key, o, false)
		if exp != -1 {
			db.ks.SetExpire(key, exp)
		}
		st.loadLoaded++
		if s.cfg.KeyLoadDelay != 0 {
			debugDelay(s.cfg.KeyLoadDelay)
		}
		if st.loadYield != nil && time.Since(lastYield) >= loadSlice {
			st.loadedSize = r.Offset()
			st.loadYield()
			lastYield = time.Now()
		}
		if time.Since(lastLog) > 2*time.Second {
			lastLog = time.Now()
			s.log.Info("Loading RDB", "bytes", r.Offset(), "of", size, "keys", st.loadLoaded)
		}
	}
}

// lruSecondsAgo is the LRU clock value idle seconds ago.
func (s *Server) lruSecondsAgo(idle int64) uint32 {
	v := (int64(s.lruClock) - idle) % lruClockMax
	if v < 0 {
		v += lruClockMax
	}
	return uint32(v)
}

// loadFunctionLib creates a function library from a FUNCTION2 record;
// replace lets it replace a library of the same name (DEBUG RELOAD
// MERGE), otherwise a duplicate fails the load as in Redis.
func (s *Server) loadFunctionLib(r *rdb.Reader, t byte, replace bool) error {
	if t == rdb.OpFunction {
		return r.Errorf("pre-release function format not supported")
	}
	code, err := r.String()
	if err != nil {
		return err
	}
	if err := s.loadFunctionLibrary(code, replace); err != nil {
		return r.Errorf("failed loading library: %v", err)
	}
	return nil
}
