package node

// Replication: the state shared by both sides and the primary side
// (propagation to replicas, the backlog, SYNC/PSYNC, REPLCONF, ROLE's
// master form, INFO replication, min-replicas). The replica side
// (REPLICAOF, the handshake, loading, applying the stream) is in
// repl_replica.go; WAIT in wait.go.
//
// What the replica side may rely on (all under the shard lock):
//
//   - s.repl() is the *replState: replid, replid2 (40 hex chars each;
//     replid2 all zeros when there is none), offset (master_repl_offset),
//     secondOffset (second_repl_offset, -1 when there is no replid2),
//     backlog (nil until created). Read them; change them only through
//     the methods below.
//   - s.replOffset() is master_repl_offset: on a replica, the offset of
//     the primary's stream processed so far (what REPLCONF ACK reports).
//   - s.replFeedRaw(b) appends bytes received from our primary, verbatim,
//     to the backlog (created on first use) and forwards them to our own
//     replicas (chained replication), advancing the offset by len(b).
//     Call it with exactly the bytes of the commands applied, once each.
//   - While s.isReplica() is true, s.propagate sends nothing to replicas
//     (only replFeedRaw does, as Redis's replicationFeedSlaves returns
//     early when masterhost is set); the AOF still gets each write.
//   - s.replSetHistory(replid, offset) after a full sync: our history
//     becomes the primary's (+FULLRESYNC <replid> <offset>): replid set,
//     replid2 cleared, the offset set and the backlog emptied so that it
//     starts at offset+1.
//   - s.replContinue(replid) after +CONTINUE <replid> with a new ID: the
//     old ID becomes replid2 valid up to the current offset (as Redis's
//     slaveTryPartialResynchronization).
//   - s.shiftReplicationID() on promotion (REPLICAOF NO ONE): replid2 =
//     replid, secondOffset = offset+1, a new replid.
//   - s.changeReplicationID(), s.clearReplicationID2(): as Redis's.
//   - s.disconnectReplicas() drops every replica (they reconnect and
//     PSYNC), e.g. when becoming a replica of another primary.
//   - s.replCreateBacklog() creates the backlog if there is none.
//   - Hooks the replica side sets from its serverInit: replState.infoReplica
//     writes INFO replication's replica-only fields (after role:slave),
//     replState.roleReplica writes ROLE's replica form.
//
// Propagation targets: db.go's propagate sends each write to the AOF
// (s.hooks.propagate) and to the replication feed (replFeed here) as
// independent consumers, each emitting its own SELECTs; propagateTo
// chooses (PUBLISH goes to replicas only, as Redis's
// forceCommandPropagation(PROPAGATE_REPL)).

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyfleet/keyfleet/internal/commands"
	"github.com/keyfleet/keyfleet/node/aof"
	"github.com/keyfleet/keyfleet/node/rdb"
)

const replExt = "repl"

// Replica states, as Redis's SLAVE_STATE_*.
const (
	replWaitBgsaveStart = iota // waiting for a snapshot to start
	replWaitBgsaveEnd          // snapshot running; stream buffered
	replSendBulk               // the RDB is being sent
	replOnline                 // streaming
	replRDBTransmitted         // rdb-only replica done
)

var replStateNames = [...]string{"wait_bgsave", "wait_bgsave", "send_bulk", "online", "rdb_transmitted"}

// replica is one replica attached to this server.
type replica struct {
	c     *Client
	state int
	// From REPLCONF.
	port       int
	ip         string
	capaEOF    bool
	capaPSYNC2 bool
	rdbOnly    bool
	// rdb-filter-only: the RDB carries functions only (or nothing).
	excludeData, excludeFunctions bool
	// preSync: SYNC rather than PSYNC, so no ACKs are expected.
	preSync bool

	ackOff  int64
	ackTime time.Time
	// initialOff is the offset announced by +FULLRESYNC: the stream from
	// initialOff+1 is what buf holds until the replica is online.
	initialOff int64
	// buf holds the stream while the RDB is prepared and sent.
	buf []byte
	// startOnAck: a diskless replica goes online at its first ACK (its
	// end of the RDB is known only to it).
	startOnAck bool
	sync       *replSync
	// waitSince is when it started waiting for a snapshot.
	waitSince time.Time
	// gone is set when the connection ended, for the goroutines that
	// transfer its RDB.
	gone atomic.Bool
	// progress is when (unix ms) the replica last took RDB bytes: one
	// that takes none for repl-timeout is dropped (replCron).
	progress atomic.Int64
}

// replState is the replication state of one shard.
type replState struct {
	replid       string
	replid2      string
	offset       int64
	secondOffset int64
	backlog      *backlog
	// noReplicasSince is when the last replica left, for
	// repl-backlog-ttl (zero while there are replicas).
	noReplicasSince time.Time

	replicas []*replica
	byClient map[*Client]*replica
	// seldb is the database of the last SELECT in the stream (-1: emit
	// one before the next command).
	seldb   int
	scratch []byte
	iter    []*replica

	syncFull, syncPartialOK, syncPartialErr int64
	// getAck: a client waits in WAIT; REPLCONF GETACK goes to the
	// replicas after the command (Redis's get_ack_from_slaves).
	getAck bool
	// lastPing is when the stream last carried a PING; lastCron when
	// the once-a-second part of replCron last ran.
	lastPing time.Time
	lastCron time.Time

	// pendingSync is the diskless snapshot being assembled (replicas
	// wait up to repl-diskless-sync-delay); running the one in progress.
	running *replSync

	// suppress holds the propagation targets a script turned off
	// (redis.set_repl) for the command it is running.
	suppress int

	// failoverState is INFO's master_failover_state ("" is
	// no-failover), set by FAILOVER.
	failoverState string
	// psyncFailover handles PSYNC <replid> <offset> FAILOVER on a
	// replica (the replica side sets it): true if it became a primary.
	psyncFailover func(replid string) bool

	// Set by the replica side (repl_replica.go).
	infoReplica func(w *infoWriter)
	roleReplica func(c *Client)
}

func init() {
	serverInits = append(serverInits, func(s *Server) {
		r := &replState{
			replid:       randomHex(s.rng, 40),
			replid2:      nullReplID,
			secondOffset: -1,
			seldb:        -1,
			byClient:     make(map[*Client]*replica),
			// The first keep-alive comes a period after the start (Redis
			// counts cron loops from there), so that a test that sets a
			// long period right away sees none.
			lastPing: time.Now(),
		}
		s.ext[replExt] = r
		s.hooks.clientGone = append(s.hooks.clientGone, s.replClientGone)
		s.hooks.cron = append(s.hooks.cron, s.replCron)
		afterCommandHooks = append(afterCommandHooks, replAfterCommand)
		st := s.adminState()
		st.beforeShutdown = s.replBeforeShutdown
		// DEBUG REPLICATE: to the replicas only, in the stream's
		// current database.
		s.debugState().replicate = func(args [][]byte) {
			if s.replFeeding() {
				s.replFeed(-1, args)
			}
		}
	})
}

const nullReplID = "0000000000000000000000000000000000000000"

func (s *Server) repl() *replState { return s.ext[replExt].(*replState) }

// propMask is the propagation targets currently allowed.
func (s *Server) propMask() int { return propAll &^ s.repl().suppress }

// replOffset is master_repl_offset.
func (s *Server) replOffset() int64 { return s.repl().offset }

// changeReplicationID gives the server a new history (Redis's
// changeReplicationId).
func (s *Server) changeReplicationID() { s.repl().replid = randomHex(s.rng, 40) }

// clearReplicationID2 forgets the previous history.
func (s *Server) clearReplicationID2() {
	r := s.repl()
	r.replid2 = nullReplID
	r.secondOffset = -1
}

// shiftReplicationID keeps the current history as the second one, valid
// up to the current offset, and starts a new one: replicas of the old
// primary can then continue with us (PSYNC2 after a promotion).
func (s *Server) shiftReplicationID() {
	r := s.repl()
	r.replid2 = r.replid
	// The replica asks for the next byte it wants: offset+1 is the first
	// byte of the new history, the last one the old ID can serve.
	r.secondOffset = r.offset + 1
	s.changeReplicationID()
	s.log.Info("Setting secondary replication ID", "replid2", r.replid2, "offset", r.secondOffset, "replid", r.replid)
}

// replSetHistory adopts a primary's history after a full sync.
func (s *Server) replSetHistory(replid string, offset int64) {
	r := s.repl()
	r.replid = replid
	s.clearReplicationID2()
	r.offset = offset
	r.backlog = nil
	s.replCreateBacklog()
}

// replContinue adopts the primary's new replid after +CONTINUE <replid>.
func (s *Server) replContinue(replid string) {
	r := s.repl()
	if replid == r.replid {
		return
	}
	r.replid2 = r.replid
	r.secondOffset = r.offset + 1
	r.replid = replid
}

// replCreateBacklog creates the backlog if there is none.
func (s *Server) replCreateBacklog() {
	r := s.repl()
	if r.backlog == nil {
		r.backlog = newBacklog(s.cfg.ReplBacklogSize, r.offset+1)
		// Redis's backlog offset is that of its first byte: offset+1.
	}
}

// replFeedRaw appends bytes received from our primary to the backlog and
// forwards them to our replicas, verbatim.
func (s *Server) replFeedRaw(b []byte) {
	if len(b) == 0 {
		return
	}
	s.replCreateBacklog()
	s.replWrite(b)
}

// disconnectReplicas closes every replica's connection.
func (s *Server) disconnectReplicas() {
	r := s.repl()
	for _, rep := range append([]*replica(nil), r.replicas...) {
		s.killClient(rep.c)
	}
}

// replFeeding reports whether writes must go to the replication feed: a
// top-level primary with a backlog or replicas, not loading.
func (s *Server) replFeeding() bool {
	r := s.repl()
	return (r.backlog != nil || len(r.replicas) > 0) && !s.isReplica() && !s.persist().loading
}

// replFeed encodes a propagated command once and feeds it to the backlog
// and the replicas, with a SELECT first when the database changed.
func (s *Server) replFeed(dbid int, argv [][]byte) {
	r := s.repl()
	buf := r.scratch[:0]
	if dbid >= 0 && dbid != r.seldb {
		buf = aof.AppendCommand(buf, [][]byte{argSELECT, strconv.AppendInt(nil, int64(dbid), 10)})
		r.seldb = dbid
	}
	buf = aof.AppendCommand(buf, argv)
	s.replWrite(buf)
	if cap(buf) <= 64<<10 {
		r.scratch = buf[:0]
	} else {
		r.scratch = nil
	}
}

var argSELECT = []byte("SELECT")

// replWrite appends encoded stream bytes to the backlog and sends them to
// each replica: online ones get them now, those whose snapshot is under
// way get them after their RDB, those waiting for a snapshot to start
// get them from that snapshot.
func (s *Server) replWrite(b []byte) {
	r := s.repl()
	if r.backlog != nil {
		r.backlog.feed(b)
	}
	r.offset += int64(len(b))
	// A copy: a replica over its output limit is dropped on the way,
	// which edits r.replicas.
	r.iter = append(r.iter[:0], r.replicas...)
	defer clear(r.iter)
	for _, rep := range r.iter {
		switch rep.state {
		case replOnline:
			if rep.startOnAck {
				rep.buf = append(rep.buf, b...)
				s.replCheckBuffered(rep)
				continue
			}
			s.checkOutputLimit(rep.c, rep.c.pushAsync(b))
		case replWaitBgsaveEnd, replSendBulk:
			if rep.rdbOnly {
				continue
			}
			rep.buf = append(rep.buf, b...)
			s.replCheckBuffered(rep)
		}
	}
}

// replCheckBuffered applies client-output-buffer-limit replica to the
// stream held for a replica that is not streaming yet.
func (s *Server) replCheckBuffered(rep *replica) {
	if rep.c.killed {
		return
	}
	s.checkOutputLimit(rep.c, len(rep.buf)+rep.c.pendingLen())
}

// replClientGone forgets a replica whose connection ended.
func (s *Server) replClientGone(c *Client) {
	r := s.repl()
	rep := r.byClient[c]
	if rep == nil {
		return
	}
	delete(r.byClient, c)
	for i, x := range r.replicas {
		if x == rep {
			r.replicas = append(r.replicas[:i], r.replicas[i+1:]...)
			break
		}
	}
	if rep.sync != nil {
		rep.sync.drop(rep)
	}
	rep.buf = nil
	rep.gone.Store(true)
	// Wake a transfer waiting for this client's socket to drain.
	c.wmu.Lock()
	if c.flushCond != nil {
		c.flushCond.Broadcast()
	}
	c.wmu.Unlock()
	if len(r.replicas) == 0 {
		r.noReplicasSince = time.Now()
	}
	if rep.state == replOnline {
		s.log.Info("Connection with replica lost", "replica", s.replicaName(rep))
	}
	s.replicaAcksChanged()
}

// replicaName is how logs name a replica: ip:port as it announced it.
func (s *Server) replicaName(rep *replica) string {
	return fmt.Sprintf("%s:%d", rep.announcedIP(), rep.port)
}

func (rep *replica) announcedIP() string {
	if rep.ip != "" {
		return rep.ip
	}
	host := rep.c.addr
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	return strings.Trim(host, "[]")
}

// ---- Full and partial resynchronization --------------------------------

// replSync is one snapshot serving the full resync of one or more
// replicas: a BGSAVE to disk whose file is then sent ($<len>), or a
// snapshot streamed to the replicas' sockets ($EOF:<mark>).
type replSync struct {
	socket bool
	// hooked: the snapshot's pre-write hook is installed (socket).
	hooked   bool
	bg       *bgsave
	replicas []*replica
}

// drop removes a replica that went away from the snapshot's audience.
func (rs *replSync) drop(rep *replica) {
	for i, x := range rs.replicas {
		if x == rep {
			rs.replicas = append(rs.replicas[:i], rs.replicas[i+1:]...)
			return
		}
	}
}

// replicaFor returns the replication record of c, creating it (REPLCONF
// comes before SYNC/PSYNC).
func (s *Server) replicaFor(c *Client) *replica {
	r := s.repl()
	rep := r.byClient[c]
	if rep == nil {
		rep = &replica{c: c, state: -1}
		r.byClient[c] = rep
	}
	return rep
}

// syncCommand is SYNC and PSYNC replid offset.
func syncCommand(s *Server, c *Client, args [][]byte) {
	r := s.repl()
	if c.flags&flagReplica != 0 {
		return // already a replica: ignored, as Redis
	}
	psync := eqFold(args[0], "psync")
	if psync && len(args) > 3 && eqFold(args[3], "failover") {
		if !s.isReplica() {
			c.Error("ERR PSYNC FAILOVER can't be sent to a master.")
			return
		}
		if r.psyncFailover == nil || !r.psyncFailover(string(args[1])) {
			c.Error("ERR PSYNC FAILOVER replid must match my replid.")
			return
		}
	}
	if r.failoverState != "" && r.failoverState != "no-failover" {
		c.Error("NOMASTERLINK Can't SYNC while failing over")
		return
	}
	if s.isReplica() && !s.replLinkUp() {
		c.Error("NOMASTERLINK Can't SYNC while not connected with my master")
		return
	}
	if c.replyStart > 0 {
		// Replies to earlier pipelined commands are not out yet: the
		// stream must not mix with them.
		c.Error("ERR SYNC and PSYNC are invalid with pending output")
		return
	}
	rep := s.replicaFor(c)
	if (rep.excludeData || rep.excludeFunctions) && !rep.capaEOF {
		c.Error("ERR Filtered replica requires EOF capability")
		return
	}
	s.log.Info("Replica asks for synchronization", "replica", s.replicaName(rep))
	if psync {
		off, ok := parseRedisInt64(args[2])
		if !ok {
			c.Error(errNotInt)
			return
		}
		if s.tryPartialResync(c, rep, string(args[1]), off) {
			r.syncPartialOK++
			return
		}
		if string(args[1]) != "?" {
			r.syncPartialErr++
		}
	} else {
		rep.preSync = true
	}
	r.syncFull++
	rep.state = replWaitBgsaveStart
	rep.waitSince = time.Now()
	s.addReplica(rep)
	if len(r.replicas) == 1 && r.backlog == nil {
		// A backlog from scratch means a new history: nobody can
		// continue the previous one from us.
		s.changeReplicationID()
		s.clearReplicationID2()
		s.replCreateBacklog()
		s.log.Info("Replication backlog created", "replid", r.replid, "replid2", r.replid2)
	}
	switch {
	case s.persist().bg != nil && r.running != nil && !r.running.socket:
		// A disk snapshot for replication is under way: attach to it
		// with a copy of the stream a sibling has buffered since it
		// started, if the sibling's needs are ours.
		for _, sib := range r.running.replicas {
			if sib.state == replWaitBgsaveEnd && !sib.rdbOnly && rep.sameNeeds(sib) {
				rep.buf = append([]byte(nil), sib.buf...)
				s.setupFullResync(rep, sib.initialOff)
				rep.sync = r.running
				r.running.replicas = append(r.running.replicas, rep)
				s.log.Info("Waiting for end of BGSAVE for SYNC")
				return
			}
		}
		s.log.Info("Can't attach the replica to the current BGSAVE. Waiting for next BGSAVE for SYNC")
	case s.persist().bg != nil:
		s.log.Info("Another background save is running: the replica waits for the next one")
	case s.cfg.ReplDisklessSync && rep.capaEOF && s.cfg.ReplDisklessSyncDelay > 0:
		s.log.Info("Delay next BGSAVE for diskless SYNC")
	default:
		s.replStartPendingSync(true)
	}
}

// sameNeeds reports whether two replicas can share one RDB.
func (rep *replica) sameNeeds(o *replica) bool {
	return rep.excludeData == o.excludeData && rep.excludeFunctions == o.excludeFunctions &&
		(!o.capaEOF || rep.capaEOF)
}

func (s *Server) addReplica(rep *replica) {
	r := s.repl()
	rep.c.flags |= flagReplica
	r.replicas = append(r.replicas, rep)
	r.noReplicasSince = time.Time{}
}

// tryPartialResync continues a replica's stream from the backlog when
// it asks for our history (replid, or replid2 up to where it is valid)
// from an offset the backlog still holds.
func (s *Server) tryPartialResync(c *Client, rep *replica, replid string, off int64) bool {
	r := s.repl()
	if !strings.EqualFold(replid, r.replid) && (!strings.EqualFold(replid, r.replid2) || off > r.secondOffset) {
		switch {
		case replid == "?":
			s.log.Info("Full resync requested by replica", "replica", s.replicaName(rep))
		case !strings.EqualFold(replid, r.replid) && !strings.EqualFold(replid, r.replid2):
			s.log.Info("Partial resynchronization not accepted: Replication ID mismatch",
				"asked", replid, "replid", r.replid, "replid2", r.replid2)
		default:
			s.log.Info("Partial resynchronization not accepted: offset beyond the second ID's history",
				"asked", off, "second_replid_offset", r.secondOffset)
		}
		return false
	}
	if r.backlog == nil || !r.backlog.covers(off) {
		s.log.Info("Unable to partial resync for lack of backlog", "replica", s.replicaName(rep), "asked", off)
		return false
	}
	rep.state = replOnline
	rep.ackTime = time.Now()
	s.addReplica(rep)
	if rep.capaPSYNC2 {
		c.Status("CONTINUE " + r.replid)
	} else {
		c.Status("CONTINUE")
	}
	data := r.backlog.from(off)
	if len(data) > 0 {
		c.pushAsync(data) // after the +CONTINUE line
	}
	s.log.Info("Partial resynchronization request accepted", "replica", s.replicaName(rep),
		"bytes", len(data), "offset", off)
	s.replicaAcksChanged()
	return true
}

// setupFullResync announces a full resync to rep: the stream it will get
// after the RDB starts at offset+1 (Redis's
// replicationSetupSlaveForFullResync).
func (s *Server) setupFullResync(rep *replica, offset int64) {
	r := s.repl()
	rep.initialOff = offset
	rep.state = replWaitBgsaveEnd
	rep.progress.Store(time.Now().UnixMilli())
	// Whatever database the stream was in, the replica's next command
	// must be preceded by a SELECT.
	r.seldb = -1
	if !rep.preSync {
		rep.c.pushAsync([]byte(fmt.Sprintf("+FULLRESYNC %s %d\r\n", r.replid, offset)))
	}
}

// replStartPendingSync starts a snapshot for the replicas waiting for
// one when it is time (Redis's shouldStartChildReplication): at once for
// disk-based sync (or when now), else once the longest waiting has
// waited repl-diskless-sync-delay or repl-diskless-sync-max-replicas
// are waiting.
func (s *Server) replStartPendingSync(now bool) {
	r := s.repl()
	if s.persist().bg != nil {
		return
	}
	var waiting []*replica
	var maxWait time.Duration
	mincapaEOF := true
	for _, rep := range r.replicas {
		if rep.state != replWaitBgsaveStart {
			continue
		}
		if len(waiting) > 0 && (rep.excludeData != waiting[0].excludeData || rep.excludeFunctions != waiting[0].excludeFunctions) {
			continue
		}
		waiting = append(waiting, rep)
		maxWait = max(maxWait, time.Since(rep.waitSince))
		mincapaEOF = mincapaEOF && rep.capaEOF
	}
	if len(waiting) == 0 {
		return
	}
	filtered := waiting[0].excludeData || waiting[0].excludeFunctions
	if !now && s.cfg.ReplDisklessSync &&
		!(s.cfg.ReplDisklessSyncMaxRepls > 0 && len(waiting) >= s.cfg.ReplDisklessSyncMaxRepls) &&
		maxWait < time.Duration(s.cfg.ReplDisklessSyncDelay)*time.Second {
		return
	}
	socket := (s.cfg.ReplDisklessSync || filtered) && mincapaEOF
	var err error
	if socket {
		s.log.Info("Starting BGSAVE for SYNC with target: replicas sockets")
		err = s.replStartSocketSync(waiting)
	} else {
		s.log.Info("Starting BGSAVE for SYNC with target: disk")
		err = s.replStartDiskSync(waiting)
	}
	if err != nil {
		s.log.Warn("BGSAVE for replication failed", "err", err)
		for _, rep := range waiting {
			rep.c.pushAsync([]byte("-ERR BGSAVE failed, replication can't continue\r\n"))
			s.replDropAfterWrite(rep)
		}
	}
}

// replDropAfterWrite closes a replica's connection once what is queued
// for it is written.
func (s *Server) replDropAfterWrite(rep *replica) {
	c := rep.c
	s.replClientGone(c)
	c.flags &^= flagReplica
	go func() {
		waitQueuedBelow(c, nil, 0)
		s.mu.Lock()
		if !c.killed {
			s.killClient(c)
		}
		s.mu.Unlock()
	}()
}

// replHighWater bounds the RDB bytes queued for a replica's socket: the
// snapshot goes on once the replica took them.
const replHighWater = 4 << 20

// waitQueuedBelow waits (without the shard lock) until at most n bytes
// are queued for c, c is closed or rep left. It reports whether c can
// still be written to.
func waitQueuedBelow(c *Client, rep *replica, n int) bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	for !c.closed && c.queuedLocked() > n && (rep == nil || !rep.gone.Load()) {
		if c.flushCond == nil {
			c.flushCond = sync.NewCond(&c.wmu)
		}
		c.flushCond.Wait()
	}
	ok := !c.closed && (rep == nil || !rep.gone.Load())
	if ok && rep != nil {
		rep.progress.Store(time.Now().UnixMilli())
	}
	return ok
}

// replStartDiskSync runs a BGSAVE whose file is then sent to the
// replicas, each of which gets the stream from the snapshot's start.
func (s *Server) replStartDiskSync(reps []*replica) error {
	r := s.repl()
	if err := s.startBgsave(); err != nil {
		return err
	}
	rs := &replSync{bg: s.persist().bg, replicas: append([]*replica(nil), reps...)}
	r.running = rs
	for _, rep := range reps {
		rep.sync = rs
		s.setupFullResync(rep, r.offset)
	}
	go func() {
		<-rs.bg.finished
		s.mu.Lock()
		defer s.mu.Unlock()
		if r.running == rs {
			r.running = nil
		}
		ok := s.persist().lastBgsaveOK
		var f *os.File
		if ok {
			var err error
			if f, err = os.Open(s.rdbPath()); err != nil {
				s.log.Warn("SYNC failed. Can't open the RDB after BGSAVE", "err", err)
				ok = false
			}
		}
		for _, rep := range append([]*replica(nil), rs.replicas...) {
			if !ok {
				s.log.Warn("SYNC failed. BGSAVE child returned an error")
				s.killClient(rep.c)
				continue
			}
			rep.state = replSendBulk
			go s.replSendFile(rep, f.Name())
		}
		if f != nil {
			f.Close()
		}
		s.replStartPendingSync(false)
	}()
	return nil
}

// replSendFile sends the RDB file at path as $<len>\r\n<payload>, then
// puts the replica online with the stream buffered meanwhile.
func (s *Server) replSendFile(rep *replica, path string) {
	c := rep.c
	f, err := os.Open(path)
	var size int64
	if err == nil {
		var fi os.FileInfo
		if fi, err = f.Stat(); err == nil {
			size = fi.Size()
		}
	}
	if err != nil {
		s.log.Warn("SYNC failed. Can't open the RDB", "err", err)
		s.mu.Lock()
		s.killClient(c)
		s.mu.Unlock()
		return
	}
	defer f.Close()
	s.mu.Lock()
	c.pushAsync([]byte("$" + strconv.FormatInt(size, 10) + "\r\n"))
	s.mu.Unlock()
	buf := make([]byte, 256<<10)
	for {
		n, rerr := f.Read(buf)
		if n > 0 {
			s.mu.Lock()
			if rep.gone.Load() {
				s.mu.Unlock()
				return
			}
			c.pushAsync(append([]byte(nil), buf[:n]...))
			s.mu.Unlock()
			if !waitQueuedBelow(c, rep, replHighWater) {
				return
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			s.log.Warn("SYNC failed. Can't read the RDB", "err", rerr)
			s.mu.Lock()
			s.killClient(c)
			s.mu.Unlock()
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if rep.gone.Load() {
		return
	}
	s.replicaPutOnline(rep, true)
}

// replicaPutOnline ends a full sync: the replica streams from now on,
// starting with what was buffered for it (at once, or, for a diskless
// transfer, at its first ACK, which confirms it loaded the payload).
func (s *Server) replicaPutOnline(rep *replica, startNow bool) {
	rep.sync = nil
	if rep.rdbOnly {
		rep.state = replRDBTransmitted
		s.log.Info("RDB transfer completed, rdb only replica should be disconnected asap", "replica", s.replicaName(rep))
		s.replDropAfterWrite(rep)
		return
	}
	rep.state = replOnline
	rep.ackTime = time.Now()
	rep.startOnAck = !startNow
	if startNow {
		s.replStartStream(rep)
	}
	s.log.Info("Synchronization with replica succeeded", "replica", s.replicaName(rep))
	s.replicaAcksChanged()
}

// replStartStream sends what was buffered during the sync.
func (s *Server) replStartStream(rep *replica) {
	rep.startOnAck = false
	if len(rep.buf) > 0 {
		b := rep.buf
		rep.buf = nil
		s.checkOutputLimit(rep.c, rep.c.pushAsync(b))
	}
}

// replStartSocketSync streams a fork-less snapshot (persistence.go's
// bgsave, walked here) to the replicas' sockets in the EOF-marked form.
func (s *Server) replStartSocketSync(reps []*replica) error {
	r := s.repl()
	first := reps[0]
	bg := s.newSocketSnapshot(!first.excludeData, !first.excludeFunctions)
	hooked := !first.excludeData
	if hooked {
		// Writes serialize the keys they touch first (persistence.go).
		bg.prev = s.hooks.beforeCall
		s.hooks.beforeCall = func(c *Client, cmd *command, args [][]byte) {
			s.bgPreWrite(c, cmd, args)
			if bg.prev != nil {
				bg.prev(c, cmd, args)
			}
		}
	}
	s.persist().bg = bg
	rs := &replSync{socket: true, bg: bg, hooked: hooked, replicas: append([]*replica(nil), reps...)}
	r.running = rs
	mark := randomHex(s.rng, 40)
	for _, rep := range reps {
		rep.sync = rs
		s.setupFullResync(rep, r.offset)
		rep.c.pushAsync([]byte("$EOF:" + mark + "\r\n"))
	}
	go s.replSocketLoop(rs, mark)
	return nil
}

// writeFilteredHeader writes an RDB header with the function libraries
// or without them (REPLCONF rdb-filter-only).
func (s *Server) writeFilteredHeader(w *rdb.Writer, functions bool) {
	w.Header()
	w.Aux("redis-ver", Version)
	w.AuxInt("redis-bits", strconv.IntSize)
	w.AuxInt("ctime", time.Now().Unix())
	w.AuxInt("used-mem", s.usedMemory())
	w.AuxInt("aof-base", 0)
	if functions {
		for _, code := range s.functionLibraries() {
			w.Byte(rdb.OpFunction2)
			w.String(code)
		}
	}
}

// replSocketLoop is the writer goroutine of a diskless sync: a slice of
// the snapshot under the lock, queued to every replica, then a wait
// (without the lock) for the slowest one to take it.
func (s *Server) replSocketLoop(rs *replSync, mark string) {
	bg := rs.bg
	r := s.repl()
	for {
		s.mu.Lock()
		// rdb-key-save-delay: one key a slice, its sleep off the lock.
		budget, before := s.persist().sliceKeys, bg.keys
		delay := s.cfg.RDBKeySaveDelay
		if delay != 0 {
			budget = 1
		}
		done := s.bgStep(bg, budget)
		saved := bg.keys - before
		var err error
		if done {
			err = bg.w.End()
		} else {
			err = bg.w.Flush()
		}
		chunk := bg.sink.b
		bg.sink.b = nil
		if done {
			chunk = append(chunk, mark...)
			s.replRestoreBeforeCall(rs)
		}
		targets := append([]*replica(nil), rs.replicas...)
		for _, rep := range targets {
			if err != nil {
				s.killClient(rep.c)
				continue
			}
			if len(chunk) > 0 {
				rep.c.pushAsync(chunk)
			}
		}
		s.mu.Unlock()
		if len(targets) == 0 && !done {
			s.log.Warn("Diskless rdb transfer, last replica dropped, killing fork child.")
		}
		if err != nil || len(targets) == 0 && !done {
			if err != nil {
				s.log.Warn("Diskless sync failed", "err", err)
			}
			if !done {
				// Nobody listens any more: finish without output.
				s.mu.Lock()
				for !s.bgStep(bg, -1) {
				}
				bg.sink.b = nil
				s.replRestoreBeforeCall(rs)
				s.mu.Unlock()
			}
			break
		}
		for _, rep := range targets {
			waitQueuedBelow(rep.c, rep, replHighWater)
		}
		if done {
			break
		}
		if delay != 0 {
			time.Sleep(delayFor(delay, saved))
		}
	}
	s.mu.Lock()
	s.persist().bg = nil
	if r.running == rs {
		r.running = nil
	}
	for _, rep := range append([]*replica(nil), rs.replicas...) {
		if !rep.gone.Load() {
			s.replicaPutOnline(rep, false)
		}
	}
	if n := len(rs.replicas); n > 0 {
		s.log.Info(fmt.Sprintf("Diskless rdb transfer, done reading from pipe, %d replicas still up.", n))
	}
	s.replStartPendingSync(false)
	s.mu.Unlock()
	close(bg.finished)
}

// replRestoreBeforeCall removes the snapshot's pre-write hook.
func (s *Server) replRestoreBeforeCall(rs *replSync) {
	if rs.hooked {
		rs.hooked = false
		s.hooks.beforeCall = rs.bg.prev
	}
}

// ---- Commands ------------------------------------------------------------

func init() {
	register(map[string]handler{
		"sync":     syncCommand,
		"psync":    syncCommand,
		"replconf": replconfCommand,
		"role":     roleCommand,
	})
	interceptors = append(interceptors, minReplicasInterceptor)
	onResetStat(func(s *Server) {
		r := s.repl()
		r.syncFull, r.syncPartialOK, r.syncPartialErr = 0, 0, 0
	})
}

// replconfCommand is REPLCONF option value ...: what a replica tells its
// primary before and during the sync, and its ACKs.
func replconfCommand(s *Server, c *Client, args [][]byte) {
	if len(args)%2 == 0 {
		c.Error(errSyntax)
		return
	}
	rep := s.replicaFor(c)
	for j := 1; j < len(args); j += 2 {
		val := args[j+1]
		switch opt := strings.ToLower(string(args[j])); opt {
		case "listening-port":
			port, ok := parseRedisInt64(val)
			if !ok {
				c.Error(errNotInt)
				return
			}
			rep.port = int(port)
		case "ip-address":
			if len(val) >= 256 {
				c.Error(fmt.Sprintf("ERR REPLCONF ip-address provided by replica instance is too long: %d bytes", len(val)))
				return
			}
			rep.ip = string(val)
		case "capa":
			// Capabilities this primary does not know are ignored.
			switch {
			case eqFold(val, "eof"):
				rep.capaEOF = true
			case eqFold(val, "psync2"):
				rep.capaPSYNC2 = true
			}
		case "ack":
			// No reply: the replica does not read one.
			if c.flags&flagReplica == 0 {
				return
			}
			off, ok := parseRedisInt64(val)
			if !ok {
				return
			}
			if off > rep.ackOff {
				rep.ackOff = off
			}
			rep.ackTime = time.Now()
			if rep.startOnAck && rep.state == replOnline {
				s.replStartStream(rep)
			}
			s.replicaAcksChanged()
			return
		case "getack":
			// Meant for replicas, from their primary (the replica side
			// answers it on the master link); nothing to reply.
			return
		case "rdb-only":
			v, ok := parseRedisInt64(val)
			if !ok {
				c.Error(errNotInt)
				return
			}
			if v < 0 || v > 1 {
				c.Error("ERR value is out of range, value must between 0 and 1")
				return
			}
			rep.rdbOnly = v == 1
		case "rdb-filter-only":
			rep.excludeData, rep.excludeFunctions = true, true
			for _, f := range strings.Fields(string(val)) {
				if !strings.EqualFold(f, "functions") {
					c.Error("ERR Unsupported rdb-filter-only option: " + f)
					return
				}
				rep.excludeFunctions = false
			}
		default:
			c.Error("ERR Unrecognized REPLCONF option: " + string(args[j]))
			return
		}
	}
	c.OK()
}

// roleCommand is ROLE: the master form here, the replica's from the
// replica side.
func roleCommand(s *Server, c *Client, args [][]byte) {
	r := s.repl()
	if s.isReplica() && r.roleReplica != nil {
		r.roleReplica(c)
		return
	}
	c.ArrayLen(3)
	c.BulkString("master")
	c.Int(r.offset)
	d := c.DeferLen()
	n := 0
	for _, rep := range r.replicas {
		if rep.state != replOnline {
			continue
		}
		c.ArrayLen(3)
		c.BulkString(rep.announcedIP())
		c.BulkInt(int64(rep.port))
		c.BulkInt(rep.ackOff)
		n++
	}
	c.SetArrayLen(d, n)
}

// goodReplicas counts the online replicas whose last ACK is at most
// min-replicas-max-lag seconds old.
func (s *Server) goodReplicas() int {
	n := 0
	now := time.Now()
	for _, rep := range s.repl().replicas {
		if rep.state == replOnline && int64(now.Sub(rep.ackTime)/time.Second) <= int64(s.cfg.MinReplicasMaxLag) {
			n++
		}
	}
	return n
}

// minReplicasInterceptor refuses writes with -NOREPLICAS while fewer
// than min-replicas-to-write replicas are good (Redis's
// checkGoodReplicasStatus).
func minReplicasInterceptor(s *Server, c *Client, cmd *command, args [][]byte) bool {
	if s.cfg.MinReplicasToWrite <= 0 || s.cfg.MinReplicasMaxLag <= 0 || s.isReplica() || c.flags&flagPrimary != 0 {
		return false
	}
	var write bool
	switch cmd.Name {
	case "exec":
		write = execFlags(s, c, args)&commands.Write != 0
	case "eval", "eval_ro", "evalsha", "evalsha_ro", "fcall", "fcall_ro":
		return false // with the flags the script declares (scripting.go)
	default:
		write = cmd.Has(commands.Write)
	}
	if !write || s.goodReplicasForWrite() {
		return false
	}
	s.rejectCommand(c, cmd, errNoReplicas)
	return true
}

// ---- Cron ------------------------------------------------------------------

// replCron is the primary side of Redis's replicationCron: pending
// snapshots, keep-alive PINGs in the stream, newlines to replicas
// waiting for their RDB, replicas that stopped ACKing, and the backlog's
// time to live.
func (s *Server) replCron(now time.Time) {
	r := s.repl()
	s.replStartPendingSync(false)
	if now.Sub(r.lastCron) < time.Second {
		return
	}
	r.lastCron = now
	period := time.Duration(max(s.cfg.ReplPingReplicaPeriod, 1)) * time.Second
	if len(r.replicas) > 0 && s.replFeeding() && now.Sub(r.lastPing) >= period && !s.failoverHoldsPings() {
		r.lastPing = now
		// In the stream's current database: a PING needs no SELECT.
		s.replFeed(-1, [][]byte{argPING})
	}
	timeout := time.Duration(s.cfg.ReplTimeout) * time.Second
	for _, rep := range append([]*replica(nil), r.replicas...) {
		switch {
		case rep.state == replWaitBgsaveStart || rep.state == replWaitBgsaveEnd && rep.sync != nil && !rep.sync.socket:
			// Keeps the replica from timing out while the RDB is made.
			rep.c.pushAsync([]byte("\n"))
		case rep.state == replOnline && !rep.preSync && now.Sub(rep.ackTime) > timeout:
			// Without its first ACK a diskless replica is still loading
			// the RDB: still the full sync, for the log.
			phase := "streaming sync"
			if rep.startOnAck {
				phase = "full sync"
			}
			s.log.Warn(fmt.Sprintf("Disconnecting timedout replica (%s): %s", phase, s.replicaName(rep)))
			s.killClient(rep.c)
		case (rep.state == replSendBulk || rep.state == replWaitBgsaveEnd && rep.sync != nil && rep.sync.socket) &&
			now.UnixMilli()-rep.progress.Load() > timeout.Milliseconds():
			// It stopped reading its RDB: the transfer would wait for
			// it forever, and the snapshot with it.
			s.log.Warn("Disconnecting timedout replica (full sync): " + s.replicaName(rep))
			s.killClient(rep.c)
		}
	}
	// repl-backlog-ttl: a primary without replicas frees its backlog
	// after that long (0: never).
	if r.backlog != nil && len(r.replicas) == 0 && !s.isReplica() && s.cfg.ReplBacklogTTL > 0 &&
		!r.noReplicasSince.IsZero() && now.Sub(r.noReplicasSince) > time.Duration(s.cfg.ReplBacklogTTL)*time.Second {
		// A new history: a replica that comes back cannot continue one
		// we no longer hold.
		s.changeReplicationID()
		s.clearReplicationID2()
		r.backlog = nil
		s.log.Info("Replication backlog freed after timeout", "seconds", s.cfg.ReplBacklogTTL)
	}
	if r.backlog != nil && int64(len(r.backlog.buf)) != max(s.cfg.ReplBacklogSize, 1) {
		r.backlog.resize(s.cfg.ReplBacklogSize)
	}
}

var argPING = []byte("PING")

// replAfterCommand records the offset a client's WAIT waits for: the
// stream up to the end of its last command (Redis's c->woff).
func replAfterCommand(s *Server, c *Client, cmd *command) {
	c.woff = s.repl().offset
}

// replCountAcks counts the online replicas that acknowledged offset.
func (s *Server) replCountAcks(offset int64) int {
	n := 0
	for _, rep := range s.repl().replicas {
		if rep.state == replOnline && rep.ackOff >= offset {
			n++
		}
	}
	return n
}

// replRequestAck sends REPLCONF GETACK * to the replicas so that they
// ACK at once (WAIT), once per command however many wait.
func (s *Server) replRequestAck() {
	if len(s.repl().replicas) == 0 || !s.replFeeding() {
		return
	}
	s.replFeed(-1, [][]byte{[]byte("REPLCONF"), []byte("GETACK"), []byte("*")})
}

// ---- INFO ------------------------------------------------------------------

func (s *Server) infoReplicationFields(w *infoWriter) {
	r := s.repl()
	if s.isReplica() {
		w.field("role", "slave")
		if r.infoReplica != nil {
			r.infoReplica(w)
		}
	} else {
		w.field("role", "master")
	}
	w.field("connected_slaves", len(r.replicas))
	if s.cfg.MinReplicasToWrite > 0 && s.cfg.MinReplicasMaxLag > 0 {
		w.field("min_slaves_good_slaves", s.goodReplicas())
	}
	now := time.Now()
	for i, rep := range r.replicas {
		lag := int64(0)
		if !rep.ackTime.IsZero() {
			lag = int64(now.Sub(rep.ackTime) / time.Second)
		}
		state := "wait_bgsave"
		if rep.state >= 0 && rep.state < len(replStateNames) {
			state = replStateNames[rep.state]
		}
		w.raw("slave"+strconv.Itoa(i), fmt.Sprintf("ip=%s,port=%d,state=%s,offset=%d,lag=%d",
			rep.announcedIP(), rep.port, state, rep.ackOff, lag))
	}
	fs := r.failoverState
	if fs == "" {
		fs = "no-failover"
	}
	w.field("master_failover_state", fs)
	w.field("master_replid", r.replid)
	w.field("master_replid2", r.replid2)
	w.field("master_repl_offset", r.offset)
	w.field("second_repl_offset", r.secondOffset)
	if r.backlog != nil {
		w.field("repl_backlog_active", 1)
		w.field("repl_backlog_size", s.cfg.ReplBacklogSize)
		w.field("repl_backlog_first_byte_offset", r.backlog.offset)
		w.field("repl_backlog_histlen", r.backlog.histlen)
	} else {
		w.field("repl_backlog_active", 0)
		w.field("repl_backlog_size", s.cfg.ReplBacklogSize)
		w.field("repl_backlog_first_byte_offset", 0)
		w.field("repl_backlog_histlen", 0)
	}
}

// replBeforeShutdown gives lagging replicas up to shutdown-timeout to
// acknowledge the whole stream before a SHUTDOWN without NOW (Redis 7.0's
// isReadyToShutdown), asking them for an ACK at once. The shard serves
// meanwhile (the lock is released while waiting).
func (s *Server) replBeforeShutdown(now, force bool) error {
	r := s.repl()
	defer s.replLogShutdownSync()
	if now || s.cfg.ShutdownTimeout <= 0 || s.isReplica() {
		return nil
	}
	lagging := func() bool {
		for _, rep := range r.replicas {
			if rep.state == replOnline && !rep.preSync && rep.ackOff < r.offset {
				return true
			}
		}
		return false
	}
	if !lagging() {
		return nil
	}
	s.log.Info("Waiting for replicas before shutting down")
	s.replRequestAck()
	deadline := time.NewTimer(time.Duration(s.cfg.ShutdownTimeout) * time.Second)
	defer deadline.Stop()
	st := s.adminState()
	for lagging() {
		ch := st.waitCh
		s.mu.Unlock()
		timedOut := false
		select {
		case <-ch:
		case <-deadline.C:
			timedOut = true
		}
		s.mu.Lock()
		if timedOut {
			return nil
		}
	}
	return nil
}

// replLogShutdownSync logs, as Redis's finishShutdown, which replicas had
// acknowledged the whole stream.
func (s *Server) replLogShutdownSync() {
	r := s.repl()
	if len(r.replicas) == 0 {
		return
	}
	lagging := 0
	for _, rep := range r.replicas {
		if rep.ackOff == r.offset {
			continue
		}
		lagging++
		lag := int64(0)
		if rep.state == replOnline {
			lag = int64(time.Since(rep.ackTime) / time.Second)
		}
		s.log.Warn(fmt.Sprintf("Lagging replica %s reported offset %d behind master, lag=%d, state=%s.",
			s.replicaName(rep), r.offset-rep.ackOff, lag, replStateNames[max(rep.state, 0)]))
	}
	s.log.Info(fmt.Sprintf("%d of %d replicas are in sync when shutting down.", len(r.replicas)-lagging, len(r.replicas)))
}
