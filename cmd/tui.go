package cmd

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/spf13/cobra"

	"github.com/signet-dspy/signet/config"
	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui"
	"github.com/signet-dspy/signet/tui/keys"
)

// tuiCommand opens the workbench over the workspace's service: this
// process as its owner, or a client of the process that owns it.
func (a *cli) tuiCommand() *cobra.Command {
	return withMode(&cobra.Command{
		Use:   "tui",
		Short: "Open the workbench (also what `signet` with no arguments does)",
		Args:  exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			f, ok := raw(a.stdout).(*os.File)
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
			templates, err := demoPrograms()
			if err != nil {
				return err
			}
			// A hangup (its terminal closed) ends the workbench: the owner it
			// may be ignores hangups to go on serving, so without this it
			// would go on with no terminal, holding the workspace.
			ctx, stop := signal.NotifyContext(c.Context(), syscall.SIGHUP)
			defer stop()
			m := tui.New(tui.Services(a.svc), tui.Options{
				Workspace: dir, LMProfile: cfg.DefaultLM(), Styles: styles, Keys: &km, Context: ctx, Templates: templates,
			})
			_, err = tea.NewProgram(m, tea.WithContext(ctx), tea.WithInput(a.stdin), tea.WithOutput(raw(a.stdout))).Run()
			return err
		},
	}, "")
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
