package store

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/glassmq/glassmq/session"
	bolt "go.etcd.io/bbolt"
)

// Credentials written, replaced and deleted are read back the same after
// a reopen, in client ID order, beside sessions written in the same
// commits; Wait returns once the last op is durable.
func TestDeviceCredentialsRoundTrip(t *testing.T) {
	for _, mode := range []Fsync{FsyncAlways, FsyncInterval} {
		t.Run(fmt.Sprint(mode), func(t *testing.T) {
			dir := t.TempDir()
			d := open(t, dir, mode)
			a := DeviceCredential{ClientID: "GID_a@@@dev-2", AccessKeyID: "DCAAAA", AccessKeySecret: "s-1", CreateTime: 1000, UpdateTime: 1000}
			b := DeviceCredential{ClientID: "GID_a@@@dev-1", AccessKeyID: "DCBBBB", AccessKeySecret: "s-2", CreateTime: 2000, UpdateTime: 2000}
			gone := DeviceCredential{ClientID: "gone", AccessKeyID: "DCCCCC", AccessKeySecret: "s-3"}
			d.PutDeviceCredential(a)
			d.Apply(session.Op{Kind: session.OpPutSession, ClientID: "s", Record: &session.Record{ClientID: "s", Expiry: 60}})
			d.PutDeviceCredential(b)
			d.PutDeviceCredential(gone)
			a.AccessKeyID, a.AccessKeySecret, a.UpdateTime = "DCAAA2", "s-1b", 3000 // refreshed
			d.PutDeviceCredential(a)
			last := d.DeleteDeviceCredential("gone")
			if err := d.Wait(last); err != nil {
				t.Fatalf("Wait: %v", err)
			}
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}

			d = open(t, dir, mode)
			defer d.Close()
			got, err := d.DeviceCredentials()
			if err != nil {
				t.Fatal(err)
			}
			if want := []DeviceCredential{b, a}; !slices.Equal(got, want) {
				t.Fatalf("after reopen: got %+v, want %+v", got, want)
			}
			sessions, _, err := d.Load()
			if err != nil || len(sessions) != 1 || sessions[0].Record.ClientID != "s" {
				t.Fatalf("sessions beside the credentials: %v, %v; want session s", sessions, err)
			}
		})
	}
}

// A credential record that does not decode (cut short, or of an unknown
// version) is reported as damage, not read as a wrong key.
func TestDeviceCredentialDamaged(t *testing.T) {
	for name, val := range map[string][]byte{
		"short":   {credentialVersion, 0, 0},
		"version": append([]byte{9}, make([]byte, 20)...),
		"length":  append(append([]byte{credentialVersion}, make([]byte, 16)...), 0, 5, 'a'),
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			d := open(t, dir, FsyncAlways)
			d.Close()
			db, err := bolt.Open(dir+"/"+FileName, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketDeviceCreds).Put([]byte("dev"), val) }); err != nil {
				t.Fatal(err)
			}
			db.Close()
			d = open(t, dir, FsyncAlways)
			defer d.Close()
			if _, err := d.DeviceCredentials(); !errors.Is(err, ErrDamaged) {
				t.Fatalf("DeviceCredentials: %v, want ErrDamaged", err)
			}
		})
	}
}

// The record layout is fixed: a version byte, the two times, then the
// key ID and secret with their lengths.
func TestDeviceCredentialEncoding(t *testing.T) {
	c := DeviceCredential{ClientID: "x", AccessKeyID: "ID", AccessKeySecret: "sec", CreateTime: 1, UpdateTime: 2}
	want := []byte{1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 2, 'I', 'D', 0, 3, 's', 'e', 'c'}
	if got := encodeCredential(c); !slices.Equal(got, want) {
		t.Fatalf("encodeCredential: got %v, want %v", got, want)
	}
	if back, err := decodeCredential("x", want); err != nil || back != c {
		t.Fatalf("decodeCredential: got %+v, %v; want %+v", back, err, c)
	}
}
