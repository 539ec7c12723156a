package main

import (
	"github.com/glassmq/glassmq/admin"
	"github.com/glassmq/glassmq/broker"
	"github.com/glassmq/glassmq/session/store"
)

// deviceAuthorizer lets devices written for Alibaba Cloud connect
// unchanged (-alibaba-device-auth): a CONNECT whose user name is in one of
// Alibaba's device forms (Signature|... or DeviceCredential|...) is decided
// by the admin server's keys and device credentials, CONNACK 0x04 when the
// signature is wrong; any other CONNECT goes to next, or is accepted when
// there is none (no password file or ACL).
type deviceAuthorizer struct {
	adm  *admin.Server
	next broker.Authorizer // nil: no other authentication
}

func (d deviceAuthorizer) Authenticate(clientID, username string, password []byte, hasUsername, hasPassword bool, tlsCN string) (byte, string, bool) {
	if hasUsername && admin.DeviceUser(username) {
		if hasPassword && d.adm.CheckDevice(clientID, username, password) {
			return 0, username, true
		}
		return 4, "", false // bad user name or password
	}
	if d.next != nil {
		return d.next.Authenticate(clientID, username, password, hasUsername, hasPassword, tlsCN)
	}
	return 0, username, false
}

// For returns next's permissions; a device proven by its signature may do
// everything when there is no ACL.
func (d deviceAuthorizer) For(user, clientID string) broker.Permissions {
	if d.next != nil {
		return d.next.For(user, clientID)
	}
	return nil
}

func (d deviceAuthorizer) Generation() uint64 {
	if d.next != nil {
		return d.next.Generation()
	}
	return 0
}

// storedCredentials writes the admin API's device credentials to the
// broker's store: with -fsync always a change is answered only once it is
// fsynced, so it survives kill -9; with interval it is written with the
// next group commit and synced within -fsync-interval, like a session.
type storedCredentials struct {
	db     *store.DB
	always bool
}

func (s storedCredentials) SaveDeviceCredential(c admin.DeviceCredential) error {
	return s.wait(s.db.PutDeviceCredential(store.DeviceCredential(c)))
}

func (s storedCredentials) DeleteDeviceCredential(clientID string) error {
	return s.wait(s.db.DeleteDeviceCredential(clientID))
}

func (s storedCredentials) wait(ticket uint64) error {
	if !s.always {
		return nil
	}
	return s.db.Wait(ticket)
}

// useStoredCredentials loads the device credentials db holds and makes the
// admin server keep them there.
func useStoredCredentials(adm *admin.Server, db *store.DB, always bool) error {
	stored, err := db.DeviceCredentials()
	if err != nil {
		return err
	}
	loaded := make([]admin.DeviceCredential, len(stored))
	for i, c := range stored {
		loaded[i] = admin.DeviceCredential(c)
	}
	adm.UseDeviceCredentials(admin.NewStoredDeviceCredentials(storedCredentials{db: db, always: always}, loaded))
	return nil
}
