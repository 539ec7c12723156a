package auth_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glassmq/glassmq/auth"
)

// exampleDir holds the examples' files; TestMain removes it.
var exampleDir string

func TestMain(m *testing.M) {
	var err error
	if exampleDir, err = os.MkdirTemp("", "auth-example"); err != nil {
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(exampleDir)
	os.Exit(code)
}

// write puts text in a file of a new directory under exampleDir.
func write(name, text string) string {
	dir, err := os.MkdirTemp(exampleDir, "")
	if err != nil {
		panic(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		panic(err)
	}
	return p
}

// A broker loads the files at start, checks each CONNECT and keeps the
// client's Perms on the connection.
func ExampleLoad() {
	checker, err := auth.Load(auth.Options{
		PasswordFile: write("passwd", "# password alice-secret, bcrypt cost 4 for a fast example\n"+
			"alice:$2a$04$ZVVEChFo0araqswOBhp9RewgQRlSCNDEBt/.62YTohSwmEQOutgtu\n"),
		ACLFile: write("acl.conf", "allow pubsub all users/%u/#\n"+
			"allow subscribe all news/#\n"),
		AllowAnonymous: false,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	// CONNECT: client ID, user name, password, user name and password flags,
	// TLS client certificate CN.
	code, user := checker.Authenticate("laptop-1", "alice", []byte("alice-secret"), true, true, "")
	fmt.Printf("alice: CONNACK %#02x, user %q\n", code, user)
	code, _ = checker.Authenticate("laptop-2", "alice", []byte("guess"), true, true, "")
	fmt.Printf("wrong password: CONNACK %#02x\n", code)
	code, _ = checker.Authenticate("laptop-3", "mallory", []byte("guess"), true, true, "")
	fmt.Printf("unknown user: CONNACK %#02x\n", code)
	code, _ = checker.Authenticate("laptop-4", "", nil, false, false, "")
	fmt.Printf("anonymous: CONNACK %#02x\n", code)

	perms := checker.For(user, "laptop-1")
	fmt.Println(perms.CanPublish([]byte("users/alice/status")), perms.CanPublish([]byte("users/bob/status")))
	news, _ := perms.CanSubscribe("news/+/today")
	all, _ := perms.CanSubscribe("#")
	fmt.Println(news, all)
	// Output:
	// alice: CONNACK 0x00, user "alice"
	// wrong password: CONNACK 0x04
	// unknown user: CONNACK 0x04
	// anonymous: CONNACK 0x05
	// true false
	// true false
}

// A subscription is granted when an allow rule covers the whole filter. A
// deny rule before it that covers the filter refuses it; one that is
// narrower only withholds its topics: the subscription is granted filtered,
// and the broker asks CanReceive per message.
func ExamplePerms_CanSubscribe() {
	checker, err := auth.Load(auth.Options{
		ACLFile: write("acl.conf", `deny  subscribe all sensors/secret/#
allow subscribe all sensors/#
allow subscribe all $SYS/broker/#
`),
		AllowAnonymous: true,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	perms := checker.For("", "sensor-reader")
	for _, f := range []string{"sensors/room1/temp", "sensors", "sensors/+/temp", "sensors/#", "+/secret/key", "#", "$SYS/broker/load", "$SYS/#"} {
		granted, filtered := perms.CanSubscribe(f)
		fmt.Printf("%-18s %v %v\n", f, granted, filtered)
	}
	fmt.Println(perms.CanReceive([]byte("sensors/room1/temp")), perms.CanReceive([]byte("sensors/secret/key")))
	// Output:
	// sensors/room1/temp true false
	// sensors            true false
	// sensors/+/temp     true true
	// sensors/#          true true
	// +/secret/key       false false
	// #                  false false
	// $SYS/broker/load   true false
	// $SYS/#             false false
	// true false
}

// Reload keeps the rules in force when a file is bad, and says where.
func ExampleChecker_Reload() {
	aclFile := write("acl.conf", "allow pubsub all a/#\n")
	checker, err := auth.Load(auth.Options{ACLFile: aclFile})
	if err != nil {
		fmt.Println(err)
		return
	}
	os.WriteFile(aclFile, []byte("allow pubsub all b/#\nallow write all c/#\n"), 0o600)
	err = checker.Reload()
	var fe *auth.FileError
	if errors.As(err, &fe) {
		fmt.Printf("line %d: %s\n", fe.Line, fe.Detail)
	}
	fmt.Println(checker.Generation(), checker.For("", "c").CanPublish([]byte("a/1")))

	os.WriteFile(aclFile, []byte("allow pubsub all b/#\n"), 0o600)
	fmt.Println(checker.Reload(), checker.Generation(), checker.For("", "c").CanPublish([]byte("a/1")))
	// Output:
	// line 2: unknown action "write", want publish, subscribe or pubsub
	// 1 true
	// <nil> 2 false
}

// "glassmq passwd FILE USER" with the password on stdin.
func ExampleRunPasswd() {
	file := write("passwd", "")
	status := auth.RunPasswd([]string{"-hash", "argon2id", file, "sensor-17"}, strings.NewReader("sensor-secret\n"), os.Stdout, os.Stderr)
	fmt.Println("status", status)
	b, _ := os.ReadFile(file)
	fmt.Println(strings.HasPrefix(string(b), "sensor-17:$argon2id$v=19$m=19456,t=2,p=1$"))

	status = auth.RunPasswd([]string{file}, strings.NewReader(""), os.Stdout, os.Stdout)
	fmt.Println("status", status)
	// Output:
	// added user "sensor-17"
	// status 0
	// true
	// glassmq passwd: want FILE and USER, got 1 arguments
	// usage: glassmq passwd [-hash bcrypt|argon2id|scram-sha-256] [-cost N] [-iterations N] [-delete] FILE USER
	// status 2
}
