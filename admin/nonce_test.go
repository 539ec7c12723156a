package admin

import (
	"fmt"
	"testing"
	"time"
)

func TestNonceCache(t *testing.T) {
	c := newNonceCache(15*time.Minute, 100)
	now := testNow
	exp := now.Add(15 * time.Minute)
	if r := c.use("a", exp, now); r != nonceFresh {
		t.Fatalf("first use: %v", r)
	}
	if r := c.use("a", exp, now.Add(time.Minute)); r != nonceUsed {
		t.Errorf("second use: %v, want used", r)
	}
	if r := c.use("b", exp, now); r != nonceFresh {
		t.Errorf("other nonce: %v", r)
	}
	// A request stamped 15 minutes ahead expires 30 minutes from now: its
	// nonce must outlive the others.
	if r := c.use("ahead", now.Add(30*time.Minute), now); r != nonceFresh {
		t.Fatal(r)
	}
	later := now.Add(29 * time.Minute)
	if r := c.use("ahead", now.Add(30*time.Minute), later); r != nonceUsed {
		t.Errorf("29 minutes later, the ahead-stamped nonce: %v, want used", r)
	}
	// Long after, everything expired and is dropped.
	if r := c.use("fresh", now.Add(3*time.Hour), now.Add(2*time.Hour+45*time.Minute)); r != nonceFresh {
		t.Fatal(r)
	}
	if n := c.len(); n != 1 {
		t.Errorf("held %d nonces, want 1", n)
	}
}

func TestNonceCacheBounded(t *testing.T) {
	c := newNonceCache(15*time.Minute, 10)
	for i := range 10 {
		if r := c.use(fmt.Sprint(i), testNow.Add(15*time.Minute), testNow); r != nonceFresh {
			t.Fatalf("nonce %d: %v", i, r)
		}
	}
	if r := c.use("one too many", testNow.Add(15*time.Minute), testNow); r != nonceFull {
		t.Errorf("11th nonce: %v, want full", r)
	}
	if r := c.use("3", testNow.Add(15*time.Minute), testNow); r != nonceUsed {
		t.Errorf("replay when full: %v, want used", r)
	}
	if r := c.use("after expiry", testNow.Add(time.Hour+15*time.Minute), testNow.Add(time.Hour)); r != nonceFresh {
		t.Errorf("after the window: %v, want fresh (old generations dropped)", r)
	}
}
