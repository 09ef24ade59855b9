package node

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyfleet/keyfleet/internal/commands"
	"github.com/keyfleet/keyfleet/node/rdb"
)

// The replica side of replication (Redis 7.0's PSYNC2, replication.c's
// syncWithMaster / readSyncBulkPayload / the master client).
//
// The primary is cfg.ReplicaOf: setting it (REPLICAOF, the replicaof
// directive, managed mode) makes the server a replica at once (read-only
// for clients, no active expiry, no eviction) and the link is made by a
// goroutine of its own, started from cron while the state is
// replConnect, as Redis's replicationCron does, with a back-off after
// failures. The link goroutine:
//
//   - connects and hands-shakes: PING, AUTH, REPLCONF listening-port
//     (and ip-address), REPLCONF capa eof capa psync2, then PSYNC with
//     our replid and offset+1 when our data continues a history (Redis's
//     cached master) or "? -1";
//   - on +FULLRESYNC receives the RDB ($<len> or the diskless $EOF:<mark>
//     form) into a file or, with repl-diskless-load on-empty-db (empty
//     data) or swapdb, into memory, so that the old data stays intact until
//     the payload is complete; then, under the shard lock, empties the
//     databases and function libraries and loads it;
//   - on +CONTINUE keeps the data (and switches to the primary's new
//     replid, keeping the old one as replid2, when it announces one);
//   - then reads the stream and applies each command through the master
//     client (flag M), whose replies are dropped, counting every byte it
//     consumed in the applied offset and feeding the same bytes to our own
//     backlog and sub-replicas (replFeedRaw), so a chained replica sees
//     exactly our primary's stream and offsets;
//   - sends REPLCONF ACK <offset> each second, and at once for REPLCONF
//     GETACK (with the offset before the GETACK itself, as Redis).
//
// Link generations: every change of primary increments gen; a link
// goroutine whose gen is stale gives up without touching the state.

const replicaExt = "replica"

// Link states, as Redis's repl_state; ROLE shows them.
const (
	replNone       = iota // a primary
	replConnect           // must connect (cron starts the link)
	replConnecting        // dialling
	replHandshake         // PING ... PSYNC
	replTransfer          // receiving the RDB
	replConnected         // streaming
)

// replicaState is the replica side's state, guarded by the shard lock
// except where noted.
type replicaState struct {
	state int
	gen   uint64
	// cancel ends the current link goroutine (nil when none runs).
	cancel context.CancelFunc
	// master is the master client while streaming.
	master *Client
	// psyncOK: our replid and offset describe our data, so PSYNC may ask
	// to continue them (Redis keeps a cached master for this).
	psyncOK bool
	// reploff is the applied offset: the primary's stream bytes we have
	// processed (Redis's master->reploff); readReploff what was read.
	reploff     int64
	readReploff int64
	// lastIO is when the primary last sent something while streaming.
	lastIO time.Time
	// downSince is when the link went down (zero: never up yet).
	downSince time.Time
	// nextTry and failures pace reconnections.
	nextTry  time.Time
	failures int
	// applying is set while the master client's commands run: they see
	// logically expired keys as present (Redis's expireIfNeeded).
	applying bool
	// masterDB is the database the last master client had selected: a
	// partial resync continues the stream where it was, SELECT included
	// (Redis keeps the cached master client itself).
	masterDB int
	// unexpectedErrors counts error replies to our primary
	// (unexpected_error_replies).
	unexpectedErrors int64
	// writableExpires are the keys with a TTL that clients wrote on a
	// writable replica: the primary will never expire them, so the
	// replica does (Redis's slaveKeysWithExpire).
	writableExpires map[int]map[string]struct{}
	// rdbInfo is gathered while an RDB loads at start.
	rdbInfo rdbReplInfo
	// managedRole: the host set the role; REPLICAOF from clients is
	// refused.
	managedRole bool

	// Transfer figures, written by the link goroutine without the lock.
	syncSize   atomic.Int64 // -1: unknown ($EOF: form)
	syncRead   atomic.Int64
	syncLastIO atomic.Int64 // unix seconds

	// ackOff is the offset the ACK writer reports (mirrors reploff).
	ackOff atomic.Int64
}

func init() {
	onInfoField("unexpected_error_replies", func(s *Server) string {
		return strconv.FormatInt(s.replica().unexpectedErrors, 10)
	})
	onInfoField("slave_expires_tracked_keys", func(s *Server) string {
		n := 0
		for _, keys := range s.replica().writableExpires {
			n += len(keys)
		}
		return strconv.Itoa(n)
	})
	register(map[string]handler{
		"replicaof": replicaofCommand,
		"slaveof":   replicaofCommand,
	})
	interceptors = append(interceptors, replicaInterceptor)
	serverInits = append(serverInits, func(s *Server) {
		st := &replicaState{}
		s.ext[replicaExt] = st
		s.hooks.isReplica = func() bool { return s.cfg.ReplicaOf.Host != "" }
		if s.cfg.ReplicaOf.Host != "" {
			st.state = replConnect
		}
		s.hooks.cron = append(s.hooks.cron, s.replicaCron, s.expireWritableReplicaKeys)
		prevAfter := s.hooks.afterCall
		s.hooks.afterCall = func(c *Client, cmd *command, args [][]byte, dur time.Duration) {
			if prevAfter != nil {
				prevAfter(c, cmd, args, dur)
			}
			if s.cfg.ReplicaOf.Host != "" && c.flags&flagPrimary == 0 && cmd.Has(commands.Write) {
				s.rememberWritableExpires(c.db, cmd, args)
			}
		}
		r := s.repl()
		r.infoReplica = func(w *infoWriter) { s.infoReplicaFields(w) }
		r.roleReplica = func(c *Client) { s.roleReplica(c) }
		r.psyncFailover = s.acceptFailoverPSYNC
		s.hooks.clientGone = append(s.hooks.clientGone, func(c *Client) {
			if c == st.master && c != nil {
				// CLIENT KILL TYPE master, or the link failing: closing
				// the socket ends the link goroutine's read.
				if c.nc != nil {
					c.nc.Close()
				}
			}
		})
	})
}

func (s *Server) replica() *replicaState { return s.ext[replicaExt].(*replicaState) }

// replLinkUp reports whether the replica streams from its primary.
func (s *Server) replLinkUp() bool { return s.replica().state == replConnected }

// applyingPrimaryStream reports whether the running command came from our
// primary (Redis's server.current_client == server.master).
func (s *Server) applyingPrimaryStream() bool {
	st, _ := s.ext[replicaExt].(*replicaState)
	return st != nil && st.applying
}

// replicaofCommand is REPLICAOF / SLAVEOF host port | NO ONE.
func replicaofCommand(s *Server, c *Client, args [][]byte) {
	if s.managedRoleLocked() {
		c.Error("ERR REPLICAOF is not allowed on a managed shard: its role is set by the control plane")
		return
	}
	if s.failingOver() {
		c.Error("ERR REPLICAOF not allowed while failing over.")
		return
	}
	if strings.EqualFold(string(args[1]), "no") && strings.EqualFold(string(args[2]), "one") {
		if s.cfg.ReplicaOf.Host != "" {
			s.unsetPrimary()
			s.log.Info("MASTER MODE enabled (user request)", "client", c.addr)
		}
		c.OK()
		return
	}
	if c.flags&flagReplica != 0 {
		c.Error("ERR Command is not valid when client is a replica.")
		return
	}
	port, err := strconv.ParseInt(string(args[2]), 10, 64)
	if err != nil || port < 0 || port > 65535 {
		c.Error("ERR Invalid master port")
		return
	}
	host := string(args[1])
	if s.cfg.ReplicaOf.Host != "" && strings.EqualFold(s.cfg.ReplicaOf.Host, host) && s.cfg.ReplicaOf.Port == int(port) {
		s.log.Info("REPLICAOF would result into synchronization with the master we are already connected with. No operation performed.")
		c.Status("OK Already connected to specified master")
		return
	}
	s.setPrimary(host, int(port))
	s.log.Info(fmt.Sprintf("REPLICAOF %s:%d enabled (user request)", host, port), "client", c.addr)
	c.OK()
}

// managedRoleLocked reports whether REPLICAOF from clients is refused:
// a managed shard's role belongs to the control plane.
func (s *Server) managedRoleLocked() bool {
	return s.replica().managedRole
}

// setPrimary makes the server a replica of host:port (Redis's
// replicationSetMaster). The data is kept until a full sync replaces
// it; sub-replicas stay attached, as they may continue with us.
func (s *Server) setPrimary(host string, port int) {
	st := s.replica()
	wasPrimary := s.cfg.ReplicaOf.Host == ""
	s.dropLink()
	s.cfg.ReplicaOf = ReplicaOf{Host: host, Port: port}
	// Clients blocked on keys would wait for writes that only the
	// primary can make now (Redis's disconnectAllBlockedClients).
	s.unblockAllForRoleChange()
	if wasPrimary {
		// Our own history is what a PSYNC may continue with the new
		// primary (replicationCacheMasterUsingMyself).
		st.psyncOK = true
		st.reploff = s.replOffset()
		st.readReploff = st.reploff
	}
	st.state = replConnect
	st.nextTry = time.Time{}
	st.failures = 0
	st.downSince = time.Time{}
}

// unsetPrimary makes the replica a primary (REPLICAOF NO ONE, Redis's
// replicationUnsetMaster): the data stays, the replication id shifts so
// that sub-replicas, disconnected here, continue partially with us.
func (s *Server) unsetPrimary() {
	if s.cfg.ReplicaOf.Host == "" {
		return
	}
	st := s.replica()
	s.cfg.ReplicaOf = ReplicaOf{}
	s.dropLink()
	st.psyncOK = false
	st.state = replNone
	st.downSince = time.Time{}
	s.shiftReplicationID()
	s.disconnectReplicas()
	// The next write we propagate starts with a SELECT for our replicas.
	s.repl().seldb = -1
}

// dropLink ends the current link (goroutine, master client) without
// changing the configured primary.
func (s *Server) dropLink() {
	st := s.replica()
	st.gen++
	if st.cancel != nil {
		st.cancel()
		st.cancel = nil
	}
	if m := st.master; m != nil {
		st.master = nil
		st.masterDB = m.db.id
		s.freeClient(m)
		if m.nc != nil {
			m.nc.Close()
		}
	}
	st.syncSize.Store(0)
	st.syncRead.Store(0)
}

const errUnblockedRoleChange = "UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)"

// unblockAllForRoleChange ends the blocking commands of every client with
// Redis's -UNBLOCKED error: on a replica they could only wait forever.
// Clients in WAIT are woken to find the server a replica (wait.go).
func (s *Server) unblockAllForRoleChange() {
	for _, c := range s.clients {
		if c.flags&flagBlocked == 0 {
			continue
		}
		st := s.blockingState()
		if bc := st.byClient[c]; bc != nil {
			c.Error(errUnblockedRoleChange)
			c.closeAfterReply = true // as Redis 7.0's disconnectAllBlockedClients
			s.unblock(bc)
		}
	}
	s.replicaAcksChanged()
}

// replicaCron starts the link when one is due, as replicationCron does
// every second; the link goroutine watches its own timeouts.
func (s *Server) replicaCron(now time.Time) {
	st := s.replica()
	if st.state != replConnect || s.ctx == nil || now.Before(st.nextTry) {
		return
	}
	host, port := s.cfg.ReplicaOf.Host, s.cfg.ReplicaOf.Port
	if host == "" {
		st.state = replNone
		return
	}
	st.gen++
	ctx, cancel := context.WithCancel(s.ctx)
	st.cancel = cancel
	st.state = replConnecting
	l := &replLink{
		s:    s,
		st:   st,
		gen:  st.gen,
		addr: net.JoinHostPort(host, strconv.Itoa(port)),
		cfg:  s.linkConfig(),
	}
	if st.psyncOK {
		l.psyncID, l.psyncOff = s.repl().replid, st.reploff+1
	}
	// A primary handing over to this target asks it to lead (FAILOVER).
	l.failover = s.repl().failoverState == failoverInProgress
	s.log.Info(fmt.Sprintf("Connecting to MASTER %s", l.addr))
	go l.run(ctx)
}

// linkSettings are the settings a link reads once, at its start.
type linkSettings struct {
	user, pass   string
	announceIP   string
	announcePort int
	timeout      time.Duration
	disklessLoad string
	dir          string
}

func (s *Server) linkConfig() linkSettings {
	port := s.cfg.ReplicaAnnouncePort
	if port == 0 {
		port = s.cfg.Port
	}
	return linkSettings{
		user:         s.cfg.MasterUser,
		pass:         s.cfg.MasterAuth,
		announceIP:   s.cfg.ReplicaAnnounceIP,
		announcePort: port,
		timeout:      time.Duration(max(s.cfg.ReplTimeout, 1)) * time.Second,
		disklessLoad: s.cfg.ReplDisklessLoad,
		dir:          s.cfg.Dir,
	}
}

// replLink is one attempt at a link with the primary, run by its own
// goroutine.
type replLink struct {
	s *Server
	// st is the server's replica state: the link's goroutine reaches it
	// without the shard lock only through this pointer and its atomics
	// (s.ext is a map written under the lock).
	st       *replicaState
	gen      uint64
	addr     string
	cfg      linkSettings
	psyncID  string
	psyncOff int64
	// failover: PSYNC carries FAILOVER (this server hands over to the
	// target); psyncSent once it was written, so the handover's outcome
	// is decided by its reply.
	failover  bool
	psyncSent bool

	conn net.Conn
	br   *bufio.Reader
	wmu  sync.Mutex // the ACK writer and GETACK share the socket
	// carry holds the bytes of a transaction not yet committed (apply).
	carry []byte
}

// errTemporary is a PSYNC refusal that only asks to retry later
// (-NOMASTERLINK, -LOADING): no back-off growth, no warning.
var errTemporary = errors.New("primary not ready")

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (l *replLink) run(ctx context.Context) {
	err := l.session(ctx)
	if l.conn != nil {
		l.conn.Close()
	}
	s := l.s
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.replica()
	if st.gen != l.gen {
		return // the primary changed meanwhile: nothing here is ours
	}
	st.cancel = nil
	if m := st.master; m != nil {
		st.master = nil
		st.masterDB = m.db.id
		s.freeClient(m)
	}
	if st.state == replConnected {
		st.downSince = time.Now()
	}
	st.state = replConnect
	delay := time.Second
	if errors.Is(err, errTemporary) {
		st.failures = 0
	} else {
		st.failures++
		// 1 s as Redis's cron, doubling after repeated failures up to 5 s.
		delay = min(time.Duration(1<<min(st.failures-1, 3))*time.Second, 5*time.Second)
	}
	st.nextTry = time.Now().Add(delay)
	if err != nil && ctx.Err() == nil {
		s.log.Warn("replication link with primary ended", "primary", l.addr, "err", err)
	}
}

// alive takes the shard lock and reports whether the link is still the
// current one; the caller unlocks.
func (l *replLink) locked() bool {
	l.s.mu.Lock()
	return l.s.replica().gen == l.gen
}

func (l *replLink) setState(state int) bool {
	ok := l.locked()
	if ok {
		l.s.replica().state = state
	}
	l.s.mu.Unlock()
	return ok
}

func (l *replLink) session(ctx context.Context) error {
	d := net.Dialer{Timeout: l.cfg.timeout}
	conn, err := d.DialContext(ctx, "tcp", l.addr)
	if err != nil {
		return fmt.Errorf("connect to primary %s: %w", l.addr, err)
	}
	l.conn = conn
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	l.br = bufio.NewReaderSize(conn, 64<<10)
	if !l.setState(replHandshake) {
		return nil
	}
	full, replid, offset, err := l.handshake()
	if l.failover && l.psyncSent {
		ok := l.locked()
		if ok {
			ok = l.s.failoverPSYNCDone(err)
		}
		l.s.mu.Unlock()
		if !ok {
			return nil
		}
	}
	if isTimeout(err) {
		return fmt.Errorf("Timeout connecting to the MASTER...: %w", err)
	}
	if err != nil {
		return err
	}
	if full {
		if !l.setState(replTransfer) {
			return nil
		}
		if err := l.fullSync(replid, offset); isTimeout(err) {
			return fmt.Errorf("Timeout receiving bulk data from MASTER... If the problem persists try to set the 'repl-timeout' parameter in redis.conf to a larger value: %w", err)
		} else if err != nil {
			return err
		}
	} else if err := l.continueSync(replid); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return nil
	}
	ackCtx, stopAcks := context.WithCancel(ctx)
	defer stopAcks()
	go l.ackLoop(ackCtx)
	return l.stream()
}

// command writes one request and reads its one-line reply.
func (l *replLink) command(args ...string) (string, error) {
	l.conn.SetDeadline(time.Now().Add(l.cfg.timeout))
	var b []byte
	b = fmt.Appendf(b, "*%d\r\n", len(args))
	for _, a := range args {
		b = fmt.Appendf(b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := l.conn.Write(b); err != nil {
		return "", fmt.Errorf("send %s to primary: %w", args[0], err)
	}
	return l.readLine()
}

// readLine reads one reply line, skipping the bare newlines a primary
// sends as keep-alives while it prepares the payload.
func (l *replLink) readLine() (string, error) {
	for {
		l.conn.SetReadDeadline(time.Now().Add(l.cfg.timeout))
		line, err := l.br.ReadString('\n')
		if err != nil {
			return "", fmt.Errorf("read from primary: %w", err)
		}
		l.st.syncLastIO.Store(time.Now().Unix())
		line = strings.TrimRight(line, "\r\n")
		if line != "" {
			return line, nil
		}
	}
}

// handshake runs Redis 7.0's handshake up to PSYNC's answer.
func (l *replLink) handshake() (full bool, replid string, offset int64, err error) {
	reply, err := l.command("PING")
	if err != nil {
		return false, "", 0, err
	}
	// Without credentials yet, NOAUTH/NOPERM still prove a live primary.
	if reply[0] == '-' && !strings.HasPrefix(reply, "-NOAUTH") && !strings.HasPrefix(reply, "-NOPERM") &&
		!strings.HasPrefix(reply, "-ERR operation not permitted") {
		return false, "", 0, fmt.Errorf("Error reply to PING from master: '%s'", reply[1:])
	}
	if l.cfg.pass != "" {
		args := []string{"AUTH", l.cfg.pass}
		if l.cfg.user != "" {
			args = []string{"AUTH", l.cfg.user, l.cfg.pass}
		}
		if reply, err = l.command(args...); err != nil {
			return false, "", 0, err
		}
		if reply[0] == '-' {
			return false, "", 0, fmt.Errorf("Unable to AUTH to MASTER: %s", reply[1:])
		}
	}
	if reply, err = l.command("REPLCONF", "listening-port", strconv.Itoa(l.cfg.announcePort)); err != nil {
		return false, "", 0, err
	} else if reply[0] == '-' {
		l.s.log.Info("(Non critical) Master does not understand REPLCONF listening-port", "reply", reply)
	}
	if l.cfg.announceIP != "" {
		if reply, err = l.command("REPLCONF", "ip-address", l.cfg.announceIP); err != nil {
			return false, "", 0, err
		} else if reply[0] == '-' {
			l.s.log.Info("(Non critical) Master does not understand REPLCONF ip-address", "reply", reply)
		}
	}
	if reply, err = l.command("REPLCONF", "capa", "eof", "capa", "psync2"); err != nil {
		return false, "", 0, err
	} else if reply[0] == '-' {
		l.s.log.Info("(Non critical) Master does not understand REPLCONF capa", "reply", reply)
	}
	id, off := "?", "-1"
	if l.psyncID != "" {
		id, off = l.psyncID, strconv.FormatInt(l.psyncOff, 10)
		l.s.log.Info(fmt.Sprintf("Trying a partial resynchronization (request %s:%s).", id, off))
	} else {
		l.s.log.Info("Partial resynchronization not possible (no cached master)")
	}
	psync := []string{"PSYNC", id, off}
	if l.failover {
		psync = append(psync, "FAILOVER")
	}
	l.psyncSent = true
	if reply, err = l.command(psync...); err != nil {
		return false, "", 0, err
	}
	switch {
	case strings.HasPrefix(reply, "+FULLRESYNC"):
		f := strings.Fields(reply)
		if len(f) != 3 || len(f[1]) != 40 {
			return false, "", 0, fmt.Errorf("primary replied to PSYNC with a malformed FULLRESYNC: %q", reply)
		}
		offset, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			return false, "", 0, fmt.Errorf("primary replied to PSYNC with a malformed FULLRESYNC: %q", reply)
		}
		l.s.log.Info(fmt.Sprintf("Full resync from master: %s:%d", f[1], offset))
		return true, f[1], offset, nil
	case strings.HasPrefix(reply, "+CONTINUE"):
		f := strings.Fields(reply)
		newID := ""
		if len(f) >= 2 && len(f[1]) == 40 {
			newID = f[1]
		}
		l.s.log.Info("Successful partial resynchronization with master.")
		return false, newID, 0, nil
	case strings.HasPrefix(reply, "-NOMASTERLINK"), strings.HasPrefix(reply, "-LOADING"):
		l.s.log.Info("Master is currently unable to PSYNC but should be in the future", "reply", reply)
		return false, "", 0, errTemporary
	}
	return false, "", 0, fmt.Errorf("Unexpected reply to PSYNC from master: %s", reply)
}

// continueSync resumes streaming after +CONTINUE: the data and offset
// stay; a new replid from the primary replaces ours, the old one kept as
// replid2 up to here, and our sub-replicas reconnect to learn it.
func (l *replLink) continueSync(newID string) error {
	s := l.s
	if !l.locked() {
		s.mu.Unlock()
		return nil
	}
	defer s.mu.Unlock()
	st := s.replica()
	if newID != "" && newID != s.repl().replid {
		s.replContinue(newID)
		s.log.Info("Master replication ID changed", "replid", newID)
		s.disconnectReplicas()
	}
	s.startMasterClient(l, st.reploff, st.masterDB)
	return nil
}

// fullSync receives the payload and loads it.
func (l *replLink) fullSync(replid string, offset int64) error {
	s := l.s
	st := l.st
	// The payload no longer continues our history: a failed transfer
	// must not PSYNC with it next time (Redis discards the cached master).
	s.mu.Lock()
	if st.gen == l.gen {
		st.psyncOK = false
	}
	s.mu.Unlock()
	var header string
	for {
		line, err := l.readLine()
		if err != nil {
			return fmt.Errorf("read the payload's header: %w", err)
		}
		if line[0] == '-' {
			return fmt.Errorf("MASTER aborted replication with an error: %s", line[1:])
		}
		if line[0] == '$' {
			header = line
			break
		}
		return fmt.Errorf("bad protocol from primary, the first byte is not '$' (we received '%s')", line)
	}
	var mark []byte
	size := int64(-1)
	if strings.HasPrefix(header, "$EOF:") {
		if len(header) != 5+40 {
			return fmt.Errorf("malformed diskless payload header %q", header)
		}
		mark = []byte(header[5:])
		l.s.log.Info("MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF to disk")
	} else {
		n, err := strconv.ParseInt(header[1:], 10, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("malformed payload length %q", header)
		}
		size = n
		l.s.log.Info(fmt.Sprintf("MASTER <-> REPLICA sync: receiving %d bytes from master to disk", n))
	}
	st.syncSize.Store(max(size, 0))
	st.syncRead.Store(0)

	// Where the payload goes until it is whole: memory when the data may
	// be replaced only once the payload is complete anyway, a file
	// otherwise (repl-diskless-load disabled, the default).
	s.mu.Lock()
	inMemory := l.cfg.disklessLoad == "swapdb" || (l.cfg.disklessLoad == "on-empty-db" && s.dataEmpty())
	s.mu.Unlock()
	var sink io.Writer
	var mem bytes.Buffer
	var tmp *os.File
	if inMemory {
		sink = &mem
		// A diskless load is loading from the first byte, as Redis's
		// (it reads the socket as it loads): -LOADING meanwhile.
		s.beginDisklessReceive(size)
		defer s.endDisklessReceive()
	} else {
		name := filepath.Join(l.cfg.dir, fmt.Sprintf("temp-%d.%d.rdb", time.Now().Unix(), os.Getpid()))
		f, err := os.Create(name)
		if err != nil {
			return fmt.Errorf("opening the temp file needed for MASTER <-> REPLICA synchronization: %w", err)
		}
		tmp = f
		defer func() {
			f.Close()
			os.Remove(name)
		}()
		sink = bufio.NewWriterSize(f, 256<<10)
	}
	var err error
	if mark != nil {
		err = l.receiveUntilMark(sink, mark)
	} else {
		err = l.receiveN(sink, size)
	}
	if err != nil {
		return err
	}
	var src io.Reader
	var srcSize int64
	if tmp != nil {
		if err := sink.(*bufio.Writer).Flush(); err != nil {
			return fmt.Errorf("write the payload to %s: %w", tmp.Name(), err)
		}
		fi, err := tmp.Stat()
		if err != nil {
			return fmt.Errorf("stat %s: %w", tmp.Name(), err)
		}
		if _, err := tmp.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("rewind %s: %w", tmp.Name(), err)
		}
		src, srcSize = bufio.NewReaderSize(tmp, 256<<10), fi.Size()
	} else {
		src, srcSize = bytes.NewReader(mem.Bytes()), int64(mem.Len())
	}

	if !l.locked() {
		s.mu.Unlock()
		return nil
	}
	defer s.mu.Unlock()
	if err := s.loadSyncPayload(src, srcSize, replid, offset); err != nil {
		return err
	}
	if tmp != nil && (len(s.cfg.Save) > 0 || s.cfg.AppendOnly) {
		// Keep the payload as our dump file, as Redis renames it.
		if err := os.Rename(tmp.Name(), s.rdbPath()); err != nil {
			s.log.Warn("could not keep the sync payload as the dump file", "err", err)
		}
	}
	// The primary starts a new stream with a SELECT.
	s.startMasterClient(l, offset, 0)
	if mark != nil {
		// A diskless primary waits for this first ACK before streaming
		// (Redis 7.0's repl_start_cmd_stream_on_ack).
		l.sendAck(offset)
	}
	return nil
}

// dataEmpty reports whether every database is empty.
func (s *Server) dataEmpty() bool {
	for _, db := range s.dbs {
		if db.ks.Len() > 0 {
			return false
		}
	}
	return true
}

// loadSyncPayload replaces the dataset with the RDB in r, under the lock
// (Redis's readSyncBulkPayload after the transfer).
func (s *Server) loadSyncPayload(r io.Reader, size int64, replid string, offset int64) error {
	st := s.replica()
	s.log.Info("MASTER <-> REPLICA sync: Flushing old data")
	st.writableExpires = nil
	// Our history is gone: sub-replicas must full-sync from us again.
	s.disconnectReplicas()
	lazy := s.cfg.ReplicaLazyFlush
	for _, db := range s.dbs {
		s.emptyDB(db, lazy)
	}
	s.flushFunctionLibraries()
	for _, f := range flushAllHooks {
		f(s)
	}
	s.log.Info("MASTER <-> REPLICA sync: Loading DB in memory")
	ps := s.persist()
	ps.loading = true
	// In slices, answering clients -LOADING in between (loading.go).
	err := s.sliceLoad(func() error { return s.loadRDB(rdb.NewReader(r, size, "(master payload)"), false, size) })
	ps.loading = false
	if err != nil {
		// Half a dataset is worse than none: Redis empties it too.
		for _, db := range s.dbs {
			s.emptyDB(db, true)
		}
		s.flushFunctionLibraries()
		return fmt.Errorf("failed trying to load the MASTER synchronization DB from socket: %w", err)
	}
	s.replSetHistory(replid, offset)
	st.reploff, st.readReploff = offset, offset
	st.psyncOK = true
	s.dirty++
	if s.cfg.AppendOnly {
		if err := s.startAOFRewrite(); err != nil {
			s.log.Warn("could not rewrite the AOF after the sync", "err", err)
		}
	}
	s.log.Info("MASTER <-> REPLICA sync: Finished with success")
	return nil
}

// receiveN copies exactly n payload bytes to w.
func (l *replLink) receiveN(w io.Writer, n int64) error {
	st := l.st
	buf := make([]byte, 64<<10)
	for n > 0 {
		l.conn.SetReadDeadline(time.Now().Add(l.cfg.timeout))
		k, err := l.br.Read(buf[:min(int64(len(buf)), n)])
		if k > 0 {
			if _, werr := w.Write(buf[:k]); werr != nil {
				return fmt.Errorf("store the payload: %w", werr)
			}
			n -= int64(k)
			st.syncRead.Add(int64(k))
			st.syncLastIO.Store(time.Now().Unix())
		}
		if err != nil && n > 0 {
			return fmt.Errorf("I/O error trying to sync with MASTER: %w", err)
		}
	}
	return nil
}

// receiveUntilMark copies the diskless payload to w, up to the 40-byte
// mark that ends it; no byte after the mark is consumed (it is the
// stream).
func (l *replLink) receiveUntilMark(w io.Writer, mark []byte) error {
	st := l.st
	var tail []byte // the last bytes seen, that may start the mark
	for {
		l.conn.SetReadDeadline(time.Now().Add(l.cfg.timeout))
		if _, err := l.br.Peek(1); err != nil {
			return fmt.Errorf("I/O error trying to sync with MASTER: %w", err)
		}
		chunk, _ := l.br.Peek(l.br.Buffered())
		joined := append(tail, chunk...)
		if i := bytes.Index(joined, mark); i >= 0 {
			if _, err := w.Write(joined[:i]); err != nil {
				return fmt.Errorf("store the payload: %w", err)
			}
			used := i + len(mark) - len(tail)
			l.br.Discard(used)
			st.syncRead.Add(int64(used))
			return nil
		}
		keep := min(len(joined), len(mark)-1)
		if _, err := w.Write(joined[:len(joined)-keep]); err != nil {
			return fmt.Errorf("store the payload: %w", err)
		}
		tail = append(tail[:0:0], joined[len(joined)-keep:]...)
		l.br.Discard(len(chunk))
		st.syncRead.Add(int64(len(chunk)))
		st.syncLastIO.Store(time.Now().Unix())
	}
}

// startMasterClient creates the master client and marks the link up.
func (s *Server) startMasterClient(l *replLink, offset int64, dbid int) {
	st := s.replica()
	now := time.Now()
	m := &Client{
		srv:           s,
		nc:            l.conn,
		ID:            s.nextClientID.Add(1),
		addr:          l.conn.RemoteAddr().String(),
		laddr:         l.conn.LocalAddr().String(),
		createdAt:     now,
		lastActive:    now,
		db:            s.dbs[min(max(dbid, 0), len(s.dbs)-1)],
		resp:          2,
		authenticated: true,
		flags:         flagPrimary,
	}
	s.clients[m.ID] = m
	st.master = m
	st.reploff, st.readReploff = offset, offset
	st.ackOff.Store(offset)
	st.lastIO = now
	st.state = replConnected
	st.failures = 0
	st.downSince = time.Time{}
	s.log.Info("MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization or finished a full sync; streaming")
}

// ackLoop sends REPLCONF ACK each second (Redis's replicationCron).
func (l *replLink) ackLoop(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			l.sendAck(l.st.ackOff.Load())
		}
	}
}

func (l *replLink) sendAck(off int64) {
	o := strconv.FormatInt(off, 10)
	msg := fmt.Appendf(nil, "*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n$%d\r\n%s\r\n", len(o), o)
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.conn.SetWriteDeadline(time.Now().Add(l.cfg.timeout))
	l.conn.Write(msg) // a failed write shows up as a failed read
}

// streamCmd is one request of the stream: its arguments and the bytes it
// took (the raw bytes are fed to our own backlog as they were).
type streamCmd struct {
	args [][]byte
	raw  int
}

// stream reads the primary's commands and applies them in batches: what
// the reader has buffered runs under one hold of the shard lock.
func (l *replLink) stream() error {
	var raw []byte
	var batch []streamCmd
	for {
		raw, batch = raw[:0], batch[:0]
		for {
			l.conn.SetReadDeadline(time.Now().Add(l.cfg.timeout))
			cmd, err := readStreamCommand(l.br, &raw)
			if err != nil {
				if len(batch) > 0 {
					l.apply(batch, raw) // what arrived whole is applied
				}
				if errors.Is(err, errStreamProtocol) {
					return err
				}
				if isTimeout(err) {
					return fmt.Errorf("MASTER timeout: no data nor PING received...")
				}
				return fmt.Errorf("read the stream: %w", err)
			}
			batch = append(batch, cmd)
			if l.br.Buffered() == 0 || len(batch) >= 1024 || len(raw) >= 1<<20 {
				break
			}
		}
		if !l.apply(batch, raw) {
			return nil
		}
	}
}

// apply runs a batch through the master client; false when the link is
// no longer current or the master client was killed.
//
// Applied bytes count in the offset and go to our backlog only outside a
// transaction: from MULTI to EXEC nothing is committed, so that a link
// lost inside one resends all of it (Redis 7.0's commandProcessed); the
// bytes of a transaction still open when the batch ends are carried to
// the next.
func (l *replLink) apply(batch []streamCmd, raw []byte) bool {
	s := l.s
	if !l.locked() {
		s.mu.Unlock()
		return false
	}
	defer s.mu.Unlock()
	st := s.replica()
	m := st.master
	if m == nil || m.killed {
		return false
	}
	now := time.Now()
	st.lastIO = now
	s.syncClock(now)
	pos, from := 0, 0
	for _, sc := range batch {
		// While a script that ran past its time limit yields, the
		// primary's commands wait for it rather than get -BUSY (Redis
		// does not process the master's input then).
		for r := s.scripting().run; r != nil && r.timedOut; r = s.scripting().run {
			s.mu.Unlock()
			time.Sleep(10 * time.Millisecond) // the script gives no signal when it ends
			s.mu.Lock()
			if st.gen != l.gen || st.master != m || m.killed {
				return false
			}
		}
		pos += sc.raw
		st.readReploff += int64(sc.raw)
		if len(sc.args) > 0 {
			if isGetAck(sc.args) {
				// The ACK tells the offset before the GETACK itself.
				l.sendAck(st.reploff)
			} else {
				st.applying = true
				s.execute(m, sc.args)
				st.applying = false
				s.waitIfBlocked(m)
				if m.errorReplied {
					s.primaryGotError(m, sc.args)
				}
				m.out = m.out[:0] // the primary gets no replies
			}
		}
		if st.master != m || m.killed {
			return false
		}
		if m.flags&flagMulti == 0 {
			if len(l.carry) > 0 {
				st.reploff += int64(len(l.carry))
				s.replFeedRaw(l.carry)
				l.carry = l.carry[:0]
			}
			st.reploff += int64(pos - from)
			s.replFeedRaw(raw[from:pos])
			from = pos
		}
	}
	if from < pos {
		l.carry = append(l.carry, raw[from:pos]...)
	}
	st.ackOff.Store(st.reploff)
	return true
}

// primaryGotError logs an error reply to a command of our primary: the
// replica's data may now differ from the primary's (Redis logs it as
// critical and, with propagation-error-behavior panic, stops; the engine
// keeps serving and only logs).
func (s *Server) primaryGotError(m *Client, args [][]byte) {
	msg := string(m.out)
	if i := strings.Index(msg, "\r\n-"); i >= 0 && !strings.HasPrefix(msg, "-") {
		msg = msg[i+2:]
	}
	if i := strings.Index(msg, "\r\n"); i >= 0 {
		msg = msg[:i]
	}
	msg = strings.TrimPrefix(msg, "-")
	name := m.lastCmd
	if name == "" {
		name = "<unknown>"
	}
	s.replica().unexpectedErrors++
	s.log.Warn(fmt.Sprintf("== CRITICAL == This replica is sending an error to its master: '%s' after processing the command '%s'",
		truncate(msg, 4096), name))
}

func isGetAck(args [][]byte) bool {
	return len(args) >= 2 && strings.EqualFold(string(args[0]), "replconf") && strings.EqualFold(string(args[1]), "getack")
}

var errStreamProtocol = errors.New("protocol error in the replication stream")

// readStreamCommand reads one request (multibulk, or an inline line) and
// appends its bytes to raw. An empty inline line is a request without
// arguments: it still counts in the offset.
func readStreamCommand(br *bufio.Reader, raw *[]byte) (streamCmd, error) {
	start := len(*raw)
	line, err := readCRLFLine(br, raw)
	if err != nil {
		*raw = (*raw)[:start]
		return streamCmd{}, err
	}
	if len(line) == 0 || line[0] != '*' {
		args := bytes.Fields(line)
		return streamCmd{args: cloneArgs(args), raw: len(*raw) - start}, nil
	}
	n, err := strconv.Atoi(string(line[1:]))
	if err != nil || n > 1<<20 {
		return streamCmd{}, fmt.Errorf("%w: bad multibulk length %q", errStreamProtocol, line)
	}
	args := make([][]byte, 0, max(n, 0))
	for range n {
		hdr, err := readCRLFLine(br, raw)
		if err != nil {
			*raw = (*raw)[:start]
			return streamCmd{}, err
		}
		if len(hdr) == 0 || hdr[0] != '$' {
			return streamCmd{}, fmt.Errorf("%w: expected '$', got %q", errStreamProtocol, hdr)
		}
		size, err := strconv.Atoi(string(hdr[1:]))
		if err != nil || size < 0 {
			return streamCmd{}, fmt.Errorf("%w: bad bulk length %q", errStreamProtocol, hdr)
		}
		at := len(*raw)
		*raw = append(*raw, make([]byte, size+2)...)
		if _, err := io.ReadFull(br, (*raw)[at:]); err != nil {
			*raw = (*raw)[:start]
			return streamCmd{}, err
		}
		args = append(args, (*raw)[at:at+size:at+size])
	}
	// raw may move as it grows: the arguments must not alias it.
	return streamCmd{args: cloneArgs(args), raw: len(*raw) - start}, nil
}

func cloneArgs(args [][]byte) [][]byte {
	out := make([][]byte, len(args))
	for i, a := range args {
		out[i] = bytes.Clone(a)
	}
	return out
}

// readCRLFLine reads a line, appends it with its terminator to raw and
// returns it without the terminator.
func readCRLFLine(br *bufio.Reader, raw *[]byte) ([]byte, error) {
	at := len(*raw)
	for {
		frag, err := br.ReadSlice('\n')
		*raw = append(*raw, frag...)
		if err == nil {
			break
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			*raw = (*raw)[:at]
			return nil, err
		}
		if len(*raw)-at > 64<<10 {
			return nil, fmt.Errorf("%w: line too long", errStreamProtocol)
		}
	}
	line := (*raw)[at : len(*raw)-1]
	return bytes.TrimSuffix(line, []byte{'\r'}), nil
}

// replicaInterceptor refuses, as processCommand does, writes from clients
// on a read-only replica (-READONLY) and, while the link is down with
// replica-serve-stale-data no, every command not flagged stale
// (-MASTERDOWN). Scripts are checked with their declared flags by
// scriptFlagsInterceptor instead.
func replicaInterceptor(s *Server, c *Client, cmd *command, args [][]byte) bool {
	// The primary and the AOF being loaded are obeyed (Redis's
	// mustObeyClient).
	if s.cfg.ReplicaOf.Host == "" || c.flags&(flagPrimary|flagLuaClient) != 0 || s.persist().loading {
		return false
	}
	switch cmd.Name {
	case "eval", "eval_ro", "evalsha", "evalsha_ro", "fcall", "fcall_ro", "function|load", "function|restore":
		return false
	}
	flags := s.commandFlags(c, cmd, args)
	if s.cfg.ReplicaReadOnly && flags&commands.Write != 0 {
		s.rejectCommand(c, cmd, errReadOnly)
		return true
	}
	if !s.cfg.ReplicaServeStaleData && !s.replLinkUp() {
		inv := commands.Flag(0)
		if cmd.Name == "exec" {
			inv = s.multiInverseFlags(c)
		}
		if flags&commands.Stale == 0 || inv&commands.Stale != 0 {
			s.rejectCommand(c, cmd, errMasterDown)
			return true
		}
	}
	return false
}

// roleReplica writes ROLE's replica form.
func (s *Server) roleReplica(c *Client) {
	st := s.replica()
	c.ArrayLen(5)
	c.BulkString("slave")
	c.BulkString(s.cfg.ReplicaOf.Host)
	c.Int(int64(s.cfg.ReplicaOf.Port))
	var state string
	switch st.state {
	case replConnect:
		state = "connect"
	case replConnecting:
		state = "connecting"
	case replHandshake:
		state = "handshake"
	case replTransfer:
		state = "sync"
	case replConnected:
		state = "connected"
	default:
		state = "none"
	}
	c.BulkString(state)
	if st.master != nil {
		c.Int(st.reploff)
	} else {
		c.Int(-1)
	}
}

// infoReplicaFields writes INFO replication's replica fields, from
// master_host to replica_announced (the caller writes role:slave before
// and the shared fields after).
func (s *Server) infoReplicaFields(w *infoWriter) {
	st := s.replica()
	now := time.Now()
	w.field("master_host", s.cfg.ReplicaOf.Host)
	w.field("master_port", s.cfg.ReplicaOf.Port)
	if st.state == replConnected {
		w.field("master_link_status", "up")
	} else {
		w.field("master_link_status", "down")
	}
	if st.master != nil {
		w.field("master_last_io_seconds_ago", int64(now.Sub(st.lastIO)/time.Second))
	} else {
		w.field("master_last_io_seconds_ago", -1)
	}
	w.field("master_sync_in_progress", st.state == replTransfer)
	if st.master != nil || st.psyncOK {
		w.field("slave_read_repl_offset", st.readReploff)
		w.field("slave_repl_offset", st.reploff)
	} else {
		w.field("slave_read_repl_offset", 1)
		w.field("slave_repl_offset", 1)
	}
	if st.state == replTransfer {
		size, read := st.syncSize.Load(), st.syncRead.Load()
		perc := 0.0
		if size > 0 {
			perc = float64(read) / float64(size) * 100
		}
		w.field("master_sync_total_bytes", size)
		w.field("master_sync_read_bytes", read)
		w.field("master_sync_left_bytes", size-read)
		w.field("master_sync_perc", perc)
		w.field("master_sync_last_io_seconds_ago", now.Unix()-st.syncLastIO.Load())
	}
	if st.state != replConnected {
		if st.downSince.IsZero() {
			w.field("master_link_down_since_seconds", -1)
		} else {
			w.field("master_link_down_since_seconds", int64(now.Sub(st.downSince)/time.Second))
		}
	}
	w.field("slave_priority", s.cfg.ReplicaPriority)
	w.field("slave_read_only", s.cfg.ReplicaReadOnly)
	w.field("replica_announced", s.cfg.ReplicaAnnounced)
}

// rememberWritableExpires tracks the keys a client's write left with a
// TTL on a (writable) replica.
func (s *Server) rememberWritableExpires(db *DB, cmd *command, args [][]byte) {
	keys, _ := cmd.GetKeys(args)
	if len(keys) == 0 {
		return
	}
	st := s.replica()
	for _, k := range keys {
		if k.Index >= len(args) {
			continue
		}
		key := args[k.Index]
		if _, at := db.ks.Lookup(key); at == 0 {
			continue
		}
		if st.writableExpires == nil {
			st.writableExpires = make(map[int]map[string]struct{})
		}
		m := st.writableExpires[db.id]
		if m == nil {
			m = make(map[string]struct{})
			st.writableExpires[db.id] = m
		}
		m[string(key)] = struct{}{}
	}
}

// expireWritableReplicaKeys deletes the tracked keys whose time has come
// (Redis's expireSlaveKeys) and forgets those that no longer have a TTL.
func (s *Server) expireWritableReplicaKeys(now time.Time) {
	st := s.replica()
	// What a load other than the one at start gathered (DEBUG RELOAD, a
	// sync) has no use: restoreReplInfoFromRDB runs before cron does.
	if st.rdbInfo.id != "" || st.rdbInfo.expired != nil {
		st.rdbInfo = rdbReplInfo{}
	}
	if len(st.writableExpires) == 0 {
		return
	}
	if s.cfg.ReplicaOf.Host == "" {
		st.writableExpires = nil // a primary expires them by itself
		return
	}
	if s.clientsPaused() {
		return
	}
	ms := now.UnixMilli()
	for dbid, keys := range st.writableExpires {
		db := s.dbs[dbid]
		for k := range keys {
			key := []byte(k)
			o, at := db.ks.Lookup(key)
			switch {
			case o == nil || at == 0:
				delete(keys, k)
			case at <= ms:
				s.deleteExpired(db, key)
				delete(keys, k)
			}
		}
		if len(keys) == 0 {
			delete(st.writableExpires, dbid)
		}
	}
}

// rdbReplInfo is the replication information an RDB file carries in its
// aux fields (Redis's rdbSaveInfo), gathered while it loads at start.
type rdbReplInfo struct {
	id       string
	offset   int64
	streamDB int
	// expired are the keys the load dropped as expired, in load order:
	// a primary feeds their DELs to its backlog, so that replicas that
	// continue partially drop them too.
	expired []rdbExpiredKey
}

type rdbExpiredKey struct {
	db  int
	key []byte
}

// beginRDBReplInfo starts gathering for a load.
func (s *Server) beginRDBReplInfo() {
	s.replica().rdbInfo = rdbReplInfo{offset: -1, streamDB: -1}
}

// noteRDBAux records the replication aux fields of the RDB being loaded.
func (s *Server) noteRDBAux(key string, val []byte) {
	info := &s.replica().rdbInfo
	switch key {
	case "repl-id":
		if len(val) == 40 {
			info.id = string(val)
		}
	case "repl-offset":
		if n, err := strconv.ParseInt(string(val), 10, 64); err == nil {
			info.offset = n
		}
	case "repl-stream-db":
		if n, err := strconv.Atoi(string(val)); err == nil {
			info.streamDB = n
		}
	}
}

// noteRDBExpired records a key the load dropped as expired.
func (s *Server) noteRDBExpired(dbid int, key []byte) {
	info := &s.replica().rdbInfo
	info.expired = append(info.expired, rdbExpiredKey{dbid, bytes.Clone(key)})
}

// restoreReplInfoFromRDB is what Redis's loadDataFromDisk does with the
// replication information of the RDB loaded at start: a replica takes it
// as its own history, which it may continue with its primary (a partial
// resync after a restart); a primary keeps it as its second history, so
// that its replicas may continue, with the DELs of the keys that expired
// while it was down fed to the backlog first.
func (s *Server) restoreReplInfoFromRDB() {
	st := s.replica()
	info := st.rdbInfo
	st.rdbInfo = rdbReplInfo{}
	if info.id == "" || info.offset < 0 || info.streamDB < 0 {
		return
	}
	r := s.repl()
	if s.cfg.ReplicaOf.Host != "" {
		r.replid = info.id
		r.offset = info.offset
		s.clearReplicationID2()
		st.psyncOK = true
		st.reploff, st.readReploff = info.offset, info.offset
		st.masterDB = min(info.streamDB, len(s.dbs)-1)
		s.log.Info("Restored the replication history from the RDB: a partial resync with the primary may follow",
			"replid", info.id, "offset", info.offset)
		return
	}
	r.replid2 = info.id
	r.secondOffset = info.offset + 1
	r.offset = info.offset
	r.backlog = nil
	s.replCreateBacklog()
	r.noReplicasSince = time.Now()
	r.seldb = -1
	for _, e := range info.expired {
		s.replFeed(e.db, [][]byte{argDEL, e.key})
	}
	s.log.Info("Restored the replication history from the RDB as the secondary one",
		"replid2", info.id, "offset", r.offset)
}

// replSaveInfo is Redis's rdbPopulateSaveInfo: whether an RDB saved now
// carries the replication history, and the database the stream has
// selected at its offset. A primary without a backlog is in no chain; a
// replica needs its master client, or a history it may still continue.
func (s *Server) replSaveInfo() (streamDB int, ok bool) {
	r, st := s.repl(), s.replica()
	if s.cfg.ReplicaOf.Host == "" {
		if r.backlog == nil {
			return 0, false
		}
		return max(r.seldb, 0), true
	}
	if st.master != nil {
		return st.master.db.id, true
	}
	if st.psyncOK {
		return st.masterDB, true
	}
	return 0, false
}
