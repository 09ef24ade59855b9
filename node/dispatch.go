package node

import (
	"fmt"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/keyfleet/keyfleet/internal/commands"
	"github.com/tidwall/redcon"
)

// handler executes one command. args[0] is the command name as sent.
type handler func(s *Server, c *Client, args [][]byte)

// command is a row of the command table with its handler attached.
type command struct {
	*commands.Command
	proc handler
	subs []*command
	// id indexes the per-Server stats cache (Server.cmdStatFor); 0 for a
	// command built outside the table.
	id int
}

// handlers maps command names ("get", "config|get") to their handlers.
// Family files fill it from init functions through register; it is the
// engine's half of the command table and is read-only once New runs.
var handlers = map[string]handler{}

func register(m map[string]handler) {
	for name, h := range m {
		if _, dup := handlers[name]; dup {
			panic("node: handler registered twice: " + name)
		}
		handlers[name] = h
	}
}

var (
	tableOnce sync.Once
	table     map[string]*command
)

// commandTable joins the metadata rows with the handlers. A row without a
// handler is not served (the engine answers "unknown command" for it) and
// a handler without a row is a bug caught by TestCommandTable.
func commandTable() map[string]*command {
	tableOnce.Do(func() {
		table = make(map[string]*command)
		id := 0
		for _, row := range commands.Default.All() {
			id++
			c := &command{Command: row, proc: handlers[row.Name], id: id}
			for _, sr := range row.Subcommands {
				if h := handlers[sr.Name]; h != nil {
					id++
					c.subs = append(c.subs, &command{Command: sr, proc: h, id: id})
				}
			}
			if c.proc == nil && len(c.subs) == 0 {
				continue
			}
			table[row.Name] = c
		}
	})
	return table
}

func lookupCommand(name []byte) *command {
	t := commandTable()
	if len(name) > 64 {
		return nil // no command name is that long
	}
	// Lowercase first: clients mostly send upper case, and one map
	// lookup of the folded name costs less than a miss and a retry.
	var buf [64]byte
	low := buf[:len(name)]
	for i, b := range name {
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		low[i] = b
	}
	return t[string(low)]
}

func (c *command) sub(name []byte) *command {
	for _, sc := range c.subs {
		_, n, _ := strings.Cut(sc.Name, "|")
		if strings.EqualFold(n, string(name)) {
			return sc
		}
	}
	return nil
}

// serveRESP runs a batch of pipelined commands under one hold of the shard
// lock and writes their replies with one write.
func (s *Server) serveRESP(conn redcon.Conn, rc redcon.Command) {
	c, ok := conn.Context().(*Client)
	if !ok {
		conn.Close()
		return
	}
	if g := guardOf(c); g != nil && g.handoffPending {
		g.handoffPending = false
		s.serveConn(conn, c, g)
		return
	}
	s.mu.Lock()
	if c.closeAfterReply || c.killed {
		// redcon hands over the rest of a read batch even after the
		// connection was closed (QUIT, a protocol error, CLIENT KILL):
		// those requests never run.
		s.mu.Unlock()
		return
	}
	s.syncClock(time.Now())
	s.execute(c, rc.Args)
	s.waitIfBlocked(c)
	for !c.closeAfterReply {
		more := conn.ReadPipeline()
		if len(more) == 0 {
			break
		}
		for i := range more {
			if c.closeAfterReply {
				break
			}
			s.execute(c, more[i].Args)
			s.waitIfBlocked(c)
		}
	}
	s.mu.Unlock()
	if err := c.flush(); err != nil || c.closeAfterReply {
		conn.Close()
	}
}

// serveConn serves a connection for the rest of its life from inside
// redcon's handler, reading requests from the protocol guard directly.
//
// Why: the guard already parses every request (it must, for Redis's
// limits and inline grammar); handing redcon canonical bytes made redcon
// parse them again and copy each one twice (its read buffer, then Raw),
// which cost more than the commands themselves under pipelining. redcon
// keeps the connection's life: it accepts it (accept callback), runs this
// handler on its goroutine, and on return, with the connection closed
// through conn.Close, calls the closed callback; Server.Close still
// closes the socket, which ends the read here. Detach was the other way
// through redcon's API, but a detached connection leaves redcon's
// bookkeeping (closed is called at once, Close no longer reaches it).
// The guard starts this by handing redcon one placeholder request (see
// handoffRequest), so redcon's reader holds none of the client's bytes.
func (s *Server) serveConn(conn redcon.Conn, c *Client, g *protoGuard) {
	var batch [][][]byte
	for {
		var err error
		batch, err = g.readRequests(batch[:0])
		if err != nil {
			break // a protocol error was replied by the guard's policy
		}
		s.mu.Lock()
		if c.closeAfterReply || c.killed {
			s.mu.Unlock()
			break
		}
		s.syncClock(time.Now())
		next := 0
		for i, args := range batch {
			if c.closeAfterReply {
				break
			}
			if i == next {
				next = i + s.prefetchBatch(c, batch[i:]) // server.go
			}
			s.execute(c, args)
			s.waitIfBlocked(c)
		}
		s.mu.Unlock()
		clear(batch) // the arguments are the handlers' now
		if err := c.flush(); err != nil || c.closeAfterReply {
			break
		}
	}
	conn.Close()
}

// unknownCommandError formats Redis's reply for a command it lacks.
func unknownCommandError(args [][]byte) string {
	var b strings.Builder
	fmt.Fprintf(&b, "ERR unknown command '%s', with args beginning with: ", truncate(string(args[0]), 128))
	for _, a := range args[1:] {
		if b.Len() >= 128 {
			break
		}
		fmt.Fprintf(&b, "'%s' ", truncate(string(a), 128-b.Len()))
	}
	return b.String()
}

func truncate(s string, n int) string {
	if n < 0 {
		n = 0
	}
	if len(s) > n {
		return s[:n]
	}
	return s
}

// resolve finds the command row for args, writing the error reply and
// returning nil when there is none or the arity is wrong.
func (s *Server) resolve(c *Client, args [][]byte) *command {
	// lastCmd is what CLIENT LIST shows as cmd: the command looked up,
	// even when its arity is then refused ("" for an unknown one).
	c.lastCmd = ""
	cmd := s.lookupCommand(args[0]) // through rename-command (config_cmd.go)
	if cmd == nil {
		c.Error(unknownCommandError(args))
		return nil
	}
	// A container resolves its subcommand; one with a handler of its own
	// (COMMAND) also runs bare, as in Redis.
	if len(cmd.subs) > 0 && (cmd.proc == nil || len(args) > 1) {
		if len(args) == 1 {
			c.Error(fmt.Sprintf("ERR wrong number of arguments for '%s' command", cmd.Name))
			return nil
		}
		sc := cmd.sub(args[1])
		if sc == nil {
			c.Error(fmt.Sprintf("ERR unknown subcommand '%s'. Try %s HELP.",
				truncate(string(args[1]), 128), strings.ToUpper(cmd.Name)))
			return nil
		}
		cmd = sc
	}
	c.lastCmd = cmd.Name
	if (cmd.Arity > 0 && len(args) != cmd.Arity) || len(args) < -cmd.Arity {
		// Counted as the command's rejected_calls (INFO commandstats).
		s.rejectCommand(c, cmd, fmt.Sprintf("ERR wrong number of arguments for '%s' command", cmd.Name))
		return nil
	}
	return cmd
}

// interceptor can take over a command before it runs (MULTI queueing,
// subscriber context, OOM, read-only replica, client pause, busy script).
// It returns true if it handled the command (replied or queued it).
type interceptor func(s *Server, c *Client, cmd *command, args [][]byte) bool

// interceptors run in order; registered from init functions only.
var interceptors []interceptor

// execute runs one command for c with the shard lock held.
func (s *Server) execute(c *Client, args [][]byte) {
	if len(args) == 0 {
		return
	}
	if c.killed {
		return // killed by CLIENT KILL: its pipelined commands never run
	}
	if isSecurityAttack(args[0]) {
		s.securityWarning(c)
		return
	}
	// The command's clock, from one monotonic reading (see clockNow).
	now := s.clockNow()
	c.lastActive = now
	s.updateClock(now)
	mark := len(c.out)
	c.beginCommand(mark)
	c.errorReplied = false
	cmd := s.resolve(c, args)
	if cmd != nil {
		if s.authRequired(c) && !cmd.Has(commands.NoAuth) {
			s.rejectCommand(c, cmd, errNoAuth)
			cmd = nil
		}
	}
	if cmd == nil {
		// An unknown command or a wrong arity aborts the transaction
		// being queued (multi.go).
		s.flagTransaction(c)
		s.stats.totalCommands++
		s.finishReply(c, mark)
		s.afterCommand(c, nil)
		return
	}
	for _, ic := range interceptors {
		if ic(s, c, cmd, args) {
			s.finishReply(c, mark)
			s.serveReadyKeys()
			s.afterCommand(c, cmd)
			return
		}
	}
	// Inside MULTI the command is queued rather than run (multi.go): the
	// last step, after every check that can refuse it, as in Redis.
	if s.queueMulti(c, cmd, args) {
		s.finishReply(c, mark)
		s.afterCommand(c, cmd)
		return
	}
	s.call(c, cmd, args)
	s.finishReply(c, mark)
	// Clients blocked on keys this command (or the transaction or script
	// it ran) made ready are served once it is over (blocking.go).
	s.serveReadyKeys()
	s.afterCommand(c, cmd)
}

// afterCommandHooks run once a command executed by execute is over (run,
// queued or refused; cmd is nil for an unknown one), after the clients it
// unblocked were served: client-side caching sends the invalidations
// that wait for the end of a command there. Registered from init only.
var afterCommandHooks []func(s *Server, c *Client, cmd *command)

// afterCommand runs the after-command hooks, then appends the pushes that
// waited for the command's reply.
func (s *Server) afterCommand(c *Client, cmd *command) {
	for _, f := range afterCommandHooks {
		f(s, c, cmd)
	}
	c.endCommand()
}

// waitIfBlocked waits, with the shard lock released, while the command
// just run keeps c blocked on keys (blocking.go): the client's next
// pipelined command runs only once it is served or times out.
func (s *Server) waitIfBlocked(c *Client) {
	if c.flags&flagBlocked != 0 {
		s.waitUnblocked(c)
	}
}

// call runs a resolved command and accounts for it. MULTI/EXEC and
// scripts call it for each inner command.
func (s *Server) call(c *Client, cmd *command, args [][]byte) {
	if s.hooks.beforeCall != nil {
		s.hooks.beforeCall(c, cmd, args)
	}
	// Durations come from the monotonic clock alone: one cheap reading
	// each side instead of time.Now's wall and monotonic pair.
	start := s.monoNow()
	c.errorReplied = false
	cmd.proc(s, c, args)
	dur := s.monoNow() - start
	st := s.cmdStatFor(cmd)
	st.calls++
	st.usec += dur.Microseconds()
	if c.errorReplied {
		st.failed++
	}
	s.stats.totalCommands++
	if s.hooks.afterCall != nil {
		s.hooks.afterCall(c, cmd, args, dur)
	}
}

// finishReply applies CLIENT REPLY OFF|SKIP to what the command wrote.
// Pushes written during the command (subscription confirmations, pub/sub
// messages) are kept: Redis sends them whatever the reply mode.
func (s *Server) finishReply(c *Client, mark int) {
	switch {
	case c.replyMode == replyOff:
		c.dropReply(mark)
	case c.skipNext:
		c.dropReply(mark)
		c.skipNext = false
	case c.replyMode == replySkip:
		c.replyMode = replyOn
		c.skipNext = true
	}
}

// dropReply truncates out to mark but for the pushes written after it.
func (c *Client) dropReply(mark int) {
	keep := mark
	for _, r := range c.pushRanges {
		if r[0] < mark {
			continue
		}
		keep += copy(c.out[keep:], c.out[r[0]:r[1]])
	}
	c.out = c.out[:keep]
}

// rejectCommand counts a command refused before it ran. In MULTI the
// refusal aborts the transaction being queued; a refused EXEC discards it
// (-EXECABORT with the reason), as Redis's rejectCommand.
func (s *Server) rejectCommand(c *Client, cmd *command, msg string) {
	st := s.cmdStatFor(cmd)
	st.rejected++
	s.flagTransaction(c)
	if cmd.Name == "exec" {
		s.execAbort(c, msg)
		return
	}
	c.Error(msg)
}

// cmdStatFor returns cmd's entry in INFO commandstats, creating it. The
// map by name stays the source of truth (INFO, LATENCY and CONFIG
// RESETSTAT use it); the hot path finds the entry through a per-Server
// slice indexed by the command's id instead of hashing its name. The
// slice is dropped whenever the map was replaced (CONFIG RESETSTAT),
// which is detected by the map's identity.
func (s *Server) cmdStatFor(cmd *command) *cmdStat {
	if m := mapIdentity(s.stats.cmdStats); m != s.statCacheOf {
		s.statCacheOf = m
		clear(s.statCache)
	}
	if cmd.id > 0 && cmd.id < len(s.statCache) {
		if st := s.statCache[cmd.id]; st != nil {
			return st
		}
	}
	st := s.stats.cmdStats[cmd.Name]
	if st == nil {
		st = &cmdStat{}
		s.stats.cmdStats[cmd.Name] = st
	}
	if cmd.id > 0 {
		if cmd.id >= len(s.statCache) {
			s.statCache = append(s.statCache, make([]*cmdStat, cmd.id+1-len(s.statCache))...)
		}
		s.statCache[cmd.id] = st
	}
	return st
}

// mapIdentity is the runtime address of a map: two values are the same
// map exactly when it is equal.
func mapIdentity(m map[string]*cmdStat) unsafe.Pointer {
	return *(*unsafe.Pointer)(unsafe.Pointer(&m))
}

// countError records an error reply in errorstats by its code.
func (s *Server) countError(msg string) {
	code, _, _ := strings.Cut(msg, " ")
	s.stats.totalErrors++
	s.stats.errorCounts[code]++
}
