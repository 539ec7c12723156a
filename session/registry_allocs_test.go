//go:build !race

package session

import "testing"

// TestRegistryLookupAllocs: Lookup, on the path of every CONNECT and admin
// read, allocates nothing, found or not.
func TestRegistryLookupAllocs(t *testing.T) {
	r := newReg(10, 10, nil)
	r.Open("present", 1)
	var s *Session[conn]
	if n := testing.AllocsPerRun(1000, func() { s = r.Lookup("present") }); n != 0 || s == nil {
		t.Fatalf("Lookup of a registered ID: %v allocs/op, found %v; want 0, true", n, s != nil)
	}
	if n := testing.AllocsPerRun(1000, func() { s = r.Lookup("absent") }); n != 0 || s != nil {
		t.Fatalf("Lookup of an absent ID: %v allocs/op, found %v; want 0, false", n, s != nil)
	}
}
