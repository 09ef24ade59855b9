package compat

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// knownDivergences is known-divergences.txt: differences from redis-server
// that have been found and reported but not fixed yet. A listed case still
// runs; its divergence skips it (with the full report) instead of failing,
// and a listed case that passes says so. A random pattern removes the
// matching generated commands from the random runs.
type knownDivergences struct {
	cases  map[string]string // "file/case name" -> reason
	random []knownPattern
}

type knownPattern struct {
	re     *regexp.Regexp
	reason string
}

var known struct {
	once sync.Once
	k    *knownDivergences
	err  error
}

func loadKnown(t testing.TB) *knownDivergences {
	t.Helper()
	known.once.Do(func() { known.k, known.err = parseKnown("known-divergences.txt") })
	if known.err != nil {
		t.Fatal(known.err)
	}
	return known.k
}

func parseKnown(path string) (*knownDivergences, error) {
	k := &knownDivergences{cases: map[string]string{}}
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return k, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read known divergences: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		kind, rest, _ := strings.Cut(line, " ")
		what, reason, ok := strings.Cut(rest, " -- ")
		what = strings.TrimSpace(what)
		if !ok || what == "" || strings.TrimSpace(reason) == "" {
			return nil, fmt.Errorf("%s:%d: want `case FILE/CASE -- reason` or `random REGEXP -- reason`", path, n)
		}
		switch kind {
		case "case":
			k.cases[what] = strings.TrimSpace(reason)
		case "random":
			re, err := regexp.Compile(what)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %w", path, n, err)
			}
			k.random = append(k.random, knownPattern{re: re, reason: strings.TrimSpace(reason)})
		default:
			return nil, fmt.Errorf("%s:%d: unknown kind %q", path, n, kind)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read known divergences: %w", err)
	}
	return k, nil
}

// filter drops the generated steps that a random pattern names.
func (k *knownDivergences) filter(t testing.TB, steps []Step) []Step {
	if len(k.random) == 0 {
		return steps
	}
	dropped := make([]int, len(k.random))
	out := steps[:0:0]
	for _, st := range steps {
		line := FormatStep(st)
		keep := true
		for i, p := range k.random {
			if p.re.MatchString(line) {
				dropped[i]++
				keep = false
				break
			}
		}
		if keep {
			out = append(out, st)
		}
	}
	for i, p := range k.random {
		if dropped[i] > 0 {
			t.Logf("left out %d commands matching known divergence %q (%s)", dropped[i], p.re, p.reason)
		}
	}
	return out
}
