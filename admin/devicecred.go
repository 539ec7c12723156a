package admin

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"slices"
	"strings"
	"sync"
)

// DeviceCredential is one device's access key pair, as Alibaba's
// RegisterDeviceCredential issues it: a device signs its CONNECT with it
// instead of the account's key. Times are epoch milliseconds.
type DeviceCredential struct {
	ClientID        string
	AccessKeyID     string
	AccessKeySecret string
	CreateTime      int64
	UpdateTime      int64
}

// DeviceCredentials keeps device credentials by client ID. The admin server
// starts with NewMemoryDeviceCredentials; NewStoredDeviceCredentials (the
// broker's store) replaces it through Server.UseDeviceCredentials. Safe for
// concurrent use.
type DeviceCredentials interface {
	// Register returns the client's credential, issuing one at now (epoch
	// ms) when it has none.
	Register(clientID string, now int64) (DeviceCredential, error)
	// Get returns the client's credential and whether it has one.
	Get(clientID string) (DeviceCredential, bool)
	// Refresh issues a new key pair for a registered client at now, keeping
	// its CreateTime; ok is false when it has none.
	Refresh(clientID string, now int64) (c DeviceCredential, ok bool, err error)
	// Unregister deletes the client's credential and reports whether it had
	// one.
	Unregister(clientID string) (bool, error)
	// List returns up to n client IDs with a credential, in byte order,
	// after the client ID after ("" for the first page), whose group (the
	// part before "@@@") is group, or any group when group is "". more
	// reports whether IDs follow the last one returned; total counts all
	// that match.
	List(group, after string, n int) (ids []string, more bool, total int)
}

// memoryDeviceCredentials is DeviceCredentials in a map: credentials are
// lost on restart.
type memoryDeviceCredentials struct {
	mu    sync.Mutex
	creds map[string]DeviceCredential
}

// NewMemoryDeviceCredentials returns an empty DeviceCredentials kept in
// memory only.
func NewMemoryDeviceCredentials() DeviceCredentials {
	return &memoryDeviceCredentials{creds: map[string]DeviceCredential{}}
}

// newKeyPair returns a random access key ID and secret.
func newKeyPair() (id, secret string, err error) {
	var b [34]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", err
	}
	return "DC" + strings.ToUpper(hex.EncodeToString(b[:10])), base64.RawURLEncoding.EncodeToString(b[10:]), nil
}

func (m *memoryDeviceCredentials) Register(clientID string, now int64) (DeviceCredential, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c, ok := m.creds[clientID]; ok {
		return c, nil
	}
	id, secret, err := newKeyPair()
	if err != nil {
		return DeviceCredential{}, err
	}
	c := DeviceCredential{ClientID: clientID, AccessKeyID: id, AccessKeySecret: secret, CreateTime: now, UpdateTime: now}
	m.creds[clientID] = c
	return c, nil
}

func (m *memoryDeviceCredentials) Get(clientID string) (DeviceCredential, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.creds[clientID]
	return c, ok
}

func (m *memoryDeviceCredentials) Refresh(clientID string, now int64) (DeviceCredential, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.creds[clientID]
	if !ok {
		return c, false, nil
	}
	id, secret, err := newKeyPair()
	if err != nil {
		return c, true, err
	}
	c.AccessKeyID, c.AccessKeySecret, c.UpdateTime = id, secret, now
	m.creds[clientID] = c
	return c, true, nil
}

func (m *memoryDeviceCredentials) Unregister(clientID string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.creds[clientID]
	delete(m.creds, clientID)
	return ok, nil
}

func (m *memoryDeviceCredentials) List(group, after string, n int) ([]string, bool, int) {
	m.mu.Lock()
	var all []string
	for id := range m.creds {
		if group == "" || strings.HasPrefix(id, group+"@@@") {
			all = append(all, id)
		}
	}
	m.mu.Unlock()
	slices.Sort(all)
	i, _ := slices.BinarySearch(all, after)
	if after != "" && i < len(all) && all[i] == after {
		i++
	}
	end := min(len(all), i+n)
	return all[i:end], end < len(all), len(all)
}
