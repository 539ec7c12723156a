//go:build !linux

package bench

import (
	"errors"
	"sync/atomic"
)

// The connections scenario drives raw sockets through epoll and reads the
// broker's memory and CPU from /proc: Linux only.

type idleDialer struct {
	opened []int
	hist   Histogram
	failed int
	first  error
}

func newIdleDialer(*Config, string, string) (*idleDialer, error) {
	return nil, errors.New("bench: the connections scenario needs Linux")
}

func (d *idleDialer) openIdle(int, int, *atomic.Int64) {}
func (d *idleDialer) closeAll()                        {}
func growFDTable(int)                                  {}
