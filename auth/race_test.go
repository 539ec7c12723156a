//go:build race

package auth

// raceEnabled is true under the race detector, which makes bcrypt at cost 10
// take seconds; tests skip such hashes then.
const raceEnabled = true
