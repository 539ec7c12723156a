package bench

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
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
	var cpu0 time.Duration
	if c.BrokerPID > 0 {
		var err error
		if before, err = VmRSS(c.BrokerPID); err != nil {
			return r, err
		}
		if cpu0, err = ProcessCPU(c.BrokerPID); err != nil {
			return r, err
		}
	}
	d, err := newIdleDialer(c, "idle", nonce)
	if err != nil {
		return r, err
	}
	defer d.closeAll()
	var done atomic.Int64
	prog := startProgress(c.Progress, label(c), func() (uint64, uint64) { return uint64(done.Load()), 0 })
	self0, err0 := ProcessCPU(os.Getpid())
	start := time.Now()
	d.openIdle(c.Connections, c.Dialers, &done)
	elapsed := time.Since(start)
	self1, err1 := ProcessCPU(os.Getpid())
	prog.stop()
	r.Variant = strconv.Itoa(c.Dialers) + " at a time"
	r.Connections = len(d.opened)
	r.ConnectFailed = d.failed
	r.ConnectRate = float64(r.Connections) / elapsed.Seconds()
	r.Elapsed = elapsed.Seconds()
	if r.Connections > 0 && err0 == nil && err1 == nil {
		r.ClientCPUPerConnUs = float64(self1-self0) / float64(time.Microsecond) / float64(r.Connections)
	}
	r.setLatency(&d.hist)
	if d.first != nil {
		r.addError(fmt.Errorf("%d connections failed, first: %w", r.ConnectFailed, d.first))
	}
	if c.BrokerPID > 0 {
		if cpu1, err := ProcessCPU(c.BrokerPID); err != nil {
			r.addError(err)
		} else if r.Connections > 0 {
			r.CPUPerConnUs = float64(cpu1-cpu0) / float64(time.Microsecond) / float64(r.Connections)
		}
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
	return r, nil
}

// ProcessCPU returns the CPU time process pid has used so far, all threads,
// with nanosecond resolution: the sum of the first field of
// /proc/PID/task/*/schedstat. Threads that already exited are not counted,
// which suits a broker whose threads live as long as it does.
func ProcessCPU(pid int) (time.Duration, error) {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("bench: broker CPU: %w", err)
	}
	var sum time.Duration
	for _, t := range tasks {
		b, err := os.ReadFile(dir + "/" + t.Name() + "/schedstat")
		if err != nil {
			continue // the thread exited between ReadDir and here
		}
		first, _, _ := strings.Cut(string(b), " ")
		ns, err := strconv.ParseInt(first, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("bench: broker CPU: %s/schedstat %q: %w", t.Name(), b, err)
		}
		sum += time.Duration(ns)
	}
	return sum, nil
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
