package compat

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// replyTimeout bounds every read: a server that does not answer is a
// divergence to report ("timeout"), never a hung test.
const replyTimeout = 5 * time.Second

// endpoint is one server under comparison with its named connections.
type endpoint struct {
	name  string
	addr  string
	conns map[string]*wireConn
}

type wireConn struct {
	c net.Conn
	r *bufio.Reader
}

func newEndpoint(name, addr string) *endpoint {
	return &endpoint{name: name, addr: addr, conns: map[string]*wireConn{}}
}

func (e *endpoint) conn(name string) (*wireConn, error) {
	if wc := e.conns[name]; wc != nil {
		return wc, nil
	}
	c, err := net.DialTimeout("tcp", e.addr, replyTimeout)
	if err != nil {
		return nil, fmt.Errorf("dial %s at %s: %w", e.name, e.addr, err)
	}
	wc := &wireConn{c: c, r: bufio.NewReaderSize(c, 64<<10)}
	e.conns[name] = wc
	return wc, nil
}

// drop forgets a connection; the next step on that name dials again, as
// redis-cli reconnects after QUIT.
func (e *endpoint) drop(name string) {
	if wc := e.conns[name]; wc != nil {
		wc.c.Close()
		delete(e.conns, name)
	}
}

func (e *endpoint) close() {
	for name := range e.conns {
		e.drop(name)
	}
}

// exchange writes payload on connection name and reads n replies.
func (e *endpoint) exchange(name string, payload []byte, n int) []result {
	out := make([]result, 0, n)
	fail := func(label string) []result {
		for len(out) < n {
			out = append(out, result{Err: label})
		}
		e.drop(name)
		return out
	}
	wc, err := e.conn(name)
	if err != nil {
		return fail("cannot connect")
	}
	if err := wc.c.SetDeadline(time.Now().Add(replyTimeout)); err != nil {
		return fail("closed")
	}
	if _, err := wc.c.Write(payload); err != nil {
		return fail(classify(err))
	}
	for len(out) < n {
		v, err := ReadValue(wc.r)
		if err != nil {
			return fail(classify(err))
		}
		out = append(out, result{V: v})
	}
	return out
}

// state reports whether the server has closed connection name within
// wait: "closed", "open", or open with the stray reply it sent.
func (e *endpoint) state(name string, wait time.Duration) string {
	wc := e.conns[name]
	if wc == nil {
		return "closed"
	}
	if err := wc.c.SetReadDeadline(time.Now().Add(wait)); err != nil {
		e.drop(name)
		return "closed"
	}
	_, err := wc.r.Peek(1)
	switch {
	case err == nil:
		v, err := ReadValue(wc.r)
		if err != nil {
			e.drop(name)
			return "open, then sent unreadable data"
		}
		return "open, then sent a reply nobody asked for: " + result{V: v}.raw()
	case classify(err) == "timeout":
		return "open"
	default:
		e.drop(name)
		return "closed"
	}
}

func classify(err error) string {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, net.ErrClosed):
		return "closed"
	default:
		return "unreadable reply: " + err.Error()
	}
}

// pair runs the same steps against redis-server and the node.
type pair struct {
	redis, node *endpoint
	cat         *catalog
	cur         string
}

func newPair(redisAddr, nodeAddr string, cat *catalog) *pair {
	return &pair{redis: newEndpoint("redis", redisAddr), node: newEndpoint("node", nodeAddr), cat: cat, cur: "main"}
}

func (p *pair) close() {
	p.redis.close()
	p.node.close()
}

// divergence is the first step whose replies differed.
type divergence struct {
	Index       int // in the step list
	Step        Step
	Sent        []string // the arguments after {now} expansion
	Opts        Options
	Redis, Node []result
	Note        string
}

func (d *divergence) report(where string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "divergence at %s: %s\n", where, FormatStep(d.Step))
	mode := d.Opts.Mode
	if mode == "" {
		mode = "exact"
	}
	if mode == "approx" {
		mode = fmt.Sprintf("approx=%d", d.Opts.Approx)
	}
	if d.Step.Kind == stepCommand && strings.Join(d.Sent, "\x00") != strings.Join(d.Step.Args, "\x00") {
		quoted := make([]string, len(d.Sent))
		for i, a := range d.Sent {
			quoted[i] = QuoteArg(a)
		}
		fmt.Fprintf(&b, "  sent: %s\n", strings.Join(quoted, " "))
	}
	fmt.Fprintf(&b, "  compared: %s\n", mode)
	if d.Note != "" {
		fmt.Fprintf(&b, "  %s\n", d.Note)
	}
	for i := range d.Redis {
		if len(d.Redis) > 1 {
			fmt.Fprintf(&b, "  reply %d:\n", i+1)
		}
		rr, nr := d.Redis[i].raw(), d.Node[i].raw()
		if len(rr)+len(nr) > 1000 {
			// Long replies: the neighbourhood of the first difference
			// (in the compared, normalised form) says more than two
			// screens of RESP.
			if d.Redis[i].Err == "" && d.Node[i].Err == "" {
				if note := firstElementDiff(normalise(d.Opts.Mode, d.Redis[i].V), normalise(d.Opts.Mode, d.Node[i].V)); note != "" {
					b.WriteString(note)
					continue
				}
			}
			rn, nn := d.Redis[i].normalised(d.Opts.Mode), d.Node[i].normalised(d.Opts.Mode)
			at := commonPrefix(rn, nn)
			fmt.Fprintf(&b, "  first difference at byte %d of the compared forms (%d and %d bytes):\n", at, len(rn), len(nn))
			fmt.Fprintf(&b, "  redis: ...%s...\n  node:  ...%s...\n", window(rn, at), window(nn, at))
			continue
		}
		fmt.Fprintf(&b, "  redis: %s\n         raw %s\n", indentLines(d.Redis[i].String(), "         "), rr)
		fmt.Fprintf(&b, "  node:  %s\n         raw %s\n", indentLines(d.Node[i].String(), "         "), nr)
	}
	return b.String()
}

// firstElementDiff describes the first element at which two aggregates
// of the same type differ, or returns "" when they are not that.
func firstElementDiff(a, b Value) string {
	if !a.IsAggregate() || a.Type != b.Type || a.Null || b.Null {
		return ""
	}
	for i := 0; i < len(a.Elems) || i < len(b.Elems); i++ {
		var ea, eb string
		if i < len(a.Elems) {
			ea = strconv.Quote(string(a.Elems[i].Encode()))
		}
		if i < len(b.Elems) {
			eb = strconv.Quote(string(b.Elems[i].Encode()))
		}
		if ea != eb {
			if ea == "" {
				ea = "(no such element)"
			}
			if eb == "" {
				eb = "(no such element)"
			}
			return fmt.Sprintf("  %d and %d elements (compared form); the first difference is element %d:\n  redis: %s\n  node:  %s\n",
				len(a.Elems), len(b.Elems), i+1, window(ea, 0), window(eb, 0))
		}
	}
	return ""
}

func commonPrefix(a, b string) int {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return i
}

// window returns s around byte at.
func window(s string, at int) string {
	lo, hi := max(0, at-150), min(len(s), at+250)
	return s[lo:hi]
}

func indentLines(s, indent string) string {
	return strings.ReplaceAll(s, "\n", "\n"+indent)
}

// run executes steps in order and returns the first divergence.
func (p *pair) run(steps []Step) *divergence {
	for i, st := range steps {
		if d := p.step(st); d != nil {
			d.Index = i
			return d
		}
	}
	return nil
}

func (p *pair) step(st Step) *divergence {
	switch st.Kind {
	case stepConn:
		p.cur = st.Conn
		return nil
	case stepSleep:
		time.Sleep(st.Sleep)
		return nil
	}
	opts := st.Opts
	var payload []byte
	var sent []string
	var key string
	if st.Kind == stepRaw {
		payload = st.Raw
	} else {
		now := time.Now()
		sent = make([]string, len(st.Args))
		for i, a := range st.Args {
			sent[i] = expandTime(a, now)
		}
		key = p.cat.key(sent)
		if opts.Mode == "" {
			if def, ok := defaultModes[key]; ok {
				opts.Mode, opts.Approx = def.Mode, def.Approx
			}
		}
		payload = EncodeCommand(sent)
	}
	n := opts.Replies
	if n < 0 {
		n = 1
	}
	var rr, nr []result
	if opts.Mode == "scanall" && st.Kind == stepCommand && n == 1 {
		both(func() { rr = []result{p.redis.scanAll(p.cur, key, sent)} },
			func() { nr = []result{p.node.scanAll(p.cur, key, sent)} })
	} else {
		both(func() { rr = p.redis.exchange(p.cur, payload, n) },
			func() { nr = p.node.exchange(p.cur, payload, n) })
	}
	d := &divergence{Step: st, Sent: sent, Opts: opts, Redis: rr, Node: nr}
	for i := range rr {
		if !equalResults(opts, rr[i], nr[i]) {
			if opts.Mode == "fields" {
				d.Note = fieldsNote(rr[i].V, nr[i].V)
			}
			return d
		}
	}
	// A step that expects no reply, or a closed connection, checks that
	// both servers agree: a stray reply would otherwise be read as the
	// next step's.
	if opts.Closed || n == 0 {
		wait := 100 * time.Millisecond
		if opts.Closed {
			wait = 300 * time.Millisecond
		}
		var rs, ns string
		both(func() { rs = p.redis.state(p.cur, wait) }, func() { ns = p.node.state(p.cur, wait) })
		if rs != ns {
			d.Note = fmt.Sprintf("connection afterwards: redis %s, node %s", rs, ns)
			return d
		}
	}
	return nil
}

// both runs f and g concurrently: the two servers get each request at
// nearly the same moment, which keeps clock-dependent replies close.
func both(f, g func()) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); f() }()
	g()
	wg.Wait()
}

// scanAll follows a SCAN-family cursor from the one given to the end and
// returns every element seen, deduplicated and sorted, as one array: the
// cursor values and the batching are the implementation's own, the set of
// elements returned is the contract.
func (e *endpoint) scanAll(conn, key string, args []string) result {
	ci, group := 2, 2
	switch key {
	case "scan":
		ci, group = 1, 1
	case "sscan":
		group = 1
	}
	if len(args) <= ci {
		return e.exchange(conn, EncodeCommand(args), 1)[0]
	}
	if args[ci] != "0" {
		// Only 0 means the same thing to every implementation; another
		// cursor's meaning is the server's own. Compare errors exactly and
		// otherwise just the [cursor, elements] shape.
		r := e.exchange(conn, EncodeCommand(args), 1)[0]
		if r.Err != "" || r.V.Type == '-' || r.V.Type != '*' || len(r.V.Elems) != 2 {
			return r
		}
		return result{V: Value{Type: '*', Elems: []Value{{Type: '_'}, {Type: '_'}}}}
	}
	seen := map[string][]Value{}
	a := append([]string(nil), args...)
	for iter := 0; ; iter++ {
		r := e.exchange(conn, EncodeCommand(a), 1)[0]
		if r.Err != "" || r.V.Type == '-' {
			return r
		}
		if iter > 100000 {
			return result{Err: "SCAN did not finish in 100000 calls"}
		}
		v := r.V
		if v.Type != '*' || len(v.Elems) != 2 || v.Elems[0].Type != '$' || v.Elems[1].Type != '*' || len(v.Elems[1].Elems)%group != 0 {
			return r
		}
		items := v.Elems[1].Elems
		for i := 0; i < len(items); i += group {
			g := items[i : i+group]
			var k []byte
			for _, x := range g {
				k = x.appendTo(k)
			}
			seen[string(k)] = g
		}
		a[ci] = v.Elems[0].Str
		if a[ci] == "0" {
			break
		}
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := Value{Type: '*', Elems: []Value{}}
	for _, k := range keys {
		out.Elems = append(out.Elems, seen[k]...)
	}
	return result{V: out}
}

// catalog is redis-server's own command list: arity and subcommands, read
// with COMMAND. It names steps ("config|get") and shapes the probes.
type catalog struct {
	arity      map[string]int
	containers map[string]bool
}

func loadCatalog(addr string) (*catalog, error) {
	e := newEndpoint("redis", addr)
	defer e.close()
	r := e.exchange("catalog", EncodeCommand([]string{"COMMAND"}), 1)[0]
	if r.Err != "" || r.V.Type != '*' {
		return nil, fmt.Errorf("COMMAND on redis-server at %s: %s", addr, r)
	}
	cat := &catalog{arity: map[string]int{}, containers: map[string]bool{}}
	var add func(entry Value)
	add = func(entry Value) {
		if entry.Type != '*' || len(entry.Elems) < 2 {
			return
		}
		name := strings.ToLower(entry.Elems[0].Str)
		var arity int
		fmt.Sscan(entry.Elems[1].Str, &arity)
		cat.arity[name] = arity
		if len(entry.Elems) >= 10 && len(entry.Elems[9].Elems) > 0 {
			cat.containers[name] = true
			for _, sub := range entry.Elems[9].Elems {
				add(sub)
			}
		}
	}
	for _, entry := range r.V.Elems {
		add(entry)
	}
	if len(cat.arity) < 100 {
		return nil, fmt.Errorf("COMMAND on redis-server listed only %d commands", len(cat.arity))
	}
	return cat, nil
}

// names returns every command and subcommand name, sorted.
func (c *catalog) names() []string {
	out := make([]string, 0, len(c.arity))
	for name := range c.arity {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// key names the command args run: "get", or "config|get" for a
// container's subcommand.
func (c *catalog) key(args []string) string {
	if len(args) == 0 {
		return ""
	}
	name := strings.ToLower(args[0])
	if c.containers[name] && len(args) > 1 {
		sub := name + "|" + strings.ToLower(args[1])
		if _, ok := c.arity[sub]; ok {
			return sub
		}
	}
	return name
}

// prober finds out which commands a node serves: it sends each one with a
// wrong number of arguments (so nothing runs) and reads "unknown command"
// or "unknown subcommand" as not served, an arity error as served.
// Commands whose arity allows no wrong count (-1) run bare: all of them are
// harmless on the prober's own throwaway node except SHUTDOWN.
type prober struct {
	addr  string
	cat   *catalog
	mu    sync.Mutex
	cache map[string]bool
}

func newProber(nodeAddr string, cat *catalog) *prober {
	return &prober{addr: nodeAddr, cat: cat, cache: map[string]bool{}}
}

func (p *prober) served(key string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if v, ok := p.cache[key]; ok {
		return v
	}
	v := p.probe(key)
	p.cache[key] = v
	return v
}

func (p *prober) probe(key string) bool {
	arity, known := p.cat.arity[key]
	if !known {
		// Not a Redis command either: both servers must refuse it alike.
		return true
	}
	if key == "shutdown" {
		return false
	}
	args := strings.Split(strings.ToUpper(key), "|")
	switch {
	case arity > 0:
		for len(args) < arity+1 {
			args = append(args, "x")
		}
	case -arity-1 >= len(args):
		for len(args) < -arity-1 {
			args = append(args, "x")
		}
	}
	e := newEndpoint("node", p.addr)
	defer e.close()
	r := e.exchange("probe", EncodeCommand(args), 1)[0]
	if r.Err != "" {
		return r.Err == "closed"
	}
	if r.V.Type == '-' && (strings.HasPrefix(r.V.Str, "ERR unknown command") || strings.HasPrefix(r.V.Str, "ERR unknown subcommand")) {
		return false
	}
	return true
}

// unserved lists the commands of steps that the node does not serve.
func (p *prober) unserved(steps []Step) []string {
	var out []string
	seen := map[string]bool{}
	for _, st := range steps {
		if st.Kind != stepCommand {
			continue
		}
		k := p.cat.key(st.Args)
		if seen[k] {
			continue
		}
		seen[k] = true
		if !p.served(k) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// writeRepro saves steps as a script and returns its path, so a random
// run's divergence can be replayed or turned into a testdata case.
func writeRepro(name string, header string, steps []Step) (string, error) {
	f, err := os.CreateTemp("", "keyfleet-compat-"+name+"-*.txt")
	if err != nil {
		return "", fmt.Errorf("save reproduction: %w", err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	for _, line := range strings.Split(strings.TrimRight(header, "\n"), "\n") {
		fmt.Fprintf(w, "# %s\n", line)
	}
	fmt.Fprintf(w, "=== %s\n", name)
	for _, st := range steps {
		fmt.Fprintln(w, FormatStep(st))
	}
	if err := w.Flush(); err != nil {
		return "", fmt.Errorf("save reproduction: %w", err)
	}
	return f.Name(), nil
}
