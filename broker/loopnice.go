package broker

import (
	"flag"
	"sync"
)

// Event-loop niceness (-loop-nice).
//
// A saturated event loop is always runnable, and so is whatever the kernel
// runs beside it: the admin API's goroutines, the store's writer, the
// collector's workers. When they meet on a busy core, the kernel gives them
// equal turns, so an admin request waits up to a scheduler slice for a loop
// to give up the core. With a loop nice value N above 0 each event loop
// runs on an OS thread of its own (gnet's locked-thread mode) and that
// thread's nice value is raised to N, so the kernel lets every other thread
// of the broker run first when both are ready, and the loops take whatever
// is left. Nice orders threads only inside the broker's scheduling group
// (its session's autogroup or its cgroup): it gives the broker no edge
// over other processes, and other processes none over it. The locked
// threads cost CPU (see defaultLoopNice). Raising one's own nice value
// needs no privilege; lowering it would, so only 0 (off) to 19 are
// accepted. Linux only: elsewhere the loops run as with 0.

// defaultLoopNice is -loop-nice's default: off. gnet's locked-thread mode
// costs about a fifth more broker CPU per QoS 1 message with two loops
// (each time a loop goes idle it hands its processor to another thread
// and takes it back), and on a shared 2-core machine the admin API's p99
// did not improve measurably in exchange, only its median (docs/ADMIN.md).
const defaultLoopNice = 0

// registerLoopNiceFlag registers -loop-nice.
func registerLoopNiceFlag(fs *flag.FlagSet, c *Config) {
	fs.IntVar(&c.LoopNice, "loop-nice", c.LoopNice, "nice value of the event loops' OS threads (0..19; 0, the default, leaves them alone): above 0 each loop keeps an OS thread of its own, niced, so admin requests and other broker work run before the loops when both want a core; costs broker CPU per message (Linux)")
}

// validateLoopNice reports a -loop-nice outside 0..19 through bad.
func (c *Config) validateLoopNice(bad func(flag string, v any, valid string)) {
	if c.LoopNice < 0 || c.LoopNice > 19 {
		bad("loop-nice", c.LoopNice, "must be 0 (off) to 19; a negative value would raise the loops' priority, which needs privilege and is the opposite of its purpose")
	}
}

// loopNicer raises the nice value of each event loop's thread once, from
// the loop itself, and puts every one it changed back at Shutdown, so a
// thread the runtime reuses after the loops end runs at normal priority.
type loopNicer struct {
	nice int // 0: do nothing
	mu   sync.Mutex
	tids []int // threads whose nice value was raised
}

// enter raises the calling thread's nice value. The caller is an event
// loop goroutine locked to its thread, on its first callback. Loop-only.
func (n *loopNicer) enter() {
	if n.nice == 0 {
		return
	}
	tid, err := setThreadNice(0, n.nice)
	if err != nil {
		return // the loop runs at the process's priority; nothing breaks
	}
	n.mu.Lock()
	n.tids = append(n.tids, tid)
	n.mu.Unlock()
}

// restore puts the threads enter changed back at nice 0. Safe for
// concurrent use.
func (n *loopNicer) restore() {
	n.mu.Lock()
	tids := n.tids
	n.tids = nil
	n.mu.Unlock()
	for _, tid := range tids {
		_, _ = setThreadNice(tid, 0)
	}
}
