package sdktest

import "syscall"

// setDeathSignal makes the kernel kill the broker if the test binary dies
// without running its cleanups (for example on a -timeout panic).
func setDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
