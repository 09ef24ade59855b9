// Package skiplist is Redis's sorted-set skiplist: elements ordered by
// score, then by member bytes, with a backward link on level 0 and a span
// on every forward link so that ranks are found in O(log N). Together
// with a dict from member to score it is the "skiplist" encoding of a
// sorted set.
//
// A List is not safe for concurrent use.
package skiplist

import (
	"math/rand/v2"
	"strings"
)

const (
	// MaxLevel is enough for 2^64 elements at P = 1/4.
	MaxLevel = 32
	p        = 0.25
)

type level struct {
	forward *Node
	span    int
}

// Node is one element of the list.
type Node struct {
	ele      string
	score    float64
	backward *Node
	levels   []level
	// inline holds the only level of the three nodes in four that have
	// one, saving them a second allocation.
	inline [1]level
}

// Ele returns the member.
func (n *Node) Ele() string { return n.ele }

// Score returns the score.
func (n *Node) Score() float64 { return n.score }

// Next returns the following node (higher score), or nil.
func (n *Node) Next() *Node { return n.levels[0].forward }

// Prev returns the preceding node, or nil.
func (n *Node) Prev() *Node { return n.backward }

// List is a skiplist. The zero value is not usable: call New.
type List struct {
	header *Node
	tail   *Node
	length int
	level  int
}

// New returns an empty list.
func New() *List {
	h := &Node{levels: make([]level, MaxLevel)}
	return &List{header: h, level: 1}
}

func newNode(lvl int, score float64, ele string) *Node {
	n := &Node{ele: ele, score: score}
	if lvl == 1 {
		n.levels = n.inline[:]
	} else {
		n.levels = make([]level, lvl)
	}
	return n
}

// Len returns the number of elements.
func (l *List) Len() int { return l.length }

// First returns the node with the lowest score, or nil.
func (l *List) First() *Node { return l.header.levels[0].forward }

// Last returns the node with the highest score, or nil.
func (l *List) Last() *Node { return l.tail }

func randomLevel() int {
	lvl := 1
	for lvl < MaxLevel && rand.Float64() < p {
		lvl++
	}
	return lvl
}

// less reports whether the node sorts before (score, ele).
func less(n *Node, score float64, ele string) bool {
	return n.score < score || (n.score == score && n.ele < ele)
}

// Insert adds ele with score and returns its node. The caller guarantees
// that ele is not already in the list (the dict knows). NaN scores are
// the caller's to refuse.
func (l *List) Insert(score float64, ele string) *Node {
	var update [MaxLevel]*Node
	var rank [MaxLevel]int
	x := l.header
	for i := l.level - 1; i >= 0; i-- {
		if i != l.level-1 {
			rank[i] = rank[i+1]
		}
		for f := x.levels[i].forward; f != nil && less(f, score, ele); f = x.levels[i].forward {
			rank[i] += x.levels[i].span
			x = f
		}
		update[i] = x
	}
	lvl := randomLevel()
	if lvl > l.level {
		for i := l.level; i < lvl; i++ {
			rank[i] = 0
			update[i] = l.header
			update[i].levels[i].span = l.length
		}
		l.level = lvl
	}
	x = newNode(lvl, score, ele)
	for i := 0; i < lvl; i++ {
		x.levels[i].forward = update[i].levels[i].forward
		update[i].levels[i].forward = x
		x.levels[i].span = update[i].levels[i].span - (rank[0] - rank[i])
		update[i].levels[i].span = rank[0] - rank[i] + 1
	}
	for i := lvl; i < l.level; i++ {
		update[i].levels[i].span++
	}
	if update[0] != l.header {
		x.backward = update[0]
	}
	if f := x.levels[0].forward; f != nil {
		f.backward = x
	} else {
		l.tail = x
	}
	l.length++
	return x
}

func (l *List) deleteNode(x *Node, update *[MaxLevel]*Node) {
	for i := 0; i < l.level; i++ {
		if update[i].levels[i].forward == x {
			update[i].levels[i].span += x.levels[i].span - 1
			update[i].levels[i].forward = x.levels[i].forward
		} else {
			update[i].levels[i].span--
		}
	}
	if f := x.levels[0].forward; f != nil {
		f.backward = x.backward
	} else {
		l.tail = x.backward
	}
	for l.level > 1 && l.header.levels[l.level-1].forward == nil {
		l.level--
	}
	l.length--
}

// seek fills update with the last node before (score, ele) on each level
// and returns the node at (score, ele) or nil.
func (l *List) seek(score float64, ele string, update *[MaxLevel]*Node) *Node {
	x := l.header
	for i := l.level - 1; i >= 0; i-- {
		for f := x.levels[i].forward; f != nil && less(f, score, ele); f = x.levels[i].forward {
			x = f
		}
		update[i] = x
	}
	x = x.levels[0].forward
	if x != nil && x.score == score && x.ele == ele {
		return x
	}
	return nil
}

// Delete removes (score, ele) and reports whether it was there.
func (l *List) Delete(score float64, ele string) bool {
	var update [MaxLevel]*Node
	x := l.seek(score, ele, &update)
	if x == nil {
		return false
	}
	l.deleteNode(x, &update)
	return true
}

// UpdateScore moves ele from curscore to newscore and returns its node.
// The element must be in the list with curscore. As in Redis, the node is
// updated in place when its position does not change.
func (l *List) UpdateScore(curscore float64, ele string, newscore float64) *Node {
	var update [MaxLevel]*Node
	x := l.seek(curscore, ele, &update)
	if x == nil {
		panic("skiplist: UpdateScore of a missing element")
	}
	if (x.backward == nil || x.backward.score < newscore) &&
		(x.levels[0].forward == nil || x.levels[0].forward.score > newscore) {
		x.score = newscore
		return x
	}
	l.deleteNode(x, &update)
	return l.Insert(newscore, x.ele)
}

// Rank returns the 1-based rank of (score, ele), 0 when absent.
func (l *List) Rank(score float64, ele string) int {
	rank := 0
	x := l.header
	for i := l.level - 1; i >= 0; i-- {
		for f := x.levels[i].forward; f != nil && (f.score < score || (f.score == score && f.ele <= ele)); f = x.levels[i].forward {
			rank += x.levels[i].span
			x = f
		}
		if x != l.header && x.score == score && x.ele == ele {
			return rank
		}
	}
	return 0
}

// ByRank returns the node at the 1-based rank, or nil.
func (l *List) ByRank(rank int) *Node {
	traversed := 0
	x := l.header
	for i := l.level - 1; i >= 0; i-- {
		for f := x.levels[i].forward; f != nil && traversed+x.levels[i].span <= rank; f = x.levels[i].forward {
			traversed += x.levels[i].span
			x = f
		}
		if traversed == rank && x != l.header {
			return x
		}
	}
	return nil
}

// ScoreRange is a score interval; MinEx/MaxEx make a bound exclusive.
type ScoreRange struct {
	Min, Max     float64
	MinEx, MaxEx bool
}

// GteMin reports whether v is above the lower bound.
func (r *ScoreRange) GteMin(v float64) bool {
	if r.MinEx {
		return v > r.Min
	}
	return v >= r.Min
}

// LteMax reports whether v is below the upper bound.
func (r *ScoreRange) LteMax(v float64) bool {
	if r.MaxEx {
		return v < r.Max
	}
	return v <= r.Max
}

// Empty reports whether no score can be in the range.
func (r *ScoreRange) Empty() bool {
	return r.Min > r.Max || (r.Min == r.Max && (r.MinEx || r.MaxEx))
}

// BoundKind says whether a lex bound is a string or one of the infinite
// strings "-" and "+".
type BoundKind uint8

const (
	BoundValue BoundKind = iota
	BoundNegInf
	BoundPosInf
)

// LexBound is one end of a lex range.
type LexBound struct {
	Kind BoundKind
	S    string
	Ex   bool
}

// LexRange is a member interval for sorted sets whose scores are equal.
type LexRange struct{ Min, Max LexBound }

// cmpBound compares v with a bound as Redis's sdscmplex.
func cmpBound(v string, b *LexBound) int {
	switch b.Kind {
	case BoundNegInf:
		return 1
	case BoundPosInf:
		return -1
	}
	return strings.Compare(v, b.S)
}

// GteMin reports whether v is above the lower bound.
func (r *LexRange) GteMin(v string) bool {
	c := cmpBound(v, &r.Min)
	if r.Min.Ex {
		return c > 0
	}
	return c >= 0
}

// LteMax reports whether v is below the upper bound.
func (r *LexRange) LteMax(v string) bool {
	c := cmpBound(v, &r.Max)
	if r.Max.Ex {
		return c < 0
	}
	return c <= 0
}

// Empty reports whether no member can be in the range.
func (r *LexRange) Empty() bool {
	var c int
	switch {
	case r.Min.Kind == r.Max.Kind && r.Min.Kind != BoundValue:
		c = 0
	case r.Min.Kind == BoundNegInf || r.Max.Kind == BoundPosInf:
		c = -1
	case r.Min.Kind == BoundPosInf || r.Max.Kind == BoundNegInf:
		c = 1
	default:
		c = strings.Compare(r.Min.S, r.Max.S)
	}
	return c > 0 || (c == 0 && (r.Min.Ex || r.Max.Ex))
}

func (l *List) inRange(r *ScoreRange) bool {
	if r.Empty() || l.tail == nil || !r.GteMin(l.tail.score) {
		return false
	}
	first := l.First()
	return first != nil && r.LteMax(first.score)
}

// FirstInRange returns the first node with a score in r, or nil.
func (l *List) FirstInRange(r *ScoreRange) *Node {
	if !l.inRange(r) {
		return nil
	}
	x := l.header
	for i := l.level - 1; i >= 0; i-- {
		for f := x.levels[i].forward; f != nil && !r.GteMin(f.score); f = x.levels[i].forward {
			x = f
		}
	}
	x = x.levels[0].forward
	if x == nil || !r.LteMax(x.score) {
		return nil
	}
	return x
}

// LastInRange returns the last node with a score in r, or nil.
func (l *List) LastInRange(r *ScoreRange) *Node {
	if !l.inRange(r) {
		return nil
	}
	x := l.header
	for i := l.level - 1; i >= 0; i-- {
		for f := x.levels[i].forward; f != nil && r.LteMax(f.score); f = x.levels[i].forward {
			x = f
		}
	}
	if x == l.header || !r.GteMin(x.score) {
		return nil
	}
	return x
}

func (l *List) inLexRange(r *LexRange) bool {
	if r.Empty() || l.tail == nil || !r.GteMin(l.tail.ele) {
		return false
	}
	first := l.First()
	return first != nil && r.LteMax(first.ele)
}

// FirstInLexRange returns the first node with a member in r, or nil.
func (l *List) FirstInLexRange(r *LexRange) *Node {
	if !l.inLexRange(r) {
		return nil
	}
	x := l.header
	for i := l.level - 1; i >= 0; i-- {
		for f := x.levels[i].forward; f != nil && !r.GteMin(f.ele); f = x.levels[i].forward {
			x = f
		}
	}
	x = x.levels[0].forward
	if x == nil || !r.LteMax(x.ele) {
		return nil
	}
	return x
}

// LastInLexRange returns the last node with a member in r, or nil.
func (l *List) LastInLexRange(r *LexRange) *Node {
	if !l.inLexRange(r) {
		return nil
	}
	x := l.header
	for i := l.level - 1; i >= 0; i-- {
		for f := x.levels[i].forward; f != nil && r.LteMax(f.ele); f = x.levels[i].forward {
			x = f
		}
	}
	if x == l.header || !r.GteMin(x.ele) {
		return nil
	}
	return x
}

// DeleteRangeByScore removes the nodes with a score in r, calling removed
// for each (so that the caller drops it from its dict), and returns how
// many there were.
func (l *List) DeleteRangeByScore(r *ScoreRange, removed func(ele string)) int {
	var update [MaxLevel]*Node
	x := l.header
	for i := l.level - 1; i >= 0; i-- {
		for f := x.levels[i].forward; f != nil && !r.GteMin(f.score); f = x.levels[i].forward {
			x = f
		}
		update[i] = x
	}
	n := 0
	for x = x.levels[0].forward; x != nil && r.LteMax(x.score); {
		next := x.levels[0].forward
		l.deleteNode(x, &update)
		removed(x.ele)
		n++
		x = next
	}
	return n
}

// DeleteRangeByLex removes the nodes with a member in r.
func (l *List) DeleteRangeByLex(r *LexRange, removed func(ele string)) int {
	var update [MaxLevel]*Node
	x := l.header
	for i := l.level - 1; i >= 0; i-- {
		for f := x.levels[i].forward; f != nil && !r.GteMin(f.ele); f = x.levels[i].forward {
			x = f
		}
		update[i] = x
	}
	n := 0
	for x = x.levels[0].forward; x != nil && r.LteMax(x.ele); {
		next := x.levels[0].forward
		l.deleteNode(x, &update)
		removed(x.ele)
		n++
		x = next
	}
	return n
}

// DeleteRangeByRank removes the nodes of 1-based ranks start..end
// (inclusive).
func (l *List) DeleteRangeByRank(start, end int, removed func(ele string)) int {
	var update [MaxLevel]*Node
	traversed := 0
	x := l.header
	for i := l.level - 1; i >= 0; i-- {
		for f := x.levels[i].forward; f != nil && traversed+x.levels[i].span < start; f = x.levels[i].forward {
			traversed += x.levels[i].span
			x = f
		}
		update[i] = x
	}
	traversed++
	n := 0
	for x = x.levels[0].forward; x != nil && traversed <= end; {
		next := x.levels[0].forward
		l.deleteNode(x, &update)
		removed(x.ele)
		n++
		traversed++
		x = next
	}
	return n
}

// Level returns the number of levels of the node (MEMORY USAGE sizes it).
func (n *Node) Level() int { return len(n.levels) }
