// Command glassmq-bench is glassmq's load generator.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "glassmq-bench: not built yet")
	os.Exit(1)
}
