package admin

import (
	"github.com/glassmq/glassmq/session"
	"github.com/glassmq/glassmq/stats"
)

// DescribeMQTTClientRequest is the request of Tencent Cloud
// DescribeMQTTClient (TDMQ RocketMQ 5.x, service trocket, version
// 2023-03-08), https://cloud.tencent.com/document/api/1493/103135. With
// TC3-HMAC-SHA256 and POST it is the JSON body; nil fields are absent.
type DescribeMQTTClientRequest struct {
	InstanceID *string `json:"InstanceId,omitempty"`
	ClientID   *string `json:"ClientId,omitempty"`
}

// DescribeMQTTClientResponse is the "Response" object that Tencent Cloud
// DescribeMQTTClient answers on success,
// https://cloud.tencent.com/document/api/1493/103135. JSON names are the
// vendor's, quirks included: Inbound (server to client) beside OutBound
// (client to server), times in epoch milliseconds (0 if the event has not
// happened).
type DescribeMQTTClientResponse struct {
	ClientID                string                   `json:"ClientId"`
	ClientAddress           string                   `json:"ClientAddress"`   // ip:port of the current or last connection
	ProtocolVersion         int64                    `json:"ProtocolVersion"` // 3 (MQTT 3.1), 4 (3.1.1) or 5 (5.0)
	KeepAlive               int64                    `json:"Keepalive"`       // seconds, as sent in CONNECT
	ConnectionStatus        string                   `json:"ConnectionStatus"`
	CreateTime              int64                    `json:"CreateTime"`
	ConnectTime             int64                    `json:"ConnectTime"`
	DisconnectTime          int64                    `json:"DisconnectTime"`
	MQTTClientSubscriptions []MQTTClientSubscription `json:"MQTTClientSubscriptions"`
	Inbound                 StatisticsReport         `json:"Inbound"`  // server to client
	OutBound                StatisticsReport         `json:"OutBound"` // client to server
	CleanSession            bool                     `json:"CleanSession"`
	RequestID               string                   `json:"RequestId"`
}

// Tencent ConnectionStatus values.
const (
	StatusConnected    = "CONNECTED"
	StatusDisconnected = "DISCONNECTED"
)

// MQTTClientSubscription is one subscription in DescribeMQTTClientResponse
// (the vendor's data type of that name), in the order first subscribed,
// https://cloud.tencent.com/document/api/1493/103135.
type MQTTClientSubscription struct {
	TopicFilter string `json:"TopicFilter"`
	QoS         int64  `json:"Qos"`
}

// StatisticsReport is the traffic of one direction in
// DescribeMQTTClientResponse (the vendor's data type of that name),
// https://cloud.tencent.com/document/api/1493/103135: bytes
// of whole MQTT packets, and packet counts by type and fixed-header QoS,
// non-zero counts only, ordered by packet type then QoS.
type StatisticsReport struct {
	Bytes uint64             `json:"Bytes"`
	Items []PacketStatistics `json:"Items"`
}

// PacketStatistics is one count of a StatisticsReport (the vendor's data
// type of that name), https://cloud.tencent.com/document/api/1493/103135.
// MessageType is the MQTT spec's upper-case packet name, such as "PUBLISH".
type PacketStatistics struct {
	MessageType string `json:"MessageType"`
	QoS         int64  `json:"Qos"`
	Count       uint64 `json:"Count"`
}

// TencentError is the "Error" object of a Tencent Cloud API 3.0 error
// answer, {"Response":{"Error":{"Code":..,"Message":..},"RequestId":..}},
// sent with HTTP 200 (https://cloud.tencent.com/document/api/1493/103135,
// section 6, and the common error codes it links).
type TencentError struct {
	Code    string `json:"Code"`
	Message string `json:"Message"`
}

// fill sets r from info, reusing r's slices.
func (r *DescribeMQTTClientResponse) fill(info *session.Info, requestID string) {
	r.ClientID = info.ClientID
	r.ClientAddress = info.ClientAddress
	r.ProtocolVersion = int64(info.ProtocolVersion)
	r.KeepAlive = int64(info.KeepAlive)
	r.ConnectionStatus = StatusDisconnected
	if info.Connected {
		r.ConnectionStatus = StatusConnected
	}
	r.CreateTime = info.CreateTime
	r.ConnectTime = info.ConnectTime
	r.DisconnectTime = info.DisconnectTime
	subs := r.MQTTClientSubscriptions[:0]
	for _, s := range info.Subscriptions {
		subs = append(subs, MQTTClientSubscription{TopicFilter: s.TopicFilter, QoS: int64(s.QoS)})
	}
	if subs == nil {
		subs = []MQTTClientSubscription{} // [] rather than null: other-language SDKs expect arrays
	}
	r.MQTTClientSubscriptions = subs
	r.Inbound.fill(&info.Sent)
	r.OutBound.fill(&info.Received)
	r.CleanSession = info.CleanSession
	r.RequestID = requestID
}

func (r *StatisticsReport) fill(s *stats.Snapshot) {
	r.Bytes = s.Bytes
	items := r.Items[:0]
	for _, it := range s.Items {
		if it.Count == 0 {
			continue
		}
		items = append(items, PacketStatistics{MessageType: it.Type.String(), QoS: int64(it.QoS), Count: it.Count})
	}
	if items == nil {
		items = []PacketStatistics{}
	}
	r.Items = items
}

// clear drops the strings r holds (so a pooled r keeps no client data
// alive), keeping slice capacity.
func (r *DescribeMQTTClientResponse) clear() {
	clear(r.MQTTClientSubscriptions)
	*r = DescribeMQTTClientResponse{
		MQTTClientSubscriptions: r.MQTTClientSubscriptions[:0],
		Inbound:                 StatisticsReport{Items: r.Inbound.Items[:0]},
		OutBound:                StatisticsReport{Items: r.OutBound.Items[:0]},
	}
}

// tencentAnswer is the envelope of every Tencent answer:
// {"Response":{...,"RequestId":..}}.
type tencentAnswer struct {
	Response any `json:"Response"`
}

// tencentErrorResponse is the "Response" of a Tencent error answer.
type tencentErrorResponse struct {
	Error     TencentError `json:"Error"`
	RequestID string       `json:"RequestId"`
}
