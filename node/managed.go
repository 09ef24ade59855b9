package node

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/keyfleet/keyfleet/internal/commands"
)

// This file is the engine's surface for managed mode (node/host): the host
// runs many Servers in one process and changes or inspects them from its
// own goroutine, so every method here takes the shard lock like a command.

// ManagedSettings are the parts of a shard's configuration that the host
// changes on a running engine without restarting it. They go through the
// configuration registry, so they are checked and take effect exactly as
// CONFIG SET of the same directives would.
type ManagedSettings struct {
	MaxMemory       int64  // bytes; 0 means no limit
	MaxMemoryPolicy string // one of Redis's eight policies
	RequirePass     string
	AppendOnly      bool
	AppendFsync     string // always | everysec | no
	// Save is the snapshot schedule as the save directive takes it,
	// e.g. "3600 1 300 100"; "" turns snapshots off.
	Save string
}

// directives lists the settings as CONFIG SET name/value pairs.
func (m ManagedSettings) directives() [][2]string {
	yesNo := "no"
	if m.AppendOnly {
		yesNo = "yes"
	}
	return [][2]string{
		{"maxmemory", strconv.FormatInt(m.MaxMemory, 10)},
		{"maxmemory-policy", m.MaxMemoryPolicy},
		{"requirepass", m.RequirePass},
		{"appendonly", yesNo},
		{"appendfsync", m.AppendFsync},
		{"save", m.Save},
	}
}

// Apply writes the settings into a Config that has not been started yet,
// checking each as a config file line.
func (m ManagedSettings) Apply(cfg *Config) error {
	if m.MaxMemory < 0 {
		return fmt.Errorf("maxmemory %d is negative", m.MaxMemory)
	}
	for _, d := range m.directives() {
		args := strings.Fields(d[1])
		if d[0] != "save" {
			args = []string{d[1]}
		} else if len(args) == 0 {
			args = []string{""}
		}
		if err := cfg.Set(d[0], args...); err != nil {
			return fmt.Errorf("%s %q: %w", d[0], d[1], err)
		}
	}
	return nil
}

// Validate checks the settings without applying them anywhere.
func (m ManagedSettings) Validate() error { return m.Apply(DefaultConfig()) }

// Reconfigure changes a running shard's settings between two commands, as
// one CONFIG SET of all of them: either all apply (with their side effects,
// such as AOF starting) or, when one fails, none. As with CONFIG SET
// requirepass, connections that already authenticated stay in after a
// password change.
func (s *Server) Reconfigure(m ManagedSettings) error {
	if m.MaxMemory < 0 {
		return fmt.Errorf("reconfigure shard: maxmemory %d is negative", m.MaxMemory)
	}
	args := [][]byte{[]byte("config"), []byte("set")}
	for _, d := range m.directives() {
		args = append(args, []byte(d[0]), []byte(d[1]))
	}
	// An internal client: no connection, no stats, invisible to MONITOR.
	c := &Client{resp: 2, authenticated: true, addr: "managed:0"}
	s.mu.Lock()
	s.updateClock(time.Now())
	configSetCommand(s, c, args)
	s.mu.Unlock()
	if len(c.out) > 0 && c.out[0] == '-' {
		return fmt.Errorf("reconfigure shard: %s", strings.TrimSpace(string(c.out[1:])))
	}
	return nil
}

// ReplicaOf makes the shard a replica of primary ("host:port"), with
// auth as masterauth (a managed shard's replicas use the database's
// password, which is also the primary's requirepass); or, with primary
// empty, a primary: ReplicaOf("", "") is REPLICAOF NO ONE (promotion:
// the data stays, the replication id shifts so that the other replicas
// continue with a partial resync). Asking again for the primary being
// followed changes nothing. Once the host has set a role, REPLICAOF from
// clients is refused: the control plane owns it.
func (s *Server) ReplicaOf(primary, auth string) error {
	var host string
	var port int
	if primary != "" {
		h, p, err := net.SplitHostPort(primary)
		if err != nil {
			return fmt.Errorf("replicaof %q: %w", primary, err)
		}
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 || n > 65535 {
			return fmt.Errorf("replicaof %q: invalid port", primary)
		}
		host, port = h, n
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.updateClock(time.Now())
	s.replica().managedRole = true
	if host == "" {
		if s.cfg.ReplicaOf.Host != "" {
			s.unsetPrimary()
			s.log.Info("MASTER MODE enabled (control plane)")
		}
		return nil
	}
	authChanged := s.cfg.MasterAuth != auth
	s.cfg.MasterAuth = auth
	if s.cfg.ReplicaOf.Host == host && s.cfg.ReplicaOf.Port == port && !authChanged {
		return nil
	}
	s.setPrimary(host, port)
	s.log.Info(fmt.Sprintf("REPLICAOF %s:%d enabled (control plane)", host, port))
	return nil
}

// ManagedStatus is a snapshot of what the host reports for a shard.
type ManagedStatus struct {
	Role             string // "primary" | "replica"
	ReplOffset       int64
	UsedMemory       int64
	MaxMemory        int64
	Keys             int64 // in all logical databases, expired-but-not-reclaimed included, as DBSIZE
	TotalCommands    int64
	ConnectedClients int
	// On a replica: whether it streams from its primary (INFO's
	// master_link_status:up) and whether a full sync is under way
	// (master_sync_in_progress). A replica whose link is down may hold
	// any old offset: it is no candidate for promotion.
	MasterLinkUp   bool
	SyncInProgress bool
	// MasterLastIO is when the primary last sent the replica something
	// (zero when the link is not streaming).
	MasterLastIO time.Time
	// On a primary: its write lease ran out, so it refuses writes.
	LeaseExpired bool
}

// Status takes a snapshot of the shard's state under its lock.
func (s *Server) Status() ManagedStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := ManagedStatus{
		Role:             "primary",
		MaxMemory:        s.cfg.MaxMemory,
		TotalCommands:    s.stats.totalCommands,
		ConnectedClients: len(s.clients),
		UsedMemory:       s.usedMemory(),
		// The offset the control plane compares to pick the most
		// up-to-date replica: on a replica, what it applied.
		ReplOffset: s.replOffset(),
	}
	if s.isReplica() {
		st.Role = "replica"
		st.MasterLinkUp = s.replLinkUp()
		st.SyncInProgress = s.replica().state == replTransfer
		if st.MasterLinkUp {
			st.MasterLastIO = s.replica().lastIO
		}
	} else {
		st.LeaseExpired = s.leaseExpired()
	}
	for _, db := range s.dbs {
		st.Keys += int64(db.ks.Len())
	}
	return st
}

// ---- Write lease (self-fencing) -----------------------------------------

// A managed primary cut off from the control plane may already have been
// replaced: a replica promoted elsewhere takes the writes, and any write
// the old primary still accepted would be lost when it rejoins as a
// replica. So the host renews a write lease each time a heartbeat
// succeeds, and once the lease runs out the primary refuses writes
// (-READONLY, which the proxy retries on the shard's current primary)
// until the next renewal. Reads go on. The lease must end well before the
// control plane declares the node down, so that no two primaries of a
// shard accept writes at once.

const errLeaseExpired = "READONLY You can't write against a primary whose write lease expired (no contact with the control plane)."

// writeLease is the lease's state; until is zero when none was ever
// granted (unmanaged servers, or a host with leases turned off).
type writeLease struct {
	until time.Time
}

func init() {
	serverInits = append(serverInits, func(s *Server) { s.ext["writelease"] = &writeLease{} })
	interceptors = append(interceptors, leaseInterceptor)
}

func (s *Server) writeLease() *writeLease { return s.ext["writelease"].(*writeLease) }

// RenewWriteLease lets the shard accept writes until the given time; the
// zero time turns the lease off (writes are never refused for it).
func (s *Server) RenewWriteLease(until time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.writeLease()
	if !until.IsZero() && !l.until.IsZero() && time.Now().After(l.until) {
		s.log.Info("write lease renewed after it expired: accepting writes again")
	}
	l.until = until
}

// leaseExpired reports whether a granted lease ran out.
func (s *Server) leaseExpired() bool {
	l := s.writeLease()
	return !l.until.IsZero() && !time.Now().Before(l.until)
}

// leaseInterceptor refuses client writes on a primary whose lease ran
// out. The replication stream and the AOF being loaded are obeyed.
func leaseInterceptor(s *Server, c *Client, cmd *command, args [][]byte) bool {
	if c.flags&(flagPrimary|flagLuaClient) != 0 || s.isReplica() || !s.leaseExpired() || s.persist().loading {
		return false
	}
	if s.commandFlags(c, cmd, args)&commands.Write == 0 {
		return false
	}
	s.rejectCommand(c, cmd, errLeaseExpired)
	return true
}

// ---- Hand-over (managed FAILOVER) ----------------------------------------

// HandOver demotes this primary to a replica of target ("host:port", one
// of its replicas) as FAILOVER TO does, so that no acknowledged write is
// lost: writes pause, the target acknowledges the whole stream, and this
// server asks it with PSYNC FAILOVER to lead, which promotes it at once
// (without waiting for its host's heartbeat). It returns once the target
// leads, or with an error (the target is not an online replica, did not
// catch up within timeout, or refused) after which this server is still
// the primary and writes resume; the caller then demotes it plainly.
func (s *Server) HandOver(ctx context.Context, target, auth string, timeout time.Duration) error {
	h, p, err := net.SplitHostPort(target)
	if err != nil {
		return fmt.Errorf("hand over to %q: %w", target, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return fmt.Errorf("hand over to %q: invalid port", target)
	}
	s.mu.Lock()
	s.updateClock(time.Now())
	switch {
	case s.isReplica():
		s.mu.Unlock()
		return fmt.Errorf("hand over to %s: this shard is a replica", target)
	case s.failingOver():
		s.mu.Unlock()
		return fmt.Errorf("hand over to %s: a failover is already in progress", target)
	}
	// The target is named by the address the control plane advertises;
	// the replica announced its own IP, which may differ (NAT, names):
	// its port then tells it apart.
	if s.findReplica(h, port) == nil {
		var found *replica
		for _, rep := range s.repl().replicas {
			if rep.port == port {
				if found != nil {
					found = nil
					break
				}
				found = rep
			}
		}
		if found == nil {
			s.mu.Unlock()
			return fmt.Errorf("hand over to %s: it is not a replica of this shard", target)
		}
		h = found.announcedIP()
	}
	s.replica().managedRole = true
	s.cfg.MasterAuth = auth
	if err := s.startFailover(h, port, true, max(timeout.Milliseconds(), 1), false); err != nil {
		s.mu.Unlock()
		return fmt.Errorf("hand over to %s: %w", target, err)
	}
	s.log.Info("hand-over to " + target + " (control plane)")
	// Ask for an ACK now rather than at the replica's next second: the
	// GETACK is the stream's last bytes, and the ACK answering it covers
	// the whole stream.
	s.failover().ackTarget = s.replOffset()
	s.replRequestAck()
	s.mu.Unlock()
	// The failover moves on from cron and the replicas' ACKs; poll its
	// end, which timeout bounds.
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			s.mu.Lock()
			s.abortFailover("hand-over cancelled")
			s.mu.Unlock()
			return fmt.Errorf("hand over to %s: %w", target, ctx.Err())
		case <-tick.C:
		}
		s.mu.Lock()
		if s.failingOver() {
			s.mu.Unlock()
			continue
		}
		ok := s.isReplica()
		s.mu.Unlock()
		if !ok {
			return fmt.Errorf("hand over to %s: the replica did not take over (see the log)", target)
		}
		return nil
	}
}
