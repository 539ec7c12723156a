package bench

import (
	"encoding/binary"
	"math/bits"
)

// A benchmark payload starts with a 16-byte header, then filler:
//
//	bytes 0-3   publisher index, big-endian
//	bytes 4-7   sequence number within that publisher, from 0
//	bytes 8-15  send time, nanoseconds since the run's epoch
//
// so MinPayload is the smallest payload a run can use.
const MinPayload = 16

// putHeader writes the payload header into p, which has at least MinPayload bytes.
func putHeader(p []byte, pub, seq uint32, sentNS int64) {
	binary.BigEndian.PutUint32(p[0:], pub)
	binary.BigEndian.PutUint32(p[4:], seq)
	binary.BigEndian.PutUint64(p[8:], uint64(sentNS))
}

// header reads the payload header; ok is false when p is too short.
func header(p []byte) (pub, seq uint32, sentNS int64, ok bool) {
	if len(p) < MinPayload {
		return 0, 0, 0, false
	}
	return binary.BigEndian.Uint32(p[0:]), binary.BigEndian.Uint32(p[4:]),
		int64(binary.BigEndian.Uint64(p[8:])), true
}

func popcount(w uint64) int { return bits.OnesCount64(w) }
