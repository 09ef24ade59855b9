package node

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/keyfleet/keyfleet/node/ds/stream"
	"github.com/keyfleet/keyfleet/node/keyspace"
	"github.com/keyfleet/keyfleet/node/rdb"
	"github.com/redis/go-redis/v9"
)

// The expected replies below come from redis-server 7.0.15, written in
// fmtResp's form: +"OK", :"1", $"v", $nil, *nil, -"ERR ...", *[...].

// TestPELTree checks the ordered PEL against a map and a sorted slice
// under random insertions, deletions and walks, with leaves small enough
// to split and merge often.
func TestPELTree(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	var tr pelTree[int]
	model := map[streamID]int{}
	sorted := func() []streamID {
		ids := make([]streamID, 0, len(model))
		for id := range model {
			ids = append(ids, id)
		}
		slices.SortFunc(ids, streamID.cmp)
		return ids
	}
	randID := func() streamID { return streamID{uint64(rng.Intn(50)), uint64(rng.Intn(200))} }
	for i := 0; i < 40000; i++ {
		id := randID()
		switch op := rng.Intn(10); {
		case op < 5:
			_, had := model[id]
			if got := tr.Insert(id, i); got == had {
				t.Fatalf("Insert(%v) = %v with the ID present: %v", id, got, had)
			}
			if !had {
				model[id] = i
			}
		case op < 9:
			v, ok := tr.Delete(id)
			mv, had := model[id]
			if ok != had || (ok && v != mv) {
				t.Fatalf("Delete(%v) = %v %v, want %v %v", id, v, ok, mv, had)
			}
			delete(model, id)
		default:
			ids := sorted()
			j, _ := slices.BinarySearchFunc(ids, id, streamID.cmp)
			got, _, ok := tr.Seek(id)
			if ok != (j < len(ids)) || (ok && got != ids[j]) {
				t.Fatalf("Seek(%v) = %v %v", id, got, ok)
			}
		}
		if tr.Len() != len(model) {
			t.Fatalf("Len %d, want %d", tr.Len(), len(model))
		}
		if p, ok := tr.Get(id); ok != (model[id] != 0 || hasKey(model, id)) || (ok && *p != model[id]) {
			t.Fatalf("Get(%v) disagrees", id)
		}
	}
	ids := sorted()
	var walked []streamID
	tr.Ascend(streamID{}, func(id streamID, v *int) bool {
		if *v != model[id] {
			t.Fatalf("value of %v: %d, want %d", id, *v, model[id])
		}
		walked = append(walked, id)
		return true
	})
	if !reflect.DeepEqual(walked, ids) {
		t.Fatalf("Ascend walked %d IDs out of order or incomplete (want %d)", len(walked), len(ids))
	}
	for _, l := range tr.leaves {
		if len(l.items) == 0 || len(l.items) > pelLeafMax {
			t.Fatalf("leaf of %d items", len(l.items))
		}
	}
	first, _ := tr.First()
	last, _ := tr.Last()
	if first != ids[0] || last != ids[len(ids)-1] {
		t.Fatalf("First/Last %v %v, want %v %v", first, last, ids[0], ids[len(ids)-1])
	}
	cl := tr.Clone()
	cl.Delete(ids[0])
	if _, ok := tr.Get(ids[0]); !ok || cl.Len() != tr.Len()-1 {
		t.Fatal("a change to the clone reached the original")
	}
}

func hasKey(m map[streamID]int, id streamID) bool { _, ok := m[id]; return ok }

// cgStep is one command and its expected reply in fmtResp form; a want
// ending in "*" matches as a prefix.
type cgStep struct {
	args []string
	want string
}

func cgRun(t *testing.T, rc *rawConn, steps []cgStep) {
	t.Helper()
	for _, st := range steps {
		got := fmtResp(rc.do(t, st.args...))
		if !cgMatch(got, st.want) {
			t.Errorf("%q:\n got %s\nwant %s", st.args, got, st.want)
		}
	}
}

// cgMatch matches a reply against a want where :"~" stands for any
// integer (idle times) and a final * for any rest.
func cgMatch(got, want string) bool {
	pat := regexp.QuoteMeta(want)
	if p, ok := strings.CutSuffix(pat, `\*`); ok {
		pat = p + ".*"
	}
	pat = strings.ReplaceAll(pat, `:"~"`, `:"\d+"`)
	return regexp.MustCompile("^" + pat + "$").MatchString(got)
}

func a(args ...string) []string { return args }

func TestXGroupCommands(t *testing.T) {
	s, _ := testServer(t, nil)
	rc := dialNode(t, s)
	cgRun(t, rc, []cgStep{
		{a("XGROUP", "CREATE", "s", "g", "$"), `-"ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically."`},
		{a("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"), `+"OK"`},
		{a("XGROUP", "CREATE", "s", "g", "$"), `-"BUSYGROUP Consumer Group name already exists"`},
		{a("XGROUP", "CREATE", "s", "g2", "-"), `-"ERR Invalid stream ID specified as stream command argument"`},
		{a("XGROUP", "CREATE", "s", "g2", "0", "ENTRIESREAD", "-2"), `-"ERR value for ENTRIESREAD must be positive or -1"`},
		{a("XGROUP", "CREATE", "s", "g2", "0", "ENTRIESREAD", "x"), `-"ERR value is not an integer or out of range"`},
		{a("XGROUP", "CREATE", "s", "g2", "0", "FOO"), `-"ERR unknown subcommand or wrong number of arguments for 'CREATE'. Try XGROUP HELP."`},
		{a("XGROUP", "CREATE", "s", "g2", "0", "MKSTREAM", "MKSTREAM", "MKSTREAM", "MKSTREAM"), `-"ERR unknown subcommand or wrong number of arguments for 'CREATE'. Try XGROUP HELP."`},
		{a("XGROUP", "CREATE", "s", "g2", "5", "ENTRIESREAD", "3"), `+"OK"`},
		{a("XGROUP", "SETID", "s", "g3", "0"), `-"NOGROUP No such consumer group 'g3' for key name 's'"`},
		{a("XGROUP", "SETID", "s", "g", "0", "MKSTREAM"), `-"ERR unknown subcommand or wrong number of arguments for 'SETID'. Try XGROUP HELP."`},
		{a("XGROUP", "SETID", "s", "g", "+"), `+"OK"`},
		{a("XGROUP", "SETID", "s", "g", "$", "ENTRIESREAD", "0"), `+"OK"`},
		{a("XGROUP", "CREATECONSUMER", "s", "g", "c1"), `:"1"`},
		{a("XGROUP", "CREATECONSUMER", "s", "g", "c1"), `:"0"`},
		{a("XGROUP", "CREATECONSUMER", "s", "nog", "c1"), `-"NOGROUP No such consumer group 'nog' for key name 's'"`},
		{a("XGROUP", "DELCONSUMER", "s", "g", "c2"), `:"0"`},
		{a("XGROUP", "DELCONSUMER", "s", "g", "c1"), `:"0"`},
		{a("XGROUP", "DESTROY", "s", "nog"), `:"0"`},
		{a("XGROUP", "DESTROY", "nokey", "g"), `-"ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically."`},
		{a("XGROUP", "CREATE", "s"), `-"ERR wrong number of arguments for 'xgroup|create' command"`},
		{a("XGROUP", "NOSUCH"), `-"ERR unknown subcommand 'NOSUCH'. Try XGROUP HELP."`},
		{a("SET", "str", "x"), `+"OK"`},
		{a("XGROUP", "CREATE", "str", "g", "$", "MKSTREAM"), `-"WRONGTYPE Operation against a key holding the wrong kind of value"`},
		{a("XINFO", "GROUPS", "s"), `*[*[$"name" $"g" $"consumers" :"0" $"pending" :"0" $"last-delivered-id" $"0-0" $"entries-read" :"0" $"lag" :"0"] *[$"name" $"g2" $"consumers" :"0" $"pending" :"0" $"last-delivered-id" $"5-0" $"entries-read" :"3" $"lag" :"0"]]`},
		{a("XGROUP", "DESTROY", "s", "g"), `:"1"`},
		{a("XINFO", "GROUPS", "s"), `*[*[$"name" $"g2" *`},
		{a("XINFO", "CONSUMERS", "s", "g"), `-"NOGROUP No such consumer group 'g' for key name 's'"`},
		{a("XINFO", "GROUPS", "nokey"), `-"ERR no such key"`},
	})
	help := rc.do(t, "XGROUP", "HELP")
	if len(help.elems) != 17 || !strings.HasPrefix(help.elems[0].str, "XGROUP <subcommand>") {
		t.Fatalf("XGROUP HELP: %s", help)
	}
}

func TestXReadGroup(t *testing.T) {
	s, _ := testServer(t, nil)
	rc := dialNode(t, s)
	cgRun(t, rc, []cgStep{
		{a("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"), `-"NOGROUP No such key 's' or consumer group 'g' in XREADGROUP with GROUP option"`},
		{a("XADD", "s", "1-1", "a", "1"), `$"1-1"`},
		{a("XADD", "s", "2-1", "b", "2"), `$"2-1"`},
		{a("XADD", "s", "3-1", "c", "3"), `$"3-1"`},
		{a("XGROUP", "CREATE", "s", "g", "0"), `+"OK"`},
		{a("XREADGROUP", "COUNT", "1", "NOACK", "STREAMS", "s", ">"), `-"ERR Missing GROUP option for XREADGROUP"`},
		{a("XREAD", "GROUP", "g", "c", "STREAMS", "s", ">"), `-"ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead."`},
		{a("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "$"), `-"ERR The $ ID is meaningless in the context of XREADGROUP*`},
		{a("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "x"), `-"ERR Invalid stream ID specified as stream command argument"`},
		{a("XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "s", ">"), `*[*[$"s" *[*[$"1-1" *[$"a" $"1"]]]]]`},
		{a("XREADGROUP", "GROUP", "g", "c2", "STREAMS", "s", ">"), `*[*[$"s" *[*[$"2-1" *[$"b" $"2"]] *[$"3-1" *[$"c" $"3"]]]]]`},
		{a("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"), `*nil`},
		// History: only the consumer's own pending entries, after the ID.
		{a("XREADGROUP", "GROUP", "g", "c2", "STREAMS", "s", "0"), `*[*[$"s" *[*[$"2-1" *[$"b" $"2"]] *[$"3-1" *[$"c" $"3"]]]]]`},
		{a("XREADGROUP", "GROUP", "g", "c2", "STREAMS", "s", "2-1"), `*[*[$"s" *[*[$"3-1" *[$"c" $"3"]]]]]`},
		{a("XREADGROUP", "GROUP", "g", "c2", "COUNT", "1", "STREAMS", "s", "0"), `*[*[$"s" *[*[$"2-1" *[$"b" $"2"]]]]]`},
		{a("XREADGROUP", "GROUP", "g", "c3", "STREAMS", "s", "0"), `*[*[$"s" *[]]]`},
		{a("XDEL", "s", "2-1"), `:"1"`},
		{a("XREADGROUP", "GROUP", "g", "c2", "STREAMS", "s", "0"), `*[*[$"s" *[*[$"2-1" *nil] *[$"3-1" *[$"c" $"3"]]]]]`},
		{a("XPENDING", "s", "g", "-", "+", "10", "c2"), `*[*[$"2-1" $"c2" :"~" :"3"] *[$"3-1" $"c2" :"~" :"4"]]`},
		// NOACK delivers without a PEL entry.
		{a("XADD", "s", "4-1", "d", "4"), `$"4-1"`},
		{a("XREADGROUP", "GROUP", "g", "c", "NOACK", "STREAMS", "s", ">"), `*[*[$"s" *[*[$"4-1" *[$"d" $"4"]]]]]`},
		{a("XPENDING", "s", "g"), `*[:"3" $"1-1" $"3-1" *[*[$"c" $"1"] *[$"c2" $"2"]]]`},
		// Several streams, one of them with nothing new.
		{a("XGROUP", "CREATE", "t", "g", "$", "MKSTREAM"), `+"OK"`},
		{a("XADD", "t", "9-0", "x", "y"), `$"9-0"`},
		{a("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "t", ">", ">"), `*[*[$"t" *[*[$"9-0" *[$"x" $"y"]]]]]`},
		{a("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "t", "0", "0"), `*[*[$"s" *[*[$"1-1" *[$"a" $"1"]]]] *[$"t" *[*[$"9-0" *[$"x" $"y"]]]]]`},
		{a("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "nokey", ">", ">"), `-"NOGROUP No such key 'nokey' or consumer group 'g' in XREADGROUP with GROUP option"`},
		{a("SET", "str", "v"), `+"OK"`},
		{a("XREADGROUP", "GROUP", "g", "c", "STREAMS", "str", ">"), `-"WRONGTYPE*`},
		{a("XINFO", "CONSUMERS", "s", "g"), `*[*[$"name" $"c" $"pending" :"1" $"idle" :"~"] *[$"name" $"c2" $"pending" :"2" $"idle" :"~"] *[$"name" $"c3" $"pending" :"0" $"idle" :"~"]]`},
	})
	// RESP3: a map of streams.
	rc3 := dialNode(t, s)
	rc3.do(t, "HELLO", "3")
	rc3.do(t, "XADD", "t", "10-0", "x", "z")
	if got := fmtResp(rc3.do(t, "XREADGROUP", "GROUP", "g", "c", "STREAMS", "t", ">")); got != `%[$"t" *[*[$"10-0" *[$"x" $"z"]]]]` {
		t.Fatalf("RESP3 XREADGROUP: %s", got)
	}
	if got := fmtResp(rc3.do(t, "XREADGROUP", "GROUP", "g", "c", "STREAMS", "t", ">")); got != `_""` && got != `_nil` {
		t.Fatalf("RESP3 empty XREADGROUP: %s", got)
	}
}

func TestXReadGroupBlocking(t *testing.T) {
	s, _ := testServer(t, nil)
	rc := dialNode(t, s)
	blocked := func(args ...string) *rawConn {
		t.Helper()
		b := dialNode(t, s)
		n := s.lockedBlockedCount()
		b.send(t, args...)
		waitBlocked(t, s, n+1)
		return b
	}
	rc.do(t, "XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")

	b := blocked("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
	rc.do(t, "XADD", "s", "1-0", "f", "v")
	if got := b.next(t); got != `*[*[$"s" *[*[$"1-0" *[$"f" $"v"]]]]]` {
		t.Fatalf("served: %s", got)
	}
	cgRun(t, rc, []cgStep{{a("XPENDING", "s", "g"), `*[:"1" $"1-0" $"1-0" *[*[$"c" $"1"]]]`}})

	// Two readers of one group: each entry goes to one of them.
	b1 := blocked("XREADGROUP", "GROUP", "g", "c1", "BLOCK", "0", "STREAMS", "s", ">")
	b2 := blocked("XREADGROUP", "GROUP", "g", "c2", "BLOCK", "0", "STREAMS", "s", ">")
	rc.do(t, "XADD", "s", "2-0", "f", "v")
	if got := b1.next(t); got != `*[*[$"s" *[*[$"2-0" *[$"f" $"v"]]]]]` {
		t.Fatalf("first reader: %s", got)
	}
	waitBlocked(t, s, 1)
	rc.do(t, "XADD", "s", "3-0", "f", "v")
	if got := b2.next(t); got != `*[*[$"s" *[*[$"3-0" *[$"f" $"v"]]]]]` {
		t.Fatalf("second reader: %s", got)
	}

	for _, tc := range []struct {
		name string
		end  [][]string
		want string
	}{
		{"group destroyed", [][]string{{"XGROUP", "DESTROY", "s", "g"}}, `-"NOGROUP the consumer group this client was blocked on no longer exists"`},
		{"key deleted", [][]string{{"DEL", "s"}}, `-"UNBLOCKED the stream key no longer exists"`},
		{"type changed", [][]string{{"SET", "s", "x"}}, `-"UNBLOCKED the stream key no longer exists"`},
		{"flushed", [][]string{{"FLUSHALL"}}, `-"UNBLOCKED the stream key no longer exists"`},
		{"transaction", [][]string{{"MULTI"}, {"DEL", "s"}, {"SADD", "s", "e"}, {"EXEC"}}, `-"UNBLOCKED the stream key no longer exists"`},
		// A transaction that deletes and recreates the stream with the group
		// serves the reader, as Redis does once the transaction is over.
		{"swapped with a database without it", [][]string{{"SWAPDB", "0", "9"}, {"SWAPDB", "0", "9"}, {"SWAPDB", "0", "9"}}, `-"UNBLOCKED the stream key no longer exists"`},
		{"swapped back and forth", [][]string{{"MULTI"}, {"SWAPDB", "0", "9"}, {"SWAPDB", "0", "9"}, {"EXEC"}, {"XADD", "s", "8-0", "f", "v"}}, `*[*[$"s" *[*[$"8-0" *[$"f" $"v"]]]]]`},
		{"recreated in a transaction", [][]string{{"MULTI"}, {"DEL", "s"}, {"XGROUP", "CREATE", "s", "g", "0", "MKSTREAM"}, {"XADD", "s", "7-0", "f", "v"}, {"EXEC"}}, `*[*[$"s" *[*[$"7-0" *[$"f" $"v"]]]]]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc.do(t, "DEL", "s")
			rc.do(t, "XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
			b := blocked("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
			for _, c := range tc.end {
				rc.do(t, c...)
			}
			if got := b.next(t); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
			waitBlocked(t, s, 0)
		})
	}

	// A timeout replies a null array; an XADD that another reader of the
	// group consumed first leaves the client blocked.
	rc.do(t, "DEL", "s")
	rc.do(t, "XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
	b = dialNode(t, s)
	b.send(t, "XREADGROUP", "GROUP", "g", "c", "BLOCK", "30", "STREAMS", "s", ">")
	if got := b.next(t); got != `*nil` {
		t.Fatalf("timeout: %s", got)
	}
	// Inside MULTI a blocking read answers at once.
	b.do(t, "MULTI")
	b.do(t, "XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
	if got := fmtResp(b.do(t, "EXEC")); got != `*[*nil]` {
		t.Fatalf("in MULTI: %s", got)
	}
	// The failed unblock counts as a failed call of XREADGROUP.
	rc.do(t, "CONFIG", "RESETSTAT")
	b = blocked("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
	rc.do(t, "XGROUP", "DESTROY", "s", "g")
	b.next(t)
	info := rc.do(t, "INFO", "commandstats").str
	if !strings.Contains(info, "cmdstat_xreadgroup:calls=1,") || !strings.Contains(info, "failed_calls=1") {
		t.Fatalf("commandstats: %s", info)
	}
}

func (s *Server) lockedBlockedCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.BlockedClients()
}

func TestXPendingXAck(t *testing.T) {
	s, _ := testServer(t, nil)
	rc := dialNode(t, s)
	for i := 1; i <= 5; i++ {
		rc.do(t, "XADD", "s", fmt.Sprintf("%d-0", i), "f", "v")
	}
	rc.do(t, "XGROUP", "CREATE", "s", "g", "0")
	rc.do(t, "XREADGROUP", "GROUP", "g", "a", "COUNT", "2", "STREAMS", "s", ">")
	rc.do(t, "XREADGROUP", "GROUP", "g", "b", "STREAMS", "s", ">")
	cgRun(t, rc, []cgStep{
		{a("XPENDING", "s"), `-"ERR wrong number of arguments for 'xpending' command"`},
		{a("XPENDING", "s", "g", "-"), `-"ERR syntax error"`},
		{a("XPENDING", "s", "g", "IDLE", "10", "-", "+"), `-"ERR syntax error"`},
		{a("XPENDING", "s", "g", "-", "+", "x"), `-"ERR value is not an integer or out of range"`},
		{a("XPENDING", "s", "g", "(18446744073709551615-18446744073709551615", "+", "1"), `-"ERR invalid start ID for the interval"`},
		{a("XPENDING", "s", "g", "-", "(0-0", "1"), `-"ERR invalid end ID for the interval"`},
		{a("XPENDING", "s", "nog"), `-"NOGROUP No such key 's' or consumer group 'nog'"`},
		{a("XPENDING", "nokey", "g", "-", "+", "1"), `-"NOGROUP No such key 'nokey' or consumer group 'g'"`},
		{a("XPENDING", "s", "g"), `*[:"5" $"1-0" $"5-0" *[*[$"a" $"2"] *[$"b" $"3"]]]`},
		{a("XPENDING", "s", "g", "-", "+", "2"), `*[*[$"1-0" $"a" :"~" :"1"] *[$"2-0" $"a" :"~" :"1"]]`},
		// "(4" is 4-<max> made exclusive: 4-0 is inside.
		{a("XPENDING", "s", "g", "(1-0", "(4", "10"), `*[*[$"2-0" $"a" :"~" :"1"] *[$"3-0" $"b" :"~" :"1"] *[$"4-0" $"b" :"~" :"1"]]`},
		{a("XPENDING", "s", "g", "(1-0", "(4-0", "10"), `*[*[$"2-0" $"a" :"~" :"1"] *[$"3-0" $"b" :"~" :"1"]]`},
		{a("XPENDING", "s", "g", "-", "+", "10", "b"), `*[*[$"3-0" $"b" :"~" :"1"] *[$"4-0" $"b" :"~" :"1"] *[$"5-0" $"b" :"~" :"1"]]`},
		{a("XPENDING", "s", "g", "-", "+", "10", "nobody"), `*[]`},
		{a("XPENDING", "s", "g", "-", "+", "-1"), `*[]`},
		{a("XPENDING", "s", "g", "IDLE", "100000", "-", "+", "10"), `*[]`},
		{a("XACK", "s", "g", "1-0", "bad"), `-"ERR Invalid stream ID specified as stream command argument"`},
		{a("XACK", "s", "g", "1-0", "1-0", "3", "9-0"), `:"2"`},
		{a("XACK", "s", "g", "1-0"), `:"0"`},
		{a("XACK", "s", "nog", "2-0"), `:"0"`},
		{a("XACK", "nokey", "g", "2-0"), `:"0"`},
		{a("XPENDING", "s", "g"), `*[:"3" $"2-0" $"5-0" *[*[$"a" $"1"] *[$"b" $"2"]]]`},
		{a("XACK", "s", "g", "2-0", "4-0", "5-0"), `:"3"`},
		{a("XPENDING", "s", "g"), `*[:"0" $nil $nil *nil]`},
		{a("XGROUP", "DELCONSUMER", "s", "g", "a"), `:"0"`},
	})
	// IDLE filters on the time since the last delivery (backdated here
	// with XCLAIM IDLE rather than waited for).
	rc.do(t, "XGROUP", "SETID", "s", "g", "0")
	rc.do(t, "XREADGROUP", "GROUP", "g", "a", "COUNT", "2", "STREAMS", "s", ">")
	rc.do(t, "XCLAIM", "s", "g", "a", "0", "1-0", "IDLE", "60000", "JUSTID")
	cgRun(t, rc, []cgStep{
		{a("XPENDING", "s", "g", "IDLE", "50000", "-", "+", "10"), `*[*[$"1-0" $"a" :"~" :"1"]]`},
		{a("XGROUP", "DELCONSUMER", "s", "g", "a"), `:"2"`},
		{a("XPENDING", "s", "g"), `*[:"0" $nil $nil *nil]`},
	})
	if got := fmtResp(rc.do(t, "XPENDING", "s", "g", "IDLE", "1", "-", "+", "10")); got != `*[]` {
		t.Fatalf("after DELCONSUMER: %s", got)
	}
}

func TestXClaim(t *testing.T) {
	s, _ := testServer(t, nil)
	rc := dialNode(t, s)
	for i := 1; i <= 4; i++ {
		rc.do(t, "XADD", "s", fmt.Sprintf("%d-0", i), "f", fmt.Sprint(i))
	}
	rc.do(t, "XGROUP", "CREATE", "s", "g", "0")
	rc.do(t, "XREADGROUP", "GROUP", "g", "a", "COUNT", "3", "STREAMS", "s", ">")
	cgRun(t, rc, []cgStep{
		{a("XCLAIM", "s", "nog", "b", "0", "1-0"), `-"NOGROUP No such key 's' or consumer group 'nog'"`},
		{a("XCLAIM", "s", "g", "b", "x", "1-0"), `-"ERR Invalid min-idle-time argument for XCLAIM"`},
		{a("XCLAIM", "s", "g", "b", "0", "1-0", "IDLE", "x"), `-"ERR Invalid IDLE option argument for XCLAIM"`},
		{a("XCLAIM", "s", "g", "b", "0", "1-0", "TIME", "x"), `-"ERR Invalid TIME option argument for XCLAIM"`},
		{a("XCLAIM", "s", "g", "b", "0", "1-0", "RETRYCOUNT", "x"), `-"ERR Invalid RETRYCOUNT option argument for XCLAIM"`},
		{a("XCLAIM", "s", "g", "b", "0", "1-0", "LASTID", "x"), `-"ERR Invalid stream ID specified as stream command argument"`},
		{a("XCLAIM", "s", "g", "b", "0", "1-0", "BOGUS"), `-"ERR Unrecognized XCLAIM option 'BOGUS'"`},
		// Too young for min-idle: nothing claimed.
		{a("XCLAIM", "s", "g", "b", "100000", "1-0"), `*[]`},
		{a("XCLAIM", "s", "g", "b", "0", "1-0", "2"), `*[*[$"1-0" *[$"f" $"1"]] *[$"2-0" *[$"f" $"2"]]]`},
		{a("XPENDING", "s", "g", "-", "+", "10"), `*[*[$"1-0" $"b" :"~" :"2"] *[$"2-0" $"b" :"~" :"2"] *[$"3-0" $"a" :"~" :"1"]]`},
		// JUSTID leaves the count; RETRYCOUNT sets it; IDLE backdates.
		{a("XCLAIM", "s", "g", "a", "0", "1-0", "JUSTID"), `*[$"1-0"]`},
		{a("XCLAIM", "s", "g", "a", "0", "2-0", "RETRYCOUNT", "7", "IDLE", "5000", "JUSTID"), `*[$"2-0"]`},
		{a("XPENDING", "s", "g", "-", "+", "10"), `*[*[$"1-0" $"a" :"~" :"2"] *[$"2-0" $"a" :"5*`},
		// Entries never delivered need FORCE; missing entries are skipped.
		{a("XCLAIM", "s", "g", "c", "0", "4-0", "9-0"), `*[]`},
		{a("XCLAIM", "s", "g", "c", "0", "4-0", "9-0", "FORCE", "JUSTID", "LASTID", "4-0"), `*[$"4-0"]`},
		{a("XINFO", "GROUPS", "s"), `*[*[$"name" $"g" $"consumers" :"3" $"pending" :"4" $"last-delivered-id" $"4-0" $"entries-read" :"3" $"lag" :"1"]]`},
		// A claimed entry deleted from the stream leaves the PEL.
		{a("XDEL", "s", "3-0"), `:"1"`},
		{a("XCLAIM", "s", "g", "c", "0", "3-0"), `*[]`},
		{a("XPENDING", "s", "g"), `*[:"3" $"1-0" $"4-0" *[*[$"a" $"2"] *[$"c" $"1"]]]`},
	})
}

func TestXAutoClaim(t *testing.T) {
	s, _ := testServer(t, nil)
	rc := dialNode(t, s)
	for i := 1; i <= 6; i++ {
		rc.do(t, "XADD", "s", fmt.Sprintf("%d-0", i), "f", fmt.Sprint(i))
	}
	rc.do(t, "XGROUP", "CREATE", "s", "g", "0")
	rc.do(t, "XREADGROUP", "GROUP", "g", "a", "STREAMS", "s", ">")
	cgRun(t, rc, []cgStep{
		{a("XAUTOCLAIM", "s", "g", "b", "0", "0", "COUNT", "0"), `-"ERR COUNT must be > 0"`},
		{a("XAUTOCLAIM", "s", "g", "b", "0", "0", "COUNT", "9223372036854775807"), `-"ERR COUNT must be > 0"`},
		{a("XAUTOCLAIM", "s", "g", "b", "0", "0", "BOGUS"), `-"ERR syntax error"`},
		{a("XAUTOCLAIM", "s", "g", "b", "0", "0", "COUNT", "x"), `-"ERR COUNT must be > 0"`},
		{a("XAUTOCLAIM", "s", "g", "b", "x", "0"), `-"ERR Invalid min-idle-time argument for XAUTOCLAIM"`},
		{a("XAUTOCLAIM", "s", "nog", "b", "0", "0"), `-"NOGROUP No such key 's' or consumer group 'nog'"`},
		{a("XAUTOCLAIM", "s", "g", "b", "100000", "0"), `*[$"0-0" *[] *[]]`},
		{a("XAUTOCLAIM", "s", "g", "b", "0", "0", "COUNT", "2"), `*[$"3-0" *[*[$"1-0" *[$"f" $"1"]] *[$"2-0" *[$"f" $"2"]]] *[]]`},
		{a("XDEL", "s", "3-0", "5-0"), `:"2"`},
		// Deleted entries leave the PEL and count against COUNT.
		{a("XAUTOCLAIM", "s", "g", "b", "0", "3-0", "COUNT", "2", "JUSTID"), `*[$"5-0" *[$"4-0"] *[$"3-0"]]`},
		{a("XAUTOCLAIM", "s", "g", "b", "0", "(4-0", "JUSTID"), `*[$"0-0" *[$"6-0"] *[$"5-0"]]`},
		{a("XPENDING", "s", "g", "-", "+", "10"), `*[*[$"1-0" $"b" :"~" :"2"] *[$"2-0" $"b" :"~" :"2"] *[$"4-0" $"b" :"~" :"1"] *[$"6-0" $"b" :"~" :"1"]]`},
	})
}

// TestStreamGroupsDifferential runs random group commands against the
// node and redis-server 7.0.15 and compares every reply, with the times
// (idle, delivery and seen times) masked: read counters, lag, PELs,
// ownership and claim cursors must agree exactly.
func TestStreamGroupsDifferential(t *testing.T) {
	real := startRealRedis(t)
	s, _ := testServer(t, func(c *Config) { c.StreamNodeMaxEntries = 4 })
	node := newClient(t, s, 2)
	for seed := int64(1); seed <= 6; seed++ {
		real.Del(context.Background(), "x")
		node.Del(context.Background(), "x")
		cgDifferential(t, real, node, seed)
	}
}

func cgDifferential(t *testing.T, real, node *redis.Client, seed int64) {
	ctx := context.Background()
	rng := rand.New(rand.NewSource(seed))
	groups := []string{"g1", "g2", "g3"}
	consumers := []string{"alice", "bob", "carol"}
	nextMs := 1
	id := func() string { return fmt.Sprintf("%d-%d", 1+rng.Intn(nextMs+2), rng.Intn(3)) }
	var ops [][]any
	for i := 0; i < 1500; i++ {
		g, c := groups[rng.Intn(len(groups))], consumers[rng.Intn(len(consumers))]
		var op []any
		switch r := rng.Intn(100); {
		case r < 25:
			op = []any{"XADD", "x", fmt.Sprintf("%d-%d", nextMs, rng.Intn(2)), "f", fmt.Sprint(i)}
			nextMs++
		case r < 30:
			op = []any{"XDEL", "x", id()}
		case r < 32:
			op = []any{"XTRIM", "x", "MINID", "=", id()}
		case r < 36:
			op = []any{"XGROUP", "CREATE", "x", g, []string{"0", "$", id()}[rng.Intn(3)], "MKSTREAM"}
		case r < 38:
			op = []any{"XGROUP", "SETID", "x", g, []string{"0", "$", id()}[rng.Intn(3)]}
		case r < 39:
			op = []any{"XGROUP", "SETID", "x", g, id(), "ENTRIESREAD", fmt.Sprint(rng.Intn(10))}
		case r < 40:
			op = []any{"XGROUP", "DESTROY", "x", g}
		case r < 42:
			op = []any{"XGROUP", "DELCONSUMER", "x", g, c}
		case r < 43:
			op = []any{"XGROUP", "CREATECONSUMER", "x", g, c}
		case r < 58:
			op = []any{"XREADGROUP", "GROUP", g, c, "COUNT", fmt.Sprint(1 + rng.Intn(3)), "STREAMS", "x", ">"}
			if rng.Intn(5) == 0 {
				op = []any{"XREADGROUP", "GROUP", g, c, "NOACK", "STREAMS", "x", ">"}
			}
		case r < 62:
			op = []any{"XREADGROUP", "GROUP", g, c, "STREAMS", "x", []string{"0", id()}[rng.Intn(2)]}
		case r < 72:
			op = []any{"XACK", "x", g, id(), id()}
		case r < 77:
			op = []any{"XCLAIM", "x", g, c, "0", id(), id()}
			if rng.Intn(2) == 0 {
				op = append(op, "JUSTID")
			}
			if rng.Intn(3) == 0 {
				op = append(op, "FORCE")
			}
		case r < 82:
			op = []any{"XAUTOCLAIM", "x", g, c, "0", id(), "COUNT", fmt.Sprint(1 + rng.Intn(3))}
		case r < 86:
			op = []any{"XPENDING", "x", g}
		case r < 90:
			op = []any{"XPENDING", "x", g, "-", "+", "10"}
			if rng.Intn(2) == 0 {
				op = append(op, c)
			}
		case r < 94:
			op = []any{"XINFO", "GROUPS", "x"}
		case r < 97:
			op = []any{"XINFO", "CONSUMERS", "x", g}
		default:
			op = []any{"XINFO", "STREAM", "x", "FULL"}
		}
		ops = append(ops, op)
	}
	for i, op := range ops {
		want, werr := real.Do(ctx, op...).Result()
		got, gerr := node.Do(ctx, op...).Result()
		if fmt.Sprint(werr) != fmt.Sprint(gerr) {
			t.Fatalf("seed %d op %d %v: error %v, redis-server %v", seed, i, op, gerr, werr)
		}
		if w, g := fmt.Sprint(cgMaskTimes(op, want)), fmt.Sprint(cgMaskTimes(op, got)); w != g {
			if testing.Verbose() {
				for _, o := range ops[:i] {
					t.Log(o)
				}
			}
			t.Fatalf("seed %d op %d %v:\n got %s\nwant %s", seed, i, op, g, w)
		}
	}
}

// cgMaskTimes blanks the clock-dependent fields of a reply to op.
func cgMaskTimes(op []any, v any) any {
	name := strings.ToUpper(fmt.Sprint(op[0]))
	arr, _ := v.([]any)
	switch {
	case name == "XPENDING" && len(op) > 3:
		for _, e := range arr {
			e.([]any)[2] = "T"
		}
	case name == "XINFO" && op[1] == "CONSUMERS":
		for _, e := range arr {
			ca := e.([]any)
			for k := 0; k+1 < len(ca); k += 2 {
				if ca[k] == "idle" {
					ca[k+1] = "T"
				}
			}
		}
	case name == "XINFO" && op[1] == "STREAM":
		for i := 0; i+1 < len(arr); i += 2 {
			if arr[i] == "radix-tree-keys" || arr[i] == "radix-tree-nodes" {
				arr[i+1] = "N" // the node layout is the streams core's
			}
			if arr[i] != "groups" {
				continue
			}
			for _, g := range arr[i+1].([]any) {
				ga := g.([]any)
				for j := 0; j+1 < len(ga); j += 2 {
					switch ga[j] {
					case "pending":
						for _, p := range ga[j+1].([]any) {
							p.([]any)[2] = "T"
						}
					case "consumers":
						for _, c := range ga[j+1].([]any) {
							ca := c.([]any)
							for k := 0; k+1 < len(ca); k += 2 {
								switch ca[k] {
								case "seen-time":
									ca[k+1] = "T"
								case "pending":
									for _, p := range ca[k+1].([]any) {
										p.([]any)[1] = "T"
									}
								}
							}
						}
					}
				}
			}
		}
	}
	return v
}

func TestXInfoStreamFullGroups(t *testing.T) {
	s, _ := testServer(t, nil)
	rc := dialNode(t, s)
	rc.do(t, "XADD", "s", "1-0", "a", "1")
	rc.do(t, "XADD", "s", "2-0", "b", "2")
	rc.do(t, "XGROUP", "CREATE", "s", "g", "0")
	rc.do(t, "XGROUP", "CREATE", "s", "a", "$")
	rc.do(t, "XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">")
	rc.do(t, "XGROUP", "CREATECONSUMER", "s", "g", "b")
	v := rc.do(t, "XINFO", "STREAM", "s", "FULL", "COUNT", "1")
	groups := v.get("groups")
	if len(groups.elems) != 2 || groups.elems[0].get("name").str != "a" || groups.elems[1].get("name").str != "g" {
		t.Fatalf("groups not in name order: %s", groups)
	}
	g := groups.elems[1]
	if g.get("pel-count").str != "2" || len(g.get("pending").elems) != 1 || g.get("entries-read").str != "2" || g.get("lag").str != "0" {
		t.Fatalf("group g: %s", g)
	}
	pend := g.get("pending").elems[0]
	if pend.elems[0].str != "1-0" || pend.elems[1].str != "c" || pend.elems[3].str != "1" {
		t.Fatalf("group PEL entry: %s", pend)
	}
	cons := g.get("consumers")
	if len(cons.elems) != 2 || cons.elems[0].get("name").str != "b" || cons.elems[1].get("pel-count").str != "2" || len(cons.elems[1].get("pending").elems) != 1 {
		t.Fatalf("consumers: %s", cons)
	}
	if v := rc.do(t, "XINFO", "STREAM", "s"); v.get("groups").str != "2" {
		t.Fatalf("XINFO STREAM groups: %s", v.get("groups"))
	}
}

// TestStreamGroupPropagation checks what the group commands send to the
// AOF and replicas, as Redis 7.0 does.
func TestStreamGroupPropagation(t *testing.T) {
	s, _ := testServer(t, nil)
	var mu sync.Mutex
	var got []string
	s.mu.Lock()
	s.hooks.propagate = func(dbid int, argv [][]byte) {
		mu.Lock()
		defer mu.Unlock()
		parts := make([]string, len(argv))
		for i, a := range argv {
			parts[i] = string(a)
		}
		got = append(got, strings.Join(parts, " "))
	}
	s.mu.Unlock()
	take := func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := got
		got = nil
		return out
	}
	rc := dialNode(t, s)
	rc.do(t, "XADD", "s", "1-0", "f", "v")
	rc.do(t, "XADD", "s", "2-0", "f", "v")
	take()
	// Delivery times are the server's clock: fix them through XCLAIM TIME
	// in the expectations by reading them back.
	check := func(name string, cmd []string, want ...string) {
		t.Helper()
		rc.do(t, cmd...)
		g := take()
		for i := range g {
			g[i] = cgMaskTime(g[i])
		}
		if !reflect.DeepEqual(g, want) {
			t.Fatalf("%s: propagated\n%q\nwant\n%q", name, g, want)
		}
	}
	check("create", a("XGROUP", "CREATE", "s", "g", "0"), "XGROUP CREATE s g 0")
	check("createconsumer", a("XGROUP", "CREATECONSUMER", "s", "g", "c0"), "XGROUP CREATECONSUMER s g c0")
	check("createconsumer again", a("XGROUP", "CREATECONSUMER", "s", "g", "c0"))
	check("readgroup", a("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"),
		"MULTI",
		"XCLAIM s g c 0 1-0 TIME T RETRYCOUNT 1 FORCE JUSTID LASTID 1-0",
		"XCLAIM s g c 0 2-0 TIME T RETRYCOUNT 1 FORCE JUSTID LASTID 2-0",
		"EXEC")
	check("history read", a("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "0"))
	rc.do(t, "XADD", "s", "3-0", "f", "v")
	take()
	check("noack", a("XREADGROUP", "GROUP", "g", "n", "NOACK", "STREAMS", "s", ">"),
		"MULTI", "XGROUP CREATECONSUMER s g n", "XGROUP SETID s g 3-0 ENTRIESREAD 3", "EXEC")
	check("xack", a("XACK", "s", "g", "1-0", "9-0"), "XACK s g 1-0 9-0")
	check("xack none", a("XACK", "s", "g", "1-0"))
	check("xclaim", a("XCLAIM", "s", "g", "d", "0", "2-0", "JUSTID"),
		"XCLAIM s g d 0 2-0 TIME T RETRYCOUNT 2 FORCE JUSTID LASTID 3-0")
	check("xclaim lastid only", a("XCLAIM", "s", "g", "d", "0", "9-0", "LASTID", "5-0"),
		"XGROUP SETID s g 5-0 ENTRIESREAD 3")
	rc.do(t, "XDEL", "s", "2-0")
	take()
	check("xautoclaim deleted", a("XAUTOCLAIM", "s", "g", "e", "0", "0"),
		"XCLAIM s g d 0 2-0 TIME T RETRYCOUNT 2 FORCE JUSTID LASTID 5-0")
	// A blocked reader served by a transaction's XADDs: its XCLAIMs go
	// out as their own unit after the transaction, as in Redis.
	b := dialNode(t, s)
	b.send(t, "XREADGROUP", "GROUP", "g", "blk", "BLOCK", "0", "STREAMS", "s", ">")
	waitBlocked(t, s, 1)
	rc.do(t, "MULTI")
	rc.do(t, "XADD", "s", "6-0", "f", "v")
	rc.do(t, "XADD", "s", "7-0", "f", "v")
	check("served blocked reader", a("EXEC"),
		"MULTI", "XADD s 6-0 f v", "XADD s 7-0 f v", "EXEC",
		"MULTI",
		"XCLAIM s g blk 0 6-0 TIME T RETRYCOUNT 1 FORCE JUSTID LASTID 6-0",
		"XCLAIM s g blk 0 7-0 TIME T RETRYCOUNT 1 FORCE JUSTID LASTID 7-0",
		"EXEC")
	b.next(t)
	check("setid", a("XGROUP", "SETID", "s", "g", "$"), "XGROUP SETID s g $")
	check("delconsumer", a("XGROUP", "DELCONSUMER", "s", "g", "d"), "XGROUP DELCONSUMER s g d")
	check("destroy", a("XGROUP", "DESTROY", "s", "g"), "XGROUP DESTROY s g")
	check("destroy none", a("XGROUP", "DESTROY", "s", "g"))
}

// cgMaskTime replaces the delivery time of a propagated XCLAIM by T.
func cgMaskTime(line string) string {
	f := strings.Fields(line)
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "TIME" {
			f[i+1] = "T"
		}
	}
	return strings.Join(f, " ")
}

func TestStreamGroupEvents(t *testing.T) {
	s, _ := testServer(t, nil)
	rc := dialNode(t, s)
	rc.do(t, "CONFIG", "SET", "notify-keyspace-events", "Et")
	sub := dialNode(t, s)
	sub.do(t, "SUBSCRIBE", "__keyevent@0__:xgroup-create", "__keyevent@0__:xgroup-setid",
		"__keyevent@0__:xgroup-destroy", "__keyevent@0__:xgroup-createconsumer", "__keyevent@0__:xgroup-delconsumer")
	for i := 0; i < 4; i++ {
		sub.next(t)
	}
	rc.do(t, "XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
	rc.do(t, "XGROUP", "SETID", "s", "g", "0")
	rc.do(t, "XGROUP", "CREATECONSUMER", "s", "g", "c")
	rc.do(t, "XADD", "s", "1-0", "f", "v")
	rc.do(t, "XREADGROUP", "GROUP", "g", "c2", "STREAMS", "s", ">")
	rc.do(t, "XGROUP", "DELCONSUMER", "s", "g", "c")
	rc.do(t, "XGROUP", "DESTROY", "s", "g")
	for _, ev := range []string{"xgroup-create", "xgroup-setid", "xgroup-createconsumer", "xgroup-createconsumer", "xgroup-delconsumer", "xgroup-destroy"} {
		want := `*[$"message" $"__keyevent@0__:` + ev + `" $"s"]`
		if got := sub.next(t); got != want {
			t.Fatalf("got %s, want %s", got, want)
		}
	}
}

// TestStreamGroupsPersistence: groups, PELs and consumers survive DEBUG
// RELOAD, DUMP/RESTORE and COPY, and COPY's groups are independent.
func TestStreamGroupsPersistence(t *testing.T) {
	s, _ := testServer(t, func(c *Config) { c.EnableDebugCommand = "yes" })
	rc := dialNode(t, s)
	rc.do(t, "XADD", "s", "1-0", "f", "v")
	rc.do(t, "XADD", "s", "2-0", "f", "v")
	rc.do(t, "XADD", "s", "3-0", "f", "v")
	rc.do(t, "XGROUP", "CREATE", "s", "g", "0")
	rc.do(t, "XGROUP", "CREATE", "s", "h", "$", "ENTRIESREAD", "-1")
	rc.do(t, "XREADGROUP", "GROUP", "g", "c1", "COUNT", "2", "STREAMS", "s", ">")
	rc.do(t, "XREADGROUP", "GROUP", "g", "c2", "STREAMS", "s", ">")
	rc.do(t, "XGROUP", "CREATECONSUMER", "s", "g", "idle")
	rc.do(t, "XCLAIM", "s", "g", "c2", "0", "1-0", "TIME", "12345", "RETRYCOUNT", "9")
	full := func(key string) string {
		v := rc.do(t, "XINFO", "STREAM", key, "FULL")
		g := v.get("groups")
		// Consumers' seen-time is refreshed by reads: keep the rest.
		for _, grp := range g.elems {
			for _, c := range grp.get("consumers").elems {
				for i := 0; i+1 < len(c.elems); i += 2 {
					if c.elems[i].str == "seen-time" {
						c.elems[i+1].str = "T"
					}
				}
			}
		}
		return fmtResp(g)
	}
	before := full("s")
	if !strings.Contains(before, `:"12345" :"9"`) {
		t.Fatalf("XCLAIM TIME/RETRYCOUNT not in the PEL: %s", before)
	}
	if got := fmtResp(rc.do(t, "DEBUG", "RELOAD")); got != `+"OK"` {
		t.Fatalf("DEBUG RELOAD: %s", got)
	}
	if after := full("s"); after != before {
		t.Fatalf("after DEBUG RELOAD:\n%s\nbefore:\n%s", after, before)
	}
	dump := rc.do(t, "DUMP", "s")
	rc.do(t, "RESTORE", "r", "0", dump.str)
	if got := full("r"); got != before {
		t.Fatalf("after RESTORE:\n%s\nbefore:\n%s", got, before)
	}
	rc.do(t, "COPY", "s", "cp")
	if got := full("cp"); got != before {
		t.Fatalf("COPY:\n%s\nbefore:\n%s", got, before)
	}
	rc.do(t, "XACK", "cp", "g", "1-0", "2-0", "3-0")
	rc.do(t, "XGROUP", "DELCONSUMER", "cp", "g", "c1")
	if got := full("s"); got != before {
		t.Fatalf("a change to the copy reached the original:\n%s", got)
	}
	if got := fmtResp(rc.do(t, "XPENDING", "cp", "g")); got != `*[:"0" $nil $nil *nil]` {
		t.Fatalf("copy's PEL: %s", got)
	}
}

// TestStreamGroupsRDBAgainstRedis moves a stream with groups between
// redis-server 7.0.15 and the node with DUMP/RESTORE, both ways.
func TestStreamGroupsRDBAgainstRedis(t *testing.T) {
	real := startRealRedis(t)
	ctx := context.Background()
	s, _ := testServer(t, nil)
	rc := dialNode(t, s)
	setup := [][]any{
		{"XADD", "s", "1-0", "f", "v"}, {"XADD", "s", "2-0", "f", "v", "g", "w"}, {"XADD", "s", "3-0", "f", "v"},
		{"XDEL", "s", "2-0"},
		{"XGROUP", "CREATE", "s", "g", "0"}, {"XGROUP", "CREATE", "s", "a", "$"},
		{"XGROUP", "CREATE", "s", "z", "0", "ENTRIESREAD", "-1"},
		{"XREADGROUP", "GROUP", "g", "c1", "COUNT", "1", "STREAMS", "s", ">"},
		{"XREADGROUP", "GROUP", "g", "c2", "STREAMS", "s", ">"},
		{"XGROUP", "CREATECONSUMER", "s", "a", "nobody"},
		{"XCLAIM", "s", "g", "c2", "0", "1-0", "TIME", "12345", "RETRYCOUNT", "9", "JUSTID"},
	}
	for _, c := range setup {
		if err := real.Do(ctx, c...).Err(); err != nil {
			t.Fatalf("redis-server %v: %v", c, err)
		}
	}
	payload, err := real.Do(ctx, "DUMP", "s").Text()
	if err != nil {
		t.Fatal(err)
	}
	if got := fmtResp(rc.do(t, "RESTORE", "s", "0", payload)); got != `+"OK"` {
		t.Fatalf("RESTORE of redis-server's payload: %s", got)
	}
	norm := func(v any) string {
		// seen-time differs between the servers' clocks: drop it.
		s := fmt.Sprint(v)
		return s
	}
	realInfo, err := real.Do(ctx, "XINFO", "STREAM", "s", "FULL").Result()
	if err != nil {
		t.Fatal(err)
	}
	nodeClient := newClient(t, s, 2)
	nodeInfo, err := nodeClient.Do(ctx, "XINFO", "STREAM", "s", "FULL").Result()
	if err != nil {
		t.Fatal(err)
	}
	rg, ng := cgGroupsOf(realInfo), cgGroupsOf(nodeInfo)
	if norm(rg) != norm(ng) {
		t.Fatalf("groups after RESTORE:\nnode  %v\nredis %v", ng, rg)
	}
	// And back: the node's payload restores in redis-server.
	back, err := nodeClient.Do(ctx, "DUMP", "s").Text()
	if err != nil {
		t.Fatal(err)
	}
	if err := real.Do(ctx, "RESTORE", "back", "0", back).Err(); err != nil {
		t.Fatalf("redis-server refused the node's payload: %v", err)
	}
	realBack, _ := real.Do(ctx, "XINFO", "STREAM", "back", "FULL").Result()
	if norm(cgGroupsOf(realBack)) != norm(rg) {
		t.Fatalf("groups after the round trip:\n%v\nwant %v", cgGroupsOf(realBack), rg)
	}
}

// cgGroupsOf extracts XINFO STREAM FULL's groups (RESP2 reply) without
// the consumers' seen-time.
func cgGroupsOf(v any) any {
	arr, _ := v.([]any)
	for i := 0; i+1 < len(arr); i += 2 {
		if arr[i] != "groups" {
			continue
		}
		groups, _ := arr[i+1].([]any)
		for _, g := range groups {
			ga, _ := g.([]any)
			for j := 0; j+1 < len(ga); j += 2 {
				if ga[j] != "consumers" {
					continue
				}
				for _, c := range ga[j+1].([]any) {
					ca := c.([]any)
					for k := 0; k+1 < len(ca); k += 2 {
						if ca[k] == "seen-time" {
							ca[k+1] = "T"
						}
					}
				}
			}
		}
		return groups
	}
	return nil
}

// TestStreamGroupsMemory: MEMORY USAGE grows with the PEL.
func TestStreamGroupsMemory(t *testing.T) {
	s, _ := testServer(t, nil)
	rc := dialNode(t, s)
	for i := 1; i <= 200; i++ {
		rc.do(t, "XADD", "s", fmt.Sprintf("%d-0", i), "f", "v")
	}
	rc.do(t, "XGROUP", "CREATE", "s", "g", "0")
	before := rc.do(t, "MEMORY", "USAGE", "s").str
	rc.do(t, "XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">")
	after := rc.do(t, "MEMORY", "USAGE", "s").str
	var b, a int
	fmt.Sscan(before, &b)
	fmt.Sscan(after, &a)
	if a <= b {
		t.Fatalf("MEMORY USAGE %d with 200 pending, %d without", a, b)
	}
	s.mu.Lock()
	o, _ := s.dbs[0].ks.Lookup([]byte("s"))
	ok := o != nil && o.Type == keyspace.TypeStream && streamOf(o).groups.list[0].pel.Len() == 200
	s.mu.Unlock()
	if !ok {
		t.Fatal("the group PEL does not hold the 200 deliveries")
	}
}

// TestRewriteStreamGroups replays the rewrite commands of a stream's
// groups on a copy of its entries and gets the same groups back.
func TestRewriteStreamGroups(t *testing.T) {
	s, _ := testServer(t, nil)
	rc := dialNode(t, s)
	for _, c := range [][]string{
		{"XADD", "s", "1-0", "f", "v"}, {"XADD", "s", "2-0", "f", "v"}, {"XADD", "s", "3-0", "f", "v"},
		{"XGROUP", "CREATE", "s", "g", "0"}, {"XGROUP", "CREATE", "s", "e", "$", "ENTRIESREAD", "-1"},
		{"XREADGROUP", "GROUP", "g", "c1", "COUNT", "2", "STREAMS", "s", ">"},
		{"XREADGROUP", "GROUP", "g", "c2", "STREAMS", "s", ">"},
		{"XCLAIM", "s", "g", "c2", "0", "1-0", "TIME", "12345", "RETRYCOUNT", "9"},
		{"XGROUP", "CREATECONSUMER", "s", "e", "idle"},
		// The copy: same entries, no groups.
		{"XADD", "t", "1-0", "f", "v"}, {"XADD", "t", "2-0", "f", "v"}, {"XADD", "t", "3-0", "f", "v"},
	} {
		rc.do(t, c...)
	}
	var cmds [][]string
	s.mu.Lock()
	o, _ := s.dbs[0].ks.Lookup([]byte("s"))
	rewriteStreamGroups([]byte("t"), streamOf(o), func(argv [][]byte) {
		c := make([]string, len(argv))
		for i, x := range argv {
			c[i] = string(x)
		}
		cmds = append(cmds, c)
	})
	s.mu.Unlock()
	want := [][]string{
		{"XGROUP", "CREATE", "t", "e", "3-0", "ENTRIESREAD", "-1"},
		{"XGROUP", "CREATECONSUMER", "t", "e", "idle"},
		{"XGROUP", "CREATE", "t", "g", "3-0", "ENTRIESREAD", "3"},
	}
	if !reflect.DeepEqual(cmds[:3], want) || len(cmds) != 6 || !strings.HasPrefix(strings.Join(cmds[4], " "), "XCLAIM t g c2 0 1-0 TIME 12345 RETRYCOUNT 9 JUSTID FORCE") {
		t.Fatalf("rewrite commands: %q", cmds)
	}
	for _, c := range cmds {
		if v := rc.do(t, c...); v.kind == '-' {
			t.Fatalf("%q: %s", c, v)
		}
	}
	groups := func(key string) string {
		g := rc.do(t, "XINFO", "STREAM", key, "FULL").get("groups")
		for _, grp := range g.elems {
			for _, c := range grp.get("consumers").elems {
				c.elems[3].str = "T" // seen-time
			}
		}
		return fmtResp(g)
	}
	if a, b := groups("s"), groups("t"); a != b {
		t.Fatalf("rebuilt groups:\n%s\nwant\n%s", b, a)
	}
}

// TestStreamGroupsAOFReplay: what the group commands propagate rebuilds
// the same groups when the AOF is loaded again.
func TestStreamGroupsAOFReplay(t *testing.T) {
	s, _ := testServer(t, func(c *Config) { c.EnableDebugCommand = "yes" })
	rc := dialNode(t, s)
	rc.do(t, "CONFIG", "SET", "appendonly", "yes")
	waitRewrite(t, newClient(t, s, 2))
	for _, c := range [][]string{
		{"XADD", "s", "1-0", "f", "v"}, {"XADD", "s", "2-0", "f", "v"}, {"XADD", "s", "3-0", "f", "v"}, {"XADD", "s", "4-0", "f", "v"},
		{"XGROUP", "CREATE", "s", "g", "0"}, {"XGROUP", "CREATE", "s", "n", "0"},
		{"XREADGROUP", "GROUP", "g", "c1", "COUNT", "2", "STREAMS", "s", ">"},
		{"XREADGROUP", "GROUP", "n", "c1", "NOACK", "COUNT", "3", "STREAMS", "s", ">"},
		{"XGROUP", "CREATECONSUMER", "s", "g", "idle"},
		{"MULTI"}, {"XREADGROUP", "GROUP", "g", "c2", "STREAMS", "s", ">"}, {"XACK", "s", "g", "3-0"}, {"EXEC"},
		{"XCLAIM", "s", "g", "c3", "0", "1-0", "RETRYCOUNT", "5", "IDLE", "1000"},
		{"XDEL", "s", "2-0"},
		{"XAUTOCLAIM", "s", "g", "c4", "0", "0", "COUNT", "1"},
		{"XGROUP", "DELCONSUMER", "s", "g", "c1"},
		{"XGROUP", "CREATE", "s", "gone", "$"}, {"XGROUP", "DESTROY", "s", "gone"},
	} {
		if v := rc.do(t, c...); v.kind == '-' {
			t.Fatalf("%q: %s", c, v)
		}
	}
	// XCLAIM ... LASTID carries the group's last ID but not its read
	// counter: as in Redis 7.0, a group whose counter was only estimated
	// on the primary comes back with it unknown (entries-read null, lag
	// estimated), so those two are left out.
	groups := func() string {
		g := rc.do(t, "XINFO", "STREAM", "s", "FULL").get("groups")
		for _, grp := range g.elems {
			grp.elems[5] = respValue{kind: '?'} // entries-read
			grp.elems[7] = respValue{kind: '?'} // lag
			for _, c := range grp.get("consumers").elems {
				c.elems[3].str = "T" // seen-time
			}
		}
		return fmtResp(g)
	}
	before := groups()
	if v := rc.do(t, "DEBUG", "LOADAOF"); v.kind == '-' {
		t.Fatalf("DEBUG LOADAOF: %s", v)
	}
	if after := groups(); after != before {
		t.Fatalf("after DEBUG LOADAOF:\n%s\nbefore:\n%s", after, before)
	}
}

// TestStreamGroupsLegacyRDB loads a stream of RDB type 15 (Redis 6.2: no
// first ID, deleted ID, entries added or group read counters): the read
// counters are estimated as Redis does. The type-15 payload is the node's
// own type-19 one with those fields taken out.
func TestStreamGroupsLegacyRDB(t *testing.T) {
	s, _ := testServer(t, nil)
	rc := dialNode(t, s)
	for _, c := range [][]string{
		{"XADD", "s", "1-0", "f", "v"}, {"XADD", "s", "2-0", "f", "v"}, {"XADD", "s", "3-0", "f", "v"},
		{"XGROUP", "CREATE", "s", "first", "0"}, {"XGROUP", "CREATE", "s", "last", "$"}, {"XGROUP", "CREATE", "s", "mid", "2-0"},
		{"XREADGROUP", "GROUP", "first", "c", "COUNT", "1", "STREAMS", "s", "0"},
		{"XREADGROUP", "GROUP", "last", "c", "STREAMS", "s", ">"},
	} {
		rc.do(t, c...)
	}
	dump := rc.do(t, "DUMP", "s").str
	value, ok := rdb.CheckPayload([]byte(dump), true)
	if !ok {
		t.Fatal("bad DUMP payload")
	}
	r := rdb.NewReader(bytes.NewReader(value), int64(len(value)), "dump")
	var out bytes.Buffer
	w := rdb.NewWriter(&out, false)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	copyLen := func() uint64 { n, err := r.Len(); must(err); w.Len(n); return n }
	copyStr := func() { b, err := r.String(); must(err); w.String(b) }
	copyRaw := func(n int) { b := make([]byte, n); must(r.Full(b)); w.Raw(b) }
	skipLen := func() { _, err := r.Len(); must(err) }
	typ, err := r.Byte()
	must(err)
	if typ != rdb.TypeStreamListpacks2 {
		t.Fatalf("DUMP type %d", typ)
	}
	w.Byte(rdb.TypeStreamListpacks)
	for n := copyLen(); n > 0; n-- {
		copyStr()
		copyStr()
	}
	copyLen() // length
	copyLen() // last ID
	copyLen()
	for i := 0; i < 5; i++ { // first ID, max deleted ID, entries added
		skipLen()
	}
	for g := copyLen(); g > 0; g-- {
		copyStr()
		copyLen()
		copyLen()
		skipLen() // entries read
		for n := copyLen(); n > 0; n-- {
			copyRaw(16 + 8)
			copyLen()
		}
		for c := copyLen(); c > 0; c-- {
			copyStr()
			copyRaw(8)
			for n := copyLen(); n > 0; n-- {
				copyRaw(16)
			}
		}
	}
	must(w.Flush())
	if v := rc.do(t, "RESTORE", "old", "0", string(rdb.Payload(out.Bytes()))); v.kind == '-' {
		t.Fatalf("RESTORE of the type-15 payload: %s", v)
	}
	got := fmtResp(rc.do(t, "XINFO", "GROUPS", "old"))
	// first: at 0-0, before the first entry: 0 read, lag 3. last: at the
	// last ID: 3. mid: at 2-0, inside the stream: unknown, lag null.
	want := `*[*[$"name" $"first" $"consumers" :"1" $"pending" :"0" $"last-delivered-id" $"0-0" $"entries-read" :"0" $"lag" :"3"] ` +
		`*[$"name" $"last" $"consumers" :"0" $"pending" :"0" $"last-delivered-id" $"3-0" $"entries-read" :"3" $"lag" :"0"] ` +
		`*[$"name" $"mid" $"consumers" :"0" $"pending" :"0" $"last-delivered-id" $"2-0" $"entries-read" $nil $"lag" $nil]]`
	if got != want {
		t.Fatalf("groups of the type-15 stream:\n got %s\nwant %s", got, want)
	}
}

// FuzzStreamGroupsRDB feeds corrupted stream values with groups to the
// RDB loader: it must fail or load a value whose groups can be walked and
// saved again, never panic.
func FuzzStreamGroupsRDB(f *testing.F) {
	st := newStreamObj()
	for i := 1; i <= 5; i++ {
		st.entries.Append(streamID{uint64(i), 0}.pkg(), [][]byte{[]byte("f"), []byte("v")}, stream.Limits{MaxBytes: 4096, MaxEntries: 2})
		st.length++
		st.entriesAdded++
		st.lastID = streamID{uint64(i), 0}
	}
	st.firstID = streamID{1, 0}
	gs := st.groupSet()
	cg := gs.create("g", streamID{3, 0}, 3)
	gs.create("h", streamID{}, entriesReadInvalid)
	a := cg.addConsumer("a", 100)
	cg.addConsumer("idle", 200)
	for i := 1; i <= 3; i++ {
		id := streamID{uint64(i), 0}
		cg.pel.Insert(id, streamNACK{consumer: a, deliveryTime: 1000, deliveryCount: uint64(i)})
		a.pel.Insert(id, struct{}{})
	}
	var buf bytes.Buffer
	w := rdb.NewWriter(&buf, false)
	o := newStreamObject(st)
	rdbSaveStream(w, &o, nil)
	if err := w.Flush(); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	s := New(DefaultConfig(), quietLog)
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) == 0 {
			return
		}
		r := rdb.NewReader(bytes.NewReader(b[1:]), int64(len(b)-1), "fuzz")
		obj, err := s.loadObject(r, b[0], true)
		if err != nil || obj.Type != keyspace.TypeStream {
			return
		}
		so := streamOf(&obj)
		if so.groups == nil {
			return
		}
		var out bytes.Buffer
		rdbSaveStreamGroups(rdb.NewWriter(&out, false), so)
		so.groups.clone()
		for _, cg := range so.groups.list {
			cg.pel.Ascend(streamID{}, func(id streamID, nack *streamNACK) bool {
				if nack.consumer == nil {
					t.Fatalf("NACK %v without an owner", id)
				}
				if _, ok := nack.consumer.pel.Get(id); !ok {
					t.Fatalf("NACK %v missing from its owner's PEL", id)
				}
				return true
			})
			for _, sc := range cg.consumers {
				sc.pel.Ascend(streamID{}, func(id streamID, _ *struct{}) bool {
					if nack, ok := cg.pel.Get(id); !ok || nack.consumer != sc {
						t.Fatalf("consumer %s lists %v that it does not own", sc.name, id)
					}
					return true
				})
			}
		}
	})
}

// TestStreamGroupsReplication runs Redis's "Consumer group last ID
// propagation to slave" and "Replication tests of XCLAIM with deleted
// entries" against a node replica of a node.
func TestStreamGroupsReplication(t *testing.T) {
	ctx := context.Background()
	p, pc := testServer(t, nil)
	_, rc := testServer(t, nil)
	replicate(t, rc, p, pc)
	for _, noack := range []bool{false, true} {
		pc.Del(ctx, "stream")
		for i := 1; i <= 3; i++ {
			pc.XAdd(ctx, &redis.XAddArgs{Stream: "stream", Values: []any{"a", i}})
		}
		pc.XGroupCreate(ctx, "stream", "mygroup", "0")
		for j := 0; j < 2; j++ {
			res, err := pc.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "mygroup", Consumer: "myconsumer", Streams: []string{"stream", ">"}, Count: 1, NoAck: noack}).Result()
			if err != nil {
				t.Fatal(err)
			}
			if !noack {
				if n := pc.XAck(ctx, "stream", "mygroup", res[0].Messages[0].ID).Val(); n != 1 {
					t.Fatalf("XACK = %d", n)
				}
			}
		}
		waitInSync(t, pc, rc)
		// What the replica holds: the group's position, consumers and PEL
		// (not its read counter: XCLAIM ... LASTID does not carry it, in
		// Redis 7.0 either).
		rg, pg := rc.XInfoGroups(ctx, "stream").Val(), pc.XInfoGroups(ctx, "stream").Val()
		if len(rg) != 1 || len(pg) != 1 || rg[0].LastDeliveredID != pg[0].LastDeliveredID || rg[0].Consumers != pg[0].Consumers || rg[0].Pending != pg[0].Pending {
			t.Fatalf("NOACK=%v: replica's groups %v, primary's %v", noack, rg, pg)
		}
		if got, want := fmt.Sprint(rc.XPending(ctx, "stream", "mygroup").Val()), fmt.Sprint(pc.XPending(ctx, "stream", "mygroup").Val()); got != want {
			t.Fatalf("NOACK=%v: replica's PEL %s, primary's %s", noack, got, want)
		}
	}
	for _, autoclaim := range []bool{false, true} {
		pc.Del(ctx, "x")
		for i := 1; i <= 5; i++ {
			pc.XAdd(ctx, &redis.XAddArgs{Stream: "x", ID: fmt.Sprintf("%d-0", i), Values: []any{"f", "v"}})
		}
		pc.XGroupCreate(ctx, "x", "grp", "0")
		pc.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "grp", Consumer: "Alice", Streams: []string{"x", ">"}})
		waitInSync(t, pc, rc)
		if n := len(rc.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: "x", Group: "grp", Start: "-", End: "+", Count: 10, Consumer: "Alice"}).Val()); n != 5 {
			t.Fatalf("replica's PEL of Alice: %d entries", n)
		}
		pc.XDel(ctx, "x", "2-0", "4-0")
		want := 1
		if autoclaim {
			res := fmt.Sprint(pc.Do(ctx, "XAUTOCLAIM", "x", "grp", "Bob", "0", "0-0").Val())
			if res != "[0-0 [[1-0 [f v]] [3-0 [f v]] [5-0 [f v]]] [2-0 4-0]]" {
				t.Fatalf("XAUTOCLAIM = %s", res)
			}
			want = 0
		} else if res := fmt.Sprint(pc.Do(ctx, "XCLAIM", "x", "grp", "Bob", "0", "1-0", "2-0", "3-0", "4-0").Val()); res != "[[1-0 [f v]] [3-0 [f v]]]" {
			t.Fatalf("XCLAIM = %s", res)
		}
		waitInSync(t, pc, rc)
		if n := len(rc.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: "x", Group: "grp", Start: "-", End: "+", Count: 10, Consumer: "Alice"}).Val()); n != want {
			t.Fatalf("autoclaim=%v: replica's PEL of Alice has %d entries, want %d", autoclaim, n, want)
		}
	}
	// Promoted, the replica goes on where the primary's group was.
	if err := rc.Do(ctx, "REPLICAOF", "NO", "ONE").Err(); err != nil {
		t.Fatal(err)
	}
	res, err := rc.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "mygroup", Consumer: "myconsumer", Streams: []string{"stream", ">"}, Count: 1}).Result()
	if err != nil || res[0].Messages[0].Values["a"] != "3" {
		t.Fatalf("promoted replica read %v %v, want the third entry", res, err)
	}
}

// BenchmarkPELAppendAck is the common PEL pattern: deliveries append
// ascending IDs, acknowledgements remove the oldest.
func BenchmarkPELAppendAck(b *testing.B) {
	var tr pelTree[streamNACK]
	const window = 10000
	for i := 0; i < window; i++ {
		tr.Insert(streamID{uint64(i), 0}, streamNACK{deliveryCount: 1})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tr.Insert(streamID{uint64(window + i), 0}, streamNACK{deliveryCount: 1})
		if p, ok := tr.Get(streamID{uint64(i + window/2), 0}); ok {
			p.deliveryCount++
		}
		tr.Delete(streamID{uint64(i), 0})
	}
}

// TestXReadGroupClientUnblock: CLIENT UNBLOCK ends a blocked XREADGROUP
// as a timeout (null) or with the UNBLOCKED error, and the group is left
// as it was.
func TestXReadGroupClientUnblock(t *testing.T) {
	s, _ := testServer(t, nil)
	rc := dialNode(t, s)
	rc.do(t, "XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
	for _, tc := range []struct{ how, want string }{
		{"TIMEOUT", `*nil`},
		{"ERROR", `-"UNBLOCKED client unblocked via CLIENT UNBLOCK"`},
	} {
		b := dialNode(t, s)
		id := b.do(t, "CLIENT", "ID").str
		b.send(t, "XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
		waitBlocked(t, s, 1)
		if got := fmtResp(rc.do(t, "CLIENT", "UNBLOCK", id, tc.how)); got != `:"1"` {
			t.Fatalf("CLIENT UNBLOCK %s: %s", tc.how, got)
		}
		if got := b.next(t); got != tc.want {
			t.Fatalf("%s: got %s, want %s", tc.how, got, tc.want)
		}
		waitBlocked(t, s, 0)
	}
	rc.do(t, "XADD", "s", "1-0", "f", "v")
	if got := fmtResp(rc.do(t, "XINFO", "GROUPS", "s")); got != `*[*[$"name" $"g" $"consumers" :"0" $"pending" :"0" $"last-delivered-id" $"0-0" $"entries-read" $nil $"lag" :"1"]]` {
		t.Fatalf("group after the unblocks: %s", got)
	}
}
