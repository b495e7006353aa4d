//go:build !race

package audit_test

// lossEvents is the size of the loss test: the million events.
const lossEvents = 1_000_000
