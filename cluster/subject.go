package cluster

import (
	"errors"
	"fmt"
	"strings"
)

// The topic ↔ subject mapping. An MQTT topic is a list of levels split by
// '/'; a NATS subject is a list of tokens split by '.'. Each level becomes
// one token through EncodeToken (so '.', '*', '>', spaces, empty levels and
// any UTF-8 are safe and the mapping reverses), behind a prefix that keeps
// the broker's subjects apart from anything else on the NATS cluster:
//
//	topic "a/b c/"       → subject "mq.m.a.b_20c.="
//	topic "$SYS/x"       → subject "mq.s._24SYS.x"
//	filter "a/+/c"       → "mq.m.a.*.c"
//	filter "a/#"         → "mq.m.a" and "mq.m.a.>" ('#' also matches the parent)
//	filter "#"           → "mq.m.>"
//	filter "$SYS/#"      → "mq.s._24SYS" and "mq.s._24SYS.>"
//
// Topics whose first level starts with '$' live under their own prefix, so a
// filter starting with a wildcard (which MQTT forbids to match them) cannot
// match them in NATS either. Retained messages travel on RetainedPrefix
// plus the same tokens, a subject every node subscribes to.
const (
	TopicPrefix    = "mq.m" // topics whose first level does not start with '$'
	DollarPrefix   = "mq.s" // topics whose first level starts with '$'
	RetainedPrefix = "mq.r" // retained messages, every node subscribes to all of them
)

// ErrSubject is returned for a subject the mapping cannot have produced.
var ErrSubject = errors.New("cluster: not a topic subject")

// prefixFor returns the subject prefix of topic.
func prefixFor(topic []byte) string {
	if len(topic) > 0 && topic[0] == '$' {
		return DollarPrefix
	}
	return TopicPrefix
}

// TopicSubject returns the NATS subject of an MQTT topic name.
// Safe for concurrent use.
func TopicSubject(topic string) string {
	return string(AppendSubject(nil, prefixFor([]byte(topic)), []byte(topic)))
}

// AppendSubject appends prefix and the tokens of topic's levels to dst.
// Safe for concurrent use.
func AppendSubject(dst []byte, prefix string, topic []byte) []byte {
	dst = append(dst, prefix...)
	start := 0
	for i := 0; i <= len(topic); i++ {
		if i == len(topic) || topic[i] == '/' {
			dst = append(dst, '.')
			dst = appendToken(dst, topic[start:i])
			start = i + 1
		}
	}
	return dst
}

// SubjectTopic returns the MQTT topic name of a subject made by
// TopicSubject (or AppendSubject with TopicPrefix, DollarPrefix or
// RetainedPrefix). Safe for concurrent use.
func SubjectTopic(subject string) (string, error) {
	rest, ok := "", false
	for _, p := range [...]string{TopicPrefix, DollarPrefix, RetainedPrefix} {
		if rest, ok = strings.CutPrefix(subject, p+"."); ok {
			break
		}
	}
	if !ok {
		return "", fmt.Errorf("%w: %q has no broker prefix", ErrSubject, cut(subject))
	}
	var b strings.Builder
	for i, tok := range strings.Split(rest, ".") {
		level, err := DecodeToken(tok)
		if err != nil {
			return "", fmt.Errorf("%w: %q level %d: %w", ErrSubject, cut(subject), i, err)
		}
		if i > 0 {
			b.WriteByte('/')
		}
		b.WriteString(level)
	}
	topic := b.String()
	if dollar := topic != "" && topic[0] == '$'; dollar != strings.HasPrefix(subject, DollarPrefix+".") && !strings.HasPrefix(subject, RetainedPrefix+".") {
		return "", fmt.Errorf("%w: %q is under the wrong prefix", ErrSubject, cut(subject))
	}
	return topic, nil
}

// FilterSubjects returns the NATS subjects whose subscriptions together
// match exactly the topics an MQTT topic filter matches: one, or two for a
// filter ending in "/#" (the parent level and everything below it).
// filter must be a valid topic filter without a $share prefix.
// Safe for concurrent use.
func FilterSubjects(filter string) []string {
	levels := strings.Split(filter, "/")
	prefix := TopicPrefix
	if strings.HasPrefix(filter, "$") {
		prefix = DollarPrefix
	}
	b := []byte(prefix)
	for _, l := range levels {
		b = append(b, '.')
		switch l {
		case "+":
			b = append(b, '*')
		case "#":
			b = append(b, '>')
		default:
			b = appendToken(b, l)
		}
	}
	s := string(b)
	if len(levels) > 1 && levels[len(levels)-1] == "#" {
		// "a/#" matches "a" as well [MQTT-4.7.1-2].
		return []string{s[:len(s)-2], s}
	}
	return []string{s}
}
