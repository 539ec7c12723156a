package admin

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ with the answers the server gives now")

// golden compares got with testdata/name, or rewrites the file with -update.
// JSON is compared indented, so the files read well and diffs stay small;
// key order and every byte of every value still count.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	if filepath.Ext(name) == ".json" {
		var b bytes.Buffer
		if err := json.Indent(&b, got, "", "  "); err != nil {
			t.Fatalf("%s: answer is not JSON: %v\n%s", name, err, got)
		}
		got = append(b.Bytes(), '\n')
	} else {
		got = append(bytes.Clone(got), '\n')
	}
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./admin -run TestGolden -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (rerun with -update if the change is intended)\ngot:\n%s\nwant:\n%s", name, got, want)
	}
}

// TestGolden pins the answers of every dialect byte for byte.
func TestGolden(t *testing.T) {
	s := newTestServer(t, newFakeBroker(seedInfo(), weirdInfo()), nil)
	weirdTC3 := `{"InstanceId":"mqtt-local","ClientId":"GID_test@@@dev 1*~/é+&="}`
	rpc := func(clientID, format string) *testReq {
		return unsignedRPC(url.Values{"Action": {"QuerySessionByClientId"}, "InstanceId": {"mqtt-local"}, "ClientId": {clientID}, "Format": {format}})
	}
	cases := []struct {
		file string
		req  *testReq
	}{
		{"tencent_describe_seed.json", unsignedTC3(`{"InstanceId":"mqtt-local","ClientId":"sub_client2"}`)},
		{"tencent_describe_weird.json", unsignedTC3(weirdTC3)},
		{"tencent_error_client.json", unsignedTC3(`{"InstanceId":"mqtt-local","ClientId":"nobody"}`)},
		{"tencent_error_instance.json", unsignedTC3(`{"InstanceId":"mqtt-2vnk55xv","ClientId":"sub_client2"}`)},
		{"alibaba_query_online.json", rpc("sub_client2", "JSON")},
		{"alibaba_query_online.xml", rpc("sub_client2", "XML")},
		{"alibaba_query_weird.xml", rpc(weirdID, "XML")},
		{"alibaba_error_instance.json", unsignedRPC(url.Values{"Action": {"QuerySessionByClientId"}, "InstanceId": {"post-cn-0pp12gl"}, "ClientId": {"c"}})},
		{"native_client_weird.json", &testReq{method: "GET", path: "/api/v1/clients/" + url.PathEscape(weirdID)}},
		{"native_client_seed.json", &testReq{method: "GET", path: "/api/v1/clients/sub_client2"}},
		{"native_list.json", &testReq{method: "GET", path: "/api/v1/clients", query: "limit=1"}},
		{"native_error_not_found.json", &testReq{method: "GET", path: "/api/v1/clients/nobody"}},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			golden(t, tc.file, serve(t, s, tc.req).Body())
		})
	}
}

// TestSeedExample: the client of the output example on Tencent's
// DescribeMQTTClient documentation page
// (connect, subscribe to four filters, 14 PINGREQ) gives exactly that
// example's Response. The example lists Inbound items as SUBACK, CONNACK,
// PINGRESP; we order by packet type (CONNACK first), so items compare as
// sets. The page's top-level "Error": null and "RequestId": null are not
// part of the Response and are not sent.
func TestSeedExample(t *testing.T) {
	s := newTestServer(t, newFakeBroker(seedInfo()), nil)
	resp := serve(t, s, unsignedTC3(`{"InstanceId":"mqtt-local","ClientId":"sub_client2"}`))

	var got, want struct{ Response map[string]any }
	if err := json.Unmarshal(resp.Body(), &got); err != nil {
		t.Fatal(err)
	}
	seed, err := os.ReadFile("testdata/tencent_seed_example.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(seed, &want); err != nil {
		t.Fatal(err)
	}
	sortItems := func(m map[string]any) {
		for _, dir := range []string{"Inbound", "OutBound"} {
			report, _ := m[dir].(map[string]any)
			items, _ := report["Items"].([]any)
			slices.SortFunc(items, func(a, b any) int {
				x, y := fmt.Sprint(a), fmt.Sprint(b)
				if x < y {
					return -1
				}
				if x > y {
					return 1
				}
				return 0
			})
		}
	}
	sortItems(got.Response)
	sortItems(want.Response)
	for k, w := range want.Response {
		if g, ok := got.Response[k]; !ok || !reflect.DeepEqual(g, w) {
			t.Errorf("%s = %v, want %v", k, g, w)
		}
	}
	for k := range got.Response {
		if _, ok := want.Response[k]; !ok {
			t.Errorf("extra key %s", k)
		}
	}
}
