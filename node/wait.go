package node

import "time"

// WAIT numreplicas timeout: synchronous replication as Redis 7.0 does it.
// Every command leaves in the client the stream offset at its end
// (Client.woff, repl.go); WAIT counts the online replicas whose last
// REPLCONF ACK reached that offset, and when there are too few, asks
// them for an ACK at once (REPLCONF GETACK * in the stream) and waits,
// with the shard lock released, until enough ACKs arrived or the timeout
// passed (0: forever). Only the client waits; the shard goes on serving.

func init() {
	register(map[string]handler{"wait": waitCommand})
}

const errWaitReplica = "ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated."

func waitCommand(s *Server, c *Client, args [][]byte) {
	if s.isReplica() {
		c.Error(errWaitReplica)
		return
	}
	n, ok := parseRedisInt64(args[1])
	if !ok {
		c.Error(errNotInt)
		return
	}
	end, ok := timeoutArg(c, args[2])
	if !ok {
		return
	}
	offset := c.woff
	got := s.replCountAcks(offset)
	// Inside MULTI, EXEC or a script WAIT cannot block: it answers with
	// what is acknowledged now, as Redis does.
	if int64(got) >= n || s.denyBlocking(c) {
		c.Int(int64(got))
		return
	}
	// While clients are paused the stream takes no new commands (Redis
	// sends GETACK only when not paused): the replicas' periodic ACKs
	// will do.
	if !s.clientsPaused() {
		s.replRequestAck()
	}
	c.flags |= flagBlocked
	defer func() { c.flags &^= flagBlocked }()
	var done <-chan struct{}
	if s.ctx != nil {
		done = s.ctx.Done()
	}
	var timer <-chan time.Time
	if end > 0 {
		t := time.NewTimer(max(time.Until(time.UnixMilli(end)), 0))
		defer t.Stop()
		timer = t.C
	}
	st := s.adminState()
	for {
		ch := st.waitCh // closed by replicaAcksChanged
		s.mu.Unlock()
		gone, stopWatch := watchClientClose(c)
		stopped, timedOut := false, false
		select {
		case <-ch:
		case <-timer:
			timedOut = true
		case <-done:
			stopped = true
		case <-gone:
			stopped = true
		}
		stopWatch()
		s.mu.Lock()
		if stopped || c.killed {
			c.closeAfterReply = true
			return
		}
		if s.isReplica() { // REPLICAOF while waiting (unblockAllForRoleChange)
			c.Error(errUnblockedRoleChange)
			// Not a failed call: Redis 7.0.15's disconnectAllBlockedClients
			// skips updateStatsOnUnblock.
			c.errorReplied = false
			c.closeAfterReply = true
			return
		}
		got = s.replCountAcks(offset)
		if int64(got) >= n || timedOut {
			break
		}
	}
	s.updateClock(time.Now())
	c.Int(int64(got))
}
