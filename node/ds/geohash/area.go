package geohash

import "math"

// ShapeType is the kind of search area.
type ShapeType int

const (
	Circle ShapeType = iota + 1
	Box
)

// Shape is a search area around a centre, its sizes in the unit that
// Conversion turns into metres (Redis's GeoShape).
type Shape struct {
	Type       ShapeType
	Long, Lat  float64
	Conversion float64
	Radius     float64 // Circle
	Width      float64 // Box
	Height     float64 // Box
}

func degRad(d float64) float64 { return d * (math.Pi / 180.0) }
func radDeg(r float64) float64 { return r / (math.Pi / 180.0) }

// LatDistance is the distance in metres between two latitudes on one
// meridian.
func LatDistance(lat1, lat2 float64) float64 {
	return EarthRadius * math.Abs(degRad(lat2)-degRad(lat1))
}

// Distance is the haversine distance in metres between two points, as
// Redis computes it (a shortcut when the longitudes are equal).
func Distance(long1, lat1, long2, lat2 float64) float64 {
	long1r, long2r := degRad(long1), degRad(long2)
	v := sin((long2r - long1r) / 2)
	if v == 0 {
		return LatDistance(lat1, lat2)
	}
	lat1r, lat2r := degRad(lat1), degRad(lat2)
	u := sin((lat2r - lat1r) / 2)
	// The conversions keep each product rounded as in C (no fused
	// multiply-add).
	a := float64(u*u) + float64(float64(float64(cos(lat1r)*cos(lat2r))*v)*v)
	return 2.0 * EarthRadius * asin(math.Sqrt(a))
}

// Within reports whether the point (long, lat) is inside the shape, and
// its distance from the centre in metres.
func (sh *Shape) Within(long, lat float64) (float64, bool) {
	if sh.Type == Circle {
		d := Distance(sh.Long, sh.Lat, long, lat)
		return d, d <= sh.Radius*sh.Conversion
	}
	width, height := sh.Width*sh.Conversion, sh.Height*sh.Conversion
	// The latitude test is the cheaper one.
	if LatDistance(lat, sh.Lat) > height/2 {
		return 0, false
	}
	if Distance(long, lat, sh.Long, lat) > width/2 {
		return 0, false
	}
	return Distance(sh.Long, sh.Lat, long, lat), true
}

// EstimateSteps is the hash precision whose cells are about as large as
// a search of rangeMeters around latitude lat needs.
func EstimateSteps(rangeMeters, lat float64) uint8 {
	if rangeMeters == 0 {
		return 26
	}
	step := 1
	for rangeMeters < mercatorMax {
		rangeMeters *= 2
		step++
	}
	step -= 2
	// Cells narrow towards the poles.
	if lat > 66 || lat < -66 {
		step--
		if lat > 80 || lat < -80 {
			step--
		}
	}
	if step < 1 {
		step = 1
	}
	if step > 26 {
		step = 26
	}
	return uint8(step)
}

// BoundingBox returns the shape's bounds: min longitude, min latitude,
// max longitude, max latitude.
func (sh *Shape) BoundingBox() [4]float64 {
	var height, width float64
	if sh.Type == Circle {
		height = sh.Conversion * sh.Radius
		width = sh.Conversion * sh.Radius
	} else {
		height = sh.Conversion * (sh.Height / 2)
		width = sh.Conversion * (sh.Width / 2)
	}
	latDelta := radDeg(height / EarthRadius)
	longDeltaTop := radDeg(width / EarthRadius / cos(degRad(sh.Lat+latDelta)))
	longDeltaBottom := radDeg(width / EarthRadius / cos(degRad(sh.Lat-latDelta)))
	// The hemispheres widen towards opposite poles.
	var b [4]float64
	if sh.Lat < 0 {
		b[0] = sh.Long - longDeltaBottom
		b[2] = sh.Long + longDeltaBottom
	} else {
		b[0] = sh.Long - longDeltaTop
		b[2] = sh.Long + longDeltaTop
	}
	b[1] = sh.Lat - latDelta
	b[3] = sh.Lat + latDelta
	return b
}

// Cover is the cells to search for a shape: the centre's cell and its
// neighbours, those outside the shape's bounding box zeroed.
type Cover struct {
	Hash      Bits
	Neighbors Neighbors
	Area      Area
}

// Cells lists the centre cell then north, south, east, west, north-east,
// north-west, south-east and south-west: the order Redis searches them.
func (c *Cover) Cells() [9]Bits {
	n := &c.Neighbors
	return [9]Bits{c.Hash, n.North, n.South, n.East, n.West, n.NorthEast, n.NorthWest, n.SouthEast, n.SouthWest}
}

// CoverShape computes the cells a search of sh must scan
// (geohashCalculateAreasByShapeWGS84).
func CoverShape(sh *Shape) Cover {
	b := sh.BoundingBox()
	minLon, minLat, maxLon, maxLat := b[0], b[1], b[2], b[3]
	var radius float64
	if sh.Type == Circle {
		radius = sh.Radius
	} else {
		radius = math.Sqrt(float64((sh.Width/2)*(sh.Width/2)) + float64((sh.Height/2)*(sh.Height/2)))
	}
	radius *= sh.Conversion
	steps := EstimateSteps(radius, sh.Lat)
	hash, _ := EncodeWGS84(sh.Long, sh.Lat, steps)
	neighbors := NeighborsOf(hash)
	area, _ := DecodeWGS84(hash)

	// Near a cell edge the estimated step may leave part of the shape
	// outside the 3x3 cells: one step coarser then.
	north, _ := DecodeWGS84(neighbors.North)
	south, _ := DecodeWGS84(neighbors.South)
	east, _ := DecodeWGS84(neighbors.East)
	west, _ := DecodeWGS84(neighbors.West)
	decrease := north.Latitude.Max < maxLat || south.Latitude.Min > minLat ||
		east.Longitude.Max < maxLon || west.Longitude.Min > minLon
	if steps > 1 && decrease {
		steps--
		hash, _ = EncodeWGS84(sh.Long, sh.Lat, steps)
		neighbors = NeighborsOf(hash)
		area, _ = DecodeWGS84(hash)
	}

	if steps >= 2 {
		if area.Latitude.Min < minLat {
			neighbors.South, neighbors.SouthWest, neighbors.SouthEast = Bits{}, Bits{}, Bits{}
		}
		if area.Latitude.Max > maxLat {
			neighbors.North, neighbors.NorthEast, neighbors.NorthWest = Bits{}, Bits{}, Bits{}
		}
		if area.Longitude.Min < minLon {
			neighbors.West, neighbors.SouthWest, neighbors.NorthWest = Bits{}, Bits{}, Bits{}
		}
		if area.Longitude.Max > maxLon {
			neighbors.East, neighbors.SouthEast, neighbors.NorthEast = Bits{}, Bits{}, Bits{}
		}
	}
	return Cover{Hash: hash, Neighbors: neighbors, Area: area}
}

// ScoreRange is the range of 52-bit scores [min, max) that the cell h
// covers.
func ScoreRange(h Bits) (min, max uint64) {
	min = Align52(h)
	h.Bits++
	return min, Align52(h)
}
