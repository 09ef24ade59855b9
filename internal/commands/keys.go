package commands

// KeyPos is the position of one key in a command's arguments (args[0] is
// the command name).
type KeyPos struct {
	Index int
	// Spec is the index of the key spec that found the key, or -1 when
	// the command's own extraction function found it.
	Spec int
	// Flags say how the command accesses the key. Keys found by an
	// extraction function have the flags Redis gives them there, which is
	// none for most commands.
	Flags KeyFlag
}

// keysFunc is a command-specific key extraction (Redis's getkeys_proc). It
// appends to dst and must not assume the arity was checked.
type keysFunc func(dst []KeyPos, args [][]byte) []KeyPos

// keysFuncs names the commands whose key positions Redis 7.0 extracts with
// a function of its own, used when the key specs are incomplete, carry
// variable flags, or cannot be applied to the arguments.
var keysFuncs = map[string]keysFunc{
	"bitfield":          bitfieldKeys,
	"migrate":           migrateKeys,
	"sort":              sortKeys,
	"sort_ro":           sortROKeys,
	"georadius":         georadiusKeys,
	"georadiusbymember": georadiusKeys,
	"set":               setKeys,
	"xread":             xreadKeys,
	"xreadgroup":        xreadKeys,
	"eval":              numKeys(0, 2, 3),
	"evalsha":           numKeys(0, 2, 3),
	"eval_ro":           numKeys(0, 2, 3),
	"evalsha_ro":        numKeys(0, 2, 3),
	"fcall":             numKeys(0, 2, 3),
	"fcall_ro":          numKeys(0, 2, 3),
	"blmpop":            numKeys(0, 2, 3),
	"bzmpop":            numKeys(0, 2, 3),
	"lmpop":             numKeys(0, 1, 2),
	"zmpop":             numKeys(0, 1, 2),
	"sintercard":        numKeys(0, 1, 2),
	"zdiff":             numKeys(0, 1, 2),
	"zinter":            numKeys(0, 1, 2),
	"zintercard":        numKeys(0, 1, 2),
	"zunion":            numKeys(0, 1, 2),
	"zdiffstore":        numKeys(1, 2, 3),
	"zinterstore":       numKeys(1, 2, 3),
	"zunionstore":       numKeys(1, 2, 3),
}

// GetKeys returns the positions of the keys in args (args[0] is the
// command name; for a subcommand args[1] is its name), the same keys, in
// the same order, that COMMAND GETKEYS reports on Redis 7.0 (called on a
// container command, it resolves the subcommand first): the key specs
// are used when they are complete and have fixed flags, else the command's
// own extraction function.
//
// ok is false when the arguments are malformed for key extraction: the
// arity is wrong, the subcommand unknown, or a key count is not a number or announces more keys
// than there are arguments, or a key position falls past the end. keys
// then holds what Redis would still find (usually nothing). GetKeys never
// panics.
func (c *Command) GetKeys(args [][]byte) (keys []KeyPos, ok bool) {
	return c.AppendKeys(nil, args)
}

// AppendKeys is GetKeys appending to dst, so that a caller on a hot path
// can reuse one slice.
func (c *Command) AppendKeys(dst []KeyPos, args [][]byte) ([]KeyPos, bool) {
	argc := len(args)
	if len(c.Subcommands) > 0 && argc > 1 {
		sc := c.Sub(args[1])
		if sc == nil {
			return dst, false
		}
		return sc.AppendKeys(dst, args)
	}
	if argc == 0 || (c.Arity > 0 && argc != c.Arity) || argc < -c.Arity {
		return dst, false
	}
	ok := true
	if c.specKeys {
		out, res := c.keysFromSpecs(dst, args)
		if res == specsOK {
			return out, true
		}
		if res == specsMalformed {
			ok = false
		}
		dst = out[:len(dst)]
	}
	if c.keysFunc != nil {
		return c.keysFunc(dst, args), ok
	}
	return dst, ok
}

type specsResult uint8

const (
	specsOK        specsResult = iota
	specsFallback              // a spec is unknown or incomplete: ask the extraction function
	specsMalformed             // the arguments do not fit a spec
)

// keysFromSpecs applies the key specs in order, as Redis's
// getKeysUsingKeySpecs does.
func (c *Command) keysFromSpecs(dst []KeyPos, args [][]byte) ([]KeyPos, specsResult) {
	argc := len(args)
	for si := range c.KeySpecs {
		ks := &c.KeySpecs[si]
		if ks.Flags&KeyNotKey != 0 {
			continue
		}
		first := 0
		switch ks.BeginSearch.Type {
		case BeginIndex:
			first = ks.BeginSearch.Index
		case BeginKeyword:
			first = keywordStart(args, ks.BeginSearch.Keyword, ks.BeginSearch.StartFrom)
			if first == 0 {
				continue // keyword absent: the spec has no keys here
			}
		default:
			return dst, specsFallback
		}
		var last, step int
		switch ks.FindKeys.Type {
		case FindRange:
			fk := ks.FindKeys
			step = fk.KeyStep
			switch {
			case fk.LastKey >= 0:
				last = first + fk.LastKey
			case fk.Limit == 0:
				last = argc + fk.LastKey
			default:
				last = first + (argc-first)/fk.Limit + fk.LastKey
			}
		case FindKeyNum:
			fk := ks.FindKeys
			step = fk.KeyStep
			ni := first + fk.KeyNumIdx
			if fk.KeyNumIdx >= argc || ni >= argc || ni < 0 {
				return dst, specsMalformed
			}
			n, valid := parseInt64(args[ni])
			if !valid || n < 0 {
				return dst, specsMalformed
			}
			// Redis narrows the count to a C int, so 4294967297 keys
			// means one key.
			cnt := int(int32(n))
			first += fk.FirstKey
			last = first + cnt - 1
			if cnt == 0 {
				// Redis treats an empty key list as a failed spec and
				// asks the extraction function, which finds no keys.
				return dst, specsFallback
			}
		default:
			return dst, specsFallback
		}
		if last >= argc || last < first || first >= argc || first < 1 || step < 1 {
			return dst, specsMalformed
		}
		for i := first; i <= last; i += step {
			dst = append(dst, KeyPos{Index: i, Spec: si, Flags: ks.Flags})
		}
		if ks.Flags&KeyIncomplete != 0 {
			return dst, specsFallback
		}
	}
	return dst, specsOK
}

// keywordStart returns the index after the keyword, or 0. A positive
// startFrom searches forwards from there up to, not including, the last
// argument; a negative one searches backwards from argc+startFrom down to,
// not including, index 1. Both bounds are Redis's.
func keywordStart(args [][]byte, keyword string, startFrom int) int {
	argc := len(args)
	start, end := argc+startFrom, 1
	if startFrom > 0 {
		start, end = startFrom, argc-1
	}
	for i := start; i != end; {
		if i >= argc || i < 1 {
			break
		}
		if equalFold(args[i], keyword) {
			return i + 1
		}
		if start <= end {
			i++
		} else {
			i--
		}
	}
	return 0
}

// equalFold compares an argument with an ASCII word, ignoring case, as
// Redis's strcasecmp does on its NUL-terminated arguments: an argument
// with a NUL byte is compared up to that byte.
func equalFold(b []byte, s string) bool {
	if len(b) < len(s) || (len(b) > len(s) && b[len(s)] != 0) {
		return false
	}
	for i := 0; i < len(s); i++ {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// parseInt64 parses a decimal integer as strictly as Redis's string2ll:
// an optional '-', no '+', no spaces, no leading zeros, no overflow.
func parseInt64(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	if len(b) == 1 && b[0] == '0' {
		return 0, true
	}
	neg := false
	if b[0] == '-' {
		neg = true
		b = b[1:]
		if len(b) == 0 {
			return 0, false
		}
	}
	if b[0] < '1' || b[0] > '9' {
		return 0, false
	}
	var v uint64
	for _, ch := range b {
		if ch < '0' || ch > '9' {
			return 0, false
		}
		d := uint64(ch - '0')
		if v > (1<<64-1-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	if neg {
		if v > 1<<63 {
			return 0, false
		}
		return -int64(v), true
	}
	if v > 1<<63-1 {
		return 0, false
	}
	return int64(v), true
}

// atoi mirrors C's atoi as glibc implements it: leading white space, an
// optional sign, digits up to the first non-digit, the value clamped to
// the range of a long and then truncated to a 32-bit int. Redis reads the
// key count of ZUNION, EVAL, LMPOP and the like this way in their
// extraction functions, so "2abc" counts as 2.
func atoi(b []byte) int {
	i := 0
	for i < len(b) && (b[i] == ' ' || (b[i] >= '\t' && b[i] <= '\r')) {
		i++
	}
	neg := false
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		neg = b[i] == '-'
		i++
	}
	var v uint64
	overflow := false
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		if v > (1<<63)/10 {
			overflow = true
			continue
		}
		v = v*10 + uint64(b[i]-'0')
		if v > 1<<63 {
			overflow = true
		}
	}
	var l int64
	switch {
	case overflow && neg:
		l = -1 << 63
	case overflow:
		l = 1<<63 - 1
	case neg:
		l = -int64(v)
	case v > 1<<63-1:
		l = 1<<63 - 1
	default:
		l = int64(v)
	}
	return int(int32(l))
}

// numKeys is Redis's genericGetKeys: an optional destination key at
// storeIdx (0: none), a key count at countIdx and that many keys from
// firstIdx. A count that is not positive or exceeds the arguments yields
// no keys at all, leaving the error to the command.
func numKeys(storeIdx, countIdx, firstIdx int) keysFunc {
	return func(dst []KeyPos, args [][]byte) []KeyPos {
		argc := len(args)
		if countIdx >= argc {
			return dst
		}
		n := atoi(args[countIdx])
		if n < 1 || n > (argc-firstIdx) {
			return dst
		}
		for i := 0; i < n; i++ {
			dst = append(dst, KeyPos{Index: firstIdx + i, Spec: -1})
		}
		if storeIdx > 0 {
			dst = append(dst, KeyPos{Index: storeIdx, Spec: -1})
		}
		return dst
	}
}

// sortROKeys: SORT_RO's sorted key is always its first argument.
func sortROKeys(dst []KeyPos, args [][]byte) []KeyPos {
	if len(args) < 2 {
		return dst
	}
	return append(dst, KeyPos{Index: 1, Spec: -1, Flags: KeyRO | KeyAccess})
}

// sortKeys finds SORT's key and the last STORE destination, skipping the
// arguments of LIMIT (2), GET (1) and BY (1) as Redis's sortGetKeys does.
func sortKeys(dst []KeyPos, args [][]byte) []KeyPos {
	argc := len(args)
	if argc < 2 {
		return dst
	}
	dst = append(dst, KeyPos{Index: 1, Spec: -1, Flags: KeyRO | KeyAccess})
	store := 0
	for i := 2; i < argc; i++ {
		a := args[i]
		switch {
		case equalFold(a, "limit"):
			i += 2
		case equalFold(a, "store") && i+1 < argc:
			// Keep going: the last STORE wins, as in SORT itself.
			store = i + 1
		case equalFold(a, "get"), equalFold(a, "by"):
			i++
		}
	}
	if store > 0 {
		dst = append(dst, KeyPos{Index: store, Spec: -1, Flags: KeyOW | KeyUpdate})
	}
	return dst
}

// migrateKeys finds MIGRATE's key: argument 3, or with the KEYS option
// (which requires an empty argument 3) every argument after KEYS.
func migrateKeys(dst []KeyPos, args [][]byte) []KeyPos {
	argc := len(args)
	first, num := 3, 1
	if argc > 6 {
		for i := 6; i < argc; i++ {
			a := args[i]
			if equalFold(a, "keys") {
				if len(args[3]) > 0 {
					num = 0 // a syntax error the command reports
				} else {
					first = i + 1
					num = argc - first
				}
				break
			}
			switch {
			case equalFold(a, "auth"):
				i++
			case equalFold(a, "auth2"):
				i += 2
			}
		}
	}
	if first+num > argc {
		return dst
	}
	for i := 0; i < num; i++ {
		dst = append(dst, KeyPos{Index: first + i, Spec: -1, Flags: KeyRW | KeyAccess | KeyDelete})
	}
	return dst
}

// georadiusKeys finds GEORADIUS[BYMEMBER]'s key and the last STORE or
// STOREDIST destination after argument 5.
func georadiusKeys(dst []KeyPos, args [][]byte) []KeyPos {
	argc := len(args)
	if argc < 2 {
		return dst
	}
	stored := -1
	for i := 5; i < argc; i++ {
		if (equalFold(args[i], "store") || equalFold(args[i], "storedist")) && i+1 < argc {
			stored = i + 1
			i++
		}
	}
	dst = append(dst, KeyPos{Index: 1, Spec: -1})
	if stored > 0 {
		dst = append(dst, KeyPos{Index: stored, Spec: -1})
	}
	return dst
}

// xreadKeys finds the keys after XREAD[GROUP]'s STREAMS, parsing the
// options before it so that a group or key named "streams" is not taken
// for the keyword. An odd number of arguments after STREAMS yields none.
func xreadKeys(dst []KeyPos, args [][]byte) []KeyPos {
	argc := len(args)
	pos := -1
loop:
	for i := 1; i < argc; i++ {
		a := args[i]
		switch {
		case equalFold(a, "block"), equalFold(a, "count"):
			i++
		case equalFold(a, "group"):
			i += 2
		case equalFold(a, "noack"):
		case equalFold(a, "streams"):
			pos = i
			break loop
		default:
			break loop
		}
	}
	if pos < 0 {
		return dst
	}
	num := argc - pos - 1
	if num == 0 || num%2 != 0 {
		return dst
	}
	num /= 2
	for i := pos + 1; i < argc-num; i++ {
		dst = append(dst, KeyPos{Index: i, Spec: -1})
	}
	return dst
}

// setKeys: SET reads its key too when GET is given.
func setKeys(dst []KeyPos, args [][]byte) []KeyPos {
	if len(args) < 2 {
		return dst
	}
	flags := KeyOW | KeyUpdate
	for i := 3; i < len(args); i++ {
		if equalFold(args[i], "get") {
			flags = KeyRW | KeyAccess | KeyUpdate
			break
		}
	}
	return append(dst, KeyPos{Index: 1, Spec: -1, Flags: flags})
}

// bitfieldKeys: BITFIELD is read-only when it has only GET and OVERFLOW
// operations, well formed.
func bitfieldKeys(dst []KeyPos, args [][]byte) []KeyPos {
	argc := len(args)
	if argc < 2 {
		return dst
	}
	readonly := true
	for i := 2; i < argc; i++ {
		rem := argc - i - 1
		a := args[i]
		if equalFold(a, "get") && rem >= 2 {
			i += 2
		} else if (equalFold(a, "set") || equalFold(a, "incrby")) && rem >= 3 {
			readonly = false
			break
		} else if equalFold(a, "overflow") && rem >= 1 {
			i++
		} else {
			readonly = false // a syntax error: assume a write, as Redis does
			break
		}
	}
	flags := KeyRW | KeyAccess | KeyUpdate
	if readonly {
		flags = KeyRO | KeyAccess
	}
	return append(dst, KeyPos{Index: 1, Spec: -1, Flags: flags})
}
