package codec_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/glassmq/glassmq/codec"
)

var (
	malformed = codec.ErrMalformed
	protocol  = codec.ErrProtocol
)

var connectCases = []decodeCase{
	// Accepted.
	{"valid minimal", "10 0d 0004 4d515454 04 02 003c 0001 61", nil, ""},
	{"valid MQTT 3.1 MQIsdp level 3", "10 0f 0006 4d5149736470 03 02 003c 0001 61", nil, ""},
	{"valid every field", "10 22 0004 4d515454 04 ee 003c 0001 61 0003 612f62 0002 6869 0004 75736572 0004 00ff0102", nil, ""},
	{"valid will QoS 2 retained", "10 12 0004 4d515454 04 36 0000 0001 61 0001 77 0000", nil, ""},
	{"valid user name without password", "10 13 0004 4d515454 04 82 003c 0001 61 0004 75736572", nil, ""},
	{"valid empty user name", "10 0f 0004 4d515454 04 82 003c 0001 61 0000", nil, ""},
	{"valid keep alive 0, clean session 0", "10 0d 0004 4d515454 04 00 0000 0001 61", nil, ""},
	{"valid password is binary, not UTF-8", "10 15 0004 4d515454 04 c2 003c 0001 61 0001 75 0003 c00000", nil, ""},
	{"valid will message is binary, not UTF-8", "10 14 0004 4d515454 04 06 003c 0001 61 0001 77 0002 ff00", nil, ""},
	{"MQTT-3.1.3-6 empty client ID is the broker's to judge", "10 0c 0004 4d515454 04 02 003c 0000", nil, ""},
	{"MQTT-3.1.3-8 empty client ID with clean session 0 is the broker's to judge", "10 0c 0004 4d515454 04 00 003c 0000", nil, ""},
	{"MQTT-3.1.3-5 client ID GID_test@@@device-1", "10 1f 0004 4d515454 04 02 003c 0013 4749445f746573744040406465766963652d31", nil, ""},
	{"MQTT-3.1.3-5 client ID of 40 bytes is the broker's to judge", "10 34 0004 4d515454 04 02 003c 0028 " + strings.Repeat("61", 40), nil, ""},
	{"MQTT-1.5.3-3 byte order mark in client ID kept", "10 10 0004 4d515454 04 02 003c 0004 efbbbf61", nil, ""},
	{"MQTT-1.5.3-1 U+FFFD and 4-byte UTF-8 in client ID", "10 13 0004 4d515454 04 02 003c 0007 efbfbd f09f9880", nil, ""},
	{"valid MQTT 3.1 user name flag with no user name", "10 0f 0006 4d5149736470 03 c2 003c 0001 61", nil, ""},
	{"valid MQTT 3.1 password flag with no password", "10 12 0006 4d5149736470 03 c2 003c 0001 61 0001 75", nil, ""},

	// Fixed header.
	{"MQTT-2.2.2-2 fixed header flags 0001", "11 0d 0004 4d515454 04 02 003c 0001 61", malformed, "MQTT-2.2.2-2"},
	{"MQTT-2.2.2-2 fixed header flags 1000 (MQTT-2.2.2-1)", "18 0d 0004 4d515454 04 02 003c 0001 61", malformed, "MQTT-2.2.2-2"},
	{"MQTT-2.2.3 remaining length of 5 bytes", "10 8080808001 0004 4d515454 04 02 003c 0001 61", malformed, "MQTT-2.2.3"},

	// Variable header.
	{"MQTT-3.1.2-1 protocol name MQTX", "10 0d 0004 4d515458 04 02 003c 0001 61", protocol, "MQTT-3.1.2-1"},
	{"MQTT-3.1.2-1 protocol name mqtt (case)", "10 0d 0004 6d717474 04 02 003c 0001 61", protocol, "MQTT-3.1.2-1"},
	{"MQTT-3.1.2-1 protocol name empty", "10 09 0000 04 02 003c 0001 61", protocol, "MQTT-3.1.2-1"},
	{"MQTT-3.1.2-2 protocol level 3 with MQTT", "10 0d 0004 4d515454 03 02 003c 0001 61", protocol, "MQTT-3.1.2-2"},
	{"MQTT-3.1.2-2 protocol level 5 with MQTT 5 properties", "10 0e 0004 4d515454 05 02 003c 00 0001 61", protocol, "MQTT-3.1.2-2"},
	{"MQTT-3.1.2-2 protocol level 4 with MQIsdp", "10 0f 0006 4d5149736470 04 02 003c 0001 61", protocol, "MQTT-3.1.2-2"},
	{"MQTT-3.1.2-2 protocol level 0", "10 0d 0004 4d515454 00 02 003c 0001 61", protocol, "MQTT-3.1.2-2"},
	{"MQTT-3.1.2-3 reserved flag set", "10 0d 0004 4d515454 04 03 003c 0001 61", malformed, "MQTT-3.1.2-3"},
	{"MQTT-3.1.2-3 reserved flag set in MQTT 3.1", "10 0f 0006 4d5149736470 03 03 003c 0001 61", malformed, "MQTT-3.1.2-3"},
	{"MQTT-3.1.2-11 will topic present with will flag 0", "10 16 0004 4d515454 04 02 003c 0001 61 0003 612f62 0002 6869", malformed, "MQTT-3.1.2-11"},
	{"MQTT-3.1.2-13 will QoS 1 with will flag 0 (MQTT-3.1.2-11)", "10 0d 0004 4d515454 04 0a 003c 0001 61", malformed, "MQTT-3.1.2-13"},
	{"MQTT-3.1.2-13 will QoS 2 with will flag 0", "10 0d 0004 4d515454 04 12 003c 0001 61", malformed, "MQTT-3.1.2-13"},
	{"MQTT-3.1.2-14 will QoS 3", "10 12 0004 4d515454 04 1e 003c 0001 61 0001 77 0000", malformed, "MQTT-3.1.2-14"},
	{"MQTT-3.1.2-15 will retain with will flag 0 (MQTT-3.1.2-11)", "10 0d 0004 4d515454 04 22 003c 0001 61", malformed, "MQTT-3.1.2-15"},
	{"MQTT-3.1.2-22 password flag without user name flag", "10 11 0004 4d515454 04 42 003c 0001 61 0002 7077", malformed, "MQTT-3.1.2-22"},
	{"MQTT-3.1.2-22 password flag without user name flag in MQTT 3.1", "10 13 0006 4d5149736470 03 42 003c 0001 61 0002 7077", malformed, "MQTT-3.1.2-22"},
	{"MQTT-2.2.3 protocol name runs past the end", "10 04 0004 4d51", malformed, "MQTT-2.2.3"},
	{"MQTT-2.2.3 protocol level missing", "10 06 0004 4d515454", malformed, "MQTT-2.2.3"},
	{"MQTT-2.2.3 connect flags missing", "10 07 0004 4d515454 04", malformed, "MQTT-2.2.3"},
	{"MQTT-2.2.3 keep alive cut", "10 09 0004 4d515454 04 02 00", malformed, "MQTT-2.2.3"},
	{"MQTT-2.2.3 empty CONNECT", "10 00", malformed, "MQTT-2.2.3"},

	// Payload.
	{"MQTT-3.1.3-3 client ID missing", "10 0a 0004 4d515454 04 02 003c", malformed, "MQTT-3.1.3-3"},
	{"MQTT-2.2.3 client ID runs past the end", "10 0d 0004 4d515454 04 02 003c 0005 61", malformed, "MQTT-2.2.3"},
	{"MQTT-2.2.3 client ID length cut", "10 0b 0004 4d515454 04 02 003c 00", malformed, "MQTT-2.2.3"},
	{"MQTT-1.5.3-1 client ID ill-formed UTF-8 (MQTT-3.1.3-4)", "10 0e 0004 4d515454 04 02 003c 0002 c328", malformed, "MQTT-1.5.3-1"},
	{"MQTT-1.5.3-1 client ID surrogate U+D800", "10 0f 0004 4d515454 04 02 003c 0003 eda080", malformed, "MQTT-1.5.3-1"},
	{"MQTT-1.5.3-1 client ID overlong '/'", "10 0e 0004 4d515454 04 02 003c 0002 c0af", malformed, "MQTT-1.5.3-1"},
	{"MQTT-1.5.3-1 client ID beyond U+10FFFF", "10 10 0004 4d515454 04 02 003c 0004 f4908080", malformed, "MQTT-1.5.3-1"},
	{"MQTT-1.5.3-1 client ID cut inside a character", "10 0e 0004 4d515454 04 02 003c 0002 61e2", malformed, "MQTT-1.5.3-1"},
	{"MQTT-1.5.3-2 client ID U+0000", "10 0f 0004 4d515454 04 02 003c 0003 610062", malformed, "MQTT-1.5.3-2"},
	{"MQTT-3.1.2-9 will topic missing", "10 0d 0004 4d515454 04 06 003c 0001 61", malformed, "MQTT-3.1.2-9"},
	{"MQTT-3.1.2-9 will message missing", "10 10 0004 4d515454 04 06 003c 0001 61 0001 77", malformed, "MQTT-3.1.2-9"},
	{"MQTT-2.2.3 will message runs past the end", "10 14 0004 4d515454 04 06 003c 0001 61 0001 77 0009 6869", malformed, "MQTT-2.2.3"},
	{"MQTT-1.5.3-1 will topic ill-formed UTF-8 (MQTT-3.1.3-10)", "10 13 0004 4d515454 04 06 003c 0001 61 0002 61ff 0000", malformed, "MQTT-1.5.3-1"},
	{"MQTT-4.7.3-2 will topic U+0000", "10 14 0004 4d515454 04 06 003c 0001 61 0003 610062 0000", malformed, "MQTT-4.7.3-2"},
	{"MQTT-4.7.3-1 will topic empty", "10 11 0004 4d515454 04 06 003c 0001 61 0000 0000", protocol, "MQTT-4.7.3-1"},
	{"MQTT-4.7.1-1 will topic with wildcard #", "10 14 0004 4d515454 04 06 003c 0001 61 0003 612f23 0000", protocol, "MQTT-4.7.1-1"},
	{"MQTT-4.7.1-1 will topic with wildcard +", "10 14 0004 4d515454 04 06 003c 0001 61 0003 2b2f62 0000", protocol, "MQTT-4.7.1-1"},
	{"MQTT-3.1.2-18 user name present with user name flag 0", "10 18 0004 4d515454 04 06 003c 0001 61 0001 77 0000 0004 75736572", malformed, "MQTT-3.1.2-18"},
	{"MQTT-3.1.2-19 user name missing", "10 0d 0004 4d515454 04 82 003c 0001 61", malformed, "MQTT-3.1.2-19"},
	{"MQTT-1.5.3-1 user name ill-formed UTF-8 (MQTT-3.1.3-11)", "10 10 0004 4d515454 04 82 003c 0001 61 0001 80", malformed, "MQTT-1.5.3-1"},
	{"MQTT-1.5.3-2 user name U+0000", "10 10 0004 4d515454 04 82 003c 0001 61 0001 00", malformed, "MQTT-1.5.3-2"},
	{"MQTT-3.1.2-20 password present with password flag 0", "10 14 0004 4d515454 04 82 003c 0001 61 0001 75 0002 7077", malformed, "MQTT-3.1.2-20"},
	{"MQTT-3.1.2-21 password missing", "10 10 0004 4d515454 04 c2 003c 0001 61 0001 75", malformed, "MQTT-3.1.2-21"},
	{"MQTT-2.2.3 password runs past the end", "10 14 0004 4d515454 04 c2 003c 0001 61 0001 75 0004 7077", malformed, "MQTT-2.2.3"},
	{"MQTT-2.2.3 bytes after the password", "10 15 0004 4d515454 04 c2 003c 0001 61 0001 75 0002 7077 00", malformed, "MQTT-2.2.3"},
	{"MQTT-2.2.3 MQTT 3.1 user name runs past the end", "10 12 0006 4d5149736470 03 82 003c 0001 61 0003 75", malformed, "MQTT-2.2.3"},
}

func TestDecodeConnect(t *testing.T) {
	runDecodeCases(t, connectCases, func(b []byte) (int, error) {
		var p codec.Connect
		return p.Decode(b)
	})
}

func TestDecodeConnectFields(t *testing.T) {
	b := unhex(t, "10 22 0004 4d515454 04 ee 003c 0001 61 0003 612f62 0002 6869 0004 75736572 0004 00ff0102")
	var p codec.Connect
	if _, err := p.Decode(b); err != nil {
		t.Fatalf("got %v, want nil", err)
	}
	want := codec.Connect{
		ProtocolName: []byte("MQTT"), ProtocolLevel: 4, CleanSession: true,
		WillFlag: true, WillQoS: 1, WillRetain: true, UsernameFlag: true, PasswordFlag: true,
		KeepAlive: 60, ClientID: []byte("a"), WillTopic: []byte("a/b"), WillMessage: []byte("hi"),
		Username: []byte("user"), Password: []byte{0, 0xff, 1, 2},
	}
	if !p.Equal(&want) {
		t.Fatalf("got %+v, want %+v", p, want)
	}
	if got := codec.AppendConnect(nil, &p); !bytes.Equal(got, b) {
		t.Fatalf("AppendConnect: got % x, want % x", got, b)
	}
}

func TestDecodeConnectMQTT31MissingUsername(t *testing.T) {
	b := unhex(t, "10 0f 0006 4d5149736470 03 c2 003c 0001 61")
	var p codec.Connect
	if _, err := p.Decode(b); err != nil {
		t.Fatalf("got %v, want nil", err)
	}
	if p.UsernameFlag || p.PasswordFlag || p.Username != nil || p.Password != nil {
		t.Fatalf("got user name flag %v %q, password flag %v; want false, nil, false", p.UsernameFlag, p.Username, p.PasswordFlag)
	}
}

// TestDecodeConnectLevel checks what the broker needs to answer CONNACK 0x01:
// the rule, and the protocol name and level it found.
func TestDecodeConnectLevel(t *testing.T) {
	b := unhex(t, "10 0e 0004 4d515454 05 02 003c 00 0001 61")
	var p codec.Connect
	_, err := p.Decode(b)
	var e *codec.Error
	if !errors.As(err, &e) || e.Rule != "MQTT-3.1.2-2" || e.Offset != 8 {
		t.Fatalf("got %v, want rule MQTT-3.1.2-2 at byte 8", err)
	}
	if string(p.ProtocolName) != "MQTT" || p.ProtocolLevel != 5 {
		t.Fatalf("got protocol %q level %d, want \"MQTT\" level 5", p.ProtocolName, p.ProtocolLevel)
	}
}

func TestAppendConnectDefaults(t *testing.T) {
	got := codec.AppendConnect(nil, &codec.Connect{CleanSession: true, KeepAlive: 60, ClientID: []byte("a")})
	want := unhex(t, "10 0d 0004 4d515454 04 02 003c 0001 61")
	if !bytes.Equal(got, want) {
		t.Fatalf("got % x, want % x", got, want)
	}
	got = codec.AppendConnect(nil, &codec.Connect{ProtocolName: []byte("MQIsdp"), ClientID: []byte("a")})
	want = unhex(t, "10 0f 0006 4d5149736470 03 00 0000 0001 61")
	if !bytes.Equal(got, want) {
		t.Fatalf("got % x, want % x", got, want)
	}
}

func TestConnectErrorText(t *testing.T) {
	var p codec.Connect
	_, err := p.Decode(unhex(t, "10 0d 0004 4d515454 04 03 003c 0001 61"))
	const want = "codec: CONNECT connect flags at byte 9: reserved bit is 1, want 0 [MQTT-3.1.2-3]"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
}

// TestConnectErrorNoSecrets checks that no error text shows a password or a
// will message.
func TestConnectErrorNoSecrets(t *testing.T) {
	for _, frame := range []string{
		"10 1a 0004 4d515454 04 c2 003c 0001 61 0001 75 0007 68756e74657232 00",   // bytes after the password
		"10 19 0004 4d515454 04 c2 003c 0001 61 0001 75 0009 68756e74657232",      // password past the end
		"10 1b 0004 4d515454 04 06 003c 0001 61 0001 77 0007 68756e74657232 0001", // bytes after the will message
		"10 19 0004 4d515454 04 06 003c 0001 2b 0001 77 0009 68756e74657232",      // will message past the end
	} {
		var p codec.Connect
		_, err := p.Decode(unhex(t, frame))
		if err == nil {
			t.Fatalf("%s: got nil, want an error", frame)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Fatalf("%s: got %q, want no password or will message in it", frame, err)
		}
	}
}
