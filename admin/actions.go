package admin

// action is what a request asks for; metrics and rate limits are kept per
// action.
type action uint8

const (
	actionDescribe action = iota // Tencent DescribeMQTTClient (trocket 2023-03-08)
	actionQuery                  // Alibaba QuerySessionByClientId

	// Tencent, service mqtt 2024-05-16.
	actionDescribeClientList
	actionKickOutClient
	actionAddClientSubscription
	actionDeleteClientSubscription
	actionDescribeWillMessage
	actionPublishMessage

	// Alibaba onsmqtt 2020-04-20, beyond QuerySessionByClientId.
	actionBatchQuery
	actionCloseConnection
	actionSendMessage
	actionRegisterDeviceCredential
	actionGetDeviceCredential
	actionRefreshDeviceCredential
	actionUnRegisterDeviceCredential
	actionListDeviceCredentialClientID
	actionQueryMqttTraceDevice
	actionQueryMqttTraceMessageOfClient
	actionQueryMqttTracePublish
	actionQueryMqttTraceSubscribe

	actionNative  // native JSON API, /healthz, /metrics
	actionUnknown // a cloud request naming no action we serve
	numActions
)

// numLimited is the number of rate-limited actions: every cloud action.
const numLimited = actionNative

// cloud tells which vendor an action belongs to.
type cloud uint8

const (
	cloudTencent cloud = iota
	cloudAlibaba
)

// Tencent services and versions: the seed's action lives in trocket, its
// successors in mqtt.
const (
	serviceTrocket = "trocket"
	serviceMQTT    = "mqtt"
	mqttVersion    = "2024-05-16"
)

// actionSpec describes one cloud action.
type actionSpec struct {
	name    string
	cloud   cloud
	service string  // Tencent: the TC3 credential scope's service
	version string  // the API version requests must name
	rate    float64 // the vendor's documented limit, requests per second
}

// actionSpecs lists every cloud action served, by action.
var actionSpecs = [numLimited]actionSpec{
	actionDescribe:                      {describeAction, cloudTencent, serviceTrocket, tencentVersion, DefaultDescribeRate},
	actionQuery:                         {queryAction, cloudAlibaba, "", alibabaVersion, DefaultQueryRate},
	actionDescribeClientList:            {"DescribeClientList", cloudTencent, serviceMQTT, mqttVersion, 20},
	actionKickOutClient:                 {"KickOutClient", cloudTencent, serviceMQTT, mqttVersion, 20},
	actionAddClientSubscription:         {"AddClientSubscription", cloudTencent, serviceMQTT, mqttVersion, 20},
	actionDeleteClientSubscription:      {"DeleteClientSubscription", cloudTencent, serviceMQTT, mqttVersion, 20},
	actionDescribeWillMessage:           {"DescribeWillMessage", cloudTencent, serviceMQTT, mqttVersion, 20},
	actionPublishMessage:                {"PublishMessage", cloudTencent, serviceMQTT, mqttVersion, 20},
	actionBatchQuery:                    {"BatchQuerySessionByClientIds", cloudAlibaba, "", alibabaVersion, 100},
	actionCloseConnection:               {"CloseConnection", cloudAlibaba, "", alibabaVersion, 500},
	actionSendMessage:                   {"SendMessage", cloudAlibaba, "", alibabaVersion, 1000},
	actionRegisterDeviceCredential:      {"RegisterDeviceCredential", cloudAlibaba, "", alibabaVersion, 500},
	actionGetDeviceCredential:           {"GetDeviceCredential", cloudAlibaba, "", alibabaVersion, 500},
	actionRefreshDeviceCredential:       {"RefreshDeviceCredential", cloudAlibaba, "", alibabaVersion, 500},
	actionUnRegisterDeviceCredential:    {"UnRegisterDeviceCredential", cloudAlibaba, "", alibabaVersion, 500},
	actionListDeviceCredentialClientID:  {"ListDeviceCredentialClientId", cloudAlibaba, "", alibabaVersion, 500},
	actionQueryMqttTraceDevice:          {"QueryMqttTraceDevice", cloudAlibaba, "", alibabaVersion, 500},
	actionQueryMqttTraceMessageOfClient: {"QueryMqttTraceMessageOfClient", cloudAlibaba, "", alibabaVersion, 500},
	actionQueryMqttTracePublish:         {"QueryMqttTraceMessagePublish", cloudAlibaba, "", alibabaVersion, 500},
	actionQueryMqttTraceSubscribe:       {"QueryMqttTraceMessageSubscribe", cloudAlibaba, "", alibabaVersion, 500},
}

func (a action) String() string {
	switch {
	case a < numLimited:
		return actionSpecs[a].name
	case a == actionNative:
		return "native"
	}
	return "unknown"
}

// lookupAction returns the action of cloud c named name, or actionUnknown.
func lookupAction(c cloud, name []byte) action {
	for a := range numLimited {
		if sp := &actionSpecs[a]; sp.cloud == c && sp.name == string(name) {
			return a
		}
	}
	return actionUnknown
}

// actionNamed returns the cloud action named name (either vendor), or
// actionUnknown.
func actionNamed(name string) action {
	for a := range numLimited {
		if actionSpecs[a].name == name {
			return a
		}
	}
	return actionUnknown
}

// actionList returns the names of c's actions, for error messages.
func actionList(c cloud) string {
	var s string
	for a := range numLimited {
		if actionSpecs[a].cloud == c {
			if s != "" {
				s += ", "
			}
			s += actionSpecs[a].name
		}
	}
	return s
}
