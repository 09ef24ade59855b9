package node

// globMatch reports whether str matches the glob pattern with Redis's
// stringmatchlen rules, used by KEYS, SCAN MATCH, CONFIG GET, PUBSUB
// patterns and the like:
//
//   - any run of bytes (also empty)
//     ?        any one byte
//     [abc]    one byte of the class; [^abc] negates; [a-z] is a range
//     (reversed ends are swapped); \x inside a class is a literal x;
//     an unterminated class ends at the end of the pattern
//     \x       the literal x
//
// Matching is byte-wise; nocase folds ASCII letters only. Edge cases (a
// trailing backslash, "[a-]", an unterminated class) behave as Redis 7.0's C
// code does when it reads the pattern's terminating NUL.
func globMatch[P, S ~string | ~[]byte](pattern P, str S, nocase bool) bool {
	skip := false
	return globMatchImpl(pattern, str, nocase, &skip)
}

// at returns p[i], or 0 past the end: the C original relies on the NUL
// that terminates its strings, and reading 0 here reproduces its choices.
func at[P ~string | ~[]byte](p P, i int) byte {
	if i < len(p) {
		return p[i]
	}
	return 0
}

func lower(b byte) byte {
	if 'A' <= b && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}

// globMatchImpl follows stringmatchlen_impl. skipLonger is set once a '*'
// failed to match the rest of the pattern anywhere in the rest of the
// string: then no earlier '*' can succeed by consuming more, which bounds
// the work on patterns such as "a*a*a*a*b" to polynomial time.
func globMatchImpl[P, S ~string | ~[]byte](pattern P, str S, nocase bool, skipLonger *bool) bool {
	p, s := 0, 0 // positions in pattern and str
	plen, slen := len(pattern), len(str)
	for plen > 0 && slen > 0 {
		switch pattern[p] {
		case '*':
			for plen > 1 && pattern[p+1] == '*' {
				p++
				plen--
			}
			if plen == 1 {
				return true
			}
			for slen > 0 {
				if globMatchImpl(pattern[p+1:p+plen], str[s:s+slen], nocase, skipLonger) {
					return true
				}
				if *skipLonger {
					return false
				}
				s++
				slen--
			}
			*skipLonger = true
			return false
		case '?':
			s++
			slen--
		case '[':
			p++
			plen--
			not := at(pattern, p) == '^' && plen > 0
			if not {
				p++
				plen--
			}
			match := false
			c := str[s]
			for {
				pc := at(pattern, p)
				if plen > 0 && pc == '\\' && plen >= 2 {
					p++
					plen--
					if pattern[p] == c {
						match = true
					}
				} else if plen > 0 && pc == ']' {
					break
				} else if plen == 0 {
					p--
					plen++
					break
				} else if plen >= 3 && pattern[p+1] == '-' {
					start, end, cc := pattern[p], pattern[p+2], c
					if start > end {
						start, end = end, start
					}
					if nocase {
						start, end, cc = lower(start), lower(end), lower(cc)
					}
					p += 2
					plen -= 2
					if cc >= start && cc <= end {
						match = true
					}
				} else if !nocase {
					if pc == c {
						match = true
					}
				} else if lower(pc) == lower(c) {
					match = true
				}
				p++
				plen--
			}
			if not {
				match = !match
			}
			if !match {
				return false
			}
			s++
			slen--
		case '\\':
			if plen >= 2 {
				p++
				plen--
			}
			fallthrough
		default:
			if nocase {
				if lower(pattern[p]) != lower(str[s]) {
					return false
				}
			} else if pattern[p] != str[s] {
				return false
			}
			s++
			slen--
		}
		p++
		plen--
		if slen == 0 {
			for plen > 0 && pattern[p] == '*' {
				p++
				plen--
			}
			break
		}
	}
	return plen == 0 && slen == 0
}
