package commands

import "strings"

// Helpers that keep the table rows short. They run once at start-up.

func row(name string, arity int, flags, acl, group, since, summary string, specs ...KeySpec) *Command {
	return &Command{
		Name:     name,
		Arity:    arity,
		Flags:    ParseFlags(flags),
		ACL:      strings.Fields(acl),
		Group:    group,
		Since:    since,
		Summary:  summary,
		KeySpecs: specs,
	}
}

// rng is a key spec with a fixed start index and a range of keys.
func rng(flags string, index, lastKey, step int) KeySpec {
	return KeySpec{
		Flags:       strings.Fields(flags),
		BeginSearch: BeginSearch{Index: index},
		FindKeys:    FindKeys{Range: true, LastKey: lastKey, KeyStep: step},
	}
}

// keynum is a key spec whose key count is read from an argument.
func keynum(flags string, index, numIdx, firstKey, step int) KeySpec {
	return KeySpec{
		Flags:       strings.Fields(flags),
		BeginSearch: BeginSearch{Index: index},
		FindKeys:    FindKeys{KeyNumIdx: numIdx, FirstKey: firstKey, KeyStep: step},
	}
}

// kw is a key spec that begins after a keyword.
func kw(flags, keyword string, startFrom, lastKey, step, limit int) KeySpec {
	return KeySpec{
		Flags:       strings.Fields(flags),
		BeginSearch: BeginSearch{Keyword: keyword, StartFrom: startFrom},
		FindKeys:    FindKeys{Range: true, LastKey: lastKey, KeyStep: step, Limit: limit},
	}
}

// container builds a container command (CONFIG, CLIENT, ...) whose
// subcommands are named "container|sub".
func container(name string, arity int, group, since, summary string, subs ...*Command) *Command {
	c := &Command{Name: name, Arity: arity, Group: group, Since: since, Summary: summary, Subcommands: subs}
	for _, s := range subs {
		if !strings.HasPrefix(s.Name, name+"|") {
			s.Name = name + "|" + s.Name
		}
		if s.Group == "" {
			s.Group = group
		}
	}
	return c
}
