package codec_test

import (
	"testing"

	"github.com/glassmq/glassmq/codec"
)

func BenchmarkMatchTopic(b *testing.B) {
	topic := []byte("sport/tennis/player1/score/wimbledon")
	for _, tc := range []struct{ name, filter string }{
		{"exact", "sport/tennis/player1/score/wimbledon"},
		{"plus", "sport/+/player1/+/wimbledon"},
		{"hash", "sport/tennis/#"},
		{"miss", "sport/tennis/player2/#"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				codec.MatchTopic(tc.filter, topic)
			}
		})
	}
}

func BenchmarkValidTopicFilter(b *testing.B) {
	filter := []byte("sport/+/player1/#")
	b.ReportAllocs()
	for b.Loop() {
		codec.ValidTopicFilter(filter)
	}
}
