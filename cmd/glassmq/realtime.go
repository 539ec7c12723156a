package main

import (
	"runtime"

	"github.com/glassmq/glassmq/admin"
)

// realtimeProcs adds admin.RealtimeConns processors when admin connections
// are served on real-time threads (-admin-realtime-priority above 0),
// unless the operator set GOMAXPROCS. Each such thread needs a processor
// free when it wakes; without one it waits for the runtime to take one
// back from a thread that is not real-time, which is the wait it exists
// to avoid (admin/realtime.go).
func realtimeProcs(priority int, operatorSet bool) {
	if priority > 0 && !operatorSet {
		runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + admin.RealtimeConns)
	}
}
