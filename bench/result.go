package bench

import (
	"encoding/json"
	"io"
	"time"
)

// Result is what one run measured; it is written as one JSON line. Fields
// that do not apply to the scenario are zero and left out.
type Result struct {
	Mode     string `json:"mode,omitempty"` // Compare's mode: "pinned" or "free"
	Target   string `json:"target"`
	Scenario string `json:"scenario"`
	Variant  string `json:"variant,omitempty"` // admin: the API measured
	QoS      byte   `json:"qos"`
	Payload  int    `json:"payload"`
	Rep      int    `json:"rep,omitempty"`

	Nodes       int `json:"nodes,omitempty"` // crossnode: broker processes of the target
	Publishers  int `json:"publishers,omitempty"`
	Subscribers int `json:"subscribers,omitempty"`

	Sent       uint64  `json:"sent,omitempty"`      // messages written by publishers
	Expected   uint64  `json:"expected,omitempty"`  // deliveries due: sent times subscribers of the topic
	Delivered  uint64  `json:"delivered,omitempty"` // distinct messages received
	Lost       uint64  `json:"lost"`                // expected but never received
	Duplicates uint64  `json:"duplicates"`          // received again
	Reordered  uint64  `json:"reordered,omitempty"` // older than the newest seen from the same publisher
	Elapsed    float64 `json:"elapsed_s,omitempty"` // first send to last delivery, seconds
	Rate       float64 `json:"msgs_per_s,omitempty"`
	PubRate    float64 `json:"pub_msgs_per_s,omitempty"`

	// Latencies in microseconds: end to end for messages, CONNECT to CONNACK
	// for connections, request to response for admin.
	P50  float64 `json:"p50_us,omitempty"`
	P99  float64 `json:"p99_us,omitempty"`
	P999 float64 `json:"p999_us,omitempty"`
	Max  float64 `json:"max_us,omitempty"`

	Connections  int     `json:"connections,omitempty"`
	ConnectRate  float64 `json:"connects_per_s,omitempty"`
	RSSBeforeKiB int64   `json:"rss_before_kib,omitempty"`
	RSSAfterKiB  int64   `json:"rss_after_kib,omitempty"`
	RSSPerConnB  float64 `json:"rss_per_conn_bytes,omitempty"`
	// CPUPerConnUs is the broker's CPU time (all threads, user and system)
	// over the timed connect phase, per connection.
	CPUPerConnUs float64 `json:"broker_cpu_per_conn_us,omitempty"`
	// ClientCPUPerConnUs is the load generator's own CPU time per
	// connection over the same phase: near 1e6/connects_per_s means the
	// load generator, not the broker, set the rate.
	ClientCPUPerConnUs float64 `json:"client_cpu_per_conn_us,omitempty"`
	ConnectFailed      int     `json:"connect_failed,omitempty"`

	Requests    uint64  `json:"requests,omitempty"`
	Accepted    uint64  `json:"accepted,omitempty"`
	Throttled   uint64  `json:"throttled,omitempty"`
	Failed      uint64  `json:"failed,omitempty"`
	AcceptRate  float64 `json:"accepted_per_s,omitempty"`
	LoadRate    float64 `json:"load_msgs_per_s,omitempty"` // admin: the pairs load's delivered msg/s meanwhile
	LoadLost    uint64  `json:"load_lost,omitempty"`
	OfferedRate float64 `json:"offered_per_s,omitempty"`

	// Fleet: Connections is the devices connected, Sent and Delivered count
	// telemetry (Delivered over all backends), Rate counts telemetry and
	// commands delivered per second, OfferedRate is the devices' telemetry
	// msg/s, RSSPerConnB the broker's RSS growth per device.
	CPUPerMsgUs     float64 `json:"broker_cpu_per_msg_us,omitempty"` // broker CPU time per delivered message (fleet: telemetry and commands)
	MsgPerCPUSecond float64 `json:"msgs_per_broker_cpu_s,omitempty"` // its inverse: delivered messages per broker CPU-second
	ClientCPU       float64 `json:"client_cpu_cores,omitempty"`      // load generator CPU over the run, in cores (1 = one core busy)
	CmdSent         uint64  `json:"commands_sent,omitempty"`         // commands published by the backend
	CmdDelivered    uint64  `json:"commands_delivered,omitempty"`    // distinct commands received by devices
	CmdLost         uint64  `json:"commands_lost,omitempty"`         // sent and never received
	CmdP50          float64 `json:"command_p50_us,omitempty"`        // backend to device latency
	CmdP99          float64 `json:"command_p99_us,omitempty"`        //
	LagP99          float64 `json:"send_lag_p99_us,omitempty"`       // how late the load generator sent, against its schedule
	Skipped         uint64  `json:"skipped_sends,omitempty"`         // device sends skipped: its QoS 1 window was full

	LoadAvg float64 `json:"loadavg_1m,omitempty"` // the machine's 1-minute load average after the run: noise from other work shows here

	Errors []string `json:"errors,omitempty"` // first few problems seen: disconnects, stray acks, timeouts
}

func (r *Result) setLatency(h *Histogram) {
	us := func(d time.Duration) float64 { return float64(d) / 1e3 }
	r.P50, r.P99, r.P999, r.Max = us(h.Quantile(0.50)), us(h.Quantile(0.99)), us(h.Quantile(0.999)), us(h.Max())
}

// addError keeps the first few problems of a run.
func (r *Result) addError(err error) {
	if err != nil && len(r.Errors) < 8 {
		r.Errors = append(r.Errors, err.Error())
	}
}

// WriteJSON writes r as one line of JSON.
func (r *Result) WriteJSON(w io.Writer) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// ReadResults reads JSON lines written by WriteJSON.
func ReadResults(r io.Reader) ([]Result, error) {
	var out []Result
	dec := json.NewDecoder(r)
	for dec.More() {
		var x Result
		if err := dec.Decode(&x); err != nil {
			return out, err
		}
		out = append(out, x)
	}
	return out, nil
}
