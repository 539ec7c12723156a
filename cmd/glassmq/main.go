// Command glassmq is the glassmq MQTT broker.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "glassmq: the broker is not built yet")
	os.Exit(1)
}
