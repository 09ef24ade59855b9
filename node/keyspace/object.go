// Package keyspace holds one logical database of a shard: a hash table of
// keys to values with Redis's semantics for expiry, cursor scans and random
// sampling. It is not safe for concurrent use: the shard's single logical
// thread owns it.
package keyspace

// Type is a value's type as TYPE reports it.
type Type uint8

const (
	TypeNone Type = iota
	TypeString
	TypeList
	TypeSet
	TypeZSet
	TypeHash
	TypeStream
)

var typeNames = [...]string{"none", "string", "list", "set", "zset", "hash", "stream"}

func (t Type) String() string { return typeNames[t] }

// Encoding is a value's encoding as OBJECT ENCODING reports it.
type Encoding uint8

const (
	EncRaw Encoding = iota
	EncInt
	EncEmbStr
	EncHashtable
	EncListpack
	EncQuicklist
	EncIntset
	EncSkiplist
	EncStream
)

var encNames = [...]string{"raw", "int", "embstr", "hashtable", "listpack", "quicklist", "intset", "skiplist", "stream"}

func (e Encoding) String() string { return encNames[e] }

// Object is a value in the keyspace. Strings keep their bytes in Str;
// every other type keeps its data structure in Val.
//
// Str is owned by the keyspace: string commands change it in place
// (APPEND, SETRANGE, INCR, an overwriting SET that fits). Code that keeps
// the bytes beyond the shard lock (a background save, a reply built
// later) must copy them.
type Object struct {
	Type Type
	Enc  Encoding
	// Shared marks a small integer string that Redis would hold as one of
	// its shared objects (OBJECT REFCOUNT reports it so). It fits in
	// padding: the struct is no bigger for it.
	Shared bool
	// LRU holds the LRU clock of the last access, or under an LFU policy
	// the last decrement time (16 bits, minutes) and counter (8 bits), as
	// in Redis.
	LRU uint32
	Str []byte
	Val any
}

// Expired reports whether an absolute expiry time in ms has passed at now.
// As in Redis, a key is still alive during the millisecond it expires at:
// it is gone only once now > at.
func Expired(at, now int64) bool { return at != 0 && now > at }
