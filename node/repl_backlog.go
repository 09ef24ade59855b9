package node

// backlog is the replication backlog: the last repl-backlog-size bytes of
// the replication stream, kept so that a replica that lost its link can
// continue from the byte it needs (PSYNC) instead of a full resync.
//
// It is a plain ring over one buffer, allocated at its full size the
// first time it is needed, as Redis 6 did; Redis 7 shares the stream
// blocks with the replicas' output buffers instead, which matters when
// there are many replicas of one primary, not for one or two.
type backlog struct {
	buf []byte
	// idx is where the next byte goes in buf.
	idx int
	// histlen is how many bytes of history buf holds (≤ len(buf)).
	histlen int64
	// offset is the replication offset of the first byte held
	// (repl_backlog_first_byte_offset); with histlen 0 it is the offset
	// the next byte will have.
	offset int64
}

// newBacklog returns an empty backlog of size bytes whose first byte will
// have replication offset next.
func newBacklog(size int64, next int64) *backlog {
	return &backlog{buf: make([]byte, max(size, 1)), offset: next}
}

// feed appends p, dropping the oldest bytes once the ring is full.
func (b *backlog) feed(p []byte) {
	size := int64(len(b.buf))
	if int64(len(p)) >= size {
		// Only the tail fits: the ring restarts with it.
		drop := int64(len(p)) - size
		copy(b.buf, p[drop:])
		b.idx = 0
		b.offset += b.histlen + drop
		b.histlen = size
		return
	}
	n := copy(b.buf[b.idx:], p)
	if n < len(p) {
		copy(b.buf, p[n:])
	}
	b.idx = (b.idx + len(p)) % len(b.buf)
	b.histlen += int64(len(p))
	if b.histlen > size {
		b.offset += b.histlen - size
		b.histlen = size
	}
}

// end is the offset the next byte fed will have.
func (b *backlog) end() int64 { return b.offset + b.histlen }

// covers reports whether the stream from offset off (the next byte a
// replica wants) can be served from the backlog, as Redis's
// masterTryPartialResynchronization checks it. An empty history still
// covers its end: a replica already at our offset continues with nothing
// to send, as Redis accepts it.
func (b *backlog) covers(off int64) bool {
	return off >= b.offset && off <= b.end()
}

// from returns a copy of the history from offset off to the end.
func (b *backlog) from(off int64) []byte {
	if off < b.offset || off > b.end() {
		return nil
	}
	n := b.end() - off
	out := make([]byte, n)
	size := int64(len(b.buf))
	// The oldest byte is at idx-histlen in ring order.
	start := (int64(b.idx) - b.histlen + (off - b.offset)) % size
	if start < 0 {
		start += size
	}
	k := copy(out, b.buf[start:min(start+n, size)])
	copy(out[k:], b.buf[:n-int64(k)])
	return out
}

// resize changes the ring's size keeping as much recent history as fits
// (CONFIG SET repl-backlog-size).
func (b *backlog) resize(size int64) {
	size = max(size, 1)
	if size == int64(len(b.buf)) {
		return
	}
	keep := min(b.histlen, size)
	hist := b.from(b.end() - keep)
	nb := &backlog{buf: make([]byte, size), offset: b.end() - keep}
	nb.feed(hist)
	nb.offset = b.end() - keep
	*b = *nb
}
