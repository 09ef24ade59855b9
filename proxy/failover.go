package proxy

import (
	"bytes"
	"sync"
	"time"
)

// Failover switch-over. When the control plane fails a shard over it
// publishes routes naming the new primary at a higher epoch, and clients
// pick them up on their next batch (syncRoute): nothing new goes to the
// old primary. What remains are requests caught in the switch:
//
//   - a request that reached a primary just demoted, or a new primary not
//     yet promoted (the control plane publishes routes before the node
//     hosts apply the roles), is answered -READONLY: it did not run, so it
//     is retried on the shard's current primary, waiting for the route to
//     change or backing off briefly, until a retry budget runs out, when
//     the client gets the READONLY after all. Clients do not see a
//     READONLY storm;
//   - a request in flight when its primary died may or may not have run:
//     it is answered with a clear error (ERR shard unavailable: ...), not
//     retried, so a write is never applied twice.
//
// Retries of one shard go out in the order their READONLY replies came
// back, so one client's pipelined writes keep their order.

// readonlyPrefix starts the reply of a write sent to a replica.
var readonlyPrefix = []byte("-READONLY ")

// retryBudget bounds how long a request refused with READONLY is retried:
// the time a failover takes to settle (the node hosts' next heartbeats),
// well within the request timeout.
func (p *Proxy) retryBudget() time.Duration {
	return min(3*time.Second, p.opts.RequestTimeout*3/4)
}

type retryItem struct {
	s         *slot
	raw       []byte // a copy: the client's buffer is reused if it gives up
	reply     []byte // the READONLY, for when the budget runs out
	proto     int
	notBefore time.Time
}

// retryQueue holds a shard's requests to retry, worked by one goroutine
// while it is not empty.
type retryQueue struct {
	mu      sync.Mutex
	items   []retryItem
	working bool
}

// retryReadonly takes over a pooled request answered -READONLY if it may
// be retried; it reports whether it did (the slot then completes later).
func (bc *backendConn) retryReadonly(s *slot, reply []byte) bool {
	if bc.mode != modePooled || s.raw == nil || !bytes.HasPrefix(reply, readonlyPrefix) || s.state.Load() != slotPending {
		return false
	}
	sh := bc.sh
	now := time.Now()
	backoff := 20 * time.Millisecond
	if s.retryBy.IsZero() {
		s.retryBy = now.Add(sh.p.retryBudget())
	} else {
		if now.After(s.retryBy) {
			return false
		}
		backoff = 100 * time.Millisecond
	}
	item := retryItem{s: s, raw: bytes.Clone(s.raw), reply: bytes.Clone(reply), proto: bc.proto, notBefore: now.Add(backoff)}
	sh.retry.mu.Lock()
	sh.retry.items = append(sh.retry.items, item)
	start := !sh.retry.working
	sh.retry.working = true
	sh.retry.mu.Unlock()
	if start {
		go sh.workRetries()
	}
	sh.p.log.Debug("request refused with READONLY; retrying on the shard's current primary", "database", sh.db.id, "shard", sh.id, "addr", sh.addr)
	return true
}

func (sh *shard) workRetries() {
	for {
		sh.retry.mu.Lock()
		if len(sh.retry.items) == 0 {
			sh.retry.working = false
			sh.retry.mu.Unlock()
			return
		}
		item := sh.retry.items[0]
		sh.retry.items[0] = retryItem{}
		sh.retry.items = sh.retry.items[1:]
		sh.retry.mu.Unlock()
		sh.resend(item)
	}
}

// resend sends one refused request to the shard's current primary: at
// once when the route has changed since the refusal, else after the
// item's backoff (the node may not have taken its new role yet).
func (sh *shard) resend(item retryItem) {
	s := item.s
	for {
		if s.state.Load() != slotPending {
			return // the client gave up waiting
		}
		watch := sh.db.routeWatch()
		target := sh.current()
		if target == nil {
			s.complete(item.reply) // the database is gone
			return
		}
		now := time.Now()
		if target == sh && now.Before(item.notBefore) {
			t := time.NewTimer(item.notBefore.Sub(now))
			select {
			case <-watch:
			case <-t.C:
			}
			t.Stop()
			continue
		}
		if now.After(s.retryBy) {
			s.complete(item.reply)
			return
		}
		bc, err := target.pooled(item.proto, 0)
		if err != nil {
			// The new primary is not reachable yet: back off within the
			// budget, then answer as the shard did.
			if time.Until(s.retryBy) < 50*time.Millisecond {
				s.complete(item.reply)
				return
			}
			time.Sleep(50 * time.Millisecond)
			continue
		}
		s.raw = item.raw
		bc.sendBatch([][]byte{item.raw}, []*slot{s})
		return
	}
}

// current is the shard that serves sh's shard id in the database's
// current route (sh itself while the route has not changed), nil when the
// database or the shard is no longer routed.
func (sh *shard) current() *shard {
	rt := sh.db.route.Load()
	if rt == nil {
		return nil
	}
	for _, o := range rt.shards {
		if o.id == sh.id {
			return o
		}
	}
	return nil
}

// failoverGrace is how long requests in flight on a primary replaced by a
// failover may still complete (a demoted primary answers them at once)
// before they are failed with a clear error.
const failoverGrace = 250 * time.Millisecond

// failedOver reports whether sh, dropped from a route, was replaced by the
// same shard at a higher epoch: a failover rather than a move or removal.
func failedOver(sh *shard, cur *dbRoute) bool {
	for _, o := range cur.shards {
		if o.id == sh.id && o.epoch > sh.epoch {
			return true
		}
	}
	return false
}

// closeFailedOver closes a shard replaced by a failover; requests still
// waiting on it are answered "ERR shard unavailable: failed over ...".
func (sh *shard) closeFailedOver() { sh.closeWith("failed over to a new primary; retry") }
