package cmd

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strconv"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/spf13/cobra"

	"github.com/signet-dspy/signet/api"
	"github.com/signet-dspy/signet/config"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store"
	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui"
	"github.com/signet-dspy/signet/tui/keys"
)

// remotePrograms reads programs and datasets through the owner's API when another process
// owns the workspace.
type remotePrograms struct{ cl *api.Client }

func (r remotePrograms) ListPrograms(ctx context.Context) ([]*model.Program, error) {
	var ps []*model.Program
	if err := r.cl.Get(ctx, "/v1/programs", &ps); err != nil {
		return nil, err
	}
	return ps, nil
}

func (r remotePrograms) ListDatasets(ctx context.Context) ([]*model.Dataset, error) {
	var ds []*model.Dataset
	if err := r.cl.Get(ctx, "/v1/datasets", &ds); err != nil {
		return nil, err
	}
	return ds, nil
}

func (r remotePrograms) ListExamples(ctx context.Context, dataset string, split model.Split, cursor string, limit int) ([]*model.Example, string, error) {
	q := url.Values{}
	if split != "" {
		q.Set("split", string(split))
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	path := "/v1/datasets/" + url.PathEscape(dataset) + "/examples"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var page api.ExamplePage
	if err := r.cl.Get(ctx, path, &page); err != nil {
		return nil, "", err
	}
	return page.Examples, page.Next, nil
}

// storeDatasets adapts the store to datasets.Datasets (tui/pages/datasets).
type storeDatasets struct{ st *store.Store }

func (s storeDatasets) ListDatasets(ctx context.Context) ([]*model.Dataset, error) {
	return s.st.ListDatasets(ctx)
}

func (s storeDatasets) ListExamples(ctx context.Context, dataset string, split model.Split, cursor string, limit int) ([]*model.Example, string, error) {
	return s.st.ListExamples(ctx, store.ExampleQuery{Dataset: dataset, Split: split, Cursor: cursor, Limit: limit})
}

// tuiCommand opens the workbench; `signet` with no arguments runs it. It
// needs this process's terminal, so with another owner running it attaches
// to that owner's API instead of forwarding.
func (a *app) tuiCommand() *cobra.Command {
	return withMode(&cobra.Command{
		Use:   "tui",
		Short: "Open the workbench (also what `signet` with no arguments does)",
		Args:  exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			f, ok := a.stdout.(*os.File)
			if !ok || !isTerminal(f) {
				return usagef("the workbench needs a terminal; use the subcommands (`signet --help`) in scripts")
			}
			dir, err := a.workspaceDir()
			if err != nil {
				return err
			}
			cfg, err := config.Load("")
			if err != nil {
				return err
			}
			in, _ := a.stdin.(*os.File)
			styles, km, err := tuiLook(cfg, func() bool {
				// Only a terminal can report its background; anything else
				// keeps the dark default.
				return in == nil || !isTerminal(in) || lipgloss.HasDarkBackground(in, f)
			})
			if err != nil {
				return err
			}
			var deps tui.Deps
			switch {
			case a.shared != nil:
				deps.Datasets = storeDatasets{a.shared.st}
			case a.remote != nil:
				deps.Datasets = remotePrograms{a.remote}
			default:
				return fmt.Errorf("internal error: the workspace is not open")
			}
			// Executions, events and the pool through the owner's API, even
			// when this process is the owner (cmd/tui_events.go).
			live := a.remote
			if a.shared != nil {
				live = api.NewClient(a.shared.sock)
			}
			liveDeps(&deps, live)
			deps.Programs = tuiPrograms{live}           // cmd/tui_programs.go
			deps.Optimizations = tuiOptimizations{live} // cmd/tui_opts.go
			deps.Runner = tuiRunner{live}               // cmd/tui_runs.go
			deps.Evaluations = tuiEvaluations{live}     // cmd/tui_evals.go
			m := tui.New(deps, tui.Options{
				Workspace: dir, LMProfile: cfg.DefaultLM(), Styles: styles, Keys: &km, Context: c.Context(),
			})
			_, err = tea.NewProgram(m, tea.WithContext(c.Context()), tea.WithInput(a.stdin), tea.WithOutput(a.stdout)).Run()
			return err
		},
	}, wsAttach)
}

// tuiLook builds the workbench's styles and key map from the config: theme
// (auto, a built-in name or a theme file) and keys (overrides). darkBG is
// asked only for theme auto. Errors name the config file, so a bad theme
// file or key override stops `signet` before the TUI takes the terminal.
func tuiLook(cfg *config.Config, darkBG func() bool) (*themes.Styles, keys.Map, error) {
	var (
		p   themes.Palette
		err error
	)
	switch name := cfg.ThemeName(); {
	case name == config.ThemeAuto:
		p = themes.Auto(darkBG())
	case cfg.ThemeFile() != "":
		p, err = themes.Load(cfg.ThemeFile())
		if err != nil {
			return nil, keys.Map{}, fmt.Errorf("%s: theme: %w", cfg.Path(), err)
		}
	default:
		p, err = themes.Get(name)
		if err != nil {
			return nil, keys.Map{}, fmt.Errorf("%s: theme: %w", cfg.Path(), err)
		}
	}
	km, err := keys.New(cfg.Keys)
	if err != nil {
		return nil, keys.Map{}, fmt.Errorf("%s: %w", cfg.Path(), err)
	}
	return themes.New(p), km, nil
}
