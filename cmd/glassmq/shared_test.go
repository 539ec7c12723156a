package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// TestSharedSubscriptionFlags: a bad shared subscription flag exits 2 with
// a sentence naming the flag, the value and what is valid.
func TestSharedSubscriptionFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-shared-subscription-strategy", "sticky"}, `-shared-subscription-strategy "sticky": must be round_robin, random or hash_clientid`},
		{[]string{"-shared-subscriptions=maybe"}, `-shared-subscriptions "maybe": want true or false`},
	} {
		var out bytes.Buffer
		if code := run(append(tc.args, "-data-dir", t.TempDir()), &out); code != 2 {
			t.Errorf("%v: exit %d, want 2; output %s", tc.args, code, out.String())
		}
		if !strings.Contains(out.String(), tc.want) {
			t.Errorf("%v: output %q, want it to contain %q", tc.args, out.String(), tc.want)
		}
	}
}

// TestSharedSubscriptionListed: the native admin API lists a client's
// shared subscription as the whole $share/GROUP/FILTER it subscribed to.
func TestSharedSubscriptionListed(t *testing.T) {
	b := startDashBroker(t)
	cl := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + b.mqtt).SetClientID("share-member"))
	if tok := cl.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer cl.Disconnect(0)
	if tok := cl.Subscribe("$share/workers/jobs/#", 1, nil); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	req, _ := http.NewRequest("GET", b.admin+"/api/v1/clients/share-member", nil)
	req.Header.Set("Authorization", "Bearer "+dashSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var c struct {
		Subscriptions []struct {
			TopicFilter string `json:"topic_filter"`
			QoS         int    `json:"qos"`
		} `json:"subscriptions"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /api/v1/clients/share-member: %d %v", resp.StatusCode, err)
	}
	if len(c.Subscriptions) != 1 || c.Subscriptions[0].TopicFilter != "$share/workers/jobs/#" || c.Subscriptions[0].QoS != 1 {
		t.Fatalf("subscriptions %+v, want [$share/workers/jobs/# QoS 1]", c.Subscriptions)
	}
}
