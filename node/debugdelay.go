package node

import (
	"math/rand/v2"
	"time"
)

// debugDelay sleeps as Redis's debugDelay does for rdb-key-save-delay and
// key-load-delay: usec microseconds, or for a negative value 1µs with
// probability 1/-usec (a cheap way to slow a big dataset down a little).
func debugDelay(usec int) {
	if d := delayFor(usec, 1); d > 0 {
		time.Sleep(d)
	}
}

// delayFor is the total debugDelay of keys keys.
func delayFor(usec int, keys int64) time.Duration {
	switch {
	case usec > 0:
		return time.Duration(keys) * time.Duration(usec) * time.Microsecond
	case usec < 0:
		var n int64
		for range keys {
			if rand.IntN(-usec) == 0 {
				n++
			}
		}
		return time.Duration(n) * time.Microsecond
	}
	return 0
}

// sleepUnless sleeps for d, waking early once stop reports true (checked
// every 10ms): an aborted save must not sit out a long per-key delay.
func sleepUnless(d time.Duration, stop func() bool) {
	for d > 0 && !stop() {
		step := min(d, 10*time.Millisecond)
		time.Sleep(step)
		d -= step
	}
}
