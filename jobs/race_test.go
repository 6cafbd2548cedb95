//go:build race

package jobs

// raceEnabled shrinks the tests whose cost is a hot loop the race detector
// slows tenfold.
const raceEnabled = true
