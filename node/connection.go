package node

import (
	"crypto/subtle"
	"time"
)

// The connection family: PING, ECHO, AUTH, QUIT, RESET and the
// cross-protocol-scripting guard (POST, Host:). HELLO is in hello.go,
// CLIENT in client_cmd.go.

func init() {
	register(map[string]handler{
		"ping":  pingCommand,
		"echo":  echoCommand,
		"auth":  authCommand,
		"quit":  quitCommand,
		"reset": resetCommand,
	})
}

const (
	errAuthNoPassword = "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"
	defaultUserName   = "default"
)

func pingCommand(s *Server, c *Client, args [][]byte) {
	if len(args) > 2 {
		c.Error("ERR wrong number of arguments for 'ping' command")
		return
	}
	if c.flags&flagPubSub != 0 && c.resp == 2 {
		c.ArrayLen(2)
		c.BulkString("pong")
		if len(args) == 2 {
			c.Bulk(args[1])
		} else {
			c.BulkString("")
		}
		return
	}
	if len(args) == 2 {
		c.Bulk(args[1])
		return
	}
	c.Status("PONG")
}

func echoCommand(s *Server, c *Client, args [][]byte) { c.Bulk(args[1]) }

// authRequired reports whether c must authenticate before running
// commands, as Redis's authRequired: the default user has a password and
// c has not authenticated. A client connected while there was no password
// stays authenticated when one is set later, as in Redis.
func (s *Server) authRequired(c *Client) bool {
	return s.cfg.RequirePass != "" && !c.authenticated
}

// authenticate checks a username/password pair against the users the
// node has (only "default", whose password is requirepass) and, if they
// match, authenticates c as that user.
func (s *Server) authenticate(c *Client, user, pass []byte) bool {
	if string(user) != defaultUserName {
		return false
	}
	if want := s.cfg.RequirePass; want != "" &&
		subtle.ConstantTimeCompare([]byte(want), pass) != 1 {
		return false
	}
	c.user = defaultUserName
	c.authenticated = true
	return true
}

// setDefaultAuth resets c to the default user, authenticated only if
// that user needs no password (Redis's clientSetDefaultAuth).
func (s *Server) setDefaultAuth(c *Client) {
	c.user = defaultUserName
	c.authenticated = s.cfg.RequirePass == ""
}

func authCommand(s *Server, c *Client, args [][]byte) {
	if len(args) > 3 {
		c.Error(errSyntax)
		return
	}
	c.redact(1)
	var user, pass []byte
	if len(args) == 2 {
		if s.cfg.RequirePass == "" {
			c.Error(errAuthNoPassword)
			return
		}
		user, pass = []byte(defaultUserName), args[1]
	} else {
		c.redact(2)
		user, pass = args[1], args[2]
	}
	if s.authenticate(c, user, pass) {
		c.OK()
		return
	}
	c.Error(errWrongPass)
}

func quitCommand(s *Server, c *Client, args [][]byte) {
	c.OK()
	c.closeAfterReply = true
}

// resetCommand returns the connection to the state of a new one.
func resetCommand(s *Server, c *Client, args [][]byte) {
	if c.flags&(flagReplica|flagPrimary) != 0 {
		c.Error("ERR can only reset normal client connections")
		return
	}
	s.resetClientState(c)
	c.Status("RESET")
}

// resetClientState is Redis's clearClientConnectionState. The subsystems
// release what the client holds (MULTI state and WATCHed keys, pub/sub
// subscriptions, tracking, MONITOR) through their clientGone hooks, the
// same release a disconnection triggers: a clientGone hook must therefore
// only drop the client's subsystem state, never the connection.
func (s *Server) resetClientState(c *Client) {
	for _, f := range s.hooks.clientGone {
		f(c)
	}
	c.flags &^= flagMonitor | flagTracking | flagMulti | flagDirtyCAS |
		flagDirtyExec | flagPubSub | flagReadOnly
	c.db = s.dbs[0]
	c.resp = 2
	s.setDefaultAuth(c)
	c.Name = ""
	c.replyMode = replyOn
	c.skipNext = false
}

// isSecurityAttack reports whether a request's name is "POST" or "Host:",
// the first words of an HTTP request: cross-protocol scripting.
func isSecurityAttack(name []byte) bool {
	return equalFoldASCII(name, "post") || equalFoldASCII(name, "host:")
}

func equalFoldASCII(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i, x := range b {
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if x != lower[i] {
			return false
		}
	}
	return true
}

// securityWarning closes a connection that looks like an HTTP request,
// without a reply, as Redis does; it logs at most once a minute.
func (s *Server) securityWarning(c *Client) {
	st := s.connState()
	if now := time.Now(); now.Sub(st.lastSecurityLog) > time.Minute {
		st.lastSecurityLog = now
		s.log.Warn("Possible SECURITY ATTACK detected. It looks like somebody is sending POST or Host: commands to Redis. This is likely due to an attacker attempting to use Cross Protocol Scripting to compromise your Redis instance. Connection aborted.",
			"addr", c.addr)
	}
	c.closeAfterReply = true
}

// connState is the connection family's per-server state.
type connState struct {
	lastSecurityLog time.Time
	// callDepth counts the calls in progress: above one, a command runs
	// inside another (EXEC, a script) and must not block.
	callDepth int
}

func (s *Server) connState() *connState {
	if st, ok := s.ext["connection"].(*connState); ok {
		return st
	}
	st := &connState{}
	s.ext["connection"] = st
	return st
}
