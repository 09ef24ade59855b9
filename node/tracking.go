package node

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/keyfleet/keyfleet/internal/commands"
)

// Client-side caching (Redis's tracking.c): CLIENT TRACKING, CACHING,
// GETREDIR, TRACKINGINFO and the invalidation messages.
//
// In the default mode the server remembers, per key, the IDs of the
// tracking clients that read it (the tracking table: keys of every
// database together, as Redis); a change to the key (keyModified) sends
// them an invalidation and forgets the key. In BCAST mode a client names
// prefixes instead and hears of every change to a key under them, once
// per command. Invalidations are RESP3 pushes (>2 invalidate [keys]), or
// messages on __redis__:invalidate to a RESP2 client in subscriber mode
// when redirected there; a flush invalidates everything with a null.

func init() {
	register(map[string]handler{
		"client|tracking":     clientTrackingCommand,
		"client|caching":      clientCachingCommand,
		"client|getredir":     clientGetredirCommand,
		"client|trackinginfo": clientTrackinginfoCommand,
	})
	interceptors = append(interceptors, trackingInterceptor)
	afterCommandHooks = append(afterCommandHooks, func(s *Server, c *Client, cmd *command) {
		s.trackingAfterCommand(c, cmd)
	})
	dbFlushHooks = append(dbFlushHooks, func(s *Server, db *DB) {
		s.trackingFlushed()
	})
	serverInits = append(serverInits, func(s *Server) {
		st := &trackingState{
			table:    make(map[string]map[int64]struct{}),
			prefixes: make(map[string]*bcastState),
			clients:  make(map[*Client]*tracker),
		}
		s.ext[trackingExt] = st
		prevModified := s.hooks.keyModified
		s.hooks.keyModified = func(db *DB, key []byte) {
			if prevModified != nil {
				prevModified(db, key)
			}
			if len(st.table) > 0 || len(st.prefixes) > 0 {
				s.trackingInvalidateKey(key, !db.byServer, true)
			}
		}
		prevBefore := s.hooks.beforeCall
		s.hooks.beforeCall = func(c *Client, cmd *command, args [][]byte) {
			if prevBefore != nil {
				prevBefore(c, cmd, args)
			}
			if c.flags&flagLuaClient == 0 {
				st.callers = append(st.callers, callFrame{c, cmd, args})
			}
		}
		prevAfter := s.hooks.afterCall
		s.hooks.afterCall = func(c *Client, cmd *command, args [][]byte, dur time.Duration) {
			if len(st.clients) > 0 {
				s.trackingRememberKeys(c, cmd)
			}
			if c.flags&flagLuaClient == 0 && len(st.callers) > 0 {
				st.callers = st.callers[:len(st.callers)-1]
			}
			if prevAfter != nil {
				prevAfter(c, cmd, args, dur)
			}
		}
		s.hooks.clientGone = append(s.hooks.clientGone, func(c *Client) {
			s.disableTracking(c)
		})
		s.hooks.cron = append(s.hooks.cron, func(now time.Time) {
			st.current = nil
			s.trackingLimitUsedSlots()
			s.trackingFlushPending()
			s.trackingBroadcast()
		})
		s.clientInfoHooks().trackingRedirect = func(c *Client) int64 {
			if t := st.clients[c]; t != nil {
				return t.redirect
			}
			return -1
		}
	})
}

const trackingExt = "tracking"

// trackingState is the shard's client-side caching state.
type trackingState struct {
	// table maps a key to the IDs of the clients that may cache it;
	// items counts the IDs of all keys. A client that stops tracking
	// leaves its IDs behind: they are skipped and dropped lazily.
	table map[string]map[int64]struct{}
	items int64
	// prefixes holds the BCAST prefixes.
	prefixes map[string]*bcastState
	clients  map[*Client]*tracker
	// limitRuns counts the consecutive runs of trackingLimitUsedSlots
	// that stayed over tracking-table-max-keys: each run works harder.
	limitRuns int

	// current is the client whose command is executing (Redis's
	// current_client); callers the calls in progress of clients other
	// than a script's, the last being the caller of a running script.
	current *Client
	callers []callFrame
	// pending are invalidations that wait for the end of the command:
	// those for the client running it, which must follow its reply, and
	// those for a blocked client, which is maybe being served.
	pending []pendingInvalidation
	// flushed is set by a flush until every tracking client got its null.
	flushed bool
}

type callFrame struct {
	c    *Client
	cmd  *command
	args [][]byte
}

type pendingInvalidation struct {
	c       *Client
	payload []byte
}

// bcastState is one BCAST prefix: its clients, and the keys under it
// changed since the last broadcast with the client that changed each
// (nil: the server, by expiry), for NOLOOP.
type bcastState struct {
	keys    map[string]*Client
	clients map[*Client]struct{}
}

type trackFlags uint8

const (
	trackBcast trackFlags = 1 << iota
	trackOptin
	trackOptout
	trackCaching
	trackNoloop
	trackBrokenRedir
)

// tracker is one tracking client's mode.
type tracker struct {
	flags    trackFlags
	redirect int64
	prefixes []string // BCAST prefixes, sorted
}

func (s *Server) trackingState() *trackingState { return s.ext[trackingExt].(*trackingState) }

// trackingOf is trackingState through c's cached pointer.
func (s *Server) trackingOf(c *Client) *trackingState {
	if c.trk == nil {
		c.trk = s.trackingState()
	}
	return c.trk
}

// TrackingTotalKeys is INFO's tracking_total_keys.
func (s *Server) TrackingTotalKeys() int { return len(s.trackingState().table) }

// TrackingTotalItems is INFO's tracking_total_items.
func (s *Server) TrackingTotalItems() int64 { return s.trackingState().items }

// TrackingTotalPrefixes is INFO's tracking_total_prefixes.
func (s *Server) TrackingTotalPrefixes() int { return len(s.trackingState().prefixes) }

// trackingInterceptor runs before each command: it records the client as
// the current one and keeps the table within tracking-table-max-keys
// (Redis does both in processCommand). It never takes the command over.
func trackingInterceptor(s *Server, c *Client, cmd *command, args [][]byte) bool {
	st := s.trackingOf(c)
	st.current = c
	if len(st.clients) > 0 {
		s.trackingLimitUsedSlots()
	}
	return false
}

// trackingAfterCommand sends what waited for the end of c's command and
// ends CLIENT CACHING's effect, which lasts one command (or transaction).
func (s *Server) trackingAfterCommand(c *Client, cmd *command) {
	st := s.trackingOf(c)
	st.current = nil
	if len(st.clients) == 0 && len(st.pending) == 0 && !st.flushed {
		return
	}
	if t := st.clients[c]; t != nil && t.flags&trackCaching != 0 && c.flags&flagMulti == 0 &&
		(cmd == nil || !strings.HasPrefix(cmd.Name, "client|")) {
		t.flags &^= trackCaching
	}
	s.trackingFlushPending()
	s.trackingBroadcast()
}

const (
	errTrackingRedirectGone = "ERR The client ID you want redirect to does not exist"
)

func clientTrackingCommand(s *Server, c *Client, args [][]byte) {
	var redir int64
	var opts trackFlags
	var prefixes []string
	for j := 3; j < len(args); j++ {
		more := len(args) - 1 - j
		switch opt := strings.ToLower(string(args[j])); {
		case opt == "redirect" && more > 0:
			j++
			if redir != 0 {
				c.Error("ERR A client can only redirect to a single other client")
				return
			}
			v, ok := parseRedisInt64(args[j])
			if !ok {
				c.Error(errNotInt)
				return
			}
			redir = v
			if s.clients[redir] == nil {
				c.Error(errTrackingRedirectGone)
				return
			}
		case opt == "bcast":
			opts |= trackBcast
		case opt == "optin":
			opts |= trackOptin
		case opt == "optout":
			opts |= trackOptout
		case opt == "noloop":
			opts |= trackNoloop
		case opt == "prefix" && more > 0:
			j++
			prefixes = append(prefixes, string(args[j]))
		default:
			c.Error(errSyntax)
			return
		}
	}
	st := s.trackingState()
	switch strings.ToLower(string(args[2])) {
	case "on":
		t := st.clients[c]
		switch {
		case opts&trackBcast == 0 && len(prefixes) > 0:
			c.Error("ERR PREFIX option requires BCAST mode to be enabled")
			return
		case t != nil && (t.flags&trackBcast != 0) != (opts&trackBcast != 0):
			c.Error("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.")
			return
		case opts&trackBcast != 0 && opts&(trackOptin|trackOptout) != 0:
			c.Error("ERR OPTIN and OPTOUT are not compatible with BCAST")
			return
		case opts&trackOptin != 0 && opts&trackOptout != 0:
			c.Error("ERR You can't specify both OPTIN mode and OPTOUT mode")
			return
		case t != nil && (opts&trackOptin != 0 && t.flags&trackOptout != 0 ||
			opts&trackOptout != 0 && t.flags&trackOptin != 0):
			c.Error("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.")
			return
		}
		if opts&trackBcast != 0 {
			if msg := prefixCollision(t, prefixes); msg != "" {
				c.Error(msg)
				return
			}
		}
		s.enableTracking(c, redir, opts, prefixes)
	case "off":
		s.disableTracking(c)
	default:
		c.Error(errSyntax)
		return
	}
	c.OK()
}

// prefixCollision returns the error for prefixes that would overlap one
// another or one the client has: two prefixes overlap when one starts
// the other, so both would report the same keys. (Redis 7.0 sends the
// error and then enables tracking and replies OK anyway when the overlap
// is not with the first prefix given; here the error stands alone.)
func prefixCollision(t *tracker, prefixes []string) string {
	overlap := func(a, b string) bool {
		n := min(len(a), len(b))
		return a[:n] == b[:n]
	}
	for i, p := range prefixes {
		if t != nil {
			for _, have := range t.prefixes {
				if overlap(have, p) {
					return fmt.Sprintf("ERR Prefix '%s' overlaps with an existing prefix '%s'. Prefixes for a single client must not overlap.", p, have)
				}
			}
		}
		for _, q := range prefixes[i+1:] {
			if overlap(p, q) {
				return fmt.Sprintf("ERR Prefix '%s' overlaps with another provided prefix '%s'. Prefixes for a single client must not overlap.", p, q)
			}
		}
	}
	return ""
}

// enableTracking turns tracking on for c (or changes its options), as
// Redis's enableTracking: a redirection and the modes are replaced, BCAST
// prefixes are added to those c has.
func (s *Server) enableTracking(c *Client, redir int64, opts trackFlags, prefixes []string) {
	st := s.trackingState()
	t := st.clients[c]
	if t == nil {
		t = &tracker{}
		st.clients[c] = t
	}
	c.flags |= flagTracking
	t.flags &^= trackBrokenRedir | trackBcast | trackOptin | trackOptout | trackNoloop
	t.redirect = redir
	if opts&trackBcast != 0 {
		t.flags |= trackBcast
		if len(prefixes) == 0 {
			prefixes = []string{""}
		}
		for _, p := range prefixes {
			bs := st.prefixes[p]
			if bs == nil {
				bs = &bcastState{keys: make(map[string]*Client), clients: make(map[*Client]struct{})}
				st.prefixes[p] = bs
			}
			if _, ok := bs.clients[c]; !ok {
				bs.clients[c] = struct{}{}
				i, _ := slices.BinarySearch(t.prefixes, p)
				t.prefixes = slices.Insert(t.prefixes, i, p)
			}
		}
	}
	t.flags |= opts & (trackOptin | trackOptout | trackNoloop)
}

// disableTracking turns tracking off for c. Its IDs stay in the table and
// are dropped lazily.
func (s *Server) disableTracking(c *Client) {
	st := s.trackingState()
	t := st.clients[c]
	if t == nil {
		c.flags &^= flagTracking
		return
	}
	for _, p := range t.prefixes {
		if bs := st.prefixes[p]; bs != nil {
			delete(bs.clients, c)
			if len(bs.clients) == 0 {
				delete(st.prefixes, p)
			}
		}
	}
	delete(st.clients, c)
	c.flags &^= flagTracking
}

func clientCachingCommand(s *Server, c *Client, args [][]byte) {
	t := s.trackingState().clients[c]
	if t == nil {
		c.Error("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled")
		return
	}
	switch strings.ToLower(string(args[2])) {
	case "yes":
		if t.flags&trackOptin == 0 {
			c.Error("ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.")
			return
		}
	case "no":
		if t.flags&trackOptout == 0 {
			c.Error("ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.")
			return
		}
	default:
		c.Error(errSyntax)
		return
	}
	t.flags |= trackCaching
	c.OK()
}

func clientGetredirCommand(s *Server, c *Client, args [][]byte) {
	if t := s.trackingState().clients[c]; t != nil {
		c.Int(t.redirect)
		return
	}
	c.Int(-1)
}

func clientTrackinginfoCommand(s *Server, c *Client, args [][]byte) {
	t := s.trackingState().clients[c]
	c.MapLen(3)
	c.BulkString("flags")
	var flags []string
	if t == nil {
		flags = []string{"off"}
	} else {
		flags = []string{"on"}
		if t.flags&trackBcast != 0 {
			flags = append(flags, "bcast")
		}
		if t.flags&trackOptin != 0 {
			flags = append(flags, "optin")
			if t.flags&trackCaching != 0 {
				flags = append(flags, "caching-yes")
			}
		}
		if t.flags&trackOptout != 0 {
			flags = append(flags, "optout")
			if t.flags&trackCaching != 0 {
				flags = append(flags, "caching-no")
			}
		}
		if t.flags&trackNoloop != 0 {
			flags = append(flags, "noloop")
		}
		if t.flags&trackBrokenRedir != 0 {
			flags = append(flags, "broken_redirect")
		}
	}
	c.SetLen(len(flags))
	for _, f := range flags {
		c.BulkString(f)
	}
	c.BulkString("redirect")
	if t == nil {
		c.Int(-1)
	} else {
		c.Int(t.redirect)
	}
	c.BulkString("prefixes")
	if t == nil {
		c.ArrayLen(0)
		return
	}
	c.ArrayLen(len(t.prefixes))
	for _, p := range t.prefixes {
		c.BulkString(p)
	}
}

// trackingRememberKeys records, after a read-only command, the keys it
// read for the tracking client that asked (Redis's trackingRememberKeys,
// called from call): for a command run by a script, the keys declared to
// the script, for the script's caller.
func (s *Server) trackingRememberKeys(c *Client, cmd *command) {
	if !cmd.Has(commands.ReadOnly) || cmd.Has(commands.PubSub) {
		return
	}
	switch cmd.Name {
	case "eval_ro", "evalsha_ro", "fcall_ro":
		return
	}
	st := s.trackingState()
	var frame callFrame
	if c.flags&flagLuaClient != 0 {
		if len(st.callers) == 0 {
			return
		}
		frame = st.callers[len(st.callers)-1]
	} else {
		if len(st.callers) == 0 {
			return
		}
		frame = st.callers[len(st.callers)-1]
		if frame.c != c {
			return
		}
	}
	t := st.clients[frame.c]
	if t == nil || t.flags&trackBcast != 0 {
		return
	}
	caching := t.flags&trackCaching != 0
	if t.flags&trackOptin != 0 && !caching || t.flags&trackOptout != 0 && caching {
		return
	}
	if frame.cmd.Has(commands.PubSub) {
		return
	}
	keys, _ := frame.cmd.GetKeys(frame.args)
	for _, k := range keys {
		key := frame.args[k.Index]
		ids := st.table[string(key)]
		if ids == nil {
			ids = make(map[int64]struct{}, 1)
			st.table[string(key)] = ids
		}
		if _, ok := ids[frame.c.ID]; !ok {
			ids[frame.c.ID] = struct{}{}
			st.items++
		}
	}
}

// trackingInvalidateKey tells the clients that may cache key that it
// changed, and forgets the key (Redis's trackingInvalidateKey). byClient
// says the change is the current client's (not an expiry): NOLOOP
// clients in BCAST mode do not hear of their own changes. bcast also
// schedules the key for the BCAST prefixes it falls under; a key dropped
// to keep the table small did not change and is not broadcast.
func (s *Server) trackingInvalidateKey(key []byte, byClient, bcast bool) {
	st := s.trackingState()
	if bcast && len(st.prefixes) > 0 {
		var by *Client
		if byClient {
			by = st.current
		}
		for p, bs := range st.prefixes {
			if bytes.HasPrefix(key, []byte(p)) {
				bs.keys[string(key)] = by
			}
		}
	}
	ids := st.table[string(key)]
	if ids == nil {
		return
	}
	delete(st.table, string(key))
	st.items -= int64(len(ids))
	order := make([]int64, 0, len(ids))
	for id := range ids {
		order = append(order, id)
	}
	slices.Sort(order)
	var payload []byte
	for _, id := range order {
		target := s.clients[id]
		if target == nil {
			continue
		}
		t := st.clients[target]
		if t == nil || t.flags&trackBcast != 0 {
			continue
		}
		if t.flags&trackNoloop != 0 && target == st.current {
			continue
		}
		if payload == nil {
			e := &Client{resp: 2}
			e.ArrayLen(1)
			e.Bulk(key)
			payload = e.out
		}
		s.sendInvalidation(target, payload)
	}
}

// sendInvalidation sends payload (an array of keys, or a null) to c now,
// or at the end of the command when c is running it inside a call (the
// message must follow the reply) or is blocked (it may be being served).
func (s *Server) sendInvalidation(c *Client, payload []byte) {
	st := s.trackingState()
	if st.current != nil && (c == st.current && s.multiState().depth > 0 || c.flags&flagBlocked != 0) {
		st.pending = append(st.pending, pendingInvalidation{c, payload})
		return
	}
	s.sendTrackingMessage(c, payload)
}

// trackingFlushPending sends the invalidations that waited for the end of
// a command, and the nulls of a flush.
func (s *Server) trackingFlushPending() {
	st := s.trackingState()
	if st.flushed {
		st.flushed = false
		for _, c := range s.clientsByID() {
			if st.clients[c] == nil {
				continue
			}
			null := []byte("$-1\r\n")
			if c.resp == 3 {
				null = []byte("_\r\n")
			}
			s.sendTrackingMessage(c, null)
		}
	}
	for len(st.pending) > 0 {
		p := st.pending[0]
		st.pending = st.pending[1:]
		if s.clients[p.c.ID] == p.c {
			s.sendTrackingMessage(p.c, p.payload)
		}
	}
	st.pending = nil
}

var (
	invalidateWord      = []byte("invalidate")
	invalidateChannel   = []byte("__redis__:invalidate")
	redirBrokenWord     = []byte("tracking-redir-broken")
	invalidateMsgPrefix = func() []byte {
		e := &Client{resp: 2}
		e.ArrayLen(3)
		e.BulkString("message")
		e.Bulk(invalidateChannel)
		return e.out
	}()
)

// sendTrackingMessage delivers an invalidation for the tracking client c
// (Redis's sendTrackingMessage): to the client it redirects to, if any,
// as a RESP3 push, or as a message on __redis__:invalidate to a RESP2
// client in subscriber mode; a RESP2 client without redirection gets
// nothing (RESP2 has no pushes). A redirection to a client that is gone
// is reported to a RESP3 client and marked broken.
func (s *Server) sendTrackingMessage(c *Client, payload []byte) {
	t := s.trackingState().clients[c]
	if t == nil {
		return
	}
	target := c
	redirected := false
	if t.redirect != 0 {
		r := s.clients[t.redirect]
		if r == nil {
			t.flags |= trackBrokenRedir
			if c.resp > 2 {
				e := &Client{resp: 3}
				e.PushLen(2)
				e.Bulk(redirBrokenWord)
				e.Int(t.redirect)
				s.deliver(c, e.out)
			}
			return
		}
		target, redirected = r, true
	}
	var msg []byte
	switch {
	case target.resp > 2:
		e := &Client{resp: 3}
		e.PushLen(2)
		e.Bulk(invalidateWord)
		msg = append(e.out, payload...)
	case redirected && target.flags&flagPubSub != 0:
		msg = append(append([]byte(nil), invalidateMsgPrefix...), payload...)
	default:
		return
	}
	s.deliver(target, msg)
}

// trackingFlushed handles a flush: every tracking client will be told
// that all keys are invalid (once for FLUSHALL's many databases) and the
// table is emptied.
func (s *Server) trackingFlushed() {
	st := s.trackingState()
	if len(st.clients) > 0 {
		st.flushed = true
	}
	st.table = make(map[string]map[int64]struct{})
	st.items = 0
}

// trackingBroadcast sends the BCAST clients the keys changed under their
// prefixes since the last broadcast (Redis's
// trackingBroadcastInvalidationMessages, run before each event loop
// sleep; here after each command and each cron run).
func (s *Server) trackingBroadcast() {
	st := s.trackingState()
	if len(st.prefixes) == 0 {
		return
	}
	var order []string
	for p, bs := range st.prefixes {
		if len(bs.keys) > 0 {
			order = append(order, p)
		}
	}
	slices.Sort(order)
	for _, p := range order {
		bs := st.prefixes[p]
		keys := make([]string, 0, len(bs.keys))
		for k := range bs.keys {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		var all []byte
		clients := make([]*Client, 0, len(bs.clients))
		for c := range bs.clients {
			clients = append(clients, c)
		}
		sortClients(clients)
		for _, c := range clients {
			t := st.clients[c]
			if t == nil {
				continue
			}
			if t.flags&trackNoloop != 0 {
				if adhoc := bcastPayload(keys, bs.keys, c); adhoc != nil {
					s.sendTrackingMessage(c, adhoc)
				}
				continue
			}
			if all == nil {
				all = bcastPayload(keys, nil, nil)
			}
			s.sendTrackingMessage(c, all)
		}
		bs.keys = make(map[string]*Client)
	}
}

// bcastPayload is the array of keys, without those last changed by
// exclude (when not nil), or nil if that leaves none.
func bcastPayload(keys []string, by map[string]*Client, exclude *Client) []byte {
	e := &Client{resp: 2}
	n := 0
	for _, k := range keys {
		if exclude == nil || by[k] != exclude {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	e.ArrayLen(n)
	for _, k := range keys {
		if exclude == nil || by[k] != exclude {
			e.BulkString(k)
		}
	}
	return e.out
}

// trackingLimitUsedSlots keeps the table within tracking-table-max-keys
// by invalidating keys as if they changed: a hundred per consecutive run
// over the limit more each time (Redis's trackingLimitUsedSlots).
func (s *Server) trackingLimitUsedSlots() {
	st := s.trackingState()
	limit := s.cfg.TrackingTableMaxKeys
	if limit == 0 || len(st.clients) == 0 {
		return
	}
	if int64(len(st.table)) <= limit {
		st.limitRuns = 0
		return
	}
	effort := 100 * (st.limitRuns + 1)
	for key := range st.table {
		if effort == 0 {
			break
		}
		effort--
		s.trackingInvalidateKey([]byte(key), false, false)
		if int64(len(st.table)) <= limit {
			st.limitRuns = 0
			return
		}
	}
	st.limitRuns++
}
