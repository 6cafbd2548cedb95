// Package workers is the Workers page: the worker pool as the owner's
// event stream reports it, and its controls (restart, recycle, start).
package workers

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui/components"
	"github.com/signet-dspy/signet/tui/dialog"
	"github.com/signet-dspy/signet/tui/format"
	"github.com/signet-dspy/signet/tui/keys"
	"github.com/signet-dspy/signet/tui/layout"
	"github.com/signet-dspy/signet/tui/live"
	"github.com/signet-dspy/signet/tui/page"
)

// Pool controls the owner's worker pool: app.Service's methods, only ever
// called from a tea.Cmd. The pool they answer with is not applied: the
// event stream brings it, with whatever else changed.
type Pool interface {
	// RestartWorker kills worker id (its running requests fail and are
	// retried) and returns once its replacement is ready; id 0 restarts
	// every worker, one after the other.
	RestartWorker(ctx context.Context, id int) (*app.PoolStatus, error)
	// RecycleWorker replaces worker id gracefully (it finishes what it runs
	// first); id 0 recycles every worker, one after the other.
	RecycleWorker(ctx context.Context, id int) (*app.PoolStatus, error)
	// StartPool starts the worker pool (and the engine) if it does not run.
	StartPool(ctx context.Context) (*app.PoolStatus, error)
	// Pool is the pool with what the owner counts only when asked: the LM
	// endpoints' calls, errors and tokens, which move with every call and
	// which its pool events do not carry.
	Pool(ctx context.Context) (*app.PoolStatus, error)
}

// poolOp is a pool action: what it is called and what the Pool does.
type poolOp int

const (
	opRestart poolOp = iota + 1
	opRecycle
	opStart
)

func (o poolOp) verb() string {
	switch o {
	case opRestart:
		return "restart"
	case opRecycle:
		return "recycle"
	}
	return "start"
}

// poolActionMsg is the end of a pool action.
type poolActionMsg struct {
	op  poolOp
	id  int
	err error
}

// poolAskMsg is the confirmation's answer: do op on worker id (0: every
// worker).
type poolAskMsg struct {
	op poolOp
	id int
}

var workerColumns = []components.Column{
	{Title: "ID", Width: 3, Align: components.AlignRight},
	{Title: "STATE", Width: components.StateColumn},
	{Title: "PID", Width: 8, Align: components.AlignRight},
	{Title: "UPTIME", Width: 8, Align: components.AlignRight},
	{Title: "SERVED", Width: 7, Align: components.AlignRight},
	{Title: "RESTARTS", Width: 8, Align: components.AlignRight},
	{Title: "CURRENT", Flex: 2, MinWidth: 8},
	{Title: "LAST ERROR", Flex: 3, MinWidth: 10},
}

// workerBadge maps a worker state to the run state whose colour it shares.
var workerBadge = map[string]string{
	"ready": "completed", "busy": "running", "starting": "pending", "restarting": "pending",
	"draining": "pending", "failed": "failed", "stopped": "cancelled",
}

// Page is the worker table, updated live from the pool events.
type Page struct {
	styles *themes.Styles
	keys   keys.Map
	clock  page.Clock
	ctl    Pool
	live   bool // an event stream is configured

	list    components.List
	pool    *app.PoolStatus
	poolAt  time.Time // when pool arrived: its uptimes are as of then
	conn    *live.Conn
	running string // the action under way, for the header; "" = none
	// askGen is the generation of the asking for the pool (askPool): a
	// step of an older one (the page was left since) ends it.
	askGen int
	askErr error           // the last asking's error, for the header
	asked  *app.PoolStatus // the last asking's answer
	beyond beyond          // the LM endpoints, the NATS queue and the pools serving it

	// ticking says the timer that redraws the uptimes runs.
	ticking bool
	width   int
	// height is the page's; the list gets what the header and the action
	// line leave.
	height int
}

// workersTick is how often the uptimes are redrawn.
const workersTick = time.Second

// New is the page over the pool control ctl; live says an event stream is configured.
func New(e *page.Env, ctl Pool, live bool) Page {
	p := Page{styles: e.Styles, keys: e.Keys, clock: e.Clock, ctl: ctl, live: live,
		list: components.NewList(workerColumns, 1, components.ThemeStyles(e.Styles))}
	p.beyond = newBeyond(&p)
	return p
}

func (p *Page) SetSize(w, h int) {
	p.width, p.height = w, h
	p.list.SetHeight(p.listHeight())
}

// listHeight is the page minus the header and the action line, and what
// is shown beyond the local pool.
func (p *Page) listHeight() int {
	h, _ := p.layoutList()
	return h
}

// layoutList is the list's height and the lines below it.
func (p *Page) layoutList() (int, []string) {
	avail := max(p.height-2, 1)
	if p.pool == nil || live.PoolIdle(p.pool) {
		return avail, nil
	}
	h, below := p.layoutBeyond(avail, len(p.pool.Pool)+2) // its header, rows and footer
	return max(h, 1), below
}

func (p *Page) Typing() bool { return false }

// Enter asks for the pool now and every askEvery while the page is shown.
func (p *Page) Enter(e *page.Env) tea.Cmd {
	if p.ctl == nil || !p.live {
		return nil
	}
	p.askGen++
	return p.askPool(e, p.askGen)
}

// Leave stops asking for the pool.
func (p *Page) Leave() { p.askGen++ }

// askEvery is how often the page asks for the pool while shown.
const askEvery = 2 * time.Second

type (
	// poolAskedMsg is the owner's answer to askPool.
	poolAskedMsg struct {
		gen  int
		pool *app.PoolStatus
		err  error
	}
	// askTickMsg asks again.
	askTickMsg struct{ gen int }
)

func (p *Page) askPool(e *page.Env, gen int) tea.Cmd {
	ctl, ctx := p.ctl, e.Ctx
	return e.Cmd(func() tea.Msg {
		ps, err := ctl.Pool(ctx)
		return poolAskedMsg{gen: gen, pool: ps, err: err}
	})
}

// carryOver is ps (a pool event's) with what the owner counts only when
// asked taken from the last answer, asked, where ps lacks it: it stays
// until the next answer.
func carryOver(ps, asked *app.PoolStatus) *app.PoolStatus {
	if !hasBeyond(asked) {
		return ps
	}
	c := *ps
	if c.LMEndpoints == nil {
		c.LMEndpoints = asked.LMEndpoints
	}
	if c.NATS == nil {
		c.NATS = asked.NATS
	}
	if c.Remote == nil {
		c.Remote = asked.Remote
	}
	return &c
}

// Live follows the pool.
func (p *Page) Live(e *page.Env, msg live.Msg) tea.Cmd {
	if msg.Conn != nil {
		p.conn = msg.Conn
	}
	if msg.Pool != nil {
		p.poolAt = msg.PoolAt
		p.setPool(carryOver(msg.Pool, p.asked))
	} else if p.pool != nil {
		p.setPool(p.pool) // uptimes move on
	}
	// The owner reports the pool when it changes, not as uptimes grow.
	if p.pool != nil && !p.ticking {
		p.ticking = true
		return p.nextTick(e)
	}
	return nil
}

func (p *Page) Update(e *page.Env, msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case workersTickMsg:
		if p.pool != nil {
			p.setPool(p.pool)
		}
		return p.nextTick(e)
	case poolAskedMsg:
		if msg.gen != p.askGen {
			return nil // left, or entered again, since
		}
		p.askErr = msg.err
		if msg.err == nil && msg.pool != nil {
			p.asked, p.poolAt = msg.pool, p.clock.Now()
			p.setPool(msg.pool)
		}
		return e.After(askEvery, func(time.Time) tea.Msg { return askTickMsg{gen: msg.gen} })
	case askTickMsg:
		// Asking again after a refusal is refused again, and each refusal
		// is audited: the page asks again when it is shown again.
		if msg.gen != p.askGen || errors.Is(p.askErr, app.ErrForbidden) {
			return nil
		}
		return p.askPool(e, msg.gen)
	case poolAskMsg:
		return p.act(e, msg.op, msg.id)
	case poolActionMsg:
		p.running = ""
		if msg.err != nil {
			return page.NoticeErr(fmt.Errorf("%s %s: %w", msg.op.verb(), workerName(msg.id), msg.err))
		}
		if msg.op == opStart {
			return page.Notice("worker pool started")
		}
		return page.Notice(fmt.Sprintf("%s: %sed", workerName(msg.id), strings.TrimSuffix(msg.op.verb(), "e")))
	}
	return nil
}

// workersTickMsg redraws the uptimes.
type workersTickMsg struct{}

func (p *Page) nextTick(e *page.Env) tea.Cmd {
	return e.After(workersTick, func(time.Time) tea.Msg { return workersTickMsg{} })
}

func workerName(id int) string {
	if id == 0 {
		return "every worker"
	}
	return "worker " + strconv.Itoa(id)
}

func (p *Page) setPool(ps *app.PoolStatus) {
	sel := 0
	if row, ok := p.list.Selected(); ok && p.pool != nil && row < len(p.pool.Pool) {
		sel = p.pool.Pool[row].ID
	}
	p.pool = ps
	rows := make([]components.Row, len(ps.Pool))
	for i, w := range ps.Pool {
		rows[i] = p.row(w)
	}
	p.list.SetRows(rows)
	p.setBeyond(ps)
	p.list.SetHeight(p.listHeight())
	for i, w := range ps.Pool {
		if w.ID == sel {
			p.list.SetCursor(i)
		}
	}
}

func (p *Page) row(w app.Worker) components.Row {
	pid, up := "-", "-"
	if w.PID > 0 {
		pid = strconv.Itoa(w.PID)
		up = fmtUptime(time.Duration(w.Uptime*float64(time.Second)) + p.clock.Now().Sub(p.poolAt))
	}
	cur := w.Current
	if cur == "" && w.Inflight > 0 {
		cur = fmt.Sprintf("%d in flight", w.Inflight)
	} else if w.Inflight > 1 {
		cur += fmt.Sprintf(" (+%d)", w.Inflight-1)
	}
	return components.Row{strconv.Itoa(w.ID), w.State, pid, up, strconv.Itoa(w.Served), strconv.Itoa(w.Restarts), cur, oneLine(w.LastError)}
}

func oneLine(s string) string {
	if line, _, ok := strings.Cut(s, "\n"); ok {
		return line
	}
	return s
}

func fmtUptime(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%02dh", int(d.Hours())/24, int(d.Hours())%24)
}

func (p *Page) selectedID() int {
	if row, ok := p.list.Selected(); ok && p.pool != nil && row < len(p.pool.Pool) {
		return p.pool.Pool[row].ID
	}
	return 0
}

func (p *Page) Key(e *page.Env, msg tea.KeyPressMsg) tea.Cmd {
	km := p.keys
	switch {
	case key.Matches(msg, km.Restart), key.Matches(msg, km.Recycle):
		if p.running != "" {
			return page.Notice("wait: " + p.running)
		}
		if p.pool == nil || live.PoolIdle(p.pool) {
			return page.Notice("the worker pool is not started")
		}
		op := opRestart
		if key.Matches(msg, km.Recycle) {
			op = opRecycle
		}
		e.Push(p.askDialog(op))
	case key.Matches(msg, km.Run):
		if p.pool != nil && live.PoolIdle(p.pool) && p.running == "" {
			return p.act(e, opStart, 0)
		}
	default:
		p.list.Navigate(msg, km)
	}
	return nil
}

// askDialog asks before op, on the page's last line: this worker (y),
// every worker (a), or neither.
func (p *Page) askDialog(op poolOp) *dialog.Confirm {
	s := p.styles
	id := p.selectedID()
	what := "Restart"
	note := "its running requests fail and are retried"
	if op == opRecycle {
		what, note = "Recycle", "it finishes what it runs, then a fresh process replaces it"
	}
	this := dialog.Choice{Keys: key.NewBinding(key.WithKeys("y"), key.WithHelp("y", op.verb()+" this worker"))}
	if id > 0 {
		this.Result = poolAskMsg{op: op, id: id}
	}
	every := dialog.Choice{Keys: key.NewBinding(key.WithKeys("a"), key.WithHelp("a", op.verb()+" every worker")), Result: poolAskMsg{op: op}}
	no := dialog.Choice{Keys: key.NewBinding(key.WithKeys(append([]string{"n"}, p.keys.Back.Keys()...)...), key.WithHelp(p.keys.Back.Help().Key, "cancel"))}
	line := s.Warning.Render(fmt.Sprintf("%s worker %d? (%s)", what, id, note)) +
		s.Muted.Render("  y this worker · a every worker · esc cancel")
	return dialog.NewConfirm(s, dialog.BottomLine, []string{line}, this, every, no)
}

// act runs a pool action in a command.
func (p *Page) act(e *page.Env, op poolOp, id int) tea.Cmd {
	pool, ctx := p.ctl, e.Ctx
	if pool == nil {
		return page.NoticeErr(fmt.Errorf("no pool control configured"))
	}
	if op == opStart {
		p.running = "starting the worker pool…"
	} else {
		p.running = fmt.Sprintf("%s %s…", strings.TrimSuffix(op.verb(), "e")+"ing", workerName(id))
	}
	return e.Cmd(func() tea.Msg {
		var err error
		switch op {
		case opRestart:
			_, err = pool.RestartWorker(ctx, id)
		case opRecycle:
			_, err = pool.RecycleWorker(ctx, id)
		default:
			_, err = pool.StartPool(ctx)
		}
		return poolActionMsg{op: op, id: id, err: err}
	})
}

func (p *Page) Mouse(e *page.Env, msg tea.MouseMsg, x, y int) tea.Cmd {
	if y-1 < p.listHeight() { // below the header line, above what is beyond the pool
		p.list.Mouse(msg, y-1)
	}
	return nil
}

func (p *Page) Bindings() []key.Binding {
	km := p.keys
	switch {
	case p.pool != nil && live.PoolIdle(p.pool):
		return []key.Binding{keys.As(km.Run, "start the worker pool")}
	case p.pool != nil:
		return []key.Binding{keys.As(km.Restart, "restart worker(s)"), keys.As(km.Recycle, "recycle worker(s)"), km.Up, km.Down}
	}
	return nil
}

func (p *Page) Render() string {
	s := p.styles
	head := layout.Fit(p.header(), p.width, 1) + "\n"
	body := p.height - 1
	switch {
	case !p.live:
		return head + layout.Fit(s.Muted.Render("No connection to the workspace's owner: the worker table follows its event stream."), p.width, body)
	case p.pool == nil:
		return head + layout.Fit(s.Muted.Render("Waiting for the owner's pool status…"), p.width, body)
	case live.PoolIdle(p.pool):
		text := s.Muted.Render("The worker pool is not started:\nthe owner starts it when something needs the workers.")
		if p.running == "" {
			text += "\n\n" + s.Accent.Render("Press "+p.keys.Run.Help().Key+" to start it now.")
		}
		// A blank line under the text, before what is beyond the pool.
		top, below := p.layoutBeyond(body, strings.Count(text, "\n")+2)
		return head + layout.Fit(layout.Fit(text, p.width, top)+joinBelow(below), p.width, body)
	}
	h, below := p.layoutList()
	// The last line is for a confirmation's question (askDialog).
	return head + layout.Fit(p.renderList(h)+joinBelow(below), p.width, max(p.height-2, 1)) + "\n" + layout.Fit("", p.width, 1)
}

// joinBelow is lines under what is above them.
func joinBelow(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	return "\n" + strings.Join(lines, "\n")
}

func (p *Page) header() string {
	s := p.styles
	info := ""
	if p.pool != nil {
		info = "  engine " + p.pool.Engine
		if n := len(p.pool.Pool); n > 0 {
			info += " · pool " + live.PoolSummary(p.pool)
		}
		if z := p.pool.Zygote; z != nil {
			info += " · zygote " + z.State
			if z.PID != 0 {
				info += fmt.Sprintf(" (pid %d)", z.PID)
			}
		}
	}
	if p.conn != nil && !p.conn.Up {
		info += " · " + s.Warning.Render("owner unreachable (last known state)")
	} else if p.askErr != nil {
		info += " · " + s.Warning.Render("LM endpoints not read: "+format.Line(p.askErr.Error()))
	}
	if p.running != "" {
		info += " · " + s.Accent.Render(p.running)
	}
	return s.Title.Render("Workers") + s.Muted.Render(info)
}

// renderList draws the list with the state cells as coloured badges; the
// state column comes after the 3-cell ID and a space.
func (p *Page) renderList(h int) string {
	out := p.list.Render(p.width, h)
	if p.pool == nil {
		return out
	}
	return p.list.DrawBadges(out, 1+3+1, p.width, func(pos int) (string, bool) {
		if pos >= len(p.pool.Pool) {
			return "", false
		}
		st := p.pool.Pool[pos].State
		return p.styles.StateBadge(workerBadge[st]).Render(st), true
	})
}

// Restyle picks up a theme switched in place.
func (p *Page) Restyle() {
	p.list.SetStyles(components.ThemeStyles(p.styles))
	p.beyond.restyle(p)
}

// Whole is the selected worker's row with every cell whole.
func (p *Page) Whole() (string, []page.Section, bool) {
	t, c, ok := p.list.SelectedCells()
	return "Worker", page.Cells(t, c), ok
}
