// Package rdb reads and writes Redis's RDB format, version 10 (Redis
// 7.0): the file framing (magic, aux fields, database selectors, expiry
// and LRU/LFU opcodes, the CRC64 trailer) and the primitives values are
// made of (lengths, strings with their integer and LZF encodings,
// doubles). It knows nothing about the engine's data structures: the node
// registers a codec per value type on top of Writer and Reader, so a new
// type (streams) plugs in without touching this package. The reader also
// decodes the older blobs Redis still loads (ziplist, zipmap) into
// listpack-shaped entries.
package rdb

import (
	"hash/crc64"
)

// Version is the RDB version written (Redis 7.0's RDB_VERSION).
const Version = 10

// Value types (RDB_TYPE_*).
const (
	TypeString           = 0
	TypeList             = 1
	TypeSet              = 2
	TypeZSet             = 3
	TypeHash             = 4
	TypeZSet2            = 5
	TypeModulePre        = 6
	TypeModule2          = 7
	TypeHashZipmap       = 9
	TypeListZiplist      = 10
	TypeSetIntset        = 11
	TypeZSetZiplist      = 12
	TypeHashZiplist      = 13
	TypeListQuicklist    = 14
	TypeStreamListpacks  = 15
	TypeHashListpack     = 16
	TypeZSetListpack     = 17
	TypeListQuicklist2   = 18
	TypeStreamListpacks2 = 19
)

// Opcodes (RDB_OPCODE_*).
const (
	OpFunction2    = 245
	OpFunction     = 246
	OpModuleAux    = 247
	OpIdle         = 248
	OpFreq         = 249
	OpAux          = 250
	OpResizeDB     = 251
	OpExpireTimeMs = 252
	OpExpireTime   = 253
	OpSelectDB     = 254
	OpEOF          = 255
)

// Quicklist node containers (QUICKLIST_NODE_CONTAINER_*).
const (
	ContainerPlain  = 1
	ContainerPacked = 2
)

// Length encodings.
const (
	len6bit   = 0
	len14bit  = 1
	len32bit  = 0x80
	len64bit  = 0x81
	lenEncVal = 3

	encInt8  = 0
	encInt16 = 1
	encInt32 = 2
	encLZF   = 3
)

// Redis's CRC64 is the Jones polynomial, reflected, with no inversion
// on input or output; Go's crc64 inverts, so Update undoes it.
var crcTable = crc64.MakeTable(0x95ac9329ac4bc9b5)

// CRC64 extends crc with p as Redis's crc64().
func CRC64(crc uint64, p []byte) uint64 {
	return ^crc64.Update(^crc, crcTable, p)
}
