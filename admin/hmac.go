package admin

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
)

// hmacSHA256 returns HMAC-SHA256(key, msg). The admin API is rate-limited
// (20 and 500 requests/s by default), so crypto/hmac's few allocations per
// call cost nothing that matters.
func hmacSHA256[K string | []byte](key K, msg []byte) (out [sha256.Size]byte) {
	m := hmac.New(sha256.New, []byte(key))
	m.Write(msg)
	m.Sum(out[:0])
	return out
}

// hmacSHA1 returns HMAC-SHA1(key, msg), for Alibaba RPC and Tencent's
// legacy HmacSHA1 signatures.
func hmacSHA1[K string | []byte](key K, msg []byte) (out [sha1.Size]byte) {
	m := hmac.New(sha1.New, []byte(key))
	m.Write(msg)
	m.Sum(out[:0])
	return out
}

// appendSHA256Hex appends the lower-case hex SHA-256 of data.
func appendSHA256Hex(dst, data []byte) []byte {
	h := sha256.Sum256(data)
	return hex.AppendEncode(dst, h[:])
}
