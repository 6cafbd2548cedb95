//go:build race

package engine

// raceEnabled shrinks the tests whose cost is a hot loop the race detector
// slows tenfold.
const raceEnabled = true
