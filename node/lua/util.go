package lua

import (
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	glua "github.com/yuin/gopher-lua"
)

// SHA1Hex is the lower-case hex SHA1 Redis names scripts by.
func SHA1Hex(b []byte) string {
	sum := sha1.Sum(b)
	return hex.EncodeToString(sum[:])
}

func floor(f float64) float64 { return math.Floor(f) }

var errNotNumber = errors.New("not a number")

// parseLuaNumber converts a string as Lua 5.1's lua_str2number: strtod
// or a hexadecimal integer, surrounded by optional whitespace.
func parseLuaNumber(s string) (float64, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, errNotNumber
	}
	if len(t) > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X') {
		n, err := strconv.ParseUint(t[2:], 16, 64)
		if err != nil {
			return 0, errNotNumber
		}
		return float64(n), nil
	}
	switch strings.ToLower(strings.TrimLeft(t, "+-")) {
	case "inf", "infinity", "nan":
		// strtod accepts them; Lua's tonumber does too.
		f, err := strconv.ParseFloat(t, 64)
		if err != nil {
			return 0, errNotNumber
		}
		return f, nil
	}
	for _, c := range t {
		if !(c >= '0' && c <= '9' || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') {
			return 0, errNotNumber
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil {
		var nerr *strconv.NumError
		if errors.As(err, &nerr) && nerr.Err == strconv.ErrRange {
			return f, nil
		}
		return 0, errNotNumber
	}
	return f, nil
}

// Rand48 is Redis's redisLrand48: the rand48 linear congruential
// generator, so that math.random gives the same sequence as Redis for a
// seed.
type Rand48 struct{ x uint64 }

const rand48Max = 1<<31 - 1

// NewRand48 returns the generator in its initial state.
func NewRand48() *Rand48 { return &Rand48{x: 0x1234ABCD330E} }

// Next returns the next 31-bit value.
func (r *Rand48) Next() int64 {
	r.x = (0x5DEECE66D*r.x + 0xB) & (1<<48 - 1)
	return int64(r.x >> 17)
}

// Seed is redisSrand48.
func (r *Rand48) Seed(seed int32) {
	r.x = uint64(uint32(seed))<<16 | 0x330E
}

// formatG formats f as C's printf("%.<prec>g").
func formatG(f float64, prec int) string {
	switch {
	case math.IsNaN(f):
		if math.Signbit(f) {
			return "-nan"
		}
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	return strconv.FormatFloat(f, 'g', prec, 64)
}

// strtod parses the longest prefix of s that C's strtod accepts (after
// no leading whitespace): decimal and hexadecimal numbers, inf,
// infinity and nan. n is the number of bytes used, 0 when none.
func strtod(s string) (v float64, n int) {
	i := 0
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	sign := func(f float64) float64 {
		if neg {
			return -f
		}
		return f
	}
	rest := strings.ToLower(s[i:min(len(s), i+8)])
	switch {
	case strings.HasPrefix(rest, "infinity"):
		return sign(math.Inf(1)), i + 8
	case strings.HasPrefix(rest, "inf"):
		return sign(math.Inf(1)), i + 3
	case strings.HasPrefix(rest, "nan"):
		j := i + 3
		if j < len(s) && s[j] == '(' {
			if k := strings.IndexByte(s[j:], ')'); k >= 0 {
				j += k + 1
			}
		}
		return sign(math.NaN()), j
	}
	if i+1 < len(s) && s[i] == '0' && (s[i+1] == 'x' || s[i+1] == 'X') {
		j := i + 2
		start := j
		for j < len(s) && isHex(s[j]) {
			j++
		}
		if j < len(s) && s[j] == '.' {
			j++
			for j < len(s) && isHex(s[j]) {
				j++
			}
		}
		if j == start || (j == start+1 && s[start] == '.') {
			// "0x" alone: strtod reads the "0".
			return 0, i + 1
		}
		if j < len(s) && (s[j] == 'p' || s[j] == 'P') {
			k := j + 1
			if k < len(s) && (s[k] == '+' || s[k] == '-') {
				k++
			}
			if k < len(s) && s[k] >= '0' && s[k] <= '9' {
				for k < len(s) && s[k] >= '0' && s[k] <= '9' {
					k++
				}
				j = k
			}
		}
		lit := s[i:j]
		if !strings.ContainsAny(lit, "pP") {
			lit += "p0"
		}
		f, err := strconv.ParseFloat(lit, 64)
		if err != nil && !isRangeErr(err) {
			return 0, 0
		}
		return sign(f), j
	}
	j := i
	digits := 0
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
		digits++
	}
	if j < len(s) && s[j] == '.' {
		j++
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
			digits++
		}
	}
	if digits == 0 {
		return 0, 0
	}
	if j < len(s) && (s[j] == 'e' || s[j] == 'E') {
		k := j + 1
		if k < len(s) && (s[k] == '+' || s[k] == '-') {
			k++
		}
		if k < len(s) && s[k] >= '0' && s[k] <= '9' {
			for k < len(s) && s[k] >= '0' && s[k] <= '9' {
				k++
			}
			j = k
		}
	}
	f, err := strconv.ParseFloat(s[i:j], 64)
	if err != nil && !isRangeErr(err) {
		return 0, 0
	}
	return sign(f), j
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func isRangeErr(err error) bool {
	var nerr *strconv.NumError
	return errors.As(err, &nerr) && nerr.Err == strconv.ErrRange
}

// raisef raises a string error as luaL_error does: prefixed with the
// position of the calling function when that is Lua code (a builtin
// called straight from pcall has no position).
func raisef(L *glua.LState, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if dbg, ok := L.GetStack(1); ok {
		if _, err := L.GetInfo("Sl", dbg, glua.LNil); err == nil && dbg.What != "G" && dbg.CurrentLine > 0 {
			msg = fmt.Sprintf("%s:%d: %s", dbg.Source, dbg.CurrentLine, msg)
		}
	}
	L.Error(glua.LString(msg), 0)
}

// checkNumber is luaL_checknumber: a number or a numeric string, with
// Lua's "got no value" for a missing argument.
func checkNumber(L *glua.LState, i int) float64 {
	v := L.Get(i)
	switch v := v.(type) {
	case glua.LNumber:
		return float64(v)
	case glua.LString:
		if f, err := parseLuaNumber(string(v)); err == nil {
			return f
		}
	}
	got := typeName(v)
	if i > L.GetTop() {
		got = "no value"
	}
	L.ArgError(i, "number expected, got "+got)
	return 0
}

// forEach visits a table's entries in lua_next order (gopher-lua's own
// ForEach walks Go maps, whose order changes from one walk to the next).
func forEach(t *glua.LTable, cb func(k, v glua.LValue)) {
	k, v := t.Next(glua.LNil)
	for k != glua.LNil {
		cb(k, v)
		k, v = t.Next(k)
	}
}
