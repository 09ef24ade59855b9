package proxy

import (
	"sync"
	"sync/atomic"
	"time"
)

// bucket is a token bucket shared by a database's clients: rate tokens a
// second, holding at most burst. A rate of zero means unlimited. Clients
// take tokens once per batch, so the mutex is taken once per read, not
// once per command.
type bucket struct {
	// limited is read without the lock so that an unlimited bucket (the
	// common case) costs its clients nothing.
	limited atomic.Bool
	mu      sync.Mutex
	rate    float64
	burst   float64
	tokens  float64
	last    time.Time
}

// configure sets the rate and burst; a new limit starts with a full bucket.
func (b *bucket) configure(rate, burst float64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.rate == rate && b.burst == burst {
		return
	}
	b.rate, b.burst = rate, max(burst, 1)
	b.tokens = b.burst
	b.last = time.Time{}
	b.limited.Store(rate > 0)
}

func (b *bucket) refill(now time.Time) {
	if !b.last.IsZero() {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
}

// take removes up to n tokens and returns how many it got.
func (b *bucket) take(now time.Time, n int) int {
	if !b.limited.Load() {
		return n
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.rate == 0 {
		return n
	}
	b.refill(now)
	got := min(float64(n), float64(int(b.tokens)))
	if got < 0 {
		got = 0
	}
	b.tokens -= got
	return int(got)
}

// charge removes n tokens even if that leaves the bucket in debt: bytes
// already sent must be paid for, and the debt delays later requests.
func (b *bucket) charge(now time.Time, n int64) {
	if !b.limited.Load() {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.rate == 0 {
		return
	}
	b.refill(now)
	b.tokens -= float64(n)
}

// inDebt reports whether the bucket is empty or overdrawn.
func (b *bucket) inDebt(now time.Time) bool {
	if !b.limited.Load() {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.rate == 0 {
		return false
	}
	b.refill(now)
	return b.tokens < 0
}
