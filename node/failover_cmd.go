package node

import (
	"fmt"
	"strings"
	"time"
)

// FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms], as Redis 7.0's
// coordinated failover (replication.c): the primary pauses writes, waits
// until a replica has acknowledged its whole stream, then becomes a
// replica of it and asks it, with PSYNC <replid> <offset> FAILOVER, to
// take over. Nothing the primary acknowledged is lost, since writes stop
// before the offset the replica must reach is fixed.

// master_failover_state values.
const (
	failoverNone       = "no-failover"
	failoverWaitSync   = "waiting-for-sync"
	failoverInProgress = "failover-in-progress"
)

const failoverExt = "failover"

// failoverTarget is the state of a coordinated failover beyond INFO's
// state string (kept in replState.failoverState).
type failoverTarget struct {
	// endTime is when waiting for the replica ends (unix ms; 0: never).
	endTime int64
	force   bool
	// host and port name the target replica ("" until one is chosen
	// when no TO was given).
	host string
	port int
	// ackTarget, when set, is the offset the target must acknowledge
	// instead of the whole stream: the hand-over (managed.go) asks for an
	// ACK with a GETACK, which a replica answers with its offset before
	// the GETACK itself, and nothing but GETACKs can follow while writes
	// are paused.
	ackTarget int64
}

func init() {
	register(map[string]handler{"failover": failoverCommand})
	afterCommandHooks = append(afterCommandHooks, func(s *Server, c *Client, cmd *command) {
		// A replica's ACK may be the one the failover waits for (Redis
		// checks in beforeSleep, after every event).
		if s.repl().failoverState == failoverWaitSync {
			s.updateFailoverStatus(time.Now())
		}
	})
	serverInits = append(serverInits, func(s *Server) {
		s.ext[failoverExt] = &failoverTarget{}
		s.hooks.cron = append(s.hooks.cron, s.updateFailoverStatus)
	})
}

// acceptFailoverPSYNC is a replica's side of PSYNC <replid> <offset>
// FAILOVER: the primary hands over, so we lead if we hold its history.
func (s *Server) acceptFailoverPSYNC(replid string) bool {
	s.log.Warn("Failover request received for replid " + replid + ".")
	if !strings.EqualFold(replid, s.repl().replid) {
		return false
	}
	s.unsetPrimary()
	s.log.Info("MASTER MODE enabled (failover request)")
	return true
}

func (s *Server) failover() *failoverTarget { return s.ext[failoverExt].(*failoverTarget) }

// failingOver reports whether a coordinated failover is under way.
func (s *Server) failingOver() bool {
	fs := s.repl().failoverState
	return fs != "" && fs != failoverNone
}

// failoverHoldsPings reports whether the keep-alive PINGs must stay out
// of the stream: they would move the offset the replica has to reach
// while writes are paused for a failover with a deadline.
func (s *Server) failoverHoldsPings() bool {
	return s.failover().endTime != 0 && s.clientsPaused()
}

func failoverCommand(s *Server, c *Client, args [][]byte) {
	if len(args) == 2 && eqFold(args[1], "abort") {
		if !s.failingOver() {
			c.Error("ERR No failover in progress.")
			return
		}
		s.abortFailover("Failover manually aborted")
		c.OK()
		return
	}
	var (
		timeout int64
		force   bool
		host    string
		hasHost bool
		port    int64
	)
	for j := 1; j < len(args); j++ {
		switch {
		case eqFold(args[j], "timeout") && j+1 < len(args) && timeout == 0:
			n, ok := parseRedisInt64(args[j+1])
			if !ok {
				c.Error(errNotInt)
				return
			}
			if n <= 0 {
				c.Error("ERR FAILOVER timeout must be greater than 0")
				return
			}
			timeout = n
			j++
		case eqFold(args[j], "to") && j+2 < len(args) && !hasHost:
			n, ok := parseRedisInt64(args[j+2])
			if !ok {
				c.Error(errNotInt)
				return
			}
			host, port, hasHost = string(args[j+1]), n, true
			j += 2
		case eqFold(args[j], "force") && !force:
			force = true
		default:
			c.Error(errSyntax)
			return
		}
	}
	r := s.repl()
	switch {
	case s.failingOver():
		c.Error("ERR FAILOVER already in progress.")
		return
	case s.isReplica():
		c.Error("ERR FAILOVER is not valid when server is a replica.")
		return
	case s.managedRoleLocked():
		// The control plane fails a managed shard over itself (host
		// package), so that its routes and epoch follow.
		c.Error("ERR FAILOVER is not allowed on a managed shard: its role is set by the control plane")
		return
	case len(r.replicas) == 0:
		c.Error("ERR FAILOVER requires connected replicas.")
		return
	case force && (timeout == 0 || !hasHost):
		c.Error("ERR FAILOVER with force option requires both a timeout and target HOST and IP.")
		return
	}
	if err := s.startFailover(host, int(port), hasHost, timeout, force); err != nil {
		c.Error("ERR " + err.Error())
		return
	}
	c.OK()
}

// startFailover validates the target (if any) and enters
// waiting-for-sync with writes paused.
func (s *Server) startFailover(host string, port int, hasHost bool, timeoutMs int64, force bool) error {
	f := s.failover()
	*f = failoverTarget{}
	if hasHost {
		rep := s.findReplica(host, port)
		if rep == nil {
			return fmt.Errorf("FAILOVER target HOST and PORT is not a replica.")
		}
		if rep.state != replOnline {
			return fmt.Errorf("FAILOVER target replica is not online.")
		}
		f.host, f.port = host, port
		s.log.Info(fmt.Sprintf("FAILOVER requested to %s:%d.", host, port))
	} else {
		s.log.Info("FAILOVER requested to any replica.")
	}
	if timeoutMs > 0 {
		f.endTime = time.Now().UnixMilli() + timeoutMs
	}
	f.force = force
	s.repl().failoverState = failoverWaitSync
	s.pauseClients(pauseByFailover, 1<<62, pauseWrite)
	return nil
}

// findReplica returns the attached replica announced as host:port.
func (s *Server) findReplica(host string, port int) *replica {
	for _, rep := range s.repl().replicas {
		if rep.port == port && strings.EqualFold(rep.announcedIP(), host) {
			return rep
		}
	}
	return nil
}

// updateFailoverStatus moves a waiting failover on: to the target once
// it has acknowledged the whole stream, or at the deadline to the
// target anyway (FORCE) or back to no failover.
func (s *Server) updateFailoverStatus(now time.Time) {
	r := s.repl()
	if r.failoverState != failoverWaitSync {
		return
	}
	f := s.failover()
	if f.endTime != 0 && f.endTime <= now.UnixMilli() {
		if f.force {
			s.log.Info(fmt.Sprintf("FAILOVER to %s:%d time out exceeded, failing over.", f.host, f.port))
			r.failoverState = failoverInProgress
			s.setPrimary(f.host, f.port)
			return
		}
		s.abortFailover("Replica never caught up before timeout")
		return
	}
	var rep *replica
	if f.host != "" {
		rep = s.findReplica(f.host, f.port)
	} else {
		for _, x := range r.replicas {
			if x.state == replOnline && x.ackOff == r.offset {
				rep = x
				f.host, f.port = x.announcedIP(), x.port
				break
			}
		}
	}
	if rep != nil && (rep.ackOff == r.offset || f.ackTarget > 0 && rep.ackOff >= f.ackTarget) {
		r.failoverState = failoverInProgress
		s.log.Info(fmt.Sprintf("Failover target %s:%d is synced, failing over.", f.host, f.port))
		s.setPrimary(f.host, f.port)
	}
}

// clearFailoverState ends a failover, done or not, and lifts its pause.
func (s *Server) clearFailoverState() {
	*s.failover() = failoverTarget{}
	s.repl().failoverState = failoverNone
	s.unpauseClients(pauseByFailover)
}

// abortFailover gives up a failover: a primary that already turned to
// the target becomes a primary again.
func (s *Server) abortFailover(reason string) {
	if !s.failingOver() {
		return
	}
	f := s.failover()
	if f.host != "" {
		s.log.Info(fmt.Sprintf("FAILOVER to %s:%d aborted: %s", f.host, f.port, reason))
	} else {
		s.log.Info("FAILOVER to any replica aborted: " + reason)
	}
	if s.repl().failoverState == failoverInProgress {
		s.unsetPrimary()
	}
	s.clearFailoverState()
}

// failoverPSYNCDone is the link's report of the PSYNC FAILOVER it sent
// (err nil: the target accepted and leads now). It reports whether the
// link may go on; the caller holds the shard lock.
func (s *Server) failoverPSYNCDone(err error) bool {
	if s.repl().failoverState != failoverInProgress {
		return true
	}
	if err == nil {
		s.clearFailoverState()
		return true
	}
	s.log.Warn("PSYNC FAILOVER refused by the target", "err", err)
	s.abortFailover("Failover target rejected psync request")
	return false
}
