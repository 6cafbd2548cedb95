package store

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/signet-dspy/signet/model"
)

// putExecution reads only execHead of the record it replaces: what it
// derives from it (index keys, rollup share) must equal what the whole
// record gives. A field the index keys or rollups start to use, and
// execHead does not decode, fails here.
func TestExecHeadKeepsWhatPutNeeds(t *testing.T) {
	x := &model.Execution{ID: model.NewID(), Program: "qa", Version: 3, LM: "fast", State: model.Completed, Attempts: 2,
		Inputs: map[string]any{"question": "q"}, Outputs: map[string]any{"answer": "a"},
		Usage: map[string]model.Usage{"m": {Calls: 1, PromptTokens: 10, CompletionTokens: 2}}, Cost: 0.25,
		EmbedCache: model.EmbedCache{Hits: 3, Misses: 1}, Batch: "b1",
		CreatedAt: time.Date(2026, 11, 30, 23, 59, 0, 0, time.UTC), FinishedAt: time.Date(2026, 12, 1, 0, 0, 1, 0, time.UTC)}
	raw, err := json.Marshal(x)
	if err != nil {
		t.Fatal(err)
	}
	var h execHead
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	got := h.execution(x.ID)
	if !reflect.DeepEqual(execIndexKeys(got), execIndexKeys(x)) {
		t.Errorf("index keys from the head %q, from the record %q", execIndexKeys(got), execIndexKeys(x))
	}
	share := func(e *model.Execution) rollupRecord {
		return rollupRecord{Executions: 1, CostNanos: costNanos(e.Cost), Usage: e.TotalUsage(), Cache: e.EmbedCache}
	}
	if share(got) != share(x) || !reflect.DeepEqual(rollupKey(got.Program, monthOf(got.CreatedAt)), rollupKey(x.Program, monthOf(x.CreatedAt))) {
		t.Errorf("rollup share from the head %+v, from the record %+v", share(got), share(x))
	}
}
