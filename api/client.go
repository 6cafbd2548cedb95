package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
)

// Client is the application service of a workspace whose owner is another
// process: every method is a request on the owner's socket. Its errors are
// *app.Error with the owner's code and text.
type Client struct {
	sock string
	hc   *http.Client
	d    *dialer
	// Hold makes the event streams this client opens hold the owner: it
	// waits for them before it stops (a command following its own jobs).
	Hold bool
}

var _ app.Service = (*Client)(nil)

// NewClient makes a client of the owner listening on sock; it does not
// connect until the first request.
func NewClient(sock string) *Client {
	d := &dialer{sock: sock}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return d.dial(ctx) },
		// One connection per request: a connection kept from an owner that
		// has since stopped would fail a request that could not be retried.
		DisableKeepAlives: true,
	}
	return &Client{sock: sock, hc: &http.Client{Transport: tr}, d: d}
}

// dialer connects a client's requests to the owner (dialOwner: only one
// of this user's).
type dialer struct {
	sock string
	// reconnect, when set, is called when no owner listens; once it
	// returns nil, an owner is expected on the socket again.
	reconnect atomic.Pointer[func(context.Context) error]
}

func (d *dialer) dial(ctx context.Context) (net.Conn, error) {
	c, err := dialOwner(ctx, d.sock)
	re := d.reconnect.Load()
	// The owner found may stop before the next try connects, and so may
	// the next one: owners that live for one command come and go quickly.
	for try := 0; err != nil && notConnected(err) && re != nil && try < maxReconnects; try++ {
		if rerr := (*re)(ctx); rerr != nil {
			return nil, rerr
		}
		c, err = dialOwner(ctx, d.sock)
	}
	return c, err
}

// maxReconnects bounds the owners a request tries to reach.
const maxReconnects = 20

// OnNoOwner makes the client call reconnect before any request of its
// (and of its copies) that finds no owner on the socket, then try once
// more: the owner it was talking to has stopped, and reconnect finds or
// becomes the next one. Nothing of the request was sent, so the retry is
// safe.
func (c *Client) OnNoOwner(reconnect func(ctx context.Context) error) {
	c.d.reconnect.Store(&reconnect)
}

// Holding is a copy of c whose event streams hold the owner.
func (c *Client) Holding() *Client {
	d := *c
	d.Hold = true
	return &d
}

// Socket is the path the client connects to.
func (c *Client) Socket() string { return c.sock }

// statusTimeout bounds the question "is there an owner?"; an owner that
// cannot answer it in that time is treated as one that is going away.
const statusTimeout = 10 * time.Second

// Status asks the owner who it is. An error wrapping ErrNoOwner means
// nothing listens on the socket.
func (c *Client) Status(ctx context.Context) (*app.Status, error) {
	ctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	return call[app.Status](c, ctx, http.MethodGet, "/v1/status", nil)
}

// Programs.

func (c *Client) ListPrograms(ctx context.Context) ([]*model.Program, error) {
	return list[*model.Program](c, ctx, "/v1/programs")
}

func (c *Client) ProgramSummaries(ctx context.Context, names []string) (map[string]app.ProgramSummary, error) {
	out, err := call[map[string]app.ProgramSummary](c, ctx, http.MethodGet, "/v1/program-summaries?"+url.Values{"name": names}.Encode(), nil)
	if err != nil {
		return nil, err
	}
	return *out, nil
}

func (c *Client) Program(ctx context.Context, name string, version int) (*model.Program, error) {
	return call[model.Program](c, ctx, http.MethodGet, "/v1/programs/"+url.PathEscape(name)+query("version", version), nil)
}

func (c *Client) ProgramVersions(ctx context.Context, name string) ([]*model.Program, error) {
	return list[*model.Program](c, ctx, "/v1/programs/"+url.PathEscape(name)+"/versions")
}

func (c *Client) CreateProgram(ctx context.Context, p *model.Program) (*model.Program, error) {
	return call[model.Program](c, ctx, http.MethodPost, "/v1/programs", p)
}

func (c *Client) SaveProgram(ctx context.Context, p *model.Program) (*model.Program, error) {
	return call[model.Program](c, ctx, http.MethodPut, "/v1/programs/"+url.PathEscape(p.Name), p)
}

func (c *Client) SetProgramStatus(ctx context.Context, name string, status model.ProgramStatus, note string) (*model.Program, error) {
	return call[model.Program](c, ctx, http.MethodPut, "/v1/programs/"+url.PathEscape(name)+"/status", statusBody{status, note})
}

func (c *Client) SetTrafficSplit(ctx context.Context, sp model.TrafficSplit) (*model.TrafficSplit, error) {
	return call[model.TrafficSplit](c, ctx, http.MethodPut, "/v1/programs/"+url.PathEscape(sp.Program)+"/traffic", sp)
}

func (c *Client) TrafficSplit(ctx context.Context, program string) (*model.TrafficSplit, error) {
	return call[model.TrafficSplit](c, ctx, http.MethodGet, "/v1/programs/"+url.PathEscape(program)+"/traffic", nil)
}

func (c *Client) ClearTrafficSplit(ctx context.Context, program string) error {
	_, err := call[struct{}](c, ctx, http.MethodDelete, "/v1/programs/"+url.PathEscape(program)+"/traffic", nil)
	return err
}

func (c *Client) TrafficReport(ctx context.Context, q app.TrafficQuery) (*model.TrafficReport, error) {
	v := url.Values{}
	if q.Since > 0 {
		v.Set("since", q.Since.String())
	}
	return call[model.TrafficReport](c, ctx, http.MethodGet, "/v1/programs/"+url.PathEscape(q.Program)+"/traffic/report"+encode(v), nil)
}

func (c *Client) DeleteProgram(ctx context.Context, name string) error {
	_, err := call[struct{}](c, ctx, http.MethodDelete, "/v1/programs/"+url.PathEscape(name), nil)
	return err
}

func (c *Client) Flow(ctx context.Context, name string, version int) (model.Flow, error) {
	f, err := call[model.Flow](c, ctx, http.MethodGet, "/v1/programs/"+url.PathEscape(name)+"/flow"+query("version", version), nil)
	if err != nil {
		return model.Flow{}, err
	}
	return *f, nil
}

func (c *Client) Render(ctx context.Context, req app.RenderRequest) (*app.RenderResult, error) {
	return call[app.RenderResult](c, ctx, http.MethodPost, "/v1/render", req)
}

func (c *Client) ExportProgram(ctx context.Context, req app.ExportRequest) (*app.ExportResult, error) {
	return call[app.ExportResult](c, ctx, http.MethodPost, "/v1/programs/"+url.PathEscape(req.Program)+"/export", req)
}

func (c *Client) ImportProgram(ctx context.Context, req app.ImportProgramRequest) (*app.ImportProgramResult, error) {
	return call[app.ImportProgramResult](c, ctx, http.MethodPost, "/v1/programs/"+url.PathEscape(req.Name)+"/import", req)
}

// Datasets.

func (c *Client) ListDatasets(ctx context.Context) ([]*model.Dataset, error) {
	return list[*model.Dataset](c, ctx, "/v1/datasets")
}

func (c *Client) Dataset(ctx context.Context, name string) (*model.Dataset, error) {
	return call[model.Dataset](c, ctx, http.MethodGet, "/v1/datasets/"+url.PathEscape(name), nil)
}

func (c *Client) ListExamples(ctx context.Context, q app.ExampleQuery) (*app.ExamplePage, error) {
	v := url.Values{}
	set(v, "split", string(q.Split))
	set(v, "cursor", q.Cursor)
	setInt(v, "limit", q.Limit)
	return call[app.ExamplePage](c, ctx, http.MethodGet, "/v1/datasets/"+url.PathEscape(q.Dataset)+"/examples"+encode(v), nil)
}

func (c *Client) Example(ctx context.Context, dataset string, id model.ID) (*model.Example, error) {
	return call[model.Example](c, ctx, http.MethodGet, "/v1/datasets/"+url.PathEscape(dataset)+"/examples/"+id.String(), nil)
}

func (c *Client) ExampleAt(ctx context.Context, dataset string, split model.Split, n int) (*model.Example, error) {
	v := url.Values{"n": {strconv.Itoa(n)}}
	set(v, "split", string(split))
	return call[model.Example](c, ctx, http.MethodGet, "/v1/datasets/"+url.PathEscape(dataset)+"/at"+encode(v), nil)
}

func (c *Client) PutExample(ctx context.Context, e *model.Example) (*model.Example, error) {
	return call[model.Example](c, ctx, http.MethodPut, "/v1/datasets/"+url.PathEscape(e.Dataset)+"/examples", e)
}

func (c *Client) RestoreExample(ctx context.Context, e *model.Example) (*model.Example, error) {
	return call[model.Example](c, ctx, http.MethodPost, "/v1/datasets/"+url.PathEscape(e.Dataset)+"/examples/restore", e)
}

func (c *Client) DeleteExample(ctx context.Context, dataset string, id model.ID) error {
	_, err := call[struct{}](c, ctx, http.MethodDelete, "/v1/datasets/"+url.PathEscape(dataset)+"/examples/"+id.String(), nil)
	return err
}

func (c *Client) ImportDataset(ctx context.Context, req app.ImportDatasetRequest) (*app.ImportDatasetResult, error) {
	head, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	resp, err := c.send(ctx, http.MethodPost, "/v1/datasets/"+url.PathEscape(req.Name)+"/import", req.Data,
		http.Header{requestHeader: {string(head)}, "Content-Type": {"application/octet-stream"}})
	if err != nil {
		return nil, err
	}
	return decodeAnswer[app.ImportDatasetResult](resp)
}

func (c *Client) ExportDataset(ctx context.Context, req app.ExportDatasetRequest, w io.Writer) error {
	v := url.Values{}
	set(v, "split", string(req.Split))
	set(v, "format", req.Format)
	resp, err := c.send(ctx, http.MethodGet, "/v1/datasets/"+url.PathEscape(req.Dataset)+"/export"+encode(v), nil, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return decodeError(resp)
	}
	_, err = io.Copy(w, resp.Body)
	return err
}

func (c *Client) Backup(ctx context.Context, w io.Writer) error {
	resp, err := c.send(ctx, http.MethodGet, "/v1/backup", nil, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return decodeError(resp)
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("backup from the owner: %w", err)
	}
	if msg := resp.Trailer.Get(backupErrorTrailer); msg != "" {
		return app.Errorf(app.CodeInternal, "%s", msg)
	}
	return nil
}

func (c *Client) CheckStore(ctx context.Context) (*app.StoreCheck, error) {
	return call[app.StoreCheck](c, ctx, http.MethodGet, "/v1/store/check", nil)
}

func (c *Client) DatasetStats(ctx context.Context, name string) (*model.DatasetStats, error) {
	return call[model.DatasetStats](c, ctx, http.MethodGet, "/v1/datasets/"+url.PathEscape(name)+"/stats", nil)
}

func (c *Client) DeleteDataset(ctx context.Context, name string) error {
	_, err := call[struct{}](c, ctx, http.MethodDelete, "/v1/datasets/"+url.PathEscape(name), nil)
	return err
}

func (c *Client) RenameDataset(ctx context.Context, name, to string) (*model.Dataset, error) {
	return call[model.Dataset](c, ctx, http.MethodPost, "/v1/datasets/"+url.PathEscape(name)+"/rename", map[string]string{"to": to})
}

// Indexes.

func (c *Client) BuildIndex(ctx context.Context, req app.IndexRequest) (*app.IndexResult, error) {
	return call[app.IndexResult](c, ctx, http.MethodPost, "/v1/indexes", req)
}

func (c *Client) ListIndexes(ctx context.Context) ([]*model.Index, error) {
	return list[*model.Index](c, ctx, "/v1/indexes")
}

func (c *Client) Index(ctx context.Context, name string) (*model.Index, error) {
	return call[model.Index](c, ctx, http.MethodGet, "/v1/indexes/"+url.PathEscape(name), nil)
}

func (c *Client) DeleteIndex(ctx context.Context, name string) error {
	_, err := call[struct{}](c, ctx, http.MethodDelete, "/v1/indexes/"+url.PathEscape(name), nil)
	return err
}

// Executions.

func (c *Client) Run(ctx context.Context, req app.RunRequest) (*model.Execution, error) {
	return call[model.Execution](c, ctx, http.MethodPost, "/v1/executions", req)
}

func (c *Client) RunBatch(ctx context.Context, req app.BatchRequest) (*app.Batch, error) {
	return call[app.Batch](c, ctx, http.MethodPost, "/v1/batches", req)
}

func (c *Client) ListExecutions(ctx context.Context, q app.ExecutionQuery) (*app.ExecutionPage, error) {
	v := url.Values{}
	set(v, "program", q.Program)
	set(v, "state", string(q.State))
	set(v, "cursor", q.Cursor)
	setInt(v, "limit", q.Limit)
	return call[app.ExecutionPage](c, ctx, http.MethodGet, "/v1/executions"+encode(v), nil)
}

func (c *Client) Execution(ctx context.Context, id model.ID) (*model.Execution, error) {
	return call[model.Execution](c, ctx, http.MethodGet, "/v1/executions/"+id.String(), nil)
}

func (c *Client) Spans(ctx context.Context, id model.ID, after uint64, limit int) (*app.SpanPage, error) {
	v := url.Values{}
	if after > 0 {
		v.Set("after", strconv.FormatUint(after, 10))
	}
	setInt(v, "limit", limit)
	return call[app.SpanPage](c, ctx, http.MethodGet, "/v1/executions/"+id.String()+"/spans"+encode(v), nil)
}

func (c *Client) CancelExecution(ctx context.Context, id model.ID) (*model.Execution, error) {
	return call[model.Execution](c, ctx, http.MethodPost, "/v1/executions/"+id.String()+"/cancel", nil)
}

func (c *Client) Feedback(ctx context.Context, id model.ID, f app.FeedbackRequest) (*model.Execution, error) {
	return call[model.Execution](c, ctx, http.MethodPost, "/v1/executions/"+id.String()+"/feedback", f)
}

func (c *Client) ImportTraces(ctx context.Context, req app.ImportTracesRequest) (*app.ImportTracesResult, error) {
	head, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	resp, err := c.send(ctx, http.MethodPost, "/v1/traces/import", req.Data,
		http.Header{requestHeader: {string(head)}, "Content-Type": {"application/octet-stream"}})
	if err != nil {
		return nil, err
	}
	return decodeAnswer[app.ImportTracesResult](resp)
}

func (c *Client) ResumeExecutions(ctx context.Context) (*app.Recovered, error) {
	return call[app.Recovered](c, ctx, http.MethodPost, "/v1/executions/resume", nil)
}

func (c *Client) LMProfiles(ctx context.Context) ([]app.LMProfile, error) {
	return list[app.LMProfile](c, ctx, "/v1/lm-profiles")
}

// Evaluations.

func (c *Client) Evaluate(ctx context.Context, req app.EvaluateRequest) (*model.Evaluation, error) {
	return call[model.Evaluation](c, ctx, http.MethodPost, "/v1/evaluations", req)
}

func (c *Client) ListEvaluations(ctx context.Context, q app.JobQuery) (*app.EvaluationPage, error) {
	return call[app.EvaluationPage](c, ctx, http.MethodGet, "/v1/evaluations"+jobValues(q), nil)
}

func (c *Client) Evaluation(ctx context.Context, id model.ID) (*app.EvaluationDetail, error) {
	return call[app.EvaluationDetail](c, ctx, http.MethodGet, "/v1/evaluations/"+id.String(), nil)
}

func (c *Client) CancelEvaluation(ctx context.Context, id model.ID) (*model.Evaluation, error) {
	return call[model.Evaluation](c, ctx, http.MethodPost, "/v1/evaluations/"+id.String()+"/cancel", nil)
}

// Optimizations.

func (c *Client) EstimateOptimization(ctx context.Context, req app.OptimizeRequest) (*model.Optimization, error) {
	return call[model.Optimization](c, ctx, http.MethodPost, "/v1/optimizations/estimate", req)
}

func (c *Client) Optimize(ctx context.Context, req app.OptimizeRequest) (*model.Optimization, error) {
	return call[model.Optimization](c, ctx, http.MethodPost, "/v1/optimizations", req)
}

func (c *Client) ListOptimizations(ctx context.Context, q app.JobQuery) (*app.OptimizationPage, error) {
	return call[app.OptimizationPage](c, ctx, http.MethodGet, "/v1/optimizations"+jobValues(q), nil)
}

func (c *Client) Optimization(ctx context.Context, id model.ID) (*model.Optimization, error) {
	return call[model.Optimization](c, ctx, http.MethodGet, "/v1/optimizations/"+id.String(), nil)
}

func (c *Client) Trials(ctx context.Context, id model.ID) ([]*model.Trial, error) {
	return list[*model.Trial](c, ctx, "/v1/optimizations/"+id.String()+"/trials")
}

func (c *Client) OptimizationDetail(ctx context.Context, id model.ID) (*app.OptimizationDetail, error) {
	return call[app.OptimizationDetail](c, ctx, http.MethodGet, "/v1/optimizations/"+id.String()+"/detail", nil)
}

func (c *Client) CancelOptimization(ctx context.Context, id model.ID) (*model.Optimization, error) {
	return call[model.Optimization](c, ctx, http.MethodPost, "/v1/optimizations/"+id.String()+"/cancel", nil)
}

func (c *Client) CompareOptimizations(ctx context.Context, ids []model.ID) (*app.Comparison, error) {
	v := url.Values{}
	for _, id := range ids {
		v.Add("id", id.String())
	}
	return call[app.Comparison](c, ctx, http.MethodGet, "/v1/optimizations/compare"+encode(v), nil)
}

func (c *Client) PromoteOptimization(ctx context.Context, id model.ID, force bool) (*app.Promoted, error) {
	path := "/v1/optimizations/" + id.String() + "/promote"
	if force {
		path += "?force=true"
	}
	return call[app.Promoted](c, ctx, http.MethodPost, path, nil)
}

// Costs.

func (c *Client) Cost(ctx context.Context, q app.CostQuery) (*app.CostReport, error) {
	v := url.Values{}
	set(v, "program", q.Program)
	set(v, "month", q.Month)
	if q.Days {
		v.Set("days", "true")
	}
	return call[app.CostReport](c, ctx, http.MethodGet, "/v1/cost"+encode(v), nil)
}

func (c *Client) SetBudget(ctx context.Context, program string, usd float64) error {
	_, err := call[struct{}](c, ctx, http.MethodPut, "/v1/budgets", budgetBody{program, usd})
	return err
}

// Users.

func (c *Client) AddUser(ctx context.Context, u model.User) (*model.User, error) {
	return call[model.User](c, ctx, http.MethodPost, "/v1/users", u)
}

func (c *Client) ListUsers(ctx context.Context) ([]*model.User, error) {
	return list[*model.User](c, ctx, "/v1/users")
}

func (c *Client) User(ctx context.Context, name string) (*app.UserDetail, error) {
	return call[app.UserDetail](c, ctx, http.MethodGet, "/v1/users/"+url.PathEscape(name), nil)
}

func (c *Client) SetCredits(ctx context.Context, name, op string, usd float64) (*model.User, error) {
	return call[model.User](c, ctx, http.MethodPost, "/v1/users/"+url.PathEscape(name)+"/credits", creditsBody{op, usd})
}

func (c *Client) CreateToken(ctx context.Context, user, label string) (*app.NewToken, error) {
	return call[app.NewToken](c, ctx, http.MethodPost, "/v1/users/"+url.PathEscape(user)+"/tokens", tokenBody{label})
}

func (c *Client) RevokeToken(ctx context.Context, id model.ID) (*app.TokenInfo, error) {
	return call[app.TokenInfo](c, ctx, http.MethodPost, "/v1/tokens/"+id.String()+"/revoke", nil)
}

func (c *Client) Audit(ctx context.Context, limit int) ([]*model.AuditRecord, error) {
	return list[*model.AuditRecord](c, ctx, "/v1/audit?limit="+strconv.Itoa(limit))
}

func (c *Client) Authenticate(ctx context.Context, token string) (*app.Principal, error) {
	return call[app.Principal](c, ctx, http.MethodPost, "/v1/authenticate", authBody{token})
}

// Workers.

func (c *Client) Pool(ctx context.Context) (*app.PoolStatus, error) {
	return call[app.PoolStatus](c, ctx, http.MethodGet, "/v1/pool", nil)
}

func (c *Client) StartPool(ctx context.Context) (*app.PoolStatus, error) {
	return call[app.PoolStatus](c, ctx, http.MethodPost, "/v1/pool/start", nil)
}

func (c *Client) RestartWorker(ctx context.Context, id int) (*app.PoolStatus, error) {
	return call[app.PoolStatus](c, ctx, http.MethodPost, "/v1/pool/restart"+query("worker", id), nil)
}

func (c *Client) RecycleWorker(ctx context.Context, id int) (*app.PoolStatus, error) {
	return call[app.PoolStatus](c, ctx, http.MethodPost, "/v1/pool/recycle"+query("worker", id), nil)
}

// Events.

// Subscribe follows GET /v1/events; the channel closes when ctx ends or
// the owner ends the stream (it stopped, or the connection broke). A ctx
// from app.WithoutSpans asks for no span events: a follower of state
// changes is not sent every span's payload.
func (c *Client) Subscribe(ctx context.Context) (<-chan app.Event, error) {
	q := url.Values{}
	if c.Hold {
		q.Set("hold", "1")
	}
	if !app.WantsSpans(ctx) {
		q.Set("spans", "false")
	}
	if app.WantsEndedOnly(ctx) {
		q.Set("ended", "1")
	}
	path := "/v1/events"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	resp, err := c.send(ctx, http.MethodGet, path, nil, nil)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, decodeError(resp)
	}
	ch := make(chan app.Event, 256)
	go func() {
		defer close(ch)
		defer resp.Body.Close()
		rd := bufio.NewReaderSize(resp.Body, 64<<10)
		var long []byte
		for {
			line, err := readLine(rd, &long)
			if err != nil {
				return
			}
			var ev app.Event
			if err := decodeEvent(line, &ev); err != nil {
				return
			}
			select {
			case ch <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch, nil
}

// readLine returns the stream's next line, an event (the server writes
// each on its own line): a view of rd's buffer, or of *long when it is
// longer, valid until the next call.
func readLine(rd *bufio.Reader, long *[]byte) ([]byte, error) {
	for {
		line, err := rd.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			*long = append((*long)[:0], line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = rd.ReadSlice('\n')
				*long = append(*long, line...)
			}
			line = *long
		}
		if err != nil {
			return nil, err
		}
		if len(bytes.TrimSpace(line)) > 0 {
			return line, nil
		}
	}
}

// decodeEvent decodes one event with goccy/go-json, three times
// encoding/json's speed on what a batch's client spends most of its CPU on
// (an ended execution's record each; TestEventDecode holds it to
// encoding/json's result), and with encoding/json, whose error is the one
// reported, when that library refuses it or panics.
func decodeEvent(line []byte, ev *app.Event) error {
	if err := model.UnmarshalFast(line, ev); err == nil {
		return nil
	}
	*ev = app.Event{}
	return json.Unmarshal(line, ev)
}

// The request plumbing.

func call[T any](c *Client, ctx context.Context, method, path string, body any) (*T, error) {
	var rd io.Reader
	var h http.Header
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd, h = bytes.NewReader(b), http.Header{"Content-Type": {"application/json"}}
	}
	resp, err := c.send(ctx, method, path, rd, h)
	if err != nil {
		return nil, err
	}
	return decodeAnswer[T](resp)
}

func list[T any](c *Client, ctx context.Context, path string) ([]T, error) {
	out, err := call[[]T](c, ctx, http.MethodGet, path, nil)
	if err != nil {
		return nil, err
	}
	return *out, nil
}

func decodeAnswer[T any](resp *http.Response) (*T, error) {
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return nil, decodeError(resp)
	}
	var out T
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("%s %s: decoding the answer: %w", resp.Request.Method, resp.Request.URL.Path, err)
	}
	return &out, nil
}

func (c *Client) send(ctx context.Context, method, path string, body io.Reader, h http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://signet"+path, body)
	if err != nil {
		return nil, err
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		var refused *AccessError
		if errors.As(err, &refused) {
			return nil, app.Wrap(app.CodeUnavailable, refused)
		}
		var ae *app.Error
		if errors.As(err, &ae) {
			return nil, ae // reconnecting failed: it says why
		}
		if notConnected(err) {
			return nil, fmt.Errorf("%w: %w", ErrNoOwner, err)
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, app.Errorf(app.CodeUnavailable, "lost the owner of the workspace (%s): %w", c.sock, err)
	}
	return resp, nil
}

func decodeError(resp *http.Response) error {
	var body ErrorBody
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err := json.Unmarshal(b, &body); err != nil || body.Error.Code == "" {
		return app.Errorf(app.CodeInternal, "owner answered %s: %s", resp.Status, bytes.TrimSpace(b))
	}
	return &app.Error{Code: body.Error.Code, Message: body.Error.Message, Field: body.Error.Field}
}

func query(name string, n int) string {
	if n == 0 {
		return ""
	}
	return "?" + name + "=" + strconv.Itoa(n)
}

func set(v url.Values, k, s string) {
	if s != "" {
		v.Set(k, s)
	}
}

func setInt(v url.Values, k string, n int) {
	if n != 0 {
		v.Set(k, strconv.Itoa(n))
	}
}

func encode(v url.Values) string {
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

func jobValues(q app.JobQuery) string {
	v := url.Values{}
	set(v, "program", q.Program)
	set(v, "cursor", q.Cursor)
	setInt(v, "limit", q.Limit)
	return encode(v)
}
