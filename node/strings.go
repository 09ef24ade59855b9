package node

import (
	"strconv"

	"github.com/keyfleet/keyfleet/node/keyspace"
)

func init() {
	register(map[string]handler{
		"get": getCommand,
		"set": setCommand,
	})
}

// newStringObject picks the encoding Redis would: int for canonical
// integers, embstr up to 44 bytes, raw above. The bytes are copied so that
// the stored value does not pin the request buffer.
func newStringObject(v []byte) keyspace.Object {
	o := keyspace.Object{Type: keyspace.TypeString, Str: append([]byte(nil), v...)}
	switch {
	case isCanonicalInt(v):
		o.Enc = keyspace.EncInt
	case len(v) <= 44:
		o.Enc = keyspace.EncEmbStr
	default:
		o.Enc = keyspace.EncRaw
	}
	return o
}

// isCanonicalInt reports whether v is the decimal form of an int64 with no
// sign other than '-', no leading zeros and no spaces (Redis's string2ll).
func isCanonicalInt(v []byte) bool {
	if len(v) == 0 || len(v) > 20 {
		return false
	}
	if len(v) == 1 && v[0] == '0' {
		return true
	}
	i := 0
	if v[0] == '-' {
		i = 1
		if len(v) == 1 {
			return false
		}
	}
	if v[i] < '1' || v[i] > '9' {
		return false
	}
	_, err := strconv.ParseInt(string(v), 10, 64)
	return err == nil
}

// getString returns the string at key for a read; ok is false (with the
// reply written) on a wrong type.
func (s *Server) getString(c *Client, key []byte) (val []byte, exists, ok bool) {
	o := s.lookupRead(c.db, key)
	if o == nil {
		return nil, false, true
	}
	if o.Type != keyspace.TypeString {
		c.Error(errWrongType)
		return nil, true, false
	}
	return o.Str, true, true
}

func getCommand(s *Server, c *Client, args [][]byte) {
	v, exists, ok := s.getString(c, args[1])
	if !ok {
		return
	}
	if !exists {
		c.Null()
		return
	}
	c.Bulk(v)
}

func setCommand(s *Server, c *Client, args [][]byte) {
	// Seed implementation: plain SET key value. The strings family
	// replaces it with the full option set.
	if len(args) != 3 {
		c.Error(errSyntax)
		return
	}
	s.setKey(c.db, args[1], newStringObject(args[2]), false)
	s.notify(notifyString, "set", args[1], c.db.id)
	s.dirty++
	s.propagate(c.db.id, args)
	c.OK()
}
