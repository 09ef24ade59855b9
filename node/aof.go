package node

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/keyfleet/keyfleet/node/aof"
	"github.com/keyfleet/keyfleet/node/ds/quicklist"
	"github.com/keyfleet/keyfleet/node/keyspace"
	"github.com/keyfleet/keyfleet/node/rdb"
)

// The append only file, in Redis 7.0's multi-part layout: a directory
// (appenddirname) holding a base file (an RDB snapshot, with aof-base 1),
// incremental files of RESP commands, and a manifest listing them.
//
// Every write reaches the AOF through the propagate hook, as its effect
// (SET EX as SET PXAT, expiries as DEL): the hook writes it to the
// current incremental file before the command returns, so the reply,
// flushed after the shard lock is released, never precedes the write.
// appendfsync always fsyncs in the hook too; everysec fsyncs from a
// ticker once a second; no leaves it to the OS.
//
// A rewrite (BGREWRITEAOF, or turning appendonly on) opens the next
// incremental file at the instant it starts and lists it in the
// manifest at once; the base is the fork-less background snapshot of
// that same instant (persistence.go), so base + new increment is the
// whole dataset. When the snapshot is complete the manifest is replaced
// by {new base, new increment} and the older files are deleted.

func init() {
	register(map[string]handler{"bgrewriteaof": bgrewriteaofCommand})
	// CONFIG SET appendonly starts or stops the AOF at once (the config
	// table is package state built before init functions run).
	if p := lookupConfig("appendonly"); p != nil && p.apply == nil {
		p.apply = &applier{name: "appendonly", fn: func(s *Server) error { return s.aofApplyConfig() }}
	}
	serverInits = append(serverInits, func(s *Server) {
		st := &aofState{lastRewriteOK: true, lastRewriteSec: -1, curDB: -1}
		s.ext[aofExt] = st
		s.debugState().loadAOF = func(c *Client) error { return s.debugLoadAOF() }
		s.hooks.cron = append(s.hooks.cron, s.aofCron)
	})
	onInfoField("aof_enabled", func(s *Server) string { return boolDigit(s.aof().on) })
	onInfoField("aof_rewrite_in_progress", func(s *Server) string { return boolDigit(s.aof().rewriting) })
	onInfoField("aof_rewrite_scheduled", func(s *Server) string { return boolDigit(s.aof().scheduled) })
	onInfoField("aof_last_rewrite_time_sec", func(s *Server) string { return strconv.FormatInt(s.aof().lastRewriteSec, 10) })
	onInfoField("aof_last_bgrewrite_status", func(s *Server) string { return okErr(s.aof().lastRewriteOK) })
	onInfoField("aof_current_rewrite_time_sec", func(s *Server) string {
		if st := s.aof(); st.rewriting {
			return strconv.FormatInt(int64(time.Since(st.rewriteStart).Seconds()), 10)
		}
		return "-1"
	})
	onInfoField("aof_rewrites", func(s *Server) string { return strconv.FormatInt(s.aof().rewrites, 10) })
	onInfoField("aof_last_write_status", func(s *Server) string { return okErr(s.aof().writeErr == nil) })
	onInfoField("aof_current_size", func(s *Server) string { return strconv.FormatInt(s.aof().size, 10) })
	onInfoField("aof_base_size", func(s *Server) string { return strconv.FormatInt(s.aof().baseSize, 10) })
}

const aofExt = "aof"

type aofState struct {
	on        bool
	m         *aof.Manifest
	f         *os.File // current incremental file
	curDB     int      // database of the last SELECT written to f
	buf       []byte   // written to f as each command propagates; kept on failure
	fsyncErr  atomic.Pointer[error]
	prevProp  func(dbid int, argv [][]byte)
	size      int64
	baseSize  int64
	writeErr  error
	lastSync  time.Time
	rewriting bool
	scheduled bool
	// rewriteStart is when the rewrite in progress began.
	rewriteStart time.Time
	rewrites     int64

	lastRewriteOK  bool
	lastRewriteSec int64
}

func (s *Server) aof() *aofState { return s.ext[aofExt].(*aofState) }

func (s *Server) aofDir() string { return filepath.Join(s.cfg.Dir, s.cfg.AppendDirname) }

func (s *Server) aofManifestPath() string {
	return filepath.Join(s.aofDir(), s.cfg.AppendFilename+".manifest")
}

// aofFeed is the propagate hook while the AOF is on.
func (s *Server) aofFeed(dbid int, argv [][]byte) {
	st := s.aof()
	if st.prevProp != nil {
		st.prevProp(dbid, argv)
	}
	if st.f == nil {
		return
	}
	if dbid != st.curDB {
		st.buf = aof.AppendCommand(st.buf, [][]byte{[]byte("SELECT"), strconv.AppendInt(nil, int64(dbid), 10)})
		st.curDB = dbid
	}
	st.buf = aof.AppendCommand(st.buf, argv)
	s.aofWrite()
}

// aofWrite writes what st.buf holds. On a failure the bytes stay in the
// buffer (a partial write is cut back off the file when it can be) and
// aofError refuses writes with -MISCONF until cron's retry succeeds, as
// Redis's flushAppendOnlyFile does. Under appendfsync always the command
// whose write failed has run and is still acknowledged: Redis exits
// there instead, which a node hosting other shards must not do.
func (s *Server) aofWrite() {
	st := s.aof()
	if st.f == nil || len(st.buf) == 0 && st.writeErr == nil {
		return
	}
	// With nothing left to write, a retry after a failed fsync (always)
	// is the fsync alone.
	var err error
	if len(st.buf) > 0 {
		var n int
		n, err = st.f.Write(st.buf)
		if err != nil && n > 0 {
			if st.f.Truncate(st.size) == nil {
				n = 0
			}
		}
		st.size += int64(n)
		st.buf = st.buf[:copy(st.buf, st.buf[n:])]
	}
	if err == nil && s.cfg.AppendFsync == "always" {
		err = st.f.Sync()
	}
	if err != nil {
		if st.writeErr == nil {
			s.log.Warn("Error writing to the AOF file", "err", err)
		}
		st.writeErr = err
		return
	}
	if st.writeErr != nil {
		s.log.Warn("AOF write error looks solved, Redis can write again.")
	}
	st.writeErr = nil
}

// aofError is the AOF's failure that refuses writes (-MISCONF): the last
// write's, or else the last background fsync's.
func (s *Server) aofError() error {
	st := s.aof()
	if !st.on {
		return nil
	}
	if st.writeErr != nil {
		return st.writeErr
	}
	if p := st.fsyncErr.Load(); p != nil {
		return *p
	}
	return nil
}

// aofFsync fsyncs f off the shard lock (everysec) and records the
// outcome for aofError: a failure refuses writes until an fsync works.
func (st *aofState) aofFsync(f *os.File) {
	if err := f.Sync(); err != nil && !errors.Is(err, os.ErrClosed) {
		st.fsyncErr.Store(&err)
		return
	}
	st.fsyncErr.Store(nil)
}

// aofCron fsyncs once a second under everysec, starts a scheduled
// rewrite, and notices appendonly turned on or off by CONFIG SET.
func (s *Server) aofCron(now time.Time) {
	st := s.aof()
	if s.cfg.AppendOnly != st.on && !s.persist().loading {
		if err := s.aofApplyConfig(); err != nil {
			s.log.Warn("AOF could not be switched", "err", err)
		}
	}
	if st.on && st.f != nil && s.cfg.AppendFsync == "everysec" && now.Sub(st.lastSync) >= time.Second {
		st.lastSync = now
		go st.aofFsync(st.f) // a file closed meanwhile is not an error
	}
	if st.on && st.writeErr != nil {
		s.aofWrite() // retry: writes are refused until it succeeds
	}
	// auto-aof-rewrite-percentage / -min-size: the increments grew by
	// that much over the base since the last rewrite.
	if st.on && !st.rewriting && !st.scheduled && s.persist().bg == nil && s.cfg.AutoAOFRewritePercentage > 0 {
		base := max(st.baseSize, 1)
		if st.baseSize+st.size >= s.cfg.AutoAOFRewriteMinSize && st.size*100/base >= int64(s.cfg.AutoAOFRewritePercentage) {
			s.log.Info(fmt.Sprintf("Starting automatic rewriting of AOF on %d%% growth", st.size*100/base))
			st.scheduled = true
		}
	}
	if st.scheduled && s.persist().bg == nil {
		st.scheduled = false
		if err := s.startAOFRewrite(); err != nil {
			s.log.Warn("AOF rewrite failed to start", "err", err)
		}
	}
}

// aofApplyConfig turns the AOF on (with a rewrite that creates its base)
// or off after appendonly changed.
func (s *Server) aofApplyConfig() error {
	st := s.aof()
	if s.cfg.AppendOnly == st.on {
		return nil
	}
	if !s.cfg.AppendOnly {
		s.aofStop()
		return nil
	}
	if s.persist().bg != nil {
		st.on = true
		s.aofInstallHook()
		st.scheduled = true
		return nil
	}
	st.on = true
	s.aofInstallHook()
	return s.startAOFRewrite()
}

func (s *Server) aofInstallHook() {
	st := s.aof()
	st.prevProp = s.hooks.propagate
	s.hooks.propagate = s.aofFeed
}

func (s *Server) aofStop() {
	st := s.aof()
	s.aofCloseFile()
	s.hooks.propagate = st.prevProp
	st.prevProp = nil
	st.on = false
}

// aofCloseFile closes the current incremental file after a last try at
// what is buffered for it, and forgets that file's errors.
func (s *Server) aofCloseFile() {
	st := s.aof()
	if st.f == nil {
		return
	}
	s.aofWrite()
	st.f.Sync()
	st.f.Close()
	st.f, st.buf, st.writeErr = nil, st.buf[:0], nil
	st.fsyncErr.Store(nil)
}

// writeManifest replaces the manifest atomically.
func (s *Server) writeManifest(m *aof.Manifest) error {
	path := s.aofManifestPath()
	tmp := filepath.Join(s.aofDir(), "temp-"+filepath.Base(path))
	if err := os.WriteFile(tmp, m.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write AOF manifest: %w", err)
	}
	if f, err := os.Open(tmp); err == nil {
		f.Sync()
		f.Close()
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write AOF manifest: %w", err)
	}
	return nil
}

func (s *Server) nextSeq(m *aof.Manifest, base bool) int64 {
	var n int64
	if m != nil {
		if base && m.Base != nil {
			n = m.Base.Seq
		}
		if !base && len(m.Incrs) > 0 {
			n = m.Incrs[len(m.Incrs)-1].Seq
		}
	}
	return n + 1
}

// startAOFRewrite opens the next incremental file, lists it, and starts
// the snapshot that becomes the new base.
func (s *Server) startAOFRewrite() error {
	st := s.aof()
	if err := os.MkdirAll(s.aofDir(), 0o755); err != nil {
		return fmt.Errorf("create the AOF directory: %w", err)
	}
	m := st.m
	if m == nil {
		m = &aof.Manifest{}
	}
	incr := aof.Info{Name: fmt.Sprintf("%s.%d.incr.aof", s.cfg.AppendFilename, s.nextSeq(m, false)), Seq: s.nextSeq(m, false), Type: aof.TypeIncr}
	f, err := os.OpenFile(filepath.Join(s.aofDir(), incr.Name), os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("open the AOF file %s: %w", incr.Name, err)
	}
	pending := &aof.Manifest{Base: m.Base, History: m.History, Incrs: append(append([]aof.Info(nil), m.Incrs...), incr)}
	if err := s.writeManifest(pending); err != nil {
		f.Close()
		return err
	}
	oldIncrs := m.Incrs
	oldBase := m.Base
	// What the old file could not take is in the dataset the new base
	// snapshots, so it is not lost with the file.
	s.aofCloseFile()
	st.f, st.curDB, st.m = f, -1, pending
	st.size = 0
	// Without the preamble the base is RESP and named .aof, as Redis's
	// getNewBaseFileNameAndMarkPreAsHistory does.
	suffix := "rdb"
	if !s.cfg.AOFUseRDBPreamble {
		suffix = "aof"
	}
	base := aof.Info{Name: fmt.Sprintf("%s.%d.base.%s", s.cfg.AppendFilename, s.nextSeq(m, true), suffix), Seq: s.nextSeq(m, true), Type: aof.TypeBase}
	basePath := filepath.Join(s.aofDir(), base.Name)
	st.rewriting = true
	start := time.Now()
	st.rewriteStart = start
	err = s.startSnapshot(basePath, func(err error) {
		st.rewriting = false
		st.lastRewriteSec = int64(time.Since(start).Seconds())
		if err == nil {
			done := &aof.Manifest{Base: &base, Incrs: []aof.Info{incr}}
			if err = s.writeManifest(done); err == nil {
				st.m = done
				if oldBase != nil && oldBase.Name != base.Name {
					os.Remove(filepath.Join(s.aofDir(), oldBase.Name))
				}
				for _, in := range oldIncrs {
					os.Remove(filepath.Join(s.aofDir(), in.Name))
				}
				if fi, e := os.Stat(basePath); e == nil {
					st.baseSize = fi.Size()
				}
			}
		}
		st.lastRewriteOK = err == nil
		if err != nil {
			s.log.Warn("Background AOF rewrite failed", "err", err)
			return
		}
		st.rewrites++
		s.log.Info("Background AOF rewrite finished successfully")
	})
	if err != nil {
		st.rewriting = false
		st.lastRewriteOK = false
		return err
	}
	s.log.Info("Background append only file rewriting started")
	return nil
}

func bgrewriteaofCommand(s *Server, c *Client, args [][]byte) {
	st := s.aof()
	switch {
	case st.rewriting:
		c.Error("ERR Background append only file rewriting already in progress")
	case s.persist().bg != nil:
		st.scheduled = true
		c.Status("Background append only file rewriting scheduled")
	default:
		if err := s.startAOFRewrite(); err != nil {
			c.Error("ERR Can't execute an AOF background rewriting. Please check the server logs for more information.")
			s.log.Warn("BGREWRITEAOF", "err", err)
			return
		}
		c.Status("Background append only file rewriting started")
	}
}

// aofLoadAtStart loads the AOF when appendonly is on, and starts
// appending (creating the files when there are none).
func (s *Server) aofLoadAtStart() error {
	st := s.aof()
	if _, err := os.Stat(s.aofManifestPath()); err == nil {
		if err := s.loadAOF(); err != nil {
			return err
		}
		st.on = true
		s.aofInstallHook()
		return s.aofOpenLast()
	}
	st.on = true
	s.aofInstallHook()
	return s.startAOFRewrite()
}

// aofOpenLast opens the last incremental file for appending.
func (s *Server) aofOpenLast() error {
	st := s.aof()
	if len(st.m.Incrs) == 0 {
		return s.startAOFRewrite()
	}
	last := st.m.Incrs[len(st.m.Incrs)-1]
	f, err := os.OpenFile(filepath.Join(s.aofDir(), last.Name), os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open the AOF file %s: %w", last.Name, err)
	}
	st.f, st.curDB = f, -1
	return nil
}

// loadAOF reads the manifest and replays base and increments.
func (s *Server) loadAOF() error {
	st := s.aof()
	b, err := os.ReadFile(s.aofManifestPath())
	if err != nil {
		return fmt.Errorf("read the AOF manifest: %w", err)
	}
	m, err := aof.ParseManifest(b)
	if err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(s.aofManifestPath()), err)
	}
	st.m = m
	ps := s.persist()
	ps.loading = true
	defer func() { ps.loading = false }()
	// Replay must not append to the files it reads.
	saved := s.hooks.propagate
	s.hooks.propagate = st.prevProp
	if !st.on {
		s.hooks.propagate = saved
	}
	defer func() { s.hooks.propagate = saved }()
	if m.Base != nil {
		path := filepath.Join(s.aofDir(), m.Base.Name)
		if err := s.loadAOFFile(path, false); err != nil {
			return err
		}
		if fi, err := os.Stat(path); err == nil {
			st.baseSize = fi.Size()
		}
	}
	st.size = 0
	for i, in := range m.Incrs {
		path := filepath.Join(s.aofDir(), in.Name)
		if err := s.loadAOFFile(path, i == len(m.Incrs)-1); err != nil {
			return err
		}
		if fi, err := os.Stat(path); err == nil {
			st.size += fi.Size()
		}
	}
	s.log.Info("DB loaded from append only file")
	return nil
}

// loadAOFFile replays one file: an RDB (a base with the preamble) or
// RESP commands. A torn tail of the last file is cut off when
// aof-load-truncated allows it; anything else malformed is refused with
// the file name and offset.
func (s *Server) loadAOFFile(path string, last bool) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open the AOF file %s: %w", filepath.Base(path), err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	head := make([]byte, 5)
	n, _ := io.ReadFull(f, head)
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("seek %s: %w", path, err)
	}
	if n == 5 && bytes.Equal(head, []byte("REDIS")) {
		return s.loadRDB(rdb.NewReader(f, fi.Size(), filepath.Base(path)), false, fi.Size())
	}
	r := aof.NewReader(f, fi.Size())
	c := &Client{srv: s, db: s.dbs[0], resp: 2, authenticated: true}
	for {
		argv, err := r.Next()
		if err == io.EOF {
			return nil
		}
		if errors.Is(err, aof.ErrTruncated) {
			if !last || !s.cfg.AOFLoadTruncated {
				return fmt.Errorf("unexpected end of file reading the append only file %s at offset %d", filepath.Base(path), r.Offset())
			}
			s.log.Warn(fmt.Sprintf("!!! Warning: short read while loading the AOF file %s!!!", filepath.Base(path)))
			s.log.Warn(fmt.Sprintf("AOF %s loaded anyway because aof-load-truncated is enabled", filepath.Base(path)))
			if err := os.Truncate(path, r.Offset()); err != nil {
				return fmt.Errorf("truncate %s: %w", path, err)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("bad file format reading the append only file %s at offset %d", filepath.Base(path), r.Offset())
		}
		if lookupCommand(argv[0]) == nil {
			return fmt.Errorf("unknown command '%s' reading the append only file %s at offset %d", argv[0], filepath.Base(path), r.Offset())
		}
		s.execute(c, argv)
		c.out = c.out[:0]
	}
}

// debugLoadAOF is DEBUG LOADAOF: fsync, empty, replay.
func (s *Server) debugLoadAOF() error {
	st := s.aof()
	if st.f != nil {
		st.f.Sync()
	}
	if _, err := os.Stat(s.aofManifestPath()); err != nil {
		return fmt.Errorf("no AOF to load: %w", err)
	}
	// Wait for a rewrite in progress: its base is not complete.
	s.waitBgsave()
	for _, db := range s.dbs {
		s.emptyDB(db, false)
	}
	s.flushFunctionLibraries()
	if err := s.loadAOF(); err != nil {
		return err
	}
	s.dirty = 0 // the data is what the files hold: nothing to save
	return nil
}

// A base file without the RDB preamble (aof-use-rdb-preamble no) is RESP,
// one command per value as Redis's rewriteAppendOnlyFileRio writes it:
// SET, RPUSH, SADD, ZADD and HMSET with at most 64 elements per command
// (AOF_REWRITE_ITEMS_PER_CMD), then PEXPIREAT for a TTL. A type without
// a command form here (streams) goes out as RESTORE of its DUMP payload,
// which any Redis 7.0 loads as well. Function libraries come first as
// FUNCTION LOAD.
const rewriteItems = 64

// respBatch gathers one rewrite command's arguments in an arena.
type respBatch struct {
	out   []byte
	cmd   string
	key   string
	arena []byte
	ends  []int
	per   int // arguments per element (2 for ZADD and HMSET)
}

// add appends one argument, flushing a full command first.
func (b *respBatch) add(arg []byte) {
	if len(b.ends) == rewriteItems*b.per {
		b.flush()
	}
	b.arena = append(b.arena, arg...)
	b.ends = append(b.ends, len(b.arena))
}

func (b *respBatch) flush() {
	if len(b.ends) == 0 {
		return
	}
	b.out = append(b.out, '*')
	b.out = strconv.AppendInt(b.out, int64(2+len(b.ends)), 10)
	b.out = append(b.out, '\r', '\n')
	b.out = appendBulk(b.out, b.cmd)
	b.out = appendBulk(b.out, b.key)
	start := 0
	for _, end := range b.ends {
		b.out = appendBulk(b.out, b.arena[start:end])
		start = end
	}
	b.arena, b.ends = b.arena[:0], b.ends[:0]
}

func appendBulk[T string | []byte](b []byte, v T) []byte {
	b = append(b, '$')
	b = strconv.AppendInt(b, int64(len(v)), 10)
	b = append(b, '\r', '\n')
	b = append(b, v...)
	return append(b, '\r', '\n')
}

// appendRewriteFunctions appends a FUNCTION LOAD per library.
func (s *Server) appendRewriteFunctions(out []byte) []byte {
	for _, code := range s.functionLibraries() {
		out = aof.AppendCommand(out, [][]byte{[]byte("FUNCTION"), []byte("LOAD"), code})
	}
	return out
}

// appendRewriteKey appends the commands that recreate key (false if its
// type cannot be written at all).
func (s *Server) appendRewriteKey(out []byte, key string, o *keyspace.Object, expire int64) ([]byte, bool) {
	b := respBatch{out: out, key: key, per: 1}
	var buf []byte
	switch o.Type {
	case keyspace.TypeString:
		b.out = aof.AppendCommand(b.out, [][]byte{[]byte("SET"), []byte(key), o.Str})
	case keyspace.TypeList:
		b.cmd = "RPUSH"
		it := listOf(o).Iterator(true)
		var e quicklist.Entry
		for it.Next(&e) {
			buf = e.Append(buf[:0])
			b.add(buf)
		}
		it.Release()
	case keyspace.TypeSet:
		b.cmd = "SADD"
		setEach(o, func(e setElem) bool {
			buf = e.appendTo(buf[:0])
			b.add(buf)
			return true
		})
	case keyspace.TypeZSet:
		b.cmd, b.per = "ZADD", 2
		zsetEach(o, false, func(m zmember, score float64) bool {
			buf = appendDouble(buf[:0], score)
			b.add(buf)
			buf = m.appendTo(buf[:0])
			b.add(buf)
			return true
		})
	case keyspace.TypeHash:
		b.cmd, b.per = "HMSET", 2
		hashEach(o, func(f, v hashElem) bool {
			buf = f.appendTo(buf[:0])
			b.add(buf)
			buf = v.appendTo(buf[:0])
			b.add(buf)
			return true
		})
	case keyspace.TypeStream:
		b.out = appendRewriteStream(b.out, []byte(key), streamOf(o))
	default:
		payload, ok := s.dumpPayload(o)
		if !ok {
			return out, false
		}
		b.out = aof.AppendCommand(b.out, [][]byte{[]byte("RESTORE"), []byte(key), []byte("0"), payload})
	}
	b.flush()
	if expire != 0 {
		b.out = aof.AppendCommand(b.out, [][]byte{[]byte("PEXPIREAT"), []byte(key), strconv.AppendInt(nil, expire, 10)})
	}
	return b.out, true
}

// appendRewriteStream appends the commands of Redis 7.0's
// rewriteStreamObject: an XADD per live entry (an empty stream is made by
// XADD MAXLEN 0 0-1 x y, the only way to create one), then XSETID so the
// last ID, entries-added count and max-deleted ID survive XDEL and
// trimming, then the groups with their consumers and PELs.
func appendRewriteStream(out, key []byte, so *streamObj) []byte {
	var argv [][]byte
	if so.length > 0 {
		it := so.iter(streamID{}, maxStreamID, false)
		for {
			id, fv, ok := it.next()
			if !ok {
				break
			}
			argv = append(argv[:0], []byte("XADD"), key, id.appendTo(nil))
			argv = append(argv, fv...)
			out = aof.AppendCommand(out, argv)
		}
	} else {
		out = aof.AppendCommand(out, [][]byte{[]byte("XADD"), key, []byte("MAXLEN"), []byte("0"),
			streamID{0, 1}.appendTo(nil), []byte("x"), []byte("y")})
	}
	out = aof.AppendCommand(out, [][]byte{[]byte("XSETID"), key, so.lastID.appendTo(nil),
		[]byte("ENTRIESADDED"), strconv.AppendUint(nil, so.entriesAdded, 10),
		[]byte("MAXDELETEDID"), so.maxDeletedID.appendTo(nil)})
	rewriteStreamGroups(key, so, func(argv [][]byte) { out = aof.AppendCommand(out, argv) })
	return out
}
