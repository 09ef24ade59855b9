package node

import (
	"bytes"
	"errors"
	"strconv"

	"github.com/keyfleet/keyfleet/node/keyspace"
	"github.com/keyfleet/keyfleet/node/rdb"
)

// DUMP and RESTORE: a value serialized as in an RDB file (type byte and
// object), then the RDB version and a CRC64 of both, byte-compatible
// with Redis 7.0 so payloads move between the node and redis-server.

func init() {
	register(map[string]handler{
		"dump":    dumpCommand,
		"restore": restoreCommand,
	})
}

const (
	errBusyKey       = "BUSYKEY Target key name already exists."
	errDumpPayload   = "ERR DUMP payload version or checksum are wrong"
	errBadDataFormat = "ERR Bad data format"
	errInvalidTTL    = "ERR Invalid TTL value, must be >= 0"
	errInvalidIdle   = "ERR Invalid IDLETIME value, must be >= 0"
	errInvalidFreq   = "ERR Invalid FREQ value, must be >= 0 and <= 255"
)

var argABSTTL = []byte("ABSTTL")

// dumpPayload serializes o as DUMP does.
func (s *Server) dumpPayload(o *keyspace.Object) ([]byte, bool) {
	var buf bytes.Buffer
	w := rdb.NewWriter(&buf, s.cfg.RDBCompression)
	if !saveObject(w, o, nil) || w.Flush() != nil {
		return nil, false
	}
	return rdb.Payload(buf.Bytes()), true
}

func dumpCommand(s *Server, c *Client, args [][]byte) {
	o := s.lookupRead(c.db, args[1])
	if o == nil {
		c.Null()
		return
	}
	p, ok := s.dumpPayload(o)
	if !ok {
		c.Error(errUnknownType)
		return
	}
	c.Bulk(p)
}

// restoreDeep reports whether c's payloads get the full integrity checks
// (sanitize-dump-payload).
func (s *Server) restoreDeep(c *Client) bool {
	switch s.cfg.SanitizeDumpPayload {
	case "yes":
		return true
	case "clients":
		return c.flags&flagPrimary == 0
	}
	return false
}

// decodePayload checks a DUMP payload and decodes its value.
func (s *Server) decodePayload(p []byte, deep bool) (keyspace.Object, string) {
	body, ok := rdb.CheckPayload(p, !s.skipChecksumValidation())
	if !ok {
		return keyspace.Object{}, errDumpPayload
	}
	r := rdb.NewReader(bytes.NewReader(body), int64(len(body)), "payload")
	t, err := r.Byte()
	if err != nil {
		return keyspace.Object{}, errBadDataFormat
	}
	o, err := s.loadObject(r, t, deep)
	if err != nil {
		if !errors.Is(err, errEmptyKey) {
			s.log.Debug("RESTORE payload refused", "err", err)
		}
		return keyspace.Object{}, errBadDataFormat
	}
	return o, ""
}

func restoreCommand(s *Server, c *Client, args [][]byte) {
	var replace, absTTL bool
	idle, freq := int64(-1), int64(-1)
	for i := 4; i < len(args); i++ {
		more := i+1 < len(args)
		switch {
		case eqFold(args[i], "replace"):
			replace = true
		case eqFold(args[i], "absttl"):
			absTTL = true
		case eqFold(args[i], "idletime") && more && freq == -1:
			v, ok := parseInt64Strict(args[i+1])
			if !ok {
				c.Error(errNotInt)
				return
			}
			if v < 0 {
				c.Error(errInvalidIdle)
				return
			}
			idle = v
			i++
		case eqFold(args[i], "freq") && more && idle == -1:
			v, ok := parseInt64Strict(args[i+1])
			if !ok {
				c.Error(errNotInt)
				return
			}
			if v < 0 || v > 255 {
				c.Error(errInvalidFreq)
				return
			}
			freq = v
			i++
		default:
			c.Error(errSyntax)
			return
		}
	}
	key := args[1]
	if !replace && s.lookupWrite(c.db, key) != nil {
		c.Error(errBusyKey)
		return
	}
	ttl, err := strconv.ParseInt(string(args[2]), 10, 64)
	if err != nil {
		c.Error(errNotInt)
		return
	}
	if ttl < 0 {
		c.Error(errInvalidTTL)
		return
	}
	o, msg := s.decodePayload(args[3], s.restoreDeep(c))
	if msg != "" {
		c.Error(msg)
		return
	}
	deleted := false
	if replace {
		deleted = s.deleteKey(c.db, key)
	}
	if ttl > 0 && !absTTL {
		ttl += s.now()
	}
	if ttl > 0 && s.now() > ttl && !s.isReplica() {
		// Already expired: the key ends up deleted, as Redis's
		// checkAlreadyExpired path.
		if deleted {
			lazy := s.cfg.LazyfreeLazyServerDel
			s.propagateDeletion(c.db, key, lazy)
			s.notify(notifyGeneric, "del", key, c.db.id)
			s.dirty++
		}
		c.OK()
		return
	}
	p := s.setKey(c.db, key, o, false)
	if ttl > 0 {
		c.db.ks.SetExpire(key, ttl)
	}
	if s.lfuPolicy() {
		if freq >= 0 {
			p.LRU = lfuMinutes(s.lruClock)<<8 | uint32(freq)
		}
	} else if idle >= 0 {
		p.LRU = s.lruSecondsAgo(idle)
	}
	s.notify(notifyGeneric, "restore", key, c.db.id)
	s.dirty++
	if ttl > 0 && !absTTL {
		// Propagate the TTL as an absolute time, as Redis rewrites it.
		argv := append([][]byte(nil), args...)
		argv[2] = strconv.AppendInt(nil, ttl, 10)
		s.propagate(c.db.id, append(argv, argABSTTL))
	} else {
		s.propagate(c.db.id, args)
	}
	c.OK()
}
