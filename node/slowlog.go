package node

import (
	"strconv"
	"strings"
	"time"

	"github.com/keyfleet/keyfleet/internal/commands"
)

// SLOWLOG, and the after-call observer that feeds it, the latency monitor,
// the per-command latency histograms, MONITOR and the reply buffer model.

func init() {
	register(map[string]handler{
		"slowlog|get":   slowlogGetCommand,
		"slowlog|len":   slowlogLenCommand,
		"slowlog|reset": slowlogResetCommand,
		"slowlog|help":  slowlogHelpCommand,
	})
	serverInits = append(serverInits, func(s *Server) {
		st := s.connState()
		prevBefore := s.hooks.beforeCall
		s.hooks.beforeCall = func(c *Client, cmd *command, args [][]byte) {
			st.callDepth++
			if prevBefore != nil {
				prevBefore(c, cmd, args)
			}
		}
		prev := s.hooks.afterCall
		s.hooks.afterCall = func(c *Client, cmd *command, args [][]byte, dur time.Duration) {
			st.callDepth--
			s.observeCall(c, cmd, args, dur)
			if prev != nil {
				prev(c, cmd, args, dur)
			}
		}
	})
}

// Limits of a slowlog entry (Redis's SLOWLOG_ENTRY_MAX_ARGC and _STRING).
const (
	slowlogMaxArgc   = 32
	slowlogMaxString = 128
)

type slowlogEntry struct {
	id       int64
	time     int64 // unix seconds
	duration int64 // microseconds
	args     [][]byte
	peer     string
	name     string
}

type slowlogState struct {
	entries []slowlogEntry // newest first
	nextID  int64
}

func (s *Server) slowlog() *slowlogState {
	if st, ok := s.ext["slowlog"].(*slowlogState); ok {
		return st
	}
	st := &slowlogState{}
	s.ext["slowlog"] = st
	return st
}

// redact hides argument i of the current call from SLOWLOG and MONITOR
// (Redis's redactClientCommandArgument): passwords of AUTH, HELLO AUTH,
// MIGRATE AUTH, CONFIG SET of sensitive parameters, ACL SETUSER.
func (c *Client) redact(i int) {
	for _, r := range c.redacted {
		if r == i {
			return
		}
	}
	c.redacted = append(c.redacted, i)
}

func (c *Client) isRedacted(i int) bool {
	for _, r := range c.redacted {
		if r == i {
			return true
		}
	}
	return false
}

var redactedArg = []byte("(redacted)")

// observeCall runs after every executed command (top level, in EXEC and
// in scripts), as the tail of Redis's call().
func (s *Server) observeCall(c *Client, cmd *command, args [][]byte, dur time.Duration) {
	if th := s.latencyThreshold(); th > 0 {
		if ms := dur.Milliseconds(); ms >= th {
			event := "command"
			if cmd.Has(commands.Fast) {
				event = "fast-command"
			}
			s.latencyAddSample(event, ms)
		}
	}
	if !cmd.Has(commands.SkipSlowlog) {
		if c.flags&flagBlocked == 0 {
			s.slowlogPush(c, args, dur.Microseconds())
		} else if bc := s.blockingState().byClient[c]; bc != nil && s.cfg.SlowlogLogSlowerThan >= 0 {
			// Logged when served (serveReadyKeys); the request's
			// buffers may be reused by then.
			bc.argv = make([][]byte, len(args))
			for i, a := range args {
				bc.argv[i] = append([]byte(nil), a...)
			}
			bc.callDur = dur
		}
	}
	if cmd.Flags&(commands.SkipMonitor|commands.Admin) == 0 {
		s.feedMonitors(c, c.db.id, args)
	}
	if s.latencyTracking() {
		s.recordCommandLatency(cmd, dur)
	}
	c.noteReplyBuffer()
	c.redacted = c.redacted[:0]
}

// slowlogPush logs the call if it took at least slowlog-log-slower-than
// microseconds, and trims the log to slowlog-max-len.
func (s *Server) slowlogPush(c *Client, args [][]byte, usec int64) {
	th := s.cfg.SlowlogLogSlowerThan
	if th < 0 {
		return
	}
	st := s.slowlog()
	if usec >= th {
		e := slowlogEntry{
			id:       st.nextID,
			time:     time.Now().Unix(),
			duration: usec,
			peer:     c.addr,
			name:     c.Name,
		}
		st.nextID++
		n := min(len(args), slowlogMaxArgc)
		e.args = make([][]byte, n)
		for j := 0; j < n; j++ {
			a := args[j]
			switch {
			case n != len(args) && j == n-1:
				e.args[j] = []byte("... (" + strconv.Itoa(len(args)-n+1) + " more arguments)")
			case c.isRedacted(j):
				e.args[j] = redactedArg
			case len(a) > slowlogMaxString:
				b := make([]byte, 0, slowlogMaxString+32)
				b = append(b, a[:slowlogMaxString]...)
				b = append(b, "... ("...)
				b = strconv.AppendInt(b, int64(len(a)-slowlogMaxString), 10)
				b = append(b, " more bytes)"...)
				e.args[j] = b
			default:
				e.args[j] = append([]byte(nil), a...)
			}
		}
		st.entries = append(st.entries, slowlogEntry{})
		copy(st.entries[1:], st.entries)
		st.entries[0] = e
	}
	if limit := int64(s.cfg.SlowlogMaxLen); limit >= 0 && int64(len(st.entries)) > limit {
		clear(st.entries[limit:])
		st.entries = st.entries[:limit]
	}
}

func slowlogGetCommand(s *Server, c *Client, args [][]byte) {
	st := s.slowlog()
	count := int64(10)
	if len(args) == 3 {
		v, ok := parseRedisInt64(args[2])
		if !ok || v < -1 {
			c.Error("ERR count should be greater than or equal to -1")
			return
		}
		count = v
		if count == -1 {
			count = int64(len(st.entries))
		}
	} else if len(args) > 3 {
		subcommandSyntaxError(c, args)
		return
	}
	n := int(min(count, int64(len(st.entries))))
	c.ArrayLen(n)
	for _, e := range st.entries[:n] {
		c.ArrayLen(6)
		c.Int(e.id)
		c.Int(e.time)
		c.Int(e.duration)
		c.ArrayLen(len(e.args))
		for _, a := range e.args {
			c.Bulk(a)
		}
		c.BulkString(e.peer)
		c.BulkString(e.name)
	}
}

func slowlogLenCommand(s *Server, c *Client, args [][]byte) {
	c.Int(int64(len(s.slowlog().entries)))
}

func slowlogResetCommand(s *Server, c *Client, args [][]byte) {
	st := s.slowlog()
	st.entries = nil
	c.OK()
}

var slowlogHelp = []string{
	"GET [<count>]",
	"    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
	"    Entries are made of:",
	"    id, timestamp, time in microseconds, arguments array, client IP and port,",
	"    client name",
	"LEN",
	"    Return the length of the slowlog.",
	"RESET",
	"    Reset the slowlog.",
}

func slowlogHelpCommand(s *Server, c *Client, args [][]byte) {
	replyHelp(c, args[0], slowlogHelp)
}

// subcommandSyntaxError is Redis's addReplySubcommandSyntaxError.
func subcommandSyntaxError(c *Client, args [][]byte) {
	c.Error("ERR unknown subcommand or wrong number of arguments for '" +
		truncate(string(args[1]), 128) + "'. Try " + strings.ToUpper(string(args[0])) + " HELP.")
}
