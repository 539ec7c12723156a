package cluster

import (
	"context"
	"encoding/binary"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// The cut-over between a replay and direct delivery (orphan_replay.go):
// which messages of the stream reached a rebuilt session without it.

// cutOver asks every live node for its cut, waits for the barrier, stops
// logging arrivals for j and returns, per client, the messages that
// arrived after its registration, and on cuts the numbers past which each
// answering origin's messages reach the sessions directly.
func (o *orphans) cutOver(j *replayJob) (arrived cutState) {
	r := o.r
	arrived.cuts = map[string]uint64{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	c := &r.confirm
	now := time.Now()
	c.mu.Lock()
	var live []string
	for name, mb := range c.members {
		if now.Sub(mb.heard) <= memberTimeout {
			live = append(live, name)
		}
	}
	c.mu.Unlock()
	for _, name := range live {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), cutWait+2*time.Second)
			defer cancel()
			m, err := r.node.nc.RequestWithContext(ctx, cutPrefix+"."+EncodeToken(name), nil)
			if err != nil {
				r.log.Warn("cluster: no cut from a node; its messages kept for a dead node are replayed unless they arrived", "node", name, "err", err)
				return
			}
			origin, b, ok := field(m.Data)
			var s uint64
			if ok {
				s, _, ok = uvarint(b)
			}
			if ok {
				mu.Lock()
				arrived.cuts[string(origin)] = s
				mu.Unlock()
			}
		}()
	}
	// This node's own records up to the clients' numbers must be in the
	// stream before it is read.
	self := uint64(0)
	for _, cl := range j.clients {
		self = max(self, cl.self)
	}
	o.waitRecords(self, time.Now().Add(cutWait))
	wg.Wait()
	o.barrier()
	rp := &o.replay
	rp.mu.Lock()
	arrived.sets = make([]map[arrival]bool, len(j.clients))
	for i, cl := range j.clients {
		set := map[arrival]bool{}
		for k := max(cl.from-rp.base, 0); k < len(rp.log); k++ {
			set[rp.log[k]] = true
		}
		arrived.sets[i] = set
	}
	arrived.origins = make(map[string]uint32, len(rp.origins))
	for k, v := range rp.origins {
		arrived.origins[k] = v
	}
	if rp.recording.Add(-int32(len(j.clients))) == 0 {
		rp.base += len(rp.log)
		rp.log = nil
	}
	rp.mu.Unlock()
	return arrived
}

// cutState is what cutOver learnt.
type cutState struct {
	cuts    map[string]uint64  // origin -> its number at the cut
	sets    []map[arrival]bool // per client of the job: what arrived after its registration
	origins map[string]uint32  // origin -> its index in arrivals
}

// direct reports whether e reached c's session without the replay; set
// is what arrived after c's registration.
func (o *orphans) direct(c *rebuiltClient, set map[arrival]bool, e *envelope, cs cutState) bool {
	if string(e.origin) == o.r.origin {
		return e.seq > c.self
	}
	if s, ok := cs.cuts[string(e.origin)]; ok && e.seq > s {
		return true
	}
	k, ok := cs.origins[string(e.origin)]
	return ok && set[arrival{k, e.seq}]
}

// serveCut answers another node's cut request: it sends what waits, takes
// its current number, waits until its records up to it are stored, then
// answers with its origin and that number.
func (o *orphans) serveCut(m *nats.Msg) {
	go func() {
		r := o.r
		r.mu.Lock()
		r.flushLocked()
		s := r.seq.Load()
		r.mu.Unlock()
		o.waitRecords(s, time.Now().Add(cutWait))
		b := appendField(nil, r.origin)
		b = binary.AppendUvarint(b, s)
		if err := m.Respond(b); err != nil {
			r.log.Warn("cluster: cut answer", "err", err)
		}
	}()
}

// waitRecords waits until no record for a dead node holding a number up
// to s waits for the stream, or until deadline.
func (o *orphans) waitRecords(s uint64, deadline time.Time) {
	for time.Now().Before(deadline) {
		o.mu.Lock()
		h := ^uint64(0)
		for _, w := range o.queue {
			h = min(h, w.last)
		}
		for _, w := range o.inflight {
			h = min(h, w.last)
		}
		o.mu.Unlock()
		if h > s {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// barrier waits until everything in the Router's queue when it was called
// has been handed to the engine.
func (o *orphans) barrier() {
	r, rp := o.r, &o.replay
	rp.mu.Lock()
	rp.nextBar++
	id := rp.nextBar
	ch := make(chan struct{})
	rp.barriers[id] = ch
	rp.mu.Unlock()
	select {
	case r.in <- &nats.Msg{Subject: orphanBarrier, Data: binary.AppendUvarint([]byte{0}, id)}: // not a batch: never shed
	case <-r.done:
		return
	}
	select {
	case <-ch:
	case <-r.done:
	case <-time.After(time.Minute):
		r.log.Warn("cluster: the receive queue did not drain in a minute; replaying anyway")
	}
}

// passed is run's side of a barrier: everything before it went to the
// engine.
func (o *orphans) passed(data []byte) {
	if len(data) < 1 {
		return
	}
	id, _, ok := uvarint(data[1:])
	if !ok {
		return
	}
	rp := &o.replay
	rp.mu.Lock()
	ch := rp.barriers[id]
	delete(rp.barriers, id)
	rp.mu.Unlock()
	if ch != nil {
		close(ch)
	}
}
