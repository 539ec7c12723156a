package codec

import "fmt"

// Topic names and filters [MQTT-4.7]. These functions take strings or byte
// slices, do not allocate, and assume well-formed UTF-8, which the decoders
// check. '/' separates levels; '+' and '#' are the single- and multi-level
// wildcards.

// ValidTopicName reports whether t may be published to: at least one byte
// [MQTT-4.7.3-1], no wildcard [MQTT-4.7.1-1] and no U+0000 [MQTT-4.7.3-2].
func ValidTopicName[T ~string | ~[]byte](t T) bool {
	if len(t) == 0 { // [MQTT-4.7.3-1]
		return false
	}
	for i := 0; i < len(t); i++ {
		if c := t[i]; c == '+' || c == '#' || c == 0 { // [MQTT-4.7.1-1] [MQTT-4.7.3-2]
			return false
		}
	}
	return true
}

// ValidTopicFilter reports whether f may be subscribed to: at least one byte
// [MQTT-4.7.3-1], no U+0000 [MQTT-4.7.3-2], '#' only as a whole last level
// [MQTT-4.7.1-2] and '+' only as a whole level [MQTT-4.7.1-3]. The broker
// answers SUBACK 0x80 for a filter that is not valid.
func ValidTopicFilter[T ~string | ~[]byte](f T) bool {
	if len(f) == 0 { // [MQTT-4.7.3-1]
		return false
	}
	for i := 0; i < len(f); i++ {
		first := i == 0 || f[i-1] == '/'
		last := i == len(f)-1 || f[i+1] == '/'
		switch f[i] {
		case 0: // [MQTT-4.7.3-2]
			return false
		case '+':
			if !first || !last { // [MQTT-4.7.1-3]
				return false
			}
		case '#':
			if !first || i != len(f)-1 { // [MQTT-4.7.1-2]
				return false
			}
		}
	}
	return true
}

// MatchTopic reports whether the topic name topic matches the valid topic
// filter filter: '+' matches any one level, '#' any number of trailing levels
// including none ("sport/#" matches "sport"), and a filter starting with a
// wildcard never matches a topic starting with '$' [MQTT-4.7.2-1]. Levels
// compare byte by byte, without normalisation [MQTT-4.7.3-4]. The result for
// an invalid filter is unspecified.
func MatchTopic[F ~string | ~[]byte, T ~string | ~[]byte](filter F, topic T) bool {
	if len(filter) > 0 && len(topic) > 0 && topic[0] == '$' &&
		(filter[0] == '+' || filter[0] == '#') { // [MQTT-4.7.2-1]
		return false
	}
	fi, ti := 0, 0 // starts of the current levels
	for {
		fe := fi
		for fe < len(filter) && filter[fe] != '/' {
			fe++
		}
		if fe-fi == 1 && filter[fi] == '#' {
			return true
		}
		te := ti
		for te < len(topic) && topic[te] != '/' {
			te++
		}
		if !(fe-fi == 1 && filter[fi] == '+') {
			if fe-fi != te-ti {
				return false
			}
			for k := 0; k < fe-fi; k++ {
				if filter[fi+k] != topic[ti+k] {
					return false
				}
			}
		}
		fdone, tdone := fe == len(filter), te == len(topic)
		switch {
		case fdone:
			return tdone
		case tdone: // "sport/#" matches "sport": only a last "#" level may remain
			return len(filter)-fe == 2 && filter[fe+1] == '#'
		}
		fi, ti = fe+1, te+1
	}
}

// checkTopicName rejects a decoded topic name (UTF-8 already checked) that is
// empty [MQTT-4.7.3-1] or holds a wildcard (wildcardRule: [MQTT-3.3.2-2] in
// PUBLISH, [MQTT-4.7.1-1] for the will topic).
func checkTopicName(t Type, field string, off int, s []byte, wildcardRule string) error {
	if len(s) == 0 { // [MQTT-4.7.3-1]
		return protocol(t, field, off, "empty, want at least one character", "MQTT-4.7.3-1")
	}
	for _, c := range s {
		if c == '+' || c == '#' { // [MQTT-3.3.2-2] [MQTT-4.7.1-1]
			return protocol(t, field, off, fmt.Sprintf("wildcard '%c' in %s", c, quote(s)), wildcardRule)
		}
	}
	return nil
}

// checkTopicFilter rejects a decoded topic filter (UTF-8 already checked) that
// is empty [MQTT-4.7.3-1]. Its syntax is the broker's to judge with
// ValidTopicFilter, so that a bad filter gets SUBACK 0x80, not a close.
func checkTopicFilter(t Type, off int, s []byte) error {
	if len(s) == 0 { // [MQTT-4.7.3-1]
		return protocol(t, "topic filter", off, "empty, want at least one character", "MQTT-4.7.3-1")
	}
	return nil
}
