package node

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"
)

// The replies below are redis-server 7.0.15's.
func TestSortSetsAndZsets(t *testing.T) {
	_, rc := testServer(t, nil)
	ctx := context.Background()
	rc.SAdd(ctx, "ss", 3, 1, 2)
	rc.ZAdd(ctx, "zs", zs(1, "a", 5, "b", 2, "c", 10, "d", 3, "e")...)
	rc.SAdd(ctx, "fl", "1.1", "5.10", "3.10", "7.44", "2.1", "5.75", "6.12", "0.25", "1.15")
	rc.SAdd(ctx, "bad", 1, 2, 3, 4, "not-a-double")
	runSteps(t, rc, []step{
		{cmd("object", "encoding", "zs"), "listpack"},
		{cmd("sort", "zs", "alpha", "desc"), []any{"e", "d", "c", "b", "a"}},
		{cmd("object", "encoding", "zs"), "skiplist"},
		{cmd("sort", "zs", "by", "nosort"), []any{"a", "c", "e", "b", "d"}},
		{cmd("sort", "zs", "by", "nosort", "desc"), []any{"d", "b", "e", "c", "a"}},
		{cmd("sort", "zs", "by", "nosort", "limit", "-10", "100"), []any{"a", "c", "e", "b", "d"}},
		{cmd("sort", "zs", "by", "nosort", "desc", "limit", "0", "2"), []any{"d", "b"}},
		{cmd("sort", "zs", "by", "nosort", "limit", "5", "10"), []any{}},
		{cmd("sort", "zs"), errReply(errSortScores)},
		{cmd("sort", "ss", "by", "nosort"), []any{"1", "2", "3"}},
		{cmd("sort", "ss", "limit", "1", "1"), []any{"2"}},
		{cmd("sort", "ss", "limit", "-5", "2"), []any{"1", "2"}},
		{cmd("sort", "ss", "limit", "2", "-7"), []any{"3"}},
		{cmd("sort", "ss", "desc", "limit", "0", "1"), []any{"3"}},
		{cmd("sort", "ss", "get", "#", "get", "nokey_*"), []any{"1", nil, "2", nil, "3", nil}},
		{cmd("set", "w_1", "x"), "OK"},
		{cmd("sort", "ss", "by", "w_*"), errReply(errSortScores)},
		{cmd("sort", "ss", "by", "w_*", "alpha"), []any{"2", "3", "1"}},
		{cmd("mset", "score:1", "30", "score:2", "10", "score:3", "20"), "OK"},
		{cmd("sort", "ss", "by", "score:*"), []any{"2", "3", "1"}},
		{cmd("sort", "ss", "by", "score:*", "get", "score:*", "get", "#"), []any{"10", "2", "20", "3", "30", "1"}},
		{cmd("sort", "ss", "get", "score:*->f"), []any{nil, nil, nil}},
		{cmd("sort", "fl"), []any{"0.25", "1.1", "1.15", "2.1", "3.10", "5.10", "5.75", "6.12", "7.44"}},
		{cmd("sort", "bad"), errReply(errSortScores)},
		{cmd("sort", "bad", "alpha"), []any{"1", "2", "3", "4", "not-a-double"}},
		{cmd("sort", "ss", "limit", "a", "1"), errReply("ERR value is not an integer or out of range")},
		{cmd("sort", "ss", "limit", "1"), errReply("ERR syntax error")},
		{cmd("sort", "ss", "store"), errReply("ERR syntax error")},
		{cmd("sort_ro", "ss", "store", "x"), errReply("ERR syntax error")},
		{cmd("sort", "ss", "foo"), errReply("ERR syntax error")},
		{cmd("sort", "nokey"), []any{}},
		{cmd("set", "str", "x"), "OK"},
		{cmd("sort", "str"), errReply("WRONGTYPE")},
		{cmd("set", "dst", "x"), "OK"},
		{cmd("sort", "nokey", "store", "dst"), 0},
		{cmd("exists", "dst"), 0},
		{cmd("sort", "ss", "alpha", "limit", "5", "5", "store", "dst"), 0},
		{cmd("exists", "dst"), 0},
	})
}

// zs builds ZADD members from score, member pairs.
func zs(pairs ...any) []redis.Z {
	out := make([]redis.Z, 0, len(pairs)/2)
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, redis.Z{Score: float64(pairs[i].(int)), Member: pairs[i+1]})
	}
	return out
}

func TestLookupByPattern(t *testing.T) {
	s, rc := testServer(t, nil)
	ctx := context.Background()
	rc.Set(ctx, "x:a->", "100", 0)
	rc.Set(ctx, "k_a_suffix", "v", 0)
	s.mu.Lock()
	defer s.mu.Unlock()
	db := s.dbs[0]
	tests := []struct {
		pattern string
		want    string
		ok      bool
	}{
		{"#", "a", true},
		{"x:*->", "100", true},
		{"k_*_suffix", "v", true},
		{"constant", "", false},
		{"nokey_*", "", false},
		{"x:*->field", "", false},
	}
	for _, tt := range tests {
		got, ok := s.lookupByPattern(db, []byte(tt.pattern), []byte("a"))
		if ok != tt.ok || string(got) != tt.want {
			t.Errorf("lookupByPattern(%q) = %q, %v; want %q, %v", tt.pattern, got, ok, tt.want, tt.ok)
		}
	}
}

// The replies below are redis-server 7.0.15's.
func TestSortListsAndHashFields(t *testing.T) {
	_, rc := testServer(t, nil)
	ctx := context.Background()
	rc.RPush(ctx, "l", 3, 1, 2)
	rc.HSet(ctx, "w_1", "f", "30")
	rc.HSet(ctx, "w_2", "f", "10")
	rc.HSet(ctx, "w_3", "f", "20")
	rc.LPush(ctx, "testa", 2, 1, 4, 3, 5)
	runSteps(t, rc, []step{
		{cmd("sort", "l"), []any{"1", "2", "3"}},
		{cmd("sort", "l", "desc"), []any{"3", "2", "1"}},
		{cmd("sort", "l", "by", "w_*->f"), []any{"2", "3", "1"}},
		{cmd("sort", "l", "by", "w_*->f", "get", "w_*->f", "get", "#"), []any{"10", "2", "20", "3", "30", "1"}},
		{cmd("sort", "l", "by", "nosort"), []any{"3", "1", "2"}},
		{cmd("sort", "l", "by", "nosort", "desc"), []any{"2", "1", "3"}},
		{cmd("sort", "l", "by", "nosort", "desc", "limit", "1", "5"), []any{"1", "3"}},
		{cmd("sort", "l", "get", "w_*->nofield"), []any{nil, nil, nil}},
		{cmd("sort", "testa", "by", "nosort"), []any{"5", "3", "4", "1", "2"}},
		{cmd("sort", "testa", "by", "nosort", "limit", "0", "3", "store", "testb"), 3},
		{cmd("lrange", "testb", "0", "-1"), []any{"5", "3", "4"}},
		{cmd("object", "encoding", "testb"), "quicklist"},
		{cmd("sort", "l", "by", "w_*->f", "get", "w_*->nofield", "store", "dst"), 3},
		{cmd("lrange", "dst", "0", "-1"), []any{"", "", ""}},
		{cmd("sort", "l", "alpha", "limit", "10", "10", "store", "dst"), 0},
		{cmd("exists", "dst"), 0},
	})
}
