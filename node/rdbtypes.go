package node

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/keyfleet/keyfleet/node/ds/dict"
	"github.com/keyfleet/keyfleet/node/ds/intset"
	"github.com/keyfleet/keyfleet/node/ds/listpack"
	"github.com/keyfleet/keyfleet/node/ds/quicklist"
	"github.com/keyfleet/keyfleet/node/keyspace"
	"github.com/keyfleet/keyfleet/node/rdb"
)

// The value codecs of the RDB format, one per type, registered like
// COPY's typeOps: a saver per keyspace type (it writes the RDB type byte
// and the value) and a loader per RDB type byte (every byte Redis 7.0
// still loads, old encodings included). Streams plug in by registering
// theirs.

// rdbSaver writes o's RDB type byte, key (nil in a DUMP payload) and
// serialized value: rdbTypeKey writes the first two.
type rdbSaver func(w *rdb.Writer, o *keyspace.Object, key []byte)

// rdbTypeKey writes a value's type byte and, in a file, its key.
func rdbTypeKey(w *rdb.Writer, t byte, key []byte) {
	w.Byte(t)
	if key != nil {
		w.String(key)
	}
}

// rdbLoader reads a value of RDB type t, converting it to the encoding
// this server's thresholds call for. deep asks for the full integrity
// checks (sanitize-dump-payload): duplicates, orders.
type rdbLoader func(s *Server, r *rdb.Reader, t byte, deep bool) (keyspace.Object, error)

var (
	rdbSavers  [16]rdbSaver
	rdbLoaders [32]rdbLoader
)

// registerRDBType registers t's saver and the loaders of the RDB type
// bytes that produce values of t.
func registerRDBType(t keyspace.Type, save rdbSaver, loaders map[byte]rdbLoader) {
	if rdbSavers[t] != nil {
		panic("node: RDB codec registered twice for " + t.String())
	}
	rdbSavers[t] = save
	for b, l := range loaders {
		rdbLoaders[b] = l
	}
}

// errEmptyKey is a value that loads as nothing (an empty list or set):
// a file load skips the key, RESTORE refuses it.
var errEmptyKey = errors.New("empty keys are not allowed")

func init() {
	registerRDBType(keyspace.TypeString, rdbSaveString, map[byte]rdbLoader{rdb.TypeString: rdbLoadString})
	registerRDBType(keyspace.TypeList, rdbSaveList, map[byte]rdbLoader{
		rdb.TypeList: rdbLoadList, rdb.TypeListZiplist: rdbLoadList,
		rdb.TypeListQuicklist: rdbLoadList, rdb.TypeListQuicklist2: rdbLoadList,
	})
	registerRDBType(keyspace.TypeSet, rdbSaveSet, map[byte]rdbLoader{rdb.TypeSet: rdbLoadSet, rdb.TypeSetIntset: rdbLoadSet})
	registerRDBType(keyspace.TypeZSet, rdbSaveZset, map[byte]rdbLoader{
		rdb.TypeZSet: rdbLoadZset, rdb.TypeZSet2: rdbLoadZset,
		rdb.TypeZSetZiplist: rdbLoadZset, rdb.TypeZSetListpack: rdbLoadZset,
	})
	registerRDBType(keyspace.TypeHash, rdbSaveHash, map[byte]rdbLoader{
		rdb.TypeHash: rdbLoadHash, rdb.TypeHashZipmap: rdbLoadHash,
		rdb.TypeHashZiplist: rdbLoadHash, rdb.TypeHashListpack: rdbLoadHash,
	})
}

// saveObject writes o's type byte, key (unless nil) and value; false
// when the type has no codec.
func saveObject(w *rdb.Writer, o *keyspace.Object, key []byte) bool {
	f := rdbSavers[o.Type]
	if f == nil {
		return false
	}
	f(w, o, key)
	return true
}

// loadObject reads a value of RDB type t.
func (s *Server) loadObject(r *rdb.Reader, t byte, deep bool) (keyspace.Object, error) {
	if int(t) >= len(rdbLoaders) || rdbLoaders[t] == nil {
		return keyspace.Object{}, r.Errorf("unknown RDB object type %d", t)
	}
	return rdbLoaders[t](s, r, t, deep)
}

func rdbSaveString(w *rdb.Writer, o *keyspace.Object, key []byte) {
	rdbTypeKey(w, rdb.TypeString, key)
	w.String(o.Str)
}

func rdbLoadString(s *Server, r *rdb.Reader, _ byte, _ bool) (keyspace.Object, error) {
	v, err := r.String()
	if err != nil {
		return keyspace.Object{}, err
	}
	o := keyspace.Object{Type: keyspace.TypeString, Str: v}
	s.setStringEnc(&o, stringEncoding(v))
	return o, nil
}

// rdbSaveList writes the quicklist node by node (QUICKLIST_2): compressed
// nodes go out as their LZF bytes, as Redis does, so nothing is
// recompressed.
func rdbSaveList(w *rdb.Writer, o *keyspace.Object, key []byte) {
	ql := listOf(o)
	rdbTypeKey(w, rdb.TypeListQuicklist2, key)
	w.Len(uint64(ql.Nodes()))
	ql.EachNode(func(n quicklist.NodeInfo) bool {
		if n.Plain {
			w.Len(rdb.ContainerPlain)
		} else {
			w.Len(rdb.ContainerPacked)
		}
		if n.Compressed != nil {
			w.LZFBlob(n.Compressed, n.Size)
		} else {
			w.Blob(n.Data)
		}
		return true
	})
}

func rdbLoadList(s *Server, r *rdb.Reader, t byte, deep bool) (keyspace.Object, error) {
	o := s.newListObject()
	ql := listOf(&o)
	ql.SetPackedThreshold(int(s.quicklistPackedThreshold()))
	switch t {
	case rdb.TypeList:
		n, err := r.Count(1)
		if err != nil {
			return o, err
		}
		for range n {
			v, err := r.String()
			if err != nil {
				return o, err
			}
			ql.PushTail(v)
		}
	case rdb.TypeListZiplist:
		b, err := r.String()
		if err != nil {
			return o, err
		}
		es, err := rdb.Ziplist(b)
		if err != nil {
			return o, r.Errorf("list ziplist: %v", err)
		}
		for _, e := range es {
			ql.PushTail(e.Append(nil))
		}
	case rdb.TypeListQuicklist, rdb.TypeListQuicklist2:
		n, err := r.Count(2)
		if err != nil {
			return o, err
		}
		for range n {
			container := uint64(rdb.ContainerPacked)
			if t == rdb.TypeListQuicklist2 {
				if container, err = r.Len(); err != nil {
					return o, err
				}
				if container != rdb.ContainerPlain && container != rdb.ContainerPacked {
					return o, r.Errorf("quicklist container %d", container)
				}
			}
			b, err := r.String()
			if err != nil {
				return o, err
			}
			switch {
			case container == rdb.ContainerPlain:
				ql.AppendPlain(b)
			case t == rdb.TypeListQuicklist:
				es, err := rdb.Ziplist(b)
				if err != nil {
					return o, r.Errorf("quicklist ziplist: %v", err)
				}
				for _, e := range es {
					ql.PushTail(e.Append(nil))
				}
			default:
				if err := listpack.Validate(b, nil); err != nil {
					return o, r.Errorf("quicklist listpack: %v", err)
				}
				if listpack.Listpack(b).Len() == 0 {
					// Redis skips empty nodes (they can exist in old files).
					continue
				}
				ql.AppendListpack(b)
			}
		}
	}
	if ql.Len() == 0 {
		return o, errEmptyKey
	}
	return o, nil
}

func rdbSaveSet(w *rdb.Writer, o *keyspace.Object, key []byte) {
	if o.Enc == keyspace.EncIntset {
		rdbTypeKey(w, rdb.TypeSetIntset, key)
		w.Blob(o.Str)
		return
	}
	d := setHT(o)
	rdbTypeKey(w, rdb.TypeSet, key)
	w.Len(uint64(d.Len()))
	d.Each(func(k string, _ struct{}) bool {
		w.String([]byte(k))
		return true
	})
}

func rdbLoadSet(s *Server, r *rdb.Reader, t byte, deep bool) (keyspace.Object, error) {
	if t == rdb.TypeSetIntset {
		b, err := r.String()
		if err != nil {
			return keyspace.Object{}, err
		}
		if err := intset.Validate(b, true); err != nil {
			return keyspace.Object{}, r.Errorf("intset: %v", err)
		}
		o := keyspace.Object{Type: keyspace.TypeSet, Enc: keyspace.EncIntset, Str: b}
		if n := intset.Len(b); n == 0 {
			return o, errEmptyKey
		} else if n > s.maxIntsetEntries() {
			setConvertToHT(&o, n)
		}
		return o, nil
	}
	n, err := r.Count(1)
	if err != nil {
		return keyspace.Object{}, err
	}
	if n == 0 {
		return keyspace.Object{}, errEmptyKey
	}
	var o keyspace.Object
	if n > s.maxIntsetEntries() {
		o = keyspace.Object{Type: keyspace.TypeSet, Enc: keyspace.EncHashtable, Val: dict.New[struct{}](n)}
	}
	for i := range n {
		v, err := r.String()
		if err != nil {
			return o, err
		}
		if i == 0 && o.Type == keyspace.TypeNone {
			o = newSetFor(v)
		}
		if !s.setAdd(&o, v) {
			return o, r.Errorf("duplicate set members detected")
		}
	}
	return o, nil
}

// rdbSaveZset writes a listpack as is, a skiplist from the highest score
// down (ZSET_2) so that loading inserts at the head each time.
func rdbSaveZset(w *rdb.Writer, o *keyspace.Object, key []byte) {
	if o.Enc == keyspace.EncListpack {
		rdbTypeKey(w, rdb.TypeZSetListpack, key)
		w.Blob(o.Str)
		return
	}
	z := zsl(o)
	rdbTypeKey(w, rdb.TypeZSet2, key)
	w.Len(uint64(z.zsl.Len()))
	for n := z.zsl.Last(); n != nil; n = n.Prev() {
		w.String([]byte(n.Ele()))
		w.BinaryDouble(n.Score())
	}
}

func rdbLoadZset(s *Server, r *rdb.Reader, t byte, deep bool) (keyspace.Object, error) {
	if t == rdb.TypeZSetZiplist || t == rdb.TypeZSetListpack {
		lp, err := rdbLoadPairs(r, t == rdb.TypeZSetZiplist)
		if err != nil {
			return keyspace.Object{}, err
		}
		o := keyspace.Object{Type: keyspace.TypeZSet, Enc: keyspace.EncListpack, Str: lp}
		if lp.Len() == 0 {
			return o, errEmptyKey
		}
		seen := make(map[string]struct{}, lp.Len()/2)
		for p := lp.First(); p >= 0; p = lp.Next(lp.Next(p)) {
			e := lp.Get(lp.Next(p))
			if !e.IsInt {
				if _, err := strconv.ParseFloat(string(e.Str), 64); err != nil {
					return o, r.Errorf("sorted set score %q", e.Str)
				}
			}
			m := lp.Get(p).String()
			if _, dup := seen[m]; dup {
				return o, r.Errorf("duplicate sorted set members detected")
			}
			seen[m] = struct{}{}
		}
		if int64(zzlLength(lp)) > s.cfg.ZSetMaxListpackEntries || int64(lp.Bytes()) > 1<<30 {
			zsetConvert(&o, keyspace.EncSkiplist)
		}
		return o, nil
	}
	n, err := r.Count(2)
	if err != nil {
		return keyspace.Object{}, err
	}
	if n == 0 {
		return keyspace.Object{}, errEmptyKey
	}
	z := newZsetSL(n)
	o := keyspace.Object{Type: keyspace.TypeZSet, Enc: keyspace.EncSkiplist, Val: z}
	maxLen, total := 0, 0
	for range n {
		ele, err := r.String()
		if err != nil {
			return o, err
		}
		var score float64
		if t == rdb.TypeZSet2 {
			score, err = r.BinaryDouble()
		} else {
			score, err = r.StringDouble()
		}
		if err != nil {
			return o, err
		}
		if math.IsNaN(score) {
			return o, r.Errorf("zset with NAN score detected")
		}
		if z.d.Has(string(ele)) {
			return o, r.Errorf("duplicate zset fields detected")
		}
		maxLen = max(maxLen, len(ele))
		total += len(ele)
		z.insert(string(ele), score)
	}
	s.zsetConvertToListpackIfNeeded(&o, maxLen, total)
	return o, nil
}

// rdbLoadPairs reads a listpack (or a ziplist converted to one) of
// field/value pairs and checks its framing.
func rdbLoadPairs(r *rdb.Reader, ziplist bool) (listpack.Listpack, error) {
	b, err := r.String()
	if err != nil {
		return nil, err
	}
	var lp listpack.Listpack
	if ziplist {
		es, err := rdb.Ziplist(b)
		if err != nil {
			return nil, r.Errorf("ziplist: %v", err)
		}
		lp = listpack.New()
		for _, e := range es {
			if e.IsInt {
				lp.AppendInt(e.Int)
			} else {
				lp.Append(e.Str)
			}
		}
	} else {
		if err := listpack.Validate(b, nil); err != nil {
			return nil, r.Errorf("listpack: %v", err)
		}
		lp = b
	}
	if lp.Len()%2 != 0 {
		return nil, r.Errorf("listpack with an odd number of entries")
	}
	return lp, nil
}

func rdbSaveHash(w *rdb.Writer, o *keyspace.Object, key []byte) {
	if o.Enc == keyspace.EncListpack {
		rdbTypeKey(w, rdb.TypeHashListpack, key)
		w.Blob(o.Str)
		return
	}
	d := hashDict(o)
	rdbTypeKey(w, rdb.TypeHash, key)
	w.Len(uint64(d.Len()))
	d.Each(func(k, v string) bool {
		w.String([]byte(k))
		w.String([]byte(v))
		return true
	})
}

func rdbLoadHash(s *Server, r *rdb.Reader, t byte, deep bool) (keyspace.Object, error) {
	var pairs [][]byte
	switch t {
	case rdb.TypeHashZiplist, rdb.TypeHashListpack:
		lp, err := rdbLoadPairs(r, t == rdb.TypeHashZiplist)
		if err != nil {
			return keyspace.Object{}, err
		}
		if lp.Len() == 0 {
			return keyspace.Object{}, errEmptyKey
		}
		o := keyspace.Object{Type: keyspace.TypeHash, Enc: keyspace.EncListpack, Str: lp}
		seen := make(map[string]struct{}, lp.Len()/2)
		maxLen := 0
		for p := lp.First(); p >= 0; p = lp.Next(p) {
			e := lp.Get(p)
			if !e.IsInt {
				maxLen = max(maxLen, len(e.Str))
			}
		}
		for p := lp.First(); p >= 0; p = lp.Next(lp.Next(p)) {
			f := lp.Get(p).String()
			if _, dup := seen[f]; dup {
				return o, r.Errorf("duplicate hash fields detected")
			}
			seen[f] = struct{}{}
		}
		if int64(lp.Len()/2) > s.cfg.HashMaxListpackEntries || int64(maxLen) > s.cfg.HashMaxListpackValue {
			hashConvert(&o)
		}
		return o, nil
	case rdb.TypeHashZipmap:
		b, err := r.String()
		if err != nil {
			return keyspace.Object{}, err
		}
		if pairs, err = rdb.Zipmap(b); err != nil {
			return keyspace.Object{}, r.Errorf("zipmap: %v", err)
		}
	default:
		n, err := r.Count(2)
		if err != nil {
			return keyspace.Object{}, err
		}
		pairs = make([][]byte, 0, 2*min(n, 1<<16))
		for range 2 * n {
			v, err := r.String()
			if err != nil {
				return keyspace.Object{}, err
			}
			pairs = append(pairs, v)
		}
	}
	if len(pairs) == 0 {
		return keyspace.Object{}, errEmptyKey
	}
	o := keyspace.Object{Type: keyspace.TypeHash, Enc: keyspace.EncListpack, Str: listpack.New()}
	if int64(len(pairs)/2) > s.cfg.HashMaxListpackEntries {
		o = keyspace.Object{Type: keyspace.TypeHash, Enc: keyspace.EncHashtable, Val: dict.New[string](len(pairs) / 2)}
	}
	for i := 0; i < len(pairs); i += 2 {
		if s.hashSet(&o, pairs[i], pairs[i+1]) {
			return o, fmt.Errorf("%w: duplicate hash fields detected", rdb.ErrCorrupt)
		}
	}
	return o, nil
}
