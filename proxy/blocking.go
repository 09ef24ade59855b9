package proxy

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/keyfleet/keyfleet/proxy/resp"
)

// Blocking commands run on the client's dedicated connection to the
// shard of their keys, so a blocked client never holds up a pooled
// connection. The client waits as long as the command's own timeout
// (plus RequestTimeout), or for ever for a zero timeout; meanwhile its
// socket is watched, and a client that leaves has its backend connection
// closed, which unblocks it on the shard.

func blockingCommand(c *client, r *request) {
	timeout, blocking := blockTimeout(r)
	if !blocking {
		c.forward(r)
		return
	}
	sh, msg := c.shardFor(r)
	if msg != "" {
		c.replyError(msg)
		return
	}
	bc, err := c.dedicated(sh)
	if err != nil {
		c.replyError(errUnavailable + err.Error())
		return
	}
	c.send(bc, r.raw, c.newEntry())
	c.blockedOn.Store(bc)
	c.extendWait(timeout)
}

// extendWait makes the segment's wait cover a blocking timeout (0: for
// ever) and watch the client's socket.
func (c *client) extendWait(timeout time.Duration) {
	c.watchSocket = true
	if timeout == 0 {
		c.waitFor = -1
		return
	}
	if c.waitFor >= 0 {
		c.waitFor = max(c.waitFor, timeout+c.p.opts.RequestTimeout)
	}
}

// blockTimeout returns a blocking command's timeout and whether it blocks
// at all (XREAD only with BLOCK). A malformed timeout is left for the
// shard to refuse; it answers at once.
func blockTimeout(r *request) (time.Duration, bool) {
	secs := func(b []byte) time.Duration {
		f, err := strconv.ParseFloat(string(b), 64)
		if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) || f > 1e9 {
			return time.Nanosecond
		}
		return time.Duration(f * float64(time.Second))
	}
	args := r.args
	switch r.cmd.Name {
	case "blmpop", "bzmpop":
		return secs(args[1]), true
	case "xread", "xreadgroup":
		for i := 1; i+1 < len(args); i++ {
			if strings.EqualFold(string(args[i]), "BLOCK") {
				ms, err := strconv.ParseInt(string(args[i+1]), 10, 64)
				if err != nil || ms < 0 {
					return time.Nanosecond, true
				}
				return time.Duration(ms) * time.Millisecond, true
			}
			if strings.EqualFold(string(args[i]), "STREAMS") {
				break
			}
		}
		return 0, false
	default:
		return secs(args[len(args)-1]), true
	}
}

var waitPublishRaw = resp.AppendCommandStrings(nil, "PUBLISH", "__keyfleet__:wait", "")

// waitCommand: WAIT numreplicas timeout, on every shard. The shard
// measures a client's writes by its connection's last propagated write;
// the client's writes went through pooled connections, so its dedicated
// connection first propagates a no-op (a PUBLISH to a reserved channel)
// after them, and WAIT then covers them all. The answer is the smallest
// count over the shards.
func waitCommand(c *client, r *request) {
	ms, err := strconv.ParseInt(string(r.args[2]), 10, 64)
	if err != nil || ms < 0 {
		c.replyError("ERR timeout is not an integer or out of range")
		return
	}
	if _, ok := resp.ParseInt(r.args[1]); !ok {
		c.replyError(errNotInteger)
		return
	}
	conns, errs, raws := c.dedicatedAll(r.raw)
	for i, bc := range conns {
		if errs[i] == nil {
			c.send(bc, waitPublishRaw, c.discardSlot())
		}
	}
	c.fanoutConns(conns, errs, raws, mergeMin)
	c.extendWait(time.Duration(ms) * time.Millisecond)
}

// mergeMin answers the smallest of the shards' integers.
func mergeMin(c *client, out []byte, parts [][]byte) []byte {
	if e := firstError(parts); e != nil {
		return append(out, e...)
	}
	least := int64(math.MaxInt64)
	for _, p := range parts {
		v, _, err := resp.Parse(p)
		if err != nil {
			return resp.AppendError(out, "ERR bad reply from shard")
		}
		least = min(least, v.Int)
	}
	return resp.AppendInt(out, least)
}
