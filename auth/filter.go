package auth

import "strings"

// Topic filter relations for subscribe rules. A filter stands for the set of
// topic names it matches (codec.MatchTopic): '+' is any one level, a last
// '#' any number of further levels including none ("a/#" matches "a"), and
// a filter starting with a wildcard matches no topic starting with '$'
// [MQTT-4.7.2-1]. Both functions take valid topic filters, do not allocate,
// and agree with codec.MatchTopic on every topic (filter_test.go checks them
// against it by enumeration).

// covers reports whether rule matches every topic name that filter matches,
// so that a client allowed rule may subscribe to filter: "sensors/#" covers
// "sensors/+/temp" and "sensors", "+/#" covers "#", "#" does not cover
// "$SYS/#".
func covers(rule, filter string) bool {
	if filter[0] == '$' && (rule[0] == '+' || rule[0] == '#') { // [MQTT-4.7.2-1]
		return false
	}
	filter = noEmptyParent(filter)
	for {
		r, rrest, rmore := strings.Cut(rule, "/")
		f, frest, fmore := strings.Cut(filter, "/")
		if r == "#" {
			return true // any further levels, including none
		}
		switch f {
		case "#": // matches the parent topic too, which r ('+' or a name) does not
			return false
		case "+":
			if r != "+" {
				return false
			}
		default:
			if r != "+" && r != f {
				return false
			}
		}
		switch {
		case !fmore && !rmore:
			return true
		case !fmore: // filter ends; rule must match the topic ending here
			return rrest == "#"
		case !rmore: // filter matches longer topic names than rule
			return false
		}
		rule, filter = rrest, frest
	}
}

// overlaps reports whether some topic name matches both a and b, so that a
// deny rule a bars a subscription to b: "secret/#" overlaps "#" and
// "+/key", not "public/#".
func overlaps(a, b string) bool {
	if (a[0] == '$' && (b[0] == '+' || b[0] == '#')) ||
		(b[0] == '$' && (a[0] == '+' || a[0] == '#')) { // [MQTT-4.7.2-1]
		return false
	}
	a, b = noEmptyParent(a), noEmptyParent(b)
	for {
		x, arest, amore := strings.Cut(a, "/")
		y, brest, bmore := strings.Cut(b, "/")
		if x == "#" || y == "#" {
			return true
		}
		if x != "+" && y != "+" && x != y {
			return false
		}
		switch {
		case !amore && !bmore:
			return true
		case !amore:
			return brest == "#"
		case !bmore:
			return arest == "#"
		}
		a, b = arest, brest
	}
}

// noEmptyParent rewrites the two filters whose '#' cannot match zero levels,
// because the parent topic name would be empty [MQTT-4.7.3-1]: "#" is "+/#"
// and "/#" is "/+/#" (the same topic names, with '+' matching the level '#'
// must match).
func noEmptyParent(f string) string {
	switch f {
	case "#":
		return "+/#"
	case "/#":
		return "/+/#"
	}
	return f
}
