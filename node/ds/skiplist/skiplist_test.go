package skiplist

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

type pair struct {
	score float64
	ele   string
}

func sortedRef(m map[string]float64) []pair {
	ps := make([]pair, 0, len(m))
	for e, s := range m {
		ps = append(ps, pair{s, e})
	}
	slices.SortFunc(ps, func(a, b pair) int {
		if c := cmp.Compare(a.score, b.score); c != 0 {
			return c
		}
		return cmp.Compare(a.ele, b.ele)
	})
	return ps
}

// check verifies the list against the reference: order both ways, spans
// (through Rank and ByRank) and the length.
func check(t *testing.T, l *List, m map[string]float64) {
	t.Helper()
	ref := sortedRef(m)
	if l.Len() != len(ref) {
		t.Fatalf("Len = %d, want %d", l.Len(), len(ref))
	}
	i := 0
	for n := l.First(); n != nil; n = n.Next() {
		if n.Score() != ref[i].score || n.Ele() != ref[i].ele {
			t.Fatalf("forward %d = (%v %s), want %v", i, n.Score(), n.Ele(), ref[i])
		}
		i++
	}
	i = len(ref) - 1
	for n := l.Last(); n != nil; n = n.Prev() {
		if n.Ele() != ref[i].ele {
			t.Fatalf("backward %d = %s, want %s", i, n.Ele(), ref[i].ele)
		}
		i--
	}
	for i, p := range ref {
		if r := l.Rank(p.score, p.ele); r != i+1 {
			t.Fatalf("Rank(%v) = %d, want %d", p, r, i+1)
		}
		if n := l.ByRank(i + 1); n == nil || n.Ele() != p.ele {
			t.Fatalf("ByRank(%d) wrong", i+1)
		}
	}
	if l.ByRank(len(ref)+1) != nil || l.ByRank(0) != nil {
		t.Fatal("ByRank out of range returned a node")
	}
}

func TestRandomOps(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	l := New()
	m := map[string]float64{}
	for i := 0; i < 5000; i++ {
		ele := "e" + strconv.Itoa(r.IntN(300))
		score := float64(r.IntN(50))
		cur, had := m[ele]
		switch {
		case r.IntN(4) == 0:
			if l.Delete(cur, ele) != had {
				t.Fatalf("Delete(%s) = %v, want %v", ele, !had, had)
			}
			delete(m, ele)
		case had:
			l.UpdateScore(cur, ele, score)
			m[ele] = score
		default:
			l.Insert(score, ele)
			m[ele] = score
		}
		if i%500 == 0 {
			check(t, l, m)
		}
	}
	check(t, l, m)
}

func TestRanges(t *testing.T) {
	l := New()
	m := map[string]float64{}
	for i, e := range []string{"a", "b", "c", "d", "e", "f", "g"} {
		s := float64(i)
		if i == 0 {
			s = math.Inf(-1)
		} else if i == 6 {
			s = math.Inf(1)
		}
		l.Insert(s, e)
		m[e] = s
	}
	tests := []struct {
		r           ScoreRange
		first, last string
	}{
		{ScoreRange{Min: math.Inf(-1), Max: 2}, "a", "c"},
		{ScoreRange{Min: 0, Max: 3}, "b", "d"},
		{ScoreRange{Min: 3, Max: 6}, "d", "f"},
		{ScoreRange{Min: 4, Max: math.Inf(1)}, "e", "g"},
		{ScoreRange{Min: math.Inf(-1), Max: 2, MinEx: true, MaxEx: true}, "b", "b"},
		{ScoreRange{Min: 2.4, Max: 2.6}, "", ""},
		{ScoreRange{Min: 2, Max: 2, MinEx: true}, "", ""},
		{ScoreRange{Min: 4, Max: 2}, "", ""},
	}
	for _, tt := range tests {
		f, la := l.FirstInRange(&tt.r), l.LastInRange(&tt.r)
		name := func(n *Node) string {
			if n == nil {
				return ""
			}
			return n.Ele()
		}
		if name(f) != tt.first || name(la) != tt.last {
			t.Errorf("%+v: first %q last %q, want %q %q", tt.r, name(f), name(la), tt.first, tt.last)
		}
	}
	n := l.DeleteRangeByScore(&ScoreRange{Min: 1, Max: 3}, func(e string) { delete(m, e) })
	if n != 3 {
		t.Fatalf("DeleteRangeByScore removed %d, want 3", n)
	}
	check(t, l, m)
	n = l.DeleteRangeByRank(1, 2, func(e string) { delete(m, e) })
	if n != 2 {
		t.Fatalf("DeleteRangeByRank removed %d, want 2", n)
	}
	check(t, l, m)
}

func TestLexRanges(t *testing.T) {
	l := New()
	m := map[string]float64{}
	for _, e := range []string{"alpha", "bar", "cool", "down", "elephant", "foo", "great", "hill", "omega"} {
		l.Insert(0, e)
		m[e] = 0
	}
	incl := func(s string) LexBound { return LexBound{S: s} }
	excl := func(s string) LexBound { return LexBound{S: s, Ex: true} }
	neg, pos := LexBound{Kind: BoundNegInf}, LexBound{Kind: BoundPosInf}
	tests := []struct {
		r           LexRange
		first, last string
	}{
		{LexRange{neg, incl("cool")}, "alpha", "cool"},
		{LexRange{incl("bar"), incl("down")}, "bar", "down"},
		{LexRange{excl("bar"), excl("down")}, "cool", "cool"},
		{LexRange{incl("g"), pos}, "great", "omega"},
		{LexRange{neg, pos}, "alpha", "omega"},
		{LexRange{pos, neg}, "", ""},
		{LexRange{excl("az"), excl("b")}, "", ""},
		{LexRange{neg, incl("aaaa")}, "", ""},
	}
	for _, tt := range tests {
		name := func(n *Node) string {
			if n == nil {
				return ""
			}
			return n.Ele()
		}
		f, la := l.FirstInLexRange(&tt.r), l.LastInLexRange(&tt.r)
		if name(f) != tt.first || name(la) != tt.last {
			t.Errorf("%+v: first %q last %q, want %q %q", tt.r, name(f), name(la), tt.first, tt.last)
		}
	}
	n := l.DeleteRangeByLex(&LexRange{incl("bar"), excl("foo")}, func(e string) { delete(m, e) })
	if n != 4 {
		t.Fatalf("DeleteRangeByLex removed %d, want 4", n)
	}
	check(t, l, m)
}
