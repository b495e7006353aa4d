//go:build race

package tokens

// Under the race detector (about 10× slower, and run by CI on 2 cores)
// TestCountMatchesDatasets compares every 16th text of the data sets with
// tiktoken-go (ours still counts them all), and TestBuildCost, whose
// numbers would mean nothing, is skipped.
const (
	datasetStride = 16
	raceEnabled   = true
)
