package node

import (
	"time"
)

// activeExpireCycle reclaims expired keys that no client touches, as
// Redis's slow cycle: sample keys with a TTL in each database, delete the
// expired ones, and repeat while more than a tenth of the sample (scaled
// by active-expire-effort) was expired and the time budget lasts.
func (s *Server) activeExpireCycle(now time.Time) {
	if s.isReplica() {
		return
	}
	effort := max(s.cfg.ActiveExpireEffort, 1) - 1 // 0..9
	perLoop := 20 + 20/4*effort
	acceptable := 10 - effort
	// Budget: 25% of a cron period plus 2% per effort step, as Redis.
	budget := time.Second / time.Duration(max(s.cfg.Hz, 1)) * time.Duration(25+2*effort) / 100
	deadline := now.Add(budget)
	nowMs := now.UnixMilli()
	for _, db := range s.dbs {
		for iter := 0; ; iter++ {
			n := db.ks.VolatileLen()
			if n == 0 {
				break
			}
			sample := min(n, perLoop)
			expired := 0
			var keys [][]byte
			for i := 0; i < sample; i++ {
				k, ok := db.ks.RandomVolatile(s.rng)
				if !ok {
					break
				}
				if k.Expire <= nowMs {
					keys = append(keys, []byte(k.Key))
				}
			}
			for _, k := range keys {
				// The same key may be sampled twice; deleting checks again.
				if o, at := db.ks.Lookup(k); o != nil && at != 0 && at <= nowMs {
					s.cmdTime = nowMs
					s.deleteExpired(db, k)
					expired++
				}
			}
			if expired*100/sample <= acceptable || (iter%16 == 15 && time.Now().After(deadline)) {
				break
			}
		}
		if time.Now().After(deadline) {
			return
		}
	}
}
