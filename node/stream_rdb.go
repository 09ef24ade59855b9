package node

import (
	"errors"

	"github.com/keyfleet/keyfleet/node/ds/stream"
	"github.com/keyfleet/keyfleet/node/keyspace"
	"github.com/keyfleet/keyfleet/node/rdb"
)

// Streams in RDB files and DUMP payloads, as Redis 7.0's rdb.c: type 19
// (STREAM_LISTPACKS_2) is written; 15 (before 7.0: no first ID, max
// deleted ID, entries added or group entries-read) and 19 are read.
//
//	<nodes> (<16-byte master ID> <listpack>)* <length> <last ms> <last seq>
//	[19: <first ms> <first seq> <max-deleted ms> <max-deleted seq> <entries-added>]
//	<groups> <group>*
//
// The listpacks are this server's own nodes, written and read verbatim.
// The groups' part is written and read by streamGroupHooks (stream
// groups code); without it only streams without groups load.

func init() {
	registerRDBType(keyspace.TypeStream, rdbSaveStream, map[byte]rdbLoader{
		rdb.TypeStreamListpacks:  rdbLoadStream,
		rdb.TypeStreamListpacks2: rdbLoadStream,
	})
}

func rdbSaveStream(w *rdb.Writer, o *keyspace.Object, key []byte) {
	st := streamOf(o)
	rdbTypeKey(w, rdb.TypeStreamListpacks2, key)
	nodes := st.entries.Nodes()
	w.Len(uint64(len(nodes)))
	var buf [16]byte
	for _, nd := range nodes {
		w.String(nd.Master.Encode(buf[:0]))
		w.String(nd.LP)
	}
	w.Len(st.length)
	w.Len(st.lastID.ms)
	w.Len(st.lastID.seq)
	w.Len(st.firstID.ms)
	w.Len(st.firstID.seq)
	w.Len(st.maxDeletedID.ms)
	w.Len(st.maxDeletedID.seq)
	w.Len(st.entriesAdded)
	if st.groups == nil || streamGroupHooks.save == nil {
		w.Len(0)
		return
	}
	streamGroupHooks.save(w, st)
}

// errStreamGroupsUnsupported is returned for a stream with groups when
// no groups code is registered.
var errStreamGroupsUnsupported = errors.New("stream consumer groups are not supported")

func rdbLoadStream(s *Server, r *rdb.Reader, t byte, deep bool) (keyspace.Object, error) {
	st := newStreamObj()
	n, err := r.Count(2)
	if err != nil {
		return keyspace.Object{}, err
	}
	var live uint64
	for range n {
		k, err := r.String()
		if err != nil {
			return keyspace.Object{}, err
		}
		master, ok := stream.DecodeID(k)
		if !ok {
			return keyspace.Object{}, r.Errorf("stream node key entry is not the size of a stream ID")
		}
		lp, err := r.String()
		if err != nil {
			return keyspace.Object{}, err
		}
		cnt, err := st.entries.AddNode(master, lp, deep)
		if err != nil {
			return keyspace.Object{}, r.Errorf("stream listpack integrity check failed: %v", err)
		}
		live += uint64(cnt)
	}
	lens := make([]uint64, 3, 8)
	for i := range lens {
		if lens[i], err = r.Len(); err != nil {
			return keyspace.Object{}, err
		}
	}
	st.length, st.lastID = lens[0], streamID{lens[1], lens[2]}
	if t == rdb.TypeStreamListpacks2 {
		var v [5]uint64
		for i := range v {
			if v[i], err = r.Len(); err != nil {
				return keyspace.Object{}, err
			}
		}
		st.firstID = streamID{v[0], v[1]}
		st.maxDeletedID = streamID{v[2], v[3]}
		st.entriesAdded = v[4]
	} else {
		st.entriesAdded = st.length
		if st.length > 0 {
			st.firstID = st.firstValidID()
		}
	}
	if st.length != live {
		return keyspace.Object{}, r.Errorf("stream length %d inconsistent with its nodes (%d entries)", st.length, live)
	}
	if streamGroupHooks.load != nil {
		if err := streamGroupHooks.load(r, st, t, deep); err != nil {
			return keyspace.Object{}, err
		}
	} else {
		groups, err := r.Len()
		if err != nil {
			return keyspace.Object{}, err
		}
		if groups != 0 {
			return keyspace.Object{}, r.Errorf("%v", errStreamGroupsUnsupported)
		}
	}
	return newStreamObject(st), nil
}
