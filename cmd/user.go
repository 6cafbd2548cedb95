package cmd

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/signet-dspy/signet/model"
)

func (a *cli) userCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "user",
		Short: "Users who reach the workspace with a token: roles and credits",
	}
	c.AddCommand(a.userAddCommand(), a.userListCommand(), a.userShowCommand(), a.userCreditsCommand())
	return c
}

func (a *cli) userAddCommand() *cobra.Command {
	var role string
	var credits float64
	c := &cobra.Command{
		Use:   "add NAME --role admin|ml_engineer|ml_user",
		Short: "Add a user",
		Args:  exactArgs("NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			r, err := model.ParseRole(role)
			if err != nil {
				return usagef("--role: %v", err)
			}
			u, err := a.svc.AddUser(c.Context(), model.User{Name: args[0], Role: r, Credits: credits})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "user %s added: role %s, credits $%s\n", u.Name, u.Role, dollars(u.Credits))
			return nil
		},
	}
	c.Flags().StringVar(&role, "role", "", "admin, ml_engineer or ml_user (required)")
	c.Flags().Float64Var(&credits, "credits", 0, "US dollars its executions may spend")
	_ = c.MarkFlagRequired("role")
	return c
}

func (a *cli) userListCommand() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "list",
		Short: "List users with their role and credits",
		Args:  exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			us, err := a.svc.ListUsers(c.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(a.stdout, us)
			}
			t := newTable(a.stdout, "name", "role", "credits", "created")
			for _, u := range us {
				t.row(u.Name, string(u.Role), "$"+dollars(u.Credits), ago(u.CreatedAt))
			}
			return t.flush()
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func (a *cli) userShowCommand() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "show NAME",
		Short: "A user's role, credits and tokens (never a token's value)",
		Args:  exactArgs("NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			u, err := a.svc.User(c.Context(), args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(a.stdout, u)
			}
			fmt.Fprintf(a.stdout, "user     %s\nrole     %s\ncredits  $%s\ncreated  %s\n\n", u.Name, u.Role, dollars(u.Credits), u.CreatedAt.Format(time.RFC3339))
			if len(u.Tokens) == 0 {
				fmt.Fprintf(a.stdout, "no tokens: signet token create %s\n", u.Name)
				return nil
			}
			t := newTable(a.stdout, "token", "name", "created", "revoked")
			for _, tk := range u.Tokens {
				revoked := "-"
				if !tk.RevokedAt.IsZero() {
					revoked = tk.RevokedAt.Format(time.RFC3339)
				}
				t.row(tk.ID.String(), orDash(tk.Name), tk.CreatedAt.Format(time.RFC3339), revoked)
			}
			return t.flush()
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func (a *cli) userCreditsCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "credits NAME +N|-N|=N",
		Short: "Add (+N), take (-N) or set (=N) a user's credits, in US dollars",
		// -N is an amount, not a flag.
		DisableFlagParsing: true,
		RunE: func(c *cobra.Command, args []string) error {
			if slices.Contains(args, "-h") || slices.Contains(args, "--help") {
				return c.Help()
			}
			if len(args) != 2 {
				return usagef("%s wants 2 arguments (NAME +N|-N|=N), got %d; usage: %s", c.CommandPath(), len(args), c.UseLine())
			}
			amount := args[1]
			if amount == "" || !strings.ContainsRune("+-=", rune(amount[0])) {
				return usagef("credits %q: want +N, -N or =N (US dollars)", amount)
			}
			usd, err := strconv.ParseFloat(amount[1:], 64)
			if err != nil || usd < 0 {
				return usagef("credits %q: %q is not an amount of US dollars ≥ 0", amount, amount[1:])
			}
			u, err := a.svc.SetCredits(c.Context(), args[0], amount[:1], usd)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "user %s: credits $%s\n", u.Name, dollars(u.Credits))
			return nil
		},
	}
	return c
}

func (a *cli) tokenCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "token",
		Short: "Users' tokens: create (shown once) and revoke",
	}
	var label string
	create := &cobra.Command{
		Use:   "create USER [--name LABEL]",
		Short: "Create a token for a user; its value is printed once and stored only as a hash",
		Args:  exactArgs("USER"),
		RunE: func(c *cobra.Command, args []string) error {
			t, err := a.svc.CreateToken(c.Context(), args[0], label)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, t.Value)
			fmt.Fprintf(a.stderr, "token %s for user %s: keep the value above, it is not shown again\n", t.ID, t.User)
			return nil
		},
	}
	create.Flags().StringVar(&label, "name", "", "a label to tell the token apart")
	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token: it no longer authenticates",
		Args:  exactArgs("ID"),
		RunE: func(c *cobra.Command, args []string) error {
			id, err := model.ParseID(args[0])
			if err != nil {
				return usagef("token %q: %v", args[0], err)
			}
			t, err := a.svc.RevokeToken(c.Context(), id)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "token %s of user %s revoked\n", t.ID, t.User)
			return nil
		},
	}
	c.AddCommand(create, revoke)
	return c
}

func (a *cli) auditCommand() *cobra.Command {
	var asJSON bool
	var limit int
	c := &cobra.Command{
		Use:   "audit",
		Short: "The audit trail: who did what, newest first",
		Args:  exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			if limit < 0 {
				return usagef("--limit %d: want a number of records ≥ 0 (0: all)", limit)
			}
			rs, err := a.svc.Audit(c.Context(), limit)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(a.stdout, rs)
			}
			t := newTable(a.stdout, "time", "actor", "action", "target", "outcome", "detail")
			for _, r := range rs {
				t.row(r.Time.Format(time.RFC3339), r.Actor, r.Action, r.Target, r.Outcome, clip(r.Detail, 80))
			}
			return t.flush()
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	c.Flags().IntVar(&limit, "limit", 50, "the newest N records (0: all)")
	return c
}

// dollars renders credits without trailing zeros, to the nano-dollar the
// store keeps.
func dollars(usd float64) string { return strconv.FormatFloat(usd, 'f', -1, 64) }
