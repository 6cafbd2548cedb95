package owner

import (
	"sync"

	"github.com/signet-dspy/signet/app"
)

// changeFeed tells the owner's subscribers that a program or a dataset
// changed (the job kernel's events cover jobs): whoever shows one reads it
// again. Its zero value is ready.
type changeFeed struct {
	mu   sync.Mutex
	subs map[chan app.Event]struct{}
}

// changeBuffer is how many changes a subscriber may be behind by. A change
// carries only a name, and a subscriber that far behind is reading the
// store anyway: past it a change is dropped rather than the writer waiting.
const changeBuffer = 256

func (f *changeFeed) subscribe() (<-chan app.Event, func()) {
	c := make(chan app.Event, changeBuffer)
	f.mu.Lock()
	if f.subs == nil {
		f.subs = map[chan app.Event]struct{}{}
	}
	f.subs[c] = struct{}{}
	f.mu.Unlock()
	return c, func() {
		f.mu.Lock()
		delete(f.subs, c)
		f.mu.Unlock()
	}
}

func (f *changeFeed) publish(ev app.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.subs {
		select {
		case c <- ev:
		default:
		}
	}
}

// programChanged tells subscribers that program name was created, saved,
// given a status, imported, promoted into or deleted.
func (o *Owner) programChanged(name string) {
	o.changes.publish(app.Event{Kind: app.EventProgram, Program: name})
}

// datasetChanged tells subscribers that dataset name, or an example of it,
// was imported, edited or deleted.
func (o *Owner) datasetChanged(name string) {
	o.changes.publish(app.Event{Kind: app.EventDataset, Dataset: name})
}
