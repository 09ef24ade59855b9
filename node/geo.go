package node

import (
	"fmt"
	"math"
	"sort"
	"strconv"

	"github.com/keyfleet/keyfleet/node/ds/geohash"
	"github.com/keyfleet/keyfleet/node/ds/listpack"
	"github.com/keyfleet/keyfleet/node/ds/skiplist"
	"github.com/keyfleet/keyfleet/node/keyspace"
)

// Geospatial indexes, as Redis 7.0's geo.c: sorted sets whose scores are
// 52-bit geohashes (node/ds/geohash). GEOADD is ZADD with encoded
// scores; searches scan the score ranges of the 3x3 cells covering the
// shape and filter by distance.

func init() {
	register(map[string]handler{
		"geoadd":               geoaddCommand,
		"geodist":              geodistCommand,
		"geohash":              geohashCommand,
		"geopos":               geoposCommand,
		"georadius":            func(s *Server, c *Client, a [][]byte) { georadiusGeneric(s, c, a, 1, geoRadiusCoords) },
		"georadius_ro":         func(s *Server, c *Client, a [][]byte) { georadiusGeneric(s, c, a, 1, geoRadiusCoords|geoNoStore) },
		"georadiusbymember":    func(s *Server, c *Client, a [][]byte) { georadiusGeneric(s, c, a, 1, geoRadiusMember) },
		"georadiusbymember_ro": func(s *Server, c *Client, a [][]byte) { georadiusGeneric(s, c, a, 1, geoRadiusMember|geoNoStore) },
		"geosearch":            func(s *Server, c *Client, a [][]byte) { georadiusGeneric(s, c, a, 1, geoSearch) },
		"geosearchstore":       func(s *Server, c *Client, a [][]byte) { georadiusGeneric(s, c, a, 2, geoSearch|geoSearchStore) },
	})
}

const (
	errGeoMember = "ERR could not decode requested zset member"
	errGeoUnit   = "ERR unsupported unit provided. please use M, KM, FT, MI"
)

// cfmtF is C's printf %f, whose infinities print as inf/-inf.
func cfmtF(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "inf"
	case math.IsInf(v, -1):
		return "-inf"
	}
	return strconv.FormatFloat(v, 'f', 6, 64)
}

// geoLongLatArg parses a longitude,latitude pair, replying the error when
// it is not a valid, indexable one.
func geoLongLatArg(c *Client, args [][]byte) (long, lat float64, ok bool) {
	if long, ok = scoreArg(c, args[0], ""); !ok {
		return 0, 0, false
	}
	if lat, ok = scoreArg(c, args[1], ""); !ok {
		return 0, 0, false
	}
	if long < geohash.LongMin || long > geohash.LongMax || lat < geohash.LatMin || lat > geohash.LatMax {
		c.Error("ERR invalid longitude,latitude pair " + cfmtF(long) + "," + cfmtF(lat))
		return 0, 0, false
	}
	return long, lat, true
}

// geoUnitArg returns the metres in one unit named by b.
func geoUnitArg(c *Client, b []byte) (float64, bool) {
	switch {
	case isWord(b, "m"):
		return 1, true
	case isWord(b, "km"):
		return 1000, true
	case isWord(b, "ft"):
		return 0.3048, true
	case isWord(b, "mi"):
		return 1609.34, true
	}
	c.Error(errGeoUnit)
	return 0, false
}

// geoDistanceArg parses "<radius> <unit>".
func geoDistanceArg(c *Client, args [][]byte) (radius, conversion float64, ok bool) {
	if radius, ok = scoreArg(c, args[0], "ERR need numeric radius"); !ok {
		return 0, 0, false
	}
	if radius < 0 {
		c.Error("ERR radius cannot be negative")
		return 0, 0, false
	}
	conversion, ok = geoUnitArg(c, args[1])
	return radius, conversion, ok
}

// geoBoxArg parses "<width> <height> <unit>".
func geoBoxArg(c *Client, args [][]byte) (width, height, conversion float64, ok bool) {
	if width, ok = scoreArg(c, args[0], "ERR need numeric width"); !ok {
		return 0, 0, 0, false
	}
	if height, ok = scoreArg(c, args[1], "ERR need numeric height"); !ok {
		return 0, 0, 0, false
	}
	if height < 0 || width < 0 {
		c.Error("ERR height or width cannot be negative")
		return 0, 0, 0, false
	}
	conversion, ok = geoUnitArg(c, args[2])
	return width, height, conversion, ok
}

// geoMemberPos decodes member's position.
func geoMemberPos(o *keyspace.Object, member []byte) (long, lat float64, ok bool) {
	score, ok := zsetScore(o, member)
	if !ok {
		return 0, 0, false
	}
	return geohash.DecodeScore(score)
}

// appendDistance formats a distance as Redis's fixedpoint_d2string with
// four decimals: the value times 10^4 rounded half to even (llrint).
func appendDistance(b []byte, d float64) []byte {
	if d == 0 {
		return append(b, "0.0000"...)
	}
	v := math.RoundToEven(d * 1e4)
	var u uint64
	switch {
	case math.IsNaN(v) || v >= 9223372036854775808.0 || v < -9223372036854775808.0:
		// llrint's out-of-range result.
		u = 1 << 63
		b = append(b, '-')
	case v < 0:
		u = uint64(-int64(v))
		b = append(b, '-')
	default:
		u = uint64(int64(v))
	}
	digits := strconv.AppendUint(nil, u, 10)
	if len(digits) <= 4 {
		b = append(b, "0."...)
		for i := len(digits); i < 4; i++ {
			b = append(b, '0')
		}
		return append(b, digits...)
	}
	b = append(b, digits[:len(digits)-4]...)
	b = append(b, '.')
	return append(b, digits[len(digits)-4:]...)
}

func replyDistance(c *Client, d float64) {
	var buf [32]byte
	c.Bulk(appendDistance(buf[:0], d))
}

// appendHumanDouble is Redis's ld2string in LD_STR_HUMAN mode for a value
// that is a double: %.17Lf with trailing zeros (and a bare point) removed.
func appendHumanDouble(b []byte, v float64) []byte {
	start := len(b)
	b = strconv.AppendFloat(b, v, 'f', 17, 64)
	for len(b) > start && b[len(b)-1] == '0' {
		b = b[:len(b)-1]
	}
	if b[len(b)-1] == '.' {
		b = b[:len(b)-1]
	}
	if len(b)-start == 2 && b[start] == '-' && b[start+1] == '0' {
		b = append(b[:start], '0')
	}
	return b
}

// replyHumanDouble is addReplyHumanLongDouble: a bulk string in RESP2,
// a double in RESP3, both in the human format.
func replyHumanDouble(c *Client, v float64) {
	var buf [64]byte
	h := appendHumanDouble(buf[:0], v)
	if c.resp == 3 {
		c.out = append(c.out, ',')
		c.out = append(c.out, h...)
		c.out = append(c.out, '\r', '\n')
		return
	}
	c.Bulk(h)
}

func replyCoords(c *Client, long, lat float64) {
	c.ArrayLen(2)
	replyHumanDouble(c, long)
	replyHumanDouble(c, lat)
}

// geoaddCommand turns the coordinates into scores and runs ZADD with
// them, as Redis does: the command propagates and notifies as that ZADD.
func geoaddCommand(s *Server, c *Client, args [][]byte) {
	xx, nx := false, false
	idx := 2
	for ; idx < len(args); idx++ {
		switch {
		case isWord(args[idx], "nx"):
			nx = true
		case isWord(args[idx], "xx"):
			xx = true
		case isWord(args[idx], "ch"):
		default:
			goto parsed
		}
	}
parsed:
	if (len(args)-idx)%3 != 0 || (xx && nx) {
		c.Error(errSyntax)
		return
	}
	elements := (len(args) - idx) / 3
	argv := make([][]byte, idx+elements*2)
	argv[0] = []byte("zadd")
	copy(argv[1:idx], args[1:idx])
	for i := 0; i < elements; i++ {
		a := args[idx+i*3:]
		long, lat, ok := geoLongLatArg(c, a)
		if !ok {
			return
		}
		score, _ := geohash.Score(long, lat)
		argv[idx+i*2] = strconv.AppendUint(nil, score, 10)
		argv[idx+i*2+1] = a[2]
	}
	zaddGeneric(s, c, argv, 0)
}

func geodistCommand(s *Server, c *Client, args [][]byte) {
	toMeter := 1.0
	if len(args) == 5 {
		var ok bool
		if toMeter, ok = geoUnitArg(c, args[4]); !ok {
			return
		}
	} else if len(args) > 5 {
		c.Error(errSyntax)
		return
	}
	o, ok := s.lookupZsetRead(c, args[1])
	if !ok {
		return
	}
	if o == nil {
		c.Null()
		return
	}
	s1, ok1 := zsetScore(o, args[2])
	s2, ok2 := zsetScore(o, args[3])
	if !ok1 || !ok2 {
		c.Null()
		return
	}
	long1, lat1, ok1 := geohash.DecodeScore(s1)
	long2, lat2, ok2 := geohash.DecodeScore(s2)
	if !ok1 || !ok2 {
		c.Null()
		return
	}
	replyDistance(c, geohash.Distance(long1, lat1, long2, lat2)/toMeter)
}

func geohashCommand(s *Server, c *Client, args [][]byte) {
	o, ok := s.lookupZsetRead(c, args[1])
	if !ok {
		return
	}
	c.ArrayLen(len(args) - 2)
	for _, m := range args[2:] {
		var score float64
		if o != nil {
			score, ok = zsetScore(o, m)
		}
		if o == nil || !ok {
			c.Null()
			continue
		}
		str, ok := geohash.String(score)
		if !ok {
			c.Null()
			continue
		}
		c.BulkString(str)
	}
}

func geoposCommand(s *Server, c *Client, args [][]byte) {
	o, ok := s.lookupZsetRead(c, args[1])
	if !ok {
		return
	}
	c.ArrayLen(len(args) - 2)
	for _, m := range args[2:] {
		if o == nil {
			c.NullArray()
			continue
		}
		long, lat, ok := geoMemberPos(o, m)
		if !ok {
			c.NullArray()
			continue
		}
		replyCoords(c, long, lat)
	}
}

// georadiusGeneric flags: which command variant runs.
const (
	geoRadiusCoords = 1 << iota // centre from coordinates (GEORADIUS)
	geoRadiusMember             // centre from a member (GEORADIUSBYMEMBER)
	geoNoStore                  // no STORE/STOREDIST (the _RO forms)
	geoSearch                   // GEOSEARCH syntax
	geoSearchStore              // GEOSEARCHSTORE: only STOREDIST
)

const (
	geoSortNone = iota
	geoSortAsc
	geoSortDesc
)

// geoPoint is a search result.
type geoPoint struct {
	long, lat float64
	dist      float64
	score     float64
	member    string
}

// geoPointsInRange appends the members scored in [min, max) that lie in
// the shape, stopping once the results reach limit (0: no limit).
func geoPointsInRange(o *keyspace.Object, min, max uint64, sh *geohash.Shape, ga []geoPoint, limit int) []geoPoint {
	r := skiplist.ScoreRange{Min: float64(min), Max: float64(max), MaxEx: true}
	try := func(score float64, member func() string) bool {
		long, lat, ok := geohash.DecodeScore(score)
		if ok {
			if d, in := sh.Within(long, lat); in {
				ga = append(ga, geoPoint{long: long, lat: lat, dist: d, score: score, member: member()})
			}
		}
		return !(len(ga) > 0 && limit > 0 && len(ga) >= limit)
	}
	if o.Enc == keyspace.EncListpack {
		lp := listpack.Listpack(o.Str)
		for p := zzlFirstInRange(lp, &r); p >= 0; {
			sp := lp.Next(p)
			score := zzlScore(lp, sp)
			if !r.LteMax(score) {
				break
			}
			if !try(score, func() string { return lpMember(lp.Get(p)).String() }) {
				break
			}
			p = lp.Next(sp)
		}
		return ga
	}
	for n := zsl(o).zsl.FirstInRange(&r); n != nil; n = n.Next() {
		if !r.LteMax(n.Score()) {
			break
		}
		if !try(n.Score(), n.Ele) {
			break
		}
	}
	return ga
}

// geoMembersOfAllNeighbors searches the cover's cells in Redis's order,
// skipping a cell equal to the previous one searched (huge radii make
// neighbours coincide).
func geoMembersOfAllNeighbors(o *keyspace.Object, cover *geohash.Cover, sh *geohash.Shape, limit int) []geoPoint {
	var ga []geoPoint
	cells := cover.Cells()
	last := 0
	for i, h := range cells {
		if h.IsZero() {
			continue
		}
		if last != 0 && h == cells[last] {
			continue
		}
		if len(ga) > 0 && limit > 0 && len(ga) >= limit {
			break
		}
		min, max := geohash.ScoreRange(h)
		ga = geoPointsInRange(o, min, max, sh, ga, limit)
		last = i
	}
	return ga
}

func georadiusGeneric(s *Server, c *Client, args [][]byte, srcKeyIndex int, flags int) {
	db := c.db
	var storeKey []byte
	storeDist := false
	o, ok := s.lookupZsetRead(c, args[srcKeyIndex])
	if !ok {
		return
	}
	var sh geohash.Shape
	var baseArgs int
	switch {
	case flags&geoRadiusCoords != 0:
		baseArgs = 6
		sh.Type = geohash.Circle
		if sh.Long, sh.Lat, ok = geoLongLatArg(c, args[2:]); !ok {
			return
		}
		if sh.Radius, sh.Conversion, ok = geoDistanceArg(c, args[baseArgs-2:]); !ok {
			return
		}
	case flags&geoRadiusMember != 0 && o == nil:
		// Parse the options anyway: they decide the reply's type.
		baseArgs = 5
	case flags&geoRadiusMember != 0:
		baseArgs = 5
		sh.Type = geohash.Circle
		if sh.Long, sh.Lat, ok = geoMemberPos(o, args[2]); !ok {
			c.Error(errGeoMember)
			return
		}
		if sh.Radius, sh.Conversion, ok = geoDistanceArg(c, args[baseArgs-2:]); !ok {
			return
		}
	default:
		baseArgs = 2
		if flags&geoSearchStore != 0 {
			baseArgs = 3
			storeKey = args[1]
		}
	}

	withDist, withHash, withCoords := false, false, false
	fromMember, fromLoc, byRadius, byBox := false, false, false, false
	sortOrder := geoSortNone
	anyOpt := false
	var count int64
	remaining := len(args) - baseArgs
	for i := 0; i < remaining; i++ {
		arg := args[baseArgs+i]
		rest := args[baseArgs+i+1:]
		switch {
		case isWord(arg, "withdist"):
			withDist = true
		case isWord(arg, "withhash"):
			withHash = true
		case isWord(arg, "withcoord"):
			withCoords = true
		case isWord(arg, "any"):
			anyOpt = true
		case isWord(arg, "asc"):
			sortOrder = geoSortAsc
		case isWord(arg, "desc"):
			sortOrder = geoSortDesc
		case isWord(arg, "count") && i+1 < remaining:
			if count, ok = int64Arg(c, rest[0]); !ok {
				return
			}
			if count <= 0 {
				c.Error("ERR COUNT must be > 0")
				return
			}
			i++
		case (isWord(arg, "store") || isWord(arg, "storedist")) && i+1 < remaining &&
			flags&(geoNoStore|geoSearch) == 0:
			storeKey = rest[0]
			storeDist = isWord(arg, "storedist")
			i++
		case isWord(arg, "storedist") && flags&geoSearch != 0 && flags&geoSearchStore != 0:
			storeDist = true
		case isWord(arg, "frommember") && i+1 < remaining && flags&geoSearch != 0 && !fromLoc:
			// Without a source key the reply is empty, once the options parsed.
			if o != nil {
				if sh.Long, sh.Lat, ok = geoMemberPos(o, rest[0]); !ok {
					c.Error(errGeoMember)
					return
				}
			}
			fromMember = true
			i++
		case isWord(arg, "fromlonlat") && i+2 < remaining && flags&geoSearch != 0 && !fromMember:
			if sh.Long, sh.Lat, ok = geoLongLatArg(c, rest); !ok {
				return
			}
			fromLoc = true
			i += 2
		case isWord(arg, "byradius") && i+2 < remaining && flags&geoSearch != 0 && !byBox:
			if sh.Radius, sh.Conversion, ok = geoDistanceArg(c, rest); !ok {
				return
			}
			sh.Type = geohash.Circle
			byRadius = true
			i += 2
		case isWord(arg, "bybox") && i+3 < remaining && flags&geoSearch != 0 && !byRadius:
			if sh.Width, sh.Height, sh.Conversion, ok = geoBoxArg(c, rest); !ok {
				return
			}
			sh.Type = geohash.Box
			byBox = true
			i += 3
		default:
			c.Error(errSyntax)
			return
		}
	}

	if storeKey != nil && (withDist || withHash || withCoords) {
		what := "STORE option in GEORADIUS"
		if flags&geoSearchStore != 0 {
			what = "GEOSEARCHSTORE"
		}
		c.Error("ERR " + what + " is not compatible with WITHDIST, WITHHASH and WITHCOORD options")
		return
	}
	if flags&geoSearch != 0 && !(fromMember || fromLoc) {
		c.Error(fmt.Sprintf("ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for %s", args[0]))
		return
	}
	if flags&geoSearch != 0 && !(byRadius || byBox) {
		c.Error(fmt.Sprintf("ERR exactly one of BYRADIUS and BYBOX can be specified for %s", args[0]))
		return
	}
	if anyOpt && count == 0 {
		c.Error("ERR the ANY argument requires COUNT argument")
		return
	}

	if o == nil {
		if storeKey != nil {
			if s.deleteKey(db, storeKey) {
				s.notify(notifyGeneric, "del", storeKey, db.id)
				s.dirty++
				s.propagate(db.id, args)
			}
			c.Int(0)
		} else {
			c.ArrayLen(0)
		}
		return
	}

	// COUNT keeps the nearest, so it sorts unless ANY asked for any.
	if count != 0 && sortOrder == geoSortNone && !anyOpt {
		sortOrder = geoSortAsc
	}
	cover := geohash.CoverShape(&sh)
	limit := 0
	if anyOpt {
		limit = int(min(count, math.MaxInt32))
	}
	ga := geoMembersOfAllNeighbors(o, &cover, &sh, limit)
	if len(ga) == 0 && storeKey == nil {
		c.ArrayLen(0)
		return
	}
	returned := len(ga)
	if count != 0 && int64(returned) > count {
		returned = int(count)
	}
	switch sortOrder {
	case geoSortAsc:
		geoSort(ga, returned, false)
	case geoSortDesc:
		geoSort(ga, returned, true)
	}

	if storeKey == nil {
		options := 0
		for _, w := range []bool{withDist, withCoords, withHash} {
			if w {
				options++
			}
		}
		c.ArrayLen(returned)
		var buf []byte
		for i := 0; i < returned; i++ {
			gp := &ga[i]
			dist := gp.dist / sh.Conversion
			if options > 0 {
				c.ArrayLen(options + 1)
			}
			c.BulkString(gp.member)
			if withDist {
				buf = appendDistance(buf[:0], dist)
				c.Bulk(buf)
			}
			if withHash {
				c.Int(int64(gp.score))
			}
			if withCoords {
				replyCoords(c, gp.long, gp.lat)
			}
		}
		return
	}

	if returned > 0 {
		obj := newZsetObject(true)
		z := zsl(&obj)
		maxLen, totLen := 0, 0
		for i := 0; i < returned; i++ {
			gp := &ga[i]
			score := gp.score
			if storeDist {
				score = gp.dist / sh.Conversion
			}
			if _, dup := z.d.Get(gp.member); dup {
				// Cells wrapping round at step 1 can repeat a member.
				continue
			}
			maxLen = max(maxLen, len(gp.member))
			totLen += len(gp.member)
			z.insert(gp.member, score)
		}
		s.zsetConvertToListpackIfNeeded(&obj, maxLen, totLen)
		s.setKey(db, storeKey, obj, false)
		s.signalReady(db, storeKey)
		event := "georadiusstore"
		if flags&geoSearch != 0 {
			event = "geosearchstore"
		}
		s.notify(notifyZSet, event, storeKey, db.id)
		s.dirty += int64(returned)
		s.propagate(db.id, args)
	} else if s.deleteKey(db, storeKey) {
		s.notify(notifyGeneric, "del", storeKey, db.id)
		s.dirty++
		s.propagate(db.id, args)
	}
	c.Int(int64(returned))
}

// geoSort orders the results by distance, ascending or descending, as
// Redis does: all of them with glibc's qsort (a stable merge sort), or
// only the first n with Redis's partial quicksort (pqsort.c), whose
// placement of equal distances this reproduces.
func geoSort(ga []geoPoint, n int, desc bool) {
	cmp := func(i, j int) int {
		a, b := ga[i].dist, ga[j].dist
		r := 0
		if a > b {
			r = 1
		} else if a < b {
			r = -1
		}
		if desc {
			return -r
		}
		return r
	}
	if n == len(ga) {
		sort.SliceStable(ga, func(i, j int) bool { return cmp(i, j) < 0 })
		return
	}
	geoPQSort(ga, 0, len(ga), cmp, 0, n-1)
}

// geoPQSort is Redis's pqsort over ga[a:a+n]: the Bentley-McIlroy
// quicksort of BSD's qsort that only recurses into partitions overlapping
// the elements lrange..rrange.
func geoPQSort(ga []geoPoint, a, n int, cmp func(i, j int) int, lrange, rrange int) {
	swap := func(i, j int) { ga[i], ga[j] = ga[j], ga[i] }
	vecswap := func(i, j, k int) {
		for ; k > 0; k-- {
			swap(i, j)
			i++
			j++
		}
	}
	med3 := func(x, y, z int) int {
		if cmp(x, y) < 0 {
			if cmp(y, z) < 0 {
				return y
			}
			if cmp(x, z) < 0 {
				return z
			}
			return x
		}
		if cmp(y, z) > 0 {
			return y
		}
		if cmp(x, z) < 0 {
			return x
		}
		return z
	}
	outside := func(lo, hi int) bool {
		return (lrange < lo && rrange < lo) || (lrange > hi && rrange > hi)
	}
	for {
		if n < 7 {
			for pm := a + 1; pm < a+n; pm++ {
				for pl := pm; pl > a && cmp(pl-1, pl) > 0; pl-- {
					swap(pl, pl-1)
				}
			}
			return
		}
		pm := a + n/2
		if n > 7 {
			pl, pn := a, a+n-1
			if n > 40 {
				d := n / 8
				pl = med3(pl, pl+d, pl+2*d)
				pm = med3(pm-d, pm, pm+d)
				pn = med3(pn-2*d, pn-d, pn)
			}
			pm = med3(pl, pm, pn)
		}
		swap(a, pm)
		pa, pb := a+1, a+1
		pc, pd := a+n-1, a+n-1
		for {
			for pb <= pc {
				r := cmp(pb, a)
				if r > 0 {
					break
				}
				if r == 0 {
					swap(pa, pb)
					pa++
				}
				pb++
			}
			for pb <= pc {
				r := cmp(pc, a)
				if r < 0 {
					break
				}
				if r == 0 {
					swap(pc, pd)
					pd--
				}
				pc--
			}
			if pb > pc {
				break
			}
			swap(pb, pc)
			pb++
			pc--
		}
		pn := a + n
		r := min(pa-a, pb-pa)
		vecswap(a, pb-r, r)
		r = min(pd-pc, pn-pd-1)
		vecswap(pb, pn-r, r)
		if r = pb - pa; r > 1 && !outside(a, a+r-1) {
			geoPQSort(ga, a, r, cmp, lrange, rrange)
		}
		if r = pd - pc; r > 1 {
			a, n = pn-r, r
			if !outside(a, a+r-1) {
				continue
			}
		}
		return
	}
}
