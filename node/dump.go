package node

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"strconv"
	"strings"
	"time"

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
		// Without cluster mode RESTORE-ASKING is RESTORE.
		"restore-asking": restoreCommand,
		"migrate":        migrateCommand,
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

// MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE]
// [AUTH password | AUTH2 username password] [KEYS key ...]: the keys go
// to the target as RESTORE commands and, unless COPY, leave this node.
// As in Redis the shard waits for the target (within timeout ms); unlike
// Redis no connection is cached between calls.
func migrateCommand(s *Server, c *Client, args [][]byte) {
	var copyKeys, replace bool
	var auth [][]byte
	first, nkeys := 3, 1
	for j := 6; j < len(args); j++ {
		more := len(args) - j - 1
		switch {
		case eqFold(args[j], "copy"):
			copyKeys = true
		case eqFold(args[j], "replace"):
			replace = true
		case eqFold(args[j], "auth") && more >= 1:
			auth = [][]byte{[]byte("AUTH"), args[j+1]}
			c.redact(j + 1)
			j++
		case eqFold(args[j], "auth2") && more >= 2:
			auth = [][]byte{[]byte("AUTH"), args[j+1], args[j+2]}
			c.redact(j + 1)
			c.redact(j + 2)
			j += 2
		case eqFold(args[j], "keys"):
			if len(args[3]) != 0 {
				c.Error("ERR When using MIGRATE KEYS option, the key argument must be set to the empty string")
				return
			}
			first, nkeys = j+1, len(args)-j-1
			j = len(args)
		default:
			c.Error(errSyntax)
			return
		}
	}
	timeout, ok1 := parseInt64Strict(args[5])
	_, ok2 := parseInt64Strict(args[4])
	if !ok1 || !ok2 {
		c.Error(errNotInt)
		return
	}
	if timeout <= 0 {
		timeout = 1000
	}
	var keys [][]byte
	for _, k := range args[first : first+nkeys] {
		if s.lookupRead(c.db, k) != nil {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		c.Status("NOKEY")
		return
	}
	// The commands for the target, built before any I/O.
	var req []byte
	ncmds := 0
	if auth != nil {
		req = appendRESPCommand(req, auth)
		ncmds++
	}
	req = appendRESPCommand(req, [][]byte{[]byte("SELECT"), args[4]})
	ncmds++
	var sent [][]byte
	now := s.now()
	for _, k := range keys {
		o, at := c.db.ks.Lookup(k)
		ttl := int64(0)
		if at != 0 {
			if at < now {
				continue // expired meanwhile: not worth sending
			}
			ttl = max(at-now, 1)
		}
		p, ok := s.dumpPayload(o)
		if !ok {
			c.Error(errUnknownType)
			return
		}
		cmd := [][]byte{[]byte("RESTORE"), k, strconv.AppendInt(nil, ttl, 10), p}
		if replace {
			cmd = append(cmd, []byte("REPLACE"))
		}
		req = appendRESPCommand(req, cmd)
		sent = append(sent, k)
	}
	addr := net.JoinHostPort(string(args[1]), string(args[2]))
	d := time.Duration(timeout) * time.Millisecond
	conn, err := net.DialTimeout("tcp", addr, d)
	if err != nil {
		c.Error("IOERR error or timeout connecting to the client")
		return
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(d))
	if _, err := conn.Write(req); err != nil {
		c.Error("IOERR error or timeout writing to target instance")
		return
	}
	br := bufio.NewReader(conn)
	var targetErr string
	var moved [][]byte
	for i := 0; i < ncmds+len(sent); i++ {
		line, err := br.ReadString('\n')
		if err != nil {
			c.Error("IOERR error or timeout reading to target instance")
			return
		}
		line = strings.TrimRight(line, "\r\n")
		if strings.HasPrefix(line, "-") {
			if targetErr == "" {
				targetErr = line[1:]
			}
			continue
		}
		if i >= ncmds {
			moved = append(moved, sent[i-ncmds])
		}
	}
	if !copyKeys && len(moved) > 0 {
		del := [][]byte{argDEL}
		for _, k := range moved {
			if s.deleteKey(c.db, k) {
				s.notify(notifyGeneric, "del", k, c.db.id)
				s.dirty++
				del = append(del, k)
			}
		}
		if len(del) > 1 {
			s.propagate(c.db.id, del)
		}
	}
	if targetErr != "" {
		c.Error("ERR Target instance replied with error: " + targetErr)
		return
	}
	c.OK()
}

// appendRESPCommand appends argv as a RESP array of bulk strings.
func appendRESPCommand(b []byte, argv [][]byte) []byte {
	b = append(b, '*')
	b = strconv.AppendInt(b, int64(len(argv)), 10)
	b = append(b, '\r', '\n')
	for _, a := range argv {
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(a)), 10)
		b = append(b, '\r', '\n')
		b = append(b, a...)
		b = append(b, '\r', '\n')
	}
	return b
}
