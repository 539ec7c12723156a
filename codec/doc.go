// Package codec frames, decodes and encodes MQTT 3.1.1 control packets (and
// the MQTT 3.1 CONNECT) in caller-owned byte slices. It knows nothing of
// connections. Every [MQTT-x.y.z-n] in this repository refers to the
// [MQTT 3.1.1 OASIS Standard].
//
// codec imports only the standard library.
//
// [MQTT 3.1.1 OASIS Standard]: https://docs.oasis-open.org/mqtt/mqtt/v3.1.1/os/mqtt-v3.1.1-os.html
package codec
