package node

import (
	"time"
)

// The active expiry cycle reclaims expired keys that no client touches, as
// Redis's activeExpireCycle (slow cycle, run from the cron hz times a
// second): for each database, look at up to keysPerLoop keys that have an
// expiry, delete the expired ones, and go on with the same database while
// more than the acceptable share of the sample was expired, until the time
// budget is used. The walk over a database's volatile keys continues where
// the previous cycle stopped (Redis's expires_cursor), so every key with a
// TTL is looked at within a bounded number of cycles.

const expireExt = "expire"

// Redis's ACTIVE_EXPIRE_CYCLE_* parameters, scaled by active-expire-effort.
const (
	expireKeysPerLoop   = 20
	expireSlowTimePerc  = 25
	expireAcceptStale   = 10
	expireDBsPerCall    = 16
	expireCheckInterval = 16 // iterations between clock checks
)

// expireState is the cycle's memory between calls.
type expireState struct {
	disabled      bool    // DEBUG SET-ACTIVE-EXPIRE 0
	currentDB     int     // next database to look at
	cursors       []int   // per-database position in the volatile keys
	timelimitExit bool    // the previous cycle ran out of time
	stalePerc     float64 // running estimate of expired keys not yet reclaimed
	timeCapCount  int64   // cycles that hit the time limit
	cycleTime     time.Duration
}

func init() {
	serverInits = append(serverInits, func(s *Server) {
		s.ext[expireExt] = &expireState{cursors: make([]int, len(s.dbs))}
	})
}

func (s *Server) expireState() *expireState { return s.ext[expireExt].(*expireState) }

// setActiveExpire turns the active expiry cycle on or off (DEBUG
// SET-ACTIVE-EXPIRE). Lazy expiry on access is not affected.
func (s *Server) setActiveExpire(on bool) { s.expireState().disabled = !on }

// expireInfo returns INFO's expired_stale_perc (in percent),
// expired_time_cap_reached_count and expire_cycle_cpu_milliseconds.
func (s *Server) expireInfo() (stalePerc float64, timeCapReached, cycleMs int64) {
	st := s.expireState()
	return st.stalePerc * 100, st.timeCapCount, st.cycleTime.Milliseconds()
}

// activeExpireCycle runs one slow cycle. now is the cron's clock; the
// command clock is set to it so that deletions use one time.
func (s *Server) activeExpireCycle(now time.Time) {
	st := s.expireState()
	if st.disabled || s.isReplica() || s.clientsPaused() {
		return
	}
	effort := max(s.cfg.ActiveExpireEffort, 1) - 1 // 0..9
	keysPerLoop := expireKeysPerLoop + expireKeysPerLoop/4*effort
	acceptable := expireAcceptStale - effort
	hz := max(s.cfg.Hz, 1)
	timelimit := time.Second * time.Duration(expireSlowTimePerc+2*effort) / time.Duration(hz) / 100
	if timelimit <= 0 {
		timelimit = time.Microsecond
	}
	dbsPerCall := expireDBsPerCall
	if dbsPerCall > len(s.dbs) || st.timelimitExit {
		dbsPerCall = len(s.dbs)
	}
	st.timelimitExit = false
	start := time.Now()
	s.cmdTime = now.UnixMilli()
	nowMs := s.cmdTime

	var totalSampled, totalExpired int
	iteration := 0
	for j := 0; j < dbsPerCall && !st.timelimitExit; j++ {
		dbi := st.currentDB % len(s.dbs)
		db := s.dbs[dbi]
		st.currentDB++
		for {
			iteration++
			n := db.ks.VolatileLen()
			if n == 0 {
				break
			}
			sample := min(n, keysPerLoop)
			sampled, expired := 0, 0
			for sampled < sample {
				n = db.ks.VolatileLen()
				if n == 0 {
					break
				}
				i := st.cursors[dbi] % n
				ref := db.ks.VolatileAt(i)
				sampled++
				if nowMs > ref.Expire {
					// The last volatile key moves into slot i: look at i again.
					s.deleteExpired(db, []byte(ref.Key))
					expired++
				} else {
					st.cursors[dbi] = i + 1
				}
			}
			totalSampled += sampled
			totalExpired += expired
			if iteration%expireCheckInterval == 0 && time.Since(start) > timelimit {
				st.timelimitExit = true
				st.timeCapCount++
				break
			}
			if sampled != 0 && expired*100/sampled <= acceptable {
				break
			}
		}
	}
	elapsed := time.Since(start)
	st.cycleTime += elapsed
	// Redis samples the whole cycle, so a long run of small deletions
	// shows up even when no single one crosses the threshold.
	s.latencyAddSampleIfNeeded("expire-cycle", elapsed.Milliseconds())
	perc := 0.0
	if totalSampled > 0 {
		perc = float64(totalExpired) / float64(totalSampled)
	}
	st.stalePerc = perc*0.05 + st.stalePerc*0.95
}
