package node

import (
	"math"
	"strconv"

	"github.com/keyfleet/keyfleet/node/ds/hll"
	"github.com/keyfleet/keyfleet/node/keyspace"
)

// HyperLogLog commands, as Redis 7.0's hyperloglog.c. The values are
// ordinary strings in Redis's own representation (node/ds/hll), changed
// in place, so GET, DUMP and replication see redis-server's bytes.

func init() {
	register(map[string]handler{
		"pfadd":      pfaddCommand,
		"pfcount":    pfcountCommand,
		"pfmerge":    pfmergeCommand,
		"pfdebug":    pfdebugCommand,
		"pfselftest": pfselftestCommand,
	})
}

const (
	errHLLInvalid   = "INVALIDOBJ Corrupted HLL object detected"
	errHLLWrongType = "WRONGTYPE Key is not a valid HyperLogLog string value."
)

// hllValue checks that o holds a HyperLogLog, replying the error when it
// does not (isHLLObjectOrReply).
func hllValue(c *Client, o *keyspace.Object) bool {
	if o.Type != keyspace.TypeString {
		c.Error(errWrongType)
		return false
	}
	if o.Enc == keyspace.EncInt || !hll.Valid(o.Str) {
		c.Error(errHLLWrongType)
		return false
	}
	return true
}

// unshareHLL makes a HyperLogLog about to be changed in place a raw
// string, as Redis's dbUnshareStringValue does.
func unshareHLL(o *keyspace.Object) {
	o.Enc, o.Shared = keyspace.EncRaw, false
}

// newHLLKey stores an empty HyperLogLog at key.
func (s *Server) newHLLKey(db *DB, key []byte) *keyspace.Object {
	return s.setKey(db, key, keyspace.Object{Type: keyspace.TypeString, Enc: keyspace.EncRaw, Str: hll.New()}, false)
}

func (s *Server) hllSparseMax() int64 { return s.cfg.HLLSparseMaxBytes }

func pfaddCommand(s *Server, c *Client, args [][]byte) {
	db, key := c.db, args[1]
	o := s.lookupWrite(db, key)
	updated := 0
	if o == nil {
		o = s.newHLLKey(db, key)
		updated++
	} else {
		if !hllValue(c, o) {
			return
		}
		unshareHLL(o)
	}
	for _, ele := range args[2:] {
		changed, err := hll.Add(&o.Str, ele, s.hllSparseMax())
		if err != nil {
			c.Error(errHLLInvalid)
			return
		}
		if changed {
			updated++
		}
	}
	if updated == 0 {
		c.Int(0)
		return
	}
	hll.InvalidateCache(o.Str)
	s.keyModified(db, key)
	s.notify(notifyString, "pfadd", key, db.id)
	s.dirty += int64(updated)
	s.propagate(db.id, args)
	c.Int(1)
}

func pfcountCommand(s *Server, c *Client, args [][]byte) {
	db := c.db
	if len(args) > 2 {
		// The cardinality of the union, from the maximum of each register.
		var regs [hll.Registers]uint8
		for _, key := range args[1:] {
			o := s.lookupRead(db, key)
			if o == nil {
				continue
			}
			if !hllValue(c, o) {
				return
			}
			if hll.Merge(&regs, o.Str) != nil {
				c.Error(errHLLInvalid)
				return
			}
		}
		c.Int(int64(hll.CountRegisters(&regs)))
		return
	}
	key := args[1]
	o := s.lookupRead(db, key)
	if o == nil {
		c.Int(0)
		return
	}
	if !hllValue(c, o) {
		return
	}
	unshareHLL(o)
	if card, ok := hll.CachedCard(o.Str); ok {
		c.Int(int64(card))
		return
	}
	card, err := hll.Count(o.Str)
	if err != nil {
		c.Error(errHLLInvalid)
		return
	}
	// Caching the estimate changes the string: replicas and the AOF get
	// the PFCOUNT itself, as Redis propagates it.
	hll.SetCachedCard(o.Str, card)
	s.keyModified(db, key)
	s.dirty++
	s.propagate(db.id, args)
	c.Int(int64(card))
}

func pfmergeCommand(s *Server, c *Client, args [][]byte) {
	db := c.db
	var regs [hll.Registers]uint8
	useDense := false
	// The destination's own registers are part of the union.
	for _, key := range args[1:] {
		o := s.lookupRead(db, key)
		if o == nil {
			continue
		}
		if !hllValue(c, o) {
			return
		}
		if hll.IsDense(o.Str) {
			useDense = true
		}
		if hll.Merge(&regs, o.Str) != nil {
			c.Error(errHLLInvalid)
			return
		}
	}
	key := args[1]
	o := s.lookupWrite(db, key)
	if o == nil {
		o = s.newHLLKey(db, key)
	} else {
		unshareHLL(o)
	}
	if useDense && hll.SparseToDense(&o.Str) != nil {
		c.Error(errHLLInvalid)
		return
	}
	for i, v := range regs {
		if v != 0 {
			// The destination was validated as a source: a corruption
			// cannot show up here.
			hll.Set(&o.Str, i, v, s.hllSparseMax())
		}
	}
	hll.InvalidateCache(o.Str)
	s.keyModified(db, key)
	s.notify(notifyString, "pfadd", key, db.id)
	s.dirty++
	s.propagate(db.id, args)
	c.OK()
}

func pfdebugCommand(s *Server, c *Client, args [][]byte) {
	db, key := c.db, args[2]
	o := s.lookupWrite(db, key)
	if o == nil {
		c.Error("ERR The specified key does not exist")
		return
	}
	if !hllValue(c, o) {
		return
	}
	unshareHLL(o)
	// todense converts a sparse value; a conversion is a change that
	// propagates (Redis counts it dirty so replicas convert too).
	todense := func() (bool, bool) {
		if hll.IsDense(o.Str) {
			return false, true
		}
		if hll.SparseToDense(&o.Str) != nil {
			c.Error(errHLLInvalid)
			return false, false
		}
		s.keyModified(db, key)
		s.dirty++
		s.propagate(db.id, args)
		return true, true
	}
	switch sub := args[1]; {
	case isWord(sub, "getreg"):
		if _, ok := todense(); !ok {
			return
		}
		regs := o.Str[hll.HeaderSize:]
		c.ArrayLen(hll.Registers)
		for i := 0; i < hll.Registers; i++ {
			c.Int(int64(hll.DenseGet(regs, i)))
		}
	case isWord(sub, "decode"):
		if hll.IsDense(o.Str) {
			c.Error("ERR HLL encoding is not sparse")
			return
		}
		c.BulkString(hll.Decode(o.Str))
	case isWord(sub, "encoding"):
		c.Status(hll.Encoding(o.Str))
	case isWord(sub, "todense"):
		converted, ok := todense()
		if !ok {
			return
		}
		if converted {
			c.Int(1)
		} else {
			c.Int(0)
		}
	default:
		c.Error("ERR Unknown PFDEBUG subcommand '" + string(sub) + "'")
	}
}

// pfselftestCommand checks the register packing and the estimator as
// Redis's PFSELFTEST does: random register values read back, then ten
// million adds to a dense and a sparse HyperLogLog that must agree with
// each other and stay within six standard errors.
func pfselftestCommand(s *Server, c *Client, args [][]byte) {
	const cycles = 1000
	dense := make([]byte, hll.DenseSize)
	regs := dense[hll.HeaderSize:]
	var want [hll.Registers]uint8
	for j := 0; j < cycles; j++ {
		for i := range want {
			r := uint8(s.rng.Uint32() & 63)
			want[i] = r
			hll.DenseSetReg(regs, i, r)
		}
		for i := range want {
			if v := hll.DenseGet(regs, i); v != want[i] {
				c.Error("ERR TESTFAILED Register " + strconv.Itoa(i) + " should be " +
					strconv.Itoa(int(want[i])) + " but is " + strconv.Itoa(int(v)))
				return
			}
		}
	}

	clear(regs)
	copy(dense, "HYLL")
	sparse := hll.New()
	relerr := 1.04 / math.Sqrt(hll.Registers)
	checkpoint := int64(1)
	seed := s.rng.Uint64()
	var ele [8]byte
	for j := int64(1); j <= 10000000; j++ {
		e := uint64(j) ^ seed
		for k := range ele {
			ele[k] = byte(e >> (8 * k))
		}
		hll.Add(&dense, ele[:], s.hllSparseMax())
		if _, err := hll.Add(&sparse, ele[:], s.hllSparseMax()); err != nil {
			c.Error("ERR TESTFAILED sparse representation corrupted")
			return
		}
		if j != checkpoint {
			continue
		}
		if j < s.hllSparseMax()/2 && hll.IsDense(sparse) {
			c.Error("ERR TESTFAILED sparse encoding not used")
			return
		}
		dc, _ := hll.Count(dense)
		sc, _ := hll.Count(sparse)
		if dc != sc {
			c.Error("ERR TESTFAILED dense/sparse disagree")
			return
		}
		abserr := checkpoint - int64(dc)
		maxerr := int64(math.Ceil(relerr * 6 * float64(checkpoint)))
		// At cardinality 10 a collision is statistically likely enough
		// to exceed the bound now and then.
		if j == 10 {
			maxerr = 1
		}
		if abserr < 0 {
			abserr = -abserr
		}
		if abserr > maxerr {
			c.Error("ERR TESTFAILED Too big error. card:" + strconv.FormatInt(checkpoint, 10) +
				" abserr:" + strconv.FormatInt(abserr, 10))
			return
		}
		checkpoint *= 10
	}
	c.OK()
}
