package proxy

import (
	"context"
	"sync"
	"time"
)

// authLimiter slows down repeated authentication failures from one IP:
// after freeFailures failures each further attempt from that IP is
// delayed, the delay doubling per failure up to maxDelay, and attempts
// from one IP are spaced by it even across parallel connections. A
// success forgets the IP. Memory is bounded: at most maxEntries IPs are
// remembered and an entry is dropped after forgetAfter without failures.
type authLimiter struct {
	mu sync.Mutex
	m  map[string]*authState

	freeFailures int
	baseDelay    time.Duration
	maxDelay     time.Duration
	maxEntries   int
	forgetAfter  time.Duration
}

type authState struct {
	failures int
	next     time.Time // earliest time the next attempt is answered
	last     time.Time // last failure
}

func newAuthLimiter() *authLimiter {
	return &authLimiter{
		m:            make(map[string]*authState),
		freeFailures: 3,
		baseDelay:    100 * time.Millisecond,
		maxDelay:     5 * time.Second,
		maxEntries:   100000,
		forgetAfter:  10 * time.Minute,
	}
}

// reserve returns how long an attempt from ip must wait before it is
// answered: the delay its failures earned, after any attempt already
// waiting, so parallel attempts queue one behind the other.
func (l *authLimiter) reserve(ip string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.m[ip]
	if st == nil || st.failures < l.freeFailures {
		return 0
	}
	at := st.next
	if at.Before(now) {
		at = now
	}
	at = at.Add(l.delay(st.failures))
	st.next = at
	return at.Sub(now)
}

func (l *authLimiter) delay(failures int) time.Duration {
	n := failures - l.freeFailures
	if n > 16 {
		return l.maxDelay
	}
	return min(l.baseDelay<<n, l.maxDelay)
}

// failed records a failure from ip.
func (l *authLimiter) failed(ip string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.m[ip]
	if st == nil {
		if len(l.m) >= l.maxEntries {
			l.evictLocked(now)
		}
		st = &authState{}
		l.m[ip] = st
	}
	st.failures++
	st.last = now
	if st.next.Before(now) {
		st.next = now
	}
}

// succeeded forgets ip.
func (l *authLimiter) succeeded(ip string) {
	l.mu.Lock()
	delete(l.m, ip)
	l.mu.Unlock()
}

// evictLocked makes room: stale entries first, else an arbitrary one (map
// order is random, so an attacker cannot pin whom it evicts).
func (l *authLimiter) evictLocked(now time.Time) {
	for ip, st := range l.m {
		if now.Sub(st.last) > l.forgetAfter {
			delete(l.m, ip)
		}
	}
	if len(l.m) < l.maxEntries {
		return
	}
	for ip := range l.m {
		delete(l.m, ip)
		if len(l.m) < l.maxEntries {
			return
		}
	}
}

func (l *authLimiter) sweepLoop(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			l.mu.Lock()
			for ip, st := range l.m {
				if now.Sub(st.last) > l.forgetAfter {
					delete(l.m, ip)
				}
			}
			l.mu.Unlock()
		}
	}
}
