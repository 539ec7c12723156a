package broker

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/internal/longtest"
)

// buildBinary builds cmd/glassmq once per test binary run.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "glassmq-bin")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "glassmq")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/glassmq/glassmq/cmd/glassmq").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// brokerProcess is a glassmq binary running in its own process.
type brokerProcess struct {
	cmd    *exec.Cmd
	addr   string
	admin  string
	stderr *procOutput
}

// procOutput collects a process's output; tests read it while the
// process writes.
type procOutput struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *procOutput) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *procOutput) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func startProcess(t *testing.T, dataDir string, args ...string) *brokerProcess {
	t.Helper()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	p := &brokerProcess{addr: freePort(t), admin: freePort(t), stderr: &procOutput{}}
	args = append([]string{"-listen", p.addr, "-admin-listen", p.admin, "-data-dir", dataDir, "-sys-interval", "0"}, args...)
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.cmd.Process.Kill(); p.cmd.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.Dial("tcp", p.addr)
		if err == nil {
			c.Close()
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("broker did not start: %s", p.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *brokerProcess) stop(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatalf("broker did not exit after %v: %s", sig, p.stderr)
	}
}

// publishAcked publishes n messages alternating QoS 1 (topic p/1) and QoS 2
// (topic p/2) with a window of unacknowledged messages, and returns once the
// broker acknowledged every one (PUBACK, or PUBCOMP after PUBREL).
func publishAcked(t *testing.T, addr string, n int) {
	t.Helper()
	pub := dialAddr(t, addr)
	pub.connect("crash-pub", true, false)
	var wmu sync.Mutex
	write := func(b []byte) {
		wmu.Lock()
		defer wmu.Unlock()
		pub.send(b)
	}
	window := make(chan struct{}, 200)
	done := make(chan error, 1)
	go func() {
		acked := 0
		for acked < n {
			p, err := pub.next(30 * time.Second)
			if err != nil {
				done <- fmt.Errorf("after %d acks: %v", acked, err)
				return
			}
			switch codec.PacketType(p) {
			case codec.TypePuback, codec.TypePubcomp:
				acked++
				<-window
			case codec.TypePubrec:
				write(codec.AppendPubrel(nil, uint16(p[2])<<8|uint16(p[3])))
			}
		}
		done <- nil
	}()
	for i := 0; i < n; i++ {
		window <- struct{}{}
		qos := byte(1 + i%2)
		write(codec.AppendPublish(nil, &codec.Publish{QoS: qos, TopicName: []byte(fmt.Sprintf("p/%d", qos)),
			PacketID: uint16(i%60000 + 1), Payload: []byte(fmt.Sprint(i))}))
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// receiveAll reconnects the persistent subscriber and checks that QoS 2
// messages arrive exactly once and QoS 1 at least once, each in order.
func receiveAll(t *testing.T, addr string, n int) (dups int) {
	t.Helper()
	sub := dialAddr(t, addr)
	sub.connect("crash-sub", false, true)
	seen := make([]int, n)
	next := [3]int{0, 0, 1} // next expected new index per QoS: QoS 1 even, QoS 2 odd
	for got := 0; got < n; {
		p, err := sub.next(30 * time.Second)
		if err != nil {
			t.Fatalf("after %d of %d messages: %v", got, n, err)
		}
		if codec.PacketType(p) == codec.TypePubrel {
			sub.send(codec.AppendPubcomp(nil, uint16(p[2])<<8|uint16(p[3])))
			continue
		}
		var m codec.Publish
		if _, err := m.Decode(p); err != nil {
			t.Fatalf("got % x: %v", p, err)
		}
		var i int
		fmt.Sscan(string(m.Payload), &i)
		if m.QoS == 1 {
			sub.send(codec.AppendPuback(nil, m.PacketID))
		} else {
			sub.send(codec.AppendPubrec(nil, m.PacketID))
		}
		if seen[i] > 0 {
			if m.QoS == 2 {
				t.Fatalf("QoS 2 message %d delivered twice", i)
			}
			dups++ // QoS 1 redelivery of a message in flight at the crash
			seen[i]++
			continue
		}
		if i != next[m.QoS] {
			t.Fatalf("QoS %d: got message %d, want %d (order)", m.QoS, i, next[m.QoS])
		}
		next[m.QoS] += 2
		seen[i]++
		got++
	}
	return dups
}

// TestCrashAndRestart runs a real glassmq process: a persistent subscriber
// at QoS 1 and 2 goes offline, 10,000 messages are published and
// acknowledged, the broker is stopped (SIGKILL with -fsync always; SIGTERM
// in both fsync modes) and restarted, and the subscriber gets every message:
// QoS 2 exactly once, QoS 1 at least once, in order.
func TestCrashAndRestart(t *testing.T) {
	longtest.Skip(t, "kills and restarts the broker binary")
	const n = 10000
	for _, tc := range []struct {
		fsync string
		sig   syscall.Signal
	}{{"always", syscall.SIGKILL}, {"always", syscall.SIGTERM}, {"interval", syscall.SIGTERM}} {
		t.Run(fmt.Sprintf("%s-%v", tc.fsync, tc.sig), func(t *testing.T) {
			dir := t.TempDir()
			args := []string{"-fsync", tc.fsync, "-max-queued", "20000"}
			p := startProcess(t, dir, args...)
			sub := dialAddr(t, p.addr)
			sub.connect("crash-sub", false, false)
			sub.subscribe(1, "p/1", 1)
			sub.subscribe(2, "p/2", 2)
			sub.sendHex("e0 00")
			sub.expectClosed(2 * time.Second)
			start := time.Now()
			publishAcked(t, p.addr, n)
			elapsed := time.Since(start)
			p.stop(t, tc.sig)
			p = startProcess(t, dir, args...)
			dups := receiveAll(t, p.addr, n)
			t.Logf("%d messages acknowledged in %v (%.0f msg/s), %v, restarted: all delivered, %d QoS 1 duplicates",
				n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), tc.sig, dups)
		})
	}
}
