//go:build !linux

package bench

import (
	"net/http"
	"os"
	"time"
)

// lockedCaller is Linux only; elsewhere "locked" uses net/http.
type lockedCaller struct{ httpCaller }

func newLockedCaller(addr string) (*lockedCaller, error) {
	return &lockedCaller{httpCaller{&http.Client{Timeout: 5 * time.Second}}}, nil
}

func lockThread() {}

func selfCPU() (time.Duration, error) { return ProcessCPU(os.Getpid()) }
