package auth

import (
	"fmt"
	"strings"
	"testing"
)

// benchACL is docACL with a hundred other users' rules, which For leaves out.
var benchACL = func() string {
	var b strings.Builder
	b.WriteString(docACL)
	for i := range 100 {
		fmt.Fprintf(&b, "allow pubsub user user%d users/user%d/#\n", i, i)
	}
	return b.String()
}()

func BenchmarkCanPublish(b *testing.B) {
	cases := []struct {
		name, acl, topic string
	}{
		{"allowed-3rd-rule", benchACL, "devices/dev-7/temp"},
		{"denied-no-match", benchACL, "nothing/matches/this/topic"},
		{"100-rules-last", rulesOf(100), "t/99/x"},
		{"no-acl-file", "", "devices/dev-7/temp"},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			p := allPerms(b)
			if bc.acl != "" {
				p = compileACL(b, bc.acl, "alice", "dev-7")
			}
			topic := []byte(bc.topic)
			b.ReportAllocs()
			b.SetBytes(int64(len(topic)))
			for b.Loop() {
				p.CanPublish(topic)
			}
		})
	}
}

func BenchmarkCanSubscribe(b *testing.B) {
	cases := []struct {
		name, acl, filter string
	}{
		{"allowed-wildcard", benchACL, "devices/dev-7/+/temp"},
		{"granted-filtered", benchACL, "news/#"},
		{"100-rules-last", rulesOf(100), "t/99/#"},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			p := compileACL(b, bc.acl, "alice", "dev-7")
			b.ReportAllocs()
			for b.Loop() {
				p.CanSubscribe(bc.filter)
			}
		})
	}
}

func BenchmarkFor(b *testing.B) {
	a, err := parseACL("acl.conf", benchACL)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		a.compile(1, "alice", "dev-7")
	}
}

// BenchmarkAuthenticate measures one CONNECT's check at the costs that
// "glassmq passwd" writes by default: bcrypt cost 10, argon2id m=19 MiB t=2
// p=1.
func BenchmarkAuthenticate(b *testing.B) {
	dir := b.TempDir()
	bc := mustBcrypt("pw", 10)
	ar := argon2idHash([]byte("pw"))
	cases := []struct{ name, file, user, pw string }{
		{"bcrypt-10-ok", "u:" + bc, "u", "pw"},
		{"bcrypt-10-unknown-user", "u:" + bc, "nobody", "pw"},
		{"argon2id-19MiB-ok", "u:" + ar, "u", "pw"},
	}
	for _, tc := range cases {
		c, err := Load(Options{PasswordFile: writeFile(b, dir, tc.name, tc.file+"\n")})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.Authenticate("c", tc.user, []byte(tc.pw), true, true, "")
			}
		})
	}
}

// BenchmarkCanReceive is the per-delivery check of a filtered subscription.
func BenchmarkCanReceive(b *testing.B) {
	cases := []struct {
		name, acl, topic string
	}{
		{"allowed-4th-rule", benchACL, "news/sports/today"},
		{"withheld", benchACL, "news/internal/memo"},
		{"100-rules-last-indexed", rulesOf(100), "t/99/x"},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			p := compileACL(b, bc.acl, "alice", "dev-7")
			topic := []byte(bc.topic)
			b.ReportAllocs()
			b.SetBytes(int64(len(topic)))
			for b.Loop() {
				p.CanReceive(topic)
			}
		})
	}
}

// rulesOf returns n publish-and-subscribe rules for all, "t/I/#".
func rulesOf(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "allow pubsub all t/%d/#\n", i)
	}
	return b.String()
}

func allPerms(b *testing.B) *Perms {
	c, err := Load(Options{})
	if err != nil {
		b.Fatal(err)
	}
	return c.For("", "c")
}

// BenchmarkPublishIndex compares a linear scan with the trie by number of
// rules, the last of which matches; it sets indexMin.
func BenchmarkPublishIndex(b *testing.B) {
	for _, n := range []int{2, 4, 8, 16, 64} {
		p := compileACL(b, rulesOf(n), "u", "c")
		topic := []byte(fmt.Sprintf("t/%d/x", n-1))
		linear := *p
		linear.idx = nil
		indexed := *p
		indexed.idx = buildTrie(p.pub)
		for _, v := range []struct {
			name string
			p    *Perms
		}{{"linear", &linear}, {"trie", &indexed}} {
			b.Run(fmt.Sprintf("rules-%d/%s", n, v.name), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					v.p.CanPublish(topic)
				}
			})
		}
	}
}
