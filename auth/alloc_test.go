//go:build !race

package auth

import "testing"

func TestPermsAllocs(t *testing.T) {
	p := compileACL(t, benchACL, "alice", "dev-7")
	topics := [][]byte{[]byte("devices/dev-7/temp"), []byte("devices/dev-7/cmd/x"), []byte("nothing/matches/this"), []byte("$SYS/x")}
	var ok bool
	for _, topic := range topics {
		if n := testing.AllocsPerRun(1000, func() { ok = p.CanPublish(topic) }); n != 0 {
			t.Errorf("CanPublish(%q): %v allocs/op, want 0", topic, n)
		}
	}
	for _, f := range []string{"devices/dev-7/#", "#", "news/sports/+", "a/#/b"} {
		if n := testing.AllocsPerRun(1000, func() { ok, _ = p.CanSubscribe(f) }); n != 0 {
			t.Errorf("CanSubscribe(%q): %v allocs/op, want 0", f, n)
		}
	}
	for _, topic := range topics {
		if n := testing.AllocsPerRun(1000, func() { ok = p.CanReceive(topic) }); n != 0 {
			t.Errorf("CanReceive(%q): %v allocs/op, want 0", topic, n)
		}
	}
	indexed := compileACL(t, rulesOf(64), "alice", "dev-7")
	if indexed.idx == nil {
		t.Fatal("64 rules not indexed")
	}
	for _, topic := range [][]byte{[]byte("t/63/x"), []byte("t/64/x"), []byte("$SYS/x")} {
		if n := testing.AllocsPerRun(1000, func() { ok = indexed.CanPublish(topic) }); n != 0 {
			t.Errorf("indexed CanPublish(%q): %v allocs/op, want 0", topic, n)
		}
	}
	c, err := Load(Options{})
	if err != nil {
		t.Fatal(err)
	}
	all := c.For("", "c")
	if n := testing.AllocsPerRun(1000, func() { ok = all.CanPublish(topics[0]) }); n != 0 {
		t.Errorf("CanPublish without an ACL file: %v allocs/op, want 0", n)
	}
	_ = ok
}
