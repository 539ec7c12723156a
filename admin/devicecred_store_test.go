package admin

import (
	"errors"
	"sync"
	"testing"
)

// credLog is a DeviceCredentialStore in memory that can be made to fail:
// the write-through contract is tested here, the real store through the
// binary (sdktest TestDeviceCredentialsSurviveRestart).
type credLog struct {
	mu   sync.Mutex
	recs map[string]DeviceCredential
	fail error
}

func (l *credLog) SaveDeviceCredential(c DeviceCredential) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail != nil {
		return l.fail
	}
	l.recs[c.ClientID] = c
	return nil
}

func (l *credLog) DeleteDeviceCredential(id string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail != nil {
		return l.fail
	}
	delete(l.recs, id)
	return nil
}

// Every change reaches the store before it is seen; a change the store
// refuses is not made; credentials loaded at start are served.
func TestStoredDeviceCredentials(t *testing.T) {
	old := DeviceCredential{ClientID: "GID_a@@@old", AccessKeyID: "DCOLD", AccessKeySecret: "s0", CreateTime: 5, UpdateTime: 6}
	log := &credLog{recs: map[string]DeviceCredential{old.ClientID: old}}
	d := NewStoredDeviceCredentials(log, []DeviceCredential{old})
	if c, ok := d.Get(old.ClientID); !ok || c != old {
		t.Fatalf("loaded credential: Get = %+v, %v; want %+v", c, ok, old)
	}

	c, err := d.Register("GID_a@@@new", 10)
	if err != nil || log.recs["GID_a@@@new"] != c {
		t.Fatalf("Register: %+v, %v; store holds %+v", c, err, log.recs["GID_a@@@new"])
	}
	r, ok, err := d.Refresh("GID_a@@@new", 20)
	if err != nil || !ok || r.AccessKeySecret == c.AccessKeySecret || r.CreateTime != 10 || r.UpdateTime != 20 || log.recs["GID_a@@@new"] != r {
		t.Fatalf("Refresh: %+v, %v, %v; store holds %+v", r, ok, err, log.recs["GID_a@@@new"])
	}

	log.fail = errors.New("disk full")
	if _, err := d.Register("GID_a@@@failed", 30); err == nil {
		t.Fatal("Register with a failing store: no error")
	}
	if _, ok := d.Get("GID_a@@@failed"); ok {
		t.Fatal("a credential the store refused is served")
	}
	if _, _, err := d.Refresh("GID_a@@@new", 40); err == nil {
		t.Fatal("Refresh with a failing store: no error")
	}
	if got, _ := d.Get("GID_a@@@new"); got != r {
		t.Fatalf("after a failed Refresh: %+v, want the stored %+v", got, r)
	}
	if had, err := d.Unregister(old.ClientID); err == nil || !had {
		t.Fatalf("Unregister with a failing store: %v, %v; want true and the error", had, err)
	}
	if _, ok := d.Get(old.ClientID); !ok {
		t.Fatal("a deletion the store refused was made")
	}

	log.fail = nil
	if had, err := d.Unregister(old.ClientID); err != nil || !had {
		t.Fatalf("Unregister: %v, %v", had, err)
	}
	if _, ok := log.recs[old.ClientID]; ok {
		t.Fatal("Unregister did not reach the store")
	}
	if ids, _, total := d.List("GID_a", "", 10); total != 1 || ids[0] != "GID_a@@@new" {
		t.Fatalf("List: %v (total %d), want [GID_a@@@new]", ids, total)
	}
}
