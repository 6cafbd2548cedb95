// Package users is the Users page: the people and services that reach the
// workspace with a token (docs/api.md "Users, tokens and credits"), their
// roles and credits, their tokens (never a token's value: only its ID,
// label and dates) and what the audit trail says they did. The workbench
// is the workspace's own local user, with an admin's rights: it can change
// credits and revoke tokens; users and tokens are made with the CLI
// (`signet user add`, `signet token create`), which shows a token's value
// once.
package users

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui/components"
	"github.com/signet-dspy/signet/tui/dialog"
	"github.com/signet-dspy/signet/tui/format"
	"github.com/signet-dspy/signet/tui/keys"
	"github.com/signet-dspy/signet/tui/layout"
	"github.com/signet-dspy/signet/tui/live"
	"github.com/signet-dspy/signet/tui/page"
)

// Users is the part of app.Service the page uses, only ever called from a
// tea.Cmd.
type Users interface {
	ListUsers(ctx context.Context) ([]*model.User, error)
	// User is a user with its tokens (never a value or a hash).
	User(ctx context.Context, name string) (*app.UserDetail, error)
	SetCredits(ctx context.Context, name, op string, usd float64) (*model.User, error)
	RevokeToken(ctx context.Context, id model.ID) (*app.TokenInfo, error)
	Audit(ctx context.Context, limit int) ([]*model.AuditRecord, error)
}

// auditShown is how many of the audit trail's newest records the page
// reads; the selected user's are shown from them.
const auditShown = 200

var userColumns = []components.Column{
	{Title: "NAME", Flex: 2, MinWidth: 8},
	{Title: "ROLE", Width: 11},
	{Title: "CREDITS", Width: 10, Align: components.AlignRight},
	{Title: "CREATED", Width: 10, Align: components.AlignRight},
}

var tokenColumns = []components.Column{
	{Title: "TOKEN", Width: 36},
	{Title: "LABEL", Flex: 2, MinWidth: 6},
	{Title: "CREATED", Width: 10, Align: components.AlignRight},
	{Title: "STATE", Width: 16},
}

// Page lists the users; the lower half is the selected user's tokens and
// audit records. enter moves the cursor to the tokens, esc back.
type Page struct {
	styles *themes.Styles
	keys   keys.Map
	clock  page.Clock
	repo   Users

	users  components.List
	tokens components.List
	list   []*model.User
	detail *app.UserDetail // the selected user's, once read
	audit  []*model.AuditRecord
	err    error
	loaded bool
	onToks bool // the cursor is on the tokens

	width, height int
}

// New is the page over repo (nil: no service configured).
func New(e *page.Env, repo Users) Page {
	st := components.ThemeStyles(e.Styles)
	p := Page{styles: e.Styles, keys: e.Keys, clock: e.Clock, repo: repo,
		users: components.NewList(userColumns, 0, st), tokens: components.NewList(tokenColumns, 1, st)}
	p.tokens.HideCursor()
	return p
}

// Messages of the page's commands.
type (
	loadedMsg struct {
		users []*model.User
		audit []*model.AuditRecord
		err   error
	}
	detailMsg struct {
		detail *app.UserDetail
		err    error
	}
	creditsMsg struct {
		user *model.User
		err  error
	}
	revokeAskMsg struct{ id model.ID }
	revokedMsg   struct {
		token *app.TokenInfo
		err   error
	}
)

func (p *Page) SetSize(w, h int) {
	p.width, p.height = w, h
	top, bottom := p.split()
	p.users.SetHeight(top)
	p.tokens.SetHeight(bottom)
}

// split is the heights of the users list and of the tokens list under the
// header; the audit lines take what the tokens leave.
func (p *Page) split() (users, tokens int) {
	body := max(p.height-1, 2)
	// A header, a line per user and the list's count line; at most half.
	users = min(max(len(p.list)+2, 4), max(body/2, 4))
	tokens = min(max(p.tokenRows()+2, 4), max((body-users)/2, 4))
	return users, tokens
}

func (p *Page) tokenRows() int {
	if p.detail == nil {
		return 0
	}
	return len(p.detail.Tokens)
}

// resize gives the lists their heights as the rows they hold change.
func (p *Page) resize() { p.SetSize(p.width, p.height) }

func (p *Page) Typing() bool { return false }

// Enter reads the users again: credits move with every execution.
func (p *Page) Enter(e *page.Env) tea.Cmd { return p.load(e) }

func (p *Page) load(e *page.Env) tea.Cmd {
	repo, ctx := p.repo, e.Ctx
	if repo == nil {
		return nil
	}
	return e.Cmd(func() tea.Msg {
		us, err := repo.ListUsers(ctx)
		if err != nil {
			return loadedMsg{err: err}
		}
		au, err := repo.Audit(ctx, auditShown)
		return loadedMsg{users: us, audit: au, err: err}
	})
}

func (p *Page) loadDetail(e *page.Env) tea.Cmd {
	u := p.selected()
	if u == nil || p.repo == nil {
		return nil
	}
	repo, ctx, name := p.repo, e.Ctx, u.Name
	return e.Cmd(func() tea.Msg {
		d, err := repo.User(ctx, name)
		return detailMsg{detail: d, err: err}
	})
}

// Live reads the users again when an execution charged to one of them
// ends: its cost came off their credits.
func (p *Page) Live(e *page.Env, msg live.Msg) tea.Cmd {
	if !p.loaded {
		return nil
	}
	for _, x := range msg.Execs {
		if x.User != "" && x.State.Terminal() {
			return p.load(e)
		}
	}
	return nil
}

func (p *Page) Update(e *page.Env, msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case loadedMsg:
		p.loaded, p.err = true, msg.err
		if msg.err != nil {
			return nil
		}
		p.setUsers(msg.users)
		p.audit = msg.audit
		return p.loadDetail(e)
	case detailMsg:
		if msg.err != nil {
			return page.NoticeErr(msg.err)
		}
		if u := p.selected(); u != nil && u.Name == msg.detail.Name {
			p.setDetail(msg.detail)
		}
	case creditsMsg:
		if msg.err != nil {
			return page.NoticeErr(msg.err)
		}
		return tea.Batch(page.Notice(fmt.Sprintf("%s now has %s of credits", msg.user.Name, format.USD(msg.user.Credits))), p.load(e))
	case revokeAskMsg:
		repo, ctx, id := p.repo, e.Ctx, msg.id
		return e.Cmd(func() tea.Msg {
			t, err := repo.RevokeToken(ctx, id)
			return revokedMsg{token: t, err: err}
		})
	case revokedMsg:
		if msg.err != nil {
			return page.NoticeErr(msg.err)
		}
		return tea.Batch(page.Notice(fmt.Sprintf("token %s of %s revoked", msg.token.ID, msg.token.User)), p.load(e))
	}
	return nil
}

func (p *Page) setUsers(us []*model.User) {
	sel := ""
	if u := p.selected(); u != nil {
		sel = u.Name
	}
	p.list = us
	rows := make([]components.Row, len(us))
	for i, u := range us {
		rows[i] = components.Row{u.Name, string(u.Role), format.USD(u.Credits), format.Ago(p.clock.Now(), u.CreatedAt)}
	}
	p.users.SetRows(rows)
	p.resize()
	for i, u := range us {
		if u.Name == sel {
			p.users.SetCursor(i)
		}
	}
	if u := p.selected(); u == nil || p.detail == nil || p.detail.Name != u.Name {
		p.setDetail(nil)
	}
}

// tokenCount is "active of all".
func tokenCount(ts []app.TokenInfo) string {
	active := 0
	for _, t := range ts {
		if t.RevokedAt.IsZero() {
			active++
		}
	}
	return fmt.Sprintf("%d of %d", active, len(ts))
}

func (p *Page) setDetail(d *app.UserDetail) {
	p.detail = d
	var rows []components.Row
	if d != nil {
		for _, t := range d.Tokens {
			state := "active"
			if !t.RevokedAt.IsZero() {
				state = "revoked " + format.Ago(p.clock.Now(), t.RevokedAt)
			}
			rows = append(rows, components.Row{t.ID.String(), format.Dash(t.Name), format.Ago(p.clock.Now(), t.CreatedAt), state})
		}
	}
	p.tokens.SetRows(rows)
	p.resize()
	if len(rows) == 0 {
		p.focusTokens(false)
	}
}

// focusTokens moves the keys to the tokens (or back to the users): the
// list they move shows its cursor.
func (p *Page) focusTokens(on bool) {
	p.onToks = on
	if on {
		p.users.HideCursor()
		p.tokens.ShowCursor()
	} else {
		p.users.ShowCursor()
		p.tokens.HideCursor()
	}
}

func (p *Page) selected() *model.User {
	if row, ok := p.users.Selected(); ok && row < len(p.list) {
		return p.list[row]
	}
	return nil
}

func (p *Page) selectedToken() *app.TokenInfo {
	if p.detail == nil {
		return nil
	}
	if row, ok := p.tokens.Selected(); ok && row < len(p.detail.Tokens) {
		return &p.detail.Tokens[row]
	}
	return nil
}

func (p *Page) Key(e *page.Env, msg tea.KeyPressMsg) tea.Cmd {
	km := p.keys
	switch {
	case key.Matches(msg, km.Open):
		if p.detail != nil && len(p.detail.Tokens) > 0 {
			p.focusTokens(true)
		}
	case key.Matches(msg, km.Back):
		p.focusTokens(false)
	case key.Matches(msg, km.Credits):
		if u := p.selected(); u != nil {
			e.Push(newCreditsForm(p.styles, km, p.repo, u))
		}
	case key.Matches(msg, km.Cancel):
		t := p.selectedToken()
		switch {
		case !p.onToks || t == nil:
			return page.Notice("press " + km.Open.Help().Key + " to choose one of the user's tokens first")
		case !t.RevokedAt.IsZero():
			return page.Notice("token " + t.ID.String() + " is revoked already")
		}
		e.Push(p.revokeDialog(t))
	case key.Matches(msg, km.Refresh):
		return p.load(e)
	case p.onToks:
		p.tokens.Navigate(msg, km)
	default:
		before := p.selected()
		p.users.Navigate(msg, km)
		if after := p.selected(); after != before {
			p.setDetail(nil)
			return p.loadDetail(e)
		}
	}
	return nil
}

func (p *Page) revokeDialog(t *app.TokenInfo) *dialog.Confirm {
	s := p.styles
	yes := dialog.Choice{Keys: key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "revoke")), Result: revokeAskMsg{id: t.ID}}
	no := dialog.Choice{Keys: key.NewBinding(key.WithKeys(append([]string{"n"}, p.keys.Back.Keys()...)...), key.WithHelp(p.keys.Back.Help().Key, "cancel"))}
	line := s.Warning.Render(fmt.Sprintf("Revoke token %s of %s? Requests with it get 401 from then on.", t.ID, t.User)) +
		s.Muted.Render("  y revoke · esc cancel")
	return dialog.NewConfirm(s, dialog.BottomLine, []string{line}, yes, no)
}

func (p *Page) Mouse(e *page.Env, msg tea.MouseMsg, x, y int) tea.Cmd {
	top, _ := p.split()
	if y-1 < top {
		before := p.selected()
		p.users.Mouse(msg, y-1)
		if p.selected() != before {
			p.setDetail(nil)
			return p.loadDetail(e)
		}
		return nil
	}
	p.tokens.Mouse(msg, y-1-top-1)
	return nil
}

func (p *Page) Bindings() []key.Binding {
	km := p.keys
	if len(p.list) == 0 {
		return []key.Binding{keys.As(km.Refresh, "reload")}
	}
	out := []key.Binding{keys.As(km.Credits, "change credits")}
	if p.onToks {
		out = append(out, keys.As(km.Cancel, "revoke token"), keys.As(km.Back, "back to users"))
	} else if p.detail != nil && len(p.detail.Tokens) > 0 {
		out = append(out, keys.As(km.Open, "choose a token"))
	}
	return append(out, keys.As(km.Refresh, "reload"), km.Up, km.Down)
}

func (p *Page) Render() string {
	s := p.styles
	head := layout.Fit(p.header(), p.width, 1) + "\n"
	body := p.height - 1
	switch {
	case p.repo == nil:
		return head + layout.Fit(s.Muted.Render("No connection to the workspace's users."), p.width, body)
	case p.err != nil:
		return head + layout.Fit(s.Error.Render("Reading the users: "+p.err.Error()), p.width, body)
	case !p.loaded:
		return head + layout.Fit(s.Muted.Render("Reading the users…"), p.width, body)
	case len(p.list) == 0:
		return head + layout.Fit(s.Muted.Render("No users yet: only the workspace's own local user reaches it.\n\n"+
			"Add one:      signet user add NAME --role ml_user --credits 5\n"+
			"a token:      signet token create NAME\n"+
			"then serve:   signet serve --http 127.0.0.1:8080"), p.width, body)
	}
	top, toks := p.split()
	out := head + p.users.Render(p.width, top) + "\n"
	u := p.selected()
	title := "Tokens of " + u.Name
	if p.detail != nil {
		title += s.Muted.Render(" " + tokenCount(p.detail.Tokens) + " active · a value is shown once, when made: never here")
	}
	out += layout.Fit(s.Subtitle.Render(title), p.width, 1) + "\n"
	if p.detail == nil {
		out += layout.Fit(s.Muted.Render("Reading…"), p.width, toks) + "\n"
	} else if len(p.detail.Tokens) == 0 {
		out += layout.Fit(s.Muted.Render("None: `signet token create "+u.Name+"` makes one."), p.width, toks) + "\n"
	} else {
		out += p.tokens.Render(p.width, toks) + "\n"
	}
	rest := body - top - 1 - toks - 1
	return out + layout.Fit(p.renderAudit(u.Name, rest), p.width, rest+1)
}

// renderAudit is the newest audit records by the user, about it or about
// its tokens.
func (p *Page) renderAudit(name string, n int) string {
	s := p.styles
	about := map[string]bool{"user:" + name: true}
	if p.detail != nil {
		for _, t := range p.detail.Tokens {
			about["token:"+t.ID.String()] = true
		}
	}
	lines := []string{s.Subtitle.Render("Audit trail of " + name)}
	for _, r := range p.audit {
		if len(lines) > n {
			break
		}
		if r.Actor != name && !about[r.Target] {
			continue
		}
		outcome := r.Outcome
		if r.Outcome != model.OutcomeOK {
			outcome = s.Error.Render(outcome)
		}
		lines = append(lines, fmt.Sprintf("%s  %-8s %-14s %-22s %s %s", r.Time.In(p.clock.Location).Format("01-02 15:04:05"),
			r.Actor, r.Action, r.Target, outcome, s.Muted.Render(format.Line(r.Detail))))
	}
	if len(lines) == 1 {
		lines = append(lines, s.Muted.Render("Nothing recorded."))
	}
	return strings.Join(lines, "\n")
}

func (p *Page) header() string {
	s := p.styles
	info := ""
	if p.loaded && p.err == nil {
		credits := 0.0
		for _, u := range p.list {
			credits += u.Credits
		}
		info = "  " + format.Count(len(p.list), "user") + " · " + format.USD(credits) + " of credits"
		if p.onToks {
			info += " · " + s.Accent.Render("choosing a token")
		}
	}
	return s.Title.Render("Users") + s.Muted.Render(info)
}

// Restyle picks up a theme switched in place.
func (p *Page) Restyle() {
	st := components.ThemeStyles(p.styles)
	p.users.SetStyles(st)
	p.tokens.SetStyles(st)
}

// Whole is the selected row with every cell whole.
func (p *Page) Whole() (string, []page.Section, bool) {
	if p.onToks {
		t, c, ok := p.tokens.SelectedCells()
		return "Token", page.Cells(t, c), ok
	}
	t, c, ok := p.users.SelectedCells()
	return "User", page.Cells(t, c), ok
}

// creditsForm changes a user's credits: "+5" adds, "-2.50" takes, "=10"
// or "10" sets (US dollars).
type creditsForm struct {
	page.Defaults
	styles  *themes.Styles
	keys    keys.Map
	repo    Users
	user    string
	fields  dialog.Fields
	running bool

	width, height int
}

func newCreditsForm(s *themes.Styles, km keys.Map, repo Users, u *model.User) *creditsForm {
	return &creditsForm{styles: s, keys: km, repo: repo, user: u.Name, fields: dialog.Fields{
		Title:  "Credits of " + u.Name + ": " + format.USD(u.Credits),
		Fields: []dialog.Field{{Label: "change", Help: "+5 adds, -2.50 takes (never below 0), =10 or 10 sets; US dollars"}},
		Note:   "Each execution the user creates is debited its cost; at 0 it is refused (402) before any LM call.",
		Submit: "apply",
	}}
}

// ParseCredits reads a credits change: an operator (+, -, =; none is =)
// and an amount of US dollars.
func ParseCredits(s string) (op string, usd float64, err error) {
	s = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(s), "$"))
	op = "="
	if s != "" && strings.ContainsRune("+-=", rune(s[0])) {
		op, s = s[:1], strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(s[1:]), "$"))
	}
	usd, err = strconv.ParseFloat(s, 64)
	if err != nil || usd < 0 || math.IsNaN(usd) || math.IsInf(usd, 0) {
		return "", 0, fmt.Errorf("%q: want +N, -N or =N (US dollars, N ≥ 0)", s)
	}
	return op, usd, nil
}

func (f *creditsForm) Typing() bool     { return true }
func (f *creditsForm) SetSize(w, h int) { f.width, f.height = w, h }
func (f *creditsForm) Render(func() string) string {
	return f.fields.Render(f.styles, f.width, f.height)
}

func (f *creditsForm) Bindings() []key.Binding {
	return []key.Binding{keys.As(f.keys.Save, "apply"), keys.As(f.keys.Back, "cancel")}
}

func (f *creditsForm) Key(e *page.Env, msg tea.KeyPressMsg) tea.Cmd {
	if f.running {
		return nil
	}
	switch f.fields.Key(f.keys, msg) {
	case dialog.FieldsCancel:
		e.Close(nil)
	case dialog.FieldsSubmit:
		op, usd, err := ParseCredits(f.fields.Value("change"))
		if err != nil {
			f.fields.Err = err.Error()
			return nil
		}
		f.running, f.fields.Err = true, ""
		repo, ctx, name := f.repo, e.Ctx, f.user
		return e.Cmd(func() tea.Msg {
			u, err := repo.SetCredits(ctx, name, op, usd)
			return creditsMsg{user: u, err: err}
		})
	}
	return nil
}

func (f *creditsForm) Update(e *page.Env, msg tea.Msg) tea.Cmd {
	if m, ok := msg.(creditsMsg); ok {
		f.running = false
		if m.err != nil {
			f.fields.Err = m.err.Error()
			return nil
		}
		e.Close(m)
	}
	return nil
}
