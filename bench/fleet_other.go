//go:build !linux

package bench

import "errors"

// The fleet scenario drives its devices through epoll and reads the
// broker's CPU time and memory from /proc: Linux only.
func runFleet(c *Config) (Result, error) {
	return newResult(c), errors.New("bench: the fleet scenario needs Linux")
}
