package node

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/keyfleet/keyfleet/internal/commands"
)

// CLIENT and the client pause. CLIENT TRACKING, CACHING, GETREDIR and
// TRACKINGINFO belong to client-side caching and are registered there.

func init() {
	register(map[string]handler{
		"client|help":     clientHelpCommand,
		"client|id":       clientIDCommand,
		"client|info":     clientInfoCommand,
		"client|list":     clientListCommand,
		"client|kill":     clientKillCommand,
		"client|setname":  clientSetNameCommand,
		"client|getname":  clientGetNameCommand,
		"client|pause":    clientPauseCommand,
		"client|unpause":  clientUnpauseCommand,
		"client|reply":    clientReplyCommand,
		"client|no-evict": clientNoEvictCommand,
		"client|unblock":  clientUnblockCommand,
	})
	// The checks of this family, in the order of Redis's processCommand:
	// protected commands, replicas (and monitors) touching the keyspace,
	// then client pause. They run before the interceptors of the families
	// whose files sort after this one (MULTI queueing, pub/sub...): a
	// paused command waits before it is queued, as in Redis.
	interceptors = append(interceptors, debugGateInterceptor, monitorKeyspaceInterceptor, pauseInterceptor)
	serverInits = append(serverInits, func(s *Server) {
		st := s.clientState()
		s.hooks.cron = append(s.hooks.cron, func(now time.Time) {
			ms := now.UnixMilli()
			for _, c := range s.clients {
				st.resizeReplyBuffer(c, ms)
			}
		})
		s.hooks.clientGone = append(s.hooks.clientGone, func(c *Client) {
			if c.flags&flagBlocked != 0 && st.paused[c] {
				st.wakePaused()
			}
		})
	})
}

// Client types as CLIENT LIST TYPE and CLIENT KILL TYPE name them.
const (
	clientTypeNormal = iota
	clientTypeReplica
	clientTypePubSub
	clientTypePrimary
)

func clientTypeByName(name string) int {
	switch strings.ToLower(name) {
	case "normal":
		return clientTypeNormal
	case "slave", "replica":
		return clientTypeReplica
	case "pubsub":
		return clientTypePubSub
	case "master":
		return clientTypePrimary
	}
	return -1
}

// clientType is Redis's getClientType: MONITOR clients count as normal.
func clientType(c *Client) int {
	switch {
	case c.flags&flagPrimary != 0:
		return clientTypePrimary
	case c.flags&flagReplica != 0 && c.flags&flagMonitor == 0:
		return clientTypeReplica
	case c.flags&flagPubSub != 0:
		return clientTypePubSub
	}
	return clientTypeNormal
}

// Pause types, in increasing order of restriction.
const (
	pauseOff = iota
	pauseWrite
	pauseAll
)

// Pause purposes: each holds its own pause; the strictest applies.
const (
	pauseByClient = iota
	pauseByShutdown
	pauseByFailover
	numPausePurposes
)

type pauseEvent struct {
	typ int
	end int64 // unix ms
}

// clientInfoHooks let other families fill CLIENT LIST fields from state
// they own. Set them from a serverInit; nil means the family is absent.
type clientInfoHooks struct {
	// multi returns the number of queued commands and their argument
	// bytes, or -1 when c is not in MULTI.
	multi func(c *Client) (count int, argBytes int64)
	// subs returns the numbers of channel, pattern and shard-channel
	// subscriptions.
	subs func(c *Client) (sub, psub, ssub int)
	// trackingRedirect returns the tracking redirection (0 for none), or
	// -1 when tracking is off.
	trackingRedirect func(c *Client) int64
	// unblock ends c's blocking command as CLIENT UNBLOCK does (with a
	// -UNBLOCKED error or as a timeout) and reports whether c was blocked
	// on something that can be unblocked.
	unblock func(c *Client, withError bool) bool
}

// dynamicFlags returns the flags a command has for these arguments when
// they differ from its row (EXEC: its queued commands; EVAL and FCALL:
// the script's flags). Client pause uses them to tell writes from reads.
// Registered from init functions only, like handlers.
var dynamicFlags = map[string]func(s *Server, c *Client, args [][]byte) commands.Flag{}

func registerDynamicFlags(name string, f func(s *Server, c *Client, args [][]byte) commands.Flag) {
	if _, dup := dynamicFlags[name]; dup {
		panic("node: dynamic flags registered twice: " + name)
	}
	dynamicFlags[name] = f
}

// clientFamily is the per-server state of this file.
type clientFamily struct {
	hooks clientInfoHooks

	pause     [numPausePurposes]*pauseEvent
	pauseType int
	pauseEnd  int64
	// pauseCh is closed (and replaced) whenever the pause changes or a
	// paused client must re-check its state.
	pauseCh chan struct{}
	paused  map[*Client]bool

	replyBuf replyBufferSettings
}

func (s *Server) clientState() *clientFamily {
	if st, ok := s.ext["client"].(*clientFamily); ok {
		return st
	}
	st := &clientFamily{
		paused:   make(map[*Client]bool),
		pauseCh:  make(chan struct{}),
		replyBuf: replyBufferSettings{peakResetMs: replyPeakResetDefault},
	}
	s.ext["client"] = st
	return st
}

// ClientInfoHooks returns the hooks other families set to report their
// part of a client's state.
func (s *Server) clientInfoHooks() *clientInfoHooks { return &s.clientState().hooks }

func (st *clientFamily) wakePaused() {
	close(st.pauseCh)
	st.pauseCh = make(chan struct{})
}

// pauseClients starts or extends a pause for a purpose (Redis's
// pauseClients): the end is the later one, the type the stricter one.
func (s *Server) pauseClients(purpose int, end int64, typ int) {
	st := s.clientState()
	if p := st.pause[purpose]; p == nil {
		st.pause[purpose] = &pauseEvent{typ: typ, end: end}
	} else {
		p.typ = max(p.typ, typ)
		p.end = max(p.end, end)
	}
	st.updatePause()
}

// unpauseClients ends the pause of a purpose.
func (s *Server) unpauseClients(purpose int) {
	st := s.clientState()
	if st.pause[purpose] == nil {
		return
	}
	st.pause[purpose] = nil
	st.updatePause()
}

// updatePause recomputes the effective pause from the purposes, dropping
// those that ended, and wakes paused clients so they re-check.
func (st *clientFamily) updatePause() {
	now := time.Now().UnixMilli()
	typ, end := pauseOff, int64(0)
	for i, p := range st.pause {
		if p == nil {
			continue
		}
		if p.end <= now {
			st.pause[i] = nil
			continue
		}
		if p.typ > typ {
			typ = p.typ
		}
	}
	for _, p := range st.pause {
		if p != nil && p.typ == typ && p.end > end {
			end = p.end
		}
	}
	changed := typ != st.pauseType || end != st.pauseEnd
	st.pauseType, st.pauseEnd = typ, end
	if changed {
		st.wakePaused()
	}
}

// clientsPaused reports whether a pause is in effect, ending it if its
// time has passed (Redis's checkClientPauseTimeoutAndReturnIfPaused).
// While clients are paused keys are not expired: expiring would write.
func (s *Server) clientsPaused() bool {
	st := s.clientState()
	if st.pauseType == pauseOff {
		return false
	}
	if st.pauseEnd <= time.Now().UnixMilli() {
		st.updatePause()
	}
	return st.pauseType != pauseOff
}

// commandFlags returns cmd's flags for these arguments.
func (s *Server) commandFlags(c *Client, cmd *command, args [][]byte) commands.Flag {
	if f := dynamicFlags[cmd.Name]; f != nil {
		return f(s, c, args)
	}
	return cmd.Flags
}

// mustPause reports whether c's command waits for the current pause.
func (s *Server) mustPause(c *Client, cmd *command, args [][]byte) bool {
	if c.flags&(flagReplica|flagMonitor) != 0 || !s.clientsPaused() {
		return false
	}
	st := s.clientState()
	if st.pauseType == pauseAll {
		return true
	}
	return s.commandFlags(c, cmd, args)&(commands.Write|commands.MayReplicate) != 0
}

// pauseInterceptor makes a paused client's command wait, with the shard
// lock released, until the pause ends or times out, the client is killed
// or the server stops. The command then runs as if it had just arrived.
func pauseInterceptor(s *Server, c *Client, cmd *command, args [][]byte) bool {
	if !s.mustPause(c, cmd, args) {
		return false
	}
	st := s.clientState()
	c.flags |= flagBlocked
	st.paused[c] = true
	defer func() {
		c.flags &^= flagBlocked
		delete(st.paused, c)
	}()
	var done <-chan struct{}
	if s.ctx != nil {
		done = s.ctx.Done()
	}
	for {
		ch := st.pauseCh
		wait := time.Until(time.UnixMilli(st.pauseEnd))
		s.mu.Unlock()
		gone, stopWatch := watchClientClose(c)
		t := time.NewTimer(max(wait, 0))
		stopped := false
		select {
		case <-ch:
		case <-t.C:
		case <-done:
			stopped = true
		case <-gone:
			stopped = true
		}
		t.Stop()
		stopWatch()
		s.mu.Lock()
		if stopped || c.killed {
			c.closeAfterReply = true
			return true
		}
		if !s.mustPause(c, cmd, args) {
			break
		}
	}
	now := time.Now()
	c.lastActive = now
	s.updateClock(now)
	return false
}

// pausedClientCount is the number of clients waiting for a pause; INFO
// counts them in blocked_clients, as Redis does.
func (s *Server) pausedClientCount() int { return len(s.clientState().paused) }

var clientHelp = []string{
	"CACHING (YES|NO)",
	"    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
	"GETREDIR",
	"    Return the client ID we are redirecting to when tracking is enabled.",
	"GETNAME",
	"    Return the name of the current connection.",
	"ID",
	"    Return the ID of the current connection.",
	"INFO",
	"    Return information about the current client connection.",
	"KILL <ip:port>",
	"    Kill connection made from <ip:port>.",
	"KILL <option> <value> [<option> <value> [...]]",
	"    Kill connections. Options are:",
	"    * ADDR (<ip:port>|<unixsocket>:0)",
	"      Kill connections made from the specified address",
	"    * LADDR (<ip:port>|<unixsocket>:0)",
	"      Kill connections made to specified local address",
	"    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
	"      Kill connections by type.",
	"    * USER <username>",
	"      Kill connections authenticated by <username>.",
	"    * SKIPME (YES|NO)",
	"      Skip killing current connection (default: yes).",
	"LIST [options ...]",
	"    Return information about client connections. Options:",
	"    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
	"      Return clients of specified type.",
	"UNPAUSE",
	"    Stop the current client pause, resuming traffic.",
	"PAUSE <timeout> [WRITE|ALL]",
	"    Suspend all, or just write, clients for <timeout> milliseconds.",
	"REPLY (ON|OFF|SKIP)",
	"    Control the replies sent to the current connection.",
	"SETNAME <name>",
	"    Assign the name <name> to the current connection.",
	"UNBLOCK <clientid> [TIMEOUT|ERROR]",
	"    Unblock the specified blocked client.",
	"TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
	"         [OPTIN] [OPTOUT] [NOLOOP]",
	"    Control server assisted client side caching.",
	"TRACKINGINFO",
	"    Report tracking status for the current connection.",
	"NO-EVICT (ON|OFF)",
	"    Protect current client connection from eviction.",
}

// replyHelp replies a command's help as Redis's addReplyHelp: a header
// naming the command, the lines, and the HELP entry, as status replies.
func replyHelp(c *Client, name []byte, lines []string) {
	c.ArrayLen(len(lines) + 3)
	c.Status(strings.ToUpper(string(name)) + " <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
	for _, l := range lines {
		c.Status(l)
	}
	c.Status("HELP")
	c.Status("    Prints this help.")
}

func clientHelpCommand(s *Server, c *Client, args [][]byte) { replyHelp(c, args[0], clientHelp) }

func clientIDCommand(s *Server, c *Client, args [][]byte) { c.Int(c.ID) }

func clientInfoCommand(s *Server, c *Client, args [][]byte) {
	b := s.appendClientInfo(nil, c, c, args)
	b = append(b, '\n')
	c.Verbatim(string(b), "txt")
}

func clientListCommand(s *Server, c *Client, args [][]byte) {
	var b []byte
	switch {
	case len(args) == 4 && strings.EqualFold(string(args[2]), "type"):
		typ := clientTypeByName(string(args[3]))
		if typ == -1 {
			c.Error("ERR Unknown client type '" + string(args[3]) + "'")
			return
		}
		for _, cl := range s.clientsByID() {
			if clientType(cl) == typ {
				b = s.appendClientInfo(b, cl, c, args)
				b = append(b, '\n')
			}
		}
	case len(args) > 3 && strings.EqualFold(string(args[2]), "id"):
		for _, a := range args[3:] {
			id, ok := parseRedisInt64(a)
			if !ok {
				c.Error("ERR Invalid client ID")
				return
			}
			if cl := s.clients[id]; cl != nil {
				b = s.appendClientInfo(b, cl, c, args)
				b = append(b, '\n')
			}
		}
	case len(args) != 2:
		c.Error(errSyntax)
		return
	default:
		for _, cl := range s.clientsByID() {
			b = s.appendClientInfo(b, cl, c, args)
			b = append(b, '\n')
		}
	}
	c.Verbatim(string(b), "txt")
}

// clientsByID returns the clients in connection order, as Redis's list.
func (s *Server) clientsByID() []*Client {
	out := make([]*Client, 0, len(s.clients))
	for _, cl := range s.clients {
		out = append(out, cl)
	}
	sortClients(out)
	return out
}

func sortClients(cs []*Client) {
	slices.SortFunc(cs, func(a, b *Client) int { return cmp.Compare(a.ID, b.ID) })
}

// clientFlagString is the flags field of CLIENT LIST.
func clientFlagString(c *Client) string {
	var b []byte
	if c.flags&flagMonitor != 0 {
		b = append(b, 'O')
	} else if c.flags&flagReplica != 0 {
		b = append(b, 'S')
	}
	if c.flags&flagPrimary != 0 {
		b = append(b, 'M')
	}
	if c.flags&flagPubSub != 0 {
		b = append(b, 'P')
	}
	if c.flags&flagMulti != 0 {
		b = append(b, 'x')
	}
	if c.flags&flagBlocked != 0 {
		b = append(b, 'b')
	}
	if c.flags&flagTracking != 0 {
		b = append(b, 't')
	}
	if c.flags&flagDirtyCAS != 0 {
		b = append(b, 'd')
	}
	if c.closeAfterReply {
		b = append(b, 'c')
	}
	if c.flags&flagReadOnly != 0 {
		b = append(b, 'r')
	}
	if c.flags&flagNoEvict != 0 {
		b = append(b, 'e')
	}
	if len(b) == 0 {
		return "N"
	}
	return string(b)
}

// socketFD returns the file descriptor of a client's socket, or -1.
func socketFD(c *Client) int {
	nc := c.nc
	if g := guardOf(c); g != nil {
		nc = g.Conn
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return -1
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return -1
	}
	fd := -1
	_ = raw.Control(func(f uintptr) { fd = int(f) })
	return fd
}

// appendClientInfo appends cl's CLIENT LIST line (Redis's
// catClientInfoString). self is the client running the command and args
// its arguments: the request being run is still in Redis's query buffer.
func (s *Server) appendClientInfo(b []byte, cl, self *Client, args [][]byte) []byte {
	hooks := &s.clientState().hooks
	now := time.Now()
	sub, psub, ssub := 0, 0, 0
	if hooks.subs != nil {
		sub, psub, ssub = hooks.subs(cl)
	}
	multi, multiMem := -1, int64(0)
	if hooks.multi != nil {
		multi, multiMem = hooks.multi(cl)
	} else if cl.flags&flagMulti != 0 {
		multi = 0
	}
	redir := int64(-1)
	if hooks.trackingRedirect != nil && cl.flags&flagTracking != 0 {
		redir = hooks.trackingRedirect(cl)
	}
	var current, argvMem int64
	if cl == self {
		current = canonicalRequestLen(args)
		for _, a := range args {
			argvMem += int64(len(a))
		}
	}
	var qbuf, qfree int64
	if g := guardOf(cl); g != nil {
		qbuf, qfree = g.queryBufferStats(current)
	}
	obl, oll, omem := outputBufferStats(cl)
	rbs, rbp := replyBufferStats(cl)
	events := "r"
	if cl.pendingLen() > 0 {
		events = "rw"
	}
	cmd := cl.lastCmd
	if cmd == "" {
		cmd = "NULL"
	}
	user := cl.user
	if user == "" {
		user = defaultUserName
	}
	totMem := qbuf + qfree + argvMem + multiMem + omem + rbs + clientStructSize
	b = append(b, "id="...)
	b = strconv.AppendInt(b, cl.ID, 10)
	b = append(b, " addr="...)
	b = append(b, cl.addr...)
	b = append(b, " laddr="...)
	b = append(b, cl.laddr...)
	b = append(b, " fd="...)
	b = strconv.AppendInt(b, int64(socketFD(cl)), 10)
	b = append(b, " name="...)
	b = append(b, cl.Name...)
	b = append(b, " age="...)
	b = strconv.AppendInt(b, now.Unix()-cl.createdAt.Unix(), 10)
	b = append(b, " idle="...)
	b = strconv.AppendInt(b, now.Unix()-cl.lastActive.Unix(), 10)
	b = append(b, " flags="...)
	b = append(b, clientFlagString(cl)...)
	b = append(b, " db="...)
	b = strconv.AppendInt(b, int64(cl.db.id), 10)
	for _, f := range []struct {
		k string
		v int64
	}{
		{" sub=", int64(sub)}, {" psub=", int64(psub)}, {" ssub=", int64(ssub)},
		{" multi=", int64(multi)}, {" qbuf=", qbuf}, {" qbuf-free=", qfree},
		{" argv-mem=", argvMem}, {" multi-mem=", multiMem},
		{" rbs=", rbs}, {" rbp=", rbp},
		{" obl=", obl}, {" oll=", oll}, {" omem=", omem}, {" tot-mem=", totMem},
	} {
		b = append(b, f.k...)
		b = strconv.AppendInt(b, f.v, 10)
	}
	b = append(b, " events="...)
	b = append(b, events...)
	b = append(b, " cmd="...)
	b = append(b, cmd...)
	b = append(b, " user="...)
	b = append(b, user...)
	b = append(b, " redir="...)
	b = strconv.AppendInt(b, redir, 10)
	b = append(b, " resp="...)
	b = strconv.AppendInt(b, int64(cl.resp), 10)
	return b
}

// clientStructSize approximates the fixed memory of a client, for tot-mem.
const clientStructSize = 1 << 10

// outputBufferStats reports Redis's obl/oll/omem for cl's unsent replies:
// the first 16KB sit in the static buffer, the rest in a list of 16KB
// blocks.
func outputBufferStats(cl *Client) (obl, oll, omem int64) {
	n := int64(cl.pendingLen())
	obl = min(n, protoIOBufLen)
	rest := n - obl
	if rest > 0 {
		oll = (rest + protoIOBufLen - 1) / protoIOBufLen
		omem = oll * protoIOBufLen
	}
	return obl, oll, omem
}

func clientKillCommand(s *Server, c *Client, args [][]byte) {
	var addr, laddr, user string
	var id int64
	typ := -1
	skipme := true
	hasAddr, hasLaddr, hasUser := false, false, false
	switch {
	case len(args) == 3:
		addr, hasAddr = string(args[2]), true
		skipme = false // the old form may kill the caller
	case len(args) > 3:
		for i := 2; i < len(args); i += 2 {
			if i+1 >= len(args) {
				c.Error(errSyntax)
				return
			}
			opt, val := strings.ToLower(string(args[i])), string(args[i+1])
			switch opt {
			case "id":
				v, ok := parseRedisInt64(args[i+1])
				if !ok || v < 1 {
					c.Error("ERR client-id should be greater than 0")
					return
				}
				id = v
			case "type":
				typ = clientTypeByName(val)
				if typ == -1 {
					c.Error("ERR Unknown client type '" + val + "'")
					return
				}
			case "addr":
				addr, hasAddr = val, true
			case "laddr":
				laddr, hasLaddr = val, true
			case "user":
				if val != defaultUserName {
					c.Error("ERR No such user '" + val + "'")
					return
				}
				user, hasUser = val, true
			case "skipme":
				switch strings.ToLower(val) {
				case "yes":
					skipme = true
				case "no":
					skipme = false
				default:
					c.Error(errSyntax)
					return
				}
			default:
				c.Error(errSyntax)
				return
			}
		}
	default:
		c.Error(errSyntax)
		return
	}
	killed, killSelf := 0, false
	for _, cl := range s.clientsByID() {
		if hasAddr && cl.addr != addr {
			continue
		}
		if hasLaddr && cl.laddr != laddr {
			continue
		}
		if typ != -1 && clientType(cl) != typ {
			continue
		}
		if id != 0 && cl.ID != id {
			continue
		}
		if hasUser {
			u := cl.user
			if u == "" {
				u = defaultUserName
			}
			if u != user {
				continue
			}
		}
		if cl == c && skipme {
			continue
		}
		if cl == c {
			killSelf = true
		} else {
			s.killClient(cl)
		}
		killed++
	}
	if len(args) == 3 {
		if killed == 0 {
			c.Error("ERR No such client")
		} else {
			c.OK()
		}
	} else {
		c.Int(int64(killed))
	}
	if killSelf {
		c.closeAfterReply = true
	}
}

// killClient disconnects another client now: its state is released and
// its socket closed, which ends its connection goroutine. Commands it
// had pipelined are not run.
func (s *Server) killClient(cl *Client) {
	cl.killed = true
	s.freeClient(cl)
	if st := s.clientState(); st.paused[cl] {
		st.wakePaused()
	}
	if cl.nc != nil {
		cl.nc.Close()
	}
}

func clientSetNameCommand(s *Server, c *Client, args [][]byte) {
	if !c.setName(args[2]) {
		c.Error(errBadClientName)
		return
	}
	c.OK()
}

func clientGetNameCommand(s *Server, c *Client, args [][]byte) {
	if c.Name == "" {
		c.Null()
		return
	}
	c.BulkString(c.Name)
}

func clientPauseCommand(s *Server, c *Client, args [][]byte) {
	typ := pauseAll
	if len(args) == 4 {
		switch strings.ToLower(string(args[3])) {
		case "write":
			typ = pauseWrite
		case "all":
			typ = pauseAll
		default:
			c.Error("ERR CLIENT PAUSE mode must be WRITE or ALL")
			return
		}
	} else if len(args) != 3 {
		c.Error("ERR wrong number of arguments for 'client|pause' command")
		return
	}
	end, ok := timeoutArg(c, args[2])
	if !ok {
		return
	}
	s.pauseClients(pauseByClient, end, typ)
	c.OK()
}

// timeoutArg parses a millisecond timeout as Redis's
// getTimeoutFromObjectOrReply and returns its end time in unix ms (0 for
// a zero timeout), or replies the error.
func timeoutArg(c *Client, arg []byte) (int64, bool) {
	v, ok := parseRedisInt64(arg)
	if !ok {
		c.Error("ERR timeout is not an integer or out of range")
		return 0, false
	}
	if v < 0 {
		c.Error("ERR timeout is negative")
		return 0, false
	}
	if v > 0 {
		now := time.Now().UnixMilli()
		if v > math.MaxInt64-now {
			v = math.MaxInt64
		} else {
			v += now
		}
	}
	return v, true
}

func clientUnpauseCommand(s *Server, c *Client, args [][]byte) {
	s.unpauseClients(pauseByClient)
	c.OK()
}

func clientReplyCommand(s *Server, c *Client, args [][]byte) {
	switch strings.ToLower(string(args[2])) {
	case "on":
		c.replyMode = replyOn
		c.skipNext = false
		c.OK()
	case "off":
		c.replyMode = replyOff
	case "skip":
		if c.replyMode != replyOff {
			c.replyMode = replySkip
		}
	default:
		c.Error(errSyntax)
	}
}

func clientNoEvictCommand(s *Server, c *Client, args [][]byte) {
	switch strings.ToLower(string(args[2])) {
	case "on":
		c.flags |= flagNoEvict
		c.OK()
	case "off":
		c.flags &^= flagNoEvict
		c.OK()
	default:
		c.Error(errSyntax)
	}
}

func clientUnblockCommand(s *Server, c *Client, args [][]byte) {
	withError := false
	if len(args) == 4 {
		switch strings.ToLower(string(args[3])) {
		case "timeout":
		case "error":
			withError = true
		default:
			c.Error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
			return
		}
	}
	id, ok := parseRedisInt64(args[2])
	if !ok {
		c.Error(errNotInt)
		return
	}
	target := s.clients[id]
	hooks := &s.clientState().hooks
	if target != nil && target.flags&flagBlocked != 0 && hooks.unblock != nil && hooks.unblock(target, withError) {
		c.Int(1)
		return
	}
	c.Int(0)
}

// The reply buffer model. Redis sizes each client's reply buffer to its
// recent peak use (clientsCronResizeOutputBuffer) and reports size and
// peak in CLIENT LIST (rbs, rbp); DEBUG REPLYBUFFER tunes it.
const (
	replyChunkBytes = 16 << 10 // PROTO_REPLY_CHUNK_BYTES
	replyMinBytes   = 1 << 10  // PROTO_REPLY_MIN_BYTES
	// replyPeakResetDefault is the default of DEBUG REPLYBUFFER
	// peak-reset-time, in ms.
	replyPeakResetDefault = 5000
)

type replyBufferSettings struct {
	peakResetMs int64 // -1: never
	noResizing  bool
}

func replyBufferStats(cl *Client) (rbs, rbp int64) {
	if cl.rbs == 0 {
		return replyChunkBytes, cl.rbp
	}
	return cl.rbs, cl.rbp
}

// noteReplyBuffer records the reply buffer's use after a command: Redis
// fills its fixed buffer first, so the peak is bounded by its size.
func (c *Client) noteReplyBuffer() {
	if c.rbs == 0 {
		c.rbs = replyChunkBytes
	}
	if used := min(int64(len(c.out)), c.rbs); used > c.rbp {
		c.rbp = used
	}
}

// resizeReplyBuffer is Redis's clientsCronResizeOutputBuffer on the model.
func (st *clientFamily) resizeReplyBuffer(c *Client, nowMs int64) {
	if st.replyBuf.noResizing {
		return
	}
	if c.rbs == 0 {
		c.rbs = replyChunkBytes
	}
	shrink, expand := c.rbs/2, c.rbs*2
	switch {
	case shrink >= replyMinBytes && c.rbp < shrink:
		c.rbs = max(replyMinBytes, c.rbp+1)
	case expand < replyChunkBytes*2 && c.rbp == c.rbs:
		c.rbs = min(replyChunkBytes, expand)
	}
	if reset := st.replyBuf.peakResetMs; reset >= 0 && nowMs-c.rbpResetAt >= reset {
		c.rbp = min(int64(c.pendingLen()), c.rbs)
		c.rbpResetAt = nowMs
	}
}
