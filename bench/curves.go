package bench

import (
	"fmt"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/glassmq/glassmq/codec"
)

// Scale curves: how the cost of SUBSCRIBE, of routing a PUBLISH and the
// broker's memory grow with what it holds. A curve run populates the
// broker with Config.CurveSize items, then measures:
//
//   - curve-retained: CurveSize retained messages on ROOT/ret/i. SUBSCRIBE
//     latency is an exact SUBSCRIBE to one of them until its retained
//     message arrives; memory is RSS growth per retained message.
//   - curve-subscriptions: CurveSize exact subscriptions ROOT/sub/i, 1,000
//     per client. SUBSCRIBE latency is one more exact SUBSCRIBE until its
//     SUBACK; memory is RSS growth per subscription.
//
// In both, routing is the broker's CPU time per QoS 0 PUBLISH of a probe
// publisher to a topic with one subscriber, among everything held.

// Curves lists the curve scenarios, run by Run like Scenarios.
var Curves = []string{"curve-retained", "curve-subscriptions"}

// CurveSizes are the sizes Compare's curves mode runs, smallest first.
var CurveSizes = []int{1_000, 10_000, 100_000, 1_000_000}

// curveProbes is how many SUBSCRIBE round trips each point times, and
// curveRoutes how many PUBLISHes its routing cost is averaged over.
const (
	curveProbes = 200
	curveRoutes = 20_000
)

// subsPerClient is how many subscriptions each populating client holds.
const subsPerClient = 1000

// runCurve runs one point of a curve.
func runCurve(c *Config) (Result, error) {
	r := newResult(c)
	r.Variant = strconv.Itoa(c.CurveSize)
	r.Connections = c.CurveSize
	if err := RaiseFileLimit(c.CurveSize/subsPerClient + 256); err != nil {
		return r, err
	}
	cv := &curve{cfg: c, clock: newClock(), nonce: newNonce(), deadline: time.Now().Add(5 * time.Minute)}
	defer cv.close()
	var rss0 int64
	var err error
	if c.BrokerPID > 0 {
		if rss0, err = VmRSS(c.BrokerPID); err != nil {
			return r, err
		}
	}
	switch c.Scenario {
	case "curve-retained":
		err = cv.populateRetained()
	case "curve-subscriptions":
		err = cv.populateSubscriptions()
	default:
		err = fmt.Errorf("bench: unknown curve %q", c.Scenario)
	}
	if err != nil {
		return r, err
	}
	if c.BrokerPID > 0 {
		rss1, err := VmRSS(c.BrokerPID)
		if err != nil {
			return r, err
		}
		r.RSSBeforeKiB, r.RSSAfterKiB = rss0, rss1
		r.RSSPerConnB = float64(rss1-rss0) * 1024 / float64(c.CurveSize)
	}
	var h Histogram
	if err := cv.probeSubscribe(&h); err != nil {
		return r, err
	}
	r.setLatency(&h)
	cpu, n, err := cv.route()
	if err != nil {
		return r, err
	}
	r.Sent, r.Delivered = n, n
	if n > 0 && cpu > 0 {
		r.CPUPerMsgUs = float64(cpu) / float64(time.Microsecond) / float64(n)
		r.MsgPerCPUSecond = 1e6 / r.CPUPerMsgUs
	}
	return r, nil
}

// curve is one curve point's connections.
type curve struct {
	cfg      *Config
	clock    *clock
	nonce    string
	deadline time.Time
	conns    []net.Conn
}

func (cv *curve) close() {
	for _, c := range cv.conns {
		c.Close()
	}
}

// open connects one more client.
func (cv *curve) open(name string) (net.Conn, error) {
	conn, err := cv.cfg.dialFlow(5 * time.Second)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	cv.conns = append(cv.conns, conn)
	if err := handshake(conn, "curve-"+cv.nonce+"-"+name, cv.cfg, "", "", cv.deadline); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return conn, nil
}

func (cv *curve) topic(kind string, i int) []byte {
	return []byte(cv.cfg.TopicRoot + "/" + kind + "/" + strconv.Itoa(i))
}

// populateRetained publishes CurveSize retained messages at QoS 0 in big
// writes, then one at QoS 1: its PUBACK says the broker has read them all.
func (cv *curve) populateRetained() error {
	conn, err := cv.open("retainer")
	if err != nil {
		return err
	}
	payload := make([]byte, cv.cfg.Payload)
	var batch []byte
	for i := range cv.cfg.CurveSize {
		p := codec.Publish{Retain: true, TopicName: cv.topic("ret", i), Payload: payload}
		if i == cv.cfg.CurveSize-1 {
			p.QoS, p.PacketID = 1, 1
		}
		batch = codec.AppendPublish(batch, &p)
		if len(batch) >= writeBatch || i == cv.cfg.CurveSize-1 {
			if _, err := conn.Write(batch); err != nil {
				return fmt.Errorf("retainer: %w", err)
			}
			batch = batch[:0]
		}
	}
	return expectPacket(conn, codec.TypePuback, cv.deadline)
}

// populateSubscriptions subscribes clients of subsPerClient exact filters
// each until CurveSize are held, 100 filters per SUBSCRIBE.
func (cv *curve) populateSubscriptions() error {
	for k := 0; k*subsPerClient < cv.cfg.CurveSize; k++ {
		conn, err := cv.open("holder-" + strconv.Itoa(k))
		if err != nil {
			return err
		}
		var batch []byte
		var filters []codec.Subscription
		packets := 0
		for i := k * subsPerClient; i < min((k+1)*subsPerClient, cv.cfg.CurveSize); i++ {
			filters = append(filters, codec.Subscription{TopicFilter: cv.topic("sub", i)})
			if len(filters) == 100 || i == min((k+1)*subsPerClient, cv.cfg.CurveSize)-1 {
				packets++
				batch = codec.AppendSubscribe(batch, uint16(packets), filters)
				filters = filters[:0]
			}
		}
		if _, err := conn.Write(batch); err != nil {
			return err
		}
		for range packets {
			if err := expectPacket(conn, codec.TypeSuback, cv.deadline); err != nil {
				return fmt.Errorf("holder %d: %w", k, err)
			}
		}
	}
	return nil
}

// probeSubscribe times curveProbes SUBSCRIBE round trips of a fresh client.
func (cv *curve) probeSubscribe(h *Histogram) error {
	conn, err := cv.open("prober")
	if err != nil {
		return err
	}
	retained := cv.cfg.Scenario == "curve-retained"
	step := max(1, cv.cfg.CurveSize/curveProbes)
	for j := range curveProbes {
		filter := cv.topic("probe", j)
		if retained {
			filter = cv.topic("ret", (j*step)%cv.cfg.CurveSize)
		}
		start := time.Now()
		pkt := codec.AppendSubscribe(nil, uint16(j+1), []codec.Subscription{{TopicFilter: filter}})
		if _, err := conn.Write(pkt); err != nil {
			return err
		}
		want := codec.TypeSuback
		if retained {
			want = codec.TypePublish // the SUBACK comes first, then the retained message
			if err := expectPacket(conn, codec.TypeSuback, cv.deadline); err != nil {
				return fmt.Errorf("prober: %w", err)
			}
		}
		if err := expectPacket(conn, want, cv.deadline); err != nil {
			return fmt.Errorf("prober: %w", err)
		}
		h.Record(int64(time.Since(start)))
	}
	return nil
}

// route publishes curveRoutes QoS 0 messages to a topic one client
// subscribes to and returns the broker's CPU time meanwhile and how many
// arrived.
func (cv *curve) route() (time.Duration, uint64, error) {
	sub, err := cv.open("route-sub")
	if err != nil {
		return 0, 0, err
	}
	topic := string(cv.topic("route", 0))
	if err := subscribe(sub, topic, 0, cv.deadline); err != nil {
		return 0, 0, err
	}
	pub, err := cv.open("route-pub")
	if err != nil {
		return 0, 0, err
	}
	var got atomic.Uint64
	done := make(chan error, 1)
	go func() {
		done <- readLoop(sub, cv.clock, func(pkt []byte, _ int64) error {
			if codec.PacketType(pkt) == codec.TypePublish && got.Add(1) == curveRoutes {
				return errStop
			}
			return nil
		}, nil)
	}()
	var cpu0 time.Duration
	if cv.cfg.BrokerPID > 0 {
		if cpu0, err = ProcessCPU(cv.cfg.BrokerPID); err != nil {
			return 0, 0, err
		}
	}
	payload := make([]byte, cv.cfg.Payload)
	one := codec.AppendPublish(nil, &codec.Publish{TopicName: []byte(topic), Payload: payload})
	batch := make([]byte, 0, 1000*len(one))
	for sent := 0; sent < curveRoutes; sent += 1000 {
		batch = batch[:0]
		for range 1000 {
			batch = append(batch, one...)
		}
		if _, err := pub.Write(batch); err != nil {
			return 0, 0, err
		}
		for got.Load()+5000 < uint64(sent) { // stay within what QoS 0 buffers hold
			time.Sleep(100 * time.Microsecond)
		}
	}
	select {
	case err := <-done:
		if err != nil {
			return 0, got.Load(), err
		}
	case <-time.After(10 * time.Second):
		return 0, got.Load(), fmt.Errorf("route: %d of %d messages arrived in 10s", got.Load(), curveRoutes)
	}
	var cpu1 time.Duration
	if cv.cfg.BrokerPID > 0 {
		if cpu1, err = ProcessCPU(cv.cfg.BrokerPID); err != nil {
			return 0, 0, err
		}
	}
	return cpu1 - cpu0, got.Load(), nil
}

// expectPacket reads one whole packet from conn and checks its type. It
// reads byte by byte, so that nothing after the packet is consumed; the
// packets are small and the curve's round trips few.
func expectPacket(conn net.Conn, want codec.Type, deadline time.Time) error {
	_ = conn.SetReadDeadline(deadline)
	defer conn.SetReadDeadline(time.Time{})
	buf := make([]byte, 0, 64)
	one := make([]byte, 1)
	for {
		if _, err := conn.Read(one); err != nil {
			return fmt.Errorf("waiting for %v: %w", want, err)
		}
		buf = append(buf, one[0])
		size, err := codec.Frame(buf, 0)
		if err != nil {
			return err
		}
		if size == 0 {
			continue
		}
		if got := codec.PacketType(buf); got != want {
			return fmt.Errorf("got %v, want %v", got, want)
		}
		return nil
	}
}
