package cluster_test

import (
	"fmt"
	"io"
	"net/url"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/internal/longtest"
)

// proc is one glassmq process of a cluster.
type proc struct {
	name, mqtt, admin string
	out               *output
}

func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	seen := map[string]bool{}
	var out []string
	for len(out) < n {
		if a := freeAddr(t); !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	return out
}

// startProcesses runs three glassmq processes forming a cluster, as the
// README's three commands do, and waits until each admin API lists three
// live nodes.
func startProcesses(t *testing.T) []*proc {
	t.Helper()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	addrs := freeAddrs(t, 9)
	routes := addrs[6:9]
	ps := make([]*proc, 3)
	for i := range ps {
		p := &proc{name: fmt.Sprintf("n%d", i+1), mqtt: addrs[i], admin: addrs[3+i], out: &output{}}
		var peers []string
		for j, r := range routes {
			if j != i {
				peers = append(peers, r)
			}
		}
		cmd := exec.Command(bin, "-listen", p.mqtt, "-admin-listen", p.admin, "-data-dir", t.TempDir(),
			"-sys-interval", "0", "-cluster-name", "proc-test", "-node-name", p.name,
			"-cluster-listen", routes[i], "-cluster-peers", strings.Join(peers, ","))
		cmd.Stderr, cmd.Stdout = p.out, p.out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				cmd.Process.Kill()
				<-done
			}
			if t.Failed() {
				t.Logf("%s output:\n%s", p.name, p.out.String())
			}
		})
		ps[i] = p
	}
	for _, p := range ps {
		waitUntil(t, p.name+" sees three live nodes", func() bool {
			var cs struct {
				Counters struct {
					LiveNodes int `json:"live_nodes"`
				} `json:"counters"`
			}
			resp, err := httpGet("http://" + p.admin + "/api/v1/cluster")
			if err != nil {
				return false
			}
			return jsonInto(resp, &cs) == nil && cs.Counters.LiveNodes == 3
		})
	}
	return ps
}

// TestProcessesTakeoverAndAdmin runs three glassmq processes: a persistent
// session on n1 with QoS 1 messages published on n3 and not acknowledged
// moves to n2 when its client ID connects there (n1's connection closed,
// session present, the messages sent again); n3's admin API answers for
// the client on n2 in every dialect and kicks it.
func TestProcessesTakeoverAndAdmin(t *testing.T) {
	longtest.Skip(t, "starts three glassmq processes")
	t.Parallel() // ports and data directories of its own (main_test.go)
	ps := startProcesses(t)
	const id = "GID_test@@@proc 1"
	r1 := dialRaw(t, ps[0].mqtt)
	if _, code := r1.connect(id, codec.ProtocolLevel311, false); code != 0 {
		t.Fatalf("CONNACK %d", code)
	}
	r1.subscribe("fleet/+/cmd", 1)

	pub := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + ps[2].mqtt).SetClientID("publisher on n3"))
	if tok := pub.Connect(); !tok.WaitTimeout(20*time.Second) || tok.Error() != nil {
		t.Fatalf("publisher: %v", tok.Error())
	}
	defer pub.Disconnect(0)
	// The subscription's interest reaches n3 through NATS: publish until
	// the first message arrives, then two more.
	first := make(chan struct{})
	go func() {
		for i := 0; ; i++ {
			select {
			case <-first:
				return
			default:
			}
			pub.Publish("fleet/7/cmd", 1, false, "probe").WaitTimeout(5 * time.Second)
			time.Sleep(50 * time.Millisecond)
		}
	}()
	r1.expectType(codec.TypePublish)
	close(first)
	for _, m := range []string{"m1", "m2"} {
		if tok := pub.Publish("fleet/7/cmd", 1, false, m); !tok.WaitTimeout(20*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
	}
	var seen []string
	waitUntil(t, "n1's client has m1 and m2 unacknowledged", func() bool {
		select {
		case f := <-r1.frames:
			var p codec.Publish
			if _, err := p.Decode(f); err == nil {
				seen = append(seen, string(p.Payload))
			}
		default:
		}
		return strings.Contains(strings.Join(seen, ","), "m1,m2")
	})

	r2 := dialRaw(t, ps[1].mqtt)
	if present, code := r2.connect(id, codec.ProtocolLevel311, false); code != 0 || !present {
		t.Fatalf("CONNACK on n2: present %v, code %d; want true, 0", present, code)
	}
	var resent []string
	waitUntil(t, "n2 sends the unacknowledged messages again", func() bool {
		select {
		case f := <-r2.frames:
			var p codec.Publish
			if _, err := p.Decode(f); err == nil && p.Dup {
				resent = append(resent, string(p.Payload))
			}
		default:
		}
		return strings.Contains(strings.Join(resent, ","), "m1,m2")
	})
	r1.waitClosed()

	base := "http://" + ps[2].admin
	var tc struct {
		Response struct {
			ClientId         string
			ConnectionStatus string
			Error            *struct{ Code string }
		}
	}
	httpPostJSON(t, base+"/", map[string]string{"X-TC-Action": "DescribeMQTTClient", "X-TC-Version": "2023-03-08"},
		fmt.Sprintf(`{"InstanceId":"mqtt-local","ClientId":%q}`, id), &tc)
	if tc.Response.Error != nil || tc.Response.ConnectionStatus != "CONNECTED" {
		t.Fatalf("Tencent DescribeMQTTClient on n3: %+v", tc.Response)
	}
	var al struct{ OnlineStatus bool }
	q := url.Values{"Action": {"QuerySessionByClientId"}, "InstanceId": {"mqtt-local"}, "ClientId": {id}}
	resp, err := httpGet(base + "/?" + q.Encode())
	if err != nil || jsonInto(resp, &al) != nil || !al.OnlineStatus {
		t.Fatalf("Alibaba QuerySessionByClientId on n3: %+v %v", al, err)
	}
	var nat struct {
		Status        string `json:"status"`
		Node          string `json:"node"`
		Subscriptions []struct {
			TopicFilter string `json:"topic_filter"`
		} `json:"subscriptions"`
	}
	resp, err = httpGet(base + "/api/v1/clients/" + url.PathEscape(id))
	if err != nil || jsonInto(resp, &nat) != nil || nat.Status != "online" || len(nat.Subscriptions) != 1 || nat.Node != "n2" {
		t.Fatalf("native client on n3: %+v %v; want online on n2 with 1 subscription", nat, err)
	}
	checkReplication(t, base)
	var kick struct {
		Response struct {
			Error *struct{ Code string }
		}
	}
	httpPostJSON(t, base+"/", map[string]string{"X-TC-Action": "KickOutClient", "X-TC-Version": "2024-05-16"},
		fmt.Sprintf(`{"InstanceId":"mqtt-local","ClientId":%q}`, id), &kick)
	if kick.Response.Error != nil {
		t.Fatalf("Tencent KickOutClient on n3: %+v", kick.Response.Error)
	}
	r2.waitClosed()
}

// checkReplication asks a node's /api/v1/cluster for the replication state
// of glassmq's JetStream assets and wants every bucket and stream the
// binary keeps, each with a leader and three replicas, the leader first
// and current; then the same node's /metrics to show the state that GET
// read (checkReplicaGauges).
func checkReplication(t *testing.T, base string) {
	t.Helper()
	want := []string{"kv glassmq_owners", "kv glassmq_owners_leases", "kv glassmq_sessions", "kv glassmq_wills",
		"stream GLASSMQ_ORPHAN", "stream GLASSMQ_QUEUE", "stream GLASSMQ_RETAINED"}
	type replica struct {
		Name    string `json:"name"`
		Current bool   `json:"current"`
	}
	var cs struct {
		Replication []struct {
			Name     string    `json:"name"`
			Kind     string    `json:"kind"`
			Leader   string    `json:"leader"`
			Replicas []replica `json:"replicas"`
		} `json:"replication"`
		ReplicationError string `json:"replication_error"`
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		resp, err := httpGet(base + "/api/v1/cluster")
		if err == nil && jsonInto(resp, &cs) == nil {
			var got []string
			ok := true
			for _, a := range cs.Replication {
				got = append(got, a.Kind+" "+a.Name)
				if a.Leader == "" || len(a.Replicas) != 3 || a.Replicas[0].Name != a.Leader || !a.Replicas[0].Current {
					ok = false
				}
			}
			if ok && fmt.Sprint(got) == fmt.Sprint(want) {
				checkReplicaGauges(t, base, cs.Replication[0].Name)
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/api/v1/cluster replication within 30s: %+v (error %q, %v); want %q, each with a leader and 3 replicas",
				cs.Replication, cs.ReplicationError, err, want)
		}
	}
}

// checkReplicaGauges wants a node's /metrics to show the lag of each of
// asset's three replicas and the age of that reading.
func checkReplicaGauges(t *testing.T, base, asset string) {
	t.Helper()
	resp, err := httpGet(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	m := string(body)
	if n := strings.Count(m, `glassmq_cluster_replica_lag{asset="`+asset+`",replica="`); n != 3 ||
		!strings.Contains(m, "glassmq_cluster_replication_age_seconds ") {
		t.Fatalf("/metrics shows %d replica lags of %s, want 3, and the age of the reading:\n%s", n, asset,
			grepLines(m, "glassmq_cluster_replica"))
	}
}
