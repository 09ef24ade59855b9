package node

import (
	"math"

	"github.com/keyfleet/keyfleet/node/keyspace"
)

// OBJECT ENCODING|IDLETIME|FREQ|REFCOUNT|HELP, as Redis 7.0's object.c.

func init() {
	register(map[string]handler{
		"object|encoding": objectEncodingCommand,
		"object|idletime": objectIdletimeCommand,
		"object|freq":     objectFreqCommand,
		"object|refcount": objectRefcountCommand,
		"object|help":     objectHelpCommand,
	})
}

const (
	errIdleUnderLFU = "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."
	errFreqNoLFU    = "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."
)

// sharedRefcount is what Redis reports for its shared objects
// (OBJ_SHARED_REFCOUNT).
const sharedRefcount = math.MaxInt32

// sharedIntegers is the number of small integers Redis shares
// (OBJ_SHARED_INTEGERS).
const sharedIntegers = 10000

// objectRefcount is the refcount Redis would report for o. The engine
// shares nothing, but Redis keeps the integers 0..9999 as shared objects
// (set when the value is written, see setStringEnc), and clients and
// tests read that.
func (s *Server) objectRefcount(o *keyspace.Object) int64 {
	if o.Shared {
		return sharedRefcount
	}
	return 1
}

// sharedIntegersAllowed: Redis shares small integers unless maxmemory is
// set with an LRU or LFU policy (each value then needs its own clock).
func (s *Server) sharedIntegersAllowed() bool {
	p := s.cfg.MaxMemoryPolicy
	noShared := len(p) > 3 && (p[len(p)-3:] == "lru" || p[len(p)-3:] == "lfu")
	return s.cfg.MaxMemory == 0 || !noShared
}

// objectIdleMs is the time since the object's last access in ms
// (estimateObjectIdleTime), at the LRU clock's one-second resolution.
func (s *Server) objectIdleMs(o *keyspace.Object) int64 {
	now, lru := int64(s.lruClock), int64(o.LRU)
	if now >= lru {
		return (now - lru) * 1000
	}
	return (now + lruClockMax - lru) * 1000
}

// objectLookup finds the key for OBJECT without touching it or raising a
// keymiss event; a missing key gets a null reply.
func (s *Server) objectLookup(c *Client, key []byte) *keyspace.Object {
	o, at := c.db.ks.Lookup(key)
	if o != nil && at != 0 && s.expireIfNeeded(c.db, key, at) {
		o = nil
	}
	if o == nil {
		s.stats.keyspaceMisses++
		c.Null()
		return nil
	}
	s.stats.keyspaceHits++
	return o
}

func objectEncodingCommand(s *Server, c *Client, args [][]byte) {
	if o := s.objectLookup(c, args[2]); o != nil {
		c.BulkString(o.Enc.String())
	}
}

func objectRefcountCommand(s *Server, c *Client, args [][]byte) {
	if o := s.objectLookup(c, args[2]); o != nil {
		c.Int(s.objectRefcount(o))
	}
}

func objectIdletimeCommand(s *Server, c *Client, args [][]byte) {
	o := s.objectLookup(c, args[2])
	if o == nil {
		return
	}
	if s.lfuPolicy() {
		c.Error(errIdleUnderLFU)
		return
	}
	c.Int(s.objectIdleMs(o) / 1000)
}

func objectFreqCommand(s *Server, c *Client, args [][]byte) {
	o := s.objectLookup(c, args[2])
	if o == nil {
		return
	}
	if !s.lfuPolicy() {
		c.Error(errFreqNoLFU)
		return
	}
	c.Int(int64(s.lfuDecr(o)))
}

var objectHelp = []string{
	"ENCODING <key>",
	"    Return the kind of internal representation used in order to store the value",
	"    associated with a <key>.",
	"FREQ <key>",
	"    Return the access frequency index of the <key>. The returned integer is",
	"    proportional to the logarithm of the recent access frequency of the key.",
	"IDLETIME <key>",
	"    Return the idle time of the <key>, that is the approximated number of",
	"    seconds elapsed since the last access to the key.",
	"REFCOUNT <key>",
	"    Return the number of references of the value associated with the specified",
	"    <key>.",
}

func objectHelpCommand(s *Server, c *Client, args [][]byte) {
	// addReplyHelp's shape: a header, the lines, then the HELP entry.
	c.ArrayLen(len(objectHelp) + 3)
	c.Status("OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
	for _, l := range objectHelp {
		c.Status(l)
	}
	c.Status("HELP")
	c.Status("    Prints this help.")
}
