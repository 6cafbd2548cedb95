package cmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"sync/atomic"

	"github.com/signet-dspy/signet/api"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/model/datafile"
	"github.com/signet-dspy/signet/tui/pages/datasets"
)

// The example writes and the file import of the TUI's Datasets page, for
// both adapters: storeDatasets (this process owns the workspace) and
// remotePrograms (another process does; through its API).

func (s storeDatasets) PutExample(ctx context.Context, e *model.Example) (*model.Example, error) {
	out := *e
	if !out.ID.IsZero() {
		// An edit: the example must still be there (not re-created after
		// someone else deleted it), and keeps its split unless given one.
		old, err := s.st.GetExample(ctx, e.Dataset, e.ID)
		if err != nil {
			return nil, err
		}
		if out.Split == "" {
			out.Split = old.Split
		}
	}
	if err := s.st.PutExample(ctx, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func (s storeDatasets) DeleteExample(ctx context.Context, dataset string, id model.ID) error {
	return s.st.DeleteExample(ctx, dataset, id)
}

// ImportFile is `signet dataset import` run in this process: the same
// checks, all or nothing, errors naming file:line.
func (s storeDatasets) ImportFile(ctx context.Context, req datasets.ImportRequest) (*model.Dataset, error) {
	split, err := importSplit(req.Split)
	if err != nil {
		return nil, err
	}
	if err := model.ValidName("dataset", req.Name); err != nil {
		return nil, err
	}
	f, err := datafile.DetectFormat(req.Path)
	if err != nil {
		return nil, err
	}
	opts, err := importOptionsOf(req.Inputs, nil, req.Types)
	if err != nil {
		return nil, err
	}
	file, err := os.Open(req.Path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	var rd io.Reader = file
	if req.Progress != nil {
		if fi, err := file.Stat(); err == nil && fi.Size() > 0 {
			rd = &progressReader{r: file, total: fi.Size(), report: req.Progress}
		}
	}
	return importFrom(ctx, s.st, req.Path, rd, f, &model.Dataset{Name: req.Name}, split, opts)
}

func importSplit(sp model.Split) (model.Split, error) {
	if sp == "" {
		return model.Train, nil
	}
	return model.ParseSplit(string(sp))
}

// progressReader reports the share of the file read so far.
type progressReader struct {
	r      io.Reader
	n      atomic.Int64
	total  int64
	report func(float64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	done := p.n.Add(int64(n))
	p.report(min(float64(done)/float64(p.total), 1))
	return n, err
}

func (r remotePrograms) PutExample(ctx context.Context, e *model.Example) (*model.Example, error) {
	if e.ID.IsZero() {
		return r.cl.AddExample(ctx, e)
	}
	return r.cl.PutExample(ctx, e)
}

func (r remotePrograms) DeleteExample(ctx context.Context, dataset string, id model.ID) error {
	return r.cl.DeleteExample(ctx, dataset, id)
}

// ImportFile forwards `signet dataset import` to the owner (POST /v1/cli),
// which runs it exactly as if typed in a client; its error output becomes
// the error.
func (r remotePrograms) ImportFile(ctx context.Context, req datasets.ImportRequest) (*model.Dataset, error) {
	st, err := r.cl.Status(ctx)
	if err != nil {
		return nil, err
	}
	cwd, _ := os.Getwd()
	args := []string{"dataset", "import", req.Path, "--name", req.Name}
	if req.Split != "" {
		args = append(args, "--split", string(req.Split))
	}
	if req.Inputs != "" {
		args = append(args, "--inputs", req.Inputs)
	}
	if req.Types != "" {
		args = append(args, "--types", req.Types)
	}
	var stdout, stderr bytes.Buffer
	code, err := r.cl.CLI(ctx, &api.CLIRequest{Args: args, Cwd: cwd, Workspace: st.Workspace}, &stdout, &stderr)
	if err != nil {
		return nil, err
	}
	if code != 0 {
		msg := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(stderr.String()), "signet: "))
		if msg == "" {
			msg = fmt.Sprintf("import exited with status %d", code)
		}
		return nil, errors.New(msg)
	}
	var d model.Dataset
	if err := r.cl.Get(ctx, "/v1/datasets/"+url.PathEscape(req.Name), &d); err != nil {
		return nil, err
	}
	return &d, nil
}
