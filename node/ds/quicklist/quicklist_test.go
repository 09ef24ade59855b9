package quicklist

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/keyfleet/keyfleet/node/ds/listpack"
	"github.com/keyfleet/keyfleet/node/ds/lzf"
)

// verify checks the list's invariants and its contents against model.
func verify(t *testing.T, ql *Quicklist, model []string) {
	t.Helper()
	count, nodes := 0, 0
	var prev *node
	for n := ql.head; n != nil; n = n.next {
		if n.prev != prev {
			t.Fatalf("node %d: broken prev link", nodes)
		}
		nodes++
		count += n.count
		if n.count == 0 {
			t.Fatalf("node %d is empty", nodes)
		}
		data := n.entry
		if n.compressed {
			raw, err := lzf.Decompress(nil, n.entry, n.sz)
			if err != nil {
				t.Fatalf("node %d does not decompress: %v", nodes, err)
			}
			data = raw
		} else if len(n.entry) != n.sz {
			t.Fatalf("node %d: sz %d, entry %d bytes", nodes, n.sz, len(n.entry))
		}
		if n.plain {
			if n.count != 1 {
				t.Fatalf("plain node with count %d", n.count)
			}
		} else {
			if err := listpack.Validate(data, nil); err != nil {
				t.Fatalf("node %d: %v", nodes, err)
			}
			if l := listpack.Listpack(data).Len(); l != n.count {
				t.Fatalf("node %d: count %d, listpack has %d", nodes, n.count, l)
			}
		}
		prev = n
	}
	if prev != ql.tail {
		t.Fatal("tail is not the last node")
	}
	if nodes != ql.len || count != ql.count {
		t.Fatalf("len %d/%d nodes, count %d/%d", ql.len, nodes, ql.count, count)
	}
	if ql.head != nil && (ql.head.compressed || ql.tail.compressed) {
		t.Fatal("head or tail is compressed")
	}
	if ql.count != len(model) {
		t.Fatalf("count %d, model %d", ql.count, len(model))
	}
	it := ql.Iterator(true)
	var e Entry
	i := 0
	for it.Next(&e) {
		if e.String() != model[i] {
			t.Fatalf("entry %d = %.20q, want %.20q", i, e.String(), model[i])
		}
		i++
	}
	it.Release()
	if i != len(model) {
		t.Fatalf("forward iteration saw %d entries, want %d", i, len(model))
	}
	it = ql.Iterator(false)
	for it.Next(&e) {
		i--
		if e.String() != model[i] {
			t.Fatalf("backward entry %d = %.20q, want %.20q", i, e.String(), model[i])
		}
	}
	it.Release()
	if i != 0 {
		t.Fatalf("backward iteration stopped at %d", i)
	}
}

func value(r *rand.Rand) string {
	switch r.IntN(5) {
	case 0:
		return strconv.Itoa(r.IntN(1000))
	case 1:
		return strings.Repeat("x", r.IntN(3000)) + strconv.Itoa(r.IntN(100))
	case 2:
		return strings.Repeat(string(rune('a'+r.IntN(26))), 40+r.IntN(200))
	default:
		return fmt.Sprintf("v%d", r.IntN(100))
	}
}

func TestRandomAgainstModel(t *testing.T) {
	configs := []struct{ fill, compress, threshold int }{
		{-2, 0, 0}, {-1, 1, 0}, {5, 2, 0}, {1, 1, 0}, {16, 1, 100}, {4, 0, 10}, {-5, 3, 1}, {128, 1, 500},
	}
	for _, cfg := range configs {
		t.Run(fmt.Sprintf("fill%d-depth%d-plain%d", cfg.fill, cfg.compress, cfg.threshold), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(cfg.fill+10), uint64(cfg.compress)))
			ql := New(cfg.fill, cfg.compress)
			ql.SetPackedThreshold(cfg.threshold)
			var model []string
			for step := 0; step < 2500; step++ {
				v := value(r)
				switch op := r.IntN(10); {
				case op <= 1:
					ql.PushHead([]byte(v))
					model = append([]string{v}, model...)
				case op <= 3:
					ql.PushTail([]byte(v))
					model = append(model, v)
				case op == 4 && len(model) > 0:
					head := r.IntN(2) == 0
					e, ok := ql.Pop(head)
					want := model[len(model)-1]
					if head {
						want = model[0]
						model = model[1:]
					} else {
						model = model[:len(model)-1]
					}
					if !ok || e.String() != want {
						t.Fatalf("Pop = %.20q, want %.20q", e.String(), want)
					}
				case op == 5 && len(model) > 0:
					i := r.IntN(len(model))
					idx := i
					if r.IntN(2) == 0 {
						idx = i - len(model)
					}
					if !ql.ReplaceAt(idx, []byte(v)) {
						t.Fatal("ReplaceAt out of range")
					}
					model[i] = v
				case op == 6 && len(model) > 0:
					i := r.IntN(len(model))
					after := r.IntN(2) == 0
					it := ql.IteratorAt(i, true)
					var e Entry
					it.Next(&e)
					if after {
						ql.InsertAfter(it, &e, []byte(v))
						i++
					} else {
						ql.InsertBefore(it, &e, []byte(v))
					}
					it.Release()
					model = append(model[:i], append([]string{v}, model[i:]...)...)
				case op == 7 && len(model) > 0:
					// LREM-like walk deleting matches in either direction.
					target := model[r.IntN(len(model))]
					forward := r.IntN(2) == 0
					var it *Iter
					if forward {
						it = ql.IteratorAt(0, true)
					} else {
						it = ql.IteratorAt(-1, false)
					}
					var e Entry
					for it.Next(&e) {
						if e.String() == target {
							it.Delete(&e)
						}
					}
					it.Release()
					var kept []string
					for _, m := range model {
						if m != target {
							kept = append(kept, m)
						}
					}
					model = kept
				case op == 8 && len(model) > 0:
					start := r.IntN(len(model))
					n := r.IntN(len(model)) + 1
					if r.IntN(2) == 0 {
						ql.DelRange(start-len(model), n)
						n = min(n, len(model)-start)
					} else {
						ql.DelRange(start, n)
						n = min(n, len(model)-start)
					}
					model = append(model[:start], model[start+n:]...)
				case op == 9 && len(model) > 0:
					i := r.IntN(len(model))
					e, ok := ql.Index(i - len(model))
					if !ok || e.String() != model[i] {
						t.Fatalf("Index(%d) = %.20q", i, e.String())
					}
				}
				if step%25 == 0 {
					verify(t, ql, model)
				}
			}
			verify(t, ql, model)
			cp := ql.Dup()
			verify(t, cp, model)
		})
	}
}

// TestNodeLayout checks the fill rules against node counts observed on
// redis-server 7.0.15 (DEBUG OBJECT ql_nodes) for RPUSH of N elements.
func TestNodeLayout(t *testing.T) {
	tests := []struct {
		fill, n, size, nodes, uncompressed int
	}{
		{-2, 1000, 10, 2, 12014},
		{5, 100, 10, 20, 1340},
		{128, 1000, 10, 8, 12056},
		{-1, 1000, 100, 26, 103182},
	}
	for _, tt := range tests {
		ql := New(tt.fill, 0)
		for i := 0; i < tt.n; i++ {
			ql.PushTail([]byte(strings.Repeat("x", tt.size)))
		}
		if st := ql.Stats(); st.Nodes != tt.nodes || st.UncompressedSize != tt.uncompressed {
			t.Errorf("fill %d, %d x %d bytes: %d nodes of %d bytes, redis has %d of %d",
				tt.fill, tt.n, tt.size, st.Nodes, st.UncompressedSize, tt.nodes, tt.uncompressed)
		}
	}
}

// FuzzOps runs a byte-coded sequence of list operations against a model.
func FuzzOps(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 200, 13, 14})
	f.Add([]byte("push push pop insert replace delete range"))
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) < 2 {
			return
		}
		fill := int(int8(ops[0])) % 20
		ql := New(fill, int(ops[1]%4))
		ql.SetPackedThreshold(int(ops[1]) * 3)
		var model []string
		for i := 2; i+1 < len(ops); i += 2 {
			op, arg := ops[i], int(ops[i+1])
			v := strings.Repeat(string(rune('a'+arg%26)), arg%7*arg)
			if arg%3 == 0 {
				v = strconv.Itoa(arg * 37)
			}
			switch op % 7 {
			case 0:
				ql.PushHead([]byte(v))
				model = append([]string{v}, model...)
			case 1:
				ql.PushTail([]byte(v))
				model = append(model, v)
			case 2:
				if _, ok := ql.Pop(arg%2 == 0); ok {
					if arg%2 == 0 {
						model = model[1:]
					} else {
						model = model[:len(model)-1]
					}
				}
			case 3:
				if len(model) > 0 {
					j := arg % len(model)
					ql.ReplaceAt(j, []byte(v))
					model[j] = v
				}
			case 4:
				if len(model) > 0 {
					j := arg % len(model)
					it := ql.IteratorAt(j, true)
					var e Entry
					it.Next(&e)
					ql.InsertBefore(it, &e, []byte(v))
					it.Release()
					model = append(model[:j], append([]string{v}, model[j:]...)...)
				}
			case 5:
				if len(model) > 0 {
					j := arg % len(model)
					n := arg%5 + 1
					ql.DelRange(j, n)
					model = append(model[:j], model[min(j+n, len(model)):]...)
				}
			case 6:
				if len(model) > 0 {
					target := model[arg%len(model)]
					it := ql.IteratorAt(-1, false)
					var e Entry
					for it.Next(&e) {
						if e.String() == target {
							it.Delete(&e)
						}
					}
					it.Release()
					var kept []string
					for _, m := range model {
						if m != target {
							kept = append(kept, m)
						}
					}
					model = kept
				}
			}
		}
		verify(t, ql, model)
	})
}

// TestPushAllMatchesPush: a batch push builds the same nodes as single
// pushes, for any fill.
func TestPushAllMatchesPush(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	for _, fill := range []int{-5, -2, -1, 1, 3, 16, 128} {
		for _, head := range []bool{true, false} {
			a, b := New(fill, 1), New(fill, 1)
			a.SetPackedThreshold(3000)
			b.SetPackedThreshold(3000)
			var model []string
			for batch := 0; batch < 40; batch++ {
				vals := make([][]byte, 1+r.IntN(30))
				for i := range vals {
					vals[i] = []byte(value(r))
				}
				a.PushAll(vals, head)
				for _, v := range vals {
					b.Push(v, head)
					if head {
						model = append([]string{string(v)}, model...)
					} else {
						model = append(model, string(v))
					}
				}
			}
			verify(t, a, model)
			if sa, sb := a.Stats(), b.Stats(); sa.Nodes != sb.Nodes || sa.UncompressedSize != sb.UncompressedSize || sa.Compressed != sb.Compressed {
				t.Fatalf("fill %d head %v: PushAll layout %+v, Push layout %+v", fill, head, sa, sb)
			}
		}
	}
}
