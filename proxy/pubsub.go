package proxy

import (
	"bytes"
	"strings"

	"github.com/keyfleet/keyfleet/internal/keyslot"
	"github.com/keyfleet/keyfleet/proxy/resp"
)

// Pub/sub across shards. A subscribing client gets its own pub/sub
// connection to every shard of its database, and SUBSCRIBE/PSUBSCRIBE go
// to all of them; PUBLISH goes to one shard (the channel's slot, for
// balance). Every message is therefore published on exactly one shard and
// reaches every subscriber exactly once, with no de-duplication, and so do
// messages published by scripts and keyspace notifications, wherever they
// happen. The confirmations of the first shard are the client's replies;
// the other shards' are counted and dropped. Sharded pub/sub (SSUBSCRIBE,
// SPUBLISH) lives on the shard of the channel's slot only, as in Redis
// Cluster.

// subscribed reports whether the client has any subscription.
func (c *client) subscribed() bool {
	return len(c.channels)+len(c.patterns)+len(c.schannels) > 0
}

// inSubContext: a RESP2 client with subscriptions may only run pub/sub
// commands, PING, QUIT and RESET.
func (c *client) inSubContext() bool {
	return c.proto == 2 && c.subscribed()
}

// subConn returns the client's pub/sub connection to shard i.
func (c *client) subConn(i int) (*backendConn, error) {
	if bc := c.subs[i]; bc != nil && !bc.dead.Load() {
		return bc, nil
	}
	bc, err := c.route.shards[i].dedicatedConn(c.proto, modePubSub, c)
	if err != nil {
		return nil, err
	}
	c.subs[i] = bc
	return bc, nil
}

// pubsubSend sends raw to the given shards' pub/sub connections. The
// client's reply is the confirmations of speaker (expect of them); the
// others are awaited and dropped. Pushes arriving meanwhile are held and
// written right after the reply, so no message overtakes its
// subscription's confirmation. It returns false (and answers an error)
// when a shard cannot be reached.
func (c *client) pubsubSend(raw []byte, shards []int, speaker, expect int) bool {
	conns := make([]*backendConn, len(shards))
	for k, i := range shards {
		bc, err := c.subConn(i)
		if err != nil {
			c.replyError(errUnavailable + err.Error())
			return false
		}
		conns[k] = bc
	}
	if len(shards) == len(c.route.shards) {
		ids := make([]int64, len(conns))
		for i, bc := range conns {
			ids[i] = bc.backendID
		}
		c.info.Lock()
		c.info.subIDs = ids
		c.info.Unlock()
	}
	e := c.pushEntry()
	e.merge = mergeFirst
	e.state.Store(slotDone)
	// The speaker's part comes first so mergeFirst writes it.
	order := make([]int, 0, len(shards))
	for k, i := range shards {
		if i == speaker {
			order = append([]int{k}, order...)
		} else {
			order = append(order, k)
		}
	}
	for _, k := range order {
		ch := c.newSlot()
		ch.expect = expect
		ch.forward = shards[k] == speaker
		e.children = append(e.children, ch)
		c.send(conns[k], raw, ch)
	}
	return true
}

func allShards(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// subscribeCommand: SUBSCRIBE and PSUBSCRIBE, on every shard.
func subscribeCommand(c *client, r *request) {
	pattern := r.cmd.Name == "psubscribe"
	set := &c.channels
	if pattern {
		set = &c.patterns
	}
	if !c.pubsubSend(r.raw, allShards(len(c.route.shards)), 0, len(r.args)-1) {
		return
	}
	if *set == nil {
		*set = make(map[string]struct{})
	}
	for _, ch := range r.args[1:] {
		(*set)[string(ch)] = struct{}{}
	}
}

// unsubscribeCommand: UNSUBSCRIBE and PUNSUBSCRIBE. A client that never
// subscribed is answered locally, as Redis would.
func unsubscribeCommand(c *client, r *request) {
	pattern := r.cmd.Name == "punsubscribe"
	set := &c.channels
	if pattern {
		set = &c.patterns
	}
	expect := len(r.args) - 1
	if expect == 0 {
		expect = max(1, len(*set))
	}
	if c.subs[0] == nil {
		c.reply(c.pushEntry(), c.localUnsubscribe(r, *set))
		return
	}
	if len(r.args) == 1 {
		*set = nil
	} else {
		for _, ch := range r.args[1:] {
			delete(*set, string(ch))
		}
	}
	c.pubsubSend(r.raw, allShards(len(c.route.shards)), 0, expect)
}

// localUnsubscribe builds the confirmations for channels the shards never
// saw: one per channel, or one with a nil channel when there are none.
func (c *client) localUnsubscribe(r *request, set map[string]struct{}) []byte {
	kind := strings.ToLower(string(r.args[0]))
	count := int64(len(c.channels) + len(c.patterns))
	if kind == "sunsubscribe" {
		count = int64(len(c.schannels))
	}
	var b []byte
	if len(r.args) == 1 {
		b = resp.AppendPushLen(b, c.proto, 3)
		b = resp.AppendBulkString(b, kind)
		b = resp.AppendNull(b, c.proto)
		return resp.AppendInt(b, count)
	}
	for _, ch := range r.args[1:] {
		b = resp.AppendPushLen(b, c.proto, 3)
		b = resp.AppendBulkString(b, kind)
		b = resp.AppendBulk(b, ch)
		b = resp.AppendInt(b, count)
	}
	return b
}

// ssubscribeCommand: SSUBSCRIBE on the shard of the channels' slot.
func ssubscribeCommand(c *client, r *request) {
	sh, msg := c.channelsShard(r.args[1:])
	if msg != "" {
		c.replyError(msg)
		return
	}
	if !c.pubsubSend(r.raw, []int{sh}, sh, len(r.args)-1) {
		return
	}
	if c.schannels == nil {
		c.schannels = make(map[string]int)
	}
	for _, ch := range r.args[1:] {
		c.schannels[string(ch)] = sh
	}
}

// sunsubscribeCommand: SUNSUBSCRIBE on the shard of the channels, or, with
// no channel, on every shard the client has sharded subscriptions on.
func sunsubscribeCommand(c *client, r *request) {
	if len(r.args) > 1 {
		sh, msg := c.channelsShard(r.args[1:])
		if msg != "" {
			c.replyError(msg)
			return
		}
		if c.subs[sh] == nil {
			c.reply(c.pushEntry(), c.localUnsubscribe(r, nil))
			return
		}
		for _, ch := range r.args[1:] {
			delete(c.schannels, string(ch))
		}
		c.pubsubSend(r.raw, []int{sh}, sh, len(r.args)-1)
		return
	}
	perShard := make(map[int]int)
	for _, sh := range c.schannels {
		perShard[sh]++
	}
	if len(perShard) == 0 {
		c.reply(c.pushEntry(), c.localUnsubscribe(r, nil))
		return
	}
	c.schannels = nil
	for sh, n := range perShard {
		// Each shard confirms its own channels; all of them are the
		// client's reply, one shard after the other.
		c.pubsubSend(r.raw, []int{sh}, sh, n)
	}
	// The client sent one command: join the per-shard entries into the
	// place of one reply.
	c.joinLast(len(perShard))
}

// joinLast merges the last n entries into one, whose reply is theirs
// concatenated.
func (c *client) joinLast(n int) {
	if n <= 1 {
		return
	}
	last := c.entries[len(c.entries)-n:]
	e := last[0]
	for _, o := range last[1:] {
		e.children = append(e.children, o.children...)
		o.children = o.children[:0]
		c.free = append(c.free, o)
		if o.kind == kindPubSub {
			c.outMu.Lock()
			c.holdPushes--
			c.outMu.Unlock()
		}
	}
	e.merge = func(c *client, out []byte, parts [][]byte) []byte {
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	c.entries = c.entries[:len(c.entries)-n+1]
}

// channelsShard returns the shard of sharded channels, which must share
// a slot (CROSSSLOT otherwise, as in Redis Cluster).
func (c *client) channelsShard(chans [][]byte) (int, string) {
	if len(c.route.shards) == 1 {
		return 0, ""
	}
	slot := keyslot.Of(chans[0])
	for _, ch := range chans[1:] {
		if keyslot.Of(ch) != slot {
			return -1, errCrossSlot
		}
	}
	sh := c.route.shardOf(slot)
	if sh < 0 {
		return -1, errClusterDown
	}
	return sh, ""
}

// publishCommand: PUBLISH goes to one shard, every subscriber listens on
// all of them.
func publishCommand(c *client, r *request) {
	c.sendTo(c.route.shardOfKeyOrZero(r.args[1]), r.raw)
}

// spublishCommand: SPUBLISH goes to the shard of the channel's slot.
func spublishCommand(c *client, r *request) {
	sh, msg := c.channelsShard(r.args[1:2])
	if msg != "" {
		c.replyError(msg)
		return
	}
	c.sendTo(sh, r.raw)
}

func (rt *dbRoute) shardOfKeyOrZero(key []byte) int {
	if sh := rt.shardOfKey(key); sh >= 0 {
		return sh
	}
	return 0
}

// pubsubCommand: PUBSUB introspection. Every shard sees every channel
// and pattern subscription, so shard 0 answers those; sharded channels
// live on their own shards and are gathered.
func pubsubCommand(c *client, r *request) {
	switch r.cmd.Name {
	case "pubsub|shardchannels":
		c.broadcast(r, mergeConcat)
	case "pubsub|shardnumsub":
		c.broadcast(r, mergeSumPairs)
	default:
		c.sendTo(0, r.raw)
	}
}

// deliverPubSub handles one message on a pub/sub connection: messages go
// to the client; confirmations complete the oldest pending request; any
// other reply (an error) completes it at once.
func (bc *backendConn) deliverPubSub(reply []byte) bool {
	kind := pushKind(reply)
	switch string(kind) {
	case "message", "pmessage", "smessage":
		bc.sink.push(reply, true)
		return true
	case "subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe":
		bc.mu.Lock()
		s := bc.headLocked()
		if s == nil {
			bc.mu.Unlock()
			// Not asked for: the shard dropped a subscription itself
			// (a sharded channel's slot moved). Tell the client.
			bc.sink.push(reply, true)
			return true
		}
		if s.forward {
			s.reply = append(s.reply, reply...)
		}
		s.expect--
		done := s.expect <= 0
		if done {
			bc.popLocked()
		}
		bc.mu.Unlock()
		if done {
			s.finish()
		}
		return true
	}
	s := bc.pop()
	if s == nil {
		bc.abort("reply without a request")
		return false
	}
	s.reply = s.reply[:0]
	s.complete(reply)
	return true
}

func (bc *backendConn) headLocked() *slot {
	if bc.qhead >= len(bc.q) {
		return nil
	}
	return bc.q[bc.qhead]
}

// pushKind returns the first element of an array or push reply when it is
// a bulk string ("message", "subscribe", ...), without allocating.
func pushKind(reply []byte) []byte {
	if len(reply) == 0 || (reply[0] != '*' && reply[0] != '>') {
		return nil
	}
	i := bytes.IndexByte(reply, '\n')
	if i < 0 || i+1 >= len(reply) || reply[i+1] != '$' {
		return nil
	}
	rest := reply[i+2:]
	j := bytes.IndexByte(rest, '\r')
	if j < 0 {
		return nil
	}
	n, ok := resp.ParseInt(rest[:j])
	if !ok || n < 0 || j+2+int(n) > len(rest) {
		return nil
	}
	return rest[j+2 : j+2+int(n)]
}
