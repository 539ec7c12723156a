package codec_test

import (
	"errors"
	"testing"

	"github.com/glassmq/glassmq/codec"
)

// MQTT 5.0 tables. Rule names are the 5.0 statement numbers written
// "MQTT5-x.y.z-n" (or the section, "MQTT5-2.2.2.2", where the requirement has
// no number), so that they are not mistaken for the 3.1.1 ones.

var publish5Cases = []decodeCase{
	{"valid QoS 0 no properties", "30 0a 0005 612f622f63 00 6869", nil, ""},
	{"valid QoS 1 with properties", "32 2d 0003 612f62 0001 23 0101 0200000e10 03000474657874 0800037 22f31 09 0002abcd 26 0001 6b 0001 76 23 0005 6869", nil, ""},
	{"valid MQTT5-3.3.2.3.4 empty topic with a topic alias", "30 08 0000 03 230007 6869", nil, ""},
	{"valid MQTT5-3.3.2-17 user property names repeat", "30 12 0001 61 0e 26 0001 6b 0001 31 26 0001 6b 0001 32", nil, ""},
	{"valid non-minimal property length", "30 05 0001 61 8000", nil, ""},
	{"valid MQTT5-1.5.4-3 byte order mark in the content type", "30 0a 0001 61 06 03 0003 efbbbf", nil, ""},
	{"MQTT5-1.5.4-1 half a byte order mark in the content type", "30 09 0001 61 05 03 0002 efbb", malformed, "MQTT5-1.5.4-1"},

	{"MQTT5-3.3.2.3.4 empty topic without a topic alias", "30 03 0000 00", protocol, "MQTT5-3.3.2.3.4"},
	{"MQTT5-3.3.2-8 topic alias 0", "30 07 0001 61 03 230000", protocol, "MQTT5-3.3.2-8"},
	{"MQTT5-3.3.4-6 subscription identifier from a client", "30 06 0001 61 02 0b01", protocol, "MQTT5-3.3.4-6"},
	{"MQTT5-2.2.2.2 message expiry twice", "30 0e 0001 61 0a 0200000001 0200000002", protocol, "MQTT5-2.2.2.2"},
	{"MQTT5-2.2.2.2 session expiry not allowed in PUBLISH", "30 09 0001 61 05 1100000001", malformed, "MQTT5-2.2.2.2"},
	{"MQTT5-2.2.2.2 unknown property 0x04", "30 06 0001 61 02 0400", malformed, "MQTT5-2.2.2.2"},
	{"MQTT5-2.2.2.2 payload format indicator 2", "30 06 0001 61 02 0102", protocol, "MQTT5-2.2.2.2"},
	{"MQTT5-3.3.2-14 wildcard in the response topic", "30 09 0001 61 05 08 0002 612b", protocol, "MQTT5-3.3.2-14"},
	{"MQTT5-1.5.4-1 ill-formed UTF-8 in the content type (MQTT5-3.3.2-19)", "30 08 0001 61 04 03 0001 ff", malformed, "MQTT5-1.5.4-1"},
	{"MQTT5-1.5.4-2 U+0000 in a user property value (MQTT5-1.5.7-1)", "30 0a 0001 61 06 26 0000 0001 00", malformed, "MQTT5-1.5.4-2"},
	{"MQTT5-2.1.4 property length past the end", "30 04 0001 61 05", malformed, "MQTT5-2.1.4"},
	{"MQTT5-2.1.4 property value past the property length", "30 06 0001 61 02 0200", malformed, "MQTT5-2.1.4"},
	{"MQTT5-2.1.4 property length missing", "30 03 0001 61", malformed, "MQTT5-2.1.4"},
	{"MQTT5-1.5.5 property length of 5 bytes", "30 08 0001 61 ffffffff7f", malformed, "MQTT5-1.5.5"},
	{"MQTT5-3.3.1-4 QoS 3", "36 06 0001 61 0001 00", malformed, "MQTT5-3.3.1-4"},
	{"MQTT5-3.3.1-2 DUP with QoS 0", "38 04 0001 61 00", malformed, "MQTT5-3.3.1-2"},
	{"MQTT5-3.3.2-2 wildcard in the topic name", "30 05 0002 612b 00", protocol, "MQTT5-3.3.2-2"},
	{"MQTT5-2.2.1-3 packet identifier 0", "32 06 0001 61 0000 00", protocol, "MQTT5-2.2.1-3"},
	{"MQTT5-3.3.2-1 topic name missing", "30 00", malformed, "MQTT5-3.3.2-1"},
	{"MQTT5-4.7.3-2 U+0000 in the topic name", "30 05 0002 6100 00", malformed, "MQTT5-4.7.3-2"},
	{"MQTT5-2.1.4 remaining length of 5 bytes", "30 ffffffff7f 0001 61", malformed, "MQTT5-2.1.4"},
}

var connect5Cases = []decodeCase{
	{"valid minimal", "10 0e 0004 4d515454 05 02 003c 00 0001 61", nil, ""},
	{"valid every field", "10 51 0004 4d515454 05 ee 003c 26 110000003c 210010 2700001000 22000a 1901 1700 26000161000176 150003616263 1600020102 0001 61 07 180000000a 0101 0003 612f62 0002 6869 0004 75736572 0004 00ff0102", nil, ""},
	{"valid password without a user name", "10 12 0004 4d515454 05 42 003c 00 0001 61 0002 7077", nil, ""},
	{"valid MQTT 3.1.1 through DecodeV", "10 0d 0004 4d515454 04 02 003c 0001 61", nil, ""},
	{"valid MQTT 3.1 through DecodeV", "10 0f 0006 4d5149736470 03 02 003c 0001 61", nil, ""},

	{"MQTT5-3.1.2-3 reserved flag", "10 0e 0004 4d515454 05 03 003c 00 0001 61", malformed, "MQTT5-3.1.2-3"},
	{"MQTT5-3.1.2-11 will QoS without the will flag", "10 0e 0004 4d515454 05 0a 003c 00 0001 61", malformed, "MQTT5-3.1.2-11"},
	{"MQTT5-3.1.2-12 will QoS 3", "10 0e 0004 4d515454 05 1e 003c 00 0001 61", malformed, "MQTT5-3.1.2-12"},
	{"MQTT5-3.1.2-13 will retain without the will flag", "10 0e 0004 4d515454 05 22 003c 00 0001 61", malformed, "MQTT5-3.1.2-13"},
	{"MQTT5-3.1.2-9 will properties missing", "10 0e 0004 4d515454 05 06 003c 00 0001 61", malformed, "MQTT5-3.1.2-9"},
	{"MQTT5-3.1.2-9 will payload missing", "10 12 0004 4d515454 05 06 003c 00 0001 61 00 0001 61", malformed, "MQTT5-3.1.2-9"},
	{"MQTT5-4.7.0-1 wildcard in the will topic", "10 14 0004 4d515454 05 06 003c 00 0001 61 00 0001 23 0000", protocol, "MQTT5-4.7.0-1"},
	{"MQTT5-2.2.2.2 will delay in the CONNECT properties", "10 13 0004 4d515454 05 02 003c 05 1800000001 0001 61", malformed, "MQTT5-2.2.2.2"},
	{"MQTT5-2.2.2.2 session expiry in the will properties", "10 19 0004 4d515454 05 06 003c 00 0001 61 05 1100000001 0001 61 0000", malformed, "MQTT5-2.2.2.2"},
	{"MQTT5-2.2.2.2 receive maximum 0", "10 11 0004 4d515454 05 02 003c 03 210000 0001 61", protocol, "MQTT5-2.2.2.2"},
	{"MQTT5-2.2.2.2 maximum packet size 0", "10 13 0004 4d515454 05 02 003c 05 2700000000 0001 61", protocol, "MQTT5-2.2.2.2"},
	{"MQTT5-2.2.2.2 request problem information 2", "10 10 0004 4d515454 05 02 003c 02 1702 0001 61", protocol, "MQTT5-2.2.2.2"},
	{"MQTT5-2.2.2.2 request response information 2", "10 10 0004 4d515454 05 02 003c 02 1902 0001 61", protocol, "MQTT5-2.2.2.2"},
	{"MQTT5-2.2.2.2 session expiry twice", "10 18 0004 4d515454 05 02 003c 0a 1100000001 1100000002 0001 61", protocol, "MQTT5-2.2.2.2"},
	{"MQTT5-3.1.2.11.10 authentication data without a method", "10 12 0004 4d515454 05 02 003c 04 16000101 0001 61", protocol, "MQTT5-3.1.2.11.10"},
	{"MQTT5-3.1.2-16 user name without its flag", "10 10 0004 4d515454 05 02 003c 00 0001 61 0000", malformed, "MQTT5-3.1.2-16"},
	{"MQTT5-3.1.2-17 user name missing", "10 0e 0004 4d515454 05 82 003c 00 0001 61", malformed, "MQTT5-3.1.2-17"},
	{"MQTT5-3.1.2-18 password without its flag", "10 13 0004 4d515454 05 82 003c 00 0001 61 0001 75 0000", malformed, "MQTT5-3.1.2-18"},
	{"MQTT5-3.1.2-19 password missing", "10 11 0004 4d515454 05 c2 003c 00 0001 61 0001 75", malformed, "MQTT5-3.1.2-19"},
	{"MQTT5-3.1.3-3 client identifier missing", "10 0b 0004 4d515454 05 02 003c 00", malformed, "MQTT5-3.1.3-3"},
	{"MQTT5-1.5.4-1 client identifier ill-formed UTF-8 (MQTT5-3.1.3-4)", "10 0e 0004 4d515454 05 02 003c 00 0001 ff", malformed, "MQTT5-1.5.4-1"},
	{"MQTT5-2.1.3-1 fixed header flags", "11 0e 0004 4d515454 05 02 003c 00 0001 61", malformed, "MQTT5-2.1.3-1"},
	{"MQTT-3.1.2-2 level 6 answered as 3.1.1 (Reason 0x84)", "10 0e 0004 4d515454 06 02 003c 00 0001 61", protocol, "MQTT-3.1.2-2"},
}

var connack5Cases = []decodeCase{
	{"valid", "20 03 00 00 00", nil, ""},
	{"valid session present with properties", "20 0a 01 00 07 21000a 2401 2500", nil, ""},
	{"valid refusal 0x87", "20 03 00 87 00", nil, ""},
	{"valid every CONNACK property", "20 3f 00 00 3c 1100000e10 21000a 2401 2500 2700010000 12000161 22000a 1f000162 26000163000164 2800 2900 2a00 13003c 1a000165 1c000166 150001 67 16000168", nil, ""},

	{"MQTT5-3.2.2-1 reserved acknowledge flags", "20 03 02 00 00", malformed, "MQTT5-3.2.2-1"},
	{"MQTT5-3.2.2-8 reason code 0x01 is not CONNACK's", "20 03 00 01 00", protocol, "MQTT5-3.2.2-8"},
	{"MQTT5-3.2.2-6 session present with a failure", "20 03 01 80 00", protocol, "MQTT5-3.2.2-6"},
	{"MQTT5-2.2.2.2 topic alias in CONNACK", "20 06 00 00 03 230001", malformed, "MQTT5-2.2.2.2"},
	{"MQTT5-2.2.2.2 maximum QoS 2", "20 05 00 00 02 2402", protocol, "MQTT5-2.2.2.2"},
	{"MQTT5-2.2.2.2 retain available 2", "20 05 00 00 02 2502", protocol, "MQTT5-2.2.2.2"},
	{"MQTT5-2.1.4 properties missing", "20 02 00 00", malformed, "MQTT5-2.1.4"},
	{"MQTT5-2.1.4 bytes after the properties", "20 04 00 00 00 00", malformed, "MQTT5-2.1.4"},
	{"MQTT5-2.1.3-1 flags", "21 03 00 00 00", malformed, "MQTT5-2.1.3-1"},
}

var ack5Cases = []decodeCase{
	{"valid PUBACK short form", "40 02 0001", nil, ""},
	{"valid PUBACK reason code alone", "40 03 0001 10", nil, ""},
	{"valid PUBREC failure with a reason string", "50 0a 0001 80 06 1f0003626164", nil, ""},
	{"valid PUBREL 0x92", "62 03 0001 92", nil, ""},
	{"valid PUBCOMP empty properties", "70 04 0001 00 00", nil, ""},
	{"valid PUBACK user property", "40 0b 0001 00 07 26000161000162", nil, ""},

	{"MQTT5-3.4.2-1 PUBACK reason 0x92", "40 03 0001 92", protocol, "MQTT5-3.4.2-1"},
	{"MQTT5-3.5.2-1 PUBREC reason 0x04", "50 03 0001 04", protocol, "MQTT5-3.5.2-1"},
	{"MQTT5-3.6.2-1 PUBREL reason 0x10", "62 03 0001 10", protocol, "MQTT5-3.6.2-1"},
	{"MQTT5-3.7.2-1 PUBCOMP reason 0x80", "70 03 0001 80", protocol, "MQTT5-3.7.2-1"},
	{"MQTT5-3.6.1-1 PUBREL flags 0000", "60 02 0001", malformed, "MQTT5-3.6.1-1"},
	{"MQTT5-2.1.3-1 PUBACK flags 0010", "42 02 0001", malformed, "MQTT5-2.1.3-1"},
	{"MQTT5-2.1.4 PUBACK remaining length 1", "40 01 00", malformed, "MQTT5-2.1.4"},
	{"MQTT5-2.2.2.2 reason string twice", "40 0c 0001 00 08 1f000161 1f000162", protocol, "MQTT5-2.2.2.2"},
	{"MQTT5-2.2.2.2 topic alias in PUBACK", "40 07 0001 00 03 230001", malformed, "MQTT5-2.2.2.2"},
	{"MQTT5-2.1.4 bytes after the properties", "40 05 0001 00 00 ff", malformed, "MQTT5-2.1.4"},
	{"UNSUBACK is Unsuback's at level 5", "b0 04 0001 00 00", malformed, ""},
}

var subscribe5Cases = []decodeCase{
	{"valid options", "82 0d 000a 00 0001 61 00 0003 612f2b 2d", nil, ""},
	{"valid subscription identifier", "82 09 000a 02 0b7f 0001 61 01", nil, ""},
	{"valid shared subscription without no local", "82 10 000a 00 000a 2473686172652f672f61 01", nil, ""},

	{"MQTT5-3.8.3-4 no local on a shared subscription", "82 10 000a 00 000a 2473686172652f672f61 05", protocol, "MQTT5-3.8.3-4"},
	{"MQTT5-3.8.3-5 reserved option bits", "82 07 000a 00 0001 61 40", malformed, "MQTT5-3.8.3-5"},
	{"MQTT5-3.8.3.1 QoS 3", "82 07 000a 00 0001 61 03", protocol, "MQTT5-3.8.3.1"},
	{"MQTT5-3.8.3.1 retain handling 3", "82 07 000a 00 0001 61 30", protocol, "MQTT5-3.8.3.1"},
	{"MQTT5-3.8.3-2 no topic filter", "82 03 000a 00", protocol, "MQTT5-3.8.3-2"},
	{"MQTT5-2.2.1-3 packet identifier 0", "82 07 0000 00 0001 61 00", protocol, "MQTT5-2.2.1-3"},
	{"MQTT5-3.8.1-1 flags 0000", "80 07 000a 00 0001 61 00", malformed, "MQTT5-3.8.1-1"},
	{"MQTT5-2.2.2.2 subscription identifier 0", "82 09 000a 02 0b00 0001 61 00", protocol, "MQTT5-2.2.2.2"},
	{"MQTT5-2.2.2.2 two subscription identifiers", "82 0b 000a 04 0b01 0b02 0001 61 00", protocol, "MQTT5-2.2.2.2"},
	{"MQTT5-1.5.5 subscription identifier of 5 bytes", "82 0c 000a 05 0bffffffff 0001 61 00", malformed, "MQTT5-1.5.5"},
	{"MQTT5-4.7.3-1 empty topic filter", "82 06 000a 00 0000 00", protocol, "MQTT5-4.7.3-1"},
	{"MQTT5-2.2.2.2 reason string in SUBSCRIBE", "82 0b 000a 04 1f000161 0001 61 00", malformed, "MQTT5-2.2.2.2"},
	{"MQTT5-3.8.3-1 topic filter ill-formed UTF-8", "82 07 000a 00 0001 ff 00", malformed, "MQTT5-1.5.4-1"},
}

var suback5Cases = []decodeCase{
	{"valid", "90 04 0001 00 00", nil, ""},
	{"valid codes and a reason string", "90 0a 0001 03 1f0000 00 01 02 80", nil, ""},
	{"valid 0xa2 wildcard subscriptions not supported", "90 04 0001 00 a2", nil, ""},

	{"MQTT5-3.9.3-2 code 0x03", "90 04 0001 00 03", protocol, "MQTT5-3.9.3-2"},
	{"MQTT5-3.9.3-2 no reason code", "90 03 0001 00", protocol, "MQTT5-3.9.3-2"},
	{"MQTT5-2.1.3-1 flags", "92 04 0001 00 00", malformed, "MQTT5-2.1.3-1"},
	{"MQTT5-2.2.2.2 subscription identifier in SUBACK", "90 06 0001 02 0b01 00", malformed, "MQTT5-2.2.2.2"},
}

var unsubscribe5Cases = []decodeCase{
	{"valid", "a2 06 0001 00 0001 61", nil, ""},
	{"valid user property", "a2 0d 0001 07 26000161000162 0001 61", nil, ""},

	{"MQTT5-3.10.3-2 no topic filter", "a2 03 0001 00", protocol, "MQTT5-3.10.3-2"},
	{"MQTT5-2.2.2.2 subscription identifier in UNSUBSCRIBE", "a2 08 0001 02 0b01 0001 61", malformed, "MQTT5-2.2.2.2"},
	{"MQTT5-3.10.1-1 flags", "a0 06 0001 00 0001 61", malformed, "MQTT5-3.10.1-1"},
	{"MQTT5-2.2.1-3 packet identifier 0", "a2 06 0000 00 0001 61", protocol, "MQTT5-2.2.1-3"},
	{"MQTT5-3.10.3-1 topic filter U+0000", "a2 06 0001 00 0001 00", malformed, "MQTT5-4.7.3-2"},
}

var unsuback5Cases = []decodeCase{
	{"valid", "b0 04 0001 00 00", nil, ""},
	{"valid no subscription existed, failure", "b0 05 0001 00 11 80", nil, ""},

	{"MQTT5-3.11.3-2 code 0x01", "b0 04 0001 00 01", protocol, "MQTT5-3.11.3-2"},
	{"MQTT5-3.11.3-2 no reason code", "b0 03 0001 00", protocol, "MQTT5-3.11.3-2"},
	{"MQTT5-2.1.3-1 flags", "b2 04 0001 00 00", malformed, "MQTT5-2.1.3-1"},
}

var disconnect5Cases = []decodeCase{
	{"valid remaining length 0 is normal disconnection", "e0 00", nil, ""},
	{"valid disconnect with will", "e0 01 04", nil, ""},
	{"valid session taken over, empty properties", "e0 02 8e 00", nil, ""},
	{"valid session expiry from a client", "e0 07 00 05 1100000000", nil, ""},
	{"valid server reference", "e0 08 9c 06 1c0003682f32", nil, ""},

	{"MQTT5-3.14.1-1 flags", "e1 00", malformed, "MQTT5-3.14.1-1"},
	{"MQTT5-3.14.2-1 reason 0x10", "e0 01 10", protocol, "MQTT5-3.14.2-1"},
	{"MQTT5-2.2.2.2 topic alias in DISCONNECT", "e0 05 00 03 230001", malformed, "MQTT5-2.2.2.2"},
	{"MQTT5-2.1.4 bytes after the properties", "e0 03 00 00 00", malformed, "MQTT5-2.1.4"},
}

var auth5Cases = []decodeCase{
	{"valid remaining length 0 is success", "f0 00", nil, ""},
	{"valid continue with method and data", "f0 0d 18 0b 150003616263 1600020102", nil, ""},
	{"valid re-authenticate alone", "f0 01 19", nil, ""},

	{"MQTT5-3.15.1-1 flags", "f1 00", malformed, "MQTT5-3.15.1-1"},
	{"MQTT5-3.15.2-1 reason 0x87", "f0 01 87", protocol, "MQTT5-3.15.2-1"},
	{"MQTT5-2.2.2.2 session expiry in AUTH", "f0 07 18 05 1100000001", malformed, "MQTT5-2.2.2.2"},
	{"MQTT5-2.2.2.2 authentication method twice", "f0 0a 18 08 15000161 15000162", protocol, "MQTT5-2.2.2.2"},
}

func TestDecodePublishV5(t *testing.T) {
	runDecodeCases(t, publish5Cases, func(b []byte) (int, error) { var p codec.Publish; return p.DecodeV(b, 5) })
}

func TestDecodeConnectV5(t *testing.T) {
	runDecodeCases(t, connect5Cases, func(b []byte) (int, error) { var p codec.Connect; return p.DecodeV(b, 5) })
}

func TestDecodeConnackV5(t *testing.T) {
	runDecodeCases(t, connack5Cases, func(b []byte) (int, error) { var p codec.Connack; return p.DecodeV(b, 5) })
}

func TestDecodeAckV5(t *testing.T) {
	runDecodeCases(t, ack5Cases, func(b []byte) (int, error) { var p codec.Ack; return p.DecodeV(b, 5) })
}

func TestDecodeSubscribeV5(t *testing.T) {
	runDecodeCases(t, subscribe5Cases, func(b []byte) (int, error) { var p codec.Subscribe; return p.DecodeV(b, 5) })
}

func TestDecodeSubackV5(t *testing.T) {
	runDecodeCases(t, suback5Cases, func(b []byte) (int, error) { var p codec.Suback; return p.DecodeV(b, 5) })
}

func TestDecodeUnsubscribeV5(t *testing.T) {
	runDecodeCases(t, unsubscribe5Cases, func(b []byte) (int, error) { var p codec.Unsubscribe; return p.DecodeV(b, 5) })
}

func TestDecodeUnsubackV5(t *testing.T) {
	runDecodeCases(t, unsuback5Cases, func(b []byte) (int, error) { var p codec.Unsuback; return p.DecodeV(b, 5) })
}

func TestDecodeDisconnectV5(t *testing.T) {
	runDecodeCases(t, disconnect5Cases, func(b []byte) (int, error) { var p codec.Disconnect; return p.DecodeV(b, 5) })
}

func TestDecodeAuth(t *testing.T) {
	runDecodeCases(t, auth5Cases, func(b []byte) (int, error) { var p codec.Auth; return p.Decode(b) })
}

// Below level 5 every DecodeV is the 3.1.1 decoder: the 3.1.1 tables give the
// same results through it.
func TestDecodeVBelow5IsDecode(t *testing.T) {
	for _, level := range []byte{3, 4} {
		runDecodeCases(t, publishCases, func(b []byte) (int, error) { var p codec.Publish; return p.DecodeV(b, level) })
		runDecodeCases(t, connectCases, func(b []byte) (int, error) { var p codec.Connect; return p.DecodeV(b, level) })
		runDecodeCases(t, connackCases, func(b []byte) (int, error) { var p codec.Connack; return p.DecodeV(b, level) })
		runDecodeCases(t, ackCases, func(b []byte) (int, error) { var p codec.Ack; return p.DecodeV(b, level) })
		runDecodeCases(t, subscribeCases, func(b []byte) (int, error) { var p codec.Subscribe; return p.DecodeV(b, level) })
		runDecodeCases(t, subackCases, func(b []byte) (int, error) { var p codec.Suback; return p.DecodeV(b, level) })
		runDecodeCases(t, unsubscribeCases, func(b []byte) (int, error) { var p codec.Unsubscribe; return p.DecodeV(b, level) })
	}
}

func TestFrameV(t *testing.T) {
	for _, tc := range []struct {
		name, frame string
		max         int
		level       byte
		n           int
		err         error
		rule        string
	}{
		{"AUTH at level 5", "f0 00", 0, 5, 2, nil, ""},
		{"MQTT-2.2.1 type 15 at level 4", "f0 00", 0, 4, 0, malformed, "MQTT-2.2.1"},
		{"MQTT5-2.1.2 type 0 at level 5", "00 00", 0, 5, 0, malformed, "MQTT5-2.1.2"},
		{"MQTT5-2.1.4 remaining length of 5 bytes", "30 ffffffff7f", 0, 5, 0, malformed, "MQTT5-2.1.4"},
		{"packet too large", "30 07 0003 612f62 6869", 8, 5, 0, codec.ErrTooLarge, ""},
		{"incomplete", "30 07 0003", 0, 5, 0, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := codec.FrameV(unhex(t, tc.frame), tc.max, tc.level)
			checkErr(t, err, tc.err, tc.rule)
			if n != tc.n {
				t.Fatalf("got n %d, want %d", n, tc.n)
			}
		})
	}
}

// The reason code a server sends for each kind of rejected packet.
func TestReasonFor(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  func() error
		want codec.ReasonCode
	}{
		{"MQTT5-3.3.2-2 wildcard topic: topic name invalid", func() error { return decode5(t, "30 05 0002 612b 00") }, codec.ReasonTopicNameInvalid},
		{"MQTT5-3.3.2-8 topic alias 0: topic alias invalid", func() error { return decode5(t, "30 07 0001 61 03 230000") }, codec.ReasonTopicAliasInvalid},
		{"malformed", func() error { return decode5(t, "36 06 0001 61 0001 00") }, codec.ReasonMalformedPacket},
		{"protocol error", func() error { return decode5(t, "30 03 0000 00") }, codec.ReasonProtocolError},
		{"too large", func() error { _, err := codec.FrameV(unhex(t, "30 07 0003 612f62 6869"), 8, 5); return err }, codec.ReasonPacketTooLarge},
		{"too large, 3.1.1 Frame", func() error { _, err := codec.Frame(unhex(t, "30 07 0003 612f62 6869"), 8); return err }, codec.ReasonPacketTooLarge},
		{"3.1.1 malformed", func() error { return decodePublishErr(t, "36 09 0003 612f62 0001 6869") }, codec.ReasonMalformedPacket},
		{"MQTT-3.1.2-2 level 6: unsupported protocol version", func() error {
			var c codec.Connect
			_, err := c.DecodeV(unhex(t, "10 0e 0004 4d515454 06 02 003c 00 0001 61"), 5)
			return err
		}, codec.ReasonUnsupportedProtocolVersion},
		{"not a codec error", func() error { return errors.New("x") }, codec.ReasonUnspecifiedError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := codec.ReasonFor(tc.err()); got != tc.want {
				t.Fatalf("got %#02x %v, want %#02x %v", byte(got), got, byte(tc.want), tc.want)
			}
		})
	}
}

func decode5(t *testing.T, frame string) error {
	var p codec.Publish
	_, err := p.DecodeV(unhex(t, frame), 5)
	return err
}

func decodePublishErr(t *testing.T, frame string) error {
	var p codec.Publish
	_, err := p.Decode(unhex(t, frame))
	return err
}

func TestReasonNames(t *testing.T) {
	for _, tc := range []struct {
		c    codec.ReasonCode
		t    codec.Type
		want string
	}{
		{0x00, codec.TypePuback, "Success"},
		{0x00, codec.TypeDisconnect, "Normal disconnection"},
		{0x00, codec.TypeSuback, "Granted QoS 0"},
		{0x95, codec.TypeDisconnect, "Packet too large"},
		{0x8E, codec.TypeDisconnect, "Session taken over"},
		{0xA2, codec.TypeSuback, "Wildcard Subscriptions not supported"},
		{0x03, codec.TypeSuback, "reason 0x3"},
	} {
		if got := tc.c.Name(tc.t); got != tc.want {
			t.Errorf("%#02x in %v: got %q, want %q", byte(tc.c), tc.t, got, tc.want)
		}
	}
	// Every code some packet may carry has a name.
	for c := 0; c < 256; c++ {
		for typ := codec.Type(0); typ < 16; typ++ {
			if codec.ValidReason(typ, codec.ReasonCode(c)) && codec.ReasonCode(c).String() == "" {
				t.Errorf("%#02x valid in %v has no name", c, typ)
			}
		}
	}
}
