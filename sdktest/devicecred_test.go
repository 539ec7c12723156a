package sdktest

import (
	"strings"
	"testing"

	onsmqttv2 "github.com/alibabacloud-go/onsmqtt-20200420/v2/client"
	"github.com/alibabacloud-go/tea/tea"
)

// TestDeviceCredentialsSurviveRestart: credentials RegisterDeviceCredential
// issued are kept in the broker's store. After a graceful restart,
// GetDeviceCredential returns the same pair and a device signing with it
// connects; after an UnRegister, a Register and a kill -9 with -fsync
// always (each answered before the kill), the deleted one stays deleted and
// the new one is there, through the darabonba v2 SDK and real devices.
func TestDeviceCredentialsSurviveRestart(t *testing.T) {
	cfg := brokerConfig{credentials: true, dataDir: t.TempDir(), extraArgs: []string{"-alibaba-device-auth", "-fsync", "always"}}
	b := startBroker(t, cfg)
	inst := tea.String(instanceID)
	const keep, drop, late = "GID_dev@@@keep", "GID_dev@@@drop", "GID_dev@@@late"

	register := func(b *broker, id string) *onsmqttv2.RegisterDeviceCredentialResponseBodyDeviceCredential {
		t.Helper()
		r, err := v2Client(t, b).RegisterDeviceCredential(&onsmqttv2.RegisterDeviceCredentialRequest{InstanceId: inst, ClientId: tea.String(id)})
		if err != nil {
			t.Fatalf("RegisterDeviceCredential %s: %v", id, err)
		}
		return r.Body.DeviceCredential
	}
	// get returns the client's key ID and secret, "" when it has none.
	get := func(b *broker, id string) (key, secret string) {
		t.Helper()
		r, err := v2Client(t, b).GetDeviceCredential(&onsmqttv2.GetDeviceCredentialRequest{InstanceId: inst, ClientId: tea.String(id)})
		if err != nil {
			if strings.Contains(err.Error(), "DeviceCredentialNotFound") {
				return "", ""
			}
			t.Fatalf("GetDeviceCredential %s: %v", id, err)
		}
		return tea.StringValue(r.Body.DeviceCredential.DeviceAccessKeyId), tea.StringValue(r.Body.DeviceCredential.DeviceAccessKeySecret)
	}
	connect := func(b *broker, id, key, secret string) error {
		t.Helper()
		c, err := deviceConnect(t, b, id, "DeviceCredential|"+key+"|"+instanceID, sign(secret, id))
		if err == nil {
			c.Disconnect(50)
		}
		return err
	}

	k := register(b, keep)
	d := register(b, drop)
	keepKey, keepSecret := tea.StringValue(k.DeviceAccessKeyId), tea.StringValue(k.DeviceAccessKeySecret)
	dropKey, dropSecret := tea.StringValue(d.DeviceAccessKeyId), tea.StringValue(d.DeviceAccessKeySecret)

	b = b.restart(t, cfg, false)
	if key, secret := get(b, keep); key != keepKey || secret != keepSecret {
		t.Fatalf("after a restart, GetDeviceCredential %s = %s/%s, want the pair issued before it, %s/%s", keep, key, secret, keepKey, keepSecret)
	}
	if err := connect(b, keep, keepKey, keepSecret); err != nil {
		t.Fatalf("after a restart, a device with its credential: %v", err)
	}
	if _, err := v2Client(t, b).UnRegisterDeviceCredential(&onsmqttv2.UnRegisterDeviceCredentialRequest{InstanceId: inst, ClientId: tea.String(drop)}); err != nil {
		t.Fatalf("UnRegisterDeviceCredential: %v", err)
	}
	l := register(b, late)
	lateKey, lateSecret := tea.StringValue(l.DeviceAccessKeyId), tea.StringValue(l.DeviceAccessKeySecret)

	b = b.restart(t, cfg, true) // kill -9 right after the answers
	if key, _ := get(b, drop); key != "" {
		t.Fatalf("after kill -9, the unregistered %s has a credential again (%s)", drop, key)
	}
	if err := connect(b, drop, dropKey, dropSecret); err == nil || !strings.Contains(err.Error(), "bad user name or password") {
		t.Fatalf("after kill -9, a device with an unregistered credential: CONNECT error %v, want CONNACK 0x04", err)
	}
	if key, secret := get(b, late); key != lateKey || secret != lateSecret {
		t.Fatalf("after kill -9, GetDeviceCredential %s = %s/%s, want %s/%s", late, key, secret, lateKey, lateSecret)
	}
	if err := connect(b, late, lateKey, lateSecret); err != nil {
		t.Fatalf("after kill -9, a device registered just before it: %v", err)
	}
	if key, _ := get(b, keep); key != keepKey {
		t.Fatalf("after two restarts, %s has key %s, want %s", keep, key, keepKey)
	}
}
