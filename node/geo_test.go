package node

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// The expected replies come from redis-server 7.0.15.
func TestGeoCommands(t *testing.T) {
	s, rc := testServer(t, nil)
	putObject(s, 0, "str", listObject())
	steps := []step{
		{cmd("geoadd", "Sicily", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania"), 2},
		{cmd("geoadd", "Sicily", "xx", "ch", "13.361389", "38.115556", "Palermo", "1", "1", "new"), 0},
		{cmd("geoadd", "Sicily", "nx", "ch", "13", "38", "Palermo", "1", "1", "new"), 1},
		{cmd("zscore", "Sicily", "Palermo"), "3479099956230698"},
		{cmd("zscore", "Sicily", "new"), "3377822707026402"},
		{cmd("geoadd", "Sicily", "CH", "1", "2", "new"), 1},
		{cmd("zscore", "Sicily", "new"), "3378080408407459"},
		{cmd("geoadd", "Sicily", "nx", "xx", "1", "1", "a"), errReply("ERR syntax error")},
		{cmd("geoadd", "Sicily", "1", "1", "a", "2"), errReply("ERR syntax error")},
		{cmd("geoadd", "Sicily", "abc", "1", "a"), errReply("ERR value is not a valid float")},
		{cmd("geoadd", "Sicily", "1", "86", "a"), errReply("ERR invalid longitude,latitude pair 1.000000,86.000000")},
		{cmd("geoadd", "Sicily", "inf", "0", "a"), errReply("ERR invalid longitude,latitude pair inf,0.000000")},
		{cmd("geoadd", "Sicily", "-180.5", "0", "a"), errReply("ERR invalid longitude,latitude pair -180.500000,0.000000")},
		{cmd("geoadd", "str", "1", "1", "a"), errReply("WRONGTYPE")},
		{cmd("zrem", "Sicily", "new"), 1},

		{cmd("geodist", "Sicily", "Palermo", "Catania"), "166274.1516"},
		{cmd("geodist", "Sicily", "Palermo", "Catania", "KM"), "166.2742"},
		{cmd("geodist", "Sicily", "Palermo", "Catania", "mi"), "103.3182"},
		{cmd("geodist", "Sicily", "Palermo", "Catania", "ft"), "545518.8700"},
		{cmd("geodist", "Sicily", "Palermo", "Palermo"), "0.0000"},
		{cmd("geodist", "Sicily", "Palermo", "Catania", "yd"), errReply("ERR unsupported unit provided. please use M, KM, FT, MI")},
		{cmd("geodist", "Sicily", "Palermo", "Catania", "km", "x"), errReply("ERR syntax error")},
		{cmd("geodist", "Sicily", "Palermo", "nope"), nil},
		{cmd("geodist", "nokey", "a", "b"), nil},
		{cmd("geodist", "str", "a", "b"), errReply("WRONGTYPE")},

		{cmd("geohash", "Sicily", "Palermo", "Catania", "x"), []any{"sqc8b49rny0", "sqdtr74hyu0", nil}},
		{cmd("geohash", "nokey", "a"), []any{nil}},
		{cmd("geohash", "str", "a"), errReply("WRONGTYPE")},
		{cmd("geopos", "Sicily", "Palermo", "x"), []any{[]any{"13.36138933897018433", "38.11555639549629859"}, nil}},
		{cmd("geopos", "nokey", "a"), []any{nil}},
		{cmd("geopos", "str", "a"), errReply("WRONGTYPE")},

		{cmd("georadius", "Sicily", "15", "37", "200", "km", "WITHDIST", "WITHCOORD", "withhash", "asc"), []any{
			[]any{"Catania", "56.4413", 3479447370796909, []any{"15.08726745843887329", "37.50266842333162032"}},
			[]any{"Palermo", "190.4424", 3479099956230698, []any{"13.36138933897018433", "38.11555639549629859"}},
		}},
		{cmd("georadius", "Sicily", "15", "37", "200", "km", "desc"), []any{"Palermo", "Catania"}},
		{cmd("georadius", "Sicily", "15", "37", "100", "km"), []any{"Catania"}},
		{cmd("georadius", "Sicily", "15", "37", "200", "parsec"), errReply("ERR unsupported unit provided. please use M, KM, FT, MI")},
		{cmd("georadius", "Sicily", "15", "37", "-1", "m"), errReply("ERR radius cannot be negative")},
		{cmd("georadius", "Sicily", "15", "37", "x", "m"), errReply("ERR need numeric radius")},
		{cmd("georadius", "Sicily", "15", "97", "1", "m"), errReply("ERR invalid longitude,latitude pair 15.000000,97.000000")},
		{cmd("georadius", "Sicily", "15", "37", "200", "km", "store", "dst", "withdist"),
			errReply("ERR STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD options")},
		{cmd("georadius", "Sicily", "15", "37", "200", "km", "bogus"), errReply("ERR syntax error")},
		{cmd("georadius", "Sicily", "15", "37", "200", "km", "count"), errReply("ERR syntax error")},
		{cmd("georadius_ro", "Sicily", "15", "37", "200", "km", "store", "x"), errReply("ERR syntax error")},
		{cmd("georadius", "nokey", "15", "37", "200", "km"), []any{}},
		{cmd("georadius", "str", "15", "37", "200", "km"), errReply("WRONGTYPE")},
		{cmd("georadiusbymember", "Sicily", "Palermo", "200", "km", "count", "1", "withdist"), []any{[]any{"Palermo", "0.0000"}}},
		{cmd("georadiusbymember_ro", "Sicily", "Palermo", "200", "km", "desc"), []any{"Catania", "Palermo"}},
		{cmd("georadiusbymember", "Sicily", "m", "1", "km"), errReply("ERR could not decode requested zset member")},
		{cmd("georadiusbymember", "nokey", "m", "abc", "km"), []any{}},
		{cmd("georadiusbymember", "nokey", "m", "abc", "km", "store", "d"), 0},

		{cmd("geosearch", "Sicily", "frommember", "Palermo", "byradius", "200", "km", "count", "1", "desc"), []any{"Catania"}},
		{cmd("geosearch", "Sicily", "fromlonlat", "15", "37", "bybox", "400", "400", "km", "asc", "withdist"), []any{
			[]any{"Catania", "56.4413"}, []any{"Palermo", "190.4424"}}},
		{cmd("geosearch", "Sicily", "fromlonlat", "15", "37", "bybox", "200", "200", "km"), []any{"Catania"}},
		{cmd("geosearch", "Sicily", "fromlonlat", "15", "37", "byradius", "200", "km", "count", "1", "any"), []any{"Palermo"}},
		{cmd("geosearch", "Sicily", "frommember", "nope", "byradius", "200", "km"), errReply("ERR could not decode requested zset member")},
		{cmd("geosearch", "Sicily", "fromlonlat", "15", "37", "byradius", "-1", "km"), errReply("ERR radius cannot be negative")},
		{cmd("geosearch", "Sicily", "fromlonlat", "15", "37", "bybox", "1", "abc", "km"), errReply("ERR need numeric height")},
		{cmd("geosearch", "Sicily", "fromlonlat", "15", "37", "bybox", "abc", "1", "km"), errReply("ERR need numeric width")},
		{cmd("geosearch", "Sicily", "fromlonlat", "15", "37", "bybox", "1", "-1", "km"), errReply("ERR height or width cannot be negative")},
		{cmd("geosearch", "Sicily", "fromlonlat", "15", "37", "byradius", "1", "km", "any"), errReply("ERR the ANY argument requires COUNT argument")},
		{cmd("geosearch", "Sicily", "fromlonlat", "15", "37", "byradius", "1", "km", "count", "0"), errReply("ERR COUNT must be > 0")},
		{cmd("geosearch", "Sicily", "fromlonlat", "15", "37", "byradius", "1", "km", "count", "x"), errReply("ERR value is not an integer or out of range")},
		{cmd("geosearch", "Sicily", "fromlonlat", "15", "37", "byradius", "1", "km", "store", "x"), errReply("ERR syntax error")},
		{cmd("geosearch", "Sicily", "frommember", "Palermo", "fromlonlat", "15", "37", "byradius", "1", "km"), errReply("ERR syntax error")},
		{cmd("geosearch", "Sicily", "fromlonlat", "15", "37", "byradius", "1", "km", "bybox", "1", "1", "km"), errReply("ERR syntax error")},
		{cmd("GeoSearch", "Sicily", "byradius", "1", "km", "asc", "withdist"), errReply("ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for GeoSearch")},
		{cmd("geosearch", "Sicily", "fromlonlat", "1", "1", "asc", "desc"), errReply("ERR exactly one of BYRADIUS and BYBOX can be specified for geosearch")},
		{cmd("geosearch", "nokey", "frommember", "x", "byradius", "1", "km"), []any{}},

		{cmd("geosearchstore", "dst", "Sicily", "fromlonlat", "15", "37", "byradius", "200", "km", "withcoord"),
			errReply("ERR GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options")},
		{cmd("geosearchstore", "dst", "Sicily", "fromlonlat", "15", "37", "byradius", "200", "km", "storedist"), 2},
		{cmd("zrange", "dst", "0", "-1", "withscores"), []any{"Catania", "56.441257870158204", "Palermo", "190.44242984775784"}},
		{cmd("object", "encoding", "dst"), "listpack"},
		{cmd("georadius", "Sicily", "15", "37", "100", "km", "store", "dst"), 1},
		{cmd("zrange", "dst", "0", "-1", "withscores"), []any{"Catania", "3479447370796909"}},
		{cmd("georadius", "Sicily", "15", "37", "1", "m", "store", "dst"), 0},
		{cmd("exists", "dst"), 0},
	}
	runSteps(t, rc, steps)
}

// TestGeoRESP3 checks the RESP3 shapes: coordinates are doubles in the
// human format, distances stay bulk strings, hashes integers.
func TestGeoRESP3(t *testing.T) {
	s, _ := testServer(t, nil)
	rc := dialRESP(t, s.Addr().String())
	rc.do("hello", "3")
	rc.do("geoadd", "Sicily", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"geopos", "Sicily", "Palermo", "nope"}, "*2\r\n*2\r\n,13.36138933897018433\r\n,38.11555639549629859\r\n_\r\n"},
		{[]string{"geodist", "Sicily", "Palermo", "Catania", "km"}, "$8\r\n166.2742\r\n"},
		{[]string{"geodist", "Sicily", "Palermo", "nope"}, "_\r\n"},
		{[]string{"geohash", "Sicily", "nope"}, "*1\r\n_\r\n"},
		{[]string{"geosearch", "Sicily", "frommember", "Catania", "byradius", "1", "m", "withcoord", "withdist", "withhash"},
			"*1\r\n*4\r\n$7\r\nCatania\r\n$6\r\n0.0000\r\n:3479447370796909\r\n*2\r\n,15.08726745843887329\r\n,37.50266842333162032\r\n"},
	} {
		if got := rc.do(tt.args...); got != tt.want {
			t.Errorf("%q: %q, want %q", tt.args, got, tt.want)
		}
	}
}

// TestGeoPropagation checks what the commands propagate and notify: GEOADD
// as the ZADD it runs (as Redis replaces its argv), stores as themselves.
func TestGeoPropagation(t *testing.T) {
	s, rc := testServer(t, nil)
	r := record(s)
	ctx := context.Background()
	do := func(args ...any) {
		t.Helper()
		if err := rc.Do(ctx, args...).Err(); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
	}
	for _, tt := range []struct {
		args         []any
		prop, events []string
	}{
		{[]any{"geoadd", "k", "ch", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania"},
			[]string{"zadd k ch 3479099956230698 Palermo 3479447370796909 Catania"}, []string{"new:k", "zadd:k"}},
		{[]any{"geoadd", "k", "nx", "1", "1", "Palermo"}, nil, nil},
		{[]any{"geosearchstore", "d", "k", "frommember", "Palermo", "byradius", "500", "km"},
			[]string{"geosearchstore d k frommember Palermo byradius 500 km"}, []string{"new:d", "geosearchstore:d"}},
		{[]any{"georadius", "k", "15", "37", "200", "km", "storedist", "d"},
			[]string{"georadius k 15 37 200 km storedist d"}, []string{"georadiusstore:d"}},
		{[]any{"georadius", "k", "15", "37", "1", "m", "store", "d"},
			[]string{"georadius k 15 37 1 m store d"}, []string{"del:d"}},
		{[]any{"georadius", "k", "15", "37", "1", "m", "store", "d"}, nil, nil},
		{[]any{"georadius", "k", "15", "37", "200", "km"}, nil, nil},
	} {
		s.mu.Lock()
		dirty := s.dirty
		s.mu.Unlock()
		do(tt.args...)
		prop, events := r.take()
		if fmt.Sprint(prop) != fmt.Sprint(tt.prop) || fmt.Sprint(events) != fmt.Sprint(tt.events) {
			t.Errorf("%v: propagated %q, notified %q; want %q, %q", tt.args, prop, events, tt.prop, tt.events)
		}
		s.mu.Lock()
		changed := s.dirty != dirty
		s.mu.Unlock()
		if changed != (tt.prop != nil) {
			t.Errorf("%v: dirty changed %v", tt.args, changed)
		}
	}
}

// TestGeoDifferential sends random points and searches to the node and to
// redis-server 7.0.15 in RESP2 and RESP3 and compares the raw replies:
// scores, distances, coordinates and order must be identical.
func TestGeoDifferential(t *testing.T) {
	ref := startRedisServer(t)
	s, _ := testServer(t, nil)
	r := rand.New(rand.NewPCG(11, 12))
	ff := func(lo, hi float64) string {
		return strconv.FormatFloat(lo+r.Float64()*(hi-lo), 'f', r.IntN(8), 64)
	}
	units := []string{"m", "km", "ft", "mi", "KM"}
	for round := 0; round < 6; round++ {
		node, real := dialRESP(t, s.Addr().String()), dialRESP(t, ref)
		var script [][]string
		proto := "2"
		if round%2 == 1 {
			proto = "3"
		}
		script = append(script, []string{"hello", proto}, []string{"flushall"})
		// Small sets stay listpacks; the others become skiplists.
		script = append(script, []string{"config", "set", "zset-max-listpack-entries", strconv.Itoa([]int{128, 4, 0}[round%3])})
		// A cluster somewhere, points spread over the world, points at the
		// edges, and duplicates (equal distances test the sort's ties).
		cx, cy := r.Float64()*340-170, r.Float64()*160-80
		members := 0
		add := func(lon, lat string) {
			script = append(script, []string{"geoadd", "pts", lon, lat, "m" + strconv.Itoa(members)})
			members++
		}
		for i := 0; i < 150; i++ {
			switch r.IntN(6) {
			case 0:
				add(ff(-180, 180), ff(-85.05112878, 85.05112878))
			case 1:
				add([]string{"-180", "180", "0", "179.9999"}[r.IntN(4)], []string{"85.05112878", "-85.05112878", "0", "85"}[r.IntN(4)])
			case 2:
				add(strconv.FormatFloat(cx, 'f', 3, 64), strconv.FormatFloat(cy, 'f', 3, 64))
			default:
				add(strconv.FormatFloat(math.Max(-180, math.Min(180, cx+r.NormFloat64())), 'f', 5, 64),
					strconv.FormatFloat(math.Max(-85, math.Min(85, cy+r.NormFloat64())), 'f', 5, 64))
			}
		}
		script = append(script, []string{"zrange", "pts", "0", "-1", "withscores"})
		for i := 0; i < 120; i++ {
			var q []string
			if r.IntN(2) == 0 {
				q = []string{"geosearch", "pts", "frommember", "m" + strconv.Itoa(r.IntN(members+2))}
			} else {
				lon, lat := ff(-180, 180), ff(-85, 85)
				if r.IntN(2) == 0 {
					lon, lat = strconv.FormatFloat(cx, 'f', 2, 64), strconv.FormatFloat(cy, 'f', 2, 64)
				}
				q = []string{"geosearch", "pts", "fromlonlat", lon, lat}
			}
			size := []func() string{
				func() string { return ff(0, 2) },
				func() string { return ff(0, 300) },
				func() string { return ff(0, 20000) },
				func() string { return ff(0, 1e7) },
			}[r.IntN(4)]
			if r.IntN(2) == 0 {
				q = append(q, "byradius", size(), units[r.IntN(len(units))])
			} else {
				q = append(q, "bybox", size(), size(), units[r.IntN(len(units))])
			}
			for _, opt := range []string{"withdist", "withcoord", "withhash", "asc", "desc"} {
				if r.IntN(3) == 0 {
					q = append(q, opt)
				}
			}
			if r.IntN(2) == 0 {
				q = append(q, "count", strconv.Itoa(1+r.IntN(20)))
				if r.IntN(4) == 0 {
					q = append(q, "any")
				}
			}
			script = append(script, q)
			switch r.IntN(4) {
			case 0:
				// The same search through GEORADIUS[BYMEMBER] and a store.
				if q[2] == "frommember" && q[4] == "byradius" {
					script = append(script, append([]string{"georadiusbymember", "pts", q[3], q[5], q[6]}, q[7:]...))
				} else if q[2] == "fromlonlat" && q[5] == "byradius" {
					script = append(script, append([]string{"georadius", "pts", q[3], q[4], q[6], q[7]}, q[8:]...))
				}
			case 1:
				st := []string{"geosearchstore", "dst"}
				for _, a := range q[1:] {
					if !strings.HasPrefix(a, "with") {
						st = append(st, a)
					}
				}
				if r.IntN(2) == 0 {
					st = append(st, "storedist")
				}
				script = append(script, st, []string{"zrange", "dst", "0", "-1", "withscores"}, []string{"object", "encoding", "dst"})
			}
			if r.IntN(5) == 0 {
				a, b := "m"+strconv.Itoa(r.IntN(members+1)), "m"+strconv.Itoa(r.IntN(members))
				script = append(script, []string{"geodist", "pts", a, b, units[r.IntN(len(units))]},
					[]string{"geohash", "pts", a, b}, []string{"geopos", "pts", a, b})
			}
		}
		for i, c := range script {
			got, want := node.do(c...), real.do(c...)
			if i == 0 {
				continue // HELLO: the connection ids differ
			}
			if got != want && !(c[0] == "zrange" && withinULP(got, want)) {
				t.Fatalf("round %d %q: %s\n node:  %q\n redis: %q", round, c, firstDiff(got, want), got, want)
			}
		}
	}
	// Scores that no GEOADD writes still decode as Redis decodes them.
	node, real := dialRESP(t, s.Addr().String()), dialRESP(t, ref)
	for _, c := range [][]string{
		{"zadd", "odd", "-1", "neg", "inf", "pinf", "-inf", "ninf", "1e300", "big", "4503599627370496", "bit52", "0", "zero", "1.5", "frac"},
		{"geopos", "odd", "neg", "pinf", "ninf", "big", "bit52", "zero", "frac"},
		{"geohash", "odd", "neg", "pinf", "ninf", "big", "bit52", "zero", "frac"},
		{"geodist", "odd", "neg", "big"},
		{"geosearch", "odd", "fromlonlat", "0", "0", "byradius", "40000", "km", "withcoord", "withdist", "withhash"},
	} {
		if got, want := node.do(c...), real.do(c...); got != want {
			t.Errorf("%q:\n node:  %q\n redis: %q", c, got, want)
		}
	}
}

// withinULP reports whether two raw replies are equal but for numbers a
// few ulps apart. glibc's sin, cos and asin are not always correctly
// rounded (errors up to about 0.52 ulp) while geohash's are, so a distance
// stored by STOREDIST can differ in its last bits from redis-server's.
func withinULP(a, b string) bool {
	as, bs := strings.Split(a, "\r\n"), strings.Split(b, "\r\n")
	if len(as) != len(bs) {
		return false
	}
	for i := range as {
		if as[i] == bs[i] || (strings.HasPrefix(as[i], "$") && strings.HasPrefix(bs[i], "$")) {
			continue
		}
		x, err1 := strconv.ParseFloat(strings.TrimPrefix(as[i], ","), 64)
		y, err2 := strconv.ParseFloat(strings.TrimPrefix(bs[i], ","), 64)
		if err1 != nil || err2 != nil || math.Abs(x-y) > 1e-13*math.Abs(y) {
			return false
		}
	}
	return true
}

// firstDiff names the first line where two raw replies differ.
func firstDiff(a, b string) string {
	as, bs := strings.Split(a, "\r\n"), strings.Split(b, "\r\n")
	for i := 0; i < len(as) && i < len(bs); i++ {
		if as[i] != bs[i] {
			return fmt.Sprintf("line %d: %q vs %q", i, as[i], bs[i])
		}
	}
	return "lengths differ"
}
