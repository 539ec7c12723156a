package cluster_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/internal/longtest"
	"github.com/glassmq/glassmq/session"
)

func httpGet(u string) (*http.Response, error) { return http.Get(u) }

// jsonInto decodes and closes resp's body.
func jsonInto(resp *http.Response, v any) error {
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}

func httpPostJSON(t *testing.T, u string, header map[string]string, body string, v any) int {
	t.Helper()
	h := map[string]string{"Content-Type": "application/json"}
	for k, val := range header {
		h[k] = val
	}
	return httpDo(t, "POST", u, h, body, v)
}

// httpDo does an HTTP request to a node's admin API and decodes the JSON
// answer into v.
func httpDo(t *testing.T, method, u string, header map[string]string, body string, v any) int {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, val := range header {
		req.Header.Set(k, val)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s %s: %v in %s", method, u, err, b)
		}
	}
	return resp.StatusCode
}

// TestAdminAnswersForAnyNode: the admin API of node c answers in every
// dialect for a client connected to node a (Tencent DescribeMQTTClient,
// Alibaba QuerySessionByClientId, native client), lists the clients of
// every node once each, describes the cluster, counts the remote questions
// in /metrics, and kicks the client on a.
func TestAdminAnswersForAnyNode(t *testing.T) {
	longtest.Skip(t, "starts three NATS servers and brokers")
	t.Parallel() // servers on ports of their own
	nodes := startOwnedCluster(t, 3)
	a, b, c := nodes[0], nodes[1], nodes[2]
	const id = "GID_test@@@device-1 on a"
	ra := dialRaw(t, a.addr())
	if _, code := ra.connect(id, codec.ProtocolLevel311, false); code != 0 {
		t.Fatalf("CONNACK %d", code)
	}
	ra.subscribe("sensors/+/temp", 1)
	rb := dialRaw(t, b.addr())
	rb.connect("on b", codec.ProtocolLevel311, true)
	rc := dialRaw(t, c.addr())
	rc.connect("on c", codec.ProtocolLevel311, true)
	base := "http://" + c.http

	var tc struct {
		Response struct {
			ClientId                string
			ConnectionStatus        string
			MQTTClientSubscriptions []struct{ TopicFilter string }
			Error                   *struct{ Code string }
		}
	}
	httpDo(t, "POST", base+"/", map[string]string{"Content-Type": "application/json", "X-TC-Action": "DescribeMQTTClient",
		"X-TC-Version": "2023-03-08"}, fmt.Sprintf(`{"InstanceId":"mqtt-local","ClientId":%q}`, id), &tc)
	if r := tc.Response; r.Error != nil || r.ClientId != id || r.ConnectionStatus != "CONNECTED" ||
		len(r.MQTTClientSubscriptions) != 1 || r.MQTTClientSubscriptions[0].TopicFilter != "sensors/+/temp" {
		t.Fatalf("Tencent DescribeMQTTClient on c: %+v", r)
	}

	var al struct {
		OnlineStatus bool
		Code         string
	}
	q := url.Values{"Action": {"QuerySessionByClientId"}, "InstanceId": {"mqtt-local"}, "ClientId": {id}, "Version": {"2020-04-20"}}
	httpDo(t, "GET", base+"/?"+q.Encode(), nil, "", &al)
	if !al.OnlineStatus || al.Code != "" {
		t.Fatalf("Alibaba QuerySessionByClientId on c: %+v, want online", al)
	}

	var nat struct {
		ClientID string `json:"client_id"`
		Status   string `json:"status"`
		Node     string `json:"node"`
	}
	if code := httpDo(t, "GET", base+"/api/v1/clients/"+url.PathEscape(id), nil, "", &nat); code != 200 || nat.ClientID != id ||
		nat.Status != "online" || nat.Node != a.name {
		t.Fatalf("native client on c: %d %+v; want online on %s", code, nat, a.name)
	}

	var list struct {
		Clients []struct {
			ClientID string `json:"client_id"`
			Node     string `json:"node"`
		} `json:"clients"`
	}
	httpDo(t, "GET", base+"/api/v1/clients?limit=100", nil, "", &list)
	var ids []string
	for _, cl := range list.Clients {
		ids = append(ids, cl.ClientID+"@"+cl.Node)
	}
	if want := []string{id + "@" + a.name, "on b@" + b.name, "on c@" + c.name}; fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Fatalf("native list on c (client@node): %q, want %q", ids, want)
	}

	var tl struct {
		Response struct {
			Clients []struct{ ClientId string }
			Error   *struct{ Code string }
		}
	}
	httpPostJSON(t, base+"/", map[string]string{"X-TC-Action": "DescribeClientList", "X-TC-Version": "2024-05-16"},
		`{"InstanceId":"mqtt-local"}`, &tl)
	ids = ids[:0]
	for _, cl := range tl.Response.Clients {
		ids = append(ids, cl.ClientId)
	}
	slices.Sort(ids) // the vendor's order is by connect time
	if want := []string{id, "on b", "on c"}; tl.Response.Error != nil || fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Fatalf("Tencent DescribeClientList on c: %q %+v, want %q", ids, tl.Response.Error, want)
	}

	var batch struct {
		OnlineStatusList []struct {
			ClientId     string
			OnlineStatus bool
		}
	}
	q = url.Values{"Action": {"BatchQuerySessionByClientIds"}, "InstanceId": {"mqtt-local"}, "ClientIdList.1": {id},
		"ClientIdList.2": {"on b"}, "ClientIdList.3": {"nobody"}, "Version": {"2020-04-20"}}
	httpDo(t, "GET", base+"/?"+q.Encode(), nil, "", &batch)
	if got := fmt.Sprint(batch.OnlineStatusList); got != fmt.Sprintf("[{%s true} {on b true} {nobody false}]", id) {
		t.Fatalf("Alibaba BatchQuerySessionByClientIds on c: %s", got)
	}

	var cs struct {
		Nodes []struct {
			Name  string
			Alive bool
		} `json:"nodes"`
		JetStream struct {
			MetaLeader     string `json:"meta_leader"`
			BucketReplicas []struct {
				Name string `json:"name"`
			} `json:"bucket_replicas"`
		} `json:"jetstream"`
		Routes []struct {
			Remote string `json:"remote"`
		} `json:"routes"`
	}
	httpDo(t, "GET", base+"/api/v1/cluster", nil, "", &cs)
	alive := 0
	for _, n := range cs.Nodes {
		if n.Alive {
			alive++
		}
	}
	if alive != 3 || cs.JetStream.MetaLeader == "" || len(cs.JetStream.BucketReplicas) != 3 || len(cs.Routes) < 2 {
		t.Fatalf("/api/v1/cluster on c: %+v; want 3 nodes alive, a meta leader, 3 bucket replicas, routes to 2 peers", cs)
	}

	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metrics), "glassmq_cluster_nodes 3") ||
		strings.Contains(string(metrics), `glassmq_cluster_remote_admin_requests_total{direction="sent"} 0`) {
		t.Fatalf("/metrics on c lacks cluster figures:\n%s", grepLines(string(metrics), "glassmq_cluster_"))
	}

	var add struct {
		Response struct{ Error *struct{ Code string } }
	}
	httpPostJSON(t, base+"/", map[string]string{"X-TC-Action": "AddClientSubscription", "X-TC-Version": "2024-05-16"},
		fmt.Sprintf(`{"InstanceId":"mqtt-local","ClientId":%q,"TopicFilter":"cmd/#","Qos":"1"}`, id), &add)
	if add.Response.Error != nil {
		t.Fatalf("Tencent AddClientSubscription on c: %+v", add.Response.Error)
	}
	waitUntil(t, "the subscription added from c is on a", func() bool {
		var info session.Info
		return a.eng.SessionInfo(id, &info) && len(info.Subscriptions) == 2 && info.Subscriptions[1].TopicFilter == "cmd/#"
	})

	// PublishMessage on c: to the one client (queued in its session on a),
	// then to every subscriber (routed from c to a).
	for _, body := range []string{
		fmt.Sprintf(`{"InstanceId":"mqtt-local","Payload":"to you","TargetTopic":"direct/1","TargetClientId":%q,"Qos":"1"}`, id),
		`{"InstanceId":"mqtt-local","Payload":"to everyone","TargetTopic":"sensors/9/temp","Qos":"1"}`,
	} {
		var pub struct {
			Response struct{ Error *struct{ Code string } }
		}
		httpPostJSON(t, base+"/", map[string]string{"X-TC-Action": "PublishMessage", "X-TC-Version": "2024-05-16"}, body, &pub)
		if pub.Response.Error != nil {
			t.Fatalf("Tencent PublishMessage on c: %+v", pub.Response.Error)
		}
	}
	for _, want := range []string{"to you", "to everyone"} {
		var p codec.Publish
		if _, err := p.Decode(ra.expectType(codec.TypePublish)); err != nil || string(p.Payload) != want {
			t.Fatalf("client on a got %q (%v), want %q", p.Payload, err, want)
		}
	}

	var kick struct {
		Kicked bool `json:"kicked"`
	}
	httpDo(t, "DELETE", base+"/api/v1/clients/"+url.PathEscape(id), nil, "", &kick)
	if !kick.Kicked {
		t.Fatal("kick from c: kicked false")
	}
	ra.waitClosed()
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
