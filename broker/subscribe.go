package broker

import (
	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/session"
)

// subackFailure is the SUBACK return code for a refused filter [MQTT-3.9.3].
const subackFailure = 0x80

// handleSubscribe subscribes, answers SUBACK, then sends the retained
// messages the new subscriptions match. Loop-only.
func (c *Conn) handleSubscribe(frame []byte) {
	p := &c.ls.sub
	if _, err := p.DecodeV(frame, c.v5.level()); err != nil {
		c.fail(codec.TypeSubscribe, err)
		return
	}
	if !c.subscribeCapable(&p.Props) { // capabilities.go
		return
	}
	s := c.sess
	codes := c.ls.codes[:0]
	for i := range p.Filters {
		f := &p.Filters[i]
		if !codec.ValidTopicFilter(f.TopicFilter) {
			codes = append(codes, c.subackFail(codec.ReasonTopicFilterInvalid)) // [MQTT-4.7.3-*], filter refused alone
			continue
		}
		if rc := c.e.filterRefusal(f.TopicFilter); rc != 0 { // -wildcard-subscriptions false [MQTT5-3.2.2.3.12]
			codes = append(codes, c.subackFail(rc))
			continue
		}
		filter := string(f.TopicFilter)
		inner, shared, refuse := c.sharedSubscribe(filter) // $share/GROUP/FILTER: the ACL decides FILTER
		if refuse != 0 {
			codes = append(codes, refuse)
			continue
		}
		var only Permissions // set when the ACL withholds some of filter's topics
		if perms := c.permissions(); perms != nil {
			granted, filtered := perms.CanSubscribe(inner)
			if !granted {
				codes = append(codes, c.subackFail(codec.ReasonNotAuthorized)) // denied by the ACL, this filter alone
				c.ls.st.Denied.Add(1)
				continue
			}
			if filtered {
				only = perms
			}
		}
		if len(s.Subscriptions()) >= c.e.cfg.MaxSubscriptions && !hasFilter(s.Subscriptions(), filter) {
			codes = append(codes, c.subackFail(codec.ReasonQuotaExceeded))
			continue
		}
		qos := min(f.QoS, c.e.maxQoS()) // at most -max-qos [MQTT-3.9.3], [MQTT5-3.2.2-10]
		sub := subscriptionOf(filter, qos, f, &p.Props)
		if s.Subscribe(sub) {
			c.e.stats.Subscriptions.Add(1)
		} else if f.RetainHandling == 1 {
			f.RetainHandling = 2 // not new: no retained messages [MQTT5-3.3.1-10]
		}
		if shared {
			f.RetainHandling = 2 // no retained messages for a shared subscription [MQTT5-4.8.2]
		}
		c.e.router.add(filter, s, qos, only) // replaces an existing one [MQTT-3.8.4-3]
		codes = append(codes, qos)
	}
	s.Save()
	n := len(c.out)
	if c.v5&v5On != 0 {
		c.out = c.appendSubackV5(c.out, p.PacketID, codes) // [MQTT5-3.8.4-1], one per filter [MQTT5-3.8.4-6]; reason string in problem.go
	} else {
		c.out = codec.AppendSuback(c.out, p.PacketID, codes) // [MQTT-3.8.4-1], one code per filter [MQTT-3.8.4-5]
	}
	c.countSent(codec.TypeSuback, 0, len(c.out)-n)
	for i, f := range p.Filters {
		if codes[i] < subackFailure && f.RetainHandling != 2 && c.e.cfg.RetainAvailable { // 2: never [MQTT5-3.3.1-11]
			c.sendRetained(string(f.TopicFilter), codes[i])
		}
	}
	c.ls.codes = codes[:0]
}

func hasFilter(subs []session.Subscription, filter string) bool {
	for i := range subs {
		if subs[i].TopicFilter == filter {
			return true
		}
	}
	return false
}

// handleUnsubscribe removes subscriptions and answers UNSUBACK, even for
// filters it did not have [MQTT-3.10.4-5]. Loop-only.
func (c *Conn) handleUnsubscribe(frame []byte) {
	p := &c.ls.unsub
	if _, err := p.DecodeV(frame, c.v5.level()); err != nil {
		c.fail(codec.TypeUnsubscribe, err)
		return
	}
	s := c.sess
	codes := c.ls.codes[:0]
	for _, f := range p.TopicFilters {
		filter := string(f)
		if s.Unsubscribe(filter) {
			c.e.router.remove(filter, s)
			c.e.stats.Subscriptions.Add(-1)
			codes = append(codes, byte(codec.ReasonSuccess))
		} else {
			codes = append(codes, byte(codec.ReasonNoSubscriptionExisted)) // [MQTT5-3.11.3]
		}
	}
	s.Save()
	if c.v5&v5On != 0 {
		n := len(c.out)
		c.out = codec.AppendUnsubackV5(c.out, p.PacketID, codes, nil) // one per filter [MQTT5-3.11.3-2]
		c.countSent(codec.TypeUnsuback, 0, len(c.out)-n)
	} else {
		c.out = codec.AppendUnsuback(c.out, p.PacketID) // [MQTT-3.10.4-4]
		c.countSent(codec.TypeUnsuback, 0, 4)
	}
	c.ls.codes = codes[:0]
}
