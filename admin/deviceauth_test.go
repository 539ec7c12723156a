package admin

import "testing"

// TestCheckDevice: both Alibaba device modes accept the right signature
// (the vector was computed with openssl dgst -sha1 -hmac) and refuse a
// wrong one, another instance, an unknown key and another client's key.
func TestCheckDevice(t *testing.T) {
	s := newTestServer(t, newFakeBroker(), withKeys)
	const id = "GID_test@@@device-1"
	if got := DeviceSignature(alSecret, id); got != "KgrlWPJxOwvEw6GWj4ln5+boGiI=" {
		t.Fatalf("DeviceSignature = %q, want openssl's KgrlWPJxOwvEw6GWj4ln5+boGiI=", got)
	}
	dc, err := s.devices.Register(id, 1)
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.devices.Register("GID_test@@@device-2", 1)
	if err != nil {
		t.Fatal(err)
	}
	inst := s.cfg.InstanceID
	cases := []struct {
		name, user, password string
		want                 bool
	}{
		{"signature mode", "Signature|" + alAccessKeyID + "|" + inst, "KgrlWPJxOwvEw6GWj4ln5+boGiI=", true},
		{"signature mode, wrong password", "Signature|" + alAccessKeyID + "|" + inst, "KgrlWPJxOwvEw6GWj4ln5+boGiJ=", false},
		{"signature mode, other instance", "Signature|" + alAccessKeyID + "|post-cn-other", "KgrlWPJxOwvEw6GWj4ln5+boGiI=", false},
		{"signature mode, unknown key", "Signature|LTAIunknown|" + inst, "KgrlWPJxOwvEw6GWj4ln5+boGiI=", false},
		{"device credential", "DeviceCredential|" + dc.AccessKeyID + "|" + inst, DeviceSignature(dc.AccessKeySecret, id), true},
		{"device credential of another client", "DeviceCredential|" + other.AccessKeyID + "|" + inst, DeviceSignature(other.AccessKeySecret, id), false},
		{"device credential signed with the account key", "DeviceCredential|" + dc.AccessKeyID + "|" + inst, "KgrlWPJxOwvEw6GWj4ln5+boGiI=", false},
		{"not a device user name", "alice", "KgrlWPJxOwvEw6GWj4ln5+boGiI=", false},
		{"no instance", "Signature|" + alAccessKeyID, "KgrlWPJxOwvEw6GWj4ln5+boGiI=", false},
	}
	for _, tc := range cases {
		if got := s.CheckDevice(id, tc.user, []byte(tc.password)); got != tc.want {
			t.Errorf("%s: CheckDevice = %v, want %v", tc.name, got, tc.want)
		}
	}
	s.devices.Unregister(id)
	if s.CheckDevice(id, "DeviceCredential|"+dc.AccessKeyID+"|"+inst, []byte(DeviceSignature(dc.AccessKeySecret, id))) {
		t.Error("an unregistered device credential still connects")
	}
}
