package main

import (
	"strings"
	"testing"
)

// TestClusterFlagsRejected: each bad cluster flag exits 2 with a sentence
// naming the flag, the value and what would be valid, all at once.
func TestClusterFlagsRejected(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"-cluster-peers", "127.0.0.1:7222"},
			[]string{`-cluster-peers "127.0.0.1:7222": needs -cluster-listen`}},
		{[]string{"-cluster-listen", "7222", "-node-name", "a"},
			[]string{`-cluster-listen "7222": want host:port, such as 127.0.0.1:7222`}},
		{[]string{"-cluster-listen", "127.0.0.1:7222"},
			[]string{`-node-name "": a cluster node needs a unique name`}},
		{[]string{"-cluster-listen", "127.0.0.1:7222", "-node-name", "a.b", "-cluster-name", "x y"},
			[]string{`-node-name "a.b": a cluster node needs a unique name without spaces`, `-cluster-name "x y": must be a non-empty name`}},
		{[]string{"-cluster-listen", "127.0.0.1:7222", "-node-name", "a", "-cluster-peers", ":7223,127.0.0.1:99999,127.0.0.1:7222"},
			[]string{`peer ":7223": missing host, such as 127.0.0.1:7223`, `peer "127.0.0.1:99999": port must be a number from 1 to 65535`,
				`peer "127.0.0.1:7222" is this node's own -cluster-listen`}},
		{[]string{"-nats-url", "localhost:4222", "-node-name", "a"},
			[]string{`-nats-url "localhost:4222": "localhost:4222" is not a URL such as nats://127.0.0.1:4222`}},
		{[]string{"-nats-url", "nats://127.0.0.1:4222", "-cluster-listen", "127.0.0.1:7222", "-node-name", "a"},
			[]string{`-nats-url "nats://127.0.0.1:4222": cannot be used with -cluster-listen`}},
		{[]string{"-cluster-lease", "500ms"}, // ownership lease
			[]string{`-cluster-lease "500ms": must be from 2s to 10m0s, such as 30s`}},
		{[]string{"-cluster-replica-max-bytes", "4096"}, // replicated session queues
			[]string{`-cluster-replica-max-bytes "4096": must be 0 (no bound) or from 1048576 (1 MiB) to 1099511627776 (1 TiB)`}},
		{[]string{"-cluster-replica-max-bytes", "-1"},
			[]string{`-cluster-replica-max-bytes "-1": must be 0 (no bound)`}},
	} {
		var stderr strings.Builder
		args := append([]string{"-listen", "127.0.0.1:0", "-admin-listen", "127.0.0.1:0", "-data-dir", t.TempDir()}, tc.args...)
		if code := run(args, &stderr); code != 2 {
			t.Errorf("glassmq %q: exit %d, want 2; stderr:\n%s", tc.args, code, stderr.String())
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(stderr.String(), w) {
				t.Errorf("glassmq %q: stderr does not say %q:\n%s", tc.args, w, stderr.String())
			}
		}
	}
}

// TestClusterFlagsOff: without cluster flags there is no cluster to start.
func TestClusterFlagsOff(t *testing.T) {
	_, st, _, _, err := loadSettings(nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.cluster.on() {
		t.Fatal("cluster on with no cluster flags")
	}
	if _, err := st.cluster.config("./data"); err != nil {
		t.Fatalf("no cluster flags: %v", err)
	}
}
