//go:build race

package secureai

// raceEnabled reports a build with the race detector.
const raceEnabled = true
