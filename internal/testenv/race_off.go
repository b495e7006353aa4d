//go:build !race

package testenv

// Race reports a build with the race detector, which makes code about 10×
// slower and sync.Pool drop items at random: allocation counts and
// timings mean nothing under it.
const Race = false
