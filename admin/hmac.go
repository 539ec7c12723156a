package admin

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
)

// HMAC (RFC 2104) over the allocation-free sha256.Sum256 and sha1.Sum, with
// a caller-owned scratch buffer: crypto/hmac allocates a hash pair per call,
// and a TC3 signature takes four HMACs per request. hmac_test.go checks both
// against crypto/hmac.

const hmacBlock = 64 // block size of SHA-1 and SHA-256

// hmacSHA256 returns HMAC-SHA256(key, msg), using *scratch as working space.
func hmacSHA256[K string | []byte](scratch *[]byte, key K, msg []byte) [sha256.Size]byte {
	var k [hmacBlock]byte
	if len(key) > hmacBlock {
		h := sha256.Sum256([]byte(key))
		copy(k[:], h[:])
	} else {
		copy(k[:], key)
	}
	buf := (*scratch)[:0]
	for _, c := range k {
		buf = append(buf, c^0x36)
	}
	buf = append(buf, msg...)
	inner := sha256.Sum256(buf)
	buf = buf[:0]
	for _, c := range k {
		buf = append(buf, c^0x5c)
	}
	buf = append(buf, inner[:]...)
	*scratch = buf
	return sha256.Sum256(buf)
}

// hmacSHA1 returns HMAC-SHA1(key, msg), using *scratch as working space.
func hmacSHA1[K string | []byte](scratch *[]byte, key K, msg []byte) [sha1.Size]byte {
	var k [hmacBlock]byte
	if len(key) > hmacBlock {
		h := sha1.Sum([]byte(key))
		copy(k[:], h[:])
	} else {
		copy(k[:], key)
	}
	buf := (*scratch)[:0]
	for _, c := range k {
		buf = append(buf, c^0x36)
	}
	buf = append(buf, msg...)
	inner := sha1.Sum(buf)
	buf = buf[:0]
	for _, c := range k {
		buf = append(buf, c^0x5c)
	}
	buf = append(buf, inner[:]...)
	*scratch = buf
	return sha1.Sum(buf)
}

// appendSHA256Hex appends the lower-case hex SHA-256 of data.
func appendSHA256Hex(dst, data []byte) []byte {
	h := sha256.Sum256(data)
	return hex.AppendEncode(dst, h[:])
}
