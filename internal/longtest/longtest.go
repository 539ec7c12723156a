// Package longtest is the one switch between glassmq's fast test loop and
// its full one. A test that takes more than about two seconds, or starts
// processes, browsers or soak loads, calls Skip first: make test-short
// (go test -short) then skips it, make test runs it. Grep for longtest.Skip
// to list them.
//
// It imports only the standard library and is imported only by tests.
package longtest

import "testing"

// Skip skips t when tests run with -short, naming what makes it long
// ("starts the broker binary", "waits 1.5 keep-alive periods"). Call it
// before the test does any work. Safe for concurrent use.
func Skip(t testing.TB, why string) {
	t.Helper()
	if testing.Short() {
		t.Skip("long test skipped by -short: " + why)
	}
}

// Short reports whether tests run with -short, for a test that does less
// rather than nothing in the fast loop. Safe for concurrent use.
func Short() bool { return testing.Short() }
