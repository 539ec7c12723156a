package auth

import "bytes"

// indexMin is the number of publish rules from which a Perms indexes them in
// a trie: BenchmarkPublishIndex finds both ways equal at 4 rules (about
// 30ns), the trie twice as fast at 8 and ten times at 64.
const indexMin = 6

// trie indexes one Perms' publish rule filters level by level, so that
// CanPublish visits the levels of a topic name rather than every rule. Each
// node records the lowest rule index (the first rule in file order) among
// the filters that end at it, so the lowest index over all matches is the
// rule that decides, as in a linear scan. Immutable once built.
type trie struct {
	children map[string]*trie
	plus     *trie // the '+' level
	end      int32 // lowest index of a rule whose filter ends here; -1 if none
	hash     int32 // lowest index of a rule whose filter is this path + "/#"; -1 if none
	min      int32 // lowest rule index in this subtree, to stop early
}

func newTrie() *trie { return &trie{end: -1, hash: -1, min: -1} }

// buildTrie indexes the filters of rules; a match returns an index into
// rules.
func buildTrie(rules []permRule) *trie {
	root := newTrie()
	for i := range rules {
		idx := int32(i)
		n, rest := root, rules[i].filter
		for {
			if n.min < 0 {
				n.min = idx // rules come in ascending order
			}
			level, r, more := cutLevel(rest)
			if level == "#" {
				if n.hash < 0 {
					n.hash = idx
				}
				break
			}
			var next *trie
			if level == "+" {
				if n.plus == nil {
					n.plus = newTrie()
				}
				next = n.plus
			} else {
				if n.children == nil {
					n.children = make(map[string]*trie)
				}
				if next = n.children[level]; next == nil {
					next = newTrie()
					n.children[level] = next
				}
			}
			n, rest = next, r
			if !more {
				if n.min < 0 {
					n.min = idx
				}
				if n.end < 0 {
					n.end = idx
				}
				break
			}
		}
	}
	return root
}

func cutLevel(s string) (level, rest string, more bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// match returns the lowest index of a rule whose filter matches the rest of
// a topic name, topic, at node t, or -1; best is the lowest found so far.
// root is true at the first level, where wildcards do not match a topic
// starting with '$' [MQTT-4.7.2-1]. It does not allocate.
func (t *trie) match(topic []byte, root bool, best int32) int32 {
	if t.min < 0 || (best >= 0 && t.min >= best) {
		return best
	}
	wild := !root || len(topic) == 0 || topic[0] != '$' // [MQTT-4.7.2-1]
	if wild && t.hash >= 0 && (best < 0 || t.hash < best) {
		best = t.hash
	}
	level, rest, more := topic, []byte(nil), false
	if i := bytes.IndexByte(topic, '/'); i >= 0 {
		level, rest, more = topic[:i], topic[i+1:], true
	}
	if c := t.children[string(level)]; c != nil {
		best = c.after(rest, more, best)
	}
	if wild && t.plus != nil {
		best = t.plus.after(rest, more, best)
	}
	return best
}

// after continues a match at node t, reached by one level of the topic
// name; more says whether levels follow.
func (t *trie) after(rest []byte, more bool, best int32) int32 {
	if more {
		return t.match(rest, false, best)
	}
	for _, i := range [2]int32{t.end, t.hash} { // "a/#" matches "a" too
		if i >= 0 && (best < 0 || i < best) {
			best = i
		}
	}
	return best
}
