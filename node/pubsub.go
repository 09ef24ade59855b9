package node

import (
	"fmt"
	"runtime"
	"slices"
	"syscall"
	"time"
	"unsafe"
)

// Pub/Sub (Redis's pubsub.c): channels, patterns and shard channels.
//
// Messages for other clients are encoded once per protocol version and
// queued with pushAsync; after each, the receiver's queue is checked
// against client-output-buffer-limit for its class (pubsub for a
// subscriber), so that a subscriber that does not read is disconnected
// instead of growing the server's memory without bound.

func init() {
	register(map[string]handler{
		"subscribe":            subscribeCommand,
		"unsubscribe":          unsubscribeCommand,
		"psubscribe":           psubscribeCommand,
		"punsubscribe":         punsubscribeCommand,
		"ssubscribe":           ssubscribeCommand,
		"sunsubscribe":         sunsubscribeCommand,
		"publish":              publishCommand,
		"spublish":             spublishCommand,
		"pubsub|channels":      pubsubChannelsCommand,
		"pubsub|shardchannels": pubsubShardChannelsCommand,
		"pubsub|numsub":        pubsubNumsubCommand,
		"pubsub|shardnumsub":   pubsubShardNumsubCommand,
		"pubsub|numpat":        pubsubNumpatCommand,
		"pubsub|help":          pubsubHelpCommand,
	})
	interceptors = append(interceptors, pubsubContextInterceptor, publishYieldInterceptor)
	serverInits = append(serverInits, func(s *Server) {
		st := &pubsubState{
			channels:    make(map[string]map[*Client]struct{}),
			shard:       make(map[string]map[*Client]struct{}),
			patterns:    make(map[string]map[*Client]struct{}),
			subs:        make(map[*Client]*subscriptions),
			softReached: make(map[*Client]int64),
		}
		s.ext[pubsubExt] = st
		s.hooks.clientGone = append(s.hooks.clientGone, func(c *Client) {
			if st.subs[c] != nil {
				s.unsubscribeAll(c, false)
			}
			delete(st.softReached, c)
		})
		hooks := s.clientInfoHooks()
		hooks.subs = func(c *Client) (int, int, int) {
			sc := st.subs[c]
			if sc == nil {
				return 0, 0, 0
			}
			return len(sc.channels), len(sc.patterns), len(sc.shard)
		}
	})
}

const pubsubExt = "pubsub"

// pubsubState is the shard's subscription tables.
type pubsubState struct {
	// channel, shard channel and pattern -> subscribers.
	channels, shard, patterns map[string]map[*Client]struct{}
	// patternOrder lists the patterns in the order they were first
	// subscribed, so that a message matching several reaches a client in
	// a stable order.
	patternOrder []string
	subs         map[*Client]*subscriptions
	// softReached holds, per client over its soft output buffer limit,
	// the unix time it went over (Redis's obuf_soft_limit_reached_time).
	softReached map[*Client]int64
}

// subscriptions are one client's, each list in subscription order.
type subscriptions struct {
	channels, patterns, shard []string
}

func (s *Server) pubsubState() *pubsubState { return s.ext[pubsubExt].(*pubsubState) }

// PubsubChannels is INFO's pubsub_channels.
func (s *Server) PubsubChannels() int { return len(s.pubsubState().channels) }

// PubsubPatterns is INFO's pubsub_patterns.
func (s *Server) PubsubPatterns() int { return len(s.pubsubState().patterns) }

// PubsubShardChannels is INFO's pubsubshard_channels.
func (s *Server) PubsubShardChannels() int { return len(s.pubsubState().shard) }

// pubsubKind selects the channel table a command works on.
type pubsubKind int

const (
	kindChannel pubsubKind = iota
	kindPattern
	kindShard
)

var (
	subscribeWords   = [3]string{"subscribe", "psubscribe", "ssubscribe"}
	unsubscribeWords = [3]string{"unsubscribe", "punsubscribe", "sunsubscribe"}
)

func (st *pubsubState) table(k pubsubKind) map[string]map[*Client]struct{} {
	switch k {
	case kindPattern:
		return st.patterns
	case kindShard:
		return st.shard
	}
	return st.channels
}

func (sc *subscriptions) list(k pubsubKind) *[]string {
	switch k {
	case kindPattern:
		return &sc.patterns
	case kindShard:
		return &sc.shard
	}
	return &sc.channels
}

// count is what a (un)subscribe confirmation reports: channels and
// patterns together, shard channels apart.
func (sc *subscriptions) count(k pubsubKind) int {
	if sc == nil {
		return 0
	}
	if k == kindShard {
		return len(sc.shard)
	}
	return len(sc.channels) + len(sc.patterns)
}

func (sc *subscriptions) total() int {
	if sc == nil {
		return 0
	}
	return len(sc.channels) + len(sc.patterns) + len(sc.shard)
}

// subscribe adds c to name's subscribers and confirms it to c.
func (s *Server) subscribe(c *Client, k pubsubKind, name []byte) {
	st := s.pubsubState()
	sc := st.subs[c]
	if sc == nil {
		sc = &subscriptions{}
		st.subs[c] = sc
	}
	list := sc.list(k)
	if !slices.Contains(*list, string(name)) {
		key := string(name)
		*list = append(*list, key)
		tab := st.table(k)
		set := tab[key]
		if set == nil {
			set = make(map[*Client]struct{})
			tab[key] = set
			if k == kindPattern {
				st.patternOrder = append(st.patternOrder, key)
			}
		}
		set[c] = struct{}{}
	}
	s.replySubscription(c, subscribeWords[k], name, sc.count(k))
}

// unsubscribe removes c from name's subscribers, confirming it to c when
// notify is set. It reports whether c was subscribed.
func (s *Server) unsubscribe(c *Client, k pubsubKind, name []byte, notify bool) bool {
	st := s.pubsubState()
	sc := st.subs[c]
	found := false
	if sc != nil {
		list := sc.list(k)
		if i := slices.Index(*list, string(name)); i >= 0 {
			found = true
			*list = slices.Delete(*list, i, i+1)
			tab := st.table(k)
			set := tab[string(name)]
			delete(set, c)
			if len(set) == 0 {
				delete(tab, string(name))
				if k == kindPattern {
					if j := slices.Index(st.patternOrder, string(name)); j >= 0 {
						st.patternOrder = slices.Delete(st.patternOrder, j, j+1)
					}
				}
			}
		}
	}
	if notify {
		s.replySubscription(c, unsubscribeWords[k], name, sc.count(k))
	}
	if sc != nil && sc.total() == 0 {
		delete(st.subs, c)
	}
	return found
}

// unsubscribeKind removes c from every subscription of kind k. With
// notify, each is confirmed, and a client that had none still gets one
// confirmation with a null name. It returns how many there were.
func (s *Server) unsubscribeKind(c *Client, k pubsubKind, notify bool) int {
	n := 0
	if sc := s.pubsubState().subs[c]; sc != nil {
		names := slices.Clone(*sc.list(k))
		for _, name := range names {
			if s.unsubscribe(c, k, []byte(name), notify) {
				n++
			}
		}
	}
	if notify && n == 0 {
		s.replySubscription(c, unsubscribeWords[k], nil, s.pubsubState().subs[c].count(k))
	}
	return n
}

// unsubscribeAll drops all of c's subscriptions (RESET, disconnection).
func (s *Server) unsubscribeAll(c *Client, notify bool) {
	s.unsubscribeKind(c, kindChannel, notify)
	s.unsubscribeKind(c, kindPattern, notify)
	s.unsubscribeKind(c, kindShard, notify)
	c.flags &^= flagPubSub
}

// replySubscription writes a (un)subscribe confirmation to c. It is a
// push: CLIENT REPLY OFF does not suppress it.
func (s *Server) replySubscription(c *Client, word string, name []byte, count int) {
	start := len(c.out)
	c.PushLen(3)
	c.BulkString(word)
	if name == nil {
		c.Null()
	} else {
		c.Bulk(name)
	}
	c.Int(int64(count))
	c.pushRanges = append(c.pushRanges, [2]int{start, len(c.out)})
}

func subscribeCommand(s *Server, c *Client, args [][]byte) {
	// In MULTI it is allowed for backward compatibility, as in Redis.
	if s.denyBlocking(c) && c.flags&flagMulti == 0 {
		c.Error("ERR SUBSCRIBE isn't allowed for a DENY BLOCKING client")
		return
	}
	for _, ch := range args[1:] {
		s.subscribe(c, kindChannel, ch)
	}
	c.flags |= flagPubSub
}

func psubscribeCommand(s *Server, c *Client, args [][]byte) {
	if s.denyBlocking(c) && c.flags&flagMulti == 0 {
		c.Error("ERR PSUBSCRIBE isn't allowed for a DENY BLOCKING client")
		return
	}
	for _, p := range args[1:] {
		s.subscribe(c, kindPattern, p)
	}
	c.flags |= flagPubSub
}

func ssubscribeCommand(s *Server, c *Client, args [][]byte) {
	if s.denyBlocking(c) {
		c.Error("ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client")
		return
	}
	for _, ch := range args[1:] {
		s.subscribe(c, kindShard, ch)
	}
	c.flags |= flagPubSub
}

func unsubscribeCommand(s *Server, c *Client, args [][]byte) {
	s.unsubscribeCommon(c, kindChannel, args)
}

func punsubscribeCommand(s *Server, c *Client, args [][]byte) {
	s.unsubscribeCommon(c, kindPattern, args)
}

func sunsubscribeCommand(s *Server, c *Client, args [][]byte) {
	s.unsubscribeCommon(c, kindShard, args)
}

func (s *Server) unsubscribeCommon(c *Client, k pubsubKind, args [][]byte) {
	if len(args) == 1 {
		s.unsubscribeKind(c, k, true)
	} else {
		for _, name := range args[1:] {
			s.unsubscribe(c, k, name, true)
		}
	}
	if s.pubsubState().subs[c].total() == 0 {
		c.flags &^= flagPubSub
	}
}

func publishCommand(s *Server, c *Client, args [][]byte) {
	n := s.publish(args[1], args[2], false)
	// Replicas get the message too, not the AOF, as Redis's
	// forceCommandPropagation(PROPAGATE_REPL).
	s.propagateTo(c.db.id, args, propRepl)
	c.Int(int64(n))
}

func spublishCommand(s *Server, c *Client, args [][]byte) {
	n := s.publish(args[1], args[2], true)
	s.propagateTo(c.db.id, args, propRepl)
	c.Int(int64(n))
}

// pubsubMessage caches a message's encodings, one per protocol version.
type pubsubMessage struct {
	enc [2][]byte
}

// get returns the message encoded for c's protocol, building it with
// build the first time.
func (m *pubsubMessage) get(c *Client, build func(e *Client)) []byte {
	i := 0
	if c.resp == 3 {
		i = 1
	}
	if m.enc[i] == nil {
		e := &Client{resp: c.resp}
		build(e)
		m.enc[i] = e.out
	}
	return m.enc[i]
}

// publish delivers message to the subscribers of channel (and, unless
// shard, of the patterns that match it) and returns how many received it.
func (s *Server) publish(channel, message []byte, shard bool) int {
	st := s.pubsubState()
	receivers := 0
	tab := st.channels
	word := "message"
	if shard {
		tab = st.shard
		word = "smessage"
	}
	if set := tab[string(channel)]; len(set) > 0 {
		var m pubsubMessage
		build := func(e *Client) {
			e.PushLen(3)
			e.BulkString(word)
			e.Bulk(channel)
			e.Bulk(message)
		}
		for _, c := range sortedClients(set) {
			s.deliver(c, m.get(c, build))
			receivers++
		}
	}
	if shard || len(st.patterns) == 0 {
		return receivers
	}
	for _, pat := range slices.Clone(st.patternOrder) {
		set := st.patterns[pat]
		if len(set) == 0 || !globMatch(pat, channel, false) {
			continue
		}
		var m pubsubMessage
		build := func(e *Client) {
			e.PushLen(4)
			e.BulkString("pmessage")
			e.BulkString(pat)
			e.Bulk(channel)
			e.Bulk(message)
		}
		for _, c := range sortedClients(set) {
			s.deliver(c, m.get(c, build))
			receivers++
		}
	}
	return receivers
}

// sortedClients returns the clients of set in connection order, so that
// delivery is deterministic; a subscriber cut off while the message is
// delivered is skipped by deliver.
func sortedClients(set map[*Client]struct{}) []*Client {
	out := make([]*Client, 0, len(set))
	for c := range set {
		out = append(out, c)
	}
	if len(out) > 1 {
		sortClients(out)
	}
	return out
}

// deliver queues a push for c and enforces its output buffer limit.
func (s *Server) deliver(c *Client, msg []byte) {
	if c.killed {
		return
	}
	s.checkOutputLimit(c, c.pushAsync(msg))
}

// obufClass is the client-output-buffer-limit class of c (Redis's
// getClientType): a MONITOR counts as a replica, a subscriber as pubsub.
func obufClass(c *Client) int {
	switch {
	case c.flags&(flagReplica|flagMonitor) != 0:
		return obufReplica
	case c.flags&flagPubSub != 0:
		return obufPubsub
	}
	return obufNormal
}

// checkOutputLimit disconnects c if queued bytes are over the hard limit
// of its class, or have stayed over the soft limit for longer than its
// seconds (Redis's checkClientOutputBufferLimits, which it runs as
// replies are added). The disconnection is immediate: the client's
// unwritten data is dropped with it.
func (s *Server) checkOutputLimit(c *Client, queued int) {
	if c.flags&flagPrimary != 0 {
		return
	}
	class := obufClass(c)
	lim := s.cfg.ClientOutputBufferLimit[class]
	used := uint64(queued)
	hard := lim.Hard != 0 && used >= lim.Hard
	soft := lim.Soft != 0 && used >= lim.Soft
	st := s.pubsubState()
	if soft {
		now := time.Now().Unix()
		since, ok := st.softReached[c]
		switch {
		case !ok:
			st.softReached[c] = now
			soft = false
		case now-since <= lim.SoftSeconds:
			soft = false
		}
	} else if len(st.softReached) > 0 {
		delete(st.softReached, c)
	}
	if !hard && !soft {
		return
	}
	s.log.Warn("Client scheduled to be closed ASAP for overcoming of output buffer limits.",
		"client", c.ID, "addr", c.addr, "class", obufClassNames[class], "queued", queued)
	s.killClient(c)
}

// pubsubContextInterceptor refuses, for a RESP2 client in subscriber
// mode, every command but the few that mode allows (RESP3 mixes replies
// and pushes, so it has no such mode).
func pubsubContextInterceptor(s *Server, c *Client, cmd *command, args [][]byte) bool {
	if c.flags&flagPubSub == 0 || c.resp != 2 {
		return false
	}
	switch cmd.Name {
	case "ping", "subscribe", "ssubscribe", "unsubscribe", "sunsubscribe",
		"psubscribe", "punsubscribe", "quit", "reset":
		return false
	}
	s.rejectCommand(c, cmd, fmt.Sprintf("ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context", cmd.Name))
	return true
}

func pubsubChannelsCommand(s *Server, c *Client, args [][]byte) {
	s.channelList(c, args, s.pubsubState().channels)
}

func pubsubShardChannelsCommand(s *Server, c *Client, args [][]byte) {
	s.channelList(c, args, s.pubsubState().shard)
}

// channelList replies the active channels of tab matching the optional
// pattern in args[2].
func (s *Server) channelList(c *Client, args [][]byte, tab map[string]map[*Client]struct{}) {
	if len(args) > 3 {
		subcommandSyntaxError(c, args)
		return
	}
	names := make([]string, 0, len(tab))
	for name := range tab {
		if len(args) == 2 || globMatch(args[2], name, false) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	c.ArrayLen(len(names))
	for _, n := range names {
		c.BulkString(n)
	}
}

func pubsubNumsubCommand(s *Server, c *Client, args [][]byte) {
	numsub(c, args, s.pubsubState().channels)
}

func pubsubShardNumsubCommand(s *Server, c *Client, args [][]byte) {
	numsub(c, args, s.pubsubState().shard)
}

func numsub(c *Client, args [][]byte, tab map[string]map[*Client]struct{}) {
	c.ArrayLen(2 * (len(args) - 2))
	for _, ch := range args[2:] {
		c.Bulk(ch)
		c.Int(int64(len(tab[string(ch)])))
	}
}

func pubsubNumpatCommand(s *Server, c *Client, args [][]byte) {
	c.Int(int64(len(s.pubsubState().patterns)))
}

var pubsubHelp = []string{
	"CHANNELS [<pattern>]",
	"    Return the currently active channels matching a <pattern> (default: '*').",
	"NUMPAT",
	"    Return number of subscriptions to patterns.",
	"NUMSUB [<channel> ...]",
	"    Return the number of subscribers for the specified channels, excluding",
	"    pattern subscriptions(default: no channels).",
	"SHARDCHANNELS [<pattern>]",
	"    Return the currently active shard level channels matching a <pattern> (default: '*').",
	"SHARDNUMSUB [<shardchannel> ...]",
	"    Return the number of subscribers for the specified shard level channel(s)",
}

func pubsubHelpCommand(s *Server, c *Client, args [][]byte) { replyHelp(c, args[0], pubsubHelp) }

// publishYieldInterceptor lets a subscriber's request that arrived with a
// client's PUBLISH run first. Why: Redis serves connections in the order
// their requests arrived (one event loop); Go's poller hands out
// goroutines woken together last-in first-out, so an UNSUBSCRIBE sent
// just before another connection's PUBLISH ran after it most of the time
// and the message still reached the subscriber that had left (pubsub.tcl
// "PUBLISH/SUBSCRIBE after UNSUBSCRIBE without arguments"). Only when a
// receiver ran a command lately (subscribers mostly only read) does the
// PUBLISH yield the lock, and again while such a receiver has a request
// on its way, for at most publishYieldMax. Nothing of PUBLISH has run
// yet: releasing the lock is as if it had arrived later. Commands inside
// EXEC or scripts never come through interceptors.
func publishYieldInterceptor(s *Server, c *Client, cmd *command, args [][]byte) bool {
	if cmd.Name != "publish" && cmd.Name != "spublish" {
		return false
	}
	// Only a client's own connection yields: not the primary's stream,
	// an AOF being loaded (fake client) or a transaction being queued.
	if c.nc == nil || c.flags&(flagPrimary|flagMulti) != 0 || s.isLoading() || s.scriptYielding() ||
		len(s.pubsubState().subs) == 0 {
		return false
	}
	shard := cmd.Name == "spublish"
	start := time.Now()
	for round := 0; ; round++ {
		active := s.activeReceivers(args[1], shard, s.clockNow())
		if len(active) == 0 || (round > 0 && !slices.ContainsFunc(active, inputPending)) ||
			time.Since(start) > publishYieldMax {
			return false
		}
		s.mu.Unlock()
		runtime.Gosched()
		s.mu.Lock()
	}
}

const (
	// publishActiveWindow: a receiver that ran a command this recently may
	// have sent another that is not read yet.
	publishActiveWindow = 100 * time.Millisecond
	// publishYieldMax bounds the delay of one PUBLISH.
	publishYieldMax = 5 * time.Millisecond
)

// activeReceivers lists the clients that would receive a message on
// channel and ran a command within publishActiveWindow.
func (s *Server) activeReceivers(channel []byte, shard bool, now time.Time) []*Client {
	st := s.pubsubState()
	var out []*Client
	add := func(set map[*Client]struct{}) {
		for r := range set {
			if now.Sub(r.lastActive) < publishActiveWindow {
				out = append(out, r)
			}
		}
	}
	if shard {
		add(st.shard[string(channel)])
		return out
	}
	add(st.channels[string(channel)])
	for pat, set := range st.patterns {
		if len(set) > 0 && globMatch(pat, channel, false) {
			add(set)
		}
	}
	return out
}

// inputPending reports whether c has a request on its way: bytes read
// after its last command ran, or bytes in its socket not read yet.
func inputPending(c *Client) bool {
	if g := guardOf(c); g != nil && g.lastReadNs.Load() > c.lastActive.UnixNano() {
		return true
	}
	return unreadInput(c)
}

// unreadInput reports whether c's socket holds bytes its connection has
// not read yet (the kernel's FIONREAD).
func unreadInput(c *Client) bool {
	nc := c.nc
	if g := guardOf(c); g != nil {
		nc = g.Conn
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	var n int32
	raw.Control(func(fd uintptr) {
		if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCINQ, uintptr(unsafe.Pointer(&n))); e != 0 {
			n = 0
		}
	})
	return n > 0
}
