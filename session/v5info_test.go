package session

import (
	"reflect"
	"strings"
	"testing"

	"github.com/glassmq/glassmq/codec"
)

// TestConnV5: a 5.0 CONNECT's properties are kept as sent, user properties
// in order with repeated names, cut at MaxConnectUserProps bytes on a
// property boundary; a 3.1.1 connection has no ConnV5 and shows none.
func TestConnV5(t *testing.T) {
	var p codec.Properties
	p.TopicAliasMaximum = 7
	p.Set(codec.PropTopicAliasMaximum)
	p.AuthMethod = []byte("SCRAM-SHA-256")
	p.Set(codec.PropAuthMethod)
	p.User = []codec.UserProperty{{Key: []byte("a"), Value: []byte("1")}, {Key: []byte("a"), Value: []byte("")}, {Key: []byte(""), Value: []byte("é")}}
	v := NewConnV5(&p)
	m := &ConnMeta{ProtocolVersion: 5, ReceiveMaximum: 3, MaxPacketSize: 1000, V5: v}
	var info Info
	v.info(m, &info)
	want := []UserProperty{{"a", "1"}, {"a", ""}, {"", "é"}}
	if !reflect.DeepEqual(info.UserProperties, want) || info.UserPropsCut || info.TopicAliasMax != 7 ||
		info.AuthMethod != "SCRAM-SHA-256" || info.ReceiveMaximum != 3 || info.MaxPacketSize != 1000 {
		t.Fatalf("got %+v", info)
	}

	big := strings.Repeat("x", 300) // 4 + 300 + 300 bytes a property: one fits in 1 KiB, a second does not
	p.User = p.User[:0]
	for range 5 {
		p.User = append(p.User, codec.UserProperty{Key: []byte(big), Value: []byte(big)})
	}
	v = NewConnV5(&p)
	if got := v.UserProperties(nil); len(got) != 1 || !v.cut {
		t.Fatalf("5 properties of 604 bytes: kept %d cut %v, want 1 and true", len(got), v.cut)
	}
	if len(v.userProps) > MaxConnectUserProps {
		t.Fatalf("kept %d bytes, want at most %d", len(v.userProps), MaxConnectUserProps)
	}

	r := newReg(3, 10, nil)
	s, _ := attach(t, r, "v4", &conn{"10.0.0.1:1"}, false, 5)
	s.Info(&info)
	if info.UserProperties != nil || info.TopicAliasMax != 0 || info.DisconnectCode != (DisconnectCode{}) {
		t.Fatalf("3.1.1 session shows 5.0 fields: %+v", info)
	}
}
