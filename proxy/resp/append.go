package resp

import (
	"math"
	"strconv"
)

// Append helpers encode one value at the end of b, in the shape Redis 7.0
// gives a client speaking protocol proto (2 or 3): maps, sets, nulls,
// doubles, booleans and pushes degrade to their RESP2 forms.

func appendHeader(b []byte, prefix byte, n int64) []byte {
	b = append(b, prefix)
	b = strconv.AppendInt(b, n, 10)
	return append(b, '\r', '\n')
}

// AppendOK appends +OK.
func AppendOK(b []byte) []byte { return append(b, "+OK\r\n"...) }

// AppendStatus appends a simple string.
func AppendStatus(b []byte, s string) []byte {
	b = append(b, '+')
	b = append(b, s...)
	return append(b, '\r', '\n')
}

// AppendError appends an error reply. msg starts with its code ("ERR
// ...", "CROSSSLOT ..."); CR and LF are replaced so a message built from
// user input cannot break the protocol.
func AppendError(b []byte, msg string) []byte {
	b = append(b, '-')
	for i := 0; i < len(msg); i++ {
		c := msg[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		b = append(b, c)
	}
	return append(b, '\r', '\n')
}

// AppendInt appends an integer.
func AppendInt(b []byte, n int64) []byte { return appendHeader(b, ':', n) }

// AppendBulk appends a bulk string.
func AppendBulk(b []byte, s []byte) []byte {
	b = appendHeader(b, '$', int64(len(s)))
	b = append(b, s...)
	return append(b, '\r', '\n')
}

// AppendBulkString appends a bulk string.
func AppendBulkString(b []byte, s string) []byte {
	b = appendHeader(b, '$', int64(len(s)))
	b = append(b, s...)
	return append(b, '\r', '\n')
}

// AppendBulkInt appends an integer as a bulk string.
func AppendBulkInt(b []byte, n int64) []byte {
	var buf [20]byte
	return AppendBulk(b, strconv.AppendInt(buf[:0], n, 10))
}

// AppendNull appends a null bulk string ($-1, or _ in RESP3).
func AppendNull(b []byte, proto int) []byte {
	if proto == 3 {
		return append(b, "_\r\n"...)
	}
	return append(b, "$-1\r\n"...)
}

// AppendNullArray appends a null array (*-1, or _ in RESP3).
func AppendNullArray(b []byte, proto int) []byte {
	if proto == 3 {
		return append(b, "_\r\n"...)
	}
	return append(b, "*-1\r\n"...)
}

// AppendArrayLen starts an array of n elements.
func AppendArrayLen(b []byte, n int) []byte { return appendHeader(b, '*', int64(n)) }

// AppendMapLen starts a map of n pairs (a flat array of 2n in RESP2).
func AppendMapLen(b []byte, proto, n int) []byte {
	if proto == 3 {
		return appendHeader(b, '%', int64(n))
	}
	return appendHeader(b, '*', int64(2*n))
}

// AppendSetLen starts a set (an array in RESP2).
func AppendSetLen(b []byte, proto, n int) []byte {
	if proto == 3 {
		return appendHeader(b, '~', int64(n))
	}
	return appendHeader(b, '*', int64(n))
}

// AppendPushLen starts a push message (an array in RESP2).
func AppendPushLen(b []byte, proto, n int) []byte {
	if proto == 3 {
		return appendHeader(b, '>', int64(n))
	}
	return appendHeader(b, '*', int64(n))
}

// AppendVerbatim appends a verbatim string of format "txt" (a bulk string
// in RESP2), as Redis replies INFO and CLIENT LIST.
func AppendVerbatim(b []byte, proto int, s string) []byte {
	if proto == 3 {
		b = appendHeader(b, '=', int64(len(s)+4))
		b = append(b, "txt:"...)
		b = append(b, s...)
		return append(b, '\r', '\n')
	}
	return AppendBulkString(b, s)
}

// AppendDouble appends a double (a bulk string in RESP2), formatted as
// Redis's %.17g with inf/-inf/nan spelled as Redis does.
func AppendDouble(b []byte, proto int, f float64) []byte {
	var buf [32]byte
	s := buf[:0]
	switch {
	case math.IsInf(f, 1):
		s = append(s, "inf"...)
	case math.IsInf(f, -1):
		s = append(s, "-inf"...)
	case math.IsNaN(f):
		s = append(s, "nan"...)
	default:
		s = strconv.AppendFloat(s, f, 'g', 17, 64)
	}
	if proto == 3 {
		b = append(b, ',')
		b = append(b, s...)
		return append(b, '\r', '\n')
	}
	return AppendBulk(b, s)
}

// AppendCommand encodes args as a RESP request (an array of bulk strings).
func AppendCommand(b []byte, args ...[]byte) []byte {
	b = AppendArrayLen(b, len(args))
	for _, a := range args {
		b = AppendBulk(b, a)
	}
	return b
}

// AppendCommandStrings is AppendCommand for string arguments.
func AppendCommandStrings(b []byte, args ...string) []byte {
	b = AppendArrayLen(b, len(args))
	for _, a := range args {
		b = AppendBulkString(b, a)
	}
	return b
}
