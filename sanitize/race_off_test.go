//go:build !race

package sanitize

// raceEnabled reports whether the race detector is on: it makes sync.Pool
// drop items at random, so that code reusing pooled values (regexp's
// machines) allocates now and then.
const raceEnabled = false
