package owner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/signet-dspy/signet/api"
	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/store"
)

func (o *Owner) Backup(ctx context.Context, w io.Writer) error {
	if err := o.mayAdminister(ctx, "backup"); err != nil {
		return err
	}
	return o.st.Backup(ctx, w)
}

func (o *Owner) CheckStore(ctx context.Context) (*app.StoreCheck, error) {
	if err := o.mayAdminister(ctx, "store"); err != nil {
		return nil, err
	}
	rep, err := o.st.Verify(ctx)
	if err != nil {
		return nil, err
	}
	out := &app.StoreCheck{Records: rep.Records, Problems: []app.StoreProblem{}}
	for _, p := range rep.Problems {
		out.Problems = append(out.Problems, app.StoreProblem{Record: p.Key, Problem: p.Problem})
	}
	return out, nil
}

// Restore loads a backup written by Backup into the workspace dir, which
// must have no store yet (absent, or without a database) and no owner.
func Restore(ctx context.Context, dir string, r io.Reader) error {
	if info, err := api.ReadOwner(dir); err == nil && api.Alive(info.PID) {
		return app.Errorf(app.CodeExists, "workspace %s is in use by Signet process %d (signet %s): restore into a new directory", dir, info.PID, info.Command)
	}
	db := filepath.Join(dir, DBDir)
	if entries, err := os.ReadDir(db); err == nil && len(entries) > 0 {
		return app.Errorf(app.CodeExists, "workspace %s already has a store: restore into a new directory (--workspace NEW_DIR)", dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating workspace %s: %w", dir, err)
	}
	if err := store.Restore(ctx, store.Options{Dir: db}, r); err != nil {
		if errors.Is(err, store.ErrExists) {
			return app.Errorf(app.CodeExists, "%v", err)
		}
		return app.Errorf(app.CodeInvalid, "%v", err)
	}
	return nil
}
