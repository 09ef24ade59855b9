package node

import (
	"math"
	"strconv"
)

// Reply encoders. Every reply goes through these so that one handler serves
// RESP2 and RESP3 clients: maps, sets, doubles, nulls and pushes degrade to
// their RESP2 shapes exactly as Redis 7.0 does.

func (c *Client) appendLine(prefix byte, s string) {
	c.out = append(c.out, prefix)
	c.out = append(c.out, s...)
	c.out = append(c.out, '\r', '\n')
}

func (c *Client) appendLen(prefix byte, n int64) {
	c.out = append(c.out, prefix)
	c.out = strconv.AppendInt(c.out, n, 10)
	c.out = append(c.out, '\r', '\n')
}

// OK replies +OK.
func (c *Client) OK() { c.out = append(c.out, "+OK\r\n"...) }

// Status replies a simple string.
func (c *Client) Status(s string) { c.appendLine('+', s) }

// Error replies an error. msg starts with the error code ("ERR ...",
// "WRONGTYPE ..."); a message without a code gets "ERR". Newlines are
// replaced as Redis does, so the protocol cannot be broken by a message.
func (c *Client) Error(msg string) {
	if msg == "" || msg[0] < 'A' || msg[0] > 'Z' {
		msg = "ERR " + msg
	}
	for i := 0; i < len(msg); i++ {
		if msg[i] == '\r' || msg[i] == '\n' {
			b := []byte(msg)
			for j := range b {
				if b[j] == '\r' || b[j] == '\n' {
					b[j] = ' '
				}
			}
			msg = string(b)
			break
		}
	}
	c.appendLine('-', msg)
	c.errorReplied = true
	if c.srv != nil {
		c.srv.countError(msg)
	}
}

// Int replies an integer.
func (c *Client) Int(n int64) { c.appendLen(':', n) }

// Bulk replies a bulk string.
func (c *Client) Bulk(b []byte) {
	c.appendLen('$', int64(len(b)))
	c.out = append(c.out, b...)
	c.out = append(c.out, '\r', '\n')
}

// BulkString replies a bulk string.
func (c *Client) BulkString(s string) {
	c.appendLen('$', int64(len(s)))
	c.out = append(c.out, s...)
	c.out = append(c.out, '\r', '\n')
}

// BulkInt replies an integer as a bulk string.
func (c *Client) BulkInt(n int64) {
	var buf [20]byte
	c.Bulk(strconv.AppendInt(buf[:0], n, 10))
}

// Null replies a null bulk string ($-1, or _ in RESP3).
func (c *Client) Null() {
	if c.resp == 3 {
		c.out = append(c.out, "_\r\n"...)
	} else {
		c.out = append(c.out, "$-1\r\n"...)
	}
}

// NullArray replies a null array (*-1, or _ in RESP3).
func (c *Client) NullArray() {
	if c.resp == 3 {
		c.out = append(c.out, "_\r\n"...)
	} else {
		c.out = append(c.out, "*-1\r\n"...)
	}
}

// ArrayLen starts an array of n elements.
func (c *Client) ArrayLen(n int) { c.appendLen('*', int64(n)) }

// MapLen starts a map of n pairs (a flat array of 2n in RESP2).
func (c *Client) MapLen(n int) {
	if c.resp == 3 {
		c.appendLen('%', int64(n))
	} else {
		c.appendLen('*', int64(2*n))
	}
}

// SetLen starts a set of n elements (an array in RESP2).
func (c *Client) SetLen(n int) {
	if c.resp == 3 {
		c.appendLen('~', int64(n))
	} else {
		c.appendLen('*', int64(n))
	}
}

// PushLen starts a push message of n elements (an array in RESP2).
func (c *Client) PushLen(n int) {
	if c.resp == 3 {
		c.appendLen('>', int64(n))
	} else {
		c.appendLen('*', int64(n))
	}
}

// AttributeLen starts an attribute of n pairs; RESP3 only.
func (c *Client) AttributeLen(n int) { c.appendLen('|', int64(n)) }

// Double replies a double: a RESP3 double, or a bulk string in RESP2,
// formatted as Redis's %.17g with inf/-inf/nan spelled as Redis does.
func (c *Client) Double(f float64) {
	if c.resp == 3 {
		c.out = append(c.out, ',')
		c.out = appendDouble(c.out, f)
		c.out = append(c.out, '\r', '\n')
		return
	}
	var buf [32]byte
	c.Bulk(appendDouble(buf[:0], f))
}

// appendDouble formats f as Redis's addReplyDouble does.
func appendDouble(b []byte, f float64) []byte {
	switch {
	case math.IsInf(f, 1):
		return append(b, "inf"...)
	case math.IsInf(f, -1):
		return append(b, "-inf"...)
	case math.IsNaN(f):
		return append(b, "nan"...)
	}
	return strconv.AppendFloat(b, f, 'g', 17, 64)
}

// Bool replies a RESP3 boolean, or the integer 1/0 in RESP2.
func (c *Client) Bool(v bool) {
	if c.resp == 3 {
		if v {
			c.out = append(c.out, "#t\r\n"...)
		} else {
			c.out = append(c.out, "#f\r\n"...)
		}
		return
	}
	if v {
		c.Int(1)
	} else {
		c.Int(0)
	}
}

// BigNum replies a RESP3 big number, or a bulk string in RESP2.
func (c *Client) BigNum(s string) {
	if c.resp == 3 {
		c.appendLine('(', s)
		return
	}
	c.BulkString(s)
}

// Verbatim replies a RESP3 verbatim string with a three-letter format
// ("txt", "mkd"), or a bulk string in RESP2.
func (c *Client) Verbatim(s, format string) {
	if c.resp == 3 {
		c.appendLen('=', int64(len(s)+4))
		c.out = append(c.out, format...)
		c.out = append(c.out, ':')
		c.out = append(c.out, s...)
		c.out = append(c.out, '\r', '\n')
		return
	}
	c.BulkString(s)
}

// Raw appends already-encoded RESP.
func (c *Client) Raw(b []byte) { c.out = append(c.out, b...) }

// deferred is a placeholder for a length not known yet.
type deferred int

// DeferLen reserves the place of an aggregate header whose length is
// known only after the elements are written.
func (c *Client) DeferLen() deferred { return deferred(len(c.out)) }

func (c *Client) setDeferred(d deferred, prefix byte, n int64) {
	var hdr [24]byte
	h := append(hdr[:0], prefix)
	h = strconv.AppendInt(h, n, 10)
	h = append(h, '\r', '\n')
	c.out = append(c.out, h...) // grow
	copy(c.out[int(d)+len(h):], c.out[d:len(c.out)-len(h)])
	copy(c.out[d:], h)
}

// SetArrayLen fills in a deferred array length.
func (c *Client) SetArrayLen(d deferred, n int) { c.setDeferred(d, '*', int64(n)) }

// SetMapLen fills in a deferred map length (pairs).
func (c *Client) SetMapLen(d deferred, n int) {
	if c.resp == 3 {
		c.setDeferred(d, '%', int64(n))
	} else {
		c.setDeferred(d, '*', int64(2*n))
	}
}

// SetSetLen fills in a deferred set length.
func (c *Client) SetSetLen(d deferred, n int) {
	if c.resp == 3 {
		c.setDeferred(d, '~', int64(n))
	} else {
		c.setDeferred(d, '*', int64(n))
	}
}
