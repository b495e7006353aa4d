//go:build race

package audit_test

// lossEvents is the size of the loss test. The race detector slows every
// Write about tenfold, so the test runs a tenth of the events under it.
const lossEvents = 100_000
