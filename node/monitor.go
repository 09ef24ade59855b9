package node

import (
	"strconv"
	"time"

	"github.com/keyfleet/keyfleet/internal/commands"
)

// MONITOR: every executed command, after it ran, is sent to the monitors
// as Redis's replicationFeedMonitors formats it. EXEC and scripts feed
// themselves before their inner commands through feedMonitors (their
// rows are skip_monitor or they call it), as in Redis.

func init() {
	register(map[string]handler{"monitor": monitorCommand})
	serverInits = append(serverInits, func(s *Server) {
		s.hooks.clientGone = append(s.hooks.clientGone, func(c *Client) {
			if c.flags&flagMonitor != 0 {
				s.removeMonitor(c)
			}
		})
	})
}

// monitorOutputLimit is the hard output buffer limit of a monitor
// (client-output-buffer-limit's replica class default): a monitor that
// cannot keep up is disconnected rather than buffered without end.
const monitorOutputLimit = 256 << 20

type monitorState struct {
	monitors []*Client
}

func (s *Server) monitorState() *monitorState {
	if st, ok := s.ext["monitor"].(*monitorState); ok {
		return st
	}
	st := &monitorState{}
	s.ext["monitor"] = st
	return st
}

func monitorCommand(s *Server, c *Client, args [][]byte) {
	if s.denyBlocking(c) {
		c.Error("ERR MONITOR isn't allowed for DENY BLOCKING client")
		return
	}
	if c.flags&(flagMonitor|flagReplica) != 0 {
		return // already a monitor or a replica: ignored, no reply
	}
	c.flags |= flagMonitor
	st := s.monitorState()
	st.monitors = append(st.monitors, c)
	c.OK()
}

func (s *Server) removeMonitor(c *Client) {
	st := s.monitorState()
	for i, m := range st.monitors {
		if m == c {
			st.monitors = append(st.monitors[:i], st.monitors[i+1:]...)
			break
		}
	}
	c.flags &^= flagMonitor
}

// monitorKeyspaceInterceptor refuses keyspace commands from a MONITOR
// connection: Redis marks monitors as replicas, and replicas may not
// touch the keyspace.
func monitorKeyspaceInterceptor(s *Server, c *Client, cmd *command, args [][]byte) bool {
	if c.flags&flagMonitor == 0 {
		return false
	}
	if s.commandFlags(c, cmd, args)&(commands.Write|commands.ReadOnly|commands.MayReplicate) != 0 {
		s.rejectCommand(c, cmd, "ERR Replica can't interact with the keyspace")
		return true
	}
	return false
}

// feedMonitors sends one command to every monitor:
// `+<sec>.<usec> [<db> <addr>] "arg" "arg"...`, with redacted arguments
// hidden and Lua's calls marked "lua".
func (s *Server) feedMonitors(c *Client, dbid int, args [][]byte) {
	st := s.monitorState()
	if len(st.monitors) == 0 {
		return
	}
	now := time.Now()
	b := make([]byte, 0, 64+16*len(args))
	b = append(b, '+')
	b = strconv.AppendInt(b, now.Unix(), 10)
	b = append(b, '.')
	us := strconv.Itoa(now.Nanosecond() / 1000)
	for i := len(us); i < 6; i++ {
		b = append(b, '0')
	}
	b = append(b, us...)
	b = append(b, " ["...)
	b = strconv.AppendInt(b, int64(dbid), 10)
	if c.flags&flagLuaClient != 0 {
		b = append(b, " lua] "...)
	} else {
		b = append(b, ' ')
		b = append(b, c.addr...)
		b = append(b, "] "...)
	}
	for j, a := range args {
		if j > 0 {
			b = append(b, ' ')
		}
		if c.isRedacted(j) {
			a = redactedArg
		}
		b = appendRepr(b, a)
	}
	b = append(b, '\r', '\n')
	for _, m := range append([]*Client(nil), st.monitors...) {
		if m == c {
			// The monitor's own command: after its reply, as in Redis.
			c.Raw(b)
			continue
		}
		if m.pushAsync(b) > monitorOutputLimit {
			s.log.Warn("client scheduled to be closed for overcoming of output buffer limits", "addr", m.addr, "class", "monitor")
			s.killClient(m)
		}
	}
}

// appendRepr quotes b as Redis's sdscatrepr: printable ASCII as is,
// backslash escapes for \\ \" \n \r \t \a \b, \xHH for the rest.
func appendRepr(dst, b []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for _, ch := range b {
		switch ch {
		case '\\', '"':
			dst = append(dst, '\\', ch)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\a':
			dst = append(dst, '\\', 'a')
		case '\b':
			dst = append(dst, '\\', 'b')
		default:
			if ch >= 0x20 && ch <= 0x7e {
				dst = append(dst, ch)
			} else {
				dst = append(dst, '\\', 'x', hex[ch>>4], hex[ch&0xf])
			}
		}
	}
	return append(dst, '"')
}
