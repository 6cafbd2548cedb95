package workers

// What the external tests (package workers_test) read of the page.

func (p *Page) SelectedID() int { return p.selectedID() }

// AskTick is the timer's message that asks for the pool again.
func (p *Page) AskTick() any { return askTickMsg{gen: p.askGen} }
