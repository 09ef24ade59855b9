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
	"strconv"
	"strings"
	"time"

	"github.com/keyfleet/keyfleet/node/aof"
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

	syncFull, syncPartialOK, syncPartialErr int64
	// getAck: a client waits in WAIT; REPLCONF GETACK goes to the
	// replicas after the command (Redis's get_ack_from_slaves).
	getAck bool
	// lastPing is when the stream last carried a PING.
	lastPing time.Time

	// pendingSync is the diskless snapshot being assembled (replicas
	// wait up to repl-diskless-sync-delay); running the one in progress.
	running *replSync

	// suppress holds the propagation targets a script turned off
	// (redis.set_repl) for the command it is running.
	suppress int

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
		}
		s.ext[replExt] = r
		s.hooks.clientGone = append(s.hooks.clientGone, s.replClientGone)
		s.hooks.cron = append(s.hooks.cron, s.replCron)
		afterCommandHooks = append(afterCommandHooks, replAfterCommand)
		st := s.adminState()
		st.replicaAcks = s.replAcksFor
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
	for _, rep := range r.replicas {
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

// replSync is one snapshot serving the full resync of one or more
// replicas (repl_sync.go).
type replSync struct {
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

// replCron is the primary side of Redis's replicationCron.
func (s *Server) replCron(now time.Time) {
	r := s.repl()
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
}

// replAfterCommand records the offset a client's WAIT waits for.
func replAfterCommand(s *Server, c *Client, cmd *command) {}

// replAcksFor counts the replicas that acknowledged c's writes.
func (s *Server) replAcksFor(c *Client) int {
	n := 0
	off := s.repl().offset
	for _, rep := range s.repl().replicas {
		if rep.state == replOnline && rep.ackOff >= off {
			n++
		}
	}
	return n
}
