package broker

import (
	"os"

	"golang.org/x/sys/unix"
)

// reserveFDs grows this process's file descriptor table, once, to hold n
// descriptors (capped by the open-file limit), so that accepting connections
// never has to grow it.
//
// Linux grows the table by doubling as descriptors are opened, and in a
// process with more than one thread each growth waits for an RCU grace
// period (synchronize_rcu in expand_fdtable). On these machines that is a
// 5-15 ms stall inside accept(), once per doubling: 8 stalls on the way to
// 10k connections, which set the connect p99 and cost a tenth of the connect
// rate. A single-threaded broker such as Mosquitto never pays it. Growing
// the table at start costs one stall there, and kernel memory of about 8
// bytes per descriptor (1 MiB for the default -max-connections).
//
// The table never shrinks, so duplicating a descriptor to a high number and
// closing it again is enough: a table holding descriptor n-1 holds n.
// F_DUPFD picks the lowest free number at or above the one asked for, so no
// open descriptor is touched.
func reserveFDs(n int) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return
	}
	if lim.Cur != unix.RLIM_INFINITY && uint64(n) >= lim.Cur {
		n = int(lim.Cur) - 1
	}
	if n < 1024 {
		return
	}
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
		if nfd, err := unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, n-1); err == nil {
			_ = unix.Close(nfd)
		}
	})
}
