package cluster

import "github.com/glassmq/glassmq/session"

// WillRecordRoundTrip encodes the will w of a connection described by m
// on node as the wills bucket keeps it, decodes it, and returns the node,
// the delay in seconds, and the will as published at now (epoch ms).
func WillRecordRoundTrip(node string, w *session.Message, m *session.ConnMeta, now int64) (string, uint32, *session.Message, error) {
	r, err := decodeWill(encodeWill(node, w, m))
	if err != nil {
		return "", 0, nil, err
	}
	return r.node, r.delay, r.message(now), nil
}

// DecodeWillRecord decodes b as a record of the wills bucket.
func DecodeWillRecord(b []byte) error {
	_, err := decodeWill(b)
	return err
}

// EncodeWillRecord encodes a will record.
func EncodeWillRecord(node string, w *session.Message, m *session.ConnMeta) []byte {
	return encodeWill(node, w, m)
}
