package bench

import "fmt"

// Run runs the scenario c names against the broker at c.Addr and returns
// what it measured. Problems the broker caused (disconnects, lost QoS 1/2
// messages, stray acknowledgements) are in the Result; the error is for a
// run that could not start.
// The admin scenario returns one Result per API, retained one per
// measurement (exact, wildcard), the others one.
func Run(c Config) ([]Result, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	label := c.Scenario
	c.Scenario, c.Protocol = c.baseScenario()
	if c.Protocol == Protocol5 {
		label = c.Scenario + v5Suffix // its own rows in a comparison
	}
	var r Result
	var err error
	switch c.Scenario {
	case "fanin", "fanout", "pairs", "latency":
		r, err = runFlow(&c)
	case "connections":
		r, err = runConnections(&c)
	case "admin":
		return runAdmin(&c)
	case "retained":
		return runRetained(&c)
	case "fleet":
		r, err = runFleet(&c)
	case "curve-retained", "curve-subscriptions", "curve-connections", "curve-fanout":
		r, err = runCurve(&c)
	default:
		return nil, fmt.Errorf("bench: unknown scenario %q", c.Scenario)
	}
	if err != nil {
		return nil, err
	}
	r.Scenario = label
	return []Result{r}, nil
}
