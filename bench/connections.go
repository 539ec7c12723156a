package bench

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// runConnections opens c.Connections idle clients, c.Dialers at a time,
// timing CONNECT to CONNACK, and reads the broker's VmRSS before and after.
func runConnections(c *Config) (Result, error) {
	r := newResult(c)
	if err := RaiseFileLimit(c.Connections + 256); err != nil {
		return r, err
	}
	growFDTable(c.Connections + 256)
	nonce := newNonce()
	var before int64
	if c.BrokerPID > 0 {
		var err error
		if before, err = VmRSS(c.BrokerPID); err != nil {
			return r, err
		}
	}
	conns := make([]*net.TCPConn, c.Connections)
	hists := make([]Histogram, c.Dialers)
	var next atomic.Int64
	var failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	var done atomic.Int64
	prog := startProgress(c.Progress, label(c), func() (uint64, uint64) { return uint64(done.Load()), 0 })
	start := time.Now()
	for d := range c.Dialers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(conns) {
					return
				}
				t0 := time.Now()
				conn, err := dial(c.Addr, 10*time.Second)
				if err == nil {
					err = handshake(conn, fmt.Sprintf("idle-%s-%d", nonce, i), false, "", "", t0.Add(10*time.Second))
					if err != nil {
						conn.Close()
					}
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				hists[d].Record(int64(time.Since(t0)))
				conns[i] = conn
				done.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	prog.stop()
	var h Histogram
	for i := range hists {
		h.Merge(&hists[i])
	}
	r.Connections = int(done.Load())
	r.ConnectFailed = int(failed.Load())
	r.ConnectRate = float64(r.Connections) / elapsed.Seconds()
	r.Elapsed = elapsed.Seconds()
	r.setLatency(&h)
	if err, ok := firstErr.Load().(error); ok {
		r.addError(fmt.Errorf("%d connections failed, first: %w", r.ConnectFailed, err))
	}
	if c.BrokerPID > 0 {
		time.Sleep(c.Settle)
		after, err := VmRSS(c.BrokerPID)
		if err != nil {
			r.addError(err)
		}
		r.RSSBeforeKiB, r.RSSAfterKiB = before, after
		if r.Connections > 0 {
			r.RSSPerConnB = float64(after-before) * 1024 / float64(r.Connections)
		}
	}
	for _, conn := range conns {
		if conn != nil {
			_ = conn.SetLinger(0) // reset: no TIME_WAIT for thousands of ports
			conn.Close()
		}
	}
	return r, nil
}

// growFDTable grows this process's descriptor table to hold n descriptors
// before the timed part starts. Linux grows it by doubling, and in a
// multi-threaded process each growth waits for an RCU grace period (5-15 ms
// here) inside connect(): the load generator's own stall, which would
// otherwise show in every broker's connect p99. The broker does the same at
// start (broker/fdtable.go); this package may not import broker.
func growFDTable(n int) {
	f, err := os.Open(os.DevNull)
	if err != nil {
		return
	}
	defer f.Close()
	sc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = sc.Control(func(fd uintptr) {
		nfd, _, errno := syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_DUPFD_CLOEXEC, uintptr(n-1))
		if errno == 0 {
			syscall.Close(int(nfd))
		}
	})
}

// VmRSS returns the resident set size of process pid in KiB, from
// /proc/PID/status.
func VmRSS(pid int) (int64, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, fmt.Errorf("bench: broker RSS: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kib, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("bench: broker RSS: VmRSS %q: %w", v, err)
			}
			return kib, nil
		}
	}
	return 0, fmt.Errorf("bench: broker RSS: no VmRSS in /proc/%d/status", pid)
}

// RaiseFileLimit raises this process's soft limit on open files to at least
// want, up to the hard limit, and says so when the hard limit is too low.
func RaiseFileLimit(want int) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("bench: open-file limit: %w", err)
	}
	if lim.Cur >= uint64(want) {
		return nil
	}
	lim.Cur = min(uint64(want), lim.Max)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("bench: open-file limit: %w", err)
	}
	if lim.Cur < uint64(want) {
		return fmt.Errorf("bench: open-file limit: need %d, hard limit is %d; lower -connections", want, lim.Max)
	}
	return nil
}
