package cluster_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/glassmq/glassmq/cluster"
	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/internal/longtest"
)

// TestHandoverWaitsForOlderClaim: node b claims a client whose owner, a,
// no longer answers hand-overs, so b's claim waits out a's lease. A
// hand-over request to b meanwhile is answered "busy" within half a
// timeout, well before its asker gives up (a session taken out after that
// would be sent to nobody), and a claim on c asks b again until b's own
// claim is done instead of taking b, which is alive, for dead: c's claim
// ends without an error and without waiting out b's lease.
func TestHandoverWaitsForOlderClaim(t *testing.T) {
	longtest.Skip(t, "starts three NATS servers and brokers")
	t.Parallel() // servers on ports of their own
	const lease, timeout = 6 * time.Second, 2 * time.Second
	nodes := startOwnedCluster(t, 3, func(c *cluster.OwnersConfig) { c.Lease = lease; c.Timeout = timeout })
	a, b, c := nodes[0], nodes[1], nodes[2]
	const id = "busy test"
	dialRaw(t, a.addr()).connect(id, codec.ProtocolLevel311, false)
	a.node.Server().Shutdown() // a is cut off: it answers no hand-over and renews no lease

	type claimed struct {
		epoch uint64
		err   error
	}
	bDone := make(chan claimed, 1)
	go func() {
		epoch, _, err := b.owners.Claim(id)
		if err == nil {
			b.owners.Fetched(id, epoch)
			b.owners.Settle(id, epoch)
		}
		bDone <- claimed{epoch, err}
	}()
	var bEpoch uint64
	waitUntil(t, "b's claim in the bucket", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		e, err := b.owners.KV().Get(ctx, cluster.OwnerKey(id))
		if err != nil || string(e.Value()) != b.name {
			return false
		}
		bEpoch = e.Revision()
		return true
	})

	subject := "glassmq.own." + cluster.EncodeToken(b.name)
	req := fmt.Sprintf(`{"client_id":%q,"epoch":%d,"node":"probe"}`, id, bEpoch+1)
	start := time.Now()
	m, err := c.nc.Request(subject, []byte(req), timeout)
	if err != nil {
		t.Fatalf("a hand-over request to b while its own claim waits: %v (after %v)", err, time.Since(start))
	}
	if len(m.Data) != 1 || m.Data[0] != 4 {
		t.Fatalf("reply % x, want the busy status 04", m.Data)
	}

	errorsBefore := c.owners.Stats.Errors.Load()
	cStart := time.Now()
	epoch, _, err := c.owners.Claim(id)
	if err != nil {
		t.Fatalf("c's claim: %v", err)
	}
	c.owners.Fetched(id, epoch)
	c.owners.Settle(id, epoch)
	took := time.Since(cStart)
	bc := <-bDone
	if bc.err != nil {
		t.Fatalf("b's claim: %v", bc.err)
	}
	if n := c.owners.Stats.Errors.Load() - errorsBefore; n != 0 {
		t.Fatalf("c's claim counted %d errors (it took b for dead and waited out its lease; took %v)", n, took)
	}
	if epoch <= bc.epoch {
		t.Fatalf("c's epoch %d not above b's %d", epoch, bc.epoch)
	}
}
