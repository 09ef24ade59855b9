package commands

import "strings"

//go:generate go run ./gen -o table_gen.go

// Short constructors the generated table (table_gen.go) is written with.
// They run once, when Default is built.

func acl(s string) []string { return strings.Fields(s) }

func spec(notes string, flags KeyFlag, bs BeginSearch, fk FindKeys) KeySpec {
	return KeySpec{Notes: notes, Flags: flags, BeginSearch: bs, FindKeys: fk}
}

func index(i int) BeginSearch { return BeginSearch{Type: BeginIndex, Index: i} }

func keyword(kw string, startFrom int) BeginSearch {
	return BeginSearch{Type: BeginKeyword, Keyword: kw, StartFrom: startFrom}
}

func keyRange(lastKey, step, limit int) FindKeys {
	return FindKeys{Type: FindRange, LastKey: lastKey, KeyStep: step, Limit: limit}
}

func keyNum(numIdx, firstKey, step int) FindKeys {
	return FindKeys{Type: FindKeyNum, KeyNumIdx: numIdx, FirstKey: firstKey, KeyStep: step}
}

type argFlag uint8

const (
	optional argFlag = 1 << iota
	multiple
	multipleToken
)

// arg is one COMMAND DOCS argument; keySpec is -1 unless typ is "key".
func arg(name, typ, token string, keySpec int, f argFlag, sub ...Arg) Arg {
	return Arg{
		Name: name, Type: typ, Token: token, HasToken: token != "", KeySpec: keySpec,
		Optional: f&optional != 0, Multiple: f&multiple != 0, MultipleToken: f&multipleToken != 0,
		Args: sub,
	}
}

// emptyToken marks an argument whose token is the empty string.
func emptyToken(a Arg) Arg {
	a.HasToken = true
	return a
}

// argDoc adds the rarely present documentation fields to an argument.
func argDoc(since, deprecatedSince, summary string, a Arg) Arg {
	a.Since, a.DeprecatedSince, a.Summary = since, deprecatedSince, summary
	return a
}
