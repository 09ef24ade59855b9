package node

import (
	"github.com/keyfleet/keyfleet/node/keyspace"
)

// The blocking pops of sorted sets, BZPOPMIN, BZPOPMAX and BZMPOP, on the
// blocking framework of blocking.go: a non-empty key is popped at once,
// as ZPOPMIN/ZPOPMAX/ZMPOP would; otherwise the client blocks until a
// write makes one of its keys a non-empty sorted set, and the pop then
// replies and propagates as ZPOPMIN/ZPOPMAX (with the count for BZMPOP),
// as Redis 7.0's blockingGenericZpopCommand and
// serveClientsBlockedOnSortedSetKey do.

func init() {
	register(map[string]handler{
		"bzpopmin": bzpopminCommand,
		"bzpopmax": bzpopmaxCommand,
		"bzmpop":   bzmpopCommand,
	})
}

func bzpopminCommand(s *Server, c *Client, args [][]byte) {
	blockingZpop(s, c, args[1:len(args)-1], args[len(args)-1], zsetMin, -1, false)
}

func bzpopmaxCommand(s *Server, c *Client, args [][]byte) {
	blockingZpop(s, c, args[1:len(args)-1], args[len(args)-1], zsetMax, -1, false)
}

// bzmpopCommand is BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT n].
func bzmpopCommand(s *Server, c *Client, args [][]byte) {
	keys, where, count, ok := parseMpop(c, args, 2)
	if !ok {
		return
	}
	blockingZpop(s, c, keys, args[1], where, count, true)
}

// blockingZpop pops from the first non-empty sorted set of keys, or
// blocks on them. count is -1 for BZPOPMIN/BZPOPMAX (one member, flat
// reply); mpop selects BZMPOP's nested reply, null when nothing comes.
func blockingZpop(s *Server, c *Client, keys [][]byte, timeoutArg []byte, where int, count int64, mpop bool) {
	deadline, ok := s.parseTimeout(c, timeoutArg)
	if !ok {
		return
	}
	shape := zpopReply{emitKey: true, nested: mpop, nilWhenEmpty: mpop}
	for _, key := range keys {
		o := s.lookupWrite(c.db, key)
		if o == nil {
			continue
		}
		if o.Type != keyspace.TypeZSet {
			c.Error(errWrongType)
			return
		}
		if zsetLength(o) == 0 {
			continue
		}
		s.zpopBlocked(c, key, where, count, shape)
		return
	}
	// Inside MULTI or a script a client cannot wait: it times out at once.
	if denyBlocking(c) {
		c.NullArray()
		return
	}
	// The request buffer is reused: the keys must outlive it.
	owned := make([][]byte, len(keys))
	for i, k := range keys {
		owned[i] = append([]byte(nil), k...)
	}
	s.blockForKeys(c, owned, deadline, func(key []byte) bool {
		o, _ := s.peek(c.db, key)
		// A key that is gone or became another type does not serve: the
		// client stays blocked, as in Redis.
		if o == nil || o.Type != keyspace.TypeZSet || zsetLength(o) == 0 {
			return false
		}
		s.zpopBlocked(c, key, where, count, shape)
		return true
	}, nil)
}

// zpopBlocked pops from key, which holds a non-empty sorted set, replies
// and propagates the effect as ZPOPMIN/ZPOPMAX key [count].
func (s *Server) zpopBlocked(c *Client, key []byte, where int, count int64, shape zpopReply) {
	_, n := s.zpopGeneric(c, [][]byte{key}, where, count, shape)
	s.propagateZpop(c.db, key, where, n, count != -1)
}
