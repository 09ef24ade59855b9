package node

import (
	"math"
	"strconv"
)

// Key expiry commands, as Redis 7.0's expire.c.

func init() {
	register(map[string]handler{
		"expire":      expireCommand,
		"pexpire":     pexpireCommand,
		"expireat":    expireatCommand,
		"pexpireat":   pexpireatCommand,
		"ttl":         ttlCommand,
		"pttl":        pttlCommand,
		"expiretime":  expiretimeCommand,
		"pexpiretime": pexpiretimeCommand,
		"persist":     persistCommand,
	})
}

// EXPIRE condition flags.
const (
	expireNX = 1 << iota
	expireXX
	expireGT
	expireLT
)

const (
	errExpireNXConflict = "ERR NX and XX, GT or LT options at the same time are not compatible"
	errExpireGTLT       = "ERR GT and LT options at the same time are not compatible"
)

func parseExpireFlags(c *Client, args [][]byte) (int, bool) {
	flags := 0
	for _, opt := range args[3:] {
		switch {
		case isWord(opt, "nx"):
			flags |= expireNX
		case isWord(opt, "xx"):
			flags |= expireXX
		case isWord(opt, "gt"):
			flags |= expireGT
		case isWord(opt, "lt"):
			flags |= expireLT
		default:
			c.Error("ERR Unsupported option " + string(opt))
			return 0, false
		}
	}
	if flags&expireNX != 0 && flags&(expireXX|expireGT|expireLT) != 0 {
		c.Error(errExpireNXConflict)
		return 0, false
	}
	if flags&expireGT != 0 && flags&expireLT != 0 {
		c.Error(errExpireGTLT)
		return 0, false
	}
	return flags, true
}

// expireGeneric implements EXPIRE, PEXPIRE, EXPIREAT and PEXPIREAT: the
// argument is relative to basetime (0 for the AT forms), in seconds or
// milliseconds. A time in the past deletes the key (propagated as DEL);
// any other is propagated as PEXPIREAT with the absolute time.
func expireGeneric(s *Server, c *Client, args [][]byte, basetime int64, seconds bool, name string) {
	key := args[1]
	flags, ok := parseExpireFlags(c, args)
	if !ok {
		return
	}
	when, ok := int64Arg(c, args[2])
	if !ok {
		return
	}
	if seconds {
		if when > math.MaxInt64/1000 || when < math.MinInt64/1000 {
			c.Error(invalidExpireError(name))
			return
		}
		when *= 1000
	}
	if when > math.MaxInt64-basetime {
		c.Error(invalidExpireError(name))
		return
	}
	when += basetime
	db := c.db
	if s.lookupWrite(db, key) == nil {
		c.Int(0)
		return
	}
	if flags != 0 {
		current := s.expireOf(db, key) // 0: none, an infinite TTL
		switch {
		case flags&expireNX != 0 && current != 0,
			flags&expireXX != 0 && current == 0,
			flags&expireGT != 0 && (current == 0 || when <= current),
			flags&expireLT != 0 && current != 0 && when >= current:
			c.Int(0)
			return
		}
	}
	if s.alreadyExpired(when) {
		old, _ := db.ks.Delete(key)
		s.freeObject(old, s.cfg.LazyfreeLazyExpire)
		s.dirty++
		s.propagateDeletion(db, key, s.cfg.LazyfreeLazyExpire)
		s.keyModified(db, key)
		s.notify(notifyGeneric, "del", key, db.id)
		c.Int(1)
		return
	}
	if when == 0 {
		when = -1 // 0 means "no expiry" to the keyspace; a replica keeps the key expired
	}
	db.ks.SetExpire(key, when)
	c.Int(1)
	if s.propagating() {
		var buf [20]byte
		s.propagate(db.id, [][]byte{argPEXPIREAT, key, strconv.AppendInt(buf[:0], when, 10)})
	}
	s.keyModified(db, key)
	s.notify(notifyGeneric, "expire", key, db.id)
	s.dirty++
}

func expireCommand(s *Server, c *Client, args [][]byte) {
	expireGeneric(s, c, args, s.now(), true, "expire")
}

func pexpireCommand(s *Server, c *Client, args [][]byte) {
	expireGeneric(s, c, args, s.now(), false, "pexpire")
}

func expireatCommand(s *Server, c *Client, args [][]byte) {
	expireGeneric(s, c, args, 0, true, "expireat")
}

func pexpireatCommand(s *Server, c *Client, args [][]byte) {
	expireGeneric(s, c, args, 0, false, "pexpireat")
}

// ttlGeneric implements TTL, PTTL, EXPIRETIME and PEXPIRETIME: -2 for a
// missing key, -1 for a key without expiry.
func ttlGeneric(s *Server, c *Client, key []byte, ms, abs bool) {
	if s.lookupReadNoTouch(c.db, key) == nil {
		c.Int(-2)
		return
	}
	at := s.expireOf(c.db, key)
	if at == 0 {
		c.Int(-1)
		return
	}
	ttl := at
	if !abs {
		ttl = at - s.now()
	}
	if ttl < 0 {
		ttl = 0
	}
	if ms {
		c.Int(ttl)
	} else {
		c.Int((ttl + 500) / 1000)
	}
}

func ttlCommand(s *Server, c *Client, args [][]byte)  { ttlGeneric(s, c, args[1], false, false) }
func pttlCommand(s *Server, c *Client, args [][]byte) { ttlGeneric(s, c, args[1], true, false) }
func expiretimeCommand(s *Server, c *Client, args [][]byte) {
	ttlGeneric(s, c, args[1], false, true)
}
func pexpiretimeCommand(s *Server, c *Client, args [][]byte) {
	ttlGeneric(s, c, args[1], true, true)
}

func persistCommand(s *Server, c *Client, args [][]byte) {
	db, key := c.db, args[1]
	if s.lookupWrite(db, key) == nil || s.expireOf(db, key) == 0 {
		c.Int(0)
		return
	}
	db.ks.SetExpire(key, 0)
	s.keyModified(db, key)
	s.notify(notifyGeneric, "persist", key, db.id)
	c.Int(1)
	s.dirty++
	s.propagate(db.id, args)
}
