package codec_test

import (
	"testing"

	"github.com/glassmq/glassmq/codec"
)

func BenchmarkConnectDecode(b *testing.B) {
	frame := codec.AppendConnect(nil, &codec.Connect{
		CleanSession: true, KeepAlive: 60, ClientID: []byte("GID_test@@@device-1"),
		WillFlag: true, WillQoS: 1, WillTopic: []byte("devices/device-1/status"), WillMessage: []byte("offline"),
		UsernameFlag: true, Username: []byte("device-1"), PasswordFlag: true, Password: []byte("secret"),
	})
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	var p codec.Connect
	for b.Loop() {
		if _, err := p.Decode(frame); err != nil {
			b.Fatal(err)
		}
	}
}
