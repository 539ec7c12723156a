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
//   - curve-connections: CurveSize idle connections; SUBSCRIBE as above;
//     memory per connection.
//   - curve-fanout: CurveSize subscribers of ROOT/fan; SUBSCRIBE as above;
//     memory per subscriber; routing counts every delivery of a PUBLISH to
//     ROOT/fan to each of them.
//
// Routing is the broker's CPU time per delivery of QoS 0 PUBLISHes of a
// probe publisher to a topic with one subscriber (curve-fanout: CurveSize
// subscribers), among everything held.

// Curves lists the curve scenarios, run by Run like Scenarios.
var Curves = []string{"curve-retained", "curve-subscriptions", "curve-connections", "curve-fanout"}

// CurveSizes returns the sizes of curve scenario, smallest first.
func CurveSizes(scenario string) []int {
	switch scenario {
	case "curve-connections":
		return []int{1_000, 3_000, 10_000, 18_000}
	case "curve-fanout":
		return []int{1, 10, 100, 1_000, 10_000}
	}
	return []int{1_000, 10_000, 100_000, 1_000_000}
}

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
	conns := c.CurveSize/subsPerClient + 256
	if c.Scenario == "curve-connections" || c.Scenario == "curve-fanout" {
		conns += c.CurveSize
	}
	if err := RaiseFileLimit(conns); err != nil {
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
	case "curve-connections":
		err = cv.populateConnections()
	case "curve-fanout":
		err = cv.populateFanout()
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
	idle     *idleDialer // curve-connections: its connections, closed by close
	fan      []net.Conn  // curve-fanout: the subscribers of ROOT/fan
}

func (cv *curve) close() {
	for _, c := range cv.conns {
		c.Close()
	}
	if cv.idle != nil {
		cv.idle.closeAll()
	}
}

// populateConnections opens CurveSize idle connections.
func (cv *curve) populateConnections() error {
	d, err := newIdleDialer(cv.cfg, "idle", cv.nonce)
	if err != nil {
		return err
	}
	cv.idle = d
	growFDTable(cv.cfg.CurveSize + 256)
	var done atomic.Int64
	d.openIdle(cv.cfg.CurveSize, cv.cfg.Dialers, &done)
	if d.first != nil {
		return fmt.Errorf("%d of %d connections failed, first: %w", d.failed, cv.cfg.CurveSize, d.first)
	}
	return nil
}

// populateFanout connects CurveSize subscribers of ROOT/fan. Each writes its
// CONNECT and SUBSCRIBE at once and the answers are read after all are
// sent, so the broker's round trips overlap.
func (cv *curve) populateFanout() error {
	growFDTable(cv.cfg.CurveSize + 256)
	topic := cv.topic("fan", 0)
	for i := range cv.cfg.CurveSize {
		conn, err := cv.cfg.dialFlow(5 * time.Second)
		if err != nil {
			return fmt.Errorf("subscriber %d: %w", i, err)
		}
		cv.conns = append(cv.conns, conn)
		cv.fan = append(cv.fan, conn)
		pkt := cv.cfg.connectPacket(nil, []byte("fan-"+cv.nonce+"-"+strconv.Itoa(i)))
		pkt = codec.AppendSubscribe(pkt, 1, []codec.Subscription{{TopicFilter: topic}})
		if _, err := conn.Write(pkt); err != nil {
			return fmt.Errorf("subscriber %d: %w", i, err)
		}
	}
	for i, conn := range cv.fan {
		for _, want := range []codec.Type{codec.TypeConnack, codec.TypeSuback} {
			if err := expectPacket(conn, want, cv.deadline); err != nil {
				return fmt.Errorf("subscriber %d: %w", i, err)
			}
		}
	}
	return nil
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
	topic := string(cv.topic("route", 0))
	subs := cv.fan
	if subs == nil {
		sub, err := cv.open("route-sub")
		if err != nil {
			return 0, 0, err
		}
		if err := subscribe(sub, topic, 0, cv.deadline); err != nil {
			return 0, 0, err
		}
		subs = []net.Conn{sub}
	} else {
		topic = string(cv.topic("fan", 0))
	}
	pub, err := cv.open("route-pub")
	if err != nil {
		return 0, 0, err
	}
	// Each subscriber gets every message: as many messages as make about
	// curveRoutes deliveries in all, at least 20.
	msgs := max(20, curveRoutes/len(subs))
	if msgs > 1000 { // whole batches of 1000
		msgs = msgs / 1000 * 1000
	}
	want := uint64(msgs * len(subs))
	var got atomic.Uint64
	done := make(chan error, 1)
	var left atomic.Int64
	left.Store(int64(len(subs)))
	for _, sub := range subs {
		go func() {
			err := countPublishes(sub, uint64(msgs), &got)
			if err != nil {
				done <- err
			} else if left.Add(-1) == 0 {
				done <- nil
			}
		}()
	}
	var cpu0 time.Duration
	if cv.cfg.BrokerPID > 0 {
		if cpu0, err = ProcessCPU(cv.cfg.BrokerPID); err != nil {
			return 0, 0, err
		}
	}
	payload := make([]byte, cv.cfg.Payload)
	one := codec.AppendPublish(nil, &codec.Publish{TopicName: []byte(topic), Payload: payload})
	per := min(msgs, 1000)
	batch := make([]byte, 0, per*len(one))
	for sent := 0; sent < msgs; sent += per {
		batch = batch[:0]
		for range per {
			batch = append(batch, one...)
		}
		if _, err := pub.Write(batch); err != nil {
			return 0, 0, err
		}
		// Stay within what the brokers buffer for QoS 0: at most 5000
		// deliveries outstanding.
		for got.Load()+5000 < uint64(sent*len(subs)) {
			time.Sleep(100 * time.Microsecond)
		}
	}
	select {
	case err := <-done:
		if err != nil {
			return 0, got.Load(), err
		}
	case <-time.After(30 * time.Second):
		return 0, got.Load(), fmt.Errorf("route: %d of %d deliveries arrived in 30s", got.Load(), want)
	}
	var cpu1 time.Duration
	if cv.cfg.BrokerPID > 0 {
		if cpu1, err = ProcessCPU(cv.cfg.BrokerPID); err != nil {
			return 0, 0, err
		}
	}
	return cpu1 - cpu0, got.Load(), nil
}

// countPublishes reads conn with a small buffer (there may be 10,000 of
// them) and counts PUBLISH packets in got until n have come.
func countPublishes(conn net.Conn, n uint64, got *atomic.Uint64) error {
	buf := make([]byte, 4096)
	r, w := 0, 0
	var mine uint64
	for mine < n {
		k, err := conn.Read(buf[w:])
		if err != nil {
			return fmt.Errorf("route: after %d of %d messages: %w", mine, n, err)
		}
		w += k
		for r < w {
			size, err := codec.Frame(buf[r:w], 0)
			if err != nil {
				return err
			}
			if size == 0 {
				break
			}
			if codec.PacketType(buf[r:]) == codec.TypePublish {
				mine++
				got.Add(1)
			}
			r += size
		}
		w = copy(buf, buf[r:w])
		r = 0
	}
	return nil
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
