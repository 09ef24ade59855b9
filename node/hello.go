package node

import (
	"strings"
)

func init() {
	register(map[string]handler{"hello": helloCommand})
}

const (
	errHelloNoAuth   = "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"
	errBadClientName = "ERR Client names cannot contain spaces, newlines or special characters."
)

// helloCommand: HELLO [protover [AUTH user pass] [SETNAME name]].
func helloCommand(s *Server, c *Client, args [][]byte) {
	var ver int64
	next := 1
	if len(args) >= 2 {
		v, ok := parseRedisInt64(args[1])
		if !ok {
			c.Error("ERR Protocol version is not an integer or out of range")
			return
		}
		if v < 2 || v > 3 {
			c.Error("NOPROTO unsupported protocol version")
			return
		}
		ver = v
		next = 2
	}
	for j := next; j < len(args); j++ {
		more := len(args) - 1 - j
		opt := string(args[j])
		switch {
		case strings.EqualFold(opt, "auth") && more >= 2:
			c.redact(j + 1)
			c.redact(j + 2)
			if !s.authenticate(c, args[j+1], args[j+2]) {
				c.Error(errWrongPass)
				return
			}
			j += 2
		case strings.EqualFold(opt, "setname") && more >= 1:
			if !c.setName(args[j+1]) {
				c.Error(errBadClientName)
				return
			}
			j++
		default:
			c.Error("ERR Syntax error in HELLO option '" + opt + "'")
			return
		}
	}
	if s.authRequired(c) {
		c.Error(errHelloNoAuth)
		return
	}
	if ver != 0 {
		c.resp = int(ver)
	}
	c.MapLen(7)
	c.BulkString("server")
	c.BulkString("redis")
	c.BulkString("version")
	c.BulkString(Version)
	c.BulkString("proto")
	c.Int(int64(c.resp))
	c.BulkString("id")
	c.Int(c.ID)
	c.BulkString("mode")
	c.BulkString("standalone")
	c.BulkString("role")
	if s.isReplica() {
		c.BulkString("replica")
	} else {
		c.BulkString("master")
	}
	c.BulkString("modules")
	c.ArrayLen(0)
}

// setName sets the connection's name as Redis's clientSetName: an empty
// name removes it; a name must be printable ASCII without spaces, so that
// CLIENT LIST stays splittable on spaces.
func (c *Client) setName(name []byte) bool {
	for _, b := range name {
		if b < '!' || b > '~' {
			return false
		}
	}
	c.Name = string(name)
	return true
}
