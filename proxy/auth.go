package proxy

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"strconv"
	"strings"
	"time"

	"github.com/keyfleet/keyfleet/proxy/resp"
)

// authCommand: AUTH <database-id> <password>. AUTH <id>:<password> is
// also accepted, for clients that can only send a password.
func authCommand(c *client, r *request) {
	var user, pass []byte
	switch len(r.args) {
	case 2:
		i := bytes.IndexByte(r.args[1], ':')
		if i < 0 {
			c.replyError("ERR AUTH needs a database id: AUTH <database-id> <password>")
			return
		}
		user, pass = r.args[1][:i], r.args[1][i+1:]
	case 3:
		user, pass = r.args[1], r.args[2]
	default:
		if len(r.args) < 2 {
			c.replyError("ERR wrong number of arguments for 'auth' command")
		} else {
			c.replyError(errSyntax)
		}
		return
	}
	if msg := c.authenticate(string(user), pass); msg != "" {
		c.replyError(msg)
		return
	}
	c.replyRaw(okReply)
}

var okReply = []byte("+OK\r\n")

// authenticate checks credentials and binds the client to the database.
// It returns an error reply, or "" on success. Failures from one IP are
// slowed down; the comparison is constant-time and does the same work
// for an unknown database as for a wrong password.
func (c *client) authenticate(id string, pass []byte) string {
	tbl := c.p.routes.Load()
	if tbl == nil {
		return errLoading
	}
	if wait := c.p.authLimiter.reserve(c.ip, time.Now()); wait > 0 {
		// Flush what the batch has so far, then hold this reply back.
		c.endSegment()
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-c.p.ctx.Done():
			t.Stop()
		}
	}
	digest := sha256.Sum256(pass)
	db := tbl.dbs[id]
	var want [sha256.Size]byte
	var rt *dbRoute
	if db != nil {
		rt = db.route.Load()
	}
	if rt != nil {
		want = rt.digest
	}
	if subtle.ConstantTimeCompare(digest[:], want[:]) != 1 || rt == nil {
		c.p.authLimiter.failed(c.ip, time.Now())
		c.p.metrics.authFailures.Add(c.p.ctx, 1)
		return errWrongPass
	}
	c.p.authLimiter.succeeded(c.ip)
	return c.bind(db, rt)
}

// bind attaches the client to db, within its connection limit. It
// returns an error reply, or "".
func (c *client) bind(db *database, rt *dbRoute) string {
	if c.db == db {
		return ""
	}
	if max := rt.limits.MaxConnections; max > 0 && db.nconns.Load() >= int64(max) {
		db.usage.add(0, 0, 0, 0, 1)
		return errMaxConns
	}
	db.mu.Lock()
	if max := rt.limits.MaxConnections; max > 0 && db.nconns.Load() >= int64(max) {
		db.mu.Unlock()
		db.usage.add(0, 0, 0, 0, 1)
		return errMaxConns
	}
	db.nconns.Add(1)
	db.clients[c] = struct{}{}
	db.mu.Unlock()

	if c.db != nil {
		// Re-authenticating as another database starts afresh.
		c.resetState()
		c.unbind()
	}
	c.db = db
	c.pushDB.Store(db)
	c.route = nil
	c.syncRoute()
	c.rd.SetLimits(c.maxRequest()+1<<10, maxBulk, false)
	c.conn.SetReadDeadline(time.Time{})
	// The quota for the rest of this batch is asked for on its next
	// command.
	c.allow = -1
	return ""
}

// bindDefault binds an unauthenticated client to Options.DefaultDatabase,
// if set and served.
func (c *client) bindDefault() {
	id := c.p.opts.DefaultDatabase
	if id == "" {
		return
	}
	tbl := c.p.routes.Load()
	if tbl == nil {
		return
	}
	if db := tbl.dbs[id]; db != nil {
		if rt := db.route.Load(); rt != nil {
			c.bind(db, rt)
		}
	}
}

// helloCommand: HELLO [protover [AUTH id pass] [SETNAME name]].
func helloCommand(c *client, r *request) {
	proto := 0
	i := 1
	if len(r.args) >= 2 {
		v, err := strconv.ParseInt(string(r.args[1]), 10, 64)
		if err != nil {
			c.replyError("ERR Protocol version is not an integer or out of range")
			return
		}
		if v < 2 || v > 3 {
			c.replyError("NOPROTO unsupported protocol version")
			return
		}
		proto = int(v)
		i = 2
	}
	var name []byte
	setName := false
	for ; i < len(r.args); i++ {
		more := len(r.args) - 1 - i
		opt := string(r.args[i])
		switch {
		case strings.EqualFold(opt, "AUTH") && more >= 2:
			if msg := c.authenticate(string(r.args[i+1]), r.args[i+2]); msg != "" {
				c.replyError(msg)
				return
			}
			i += 2
		case strings.EqualFold(opt, "SETNAME") && more >= 1:
			if msg := validClientName(r.args[i+1]); msg != "" {
				c.replyError(msg)
				return
			}
			name, setName = r.args[i+1], true
			i++
		default:
			c.replyError("ERR Syntax error in HELLO option '" + opt + "'")
			return
		}
	}
	if c.db == nil {
		c.replyError("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
		return
	}
	if setName {
		c.setName(string(name))
	}
	if proto != 0 && proto != c.proto {
		if msg := c.switchProto(proto); msg != "" {
			c.replyError(msg)
			return
		}
	}
	mode := "standalone"
	if len(c.route.shards) > 1 {
		mode = "cluster"
	}
	b := resp.AppendMapLen(nil, c.proto, 7)
	b = resp.AppendBulkString(b, "server")
	b = resp.AppendBulkString(b, "redis")
	b = resp.AppendBulkString(b, "version")
	b = resp.AppendBulkString(b, redisVersion)
	b = resp.AppendBulkString(b, "proto")
	b = resp.AppendInt(b, int64(c.proto))
	b = resp.AppendBulkString(b, "id")
	b = resp.AppendInt(b, c.id)
	b = resp.AppendBulkString(b, "mode")
	b = resp.AppendBulkString(b, mode)
	b = resp.AppendBulkString(b, "role")
	b = resp.AppendBulkString(b, "master")
	b = resp.AppendBulkString(b, "modules")
	b = resp.AppendArrayLen(b, 0)
	c.replyRaw(b)
}

// redisVersion is the Redis version the proxy reports being.
const redisVersion = "7.0.15"

// switchProto changes the client's protocol. Pooled connections are per
// protocol; the client's own connections are re-dialled in the new
// protocol, which is refused while they hold state that would be lost.
func (c *client) switchProto(proto int) string {
	if c.txn != nil || c.watchShard >= 0 || c.subscribed() {
		return "ERR the protocol cannot be switched inside a transaction, with WATCHed keys or while subscribed, through the Keyfleet proxy"
	}
	if c.pendingDed || c.pendingPool {
		c.endSegment()
	}
	for i, bc := range c.ded {
		if bc != nil {
			bc.abort("protocol switch")
			c.ded[i] = nil
		}
	}
	clear(c.pooled)
	c.proto = proto
	return ""
}

// pingCommand: an authenticated PING goes to the first shard, so that it
// answers what the shard would (BUSY while a script runs, LOADING) and a
// health check through the proxy checks the shard too. Before AUTH, and in
// a RESP2 subscribed context, the proxy answers: PONG or its argument, or
// Redis's subscribed-context array.
func pingCommand(c *client, r *request) {
	if len(r.args) > 2 {
		c.replyError("ERR wrong number of arguments for 'ping' command")
		return
	}
	if c.db != nil && !(c.proto == 2 && c.subscribed()) {
		c.sendTo(0, r.raw)
		return
	}
	if c.proto == 2 && c.subscribed() {
		b := resp.AppendArrayLen(nil, 2)
		b = resp.AppendBulkString(b, "pong")
		if len(r.args) == 2 {
			b = resp.AppendBulk(b, r.args[1])
		} else {
			b = resp.AppendBulkString(b, "")
		}
		c.replyRaw(b)
		return
	}
	if len(r.args) == 2 {
		c.replyRaw(resp.AppendBulk(nil, r.args[1]))
		return
	}
	c.replyRaw([]byte("+PONG\r\n"))
}

func echoCommand(c *client, r *request) {
	c.replyRaw(resp.AppendBulk(nil, r.args[1]))
}

func quitCommand(c *client, r *request) {
	c.replyRaw(okReply)
	c.quit = true
}

// resetCommand returns the connection to its initial state, including
// unauthenticated, as RESET does when the default user needs a password.
func resetCommand(c *client, r *request) {
	c.resetState()
	c.unbind()
	c.proto = 2
	c.rd.SetLimits(unauthRequestBytes, maxBulk, true)
	c.conn.SetReadDeadline(time.Now().Add(c.p.opts.AuthTimeout))
	c.replyRaw([]byte("+RESET\r\n"))
	c.bindDefault()
}

// resetState drops transactions, watches, subscriptions, SELECT, tracking
// and the client's own connections, after the replies in flight.
func (c *client) resetState() {
	if c.pendingDed || c.pendingPool || len(c.entries) > 0 {
		c.endSegment()
	}
	c.dropConns()
	c.txn = nil
	c.watchShard = -1
	c.channels, c.patterns, c.schannels = nil, nil, nil
	c.sticky, c.replay, c.selected, c.tracking = false, nil, 0, false
	c.replyMode = replyOn
	c.setName("")
}

func timeCommand(c *client, r *request) {
	now := time.Now()
	b := resp.AppendArrayLen(nil, 2)
	b = resp.AppendBulkInt(b, now.Unix())
	b = resp.AppendBulkInt(b, int64(now.Nanosecond()/1000))
	c.replyRaw(b)
}

func okCommand(c *client, r *request) { c.replyRaw(okReply) }

// selectCommand: a one-shard database supports the 16 logical databases,
// on the client's own connection; a sharded one allows only 0, as Redis
// Cluster does.
func selectCommand(c *client, r *request) {
	n, ok := dbIndex(r.args[1])
	if !ok {
		c.replyError(errNotInteger)
		return
	}
	if len(c.route.shards) > 1 {
		if n != 0 {
			c.replyError(errSelectMulti)
			return
		}
		c.replyRaw(okReply)
		return
	}
	if n == int64(c.selected) {
		c.replyRaw(okReply)
		return
	}
	if n < 0 || n >= logicalDBs {
		c.replyError("ERR DB index is out of range")
		return
	}
	bc, err := c.dedicated(0)
	if err != nil {
		c.replyError(errUnavailable + err.Error())
		return
	}
	c.send(bc, r.raw, c.newEntry())
	c.sticky = true
	c.selected = int(n)
	c.setReplay("select", r.raw)
}

// dbIndex parses a SELECT index as strictly as Redis does (no '+', no
// leading zeros, a C int), so that what the proxy records is what the
// shard did.
func dbIndex(b []byte) (int64, bool) {
	n, ok := resp.ParseInt(b)
	if !ok || n < -1<<31 || n > 1<<31-1 || strconv.FormatInt(n, 10) != string(b) {
		return 0, false
	}
	return n, true
}

// logicalDBs is the number of logical databases a shard has (Redis's
// default "databases 16", which nodes keep).
const logicalDBs = 16

// setReplay records the command that re-establishes one piece of sticky
// state (replacing an earlier one of the same kind).
func (c *client) setReplay(kind string, raw []byte) {
	cp := append([]byte(nil), raw...)
	for i, old := range c.replay {
		if replayKind(old) == kind {
			c.replay[i] = cp
			return
		}
	}
	c.replay = append(c.replay, cp)
}

func replayKind(raw []byte) string {
	// raw is "*N\r\n$L\r\nNAME\r\n...": the first argument names the kind.
	i := bytes.Index(raw, []byte("\r\n$"))
	if i < 0 {
		return ""
	}
	rest := raw[i+3:]
	j := bytes.Index(rest, []byte("\r\n"))
	if j < 0 {
		return ""
	}
	n, _ := strconv.Atoi(string(rest[:j]))
	if j+2+n > len(rest) {
		return ""
	}
	return strings.ToLower(string(rest[j+2 : j+2+n]))
}

func validClientName(name []byte) string {
	for _, b := range name {
		if b < '!' || b > '~' {
			return "ERR Client names cannot contain spaces, newlines or special characters."
		}
	}
	return ""
}

func (c *client) setName(name string) {
	c.info.Lock()
	c.info.name = name
	c.info.Unlock()
}
