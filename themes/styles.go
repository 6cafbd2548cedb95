package themes

import (
	"charm.land/lipgloss/v2"
)

// Styles are the ready Lip Gloss styles of one palette. Build them with New
// and rebuild them whenever the palette changes (a theme switch, or the
// terminal reporting its background under "theme: auto"); a Styles value is
// read-only once built and safe to share between goroutines.
type Styles struct {
	Palette Palette // the palette these styles were built from

	// Base paints the whole screen: Text on Background. The root view
	// renders through it so that a light theme stays readable in a dark
	// terminal and vice versa.
	Base lipgloss.Style

	Title    lipgloss.Style // page and pane titles
	Subtitle lipgloss.Style // secondary headings
	Muted    lipgloss.Style // secondary text
	Accent   lipgloss.Style // emphasised text, the active tab
	TabIdle  lipgloss.Style // inactive tabs and page names

	Header        lipgloss.Style // table header
	Row           lipgloss.Style // a table or list row
	RowSelected   lipgloss.Style // the row under the cursor
	RowMuted      lipgloss.Style // a disabled, archived or filtered-out row
	Match         lipgloss.Style // fuzzy-matched characters in a normal row
	MatchSelected lipgloss.Style // fuzzy-matched characters in the selected row

	StatusBar   lipgloss.Style // the status bar line
	StatusKey   lipgloss.Style // a status bar label ("pool")
	StatusValue lipgloss.Style // a status bar value ("4 ready")

	HelpKey  lipgloss.Style // a key in help ("ctrl+p")
	HelpDesc lipgloss.Style // its description
	HelpSep  lipgloss.Style // the separator between help items

	Pane        lipgloss.Style // a bordered pane
	PaneFocused lipgloss.Style // the pane with focus
	Dialog      lipgloss.Style // a modal dialog box

	Error   lipgloss.Style
	Warning lipgloss.Style
	Success lipgloss.Style
	Info    lipgloss.Style

	DiffAdd lipgloss.Style // an added line or field in a version diff
	DiffDel lipgloss.Style // a removed line or field

	badges       map[string]lipgloss.Style
	unknownBadge lipgloss.Style
}

// New builds the styles of a palette. Colours that do not parse (a palette
// not from Get, Auto or Load, and not validated) render as no colour.
func New(p Palette) *Styles {
	c := lipgloss.Color
	text := lipgloss.NewStyle().Foreground(c(p.Text))
	badge := lipgloss.NewStyle().Foreground(c(p.TextInverse)).Bold(true).Padding(0, 1)
	pane := lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).BorderForeground(c(p.Border))

	s := &Styles{
		Palette: p,
		Base:    text.Background(c(p.Background)),

		Title:    lipgloss.NewStyle().Foreground(c(p.Accent)).Bold(true),
		Subtitle: lipgloss.NewStyle().Foreground(c(p.AccentMuted)).Bold(true),
		Muted:    lipgloss.NewStyle().Foreground(c(p.TextMuted)),
		Accent:   lipgloss.NewStyle().Foreground(c(p.Accent)),
		TabIdle:  lipgloss.NewStyle().Foreground(c(p.AccentMuted)),

		Header:        lipgloss.NewStyle().Foreground(c(p.Text)).Background(c(p.Surface)).Bold(true),
		Row:           text,
		RowSelected:   text.Background(c(p.Selection)).Bold(true),
		RowMuted:      lipgloss.NewStyle().Foreground(c(p.TextMuted)).Faint(true),
		Match:         lipgloss.NewStyle().Foreground(c(p.Match)).Bold(true).Underline(true),
		MatchSelected: lipgloss.NewStyle().Foreground(c(p.Match)).Background(c(p.Selection)).Bold(true).Underline(true),

		StatusBar:   lipgloss.NewStyle().Foreground(c(p.Text)).Background(c(p.Surface)),
		StatusKey:   lipgloss.NewStyle().Foreground(c(p.TextInverse)).Background(c(p.Accent)).Bold(true).Padding(0, 1),
		StatusValue: lipgloss.NewStyle().Foreground(c(p.Text)).Background(c(p.Surface)).Padding(0, 1),

		HelpKey:  lipgloss.NewStyle().Foreground(c(p.Accent)).Bold(true),
		HelpDesc: lipgloss.NewStyle().Foreground(c(p.TextMuted)),
		HelpSep:  lipgloss.NewStyle().Foreground(c(p.Border)),

		Pane:        pane,
		PaneFocused: pane.BorderForeground(c(p.BorderFocus)),
		Dialog:      pane.BorderForeground(c(p.BorderFocus)).Background(c(p.Surface)).Padding(0, 1),

		Error:   lipgloss.NewStyle().Foreground(c(p.Error)).Bold(true),
		Warning: lipgloss.NewStyle().Foreground(c(p.Warning)),
		Success: lipgloss.NewStyle().Foreground(c(p.Success)),
		Info:    lipgloss.NewStyle().Foreground(c(p.Info)),

		DiffAdd: lipgloss.NewStyle().Foreground(c(p.Success)),
		DiffDel: lipgloss.NewStyle().Foreground(c(p.Error)),

		badges: map[string]lipgloss.Style{
			"pending":   badge.Background(c(p.Pending)),
			"running":   badge.Background(c(p.Running)),
			"completed": badge.Background(c(p.Completed)),
			"failed":    badge.Background(c(p.Failed)),
			"cancelled": badge.Background(c(p.Cancelled)),
		},
		unknownBadge: lipgloss.NewStyle().Foreground(c(p.Text)).Background(c(p.Surface)).Padding(0, 1),
	}
	return s
}

// StateBadge is the badge style of a run state, by its model.RunState value
// ("pending", "running", "completed", "failed", "cancelled"); any other
// state gets a neutral badge.
func (s *Styles) StateBadge(state string) lipgloss.Style {
	if b, ok := s.badges[state]; ok {
		return b
	}
	return s.unknownBadge
}

// StateColor is the foreground style of a run state, for text rather than a
// badge (a state column in a table).
func (s *Styles) StateColor(state string) lipgloss.Style {
	b, ok := s.badges[state]
	if !ok {
		return s.Muted
	}
	return lipgloss.NewStyle().Foreground(b.GetBackground())
}
