package proxy

import (
	"fmt"
	"strings"
	"time"

	"github.com/keyfleet/keyfleet/internal/commands"
	"github.com/keyfleet/keyfleet/internal/keyslot"
)

// Error replies shared by the proxy's handlers, byte for byte what Redis
// (or Redis Cluster) answers where Redis has an answer.
const (
	errNoAuth        = "NOAUTH Authentication required."
	errWrongPass     = "WRONGPASS invalid username-password pair or user is disabled."
	errCrossSlot     = "CROSSSLOT Keys in request don't hash to the same slot"
	errClusterDown   = "CLUSTERDOWN Hash slot not served"
	errMaxConns      = "ERR max connections for this database reached"
	errOpsLimit      = "ERR ops per second limit exceeded for this database"
	errBandwidth     = "ERR bandwidth limit exceeded for this database"
	errRequestSize   = "ERR request exceeds the max request size for this database"
	errLoading       = "LOADING Keyfleet proxy is loading its routes, try again"
	errSyntax        = "ERR syntax error"
	errSelectMulti   = "ERR SELECT is not allowed in cluster mode"
	errExecAbort     = "EXECABORT Transaction discarded because of previous errors."
	errNotInteger    = "ERR value is not an integer or out of range"
	errNeedsOneShard = "ERR %s is only allowed on a one-shard database through the Keyfleet proxy"
)

func errNotAllowed(name string) string {
	return fmt.Sprintf("ERR command '%s' is not allowed through the Keyfleet proxy", name)
}

// cmdInfo is the proxy's view of one command: its row in the shared
// command table (nil for names the table does not have) and, for the
// commands the proxy does not simply route by key, a handler.
type cmdInfo struct {
	name    string
	cmd     *commands.Command
	handler func(c *client, r *request)
	// preAuth commands are served before AUTH.
	preAuth bool
	// inSub commands are allowed in a RESP2 subscribed context.
	inSub bool
	// txnControl commands run at once inside MULTI instead of queueing.
	txnControl bool
}

// request is one command being dispatched.
type request struct {
	args [][]byte
	raw  []byte
	info *cmdInfo
	cmd  *commands.Command // the row, or the subcommand's row
}

// name is the command's name as errors print it.
func (r *request) name() string {
	if r.cmd != nil {
		return r.cmd.Name
	}
	return strings.ToLower(string(r.args[0]))
}

var cmdTable map[string]*cmdInfo

// rule is how the proxy treats a command other than by routing its keys.
type rule struct {
	handler    func(c *client, r *request)
	preAuth    bool
	inSub      bool
	txnControl bool
}

func init() {
	cmdTable = make(map[string]*cmdInfo)
	for _, cmd := range commands.Default.All() {
		cmdTable[cmd.Name] = &cmdInfo{name: cmd.Name, cmd: cmd}
	}
	for name, rl := range rules() {
		info := cmdTable[name]
		if info == nil {
			info = &cmdInfo{name: name}
			cmdTable[name] = info
		}
		info.handler = rl.handler
		info.preAuth = rl.preAuth
		info.inSub = rl.inSub
		info.txnControl = rl.txnControl
	}
}

// lookupCmd finds a command case-insensitively without allocating.
func lookupCmd(name []byte) *cmdInfo {
	if info, ok := cmdTable[string(name)]; ok {
		return info
	}
	var buf [32]byte
	if len(name) > len(buf) {
		return nil
	}
	low := buf[:len(name)]
	for i, b := range name {
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		low[i] = b
	}
	return cmdTable[string(low)]
}

// dispatch routes one request. Its reply takes the next slot.
func (c *client) dispatch(args [][]byte, raw []byte) {
	// The request lives in the client: handlers take it by pointer, which
	// would otherwise put one on the heap per command.
	c.req = request{args: args, raw: raw, info: lookupCmd(args[0])}
	r := &c.req
	if r.info != nil {
		r.cmd = r.info.cmd
	}
	if c.db == nil && c.p.opts.DefaultDatabase != "" {
		c.bindDefault()
	}
	if c.db == nil {
		if r.info == nil || !r.info.preAuth {
			c.replyError(errNoAuth)
			return
		}
		r.info.handler(c, r)
		return
	}
	if !c.admit(r) {
		return
	}
	if c.inSubContext() && (r.info == nil || !r.info.inSub) {
		c.replyError(fmt.Sprintf("ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context", r.name()))
		return
	}
	if !c.checkCommand(r) {
		return
	}
	c.last = r.cmd
	if c.txn != nil && (r.info == nil || !r.info.txnControl) {
		c.txnQueue(r)
		return
	}
	if r.info != nil && r.info.handler != nil {
		r.info.handler(c, r)
		return
	}
	c.forward(r)
}

// admit applies the database's quotas to one request: ops per second,
// bandwidth and request size. A refused request gets an error naming the
// limit and counts as rejected.
func (c *client) admit(r *request) bool {
	if c.allow < 0 {
		if c.db.ops.limited.Load() || c.db.bandwidth.limited.Load() {
			now := time.Now()
			c.allow = c.db.ops.take(now, c.leftInBatch)
			c.overBandwidth = c.db.bandwidth.inDebt(now)
		} else {
			c.allow = c.leftInBatch
		}
	}
	var msg string
	switch {
	case c.overBandwidth:
		msg = errBandwidth
	case c.allow == 0:
		msg = errOpsLimit
	case int64(len(r.raw)) > c.maxRequest():
		msg = errRequestSize
	default:
		c.allow--
		c.nOps++
		return true
	}
	c.nRejected++
	if c.txn != nil {
		c.txn.dirty = true
	}
	c.replyError(msg)
	return false
}

func (c *client) maxRequest() int64 {
	if m := c.route.limits.MaxRequestBytes; m > 0 {
		return m
	}
	return c.p.opts.MaxRequestBytes
}

// checkCommand validates the name, subcommand and arity against the
// command table, as Redis does before running anything (and before
// queueing in MULTI). A one-shard database forwards names the table does
// not know, so the node answers exactly as it would directly.
func (c *client) checkCommand(r *request) bool {
	if r.cmd == nil {
		if r.info != nil && r.info.handler != nil {
			return true
		}
		if len(c.route.shards) == 1 && c.txn == nil {
			return true
		}
		c.replyError(unknownCommand(r.args))
		c.flagTxn()
		return false
	}
	if !arityOK(r.cmd, len(r.args)) {
		c.replyError(fmt.Sprintf("ERR wrong number of arguments for '%s' command", r.cmd.Name))
		c.flagTxn()
		return false
	}
	if len(r.cmd.Subcommands) > 0 && len(r.args) >= 2 {
		sub := r.cmd.Sub(r.args[1])
		if sub == nil {
			if len(c.route.shards) == 1 && c.txn == nil && (r.info.handler == nil) {
				return true
			}
			c.replyError(fmt.Sprintf("ERR unknown subcommand '%.128s'. Try %s HELP.", r.args[1], strings.ToUpper(r.cmd.Name)))
			c.flagTxn()
			return false
		}
		if !arityOK(sub, len(r.args)) {
			c.replyError(fmt.Sprintf("ERR wrong number of arguments for '%s' command", sub.Name))
			c.flagTxn()
			return false
		}
		r.cmd = sub
	}
	return true
}

func arityOK(cmd *commands.Command, argc int) bool {
	return !(cmd.Arity > 0 && cmd.Arity != argc || argc < -cmd.Arity)
}

// unknownCommand formats Redis's reply to a command it does not know.
func unknownCommand(args [][]byte) string {
	var b strings.Builder
	for _, a := range args[1:] {
		if b.Len() >= 128 {
			break
		}
		n := min(len(a), 128-b.Len())
		b.WriteString("'")
		b.Write(a[:n])
		b.WriteString("' ")
	}
	name := args[0]
	if len(name) > 128 {
		name = name[:128]
	}
	return fmt.Sprintf("ERR unknown command '%s', with args beginning with: %s", name, b.String())
}

func (c *client) flagTxn() {
	if c.txn != nil {
		c.txn.dirty = true
	}
}

// keySlot returns the hash slot all of the command's keys are in, -1 if
// it has no keys, or an error reply when they span slots. Malformed key
// counts yield the keys found so far; the shard reports the error.
func (c *client) keySlot(cmd *commands.Command, args [][]byte) (int, string) {
	slot := -1
	check := func(key []byte) bool {
		s := keyslot.Of(key)
		if slot >= 0 && s != slot {
			return false
		}
		slot = s
		return true
	}
	if cmd.Flags&commands.MovableKeys == 0 && cmd.First > 0 && cmd.Step > 0 {
		last := cmd.Last
		if last < 0 {
			last += len(args)
		}
		for i := cmd.First; i <= last && i < len(args); i += cmd.Step {
			if !check(args[i]) {
				return -1, errCrossSlot
			}
		}
		return slot, ""
	}
	c.keys, _ = cmd.AppendKeys(c.keys[:0], args)
	for _, k := range c.keys {
		if !check(args[k.Index]) {
			return -1, errCrossSlot
		}
	}
	return slot, ""
}

// shardFor returns the shard that serves r's keys (shard 0 for a keyless
// command), or an error reply.
func (c *client) shardFor(r *request) (int, string) {
	rt := c.route
	if len(rt.shards) == 1 || r.cmd == nil {
		return 0, ""
	}
	slot, msg := c.keySlot(r.cmd, r.args)
	if msg != "" {
		return -1, msg
	}
	if slot < 0 {
		return 0, ""
	}
	sh := rt.shardOf(slot)
	if sh < 0 {
		return -1, errClusterDown
	}
	return sh, ""
}

// forward sends r as it is to the shard serving its keys.
func (c *client) forward(r *request) {
	sh, msg := c.shardFor(r)
	if msg != "" {
		c.replyError(msg)
		return
	}
	c.sendTo(sh, r.raw)
}

// sendTo sends raw to shard i on the connection the client uses for it;
// its reply takes the next slot. The slot is made after the connection is
// chosen, since choosing it may first complete the replies before it.
func (c *client) sendTo(i int, raw []byte) {
	bc, err := c.connFor(i)
	if err != nil {
		c.replyError(errUnavailable + err.Error())
		return
	}
	c.send(bc, raw, c.newEntry())
}

// connFor returns the connection for shard i: the client's dedicated one
// in sticky mode, else its pooled one. A request may not overtake an
// earlier one of the same client on another connection to the same
// shard, so switching between pooled and dedicated connections first
// waits for what is in flight.
func (c *client) connFor(i int) (*backendConn, error) {
	if c.sticky {
		return c.dedicated(i)
	}
	if c.pendingDed {
		c.endSegment()
	}
	bc := c.pooled[i]
	if bc == nil || bc.dead.Load() {
		var err error
		bc, err = c.route.shards[i].pooled(c.proto, int(c.id))
		if err != nil {
			return nil, err
		}
		c.pooled[i] = bc
	}
	c.pendingPool = true
	return bc, nil
}

// dedicated returns the client's own connection to shard i, dialing it
// (and replaying the client's sticky state: SELECT, tracking) if needed.
func (c *client) dedicated(i int) (*backendConn, error) {
	if c.pendingPool {
		c.endSegment()
	}
	bc := c.ded[i]
	if bc == nil || bc.dead.Load() {
		if bc != nil {
			c.dedLost(i)
		}
		var err error
		bc, err = c.route.shards[i].dedicatedConn(c.proto, modeDedicated, c)
		if err != nil {
			return nil, err
		}
		c.ded[i] = bc
		for _, cmd := range c.replay {
			s := c.newSlot()
			s.kind = kindDiscard
			c.entries = append(c.entries, s)
			c.send(bc, cmd, s)
		}
		if c.tracking {
			bc.critical.Store(true)
		}
	}
	c.pendingDed = true
	return bc, nil
}

// syncRoute makes the client use its database's current route. Cached
// connections of shards that changed are dropped; dedicated state bound
// to a replaced shard (a transaction, WATCH) is lost and flagged.
func (c *client) syncRoute() bool {
	rt := c.db.route.Load()
	if rt == nil {
		return false
	}
	if rt == c.route {
		return true
	}
	old := c.route
	c.route = rt
	if old != nil && old.limits.MaxRequestBytes != rt.limits.MaxRequestBytes {
		c.rd.SetLimits(c.maxRequest()+1<<10, maxBulk, false)
	}
	n := len(rt.shards)
	c.pooled = make([]*backendConn, n)
	ded, subs := make([]*backendConn, n), make([]*backendConn, n)
	for i, sh := range rt.shards {
		if old != nil && i < len(old.shards) && old.shards[i] == sh {
			if i < len(c.ded) {
				ded[i] = c.ded[i]
				c.ded[i] = nil
			}
			if i < len(c.subs) {
				subs[i] = c.subs[i]
				c.subs[i] = nil
			}
		}
	}
	for i, bc := range c.ded {
		if bc != nil {
			c.dedLost(i)
			bc.abort("route changed")
		}
	}
	lostSubs := false
	for _, bc := range c.subs {
		if bc != nil {
			lostSubs = true
			bc.abort("route changed")
		}
	}
	c.ded, c.subs = ded, subs
	if lostSubs {
		// Subscriptions on a replaced shard are gone; the client must
		// reconnect and subscribe again, as after a failover.
		c.quit = true
	}
	return true
}
