package admin

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"math/rand/v2"
	"testing"
)

// jsonStrings are strings whose JSON encoding has a rule: quotes, escapes,
// HTML characters, control bytes, U+2028/9, invalid UTF-8.
var jsonStrings = []string{
	"", "plain", weirdID, `quote " backslash \ slash /`, "<script>&amp;</script>",
	"\x00\x01\x1f\x7f", "\b\f\n\r\t", "line\u2028sep\u2029", "bad \xff\xfe utf8 \xc3", "é中文😀", "\ufffd",
}

// TestAppendJSONMatchesEncodingJSON: the hand-written encoders give
// encoding/json's bytes exactly, so the vendor structs' tags are the truth.
func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	for _, s := range jsonStrings {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Errorf("appendJSONString(%q) = %s, want %s", s, got, want)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	randString := func() string {
		b := make([]byte, rng.IntN(12))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		if rng.IntN(2) == 0 {
			return jsonStrings[rng.IntN(len(jsonStrings))]
		}
		return string(b)
	}
	for range 500 {
		r := DescribeMQTTClientResponse{
			ClientID: randString(), ClientAddress: randString(), ProtocolVersion: rng.Int64N(5), KeepAlive: rng.Int64N(65536),
			ConnectionStatus: randString(), CreateTime: rng.Int64(), ConnectTime: rng.Int64(), DisconnectTime: rng.Int64(),
			CleanSession: rng.IntN(2) == 0, RequestID: randString(),
			Inbound:  StatisticsReport{Bytes: rng.Uint64()},
			OutBound: StatisticsReport{Bytes: rng.Uint64() >> 1},
		}
		for range rng.IntN(4) {
			r.MQTTClientSubscriptions = append(r.MQTTClientSubscriptions, MQTTClientSubscription{TopicFilter: randString(), QoS: rng.Int64N(3)})
			r.Inbound.Items = append(r.Inbound.Items, PacketStatistics{MessageType: randString(), QoS: rng.Int64N(3), Count: rng.Uint64()})
		}
		want, err := json.Marshal(&r)
		if err != nil {
			t.Fatal(err)
		}
		// encoding/json writes nil slices as null; we write [].
		want = bytes.ReplaceAll(want, []byte(`"MQTTClientSubscriptions":null`), []byte(`"MQTTClientSubscriptions":[]`))
		want = bytes.ReplaceAll(want, []byte(`"Items":null`), []byte(`"Items":[]`))
		if got := r.appendJSON(nil); !bytes.Equal(got, want) {
			t.Fatalf("appendJSON\n%s\nwant\n%s", got, want)
		}

		e := AlibabaError{RequestID: randString(), HostID: randString(), Code: randString(), Message: randString(), Recommend: randString()}
		want, _ = json.Marshal(&e)
		if got := e.appendJSON(nil); !bytes.Equal(got, want) {
			t.Fatalf("AlibabaError.appendJSON\n%s\nwant\n%s", got, want)
		}

		code, msg, id := randString(), randString(), randString()
		var te struct {
			Response struct {
				Error     TencentError
				RequestID string `json:"RequestId"`
			}
		}
		te.Response.Error = TencentError{Code: code, Message: msg}
		te.Response.RequestID = id
		want, _ = json.Marshal(&te)
		if got := appendTencentError(nil, code, msg, id); !bytes.Equal(got, want) {
			t.Fatalf("appendTencentError\n%s\nwant\n%s", got, want)
		}

		q := QuerySessionByClientIDResponse{OnlineStatus: rng.IntN(2) == 0, RequestID: randString()}
		want, _ = json.Marshal(&q)
		if got := q.appendJSON(nil); !bytes.Equal(got, want) {
			t.Fatalf("QuerySessionByClientIDResponse.appendJSON\n%s\nwant\n%s", got, want)
		}
		want, _ = xml.Marshal(&q)
		if got := q.appendXML(nil); !bytes.Equal(got, want) {
			t.Fatalf("QuerySessionByClientIDResponse.appendXML\n%s\nwant\n%s", got, want)
		}
	}
}
