package broker

import "golang.org/x/sys/unix"

// setThreadNice sets the nice value of thread tid (0: the calling thread)
// and returns the thread ID it changed.
func setThreadNice(tid, nice int) (int, error) {
	if tid == 0 {
		tid = unix.Gettid()
	}
	return tid, unix.Setpriority(unix.PRIO_PROCESS, tid, nice)
}

// threadNice returns the nice value of thread tid.
func threadNice(tid int) (int, error) {
	// The raw system call returns 20 - nice so that no value is negative.
	p, err := unix.Getpriority(unix.PRIO_PROCESS, tid)
	if err != nil {
		return 0, err
	}
	return 20 - p, nil
}
