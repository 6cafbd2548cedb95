package workers

// What the external tests (package workers_test) read of the page.

func (p *Page) SelectedID() int { return p.selectedID() }
