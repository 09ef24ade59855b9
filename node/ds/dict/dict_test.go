package dict

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

func TestBasicOps(t *testing.T) {
	d := New[float64](0)
	if _, ok := d.Get("a"); ok {
		t.Fatal("Get on an empty dict found a value")
	}
	if !d.Add("a", 1) || d.Add("a", 2) {
		t.Fatal("Add: want true then false")
	}
	if v, _ := d.Get("a"); v != 1 {
		t.Fatalf("Add replaced the value: %v", v)
	}
	if d.Set("a", 3) {
		t.Fatal("Set of an existing key reported new")
	}
	if v, ok := d.GetBytes([]byte("a")); !ok || v != 3 {
		t.Fatalf("GetBytes = %v, %v", v, ok)
	}
	*d.Ptr("a") += 1
	if v, _ := d.Get("a"); v != 4 {
		t.Fatalf("Ptr update lost: %v", v)
	}
	if !d.HasBytes([]byte("a")) || d.Has("b") {
		t.Fatal("Has/HasBytes wrong")
	}
	if v, ok := d.Pop("a"); !ok || v != 4 {
		t.Fatalf("Pop = %v, %v", v, ok)
	}
	if d.Len() != 0 || d.Delete("a") || d.DeleteBytes([]byte("a")) {
		t.Fatal("dict not empty after Pop")
	}
}

func TestRandomOpsAgainstMap(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	d := New[int](0)
	ref := map[string]int{}
	for i := 0; i < 200000; i++ {
		k := strconv.Itoa(r.IntN(3000))
		switch r.IntN(4) {
		case 0:
			_, had := ref[k]
			if d.Delete(k) != had {
				t.Fatalf("Delete(%s) disagrees with the map", k)
			}
			delete(ref, k)
		case 1:
			_, had := ref[k]
			if d.DeleteBytes([]byte(k)) != had {
				t.Fatalf("DeleteBytes(%s) disagrees with the map", k)
			}
			delete(ref, k)
		default:
			_, had := ref[k]
			if d.Set(k, i) == had {
				t.Fatalf("Set(%s) new=%v with present=%v", k, !had, had)
			}
			ref[k] = i
		}
		// Sometimes drain most of it so that shrinking is exercised.
		if i%50000 == 49999 {
			for k := range ref {
				if r.IntN(10) > 0 {
					d.Delete(k)
					delete(ref, k)
				}
			}
		}
	}
	if d.Len() != len(ref) {
		t.Fatalf("Len = %d, want %d", d.Len(), len(ref))
	}
	n := 0
	d.Each(func(k string, v int) bool {
		if ref[k] != v {
			t.Fatalf("Each: %s=%d, want %d", k, v, ref[k])
		}
		n++
		return true
	})
	if n != len(ref) {
		t.Fatalf("Each visited %d, want %d", n, len(ref))
	}
}

// TestScanGuarantee checks Redis's SCAN contract: elements present for
// the whole iteration are returned even when the table grows and shrinks
// between calls.
func TestScanGuarantee(t *testing.T) {
	for _, tc := range []struct {
		name    string
		between func(d *Dict[struct{}], step int)
	}{
		{"stable", func(*Dict[struct{}], int) {}},
		{"growing", func(d *Dict[struct{}], step int) {
			if step >= 40 {
				return
			}
			for j := 0; j < 100; j++ {
				d.Add("new:"+strconv.Itoa(step*100+j), struct{}{})
			}
		}},
		{"shrinking", func(d *Dict[struct{}], step int) {
			for j := 0; j < 40; j++ {
				d.Delete("tmp:" + strconv.Itoa(step*40+j))
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := New[struct{}](0)
			for i := 0; i < 1000; i++ {
				d.Add("keep:"+strconv.Itoa(i), struct{}{})
				d.Add("tmp:"+strconv.Itoa(i), struct{}{})
			}
			seen := map[string]bool{}
			cursor, step := uint64(0), 0
			for {
				cursor = d.Scan(cursor, func(k string, _ struct{}) { seen[k] = true })
				if cursor == 0 {
					break
				}
				tc.between(d, step)
				step++
				if step > 1<<16 {
					t.Fatal("scan does not terminate")
				}
			}
			for i := 0; i < 1000; i++ {
				if !seen["keep:"+strconv.Itoa(i)] {
					t.Fatalf("keep:%d never returned", i)
				}
			}
		})
	}
}

func TestRandomIsUniform(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	d := New[struct{}](0)
	for i := 0; i < 200; i++ {
		d.Add(strconv.Itoa(i), struct{}{})
	}
	// Leave holes in the slab: randomness must not favour neighbours
	// of free slots.
	for i := 0; i < 200; i += 3 {
		d.Delete(strconv.Itoa(i))
	}
	counts := map[string]int{}
	const draws = 200000
	for i := 0; i < draws; i++ {
		k, _ := d.Random(r)
		counts[k]++
	}
	if len(counts) != d.Len() {
		t.Fatalf("drew %d distinct keys of %d", len(counts), d.Len())
	}
	exp := float64(draws) / float64(d.Len())
	chi := 0.0
	for _, c := range counts {
		chi += (float64(c) - exp) * (float64(c) - exp) / exp
	}
	// df = 132: a chi-square above 220 has probability < 1e-6.
	if chi > 220 {
		t.Fatalf("chi-square %.1f: not uniform", chi)
	}
}

func TestStats(t *testing.T) {
	d := New[struct{}](0)
	if got := d.Stats(); !strings.Contains(got, "No stats available for empty dictionaries") {
		t.Fatalf("empty stats: %q", got)
	}
	for i := 0; i < 3; i++ {
		d.Add(strconv.Itoa(i), struct{}{})
	}
	got := d.Stats()
	for _, want := range []string{"Hash table 0 stats (main hash table):\n", " table size: 4\n", " number of elements: 3\n", " max chain length: ", " Chain length distribution:\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("stats lack %q:\n%s", want, got)
		}
	}
}

func BenchmarkAddGet(b *testing.B) {
	keys := make([]string, 1<<16)
	for i := range keys {
		keys[i] = "member:" + strconv.Itoa(i)
	}
	d := New[struct{}](0)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := keys[i&(len(keys)-1)]
		if !d.Has(k) {
			d.Add(k, struct{}{})
		}
	}
}
