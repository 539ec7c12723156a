package admin_test

import (
	"fmt"
	"net"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/glassmq/glassmq/admin"
	"github.com/glassmq/glassmq/session"
)

// oneClient is a Broker with a single connected client.
type oneClient struct{}

func (oneClient) SessionInfo(id string, dst *session.Info) bool {
	if id != "GID_test@@@device-1" {
		return false
	}
	*dst = session.Info{ClientID: id, ClientAddress: "127.0.0.1:50000", ProtocolVersion: 4, KeepAlive: 60, Connected: true}
	return true
}

func (oneClient) RangeSessions(fn func(string, bool) bool) { fn("GID_test@@@device-1", true) }

func (oneClient) Kick(string, bool) bool { return false }

// Serving the admin API on loopback and asking it as Alibaba's API would be
// asked.
func Example() {
	cfg := admin.DefaultConfig()
	srv, err := admin.New(cfg, oneClient{}, nil)
	if err != nil {
		panic(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go srv.Serve(ln)
	defer srv.Shutdown()

	status, body, err := fasthttp.Post(nil, "http://"+ln.Addr().String()+
		"/?Action=QuerySessionByClientId&InstanceId=mqtt-local&ClientId=GID_test%40%40%40device-1", nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(status, strings.Contains(string(body), `"OnlineStatus":true`))
	// Output: 200 true
}
