package stream

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strconv"
	"testing"

	"github.com/keyfleet/keyfleet/node/ds/listpack"
)

// model is the reference: live entries in order.
type model struct {
	ids []ID
	fv  map[ID][]string
}

func (m *model) rangeOf(start, end ID, rev bool) []string {
	var out []string
	for i := range m.ids {
		j := i
		if rev {
			j = len(m.ids) - 1 - i
		}
		id := m.ids[j]
		if id.Less(start) || end.Less(id) {
			continue
		}
		out = append(out, fmt.Sprint(id, m.fv[id]))
	}
	return out
}

func collect(s *Stream, start, end ID, rev bool) []string {
	var out []string
	it := s.Iter(start, end, rev)
	for {
		id, fv, ok := it.Next()
		if !ok {
			return out
		}
		strs := make([]string, len(fv))
		for i, b := range fv {
			strs[i] = string(b)
		}
		out = append(out, fmt.Sprint(id, strs))
	}
}

// TestStreamAgainstModel appends, deletes, trims and iterates at random,
// checking every range, the node counters and deep validation.
func TestStreamAgainstModel(t *testing.T) {
	for _, lim := range []Limits{{MaxEntries: 1}, {MaxEntries: 5}, {MaxBytes: 200, MaxEntries: 100}, {}} {
		t.Run(fmt.Sprint(lim), func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, uint64(lim.MaxEntries+lim.MaxBytes)))
			s := New()
			m := &model{fv: map[ID][]string{}}
			next := ID{Ms: 1}
			names := []string{"a", "b", "17", "-3", "c"}
			for op := 0; op < 4000; op++ {
				switch r.IntN(10) {
				case 0, 1, 2, 3, 4:
					n := 1 + r.IntN(3)
					var fv [][]byte
					var strs []string
					for i := 0; i < n; i++ {
						f := names[i]
						if r.IntN(3) == 0 {
							f = names[r.IntN(len(names))]
						}
						v := strconv.Itoa(r.IntN(1 << 20))
						if r.IntN(2) == 0 {
							v = "v" + v
						}
						fv = append(fv, []byte(f), []byte(v))
						strs = append(strs, f, v)
					}
					s.Append(next, fv, lim)
					m.ids = append(m.ids, next)
					m.fv[next] = strs
					if r.IntN(4) == 0 {
						next = ID{Ms: next.Ms + uint64(r.IntN(1000)), Seq: 0}
					}
					next.Seq += uint64(1 + r.IntN(1<<r.IntN(40)))
				case 5:
					if len(m.ids) == 0 {
						continue
					}
					i := r.IntN(len(m.ids))
					id := m.ids[i]
					if !s.Delete(id) {
						t.Fatalf("delete %v: not found", id)
					}
					if s.Delete(id) {
						t.Fatalf("delete %v twice", id)
					}
					m.ids = append(m.ids[:i], m.ids[i+1:]...)
					delete(m.fv, id)
				case 6:
					a := TrimArgs{Approx: r.IntN(2) == 0}
					if r.IntN(2) == 0 {
						a.MaxLen = uint64(r.IntN(len(m.ids) + 5))
					} else if len(m.ids) > 0 {
						a.ByMinID, a.MinID = true, m.ids[r.IntN(len(m.ids))]
					}
					if a.Approx && r.IntN(2) == 0 {
						a.Limit = int64(r.IntN(20))
					}
					n := s.Trim(uint64(len(m.ids)), a)
					if n < 0 || int(n) > len(m.ids) {
						t.Fatalf("trim %+v removed %d of %d", a, n, len(m.ids))
					}
					for _, id := range m.ids[:n] {
						delete(m.fv, id)
					}
					m.ids = m.ids[n:]
					if !a.Approx && a.Limit == 0 {
						if !a.ByMinID && uint64(len(m.ids)) > a.MaxLen {
							t.Fatalf("exact maxlen %d left %d", a.MaxLen, len(m.ids))
						}
						if a.ByMinID && len(m.ids) > 0 && m.ids[0].Less(a.MinID) {
							t.Fatalf("exact minid %v left %v", a.MinID, m.ids[0])
						}
					}
				default:
					var lo, hi ID
					if len(m.ids) > 0 {
						lo = m.ids[r.IntN(len(m.ids))]
						hi = m.ids[r.IntN(len(m.ids))]
					}
					if r.IntN(4) == 0 {
						lo = ID{}
					}
					if r.IntN(4) == 0 {
						hi = MaxID
					}
					rev := r.IntN(2) == 0
					if got, want := collect(s, lo, hi, rev), m.rangeOf(lo, hi, rev); !reflect.DeepEqual(got, want) {
						t.Fatalf("range %v..%v rev=%v:\n got %v\nwant %v", lo, hi, rev, got, want)
					}
				}
			}
			if got, want := collect(s, ID{}, MaxID, false), m.rangeOf(ID{}, MaxID, false); !reflect.DeepEqual(got, want) {
				t.Fatalf("final range differs")
			}
			// Every node is a valid stream listpack whose counters add up.
			var live int64
			c := New()
			for _, nd := range s.Nodes() {
				n, err := c.AddNode(nd.Master, nd.LP.Clone(), true)
				if err != nil {
					t.Fatal(err)
				}
				live += n
			}
			if live != int64(len(m.ids)) {
				t.Fatalf("nodes count %d live entries, model %d", live, len(m.ids))
			}
			if lim.MaxEntries > 0 {
				for _, nd := range s.Nodes() {
					p := nd.LP.First()
					if n := getInt(nd.LP, p) + getInt(nd.LP, nd.LP.Next(p)); n > int64(lim.MaxEntries) {
						t.Fatalf("node holds %d entries, limit %d", n, lim.MaxEntries)
					}
				}
			}
		})
	}
}

// TestNodeLayout pins the listpack of a node to Redis's layout: the
// master entry, a SAMEFIELDS entry and one with its own fields.
func TestNodeLayout(t *testing.T) {
	s := New()
	s.Append(ID{5, 1}, [][]byte{[]byte("f"), []byte("v")}, Limits{})
	s.Append(ID{7, 0}, [][]byte{[]byte("f"), []byte("12")}, Limits{})
	s.Append(ID{7, 3}, [][]byte{[]byte("g"), []byte("w")}, Limits{})
	got := listpack.Listpack(s.Nodes()[0].LP).Entries()
	want := []string{
		"3", "0", "1", "f", "0", // master: count, deleted, fields, f, terminator
		"2", "0", "0", "v", "4", // SAMEFIELDS, ms-diff, seq-diff, value, lp-count
		"2", "2", "-1", "12", "4",
		"0", "2", "2", "1", "g", "w", "6", // own fields: num-fields, field, value
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("node listpack %q, want %q", got, want)
	}
	s.Delete(ID{7, 0})
	got = listpack.Listpack(s.Nodes()[0].LP).Entries()
	if got[0] != "2" || got[1] != "1" || got[10] != "3" {
		t.Fatalf("after delete %q: counters or DELETED flag wrong", got)
	}
}

func TestIDEncode(t *testing.T) {
	id := ID{0x0102030405060708, 0x1112131415161718}
	b := id.Encode(nil)
	if b[0] != 1 || b[15] != 0x18 || len(b) != 16 {
		t.Fatalf("encode %x", b)
	}
	if got, ok := DecodeID(b); !ok || got != id {
		t.Fatalf("decode %v", got)
	}
}

// FuzzAddNode feeds arbitrary bytes as a node's listpack: AddNode must
// refuse or accept without panicking, and what it accepts with deep
// validation must iterate both ways and take deletions.
func FuzzAddNode(f *testing.F) {
	s := New()
	for i := 0; i < 6; i++ {
		s.Append(ID{uint64(10 + i), uint64(i)}, [][]byte{[]byte("a"), []byte(strconv.Itoa(i)), []byte("b"), []byte("x")}, Limits{})
	}
	s.Append(ID{30, 0}, [][]byte{[]byte("z"), []byte("y")}, Limits{})
	s.Delete(ID{12, 2})
	f.Add(uint64(10), uint64(0), []byte(s.Nodes()[0].LP))
	f.Add(uint64(0), uint64(0), []byte{7, 0, 0, 0, 0, 0, 0xff})
	f.Fuzz(func(t *testing.T, ms, seq uint64, b []byte) {
		s := New()
		lp := append([]byte(nil), b...)
		n, err := s.AddNode(ID{ms, seq}, lp, true)
		if err != nil {
			return
		}
		fwd := collect(s, ID{}, MaxID, false)
		rev := collect(s, ID{}, MaxID, true)
		if len(fwd) != int(n) || len(rev) != int(n) {
			t.Fatalf("header says %d live entries, iteration %d/%d", n, len(fwd), len(rev))
		}
		it := s.Iter(ID{}, MaxID, false)
		var ids []ID
		for {
			id, _, ok := it.Next()
			if !ok {
				break
			}
			ids = append(ids, id)
		}
		for _, id := range ids {
			if !s.Delete(id) {
				t.Fatalf("entry %v not deletable", id)
			}
		}
		if s.NumNodes() != 0 {
			t.Fatalf("%d nodes left after deleting every entry", s.NumNodes())
		}
	})
}

func BenchmarkAppend(b *testing.B) {
	s := New()
	fv := [][]byte{[]byte("field"), []byte("value"), []byte("name"), []byte("12345")}
	lim := Limits{MaxBytes: 4096, MaxEntries: 100}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		s.Append(ID{uint64(i), 0}, fv, lim)
	}
}
