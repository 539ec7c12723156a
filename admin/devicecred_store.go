package admin

import (
	"sync"
)

// DeviceCredentialStore is where stored device credentials are written
// through to: the broker's on-disk store, passed in by cmd/glassmq. Safe
// for concurrent use.
type DeviceCredentialStore interface {
	// SaveDeviceCredential stores c, replacing the client's earlier
	// credential, and returns once it is as durable as the store makes
	// what it acknowledges (fsynced with -fsync always), or with the error
	// that kept it from being so.
	SaveDeviceCredential(c DeviceCredential) error
	// DeleteDeviceCredential deletes the client's credential, likewise.
	DeleteDeviceCredential(clientID string) error
}

// storedDeviceCredentials is DeviceCredentials kept in memory for reads
// (a CONNECT's check never waits on the disk) and written through to a
// DeviceCredentialStore: a change is seen by Get, and answered, only once
// the store has it.
type storedDeviceCredentials struct {
	memoryDeviceCredentials
	st DeviceCredentialStore
	wr sync.Mutex // serialises changes, so the store sees them in the order the map does; taken before mu
}

// NewStoredDeviceCredentials returns DeviceCredentials that outlive a
// restart: loaded are the credentials st held at start, and every change
// is written to st before it takes effect. A change st fails to store is
// not made and returns st's error.
func NewStoredDeviceCredentials(st DeviceCredentialStore, loaded []DeviceCredential) DeviceCredentials {
	d := &storedDeviceCredentials{memoryDeviceCredentials: memoryDeviceCredentials{creds: make(map[string]DeviceCredential, len(loaded))}, st: st}
	for _, c := range loaded {
		d.creds[c.ClientID] = c
	}
	return d
}

// set makes c the client's credential in memory.
func (d *storedDeviceCredentials) set(c DeviceCredential) {
	d.mu.Lock()
	d.creds[c.ClientID] = c
	d.mu.Unlock()
}

func (d *storedDeviceCredentials) Register(clientID string, now int64) (DeviceCredential, error) {
	d.wr.Lock()
	defer d.wr.Unlock()
	if c, ok := d.Get(clientID); ok {
		return c, nil
	}
	id, secret, err := newKeyPair()
	if err != nil {
		return DeviceCredential{}, err
	}
	c := DeviceCredential{ClientID: clientID, AccessKeyID: id, AccessKeySecret: secret, CreateTime: now, UpdateTime: now}
	if err := d.st.SaveDeviceCredential(c); err != nil {
		return DeviceCredential{}, err
	}
	d.set(c)
	return c, nil
}

func (d *storedDeviceCredentials) Refresh(clientID string, now int64) (DeviceCredential, bool, error) {
	d.wr.Lock()
	defer d.wr.Unlock()
	c, ok := d.Get(clientID)
	if !ok {
		return c, false, nil
	}
	id, secret, err := newKeyPair()
	if err != nil {
		return c, true, err
	}
	n := c
	n.AccessKeyID, n.AccessKeySecret, n.UpdateTime = id, secret, now
	if err := d.st.SaveDeviceCredential(n); err != nil {
		return c, true, err
	}
	d.set(n)
	return n, true, nil
}

func (d *storedDeviceCredentials) Unregister(clientID string) (bool, error) {
	d.wr.Lock()
	defer d.wr.Unlock()
	if _, ok := d.Get(clientID); !ok {
		return false, nil
	}
	if err := d.st.DeleteDeviceCredential(clientID); err != nil {
		return true, err
	}
	return d.memoryDeviceCredentials.Unregister(clientID)
}
