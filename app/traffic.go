package app

import "time"

// TrafficQuery selects the runs a traffic report compares: those of the
// last Since (0: since the split was set, or all when there is none).
type TrafficQuery struct {
	Program string        `json:"program"`
	Since   time.Duration `json:"since_ns,omitempty"`
}

// FeedbackRequest is a score for an execution (0..1 is usual; any finite
// number is taken) and a note.
type FeedbackRequest struct {
	Score *float64 `json:"score"`
	Note  string   `json:"note,omitempty"`
}
