package runs

// The run form's LM profile: the program's own (or the workspace's
// default) until another is chosen from the profiles the service lists.

import (
	"slices"

	tea "charm.land/bubbletea/v2"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui/page"
)

// lmKey cycles the run form's LM profile, in a field or not.
const lmKey = "ctrl+l"

type runProfilesMsg struct {
	profiles []app.LMProfile
	err      error
}

// lmChoice is the profile a run asks for: "" until one is chosen, which
// leaves it to the program (or the workspace's default).
type lmChoice struct {
	program  string // the program's own profile, "" for the default
	profiles []app.LMProfile
	at       int // index in profiles; -1: the program's (or the default)
	err      error
	loaded   bool
}

// Enter reads the profiles, the first time the form is shown.
func (f *runForm) Enter(e *page.Env) tea.Cmd {
	if f.lm.loaded {
		return nil
	}
	f.lm.loaded, f.lm.at, f.lm.program = true, -1, f.program.LM
	r, ctx := f.scr.runner, e.Ctx
	return e.Cmd(func() tea.Msg {
		if r == nil {
			return runProfilesMsg{}
		}
		ps, err := r.LMProfiles(ctx)
		return runProfilesMsg{profiles: ps, err: err}
	})
}

func (c *lmChoice) set(msg runProfilesMsg) { c.profiles, c.err = msg.profiles, msg.err }

// next moves to the next profile, and after the last back to the program's.
func (c *lmChoice) next() {
	if len(c.profiles) == 0 {
		return
	}
	c.at++
	if c.at >= len(c.profiles) {
		c.at = -1
	}
}

// chosen is the profile the run request names ("" leaves it to the program).
func (c *lmChoice) chosen() string {
	if c.at < 0 || c.at >= len(c.profiles) {
		return ""
	}
	return c.profiles[c.at].Name
}

func (c *lmChoice) render(s *themes.Styles) string {
	if c.err != nil {
		return s.Error.Render("profiles: " + c.err.Error())
	}
	var p *app.LMProfile
	label := ""
	if c.at >= 0 && c.at < len(c.profiles) {
		p = &c.profiles[c.at]
		label = p.Name
	} else {
		name := c.program
		i := slices.IndexFunc(c.profiles, func(p app.LMProfile) bool { return p.Name == name || name == "" && p.Default })
		if i >= 0 {
			p = &c.profiles[i]
		}
		switch {
		case c.program != "":
			label = c.program + " (the program's)"
		case p != nil:
			label = p.Name + " (the default)"
		default:
			label = "the default"
		}
	}
	out := "‹ " + label + " ›"
	if p != nil {
		out += s.Muted.Render("  " + p.Model)
		if p.KeyUnset != "" {
			out += "  " + s.Warning.Render(p.KeyUnset+" is not set")
		}
	}
	return out + s.Muted.Render("  "+lmKey+" next")
}
