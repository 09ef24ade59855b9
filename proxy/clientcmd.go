package proxy

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/keyfleet/keyfleet/internal/commands"
	"github.com/keyfleet/keyfleet/proxy/resp"
)

// CLIENT is answered from the proxy's own view of the database's
// connections: the shards only see the proxy's pooled connections, and
// another tenant's clients must stay invisible.

func clientCommand(c *client, r *request) {
	sub := strings.TrimPrefix(r.cmd.Name, "client|")
	switch sub {
	case "id":
		c.replyRaw(resp.AppendInt(nil, c.id))
	case "getname":
		c.info.Lock()
		name := c.info.name
		c.info.Unlock()
		if name == "" {
			c.replyRaw(resp.AppendNull(nil, c.proto))
		} else {
			c.replyRaw(resp.AppendBulkString(nil, name))
		}
	case "setname":
		if msg := validClientName(r.args[2]); msg != "" {
			c.replyError(msg)
			return
		}
		c.setName(string(r.args[2]))
		c.replyRaw(okReply)
	case "info":
		c.publishInfo(r.cmd)
		c.replyRaw(resp.AppendVerbatim(nil, c.proto, c.infoLine()+"\n"))
	case "list":
		clientList(c, r)
	case "kill":
		clientKill(c, r)
	case "no-evict":
		v := strings.ToLower(string(r.args[2]))
		if v != "on" && v != "off" {
			c.replyError(errSyntax)
			return
		}
		c.replyRaw(okReply)
	case "reply":
		switch strings.ToLower(string(r.args[2])) {
		case "on":
			c.replyMode = replyOn
			c.replyRaw(okReply)
		case "off":
			c.newEntry().kind = kindSilent
			c.entries[len(c.entries)-1].state.Store(slotDone)
			c.replyMode = replyOff
		case "skip":
			s := c.newEntry()
			s.kind = kindSilent
			s.state.Store(slotDone)
			if c.replyMode == replyOn {
				c.replyMode = replySkip
			}
		default:
			c.replyError(errSyntax)
		}
	case "tracking":
		clientTracking(c, r)
	case "caching", "trackinginfo":
		bc, err := c.dedicated(0)
		if err != nil {
			c.replyError(errUnavailable + err.Error())
			return
		}
		if sub == "trackinginfo" || len(c.route.shards) == 1 {
			c.send(bc, r.raw, c.newEntry())
			return
		}
		conns, errs, raws := c.dedicatedAll(r.raw)
		c.fanoutConns(conns, errs, raws, mergeFirst)
	case "getredir":
		switch {
		case !c.tracking:
			c.replyRaw(resp.AppendInt(nil, -1))
		default:
			c.replyRaw(resp.AppendInt(nil, c.redirect))
		}
	case "unblock":
		clientUnblock(c, r)
	case "help":
		c.sendTo(0, r.raw)
	default:
		// PAUSE/UNPAUSE would stall the shard for every connection.
		denyCommand(c, r)
	}
}

// dedicatedAll returns the client's dedicated connection to every shard,
// with raw as the request for each.
func (c *client) dedicatedAll(raw []byte) ([]*backendConn, []error, [][]byte) {
	n := len(c.route.shards)
	conns := make([]*backendConn, n)
	errs := make([]error, n)
	raws := make([][]byte, n)
	for i := range conns {
		conns[i], errs[i] = c.dedicated(i)
		raws[i] = raw
	}
	return conns, errs, raws
}

// clientTracking turns tracking on or off on every shard. Tracking needs
// the keys a client reads to be read on a connection of its own, so the
// client switches to sticky dedicated connections, on which invalidation
// pushes arrive (RESP3) or are redirected (REDIRECT, RESP2) to the
// redirect client's pub/sub connection on the same shard.
func clientTracking(c *client, r *request) {
	on := false
	switch strings.ToLower(string(r.args[2])) {
	case "on":
		on = true
	case "off":
	default:
		c.replyError(errSyntax)
		return
	}
	n := len(c.route.shards)
	raws := make([][]byte, n)
	for i := range raws {
		raws[i] = r.raw
	}
	redirect := int64(0)
	for i := 3; i < len(r.args); i++ {
		if !strings.EqualFold(string(r.args[i]), "REDIRECT") || i+1 >= len(r.args) {
			continue
		}
		id, ok := resp.ParseInt(r.args[i+1])
		if !ok {
			c.replyError(errNotInteger)
			return
		}
		redirect = id
		if id == c.id || id == 0 {
			break
		}
		target := c.db.clientByID(id)
		if target == nil {
			c.replyError("ERR The client ID you want redirect to does not exist")
			return
		}
		ids := target.subIDs()
		if len(ids) != n {
			c.replyError("ERR the redirect client must be subscribed (SUBSCRIBE __redis__:invalidate) before tracking is redirected to it through the Keyfleet proxy")
			return
		}
		for sh := range raws {
			args := make([][]byte, len(r.args))
			copy(args, r.args)
			args[i+1] = strconv.AppendInt(nil, ids[sh], 10)
			raws[sh] = resp.AppendCommand(nil, args...)
		}
		break
	}
	c.sticky = true
	conns := make([]*backendConn, n)
	errs := make([]error, n)
	for i := range conns {
		conns[i], errs[i] = c.dedicated(i)
	}
	c.fanoutConns(conns, errs, raws, mergeFirst)
	c.tracking = on
	if on {
		c.redirect = redirect
		c.setReplayPerShard("client", raws)
		for _, bc := range conns {
			if bc != nil {
				bc.critical.Store(true)
			}
		}
	} else {
		c.redirect = 0
		c.dropReplay("client")
	}
}

// setReplayPerShard records tracking's per-shard command (REDIRECT ids
// differ by shard). Replays are per client, so only the common form is
// kept when the shards agree; otherwise a lost connection closes the
// client (critical), which is what tracking needs anyway.
func (c *client) setReplayPerShard(kind string, raws [][]byte) {
	for _, raw := range raws[1:] {
		if string(raw) != string(raws[0]) {
			c.dropReplay(kind)
			return
		}
	}
	c.setReplay(kind, raws[0])
}

func (c *client) dropReplay(kind string) {
	out := c.replay[:0]
	for _, raw := range c.replay {
		if replayKind(raw) != kind {
			out = append(out, raw)
		}
	}
	c.replay = out
}

// subIDs returns the shard-side ids of the client's pub/sub connections,
// one per shard, or nil when it has not subscribed on every shard. Called
// from another client's goroutine: it reads only what subscribing
// published under info's lock.
func (c *client) subIDs() []int64 {
	c.info.Lock()
	defer c.info.Unlock()
	return c.info.subIDs
}

func (db *database) clientByID(id int64) *client {
	db.mu.Lock()
	defer db.mu.Unlock()
	for o := range db.clients {
		if o.id == id {
			return o
		}
	}
	return nil
}

// clientUnblock unblocks another client of the database blocked in a
// blocking command, through the shard it is blocked on.
func clientUnblock(c *client, r *request) {
	id, ok := resp.ParseInt(r.args[2])
	if !ok {
		c.replyError(errNotInteger)
		return
	}
	mode := ""
	if len(r.args) == 4 {
		mode = strings.ToLower(string(r.args[3]))
		if mode != "timeout" && mode != "error" {
			c.replyError("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
			return
		}
	}
	target := c.db.clientByID(id)
	var bc *backendConn
	if target != nil {
		bc = target.blockedOn.Load()
	}
	if bc == nil {
		c.replyRaw(resp.AppendInt(nil, 0))
		return
	}
	sh := -1
	for i, s := range c.route.shards {
		if s == bc.sh {
			sh = i
		}
	}
	if sh < 0 {
		c.replyRaw(resp.AppendInt(nil, 0))
		return
	}
	args := []string{"CLIENT", "UNBLOCK", strconv.FormatInt(bc.backendID, 10)}
	if mode != "" {
		args = append(args, mode)
	}
	c.sendTo(sh, resp.AppendCommandStrings(nil, args...))
}

// infoLine formats the client as CLIENT LIST does.
func (c *client) infoLine() string {
	c.info.Lock()
	defer c.info.Unlock()
	now := time.Now()
	cmd := "NULL"
	if p := c.lastCmd.Load(); p != nil {
		cmd = *p
	}
	lastAt := time.Unix(0, c.lastAt.Load())
	flags := c.info.flags
	if flags == "" {
		flags = "N"
	}
	if c.blocked.Load() {
		flags = strings.TrimPrefix(flags, "N") + "b"
	}
	return fmt.Sprintf("id=%d addr=%s laddr=%s fd=0 name=%s age=%d idle=%d flags=%s db=%d sub=%d psub=%d ssub=%d multi=%d qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd=%s user=%s redir=%d resp=%d",
		c.id, c.addr, c.laddr, c.info.name, int(now.Sub(c.created).Seconds()), int(now.Sub(lastAt).Seconds()),
		flags, c.info.db, c.info.sub, c.info.psub, c.info.ssub, c.info.multi, cmd, c.info.user, c.info.redir, c.info.proto)
}

// infoState is the part of a client's state CLIENT LIST shows.
type infoState struct {
	flags               string
	user                string
	db, sub, psub, ssub int
	multi, proto        int
	redir               int64
	tracking            bool
}

// publishInfo copies the client's state to info, where CLIENT LIST and
// INFO of other clients read it; called after each batch. The lock is
// taken only when something changed, so the common batch pays two
// atomic stores.
func (c *client) publishInfo(lastCmd *commands.Command) {
	if lastCmd != nil {
		c.lastCmd.Store(&lastCmd.Name)
	}
	c.lastAt.Store(time.Now().UnixNano())
	st := infoState{flags: "N", multi: -1, user: "default", redir: -1, db: c.selected,
		sub: len(c.channels), psub: len(c.patterns), ssub: len(c.schannels), proto: c.proto, tracking: c.tracking}
	switch {
	case c.txn != nil:
		st.flags = "x"
		st.multi = len(c.txn.queued)
	case c.subscribed():
		st.flags = "P"
	}
	if c.db != nil {
		st.user = c.db.id
	}
	if c.tracking {
		st.redir = c.redirect
	}
	if st == c.published {
		return
	}
	c.published = st
	c.info.Lock()
	c.info.infoState = st
	c.info.Unlock()
}

func clientList(c *client, r *request) {
	var ids map[int64]bool
	typ := ""
	for i := 2; i < len(r.args); i++ {
		opt := strings.ToLower(string(r.args[i]))
		switch {
		case opt == "type" && i+1 < len(r.args):
			typ = strings.ToLower(string(r.args[i+1]))
			if typ != "normal" && typ != "master" && typ != "replica" && typ != "slave" && typ != "pubsub" {
				c.replyError("ERR Unknown client type '" + string(r.args[i+1]) + "'")
				return
			}
			i++
		case opt == "id" && i+1 < len(r.args):
			ids = make(map[int64]bool)
			for i++; i < len(r.args); i++ {
				id, ok := resp.ParseInt(r.args[i])
				if !ok || id <= 0 {
					c.replyError("ERR Invalid client ID")
					return
				}
				ids[id] = true
			}
		default:
			c.replyError(errSyntax)
			return
		}
	}
	c.publishInfo(r.cmd)
	var b strings.Builder
	for _, o := range c.db.sortedClients() {
		if ids != nil && !ids[o.id] {
			continue
		}
		o.info.Lock()
		pubsub := o.info.sub+o.info.psub+o.info.ssub > 0
		o.info.Unlock()
		switch typ {
		case "master", "replica", "slave":
			continue
		case "pubsub":
			if !pubsub {
				continue
			}
		case "normal":
			if pubsub {
				continue
			}
		}
		b.WriteString(o.infoLine())
		b.WriteByte('\n')
	}
	c.replyRaw(resp.AppendVerbatim(nil, c.proto, b.String()))
}

func (db *database) sortedClients() []*client {
	list := db.clientList()
	// Oldest first, as Redis lists them.
	for i := 1; i < len(list); i++ {
		for j := i; j > 0 && list[j].id < list[j-1].id; j-- {
			list[j], list[j-1] = list[j-1], list[j]
		}
	}
	return list
}

// clientKill: CLIENT KILL addr, or the filter form, among the database's
// own connections.
func clientKill(c *client, r *request) {
	if len(r.args) == 3 {
		addr := string(r.args[2])
		for _, o := range c.db.clientList() {
			if o.addr == addr {
				c.replyRaw(okReply)
				o.killAfterReply(c)
				return
			}
		}
		c.replyError("ERR No such client")
		return
	}
	if len(r.args)%2 != 0 {
		c.replyError(errSyntax)
		return
	}
	var (
		id          int64
		typ, user   string
		addr, laddr string
		skipMe      = true
	)
	for i := 2; i < len(r.args); i += 2 {
		opt, val := strings.ToLower(string(r.args[i])), string(r.args[i+1])
		switch opt {
		case "id":
			n, ok := resp.ParseInt(r.args[i+1])
			if !ok || n <= 0 {
				c.replyError("ERR client-id should be greater than 0")
				return
			}
			id = n
		case "type":
			typ = strings.ToLower(val)
			if typ != "normal" && typ != "master" && typ != "replica" && typ != "slave" && typ != "pubsub" {
				c.replyError("ERR Unknown client type '" + val + "'")
				return
			}
		case "user":
			if val != c.db.id && val != "default" {
				c.replyError(fmt.Sprintf("ERR No such user '%s'", val))
				return
			}
			user = val
		case "addr":
			addr = val
		case "laddr":
			laddr = val
		case "skipme":
			switch strings.ToLower(val) {
			case "yes":
				skipMe = true
			case "no":
				skipMe = false
			default:
				c.replyError(errSyntax)
				return
			}
		default:
			c.replyError(errSyntax)
			return
		}
	}
	killed := int64(0)
	for _, o := range c.db.clientList() {
		if id != 0 && o.id != id || addr != "" && o.addr != addr || laddr != "" && o.laddr != laddr {
			continue
		}
		if user != "" && user != c.db.id && user != "default" {
			continue
		}
		o.info.Lock()
		pubsub := o.info.sub+o.info.psub+o.info.ssub > 0
		o.info.Unlock()
		if typ == "master" || typ == "replica" || typ == "slave" || typ == "pubsub" && !pubsub || typ == "normal" && pubsub {
			continue
		}
		if o == c && skipMe {
			continue
		}
		killed++
		o.killAfterReply(c)
	}
	c.replyRaw(resp.AppendInt(nil, killed))
}

// killAfterReply closes o; when o is the caller itself, after the reply.
func (o *client) killAfterReply(caller *client) {
	if o == caller {
		caller.quit = true
		return
	}
	o.kill("CLIENT KILL")
}

// hostPort splits the address CLUSTER replies announce.
func (c *client) hostPort() (string, int) {
	addr := c.p.opts.Advertise
	if addr == "" {
		addr = c.laddr
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr, 0
	}
	n, _ := strconv.Atoi(port)
	return host, n
}
