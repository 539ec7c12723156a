package auth

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/glassmq/glassmq/codec"
)

// The trie decides as a linear scan of the rules with codec.MatchTopic does,
// for random rule lists and every topic name of up to 4 levels over a small
// alphabet.
func TestTrieMatchesLinearScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	levels := []string{"a", "b", "$a", "", "+", "#"}
	topics := enumerate([]string{"a", "b", "$a", "", "z"}, 4, codec.ValidTopicName[string])
	for round := range 300 {
		var rules []permRule
		for i := range 1 + rng.IntN(40) {
			var f string
			for {
				parts := make([]string, 1+rng.IntN(4))
				for j := range parts {
					parts[j] = levels[rng.IntN(len(levels))]
				}
				if f = strings.Join(parts, "/"); codec.ValidTopicFilter(f) {
					break
				}
			}
			rules = append(rules, permRule{allow: rng.IntN(2) == 0, filter: f, line: i + 1})
		}
		idx := buildTrie(rules)
		for _, topic := range topics {
			want := int32(-1)
			for i := range rules {
				if codec.MatchTopic(rules[i].filter, topic) {
					want = int32(i)
					break
				}
			}
			if got := idx.match([]byte(topic), true, -1); got != want {
				t.Fatalf("round %d, topic %q: trie chose rule %d, linear scan %d; rules %v", round, topic, got, want, rules)
			}
		}
	}
}

// Perms index their publish rules from indexMin on, and decide the same.
func TestPermsIndexThreshold(t *testing.T) {
	for _, n := range []int{indexMin - 1, indexMin, 3 * indexMin} {
		p := compileACL(t, rulesOf(n)+"deny publish all t/0/x\nallow publish all #\n", "u", "c")
		if (p.idx != nil) != (n+2 >= indexMin) {
			t.Errorf("%d rules: indexed %v", n+2, p.idx != nil)
		}
		for _, c := range []check{pub("t/0/x", true), pub(fmt.Sprintf("t/%d", n-1), true), pub("other", true), pub("$SYS/x", false)} {
			c.run(t, p, fmt.Sprintf("%d rules", n+2))
		}
	}
}
