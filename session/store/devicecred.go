package store

import (
	"encoding/binary"
	"fmt"
	"runtime/debug"

	bolt "go.etcd.io/bbolt"
)

// Device credentials are kept beside the sessions: the access key pairs
// the admin API issued to devices (Alibaba's RegisterDeviceCredential),
// which must outlive a restart like a persistent session does. They go
// through the same group commit as session ops, so with FsyncAlways a
// credential whose ticket is durable survives kill -9.
//
// Layout: bucket "devicecreds", key the client ID, value a record:
//
//	version (1 byte, credentialVersion)
//	create time, update time (8 bytes each, epoch ms, big-endian)
//	access key ID, access key secret (2-byte length, then the bytes)
//
// The bucket is new in this release; a file without it gets it at Open,
// and older releases ignore it, so the file's format version is unchanged.

// bucketDeviceCreds holds one record per client ID with a credential.
var bucketDeviceCreds = []byte("devicecreds")

// credentialVersion is the version of the credential records written now.
const credentialVersion = 1

// DeviceCredential is one device's stored access key pair. Times are
// epoch milliseconds.
type DeviceCredential struct {
	ClientID        string
	AccessKeyID     string
	AccessKeySecret string
	CreateTime      int64
	UpdateTime      int64
}

// auxOp is a write to a bucket beside the sessions: put val at key, or
// delete key when val is nil; or, when fn is set, fn.
type auxOp struct {
	bucket []byte
	key    []byte
	val    []byte
	fn     func(tx *bolt.Tx) error
}

func (a *auxOp) apply(tx *bolt.Tx) error {
	if a.fn != nil {
		return a.fn(tx)
	}
	b := tx.Bucket(a.bucket)
	if b == nil {
		return fmt.Errorf("no bucket %q", a.bucket)
	}
	if a.val == nil {
		return b.Delete(a.key)
	}
	return b.Put(a.key, a.val)
}

// applyAux queues a like Apply queues a session op and returns its ticket
// for WhenDurable.
func (d *DB) applyAux(a auxOp) uint64 {
	d.mu.Lock()
	t, ok := d.admitLocked()
	if ok {
		d.aux = append(d.aux, a)
	}
	d.mu.Unlock()
	d.poke()
	return t
}

// PutDeviceCredential stores c, replacing the client's earlier credential,
// and returns the ticket to pass to WhenDurable (or Wait). It never waits
// for I/O, except for room as Apply does. Safe for concurrent use.
func (d *DB) PutDeviceCredential(c DeviceCredential) uint64 {
	return d.applyAux(auxOp{bucket: bucketDeviceCreds, key: []byte(c.ClientID), val: encodeCredential(c)})
}

// DeleteDeviceCredential deletes the client's credential, if any, and
// returns the ticket of the deletion. Safe for concurrent use.
func (d *DB) DeleteDeviceCredential(clientID string) uint64 {
	return d.applyAux(auxOp{bucket: bucketDeviceCreds, key: []byte(clientID)})
}

// Wait blocks until every op up to ticket is durable and returns nil, or
// returns the error of the write or sync that failed first (the ops are
// retried, see WhenDurable), or ErrClosed. With FsyncInterval that takes
// up to Options.Interval. Never call it from an event loop. Safe for
// concurrent use.
func (d *DB) Wait(ticket uint64) error {
	done := make(chan error, 1)
	d.WhenDurable(ticket, func(err error) { done <- err })
	return <-done
}

// DeviceCredentials returns every stored credential in client ID order,
// as written by the ops committed so far. A record that does not decode
// gives a *DamagedError. Safe for concurrent use.
func (d *DB) DeviceCredentials() (creds []DeviceCredential, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			creds, err = nil, &DamagedError{Path: d.path, Detail: fmt.Sprint(r)}
		}
	}()
	err = d.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketDeviceCreds).ForEach(func(k, v []byte) error {
			c, err := decodeCredential(string(k), v)
			if err != nil {
				return fmt.Errorf("device credential %q: %w", k, err)
			}
			creds = append(creds, c)
			return nil
		})
	})
	if err != nil {
		return nil, &DamagedError{Path: d.path, Detail: err.Error(), Err: err}
	}
	return creds, nil
}

func encodeCredential(c DeviceCredential) []byte {
	b := make([]byte, 0, 1+16+4+len(c.AccessKeyID)+len(c.AccessKeySecret))
	b = append(b, credentialVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(c.CreateTime))
	b = binary.BigEndian.AppendUint64(b, uint64(c.UpdateTime))
	b = binary.BigEndian.AppendUint16(b, uint16(len(c.AccessKeyID)))
	b = append(b, c.AccessKeyID...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(c.AccessKeySecret)))
	return append(b, c.AccessKeySecret...)
}

func decodeCredential(clientID string, b []byte) (DeviceCredential, error) {
	c := DeviceCredential{ClientID: clientID}
	if len(b) < 1+16+2 {
		return c, fmt.Errorf("credential record: %w", errShort)
	}
	if b[0] != credentialVersion {
		return c, fmt.Errorf("credential record version %d, this glassmq reads %d", b[0], credentialVersion)
	}
	c.CreateTime = int64(binary.BigEndian.Uint64(b[1:]))
	c.UpdateTime = int64(binary.BigEndian.Uint64(b[9:]))
	rest := b[17:]
	str := func() (string, bool) {
		if len(rest) < 2 {
			return "", false
		}
		n := int(binary.BigEndian.Uint16(rest))
		if len(rest) < 2+n {
			return "", false
		}
		s := string(rest[2 : 2+n])
		rest = rest[2+n:]
		return s, true
	}
	var ok1, ok2 bool
	c.AccessKeyID, ok1 = str()
	c.AccessKeySecret, ok2 = str()
	if !ok1 || !ok2 || len(rest) != 0 {
		return c, fmt.Errorf("credential record: bad key lengths")
	}
	return c, nil
}
