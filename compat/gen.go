package compat

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The random-sequence generator: each command family registers weighted
// generators (gen_<family>.go); a run draws commands from the families it
// is given, keeps only those the node serves, and replays the same
// sequence against both servers. A sequence depends only on the seed and
// the set of served commands, so a divergence reproduces from its seed on
// the same build, and the saved script reproduces it anywhere.

// genCmd produces one command of a family.
type genCmd struct {
	key    string // the catalog's name for it: "set", "object|encoding"
	weight int
	gen    func(g *gen) []string
	opts   Options // how its reply compares, when not the command's default
}

type family struct {
	name string
	cmds []genCmd
}

// families is filled by init functions in gen_*.go only.
var families []family

func registerFamily(f family) { families = append(families, f) }

func familyNames() []string {
	var out []string
	for _, f := range families {
		out = append(out, f.name)
	}
	sort.Strings(out)
	return out
}

// gen draws arguments. Keys come from a small pool so that commands meet
// each other's data (and each other's types: WRONGTYPE paths run too).
type gen struct {
	r *rand.Rand
	// commands names every command the node serves ("get",
	// "config|get"), sorted, for the introspection generators.
	commands []string
	// others are the served generators of every family, for commands
	// that take another command line (COMMAND GETKEYS).
	others []genCmd
}

func newGen(seed uint64, commands []string, others []genCmd) *gen {
	return &gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), commands: commands, others: others}
}

func (g *gen) intn(n int) int { return g.r.IntN(n) }

func (g *gen) chance(pct int) bool { return g.r.IntN(100) < pct }

func (g *gen) pick(xs ...string) string { return xs[g.r.IntN(len(xs))] }

// key returns one of eight keys; now and then one with odd bytes.
func (g *gen) key() string {
	if g.chance(3) {
		return g.pick("", "k sp", "k\x00nul", "{tag}k", "ключ")
	}
	return "k" + strconv.Itoa(g.r.IntN(8))
}

func (g *gen) keys(min, max int) []string {
	n := min + g.r.IntN(max-min+1)
	out := make([]string, n)
	for i := range out {
		out[i] = g.key()
	}
	return out
}

// value returns a string value drawn to reach every encoding and parse
// path: small and huge integers, floats, non-canonical numbers, empty,
// embstr and raw lengths, binary.
func (g *gen) value() string {
	switch g.r.IntN(14) {
	case 0, 1:
		return strconv.Itoa(g.r.IntN(201) - 100)
	case 2:
		return g.pick("9223372036854775807", "-9223372036854775808", "9223372036854775808", "-9223372036854775809", "18446744073709551615")
	case 3:
		return g.pick("1.5", "-0.25", "3.0e3", "1e308", "-1e-5", "0.1", "inf", "-inf", "nan", "1e400", "5.0000000000000001")
	case 4:
		return g.pick(" 1", "1 ", "+1", "01", "-0", "0x10", "1e3", "", "-", "12a")
	case 5:
		return ""
	case 6:
		return strings.Repeat(g.pick("a", "b", "xy"), 20+g.r.IntN(10)) // around the 44-byte embstr limit
	case 7:
		return strings.Repeat("z", 45+g.r.IntN(60))
	case 8:
		b := make([]byte, 1+g.r.IntN(12))
		for i := range b {
			b[i] = byte(g.r.IntN(256))
		}
		return string(b)
	case 9:
		return strconv.FormatInt(g.r.Int64(), 10)
	default:
		return g.word()
	}
}

func (g *gen) word() string {
	const letters = "abcdefghij"
	b := make([]byte, 1+g.r.IntN(8))
	for i := range b {
		b[i] = letters[g.r.IntN(len(letters))]
	}
	return string(b)
}

// integer returns an argument for INCRBY-style commands, valid or not.
func (g *gen) integer() string {
	switch g.r.IntN(8) {
	case 0:
		return g.pick("9223372036854775807", "-9223372036854775808", "9223372036854775808", "abc", "1.5", "", " 1")
	case 1:
		return strconv.FormatInt(g.r.Int64()-g.r.Int64(), 10)
	default:
		return strconv.Itoa(g.r.IntN(2001) - 1000)
	}
}

// float returns an argument for INCRBYFLOAT-style commands.
func (g *gen) float() string {
	switch g.r.IntN(6) {
	case 0:
		return g.pick("inf", "-inf", "nan", "1e308", "abc", "", "1e", "0x1p3", "1.7976931348623157e308")
	case 1:
		return strconv.Itoa(g.r.IntN(200) - 100)
	default:
		return strconv.FormatFloat((g.r.Float64()-0.5)*1000, 'f', g.r.IntN(6), 64)
	}
}

// index returns a string offset: small, negative, or at the edges.
func (g *gen) index() string {
	switch g.r.IntN(8) {
	case 0:
		return g.pick("-9223372036854775808", "9223372036854775807", "x", "536870911")
	case 1, 2:
		return strconv.Itoa(-g.r.IntN(60))
	default:
		return strconv.Itoa(g.r.IntN(60))
	}
}

// ttlSeconds returns an expiry that cannot elapse during a run (or is
// invalid, or already past): the two servers are never a few milliseconds
// apart on whether a key has expired.
func (g *gen) ttlSeconds() string {
	switch g.r.IntN(10) {
	case 0:
		return g.pick("0", "-1", "-100", "abc", "", "9223372036854775807", "1.5", "9223372036854775")
	default:
		return strconv.Itoa(1000 + g.r.IntN(100000))
	}
}

func (g *gen) ttlMillis() string {
	switch g.r.IntN(10) {
	case 0:
		return g.pick("0", "-1", "abc", "9223372036854775807", "-9223372036854775808")
	default:
		return strconv.Itoa(1000000 + g.r.IntN(100000000))
	}
}

// unixSeconds returns an absolute time far in the future or in the past
// (as a {now} token, expanded when sent).
func (g *gen) unixSeconds() string {
	switch g.r.IntN(8) {
	case 0:
		return g.pick("{now-1000}", "1", "0", "-1", "abc")
	default:
		return fmt.Sprintf("{now+%d}", 1000+g.r.IntN(100000))
	}
}

// setUnixSeconds and setUnixMillis are for SET's EXAT/PXAT: Redis 7.0's
// SET stores a key whose absolute expiry is already past (only GETEX and
// the EXPIRE family delete it at once), and such a key stays in DBSIZE and
// DEBUG DIGEST until the active expiry cycle happens to reclaim it, on
// either server. So SET gets future or invalid times only.
func (g *gen) setUnixSeconds() string {
	if g.chance(10) {
		return g.pick("0", "-1", "abc")
	}
	return fmt.Sprintf("{now+%d}", 1000+g.r.IntN(100000))
}

func (g *gen) setUnixMillis() string {
	if g.chance(10) {
		return g.pick("0", "-1", "abc")
	}
	return fmt.Sprintf("{nowms+%d}", 1000000+g.r.IntN(100000000))
}

func (g *gen) unixMillis() string {
	switch g.r.IntN(8) {
	case 0:
		return g.pick("{nowms-100000}", "1", "0", "-1", "abc")
	default:
		return fmt.Sprintf("{nowms+%d}", 1000000+g.r.IntN(100000000))
	}
}

// sequence draws n steps from the given generators.
func (g *gen) sequence(cmds []genCmd, n int) []Step {
	total := 0
	for _, c := range cmds {
		total += c.weight
	}
	steps := make([]Step, 0, n)
	for len(steps) < n {
		// Now and then move to another connection: per-connection state
		// (the selected database, the client name, RESP3 on "main" only)
		// must stay with its connection.
		if g.chance(3) {
			steps = append(steps, Step{Kind: stepConn, Conn: g.pick("main", "second", "third")})
			continue
		}
		x := g.r.IntN(total)
		for _, c := range cmds {
			if x < c.weight {
				// A generated command always reads one reply: the zero
				// Options of a genCmd must not mean "no reply".
				o := c.opts
				o.Replies = -1
				steps = append(steps, Step{Kind: stepCommand, Args: c.gen(g), Opts: o})
				break
			}
			x -= c.weight
		}
	}
	return steps
}

// shrink removes steps from a failing sequence while replay keeps failing
// at its last step, within budget, and returns the shortest found.
// replay runs a candidate on fresh servers and returns its divergence.
func shrink(steps []Step, budget time.Duration, replay func([]Step) *divergence) []Step {
	deadline := time.Now().Add(budget)
	cur := steps
	fails := func(c []Step) bool {
		d := replay(c)
		return d != nil && d.Index == len(c)-1
	}
	for chunk := len(cur) / 2; chunk >= 1 && time.Now().Before(deadline); {
		removed := false
		for start := len(cur) - 1 - chunk; start >= 0 && time.Now().Before(deadline); start -= chunk {
			cand := append(append([]Step(nil), cur[:start]...), cur[start+chunk:]...)
			if fails(cand) {
				cur = cand
				removed = true
			}
		}
		if !removed {
			chunk /= 2
		} else if chunk > len(cur)/2 {
			chunk = len(cur) / 2
		}
	}
	return cur
}
