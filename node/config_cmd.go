package node

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// CONFIG GET|SET|RESETSTAT|REWRITE|HELP, the appliers that make CONFIG SET
// take effect, and the gates of the protected actions (DEBUG, MODULE,
// protected configs).

func init() {
	register(map[string]handler{
		"config|get":       configGetCommand,
		"config|set":       configSetCommand,
		"config|resetstat": configResetStatCommand,
		"config|rewrite":   configRewriteCommand,
		"config|help":      configHelpCommand,
	})
	serverInits = append(serverInits, func(s *Server) {
		if s.cfg.extra == nil {
			s.cfg.extra = make(map[string]any)
		}
		// A Config filled in by code (tests, managed mode) may have set the
		// string without the parsed flags.
		if notifyFlagsString(s.cfg.notifyFlags) != s.cfg.NotifyKeyspaceEvents {
			f, _ := parseNotifyFlags(s.cfg.NotifyKeyspaceEvents)
			s.cfg.notifyFlags = f
		}
		s.notifyFlags = s.cfg.notifyFlags
		s.cfg.Hz = clampHz(s.cfg.Hz)
		s.hooks.cron = append(s.hooks.cron, s.closeIdleClients)
		if err := s.setOOMScoreAdj(); err != nil {
			s.log.Warn("unable to set oom_score_adj", "err", err)
		}
	})
}

// oomState remembers the process's own oom_score_adj while the server
// adjusts it, to restore it when oom-score-adj goes back to "no".
type oomState struct {
	adjusted bool
	base     int
}

// oomScoreFile is where Linux takes a process's OOM score adjustment.
const oomScoreFile = "/proc/self/oom_score_adj"

// setOOMScoreAdj applies oom-score-adj and oom-score-adj-values to the
// process, as Redis's setOOMScoreAdj: "relative" adds the value for the
// server's role to the score the process had, "absolute" sets it.
func (s *Server) setOOMScoreAdj() error {
	st, _ := s.ext["oom"].(*oomState)
	if st == nil {
		st = &oomState{}
		s.ext["oom"] = st
	}
	mode, _ := s.cfg.extra["oom-score-adj"].(int)
	var val int
	switch {
	case mode != 0:
		if !st.adjusted {
			data, err := os.ReadFile(oomScoreFile)
			if err != nil {
				return fmt.Errorf("read oom_score_adj: %w", err)
			}
			base, err := strconv.Atoi(strings.TrimSpace(string(data)))
			if err != nil {
				return fmt.Errorf("read oom_score_adj: %w", err)
			}
			st.adjusted, st.base = true, base
		}
		class := 0
		if s.isReplica() || s.cfg.ReplicaOf.Host != "" {
			class = 1
		}
		val = int(oomValuesKind{}.load(s.cfg)[class])
		if mode == 1 { // relative
			val += st.base
		}
		val = min(max(val, -1000), 1000)
	case st.adjusted:
		st.adjusted = false
		val = st.base
	default:
		return nil
	}
	if err := os.WriteFile(oomScoreFile, []byte(strconv.Itoa(val)+"\n"), 0); err != nil {
		return fmt.Errorf("write oom_score_adj: %w", err)
	}
	return nil
}

// closeIdleClients closes the connections idle for more than "timeout"
// seconds, as Redis's clientsCronHandleTimeout: replicas, primaries,
// blocked and subscribed clients are exempt.
func (s *Server) closeIdleClients(now time.Time) {
	if s.cfg.Timeout <= 0 {
		return
	}
	limit := time.Duration(s.cfg.Timeout) * time.Second
	for _, c := range s.clients {
		if c.flags&(flagReplica|flagPrimary|flagBlocked|flagPubSub) != 0 || now.Sub(c.lastActive) <= limit {
			continue
		}
		s.log.Debug("closing idle client", "id", c.ID, "addr", c.addr)
		if c.nc != nil {
			c.nc.Close()
		}
	}
}

// configHooks are subsystem reactions to a changed parameter (AOF starting
// on "appendonly yes", eviction on a lower maxmemory, ...), registered
// from init functions with onConfigSet. They run after the parameter's own
// applier; an error fails the CONFIG SET, which is then rolled back.
var configHooks = map[string][]func(s *Server) error{}

// onConfigSet registers fn to run when CONFIG SET changes the parameter
// name (its primary name). Call it from init functions only.
func onConfigSet(name string, fn func(s *Server) error) {
	if lookupConfig(name) == nil {
		panic("node: onConfigSet for unknown parameter " + name)
	}
	configHooks[name] = append(configHooks[name], fn)
}

var (
	applyHz = &applier{name: "hz", fn: func(s *Server) error {
		// Redis takes hz as a hint and clamps it.
		s.cfg.Hz = clampHz(s.cfg.Hz)
		return nil
	}}
	applyMaxMemory = &applier{name: "maxmemory", fn: func(s *Server) error {
		if mm := uint64(s.cfg.MaxMemory); mm != 0 {
			if used := s.usedMemory(); uint64(used) > mm {
				s.log.Warn("the new maxmemory value set via CONFIG SET is smaller than the current memory usage: keys will be evicted or writes refused, depending on maxmemory-policy",
					"maxmemory", mm, "used", used)
			}
		}
		return nil
	}}
	applyRequirePass = &applier{name: "requirepass", fn: func(s *Server) error {
		// Like Redis's default user: clearing the password lets every
		// connection in; setting one keeps connections already in.
		if s.cfg.RequirePass == "" {
			for _, c := range s.clients {
				c.authenticated = true
			}
		}
		return nil
	}}
	applyReplBacklogSize = &applier{name: "repl-backlog-size", fn: func(s *Server) error {
		// resizeReplicationBacklog's floor.
		s.cfg.ReplBacklogSize = max(s.cfg.ReplBacklogSize, 16*1024)
		return nil
	}}
	applyOOMScoreAdj = &applier{name: "oom-score-adj", fn: func(s *Server) error {
		if err := s.setOOMScoreAdj(); err != nil {
			s.log.Warn("unable to set oom_score_adj", "err", err)
			return errors.New("Failed to set current oom_score_adj. Check server logs.")
		}
		return nil
	}}
	applyKeepAlive = &applier{name: "tcp-keepalive", fn: func(s *Server) error {
		if ls, ok := s.ln.(*listenerSet); ok {
			ls.keepAlive.Store(int64(s.cfg.TCPKeepalive))
		}
		return nil
	}}
	applyLogLevel = &applier{name: "loglevel", fn: func(s *Server) error {
		if lv, ok := s.ext[logLevelExt].(*slog.LevelVar); ok {
			lv.Set(slogLevel(s.cfg.LogLevel))
		}
		return nil
	}}
	applyNotify = &applier{name: "notify-keyspace-events", fn: func(s *Server) error {
		s.notifyFlags = s.cfg.notifyFlags
		return nil
	}}
	applyPort = &applier{name: "port", fn: func(s *Server) error {
		if err := s.rebind(); err != nil {
			s.log.Warn("could not listen on the new port", "port", s.cfg.Port, "err", err)
			return errors.New("Unable to listen on this port. Check server logs.")
		}
		return nil
	}}
	applyBind = &applier{name: "bind", fn: func(s *Server) error {
		if err := s.rebind(); err != nil {
			s.log.Warn("could not bind the new addresses", "bind", s.cfg.Bind, "err", err)
			return errors.New("Failed to bind to specified addresses.")
		}
		return nil
	}}
)

func configHelpCommand(s *Server, c *Client, args [][]byte) {
	replyHelp(c, args[0], []string{
		"GET <pattern>",
		"    Return parameters matching the glob-like <pattern> and their values.",
		"SET <directive> <value>",
		"    Set the configuration <directive> to <value>.",
		"RESETSTAT",
		"    Reset statistics reported by the INFO command.",
		"REWRITE",
		"    Rewrite the configuration file.",
	})
}

// configGetCommand is CONFIG GET pattern [pattern ...]: a map of every
// matching parameter (aliases included) to its value. Hidden parameters
// answer only when named exactly.
func configGetCommand(s *Server, c *Client, args [][]byte) {
	type kv struct{ k, v string }
	var out []kv
	seen := make(map[string]bool)
	add := func(name string, p *configParam) {
		if seen[name] {
			return
		}
		seen[name] = true
		out = append(out, kv{name, p.kind.get(s.cfg)})
	}
	for _, a := range args[2:] {
		pat := string(a)
		if !strings.ContainsAny(pat, "[*?") {
			if p := lookupConfig(pat); p != nil {
				add(pat, p)
			}
			continue
		}
		for _, name := range configNames {
			p := configIndex[name]
			if p.has(cfgHidden) || seen[name] {
				continue
			}
			if globMatch(pat, name, true) {
				add(name, p)
			}
		}
	}
	c.MapLen(len(out))
	for _, e := range out {
		c.BulkString(e.k)
		c.BulkString(e.v)
	}
}

// configSetCommand is CONFIG SET name value [name value ...]: all or
// nothing. Every value is checked and set first; then the appliers run;
// any failure restores the previous configuration and re-applies it.
func configSetCommand(s *Server, c *Client, args [][]byte) {
	if len(args)%2 != 0 {
		c.Error(errSyntax)
		return
	}
	if msg := s.configSet(c, args[2:]); msg != "" {
		c.Error(msg)
		return
	}
	c.OK()
}

// ConfigSet changes parameters of a running shard as CONFIG SET does
// (name, value, name, value...): all or nothing, with the same checks,
// appliers and rollback; protected parameters are allowed. The error is
// CONFIG SET's message.
func (s *Server) ConfigSet(pairs ...string) error {
	if len(pairs)%2 != 0 {
		return errors.New(errSyntax)
	}
	args := make([][]byte, len(pairs))
	for i, p := range pairs {
		args[i] = []byte(p)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if msg := s.configSet(nil, args); msg != "" {
		return errors.New(msg)
	}
	return nil
}

// configSet is CONFIG SET on name/value pairs; c is nil for the engine's
// own callers. It returns the error reply, or "" when it succeeded.
func (s *Server) configSet(c *Client, args [][]byte) string {
	n := len(args) / 2
	params := make([]*configParam, n)
	// names are the registered names the arguments matched: an alias is a
	// parameter of its own for messages and duplicate checks, as in Redis.
	names := make([]string, n)
	var (
		invalidName  string // first unknown parameter
		errArg       string
		errMsg       string
		invalid      bool
		loadingError bool
	)
	for i := 0; i < n; i++ {
		name := string(args[2*i])
		p := lookupConfig(name)
		if p == nil {
			if !invalid {
				invalidName = name
				invalid = true
			}
			continue
		}
		// Sensitive values stay out of SLOWLOG and MONITOR even when the
		// command fails.
		if p.has(cfgSensitive) && c != nil {
			c.redact(3 + 2*i)
		}
		if invalid {
			continue
		}
		if p.has(cfgImmutable) || (p.has(cfgProtected) && c != nil && !s.protectedAllowed(s.cfg.EnableProtectedConfigs, c)) {
			errMsg = "can't set protected config"
			if p.has(cfgImmutable) {
				errMsg = "can't set immutable config"
			}
			errArg, invalid = name, true
			continue
		}
		if p.has(cfgDenyLoading) && s.isLoading() {
			loadingError, invalid = true, true
			continue
		}
		canonical := p.name
		if strings.EqualFold(name, p.alias) {
			canonical = p.alias
		}
		if slices.Contains(names[:i], canonical) {
			errMsg, errArg, invalid = "duplicate parameter", name, true
		}
		params[i], names[i] = p, canonical
	}
	fail := func() string {
		switch {
		case loadingError:
			return errLoading
		case invalidName != "":
			return fmt.Sprintf("ERR Unknown option or number of arguments for CONFIG SET - '%s'", invalidName)
		case errMsg != "":
			return fmt.Sprintf("ERR CONFIG SET failed (possibly related to argument '%s') - %s", errArg, errMsg)
		}
		return fmt.Sprintf("ERR CONFIG SET failed (possibly related to argument '%s')", errArg)
	}
	if invalid {
		return fail()
	}

	backup := s.cfg.Clone()
	var appliers []*applier
	var applierName []string
	var hooked []*configParam
	for i, p := range params {
		changed, err := p.setArgs(s.cfg, splitConfigSetValue(p, string(args[2*i+1])), nil)
		if err != nil {
			*s.cfg = *backup
			errArg, errMsg = names[i], err.Error()
			return fail()
		}
		if !changed {
			continue
		}
		if p.apply != nil && !slices.Contains(appliers, p.apply) {
			appliers = append(appliers, p.apply)
			applierName = append(applierName, names[i])
		}
		if len(configHooks[p.name]) > 0 && !slices.Contains(hooked, p) {
			hooked = append(hooked, p)
		}
	}
	restore := func() {
		*s.cfg = *backup
		for _, a := range appliers {
			if err := a.fn(s); err != nil {
				s.log.Warn("failed applying restored configuration after a failed CONFIG SET", "applier", a.name, "err", err)
			}
		}
		for _, p := range hooked {
			for _, h := range configHooks[p.name] {
				if err := h(s); err != nil {
					s.log.Warn("failed applying restored configuration after a failed CONFIG SET", "param", p.name, "err", err)
				}
			}
		}
	}
	for i, a := range appliers {
		if err := a.fn(s); err != nil {
			s.log.Warn("failed applying new configuration; restoring previous settings", "param", applierName[i], "err", err)
			restore()
			errArg, errMsg = applierName[i], err.Error()
			return fail()
		}
	}
	for _, p := range hooked {
		for _, h := range configHooks[p.name] {
			if err := h(s); err != nil {
				s.log.Warn("failed applying new configuration; restoring previous settings", "param", p.name, "err", err)
				restore()
				errArg, errMsg = p.name, err.Error()
				return fail()
			}
		}
	}
	return ""
}

// splitConfigSetValue splits a CONFIG SET value for a multi-argument
// parameter on single spaces, as Redis's sdssplitlen (so "" is no
// arguments and "a  b" has an empty one).
func splitConfigSetValue(p *configParam, v string) []string {
	if !p.has(cfgMultiArg) {
		return []string{v}
	}
	if v == "" {
		return nil
	}
	return strings.Split(v, " ")
}

func configResetStatCommand(s *Server, c *Client, args [][]byte) {
	s.resetStats()
	c.OK()
}

func configRewriteCommand(s *Server, c *Client, args [][]byte) {
	if s.cfg.ConfigFile == "" {
		c.Error("ERR The server is running without a config file")
		return
	}
	if err := rewriteConfig(s.cfg, s.cfg.ConfigFile, false); err != nil {
		s.log.Warn("CONFIG REWRITE failed", "err", err)
		c.Error("ERR Rewriting config file: " + strerror(err))
		return
	}
	s.log.Warn("CONFIG REWRITE executed with success.")
	c.OK()
}

// rewriteConfigForceAll writes every parameter to the config file, also
// those at their defaults (DEBUG CONFIG-REWRITE-FORCE-ALL).
func (s *Server) rewriteConfigForceAll() error {
	if s.cfg.ConfigFile == "" {
		return errors.New("The server is running without a config file")
	}
	return rewriteConfig(s.cfg, s.cfg.ConfigFile, true)
}

// resetStats zeroes what CONFIG RESETSTAT resets: the stats counters,
// command and error statistics (with their latency histograms), and the
// instantaneous samples. Subsystems with counters of their own register a
// resetter with onResetStat.
func (s *Server) resetStats() {
	s.stats.totalConnections = 0
	s.stats.totalCommands = 0
	s.stats.rejectedConns = 0
	s.stats.expiredKeys = 0
	s.stats.evictedKeys = 0
	s.stats.keyspaceHits = 0
	s.stats.keyspaceMisses = 0
	s.stats.totalErrors = 0
	s.stats.netInput = 0
	s.stats.netOutput = 0
	if ls, ok := s.ln.(*listenerSet); ok {
		ls.netIn.Store(0)
		ls.netOut.Store(0)
	}
	s.stats.errorCounts = make(map[string]int64)
	s.stats.cmdStats = make(map[string]*cmdStat)
	s.infoState().resetSamples()
	s.resetLazyfreeStats()
	if st := s.expireState(); st != nil {
		st.stalePerc, st.timeCapCount, st.cycleTime = 0, 0, 0
	}
	for _, f := range statResetters {
		f(s)
	}
}

// statResetters are the subsystems' parts of CONFIG RESETSTAT.
var statResetters []func(s *Server)

// onResetStat registers a CONFIG RESETSTAT hook; init functions only.
func onResetStat(fn func(s *Server)) { statResetters = append(statResetters, fn) }

// isLoading reports whether a dataset is being loaded (persistence sets
// the "loading" entry of s.ext while it loads).
func (s *Server) isLoading() bool {
	l, _ := s.ext["loading"].(func() bool)
	return l != nil && l()
}

// protectedAllowed is Redis's allowProtectedAction for a yes|no|local
// setting: "local" allows loopback (and unix socket) clients only.
func (s *Server) protectedAllowed(setting string, c *Client) bool {
	switch setting {
	case "yes":
		return true
	case "local":
		return c.isLocal()
	}
	return false
}

// isLocal reports whether the client connects from the loopback address.
func (c *Client) isLocal() bool {
	if c.nc != nil {
		if _, ok := c.nc.RemoteAddr().(*net.UnixAddr); ok {
			return true
		}
	}
	host, _, err := net.SplitHostPort(c.addr)
	if err != nil {
		return false
	}
	return host == "127.0.0.1" || host == "::1"
}

// errDebugNotAllowed is DEBUG's refusal when enable-debug-command forbids it.
const errDebugNotAllowed = "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server."

// errModuleNotAllowed is MODULE's refusal when enable-module-command forbids it.
const errModuleNotAllowed = "ERR MODULE command not allowed. If the enable-module-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server."

// debugAllowed reports whether c may run DEBUG (enable-debug-command).
func (s *Server) debugAllowed(c *Client) bool {
	return s.protectedAllowed(s.cfg.EnableDebugCommand, c)
}

// moduleAllowed reports whether c may run MODULE (enable-module-command).
func (s *Server) moduleAllowed(c *Client) bool {
	return s.protectedAllowed(s.cfg.EnableModuleCommand, c)
}

// ---- listeners ----

// listenerSet is the server's listener: one socket per bind address, all
// feeding one Accept, so that CONFIG SET port/bind can move the server to
// new sockets while redcon keeps serving the same listener (and existing
// connections stay open, as in Redis).
type listenerSet struct {
	// netIn and netOut count the bytes read from and written to the
	// connections accepted here (INFO total_net_input/output_bytes).
	netIn, netOut atomic.Int64
	// keepAlive is tcp-keepalive in seconds (0: off) for new connections.
	keepAlive atomic.Int64

	mu      sync.Mutex
	lns     []net.Listener
	ch      chan net.Conn
	done    chan struct{}
	closed  bool
	unix    net.Listener // the unix socket, kept across port/bind changes
	addr    net.Addr
	port    int
	binds   []string
	lastErr error
}

// openListeners opens the configured TCP sockets and unix socket.
func (s *Server) openListeners() (*listenerSet, error) {
	l := &listenerSet{ch: make(chan net.Conn), done: make(chan struct{})}
	l.keepAlive.Store(int64(s.cfg.TCPKeepalive))
	if err := l.replace(s.cfg.Bind, s.cfg.Port); err != nil {
		return nil, err
	}
	if p := s.cfg.UnixSocket; p != "" {
		if err := l.listenUnix(p, s.cfg.UnixSocketPerm); err != nil {
			l.Close()
			return nil, err
		}
	}
	return l, nil
}

// listenUnix adds the unix socket; a stale socket file is replaced, as
// Redis unlinks it before binding.
func (l *listenerSet) listenUnix(path string, perm int64) error {
	os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("listen on unix socket %s: %w", path, err)
	}
	if perm != 0 {
		if err := os.Chmod(path, os.FileMode(perm)); err != nil {
			ln.Close()
			return fmt.Errorf("chmod unix socket %s: %w", path, err)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.unix = ln
	go l.acceptLoop(ln)
	return nil
}

// replace opens sockets for binds/port, then closes the old ones. On
// error the old sockets keep serving. Port 0 picks a free port.
func (l *listenerSet) replace(binds []string, port int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return net.ErrClosed
	}
	if port == l.port && slices.Equal(binds, l.binds) && (len(l.lns) > 0 || len(binds) == 0) {
		return nil
	}
	var opened []net.Listener
	for _, b := range binds {
		optional := strings.HasPrefix(b, "-")
		host := strings.TrimPrefix(b, "-")
		network := "tcp4"
		switch {
		case host == "*":
			host = "0.0.0.0"
		case host == "::*":
			network, host = "tcp6", "::"
		case strings.Contains(host, ":"):
			network = "tcp6"
		}
		p := port
		if p == 0 && len(opened) > 0 {
			p = opened[0].Addr().(*net.TCPAddr).Port
		}
		ln, err := net.Listen(network, net.JoinHostPort(host, strconv.Itoa(p)))
		if err != nil {
			if (optional && errors.Is(err, syscall.EADDRNOTAVAIL)) || errors.Is(err, syscall.EAFNOSUPPORT) ||
				errors.Is(err, syscall.EPROTONOSUPPORT) || errors.Is(err, syscall.ENOPROTOOPT) {
				continue
			}
			for _, o := range opened {
				o.Close()
			}
			return fmt.Errorf("listen on %s:%d: %w", host, p, err)
		}
		opened = append(opened, ln)
	}
	old := l.lns
	l.lns = opened
	l.binds = slices.Clone(binds)
	l.port = port
	l.addr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
	if len(opened) > 0 {
		l.addr = opened[0].Addr()
	}
	for _, ln := range opened {
		go l.acceptLoop(ln)
	}
	for _, ln := range old {
		ln.Close()
	}
	return nil
}

// acceptLoop forwards connections from one socket until it is retired.
func (l *listenerSet) acceptLoop(ln net.Listener) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			l.mu.Lock()
			l.lastErr = err
			l.mu.Unlock()
			continue
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			setKeepAlive(tc, l.keepAlive.Load())
		}
		select {
		case l.ch <- &countingConn{Conn: conn, in: &l.netIn, out: &l.netOut}:
		case <-l.done:
			conn.Close()
			return
		}
	}
}

func (l *listenerSet) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *listenerSet) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	close(l.done)
	for _, ln := range l.lns {
		ln.Close()
	}
	l.lns = nil
	if l.unix != nil {
		l.unix.Close() // removes the socket file
	}
	return nil
}

// Addr is the first socket's address (what Server.Addr reports).
func (l *listenerSet) Addr() net.Addr {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.addr
}

// setKeepAlive configures TCP keepalive as Redis's anetKeepAlive: probes
// after secs of idleness, every secs/3, three of them.
func setKeepAlive(tc *net.TCPConn, secs int64) {
	if secs <= 0 {
		tc.SetKeepAlive(false)
		return
	}
	d := time.Duration(secs) * time.Second
	tc.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true, Idle: d, Interval: max(d/3, time.Second), Count: 3})
}

// countingConn counts a connection's traffic into its listener's totals.
type countingConn struct {
	net.Conn
	in, out *atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.in.Add(int64(n))
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.out.Add(int64(n))
	return n, err
}

// SyscallConn exposes the socket (CLIENT LIST's fd).
func (c *countingConn) SyscallConn() (syscall.RawConn, error) {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return nil, errors.New("not a socket")
	}
	return sc.SyscallConn()
}

// netBytes returns the bytes read and written on client connections since
// start (or CONFIG RESETSTAT).
func (s *Server) netBytes() (in, out int64) {
	in, out = s.stats.netInput, s.stats.netOutput
	if ls, ok := s.ln.(*listenerSet); ok {
		in += ls.netIn.Load()
		out += ls.netOut.Load()
	}
	return in, out
}

// rebind moves the server to the configured port and bind addresses.
func (s *Server) rebind() error {
	ls, ok := s.ln.(*listenerSet)
	if !ok {
		return errors.New("the listener cannot be changed while running")
	}
	return ls.replace(s.cfg.Bind, s.cfg.Port)
}

// ---- rename-command ----

// renameExt holds a server's rename-command overrides: name → command,
// nil for a name renamed away.
const renameExt = "renames"

func init() {
	serverInits = append(serverInits, func(s *Server) {
		if len(s.cfg.RenameCommands) == 0 {
			return
		}
		over := make(map[string]*command)
		for _, r := range s.cfg.RenameCommands {
			from := strings.ToLower(r.From)
			cmd, ok := over[from]
			if !ok {
				cmd = lookupCommand([]byte(from))
			}
			over[from] = nil
			if r.To != "" && cmd != nil {
				over[strings.ToLower(r.To)] = cmd
			}
		}
		s.ext[renameExt] = over
	})
}

// lookupCommand finds the command a client names, through the server's
// rename-command directives.
func (s *Server) lookupCommand(name []byte) *command {
	if len(s.cfg.RenameCommands) == 0 { // the hot path: no map lookups
		return lookupCommand(name)
	}
	over, ok := s.ext[renameExt].(map[string]*command)
	if !ok {
		return lookupCommand(name)
	}
	if cmd, renamed := over[strings.ToLower(string(name))]; renamed {
		return cmd
	}
	return lookupCommand(name)
}

// errProtectedMode is Redis's refusal of a remote connection in protected
// mode, byte for byte.
const errProtectedMode = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n"

// protectedModeDenies refuses (and answers) a connection from outside the
// loopback interface while protected-mode is on and no password is set,
// as Redis's clientAcceptHandler. Called with s.mu held.
func (s *Server) protectedModeDenies(nc net.Conn) bool {
	if !s.cfg.ProtectedMode || s.cfg.RequirePass != "" || nc == nil {
		return false
	}
	if (&Client{nc: nc, addr: nc.RemoteAddr().String()}).isLocal() {
		return false
	}
	nc.Write([]byte(errProtectedMode))
	s.stats.rejectedConns++
	return true
}
