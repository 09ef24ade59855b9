package proxy

import (
	"fmt"
	"strconv"

	"github.com/keyfleet/keyfleet/internal/commands"
	"github.com/keyfleet/keyfleet/internal/keyslot"
	"github.com/keyfleet/keyfleet/proxy/resp"
)

// txnState is a MULTI in progress. The transaction runs on the client's
// dedicated connection to one shard: the shard of its first key (or of
// the WATCHed keys). Until a keyed command names the shard, keyless
// commands are queued here and answered QUEUED; they are replayed, after
// MULTI, once the shard is known. As in Redis Cluster, a command whose
// keys live on another shard fails (CROSSSLOT) and so does the EXEC.
type txnState struct {
	shard  int // -1 until known
	conn   *backendConn
	queued [][]byte
	dirty  bool
	// watchLost: the connection holding the client's WATCH died before
	// MULTI; EXEC answers as if a watched key changed.
	watchLost bool
	// selectAfter is the logical db a queued SELECT moves to, -1 if none.
	selectAfter int
}

var (
	queuedReply = []byte("+QUEUED\r\n")
	multiRaw    = resp.AppendCommandStrings(nil, "MULTI")
	execRaw     = resp.AppendCommandStrings(nil, "EXEC")
	discardRaw  = resp.AppendCommandStrings(nil, "DISCARD")
)

func multiCommand(c *client, r *request) {
	if c.txn != nil {
		c.replyError("ERR MULTI calls can not be nested")
		return
	}
	c.txn = &txnState{shard: -1, watchLost: c.watchLost, selectAfter: -1}
	c.watchLost = false
	shard := c.watchShard
	if shard < 0 && len(c.route.shards) == 1 {
		shard = 0
	}
	if shard < 0 {
		c.replyRaw(okReply)
		return
	}
	if msg := c.txnBind(shard, true); msg != "" {
		c.txn = nil
	}
}

// txnBind opens the transaction on shard: MULTI (whose reply is the
// client's when answer is set, else discarded: MULTI was answered
// already) and the queued commands (their QUEUED replies were given).
func (c *client) txnBind(shard int, answer bool) string {
	bc, err := c.dedicated(shard)
	if err != nil {
		msg := errUnavailable + err.Error()
		if answer {
			c.replyError(msg)
		}
		c.txn.dirty = true
		return msg
	}
	t := c.txn
	t.shard, t.conn = shard, bc
	var first *slot
	if answer {
		first = c.newEntry()
	} else {
		first = c.discardSlot()
	}
	c.send(bc, multiRaw, first)
	for _, q := range t.queued {
		c.send(bc, q, c.discardSlot())
	}
	t.queued = nil
	return ""
}

func (c *client) discardSlot() *slot {
	s := c.newSlot()
	s.kind = kindDiscard
	c.entries = append(c.entries, s)
	return s
}

// txnQueue handles a command inside MULTI.
func (c *client) txnQueue(r *request) {
	t := c.txn
	if r.info != nil && r.info.name == "select" {
		c.txnSelect(r)
		return
	}
	if r.info != nil && r.info.handler != nil && !c.txnForwardable(r.info.name) &&
		!(c.p.opts.Unrestricted && len(c.route.shards) == 1 && !streamingCommand(r.info.name)) {
		c.replyError(fmt.Sprintf("ERR command '%s' is not allowed inside MULTI through the Keyfleet proxy", r.name()))
		t.dirty = true
		return
	}
	if r.cmd != nil && r.cmd.Has(commands.NoMulti) {
		c.replyError("ERR Command not allowed inside a transaction")
		t.dirty = true
		return
	}
	shard := -1
	if len(c.route.shards) > 1 && r.cmd != nil {
		slot, msg := c.keySlot(r.cmd, r.args)
		if msg == "" && slot < 0 {
			if ch, ok := channelOf(r); ok {
				slot = ch
			}
		}
		if msg != "" {
			c.replyError(msg)
			t.dirty = true
			return
		}
		if slot >= 0 {
			if shard = c.route.shardOf(slot); shard < 0 {
				c.replyError(errClusterDown)
				t.dirty = true
				return
			}
		}
	} else {
		shard = 0
	}
	if t.shard < 0 {
		if shard < 0 {
			if t.dirty {
				c.replyRaw(queuedReply)
				return
			}
			t.queued = append(t.queued, append([]byte(nil), r.raw...))
			c.replyRaw(queuedReply)
			return
		}
		if msg := c.txnBind(shard, false); msg != "" {
			c.replyError(msg)
			return
		}
	} else if shard >= 0 && shard != t.shard {
		c.replyError(errCrossSlot)
		t.dirty = true
		return
	}
	if t.conn == nil || t.conn.dead.Load() {
		c.replyError(errUnavailable + "connection lost")
		t.dirty = true
		return
	}
	c.pendingDed = true
	c.send(t.conn, r.raw, c.newEntry())
}

// channelOf gives the slot of a pub/sub command's channel, which the
// command table does not mark as a key.
func channelOf(r *request) (int, bool) {
	switch r.cmd.Name {
	case "spublish":
		return keyslot.Of(r.args[1]), true
	}
	return -1, false
}

// txnForwardable lists the commands with a proxy handler that may still be
// queued in a transaction as they are: their effect inside the one shard
// is what the client asked for. The others (INFO, CLIENT, CONFIG, ...)
// are answered by the proxy, which cannot do that from inside EXEC.
func (c *client) txnForwardable(name string) bool {
	switch name {
	case "mget", "mset", "del", "unlink", "exists", "touch", "keys", "scan",
		"dbsize", "randomkey", "flushdb", "flushall", "publish", "spublish",
		"ping", "echo", "time", "unwatch",
		"blpop", "brpop", "brpoplpush", "blmove", "blmpop", "bzpopmin",
		"bzpopmax", "bzmpop", "xread", "xreadgroup":
		return true
	case "swapdb", "move", "copy", "debug":
		// Whole-shard commands: as they are only where the one shard is
		// the whole database (DEBUG's own checks are skipped: the
		// shard refuses what it must).
		return len(c.route.shards) == 1 && (name != "debug" || debugAllowed(c.req.args))
	}
	return false
}

// txnSelect queues SELECT inside MULTI. On a one-shard database it runs
// in the transaction and, if EXEC runs, the client continues on that
// logical db (sticky, as after a SELECT outside MULTI).
func (c *client) txnSelect(r *request) {
	t := c.txn
	n, ok := dbIndex(r.args[1])
	if !ok {
		c.replyError(errNotInteger)
		t.dirty = true
		return
	}
	if len(c.route.shards) > 1 {
		if n != 0 {
			c.replyError(errSelectMulti)
			t.dirty = true
			return
		}
		c.replyRaw(queuedReply)
		return
	}
	if n < 0 || n >= logicalDBs {
		c.replyError("ERR DB index is out of range")
		t.dirty = true
		return
	}
	if t.shard < 0 {
		if msg := c.txnBind(0, false); msg != "" {
			c.replyError(msg)
			return
		}
	}
	t.selectAfter = int(n)
	c.pendingDed = true
	c.send(t.conn, r.raw, c.newEntry())
}

func execCommand(c *client, r *request) {
	t := c.txn
	if t == nil {
		c.replyError("ERR EXEC without MULTI")
		return
	}
	c.txn = nil
	c.watchShard = -1
	if t.dirty {
		if t.conn != nil && !t.conn.dead.Load() {
			c.pendingDed = true
			c.send(t.conn, discardRaw, c.discardSlot())
		}
		c.replyError(errExecAbort)
		return
	}
	if t.watchLost {
		if t.conn != nil && !t.conn.dead.Load() {
			c.pendingDed = true
			c.send(t.conn, discardRaw, c.discardSlot())
		}
		c.replyRaw(resp.AppendNullArray(nil, c.proto))
		return
	}
	if t.shard < 0 {
		c.txn = t
		if msg := c.txnBind(0, false); msg != "" {
			c.txn = nil
			c.replyError(msg)
			return
		}
		c.txn = nil
	}
	if t.conn.dead.Load() {
		c.replyError(errUnavailable + "connection lost; transaction discarded")
		return
	}
	c.pendingDed = true
	e := c.newEntry()
	c.send(t.conn, execRaw, e)
	if db := t.selectAfter; db >= 0 {
		e.after = func(c *client, reply []byte) {
			if len(reply) > 1 && (reply[0] == '*' && reply[1] != '-') {
				c.sticky = true
				c.selected = db
				c.setReplay("select", resp.AppendCommandStrings(nil, "SELECT", strconv.Itoa(db)))
			}
		}
		// The commands after EXEC must see the outcome.
		c.endSegment()
	}
}

func discardCommand(c *client, r *request) {
	t := c.txn
	if t == nil {
		c.replyError("ERR DISCARD without MULTI")
		return
	}
	c.txn = nil
	c.watchShard = -1
	if t.conn != nil && !t.conn.dead.Load() {
		c.pendingDed = true
		c.send(t.conn, discardRaw, c.newEntry())
		return
	}
	c.replyRaw(okReply)
}

// watchCommand pins the keys' shard: WATCH, MULTI and EXEC all run on the
// client's dedicated connection to it.
func watchCommand(c *client, r *request) {
	if c.txn != nil {
		c.replyError("ERR WATCH inside MULTI is not allowed")
		return
	}
	shard, msg := c.shardFor(r)
	if msg != "" {
		c.replyError(msg)
		return
	}
	if c.watchShard >= 0 && shard != c.watchShard {
		c.replyError(errCrossSlot)
		return
	}
	bc, err := c.dedicated(shard)
	if err != nil {
		c.replyError(errUnavailable + err.Error())
		return
	}
	c.watchShard = shard
	c.send(bc, r.raw, c.newEntry())
}

func unwatchCommand(c *client, r *request) {
	if c.watchShard < 0 {
		c.replyRaw(okReply)
		return
	}
	shard := c.watchShard
	c.watchShard = -1
	bc := c.ded[shard]
	if bc == nil || bc.dead.Load() {
		c.replyRaw(okReply)
		return
	}
	if c.pendingPool {
		c.endSegment()
	}
	c.pendingDed = true
	c.send(bc, r.raw, c.newEntry())
}

// dedLost notes that the client's dedicated connection to shard i died:
// a transaction or WATCH on it cannot succeed any more.
func (c *client) dedLost(i int) {
	if c.txn != nil && c.txn.shard == i {
		c.txn.dirty = true
		c.txn.conn = nil
	}
	if c.watchShard == i {
		// The watch is gone with the connection; EXEC must not run
		// unguarded, so the next transaction is flagged.
		c.watchShard = -1
		c.watchLost = true
	}
}
