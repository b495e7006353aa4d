//go:build !race

package tokens

// Without the race detector TestCountMatchesDatasets compares every text of
// the data sets with tiktoken-go.
const (
	datasetStride = 1
	raceEnabled   = false
)
