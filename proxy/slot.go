package proxy

import (
	"sync/atomic"
	"time"

	"github.com/keyfleet/keyfleet/proxy/resp"
)

// A slot is the place of one reply in a client's reply stream. The client
// goroutine creates slots in request order; a backend connection fills a
// slot when the shard replies; the client writes the replies in slot
// order once the batch is complete. Slots are reused from batch to batch,
// so the steady state allocates nothing per request.
type slot struct {
	state atomic.Uint32
	reply []byte
	b     *batch
	bc    *backendConn // where the request went, to abort it on timeout

	kind     slotKind
	merge    mergeFunc // set on a fan-out's slot; its children hold the parts
	children []*slot
	// after, when set, sees the reply as it is written, on the client's
	// goroutine: state that depends on the shard's answer (a SELECT inside
	// MULTI applies only if EXEC ran).
	after func(c *client, reply []byte)

	// Pub/sub slots complete after `expect` confirmations; forward says
	// whether the confirmations are this client's reply (from the shard
	// that speaks for the subscription) or only counted. The backend
	// connection's reader owns these fields once the slot is sent.
	expect  int
	forward bool

	// raw is the request sent for this slot on a pooled connection, so
	// that a -READONLY reply (a primary demoted by a failover) can be
	// retried on the shard's new primary until retryBy (see failover.go).
	raw     []byte
	retryBy time.Time
}

const (
	slotPending uint32 = iota
	slotDone
	slotAbandoned // the client gave up waiting; a late reply is dropped
)

type slotKind uint8

const (
	kindReply   slotKind = iota
	kindDiscard          // sent, but the client sees another reply (MULTI replay)
	kindSilent           // CLIENT REPLY OFF/SKIP
	kindPubSub           // pushes queued after it are written right behind it
)

// mergeFunc builds a fan-out's reply from its parts, in shard order.
type mergeFunc func(c *client, out []byte, parts [][]byte) []byte

// batch counts the slots a client is waiting for. pending starts at one,
// the client's own reference, which it drops when it starts waiting;
// whoever brings the count to zero signals done.
type batch struct {
	pending atomic.Int32
	done    chan struct{}
}

func newBatch() *batch {
	b := &batch{done: make(chan struct{}, 1)}
	b.pending.Store(1)
	return b
}

// complete appends a reply (pub/sub slots collect several) and finishes
// the slot.
func (s *slot) complete(reply []byte) {
	s.reply = append(s.reply, reply...)
	s.finish()
}

// fail finishes the slot with an error reply.
func (s *slot) fail(msg string) {
	s.reply = resp.AppendError(s.reply[:0], msg)
	s.finish()
}

func (s *slot) finish() {
	if !s.state.CompareAndSwap(slotPending, slotDone) {
		return
	}
	if b := s.b; b != nil && b.pending.Add(-1) == 0 {
		select {
		case b.done <- struct{}{}:
		default:
		}
	}
}

// reset prepares a slot for reuse.
func (s *slot) reset(b *batch) {
	s.state.Store(slotPending)
	if cap(s.reply) > 64<<10 {
		s.reply = nil
	}
	s.reply = s.reply[:0]
	s.b = b
	s.bc = nil
	s.kind = kindReply
	s.merge = nil
	s.children = s.children[:0]
	s.after = nil
	s.expect = 0
	s.forward = false
	s.raw = nil
	s.retryBy = time.Time{}
}
