package node

import (
	"strings"
	"time"

	"github.com/keyfleet/keyfleet/internal/commands"
	"github.com/keyfleet/keyfleet/node/keyspace"
)

// Transactions (Redis's multi.c): MULTI, EXEC, DISCARD, WATCH, UNWATCH,
// and the propagation of what one top-level command wrote as a unit.
//
// While a client is in MULTI, execute queues its commands (queueMulti)
// once every check that can refuse them has passed; a refusal flags the
// transaction (flagTransaction) so that EXEC answers -EXECABORT. EXEC runs
// the queue through s.call under the one hold of the shard lock, so
// nothing interleaves. WATCH keeps, per database, the clients watching
// each key; keyModified marks them dirty (EXEC then answers a null array).

func init() {
	register(map[string]handler{
		"multi":   multiCommand,
		"exec":    execCommand,
		"discard": discardCommand,
		"watch":   watchCommand,
		"unwatch": unwatchCommand,
	})
	interceptors = append(interceptors, multiInterceptor)
	registerDynamicFlags("exec", execFlags)
	dbFlushHooks = append(dbFlushHooks, func(s *Server, db *DB) {
		s.touchAllWatched(db, db.ks, nil)
	})
	dbSwapHooks = append(dbSwapHooks, func(s *Server, a, b *DB) {
		// The contents have moved already: a's old keys are in b.ks.
		s.touchAllWatched(a, b.ks, a.ks)
		s.touchAllWatched(b, a.ks, b.ks)
	})
	serverInits = append(serverInits, func(s *Server) {
		st := &multiState{
			txns:    make(map[*Client]*txn),
			watched: make([]map[string][]*watchedKey, len(s.dbs)),
		}
		s.ext[multiExt] = st
		prevModified := s.hooks.keyModified
		s.hooks.keyModified = func(db *DB, key []byte) {
			if st.nwatched > 0 {
				s.touchWatchedKey(db, key)
			}
			if prevModified != nil {
				prevModified(db, key)
			}
		}
		s.hooks.clientGone = append(s.hooks.clientGone, func(c *Client) {
			if st.txns[c] != nil || c.flags&flagMulti != 0 {
				s.discardTransaction(c)
			}
		})
		// The calls in progress, to batch what a top-level call
		// propagates (see batchPropagation).
		prevBefore := s.hooks.beforeCall
		s.hooks.beforeCall = func(c *Client, cmd *command, args [][]byte) {
			st.depth++
			if prevBefore != nil {
				prevBefore(c, cmd, args)
			}
		}
		prevAfter := s.hooks.afterCall
		s.hooks.afterCall = func(c *Client, cmd *command, args [][]byte, dur time.Duration) {
			if prevAfter != nil {
				prevAfter(c, cmd, args, dur)
			}
			st.depth--
			if st.depth == 0 && len(st.ops) > 0 {
				s.flushPropagation(cmd)
			}
		}
		hooks := s.clientInfoHooks()
		// CLIENT LIST's multi-mem is the queued arguments alone.
		hooks.multi = func(c *Client) (int, int64) {
			t := st.txns[c]
			var mem int64
			if t != nil {
				mem = t.argBytes
			}
			if c.flags&flagMulti == 0 {
				return -1, mem
			}
			if t == nil {
				return 0, 0
			}
			return len(t.queue), mem
		}
	})
}

const multiExt = "multi"

const (
	errNestedMulti   = "ERR MULTI calls can not be nested"
	errExecNoMulti   = "ERR EXEC without MULTI"
	errDiscardNoMult = "ERR DISCARD without MULTI"
	errWatchInMulti  = "ERR WATCH inside MULTI is not allowed"
	errNotInMulti    = "ERR Command not allowed inside a transaction"
)

// multiState is the shard's transaction state.
type multiState struct {
	// txns holds the clients in MULTI or watching keys.
	txns map[*Client]*txn
	// watched maps, per database, each watched key to its watchers in
	// the order they watched it; nwatched counts the entries of all.
	watched  []map[string][]*watchedKey
	nwatched int

	// depth counts the calls in progress; ops are what the top-level
	// one propagated so far.
	depth int
	ops   []propOp
}

// txn is one client's transaction: the queued commands and the keys it
// watches.
type txn struct {
	queue []queuedCmd
	// argBytes is Redis's mstate.argv_len_sums, CLIENT LIST multi-mem.
	argBytes int64
	// flags is the union of the queued commands' flags, inv the union
	// of their complements (any queued command lacking a flag).
	flags, inv commands.Flag
	watched    []*watchedKey
}

type queuedCmd struct {
	cmd  *command
	args [][]byte
}

// watchedKey is one key watched by one client. expired records that the
// key was already logically expired when it was watched: its deletion is
// then no change.
type watchedKey struct {
	c       *Client
	db      int
	key     string
	expired bool
}

// argvPtrSize is what Redis adds per queued argument to multi-mem.
const argvPtrSize = 8

func (s *Server) multiState() *multiState { return s.ext[multiExt].(*multiState) }

func (st *multiState) txnOf(c *Client) *txn {
	t := st.txns[c]
	if t == nil {
		t = &txn{}
		st.txns[c] = t
	}
	return t
}

// flagTransaction makes the transaction c is queueing fail at EXEC
// (Redis's flagTransaction): called for every command refused while
// queueing.
func (s *Server) flagTransaction(c *Client) {
	if c.flags&flagMulti != 0 {
		c.flags |= flagDirtyExec
	}
}

// multiInterceptor refuses, inside MULTI, the commands that may not be
// queued, and (until the eviction subsystem owns maxmemory) the checks
// Redis makes on a transaction when memory is over maxmemory: nothing is
// queued then, and an EXEC with a queued write that may grow memory
// aborts.
func multiInterceptor(s *Server, c *Client, cmd *command, args [][]byte) bool {
	if c.flags&flagMulti != 0 && cmd.Has(commands.NoMulti) {
		s.rejectCommand(c, cmd, errNotInMulti)
		return true
	}
	if s.cfg.MaxMemory > 0 && s.multiDeniedByOOM(c, cmd) {
		s.rejectCommand(c, cmd, errOOM)
		return true
	}
	return false
}

func (s *Server) multiDeniedByOOM(c *Client, cmd *command) bool {
	var reject bool
	switch cmd.Name {
	case "exec":
		if t := s.multiState().txns[c]; t != nil && c.flags&flagMulti != 0 {
			reject = t.flags&commands.DenyOOM != 0
		}
	case "discard", "quit", "reset":
	default:
		reject = c.flags&flagMulti != 0
	}
	return reject && s.usedMemory() > s.cfg.MaxMemory
}

// execFlags is EXEC's flags for client pause, eviction and replica checks:
// its own and those of the commands it would run.
func execFlags(s *Server, c *Client, args [][]byte) commands.Flag {
	f := lookupCommand([]byte("exec")).Flags
	if t := s.multiState().txns[c]; t != nil && c.flags&flagMulti != 0 {
		f |= t.flags
	}
	return f
}

// multiInverseFlags reports the flags some queued command of c's
// transaction lacks (Redis's mstate.cmd_inv_flags: a stale replica
// refuses EXEC when a queued command is not allowed stale).
func (s *Server) multiInverseFlags(c *Client) commands.Flag {
	if t := s.multiState().txns[c]; t != nil && c.flags&flagMulti != 0 {
		return t.inv
	}
	return 0
}

// queueMulti queues the command if c is in MULTI (and it is not one of
// the commands that act on the transaction itself), replying +QUEUED.
func (s *Server) queueMulti(c *Client, cmd *command, args [][]byte) bool {
	if c.flags&flagMulti == 0 {
		return false
	}
	switch cmd.Name {
	case "exec", "discard", "multi", "watch", "quit", "reset":
		return false
	}
	// An aborted transaction keeps nothing: clients often pipeline
	// without reading the replies.
	if c.flags&(flagDirtyCAS|flagDirtyExec) == 0 {
		t := s.multiState().txnOf(c)
		n := 0
		for _, a := range args {
			n += len(a)
		}
		// One allocation for the arguments: they alias the read buffer.
		buf := make([]byte, 0, n)
		argv := make([][]byte, len(args))
		for i, a := range args {
			buf = append(buf, a...)
			argv[i] = buf[len(buf)-len(a) : len(buf) : len(buf)]
		}
		t.queue = append(t.queue, queuedCmd{cmd: cmd, args: argv})
		f := s.commandFlags(c, cmd, args)
		t.flags |= f
		t.inv |= ^f
		t.argBytes += int64(n) + int64(len(args))*argvPtrSize
	}
	c.Status("QUEUED")
	return true
}

func multiCommand(s *Server, c *Client, args [][]byte) {
	if c.flags&flagMulti != 0 {
		c.Error(errNestedMulti)
		return
	}
	c.flags |= flagMulti
	c.OK()
}

func discardCommand(s *Server, c *Client, args [][]byte) {
	if c.flags&flagMulti == 0 {
		c.Error(errDiscardNoMult)
		return
	}
	s.discardTransaction(c)
	c.OK()
}

// discardTransaction drops c's queue and watched keys and leaves MULTI.
func (s *Server) discardTransaction(c *Client) {
	st := s.multiState()
	s.unwatchAll(c)
	delete(st.txns, c)
	c.flags &^= flagMulti | flagDirtyCAS | flagDirtyExec
}

// execAbort discards c's transaction because EXEC was refused with msg,
// as Redis's execCommandAbort: -EXECABORT with the reason.
func (s *Server) execAbort(c *Client, msg string) {
	s.discardTransaction(c)
	msg = strings.TrimPrefix(msg, "ERR ")
	c.Error("EXECABORT Transaction discarded because of: " + msg)
	// The monitors saw MULTI: show them the transaction is over.
	s.feedMonitors(c, c.db.id, [][]byte{[]byte("exec")})
}

func execCommand(s *Server, c *Client, args [][]byte) {
	if c.flags&flagMulti == 0 {
		c.Error(errExecNoMulti)
		return
	}
	// Redis 7.0: a watched key that expired since WATCH fails EXEC.
	if s.watchedKeyExpired(c) {
		c.flags |= flagDirtyCAS
	}
	if c.flags&(flagDirtyCAS|flagDirtyExec) != 0 {
		if c.flags&flagDirtyExec != 0 {
			c.Error(errExecAbort)
		} else {
			c.NullArray()
		}
		s.discardTransaction(c)
		return
	}
	// Unwatch first: the transaction's own writes must not dirty it.
	s.unwatchAll(c)
	var queue []queuedCmd
	if t := s.multiState().txns[c]; t != nil {
		queue = t.queue
	}
	c.ArrayLen(len(queue))
	for _, q := range queue {
		s.call(c, q.cmd, q.args)
	}
	// The inner commands' errors are theirs: EXEC itself did not fail.
	c.errorReplied = false
	s.discardTransaction(c)
}

func watchCommand(s *Server, c *Client, args [][]byte) {
	if c.flags&flagMulti != 0 {
		c.Error(errWatchInMulti)
		return
	}
	// A dirty client will fail EXEC anyway: nothing more to watch.
	if c.flags&flagDirtyCAS == 0 {
		for _, k := range args[1:] {
			s.watchKey(c, k)
		}
	}
	c.OK()
}

func unwatchCommand(s *Server, c *Client, args [][]byte) {
	s.unwatchAll(c)
	c.flags &^= flagDirtyCAS
	c.OK()
}

// watchKey adds key of c's database to c's watched keys.
func (s *Server) watchKey(c *Client, key []byte) {
	st := s.multiState()
	t := st.txnOf(c)
	for _, wk := range t.watched {
		if wk.db == c.db.id && wk.key == string(key) {
			return
		}
	}
	m := st.watched[c.db.id]
	if m == nil {
		m = make(map[string][]*watchedKey)
		st.watched[c.db.id] = m
	}
	wk := &watchedKey{c: c, db: c.db.id, key: string(key), expired: s.keyIsExpired(c.db.ks, key)}
	m[wk.key] = append(m[wk.key], wk)
	t.watched = append(t.watched, wk)
	st.nwatched++
}

// unwatchAll forgets every key c watches (the dirty flag is the caller's).
func (s *Server) unwatchAll(c *Client) {
	st := s.multiState()
	t := st.txns[c]
	if t == nil || len(t.watched) == 0 {
		return
	}
	for _, wk := range t.watched {
		m := st.watched[wk.db]
		list := m[wk.key]
		for i, x := range list {
			if x == wk {
				list = append(list[:i:i], list[i+1:]...)
				break
			}
		}
		if len(list) == 0 {
			delete(m, wk.key)
		} else {
			m[wk.key] = list
		}
		st.nwatched--
	}
	t.watched = nil
	if c.flags&flagMulti == 0 {
		delete(st.txns, c)
	}
}

// keyIsExpired reports whether key exists in ks with its time passed, not
// yet deleted (Redis's keyIsExpired).
func (s *Server) keyIsExpired(ks *keyspace.DB, key []byte) bool {
	o, at := ks.Lookup(key)
	return o != nil && keyspace.Expired(at, s.now())
}

// watchedKeyExpired reports whether a key c watches has expired since it
// was watched (Redis's isWatchedKeyExpired).
func (s *Server) watchedKeyExpired(c *Client) bool {
	t := s.multiState().txns[c]
	if t == nil {
		return false
	}
	for _, wk := range t.watched {
		if !wk.expired && s.keyIsExpired(s.dbs[wk.db].ks, []byte(wk.key)) {
			return true
		}
	}
	return false
}

// touchWatchedKey marks dirty the clients watching key in db (Redis's
// touchWatchedKey). A dirty client's keys are unwatched at once: EXEC
// will fail whatever happens next.
func (s *Server) touchWatchedKey(db *DB, key []byte) {
	st := s.multiState()
	if db.id >= len(st.watched) {
		return
	}
	list := st.watched[db.id][string(key)]
	if len(list) == 0 {
		return
	}
	for _, wk := range append([]*watchedKey(nil), list...) {
		if wk.expired {
			if o, _ := db.ks.Lookup(key); o == nil {
				// The stale key is gone: logically no change.
				wk.expired = false
				continue
			}
			// Redis 7.0 stops at a stale key still present.
			break
		}
		wk.c.flags |= flagDirtyCAS
		s.unwatchAll(wk.c)
	}
}

// touchAllWatched marks dirty the clients watching keys of db when its
// contents are replaced (Redis's touchAllWatchedKeysInDb): emptied holds
// the keys db had, replaced those it gets (nil: none, a flush). A key
// that existed in neither, or was stale and stays stale or gone, is no
// change.
func (s *Server) touchAllWatched(db *DB, emptied, replaced *keyspace.DB) {
	st := s.multiState()
	if st.nwatched == 0 || db.id >= len(st.watched) {
		return
	}
	for key, list := range st.watched[db.id] {
		k := []byte(key)
		inEmptied, _ := emptied.Lookup(k)
		var inReplaced *keyspace.Object
		if replaced != nil {
			inReplaced, _ = replaced.Lookup(k)
		}
		if inEmptied == nil && inReplaced == nil {
			continue
		}
		for _, wk := range list {
			if wk.expired {
				if inReplaced == nil {
					wk.expired = false
					continue
				}
				if s.keyIsExpired(replaced, k) {
					continue
				}
			} else if inEmptied == nil && s.keyIsExpired(replaced, k) {
				wk.expired = true
				continue
			}
			wk.c.flags |= flagDirtyCAS
		}
	}
}

// propOp is one propagated command of the current top-level call.
type propOp struct {
	dbid    int
	argv    [][]byte
	targets int // propAOF, propRepl (db.go)
}

var (
	argMULTI = []byte("MULTI")
	argEXEC  = []byte("EXEC")
)

// batchPropagation holds what is propagated during a call (db.go's
// propagate asks), so that what one top-level command wrote — a
// transaction, a script, a write with the deletions of keys it found
// expired — reaches the AOF and replicas as one unit: alone when it is
// one command, wrapped in MULTI/EXEC otherwise, as Redis 7.0's
// propagatePendingCommands. It reports false outside a call.
func (s *Server) batchPropagation(dbid int, argv [][]byte, targets int) bool {
	st := s.multiState()
	if st.depth == 0 {
		return false
	}
	n := 0
	for _, a := range argv {
		n += len(a)
	}
	buf := make([]byte, 0, n)
	cp := make([][]byte, len(argv))
	for i, a := range argv {
		buf = append(buf, a...)
		cp[i] = buf[len(buf)-len(a) : len(buf) : len(buf)]
	}
	st.ops = append(st.ops, propOp{dbid: dbid, argv: cp, targets: targets})
	return true
}

// touchesArbitraryKeys are the commands with Redis's
// CMD_TOUCHES_ARBITRARY_KEYS flag.
var touchesArbitraryKeys = map[string]bool{"scan": true, "randomkey": true}

// flushPropagation sends the batch of the top-level call that ended.
func (s *Server) flushPropagation(cmd *command) {
	st := s.multiState()
	ops := st.ops
	st.ops = nil
	// SCAN and RANDOMKEY (Redis's CMD_TOUCHES_ARBITRARY_KEYS) propagate
	// the lazy expiries they cause one by one, as active expiry does.
	if len(ops) == 1 || cmd != nil && touchesArbitraryKeys[cmd.Name] {
		for _, op := range ops {
			s.emitPropagation(op.dbid, op.argv, op.targets)
		}
		return
	}
	// MULTI and EXEC go to every consumer, whatever the commands' own
	// targets (Redis's propagatePendingCommands).
	s.emitPropagation(ops[0].dbid, [][]byte{argMULTI}, propAll)
	for _, op := range ops {
		s.emitPropagation(op.dbid, op.argv, op.targets)
	}
	// The last database: no SELECT is needed before EXEC.
	s.emitPropagation(ops[len(ops)-1].dbid, [][]byte{argEXEC}, propAll)
}
