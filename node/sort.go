package node

import (
	"bytes"
	"math"
	"slices"

	"github.com/keyfleet/keyfleet/node/ds/quicklist"
	"github.com/keyfleet/keyfleet/node/keyspace"
)

// SORT and SORT_RO, as Redis 7.0's sort.c: lists, sets and sorted sets,
// numerically or with ALPHA, by the elements or by keys and hash fields
// named by a pattern (BY nosort keeps the native order), with LIMIT, GET
// patterns and STORE into a list. Lists and hash fields are read through
// the list and hash families (lists.go, hashes.go).

func init() {
	register(map[string]handler{
		"sort":    sortCommand,
		"sort_ro": sortroCommand,
	})
}

// sortListLen, sortListEach and sortListStore are SORT's view of lists:
// their length, their elements from an index in either direction, and a
// new list of the result for STORE.
func sortListLen(o *keyspace.Object) int { return listOf(o).Len() }

func sortListEach(o *keyspace.Object, start int, reverse bool, f func(elem []byte) bool) {
	it := listOf(o).IteratorAt(start, !reverse)
	if it == nil {
		return
	}
	defer it.Release()
	var e quicklist.Entry
	var buf []byte
	for it.Next(&e) {
		buf = e.Append(buf[:0])
		if !f(buf) {
			return
		}
	}
}

func (s *Server) sortListStore(elems [][]byte) keyspace.Object {
	o := s.newListObject()
	ql := s.list(&o)
	for _, e := range elems {
		ql.PushTail(e)
	}
	return o
}

const errSortScores = "ERR One or more scores can't be converted into double"

// sortItem is one element being sorted, with its weight.
type sortItem struct {
	elem  []byte
	score float64
	cmp   []byte // the BY value under ALPHA; nil when the lookup failed
}

// lookupByPattern is Redis's lookupKeyByPattern: "#" is the element
// itself; otherwise the first '*' of pattern is replaced by elem and the
// key read (a string), or with "->field" after the '*' a field of the
// hash at that key. ok is false when there is nothing there.
func (s *Server) lookupByPattern(db *DB, pattern, elem []byte) ([]byte, bool) {
	if len(pattern) == 1 && pattern[0] == '#' {
		return elem, true
	}
	star := bytes.IndexByte(pattern, '*')
	if star < 0 {
		return nil, false
	}
	var field []byte
	keyEnd := len(pattern)
	if f := bytes.Index(pattern[star+1:], []byte("->")); f >= 0 && star+1+f+2 < len(pattern) {
		keyEnd = star + 1 + f
		field = pattern[keyEnd+2:]
	}
	key := make([]byte, 0, keyEnd-1+len(elem))
	key = append(key, pattern[:star]...)
	key = append(key, elem...)
	key = append(key, pattern[star+1:keyEnd]...)
	o := s.lookupRead(db, key)
	if o == nil {
		return nil, false
	}
	if field != nil {
		if o.Type != keyspace.TypeHash {
			return nil, false
		}
		v, ok := hashGet(o, field)
		if !ok {
			return nil, false
		}
		return v.appendTo(nil), true
	}
	if o.Type != keyspace.TypeString {
		return nil, false
	}
	return o.Str, true
}

// sortScore parses a weight as SORT does: strtod over the whole value
// (as C sees it, up to a NUL), no NaN, no overflow or underflow.
func sortScore(b []byte) (float64, bool) {
	b = cString(b)
	v, n, erange := cStrtod(b)
	return v, n == len(b) && !erange && !math.IsNaN(v)
}

func sortCommand(s *Server, c *Client, args [][]byte)   { sortGeneric(s, c, args, false) }
func sortroCommand(s *Server, c *Client, args [][]byte) { sortGeneric(s, c, args, true) }

func sortGeneric(s *Server, c *Client, args [][]byte, readonly bool) {
	db := c.db
	var desc, alpha, dontSort bool
	var limitStart, limitCount int64 = 0, -1
	var sortBy, storeKey []byte
	var gets [][]byte
	for j := 2; j < len(args); j++ {
		left := len(args) - j - 1
		switch {
		case isWord(args[j], "asc"):
			desc = false
		case isWord(args[j], "desc"):
			desc = true
		case isWord(args[j], "alpha"):
			alpha = true
		case isWord(args[j], "limit") && left >= 2:
			var ok bool
			if limitStart, ok = longArg(c, args[j+1]); !ok {
				return
			}
			if limitCount, ok = longArg(c, args[j+2]); !ok {
				return
			}
			j += 2
		case !readonly && isWord(args[j], "store") && left >= 1:
			storeKey = args[j+1]
			j++
		case isWord(args[j], "by") && left >= 1:
			sortBy = args[j+1]
			// A pattern without '*' is a constant: nothing to sort by.
			dontSort = bytes.IndexByte(sortBy, '*') < 0
			j++
		case isWord(args[j], "get") && left >= 1:
			gets = append(gets, args[j+1])
			j++
		default:
			c.Error(errSyntax)
			return
		}
	}
	o := s.lookupRead(db, args[1])
	if o != nil && o.Type != keyspace.TypeSet && o.Type != keyspace.TypeList && o.Type != keyspace.TypeZSet {
		c.Error(errWrongType)
		return
	}
	// A set has no order of its own: when the result is stored or a
	// script reads it, sort it so that replicas and AOF agree.
	if dontSort && o != nil && o.Type == keyspace.TypeSet && (storeKey != nil || c.flags&flagLuaClient != 0) {
		dontSort, alpha, sortBy = false, true, nil
	}
	// Redis converts a listpack sorted set to a skiplist for SORT, and
	// leaves it so.
	if o != nil && o.Type == keyspace.TypeZSet {
		zsetConvert(o, keyspace.EncSkiplist)
	}
	n := 0
	if o != nil {
		switch o.Type {
		case keyspace.TypeList:
			n = sortListLen(o)
		case keyspace.TypeSet:
			n = setSize(o)
		case keyspace.TypeZSet:
			n = zsetLength(o)
		}
	}
	// LIMIT, clamped as Redis clamps it.
	vlen := int64(n)
	start := min(max(limitStart, 0), vlen)
	limitCount = min(max(limitCount, -1), vlen)
	end := vlen - 1
	if limitCount >= 0 {
		end = start + limitCount - 1
	}
	if start >= vlen {
		start, end = vlen-1, vlen-2
	}
	if end >= vlen {
		end = vlen - 1
	}

	var items []sortItem
	native := o != nil && (o.Type == keyspace.TypeZSet || o.Type == keyspace.TypeList) && dontSort
	switch {
	case o == nil:
	case native && end >= start:
		// Native order: only the range asked for, in the direction asked.
		count := int(end - start + 1)
		items = make([]sortItem, 0, count)
		if o.Type == keyspace.TypeList {
			from := int(start)
			if desc {
				from = n - int(start) - 1
			}
			sortListEach(o, from, desc, func(e []byte) bool {
				items = append(items, sortItem{elem: bytes.Clone(e)})
				return len(items) < count
			})
		} else {
			z := zsl(o).zsl
			x := z.First()
			if desc {
				x = z.Last()
				if start > 0 {
					x = z.ByRank(n - int(start))
				}
			} else if start > 0 {
				x = z.ByRank(int(start + 1))
			}
			for x != nil && len(items) < count {
				items = append(items, sortItem{elem: []byte(x.Ele())})
				if desc {
					x = x.Prev()
				} else {
					x = x.Next()
				}
			}
		}
		end -= start
		start = 0
	case native:
	case o.Type == keyspace.TypeList:
		items = make([]sortItem, 0, n)
		sortListEach(o, 0, false, func(e []byte) bool {
			items = append(items, sortItem{elem: bytes.Clone(e)})
			return true
		})
	case o.Type == keyspace.TypeSet:
		items = make([]sortItem, 0, n)
		setEach(o, func(e setElem) bool {
			items = append(items, sortItem{elem: e.appendTo(nil)})
			return true
		})
	default:
		// A sorted set is sorted from its dict, in hash order.
		items = make([]sortItem, 0, n)
		zsl(o).d.Each(func(k string, _ float64) bool {
			items = append(items, sortItem{elem: []byte(k)})
			return true
		})
	}

	convErr := false
	if !dontSort {
		for i := range items {
			it := &items[i]
			by := it.elem
			if sortBy != nil {
				v, ok := s.lookupByPattern(db, sortBy, it.elem)
				if !ok {
					continue
				}
				by = v
			}
			if alpha {
				if sortBy != nil {
					it.cmp = bytes.Clone(by)
				}
				continue
			}
			v, ok := sortScore(by)
			it.score = v
			if !ok {
				convErr = true
			}
		}
		cmp := func(a, b *sortItem) int {
			var r int
			switch {
			case !alpha:
				switch {
				case a.score > b.score:
					r = 1
				case a.score < b.score:
					r = -1
				default:
					// Equal weights: order by the elements, so that the
					// result is deterministic.
					r = bytes.Compare(a.elem, b.elem)
				}
			case sortBy != nil:
				switch {
				case a.cmp == nil && b.cmp == nil:
					r = 0
				case a.cmp == nil:
					r = -1
				case b.cmp == nil:
					r = 1
				default:
					r = bytes.Compare(a.cmp, b.cmp)
				}
			default:
				r = bytes.Compare(a.elem, b.elem)
			}
			if desc {
				return -r
			}
			return r
		}
		slices.SortStableFunc(items, func(a, b sortItem) int { return cmp(&a, &b) })
	}

	outLen := end - start + 1
	if len(gets) > 0 {
		outLen *= int64(len(gets))
	}
	if outLen < 0 {
		outLen = 0
	}
	if convErr {
		c.Error(errSortScores)
		return
	}
	if storeKey == nil {
		c.ArrayLen(int(outLen))
		for j := start; j <= end; j++ {
			it := &items[j]
			if len(gets) == 0 {
				c.Bulk(it.elem)
			}
			for _, g := range gets {
				if v, ok := s.lookupByPattern(db, g, it.elem); ok {
					c.Bulk(v)
				} else {
					c.Null()
				}
			}
		}
		return
	}
	out := make([][]byte, 0, outLen)
	for j := start; j <= end; j++ {
		it := &items[j]
		if len(gets) == 0 {
			out = append(out, it.elem)
			continue
		}
		for _, g := range gets {
			v, _ := s.lookupByPattern(db, g, it.elem)
			out = append(out, bytes.Clone(v))
		}
	}
	if outLen > 0 {
		s.setKey(db, storeKey, s.sortListStore(out), false)
		s.signalReady(db, storeKey)
		s.notify(notifyList, "sortstore", storeKey, db.id)
		s.dirty += outLen
		s.propagate(db.id, args)
	} else if s.deleteKey(db, storeKey) {
		s.notify(notifyGeneric, "del", storeKey, db.id)
		s.dirty++
		s.propagate(db.id, args)
	}
	c.Int(outLen)
}
