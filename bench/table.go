package bench

import (
	"fmt"
	"io"
)

// WriteRunTable writes results of single runs as a Markdown table.
func WriteRunTable(w io.Writer, results []Result) {
	fmt.Fprintln(w, "| target | scenario | QoS | payload | msg/s | sent | delivered | lost | dup | p50 µs | p99 µs | p99.9 µs | max µs | other |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
	for _, r := range results {
		other := ""
		switch r.Scenario {
		case "connections":
			other = fmt.Sprintf("%d conns, %.0f conn/s, %.0f B RSS/conn", r.Connections, r.ConnectRate, r.RSSPerConnB)
		case "retained":
			other = fmt.Sprintf("%s of %d retained (seeded at %s msg/s)", r.Variant, r.Sent, si(r.PubRate))
		case "admin":
			other = fmt.Sprintf("%s: %d req, %.1f accepted/s, %d throttled, %d failed; load %s msg/s", r.Variant, r.Requests, r.AcceptRate, r.Throttled, r.Failed, si(r.LoadRate))
		}
		fmt.Fprintf(w, "| %s | %s | %d | %d | %s | %d | %d | %d | %d | %.0f | %.0f | %.0f | %.0f | %s |\n",
			r.Target, r.Scenario, r.QoS, r.Payload, si(r.Rate), r.Sent, r.Delivered, r.Lost, r.Duplicates,
			r.P50, r.P99, r.P999, r.Max, other)
		for _, e := range r.Errors {
			fmt.Fprintf(w, "\n> %s %s: %s\n", r.Target, r.Scenario, e)
		}
	}
}
