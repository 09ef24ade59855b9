package compat

import (
	"flag"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var (
	flagSeed    = flag.Uint64("seed", 1, "seed of the random command sequences (0: a new one from the clock)")
	flagOps     = flag.Int("ops", 2000, "commands per random run (each family, and twice that for the mixed run)")
	flagShrink  = flag.Duration("shrink", 30*time.Second, "time spent shortening a failing random sequence")
	flagScripts = flag.String("scripts", "testdata/*.txt", "script files TestScripts runs (a glob; e.g. a saved reproduction)")
)

// strict makes a case that uses a command the node lacks fail instead of
// skip: COMPAT_STRICT=1 go test ./compat/
func strict() bool { return os.Getenv("COMPAT_STRICT") == "1" }

// TestScripts runs every case of testdata/*.txt against both servers.
// A case that uses a command the node does not serve yet is skipped with
// the list of what is missing; every other case must match redis-server.
func TestScripts(t *testing.T) {
	files, err := filepath.Glob(*flagScripts)
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts match %s (%v)", *flagScripts, err)
	}
	e := sharedEnv(t)
	for _, file := range files {
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		cases, err := ParseScript(filepath.Base(file), f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			for _, c := range cases {
				t.Run(c.Name, func(t *testing.T) { e.runCase(t, c) })
			}
		})
	}
}

func (e *env) runCase(t *testing.T, c Case) {
	if missing := e.prober.unserved(c.Steps); len(missing) > 0 {
		msg := fmt.Sprintf("not implemented in the node yet: %s", strings.Join(missing, ", "))
		if strict() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	steps := e.withDigest(c.Steps)
	d, err := e.replay(steps)
	if err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSuffix(c.File, ".txt") + "/" + c.Name
	reason, isKnown := loadKnown(t).cases[id]
	if d == nil {
		if isKnown {
			t.Logf("case %q passes now: remove it from known-divergences.txt", id)
		}
		return
	}
	var ctx strings.Builder
	for _, st := range steps[:d.Index] {
		fmt.Fprintf(&ctx, "    %4d  %s\n", st.Line, FormatStep(st))
	}
	where := fmt.Sprintf("%s:%d (case %q)", c.File, d.Step.Line, c.Name)
	if d.Index == len(c.Steps) {
		where = fmt.Sprintf("the end of case %q (%s): the datasets differ", c.Name, c.File)
	}
	msg := fmt.Sprintf("%s  after these steps of the case:\n%s", d.report(where), ctx.String())
	if isKnown {
		t.Skipf("known divergence (%s):\n%s", reason, msg)
	}
	t.Error(msg)
}

// TestRandom runs a seeded random command sequence per family, and one
// mixing every family, against both servers. Only commands the node serves
// are drawn. On the first divergence it shortens the sequence and saves it
// as a script that reproduces it.
func TestRandom(t *testing.T) {
	e := sharedEnv(t)
	seed := *flagSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	var runs []string
	for _, name := range append(familyNames(), "all") {
		runs = append(runs, name, name+"-resp3")
	}
	for _, run := range runs {
		name, resp3 := strings.CutSuffix(run, "-resp3")
		t.Run(run, func(t *testing.T) {
			var cmds []genCmd
			var lacking []string
			for _, f := range families {
				if name != "all" && f.name != name {
					continue
				}
				for _, c := range f.cmds {
					if e.prober.served(c.key) {
						cmds = append(cmds, c)
					} else {
						lacking = append(lacking, c.key)
					}
				}
			}
			if len(lacking) > 0 {
				t.Logf("not generated, the node lacks: %s", strings.Join(lacking, ", "))
			}
			if len(cmds) == 0 {
				t.Skipf("the node serves none of the %s family's commands yet", name)
			}
			ops := *flagOps
			if name == "all" {
				ops *= 2
			}
			h := fnv.New64a()
			h.Write([]byte(name))
			g := newGen(seed^h.Sum64(), e.servedNames(), e.servedGens())
			steps := loadKnown(t).filter(t, g.sequence(cmds, ops))
			if resp3 {
				// The same commands, every reply in its RESP3 shape.
				hello := Step{Kind: stepCommand, Args: []string{"HELLO", "3"}, Opts: Options{Replies: -1}}
				steps = append([]Step{hello}, steps...)
			}
			steps = e.withDigest(steps)
			d, err := e.replay(steps)
			if err != nil {
				t.Fatal(err)
			}
			if d == nil {
				return
			}
			first := d.report(fmt.Sprintf("step %d of %d", d.Index+1, len(steps)))
			short := shrink(steps[:d.Index+1], *flagShrink, func(s []Step) *divergence {
				d, err := e.replay(s)
				if err != nil {
					t.Fatal(err)
				}
				return d
			})
			var lastReport string
			if sd, err := e.replay(short); err == nil && sd != nil {
				lastReport = sd.report(fmt.Sprintf("step %d of the shortened sequence", sd.Index+1))
			}
			cmdline := fmt.Sprintf("go test ./compat/ -run 'TestRandom/%s$' -seed %d -ops %d", run, seed, *flagOps)
			fullPath, err := writeRepro("random-"+run+"-full", cmdline+"\nthe whole sequence up to the first divergence", steps[:d.Index+1])
			if err != nil {
				t.Log(err)
			}
			path, err := writeRepro("random-"+run, fmt.Sprintf("%s\nshortened from %d steps", cmdline, d.Index+1), short)
			if err != nil {
				t.Log(err)
			}
			var seq strings.Builder
			for _, st := range short {
				fmt.Fprintf(&seq, "    %s\n", FormatStep(st))
			}
			t.Fatalf("%s\nreproduce with: %s\n(the whole sequence up to the divergence is saved as %s)\n"+
				"shortened to %d steps (saved as %s; paste it into testdata/ as a case):\n%s\n%s",
				first, cmdline, fullPath, len(short), path, seq.String(), lastReport)
		})
	}
}

// servedNames lists the catalog's commands that the node serves; a
// container only once it serves every subcommand (COMMAND INFO lists them).
func (e *env) servedNames() []string {
	var out []string
	for _, name := range e.cat.names() {
		if !e.prober.served(name) {
			continue
		}
		if e.cat.containers[name] {
			whole := true
			for _, sub := range e.cat.names() {
				if strings.HasPrefix(sub, name+"|") && !e.prober.served(sub) {
					whole = false
					break
				}
			}
			if !whole {
				continue
			}
		}
		out = append(out, name)
	}
	return out
}

// servedGens lists every family's generators whose command the node serves.
func (e *env) servedGens() []genCmd {
	var out []genCmd
	for _, f := range families {
		for _, c := range f.cmds {
			if e.prober.served(c.key) {
				out = append(out, c)
			}
		}
	}
	return out
}

// withDigest appends a DEBUG DIGEST on a connection of its own to steps,
// when the node serves DEBUG: a state difference that no reply showed
// (a write that went to another key, a TTL set on the wrong database)
// still fails the run. The digest counts that a key has an expiry, not
// when, so TTLs set a few microseconds apart do not differ.
func (e *env) withDigest(steps []Step) []Step {
	if !e.prober.served("debug") {
		return steps
	}
	return append(steps[:len(steps):len(steps)],
		Step{Kind: stepConn, Conn: "digest"},
		Step{Kind: stepCommand, Args: []string{"DEBUG", "DIGEST"}, Opts: Options{Replies: -1}})
}
