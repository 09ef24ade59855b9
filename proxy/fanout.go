package proxy

import (
	"math/rand/v2"
	"strconv"

	"github.com/keyfleet/keyfleet/proxy/resp"
)

// fanout sends raws[k] to shards[k] and, when all have answered, writes
// merge of their replies in the place of one reply. Connections are taken
// before the reply's slot is created: taking one may first wait for the
// requests in flight (see connFor).
func (c *client) fanout(shards []int, raws [][]byte, merge mergeFunc) {
	conns := make([]*backendConn, len(shards))
	errs := make([]error, len(shards))
	for k, i := range shards {
		conns[k], errs[k] = c.connFor(i)
	}
	c.fanoutConns(conns, errs, raws, merge)
}

// fanoutConns is fanout on connections already chosen; errs[k] set means
// conns[k] could not be had and that part fails.
func (c *client) fanoutConns(conns []*backendConn, errs []error, raws [][]byte, merge mergeFunc) {
	e := c.newEntry()
	e.merge = merge
	e.state.Store(slotDone)
	for k := range conns {
		ch := c.newSlot()
		e.children = append(e.children, ch)
		if errs[k] != nil {
			c.reply(ch, resp.AppendError(nil, errUnavailable+errs[k].Error()))
			continue
		}
		c.send(conns[k], raws[k], ch)
	}
}

// broadcast sends the request as it is to every shard.
func (c *client) broadcast(r *request, merge mergeFunc) {
	n := len(c.route.shards)
	if n == 1 && merge == nil {
		c.sendTo(0, r.raw)
		return
	}
	shards := make([]int, n)
	raws := make([][]byte, n)
	for i := range shards {
		shards[i] = i
		raws[i] = r.raw
	}
	if merge == nil {
		merge = mergeFirst
	}
	c.fanout(shards, raws, merge)
}

// firstError returns the first part that is an error reply, or nil.
func firstError(parts [][]byte) []byte {
	for _, p := range parts {
		if len(p) > 0 && (p[0] == '-' || p[0] == '!') {
			return p
		}
	}
	return nil
}

// mergeFirst answers the first shard's reply, unless a shard failed.
func mergeFirst(c *client, out []byte, parts [][]byte) []byte {
	if e := firstError(parts); e != nil {
		return append(out, e...)
	}
	return append(out, parts[0]...)
}

// mergeSum adds the shards' integer replies.
func mergeSum(c *client, out []byte, parts [][]byte) []byte {
	if e := firstError(parts); e != nil {
		return append(out, e...)
	}
	var sum int64
	for _, p := range parts {
		v, _, err := resp.Parse(p)
		if err != nil {
			return resp.AppendError(out, "ERR bad reply from shard")
		}
		n, _ := v.Integer()
		sum += n
	}
	return resp.AppendInt(out, sum)
}

// mergeConcat joins the shards' array replies into one array.
func mergeConcat(c *client, out []byte, parts [][]byte) []byte {
	if e := firstError(parts); e != nil {
		return append(out, e...)
	}
	vals := make([]resp.Value, len(parts))
	total := 0
	for i, p := range parts {
		v, _, err := resp.Parse(p)
		if err != nil {
			return resp.AppendError(out, "ERR bad reply from shard")
		}
		vals[i] = v
		total += len(v.Elems)
	}
	typ := byte('*')
	if len(vals) > 0 && vals[0].Type == '~' {
		typ = '~'
	}
	out = append(out, typ)
	out = strconv.AppendInt(out, int64(total), 10)
	out = append(out, '\r', '\n')
	for _, v := range vals {
		for _, e := range v.Elems {
			out = append(out, e.Raw...)
		}
	}
	return out
}

// mergeSumPairs adds the counts of [name, count, ...] replies by position
// (PUBSUB SHARDNUMSUB: each shard counts its own subscribers).
func mergeSumPairs(c *client, out []byte, parts [][]byte) []byte {
	if e := firstError(parts); e != nil {
		return append(out, e...)
	}
	var first resp.Value
	sums := []int64(nil)
	for i, p := range parts {
		v, _, err := resp.Parse(p)
		if err != nil {
			return resp.AppendError(out, "ERR bad reply from shard")
		}
		if i == 0 {
			first = v
			sums = make([]int64, len(v.Elems))
		}
		for j := 1; j < len(v.Elems) && j < len(sums); j += 2 {
			sums[j] += v.Elems[j].Int
		}
	}
	out = append(out, first.Raw[:len(first.Raw)-rawElemsLen(first)]...)
	for j, e := range first.Elems {
		if j%2 == 1 {
			out = resp.AppendInt(out, sums[j])
		} else {
			out = append(out, e.Raw...)
		}
	}
	return out
}

// rawElemsLen is the length of an aggregate's elements in its Raw.
func rawElemsLen(v resp.Value) int {
	n := 0
	for _, e := range v.Elems {
		n += len(e.Raw)
	}
	return n
}

// mergeAnd combines arrays of 0/1 by position: 1 only where every shard
// says 1 (SCRIPT EXISTS: a script is usable only if every shard has it).
func mergeAnd(c *client, out []byte, parts [][]byte) []byte {
	if e := firstError(parts); e != nil {
		return append(out, e...)
	}
	var res []int64
	for i, p := range parts {
		v, _, err := resp.Parse(p)
		if err != nil {
			return resp.AppendError(out, "ERR bad reply from shard")
		}
		if i == 0 {
			res = make([]int64, len(v.Elems))
			for j := range res {
				res[j] = 1
			}
		}
		for j := range res {
			if j >= len(v.Elems) || v.Elems[j].Int == 0 {
				res[j] = 0
			}
		}
	}
	out = resp.AppendArrayLen(out, len(res))
	for _, n := range res {
		out = resp.AppendInt(out, n)
	}
	return out
}

// mergeAnyOK answers OK if one shard did (SCRIPT KILL: the script runs on
// one shard; the others answer NOTBUSY), else the first shard's error.
func mergeAnyOK(c *client, out []byte, parts [][]byte) []byte {
	for _, p := range parts {
		if len(p) > 0 && p[0] == '+' {
			return append(out, p...)
		}
	}
	return append(out, parts[0]...)
}

// keyGroups splits the keys at args[first::step] by shard. It returns the
// shards in first-seen order and, per shard, the argument indexes of its
// keys; ok is false (and a reply written) when a slot is not served.
func (c *client) keyGroups(args [][]byte, first, step int) (shards []int, groups [][]int, ok bool) {
	rt := c.route
	idx := make(map[int]int, len(rt.shards))
	for i := first; i < len(args); i += step {
		sh := rt.shardOfKey(args[i])
		if sh < 0 {
			c.replyError(errClusterDown)
			return nil, nil, false
		}
		g, seen := idx[sh]
		if !seen {
			g = len(shards)
			idx[sh] = g
			shards = append(shards, sh)
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], i)
	}
	return shards, groups, true
}

// splitKeys sends a multi-key command split by shard; each part carries
// the keys (and, with step 2, values) of one shard. One shard: as is.
func (c *client) splitKeys(r *request, step int, merge func(groups [][]int) mergeFunc) {
	if len(c.route.shards) == 1 || len(r.args) < 2 {
		c.forward(r)
		return
	}
	shards, groups, ok := c.keyGroups(r.args, 1, step)
	if !ok {
		return
	}
	if len(shards) == 1 {
		c.sendTo(shards[0], r.raw)
		return
	}
	raws := make([][]byte, len(shards))
	for g, idxs := range groups {
		b := resp.AppendArrayLen(nil, 1+len(idxs)*step)
		b = resp.AppendBulk(b, r.args[0])
		for _, i := range idxs {
			for k := 0; k < step; k++ {
				b = resp.AppendBulk(b, r.args[i+k])
			}
		}
		raws[g] = b
	}
	c.fanout(shards, raws, merge(groups))
}

// mgetCommand: MGET split by shard, values merged back in key order. A
// shard that fails gives an error in the places of its keys only.
func mgetCommand(c *client, r *request) {
	c.splitKeys(r, 1, func(groups [][]int) mergeFunc {
		return func(c *client, out []byte, parts [][]byte) []byte {
			n := 0
			for _, g := range groups {
				n += len(g)
			}
			elems := make([][]byte, n+1)
			for g, p := range parts {
				v, _, err := resp.Parse(p)
				if err == nil && v.IsError() {
					for _, i := range groups[g] {
						elems[i] = v.Raw
					}
					continue
				}
				if err != nil || len(v.Elems) != len(groups[g]) {
					e := resp.AppendError(nil, "ERR bad reply from shard")
					for _, i := range groups[g] {
						elems[i] = e
					}
					continue
				}
				for k, i := range groups[g] {
					elems[i] = v.Elems[k].Raw
				}
			}
			out = resp.AppendArrayLen(out, n)
			for _, e := range elems[1:] {
				out = append(out, e...)
			}
			return out
		}
	})
}

// msetCommand: MSET split by shard; OK when every shard said OK, else the
// first error (the other shards' writes stand: MSET across shards is not
// atomic, as in every sharding proxy).
func msetCommand(c *client, r *request) {
	if len(r.args)%2 == 0 {
		c.replyError("ERR wrong number of arguments for 'mset' command")
		return
	}
	c.splitKeys(r, 2, func([][]int) mergeFunc { return mergeFirst })
}

// sumKeysCommand: DEL, UNLINK, EXISTS, TOUCH split by shard, counts added.
func sumKeysCommand(c *client, r *request) {
	c.splitKeys(r, 1, func([][]int) mergeFunc { return mergeSum })
}

// keysCommand: KEYS on every shard, joined.
func keysCommand(c *client, r *request) { c.broadcast(r, mergeConcat) }

// dbsizeCommand: DBSIZE summed over the shards.
func dbsizeCommand(c *client, r *request) { c.broadcast(r, mergeSum) }

// flushCommand: FLUSHDB and FLUSHALL on every shard (a database's shards
// hold only its keys, so FLUSHALL is scoped by construction).
func flushCommand(c *client, r *request) { c.broadcast(r, mergeFirst) }

// randomkeyCommand asks every shard and picks one of the keys returned.
func randomkeyCommand(c *client, r *request) {
	c.broadcast(r, func(c *client, out []byte, parts [][]byte) []byte {
		if e := firstError(parts); e != nil {
			return append(out, e...)
		}
		var keys [][]byte
		for _, p := range parts {
			if len(p) > 0 && p[0] == '$' && p[1] != '-' {
				keys = append(keys, p)
			}
		}
		if len(keys) == 0 {
			return append(out, parts[0]...)
		}
		return append(out, keys[rand.IntN(len(keys))]...)
	})
}

// SCAN cursors carry the shard index in their top bits, the shard's own
// cursor in the rest. Shard cursors stay far below 2^54 (they index hash
// table buckets), and a database has at most 1024 shards.
const (
	scanShardShift = 54
	scanCursorMask = 1<<scanShardShift - 1
)

// scanCommand walks the shards one after the other: a cursor returned by
// shard i as 0 continues at shard i+1; the walk ends after the last.
func scanCommand(c *client, r *request) {
	n := len(c.route.shards)
	if n == 1 {
		c.forward(r)
		return
	}
	cur, err := strconv.ParseUint(string(r.args[1]), 10, 64)
	if err != nil {
		c.replyError("ERR invalid cursor")
		return
	}
	sh := int(cur >> scanShardShift)
	if sh >= n {
		// A cursor from before a resharding, or made up: start over.
		c.replyError("ERR invalid cursor")
		return
	}
	args := make([][]byte, len(r.args))
	copy(args, r.args)
	args[1] = strconv.AppendUint(nil, cur&scanCursorMask, 10)
	raw := resp.AppendCommand(nil, args...)
	c.fanout([]int{sh}, [][]byte{raw}, func(c *client, out []byte, parts [][]byte) []byte {
		v, _, err := resp.Parse(parts[0])
		if err != nil || v.IsError() || len(v.Elems) != 2 {
			return append(out, parts[0]...)
		}
		next, err := strconv.ParseUint(string(v.Elems[0].Str), 10, 64)
		if err != nil || next > scanCursorMask {
			return resp.AppendError(out, "ERR bad cursor from shard")
		}
		switch {
		case next != 0:
			next |= uint64(sh) << scanShardShift
		case sh+1 < n:
			next = uint64(sh+1) << scanShardShift
		}
		out = resp.AppendArrayLen(out, 2)
		out = resp.AppendBulk(out, strconv.AppendUint(nil, next, 10))
		return append(out, v.Elems[1].Raw...)
	})
}
