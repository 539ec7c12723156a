//go:build !linux

package cluster_test

import "os/exec"

// dieWithTest does nothing where the kernel cannot tie a child's life to
// its parent's; t.Cleanup still kills it when the test ends normally.
func dieWithTest(*exec.Cmd) {}
