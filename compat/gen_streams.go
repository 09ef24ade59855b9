package compat

import "strconv"

// Generators for streams without consumer groups (t_stream.c). IDs are
// explicit and small, so that both servers generate the same ones and
// ranges, deletions and trims meet existing entries ("*" would carry each
// server's clock into every later reply).
func init() {
	registerFamily(family{name: "streams", cmds: []genCmd{
		{key: "xadd", weight: 14, gen: genXadd},
		{key: "xrange", weight: 5, gen: func(g *gen) []string { return genXrange(g, "XRANGE") }},
		{key: "xrevrange", weight: 4, gen: func(g *gen) []string { return genXrange(g, "XREVRANGE") }},
		{key: "xlen", weight: 3, gen: func(g *gen) []string { return []string{"XLEN", g.key()} }},
		{key: "xdel", weight: 4, gen: func(g *gen) []string {
			args := []string{"XDEL", g.key()}
			for n := 1 + g.intn(3); n > 0; n-- {
				args = append(args, g.streamID(false))
			}
			return args
		}},
		{key: "xtrim", weight: 3, gen: func(g *gen) []string { return append([]string{"XTRIM", g.key()}, g.trimArgs(true)...) }},
		{key: "xread", weight: 4, gen: genXread},
		{key: "xsetid", weight: 2, gen: genXsetid},
		{key: "xinfo|stream", weight: 3, gen: func(g *gen) []string {
			args := []string{"XINFO", "STREAM", g.key()}
			if g.chance(30) {
				args = append(args, "FULL")
				if g.chance(50) {
					args = append(args, "COUNT", strconv.Itoa(g.intn(5)-1))
				}
			}
			return args
		}},
		{key: "type", weight: 1, gen: func(g *gen) []string { return []string{"TYPE", g.key()} }},
	}})
}

// streamID draws an ID around the small range the generated streams use:
// full, partial, "ms-*" (withStar), the specials, now and then invalid.
func (g *gen) streamID(withStar bool) string {
	ms := strconv.Itoa(g.intn(40))
	switch g.intn(20) {
	case 0:
		return g.pick("-", "+")
	case 1:
		return g.pick("0-0", "18446744073709551615-18446744073709551615", "x", "1-", "-1", "1-x", "")
	case 2, 3, 4:
		return ms
	case 5, 6:
		if withStar {
			return ms + "-*"
		}
	}
	return ms + "-" + strconv.Itoa(g.intn(4))
}

// streamFields draws field/value pairs, often the same field names (so
// that entries share their node's master fields), now and then integers
// and odd numbers of arguments.
func (g *gen) streamFields() []string {
	n := 1 + g.intn(3)
	var out []string
	for i := 0; i < n; i++ {
		f := []string{"a", "b", "c"}[i]
		if g.chance(25) {
			f = g.pick("a", "17", "-3", "", "long-field-name")
		}
		out = append(out, f, g.value())
	}
	if g.chance(3) {
		out = out[:len(out)-1]
	}
	return out
}

// trimArgs draws MAXLEN/MINID with = or ~ and LIMIT; xtrim makes the
// strategy mandatory.
func (g *gen) trimArgs(xtrim bool) []string {
	var args []string
	if !xtrim && g.chance(60) {
		return nil
	}
	if g.chance(50) {
		args = append(args, g.pick("MAXLEN", "maxlen"))
	} else {
		args = append(args, "MINID")
	}
	approx := false
	switch g.intn(3) {
	case 0:
		args = append(args, "~")
		approx = true
	case 1:
		args = append(args, "=")
	}
	if args[0] == "MINID" {
		args = append(args, g.streamID(false))
	} else {
		args = append(args, strconv.Itoa(g.intn(12)-1))
	}
	if g.chance(25) || (approx && g.chance(30)) {
		args = append(args, "LIMIT", strconv.Itoa(g.intn(8)-1))
	}
	return args
}

func genXadd(g *gen) []string {
	args := []string{"XADD", g.key()}
	if g.chance(10) {
		args = append(args, "NOMKSTREAM")
	}
	args = append(args, g.trimArgs(false)...)
	args = append(args, g.streamID(true))
	return append(args, g.streamFields()...)
}

func genXrange(g *gen, name string) []string {
	bound := func() string {
		id := g.streamID(false)
		if g.chance(20) && id != "" {
			return "(" + id
		}
		return id
	}
	args := []string{name, g.key(), bound(), bound()}
	if g.chance(40) {
		args = append(args, "COUNT", strconv.Itoa(g.intn(6)-1))
	}
	return args
}

func genXread(g *gen) []string {
	args := []string{"XREAD"}
	if g.chance(40) {
		args = append(args, "COUNT", strconv.Itoa(g.intn(5)-1))
	}
	keys := g.keys(1, 3)
	args = append(args, "STREAMS")
	args = append(args, keys...)
	for range keys {
		if g.chance(15) {
			args = append(args, "$")
		} else {
			args = append(args, g.streamID(false))
		}
	}
	if g.chance(3) {
		args = args[:len(args)-1]
	}
	return args
}

func genXsetid(g *gen) []string {
	args := []string{"XSETID", g.key(), g.streamID(false)}
	if g.chance(30) {
		args = append(args, "ENTRIESADDED", strconv.Itoa(g.intn(30)-1))
	}
	if g.chance(30) {
		args = append(args, "MAXDELETEDID", g.streamID(false))
	}
	return args
}
