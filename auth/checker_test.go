package auth

import (
	"os"
	"runtime"
	"sync"
	"testing"
)

func TestReload(t *testing.T) {
	dir := t.TempDir()
	pwFile := writeFile(t, dir, "passwd", "alice:"+aliceHash+"\n")
	aclFile := writeFile(t, dir, "acl.conf", "allow pubsub all a/#\n")
	c, err := Load(Options{PasswordFile: pwFile, ACLFile: aclFile})
	if err != nil {
		t.Fatal(err)
	}
	if g := c.Generation(); g != 1 {
		t.Fatalf("Generation after Load = %d, want 1", g)
	}
	old := c.For("alice", "c1")
	if old.Generation() != 1 || !old.CanPublish([]byte("a/x")) {
		t.Fatal("rules of generation 1 not in force")
	}

	// A bad file keeps the rules in force and says where the problem is.
	writeFile(t, dir, "acl.conf", "allow pubsub all b/#\nallow pubsub all a/#/x\n")
	writeFile(t, dir, "passwd", "alice:"+aliceHash+"\nbob:"+bobHash+"\nmallory\n")
	err = c.Reload()
	want := "auth: " + pwFile + ":3: missing ':' between user name and hash\n" +
		"auth: " + aclFile + `:2: invalid topic filter "a/#/x": '#' must be the whole last level [MQTT-4.7.1-2]`
	if err == nil || err.Error() != want {
		t.Fatalf("Reload of bad files: got %v\nwant %s", err, want)
	}
	if g := c.Generation(); g != 1 {
		t.Errorf("Generation after a failed Reload = %d, want 1", g)
	}
	if p := c.For("alice", "c1"); !p.CanPublish([]byte("a/x")) || p.CanPublish([]byte("b/x")) {
		t.Error("a failed Reload changed the ACL in force")
	}
	if code, _ := c.Authenticate("c1", "bob", []byte("bob-secret"), true, true, ""); code != BadCredentials {
		t.Error("a failed Reload changed the users in force")
	}

	// A missing file also keeps the rules.
	writeFile(t, dir, "passwd", "alice:"+aliceHash+"\n")
	os.Remove(aclFile)
	if err := c.Reload(); err == nil || err.Error() != "auth: "+aclFile+": cannot read: no such file or directory" {
		t.Errorf("Reload of a missing file: got %v", err)
	}

	// Good files take over, and the generation moves on.
	writeFile(t, dir, "acl.conf", "allow pubsub all b/#\n")
	writeFile(t, dir, "passwd", "alice:"+aliceHash+"\nbob:"+bobHash+"\n")
	if err := c.Reload(); err != nil {
		t.Fatal(err)
	}
	if g := c.Generation(); g != 2 {
		t.Errorf("Generation after Reload = %d, want 2", g)
	}
	p := c.For("alice", "c1")
	if p.Generation() != 2 || p.CanPublish([]byte("a/x")) || !p.CanPublish([]byte("b/x")) {
		t.Error("new ACL not in force")
	}
	if code, user := c.Authenticate("c1", "bob", []byte("bob-secret"), true, true, ""); code != Accepted || user != "bob" {
		t.Errorf("new user bob: %#02x %q", code, user)
	}
	// Perms made before stay as they were: the connection refreshes them.
	if !old.CanPublish([]byte("a/x")) || old.Generation() != 1 {
		t.Error("Reload changed Perms already handed out")
	}
	if err := c.Reload(); err != nil || c.Generation() != 3 {
		t.Errorf("second Reload: %v, generation %d; want nil, 3", err, c.Generation())
	}
}

func TestNoFiles(t *testing.T) {
	c, err := Load(Options{AllowAnonymous: true})
	if err != nil {
		t.Fatal(err)
	}
	p := c.For("", "c1")
	okAll, filtered := p.CanSubscribe("#")
	okSys, _ := p.CanSubscribe("$SYS/#")
	if !p.CanPublish([]byte("a/b")) || !okAll || filtered || !okSys || !p.CanReceive([]byte("$SYS/x")) {
		t.Error("without an ACL file everything is allowed")
	}
	if p.Generation() != c.Generation() {
		t.Errorf("Perms generation %d, Checker %d", p.Generation(), c.Generation())
	}
	if err := c.Reload(); err != nil || c.For("", "c1").Generation() != 2 {
		t.Errorf("Reload without files: %v", err)
	}
}

// Readers run while Reload swaps rules; the race detector watches.
func TestReloadConcurrent(t *testing.T) {
	dir := t.TempDir()
	pwFile := writeFile(t, dir, "passwd", "alice:"+aliceHash+"\n")
	aclFile := writeFile(t, dir, "acl.conf", "allow pubsub user alice a/#\n")
	c, err := Load(Options{PasswordFile: pwFile, ACLFile: aclFile})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 2 {
		wg.Go(func() {
			if code, user := c.Authenticate("c", "alice", []byte("alice-secret"), true, true, ""); code != Accepted || user != "alice" {
				t.Errorf("Authenticate during Reload: %#02x %q", code, user)
			}
			for {
				select {
				case <-stop:
					return
				default:
				}
				p := c.For("alice", "c")
				if ok, _ := p.CanSubscribe("a/+"); !ok || !p.CanPublish([]byte("a/b")) {
					t.Error("rules lost during Reload")
					return
				}
				runtime.Gosched()
			}
		})
	}
	for i := range 20 {
		if i%2 == 1 {
			writeFile(t, dir, "acl.conf", "allow pubsub user alice a/#\nbroken\n")
			if c.Reload() == nil {
				t.Error("Reload accepted a bad file")
			}
			writeFile(t, dir, "acl.conf", "allow pubsub user alice a/#\n")
			continue
		}
		if err := c.Reload(); err != nil {
			t.Error(err)
		}
	}
	close(stop)
	wg.Wait()
	if g := c.Generation(); g != 11 {
		t.Errorf("Generation = %d after 10 good Reloads, want 11", g)
	}
}
