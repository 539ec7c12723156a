// Command demo calls a running glassmq's admin port once through each
// official cloud SDK, as the README shows: Tencent trocket DescribeMQTTClient
// and Alibaba onsmqtt QuerySessionByClientId (classic and V2 SDKs).
//
//	go run ./demo -admin 127.0.0.1:8080 -client 'GID_test@@@device-1'
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	onsmqttv2 "github.com/alibabacloud-go/onsmqtt-20200420/v2/client"
	"github.com/alibabacloud-go/tea/tea"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/onsmqtt"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"
	trocket "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/trocket/v20230308"
)

func main() {
	admin := flag.String("admin", "127.0.0.1:8080", "glassmq admin address host:port")
	client := flag.String("client", "GID_test@@@device-1", "client ID to ask about")
	instance := flag.String("instance", "mqtt-local", "glassmq -instance-id")
	id := flag.String("id", "AKIDdemo", "Tencent SecretId / Alibaba AccessKeyId")
	secret := flag.String("secret", "demo-secret", "Tencent SecretKey / Alibaba AccessKeySecret")
	flag.Parse()
	fail := func(what string, err error) {
		fmt.Fprintf(os.Stderr, "%s: %v\n", what, err)
		os.Exit(1)
	}

	// Tencent Cloud: trocket 2023-03-08, TC3-HMAC-SHA256.
	cpf := profile.NewClientProfile()
	cpf.HttpProfile.Endpoint = *admin // host:port only; the SDK adds the scheme
	cpf.HttpProfile.Scheme = "HTTP"
	tc, err := trocket.NewClient(common.NewCredential(*id, *secret), "ap-guangzhou", cpf)
	if err != nil {
		fail("tencent client", err)
	}
	req := trocket.NewDescribeMQTTClientRequest()
	req.InstanceId, req.ClientId = common.StringPtr(*instance), common.StringPtr(*client)
	resp, err := tc.DescribeMQTTClient(req)
	if err != nil {
		fail("DescribeMQTTClient", err)
	}
	r := resp.Response
	fmt.Printf("Tencent DescribeMQTTClient: %s %s from %s, keep-alive %d, %d subscriptions, OutBound %d bytes, Inbound %d bytes\n",
		*r.ClientId, *r.ConnectionStatus, *r.ClientAddress, *r.Keepalive, len(r.MQTTClientSubscriptions),
		*r.OutBound.Bytes, *r.Inbound.Bytes)

	// Alibaba Cloud classic SDK: RPC signature v1, JSON.
	ac, err := onsmqtt.NewClientWithOptions("cn-hangzhou", sdk.NewConfig(), credentials.NewAccessKeyCredential(*id, *secret))
	if err != nil {
		fail("alibaba client", err)
	}
	ac.Domain = *admin
	areq := onsmqtt.CreateQuerySessionByClientIdRequest()
	areq.Scheme, areq.InstanceId, areq.ClientId = "http", *instance, *client
	aresp, err := ac.QuerySessionByClientId(areq)
	if err != nil {
		fail("QuerySessionByClientId (classic)", err)
	}
	fmt.Printf("Alibaba classic QuerySessionByClientId: OnlineStatus=%v RequestId=%s\n", aresp.OnlineStatus, aresp.RequestId)

	// Alibaba Cloud V2 (darabonba) SDK: ACS3-HMAC-SHA256.
	v2, err := onsmqttv2.NewClient(&openapi.Config{AccessKeyId: id, AccessKeySecret: secret,
		Endpoint: admin, Protocol: tea.String("HTTP")})
	if err != nil {
		fail("alibaba v2 client", err)
	}
	vresp, err := v2.QuerySessionByClientId(&onsmqttv2.QuerySessionByClientIdRequest{InstanceId: instance, ClientId: client})
	if err != nil {
		fail("QuerySessionByClientId (v2)", err)
	}
	out, _ := json.Marshal(vresp.Body)
	fmt.Printf("Alibaba V2 QuerySessionByClientId: %s\n", out)
}
