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
	// goroutines go to pending under wmu and are written by flushLoop.
	wmu       sync.Mutex
	pending   []byte
	flushing  bool
	flushCond *sync.Cond
	closed    bool
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
// were queued before them.
func (c *Client) flush() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if len(c.pending) > 0 {
		if _, err := c.nc.Write(c.pending); err != nil {
			return err
		}
		c.pending = c.pending[:0]
	}
	if len(c.out) == 0 {
		return nil
	}
	_, err := c.nc.Write(c.out)
	if cap(c.out) > 64<<10 {
		c.out = nil // don't pin a big buffer after a big reply
	} else {
		c.out = c.out[:0]
	}
	return err
}

// pushAsync queues an already-encoded message for the client from another
// client's command. It returns the size of the queue so that the caller
// can enforce client-output-buffer-limit.
func (c *Client) pushAsync(msg []byte) int {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closed {
		return 0
	}
	c.pending = append(c.pending, msg...)
	if !c.flushing {
		c.flushing = true
		go c.flushLoop()
	}
	return len(c.pending)
}

// flushLoop writes pending messages until the queue is empty.
func (c *Client) flushLoop() {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	for len(c.pending) > 0 && !c.closed {
		buf := c.pending
		c.pending = nil
		c.wmu.Unlock()
		_, err := c.nc.Write(buf)
		c.wmu.Lock()
		if err != nil {
			c.closed = true
			c.nc.Close()
			break
		}
	}
	c.flushing = false
}

// pendingLen is the number of bytes queued but not yet written.
func (c *Client) pendingLen() int {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return len(c.pending) + len(c.out)
}
