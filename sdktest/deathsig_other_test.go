//go:build !linux

package sdktest

import "syscall"

// setDeathSignal does nothing here: only Linux has a parent-death signal,
// so a broker outlives a test binary that dies without its cleanups.
func setDeathSignal(*syscall.SysProcAttr) {}
