package broker

import (
	"strings"
	"testing"
)

// TestLoopNiceValidate: -loop-nice takes 0 (off) to 19; anything else is
// named with its value and the valid range.
func TestLoopNiceValidate(t *testing.T) {
	for _, n := range []int{-1, -20, 20, 100} {
		c := DefaultConfig()
		c.LoopNice = n
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), "-loop-nice") || !strings.Contains(err.Error(), "must be 0 (off) to 19") {
			t.Errorf("LoopNice %d: Validate() = %v, want a sentence naming -loop-nice and 0 to 19", n, err)
		}
	}
	for _, n := range []int{0, 1, defaultLoopNice, 19} {
		c := DefaultConfig()
		c.LoopNice = n
		if err := c.Validate(); err != nil {
			t.Errorf("LoopNice %d: %v", n, err)
		}
	}
}
