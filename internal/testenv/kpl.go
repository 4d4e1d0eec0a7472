package testenv

import (
	"crypto/md5"
	"encoding/binary"
)

// kplMagic starts every record the Kinesis Producer Library aggregates.
const kplMagic = "\xF3\x89\x9A\xC2"

// AggregateKPL returns one Kinesis record that aggregates records under partitionKey, byte
// for byte as the Kinesis Producer Library builds it: the magic F3 89 9A C2, the protobuf
// (proto2) message
//
//	AggregatedRecord{repeated string partition_key_table = 1;
//	                 repeated string explicit_hash_key_table = 2;
//	                 repeated Record records = 3}
//	Record{required uint64 partition_key_index = 1; optional uint64 explicit_hash_key_index = 2;
//	       required bytes data = 3; repeated Tag tags = 4}
//
// with partitionKey as the only entry of the partition key table, no explicit hash keys and
// no tags, and then the MD5 of the protobuf bytes. Put the result with partitionKey as its
// partition key.
func AggregateKPL(partitionKey string, records [][]byte) []byte {
	var body []byte
	body = appendProtoBytes(body, 1, []byte(partitionKey))
	var rec []byte
	for _, data := range records {
		rec = rec[:0]
		// proto2 writes required fields even when they hold the default value.
		rec = binary.AppendUvarint(rec, 1<<3|0) // partition_key_index, varint
		rec = binary.AppendUvarint(rec, 0)
		rec = appendProtoBytes(rec, 3, data)
		body = appendProtoBytes(body, 3, rec)
	}
	sum := md5.Sum(body)
	out := make([]byte, 0, len(kplMagic)+len(body)+len(sum))
	out = append(out, kplMagic...)
	out = append(out, body...)
	return append(out, sum[:]...)
}

// appendProtoBytes appends a length-delimited field (wire type 2).
func appendProtoBytes(b []byte, field uint64, v []byte) []byte {
	b = binary.AppendUvarint(b, field<<3|2)
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}
