// Package sdktest drives the official Tencent Cloud and Alibaba Cloud Go SDKs
// against a real glassmq process, as a black box over the network.
//
// TestMain builds ../cmd/glassmq (or uses the binary named by $GLASSMQ_BIN),
// and each test starts its own broker on free loopback ports with a fresh
// data directory, connects real MQTT clients (paho, or raw TCP where byte
// counts must be exact) and checks what the SDKs parse from the admin port:
//
//   - Tencent trocket/v20230308 DescribeMQTTClient: TC3-HMAC-SHA256 over POST
//     and GET, and the legacy HmacSHA256/HmacSHA1 form signatures;
//   - Alibaba classic services/onsmqtt QuerySessionByClientId, JSON and XML;
//   - Alibaba darabonba onsmqtt-20200420/v2, ACS3-HMAC-SHA256 and RPC ("v2").
//
// The package imports nothing from the broker's module; it lives in its own
// module so that the SDKs stay out of the broker's dependency graph. The
// wire formats checked here are the vendors' documented ones; docs/ADMIN.md
// describes what glassmq answers.
package sdktest
