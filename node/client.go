package node

import (
	"net"
	"sync"
	"time"

	"github.com/tidwall/redcon"
)

// Client is one connection's state. Fields without a note are owned by the
// shard's logical thread (read and written with Server.mu held).
type Client struct {
	srv  *Server
	conn redcon.Conn
	nc   net.Conn

	ID         int64
	Name       string
	addr       string
	laddr      string
	createdAt  time.Time
	lastActive time.Time

	db            *DB
	resp          int // 2 or 3
	authenticated bool
	user          string
	libName       string
	libVer        string

	// out collects replies of the current batch; the connection goroutine
	// writes it after releasing the shard lock.
	out []byte
	// errorReplied is set by Error; dispatch reads it to count failed calls.
	errorReplied bool

	// closeAfterReply ends the connection once out is written (QUIT,
	// protocol errors, CLIENT KILL of self).
	closeAfterReply bool
	killed          bool

	// replyMode is CLIENT REPLY ON|OFF|SKIP.
	replyMode int
	skipNext  bool

	// Per-family state, owned by the families that use it.
	flags     clientFlag
	lastCmd   string
	argvBytes int

	// redacted lists the arguments of the current call that SLOWLOG and
	// MONITOR must not show (AUTH passwords); see Client.redact.
	redacted []int
	// A model of Redis's reply buffer (CLIENT LIST rbs and rbp): its
	// size, its peak use since rbpResetAt (unix ms).
	rbs, rbp   int64
	rbpResetAt int64

	// Async writes (pub/sub messages, invalidations, MONITOR) from other
	// clients' commands go to pending under wmu and are written by
	// flushLoop. One goroutine at a time owns the socket for writing
	// (flushing): flushLoop, or the connection goroutine in flush; the
	// owner writes with wmu released, so that a client whose socket is
	// full never stalls the shard, only itself.
	wmu       sync.Mutex
	pending   []byte
	spare     []byte // a written buffer kept for reuse
	inflight  int    // bytes being written by the owner right now
	flushing  bool
	flushCond *sync.Cond
	writeErr  error
	closed    bool

	// While the client runs a command (execute), a push for it (pub/sub
	// message, invalidation) must not land inside the reply being
	// written: replyStart is where that reply starts in out; a push that
	// arrives once it has started waits in deferred until the command is
	// over. pushRanges are the pushes written into out during the
	// command: CLIENT REPLY OFF|SKIP keeps them (Redis's CLIENT_PUSHING).
	executing  bool
	replyStart int
	deferred   []byte
	pushRanges [][2]int

	// woff is the replication offset at the end of the client's last
	// command: what its WAIT waits for (repl.go).
	woff int64

	// trk caches the server's client-side caching state, which every
	// command consults (tracking.go), sparing a map lookup per command.
	trk *trackingState
}

type clientFlag uint32

const (
	flagMulti clientFlag = 1 << iota
	flagDirtyCAS
	flagDirtyExec
	flagPubSub
	flagMonitor
	flagBlocked
	flagNoEvict
	flagReplica
	flagPrimary
	flagTracking
	flagLuaClient
	flagReadOnly
)

const (
	replyOn = iota
	replyOff
	replySkip
)

// flush writes the batch's replies, after any pending async messages that
// were queued before them. It is called by the connection goroutine with
// the shard lock released. When another goroutine is writing (flushLoop),
// the replies are queued behind what it writes and flush returns at once,
// unless the connection is to be closed: then it waits for them to be
// written.
func (c *Client) flush() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.pushRanges = c.pushRanges[:0]
	if c.closed {
		c.out = c.out[:0]
		if c.writeErr != nil {
			return c.writeErr
		}
		return net.ErrClosed
	}
	if len(c.out) > 0 {
		if len(c.pending) == 0 {
			// Hand the buffer over instead of copying it.
			c.pending, c.out = c.out, c.pending[:0]
		} else {
			c.pending = append(c.pending, c.out...)
			c.out = c.out[:0]
		}
		if cap(c.out) > 64<<10 {
			c.out = nil // don't pin a big buffer after a big reply
		}
	}
	if c.flushing {
		if !c.closeAfterReply {
			return nil
		}
		if c.flushCond == nil {
			c.flushCond = sync.NewCond(&c.wmu)
		}
		for c.flushing {
			c.flushCond.Wait()
		}
		return c.writeErr
	}
	c.flushing = true
	return c.drainLocked()
}

// drainLocked writes pending until it is empty. The caller holds wmu and
// has made itself the writer (flushing); wmu is released during each
// write, so that pushes to the client never wait for its socket.
func (c *Client) drainLocked() error {
	var err error
	for len(c.pending) > 0 && !c.closed {
		buf := c.pending
		c.pending = c.spare[:0]
		c.spare = nil
		c.inflight = len(buf)
		c.wmu.Unlock()
		_, err = c.nc.Write(buf)
		c.wmu.Lock()
		c.inflight = 0
		if cap(buf) <= 64<<10 {
			c.spare = buf[:0]
		}
		if err != nil {
			c.writeErr = err
			c.closed = true
			c.nc.Close()
			break
		}
	}
	c.flushing = false
	if c.flushCond != nil {
		c.flushCond.Broadcast()
	}
	return err
}

// pushAsync queues an already-encoded push (pub/sub message, invalidation,
// MONITOR line) for the client, from a command of any client, with the
// shard lock held. It returns the bytes the client now has queued, so that
// the caller can enforce client-output-buffer-limit.
//
// Order is kept with the client's own replies: a push goes after the
// replies the client has not written yet (out), before the reply of a
// command it is running, or, if that reply has started, right after it.
func (c *Client) pushAsync(msg []byte) int {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closed {
		return 0
	}
	switch {
	case c.executing && len(c.out) > c.replyStart:
		c.deferred = append(c.deferred, msg...)
	case c.executing:
		start := len(c.out)
		c.out = append(c.out, msg...)
		c.pushRanges = append(c.pushRanges, [2]int{start, len(c.out)})
		c.replyStart = len(c.out)
	case len(c.out) > 0:
		c.out = append(c.out, msg...)
	default:
		c.pending = append(c.pending, msg...)
		if !c.flushing && c.nc != nil {
			c.flushing = true
			go c.flushLoop()
		}
	}
	return c.queuedLocked()
}

// pushAfterReply queues a push that must follow the reply of the command
// the client is running (an invalidation caused by that command), or
// queues it as pushAsync when the client is not running one.
func (c *Client) pushAfterReply(msg []byte) int {
	if !c.executing {
		return c.pushAsync(msg)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closed {
		return 0
	}
	c.deferred = append(c.deferred, msg...)
	return c.queuedLocked()
}

// beginCommand marks the start of a command's reply at mark in out.
func (c *Client) beginCommand(mark int) {
	c.executing = true
	c.replyStart = mark
}

// endCommand appends the pushes that waited for the command's reply. It
// runs in the client's own goroutine with the shard lock held, as every
// writer of deferred and pushRanges but its own flush does: the lock is
// needed only when there is something to move.
func (c *Client) endCommand() {
	if len(c.deferred) == 0 && len(c.pushRanges) == 0 {
		c.executing = false
		return
	}
	c.wmu.Lock()
	if len(c.deferred) > 0 {
		c.out = append(c.out, c.deferred...)
		c.deferred = c.deferred[:0]
	}
	c.executing = false
	c.pushRanges = c.pushRanges[:0]
	c.wmu.Unlock()
}

// writeOut writes buf (replies taken out of out by the connection
// goroutine, with the shard lock released) after everything queued before
// it, and returns once it is written or handed to the goroutine that is
// writing.
func (c *Client) writeOut(buf []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closed {
		return c.writeErr
	}
	c.pending = append(c.pending, buf...)
	if c.flushing {
		return nil
	}
	c.flushing = true
	return c.drainLocked()
}

// flushLoop writes pending messages until the queue is empty.
func (c *Client) flushLoop() {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.drainLocked()
}

// queuedLocked is the number of bytes queued but not yet written.
func (c *Client) queuedLocked() int {
	return len(c.pending) + len(c.out) + len(c.deferred) + c.inflight
}

// pendingLen is the number of bytes queued but not yet written.
func (c *Client) pendingLen() int {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.queuedLocked()
}
