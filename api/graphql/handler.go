package graphql

import (
	"context"
	"errors"
	"net/http"
	"time"

	gql "github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/signet-dspy/signet/api"
	"github.com/signet-dspy/signet/app"
)

const (
	// defaultExecutions and defaultSpans are a page when first is not
	// given: the REST list's 50, and a tenth of the REST trace's page (a
	// GraphQL page is paid for in complexity).
	defaultExecutions = 50
	defaultSpans      = 100
	// maxComplexity bounds what one operation may ask: a field costs 1,
	// a page its size times what each item asks. A page of 50 executions
	// with 20 fields fits; their spans do not (ask one execution's).
	maxComplexity = 2000
	// keepAlive is how often a websocket gets a ping (graphql-ws: a
	// keep-alive), so that proxies keep a quiet subscription open; a
	// graphql-transport-ws client that answers no ping with a pong for
	// twice as long is gone, and its subscriptions end.
	keepAlive = 15 * time.Second
)

// NewHandler serves the GraphQL API over svc: queries by POST or GET,
// mutations by POST, subscriptions over a websocket speaking
// graphql-transport-ws (or the older graphql-ws). It authenticates nobody:
// each request's context must carry its principal (app.WithPrincipal), as
// the HTTP server's authenticated routes do; without one a request is the
// workspace's local user's.
func NewHandler(svc app.Service) http.Handler {
	cfg := Config{Resolvers: &Resolver{svc: svc}}
	cfg.Complexity.Query.Executions = func(child int, _ *string, _ *ExecutionState, first *int, _ *string) int {
		return pageCost(first, defaultExecutions, child)
	}
	cfg.Complexity.Execution.Spans = func(child int, _ *int, first *int) int {
		return pageCost(first, defaultSpans, child)
	}
	srv := handler.New(NewExecutableSchema(cfg))
	srv.AddTransport(transport.Websocket{KeepAlivePingInterval: keepAlive, PingPongInterval: keepAlive})
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](256))
	srv.Use(extension.Introspection{})
	srv.Use(extension.FixedComplexityLimit(maxComplexity))
	srv.SetErrorPresenter(presentError)
	// gqlgen reads a body whole: bound it as the REST routes bound theirs.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, api.MaxBody)
		srv.ServeHTTP(w, r)
	})
}

// pageCost is a page's complexity: the items the service will answer (its
// default for no or a non-positive first) times each one's.
func pageCost(first *int, def, child int) int {
	n := def
	if first != nil && *first > 0 {
		n = *first
	}
	return 1 + n*child
}

// presentError gives a service error its code as extensions.code (and the
// field at fault as extensions.field), so that a client tells a policy's
// refusal (forbidden, payment_required, unauthenticated) from a missing
// record or a bad argument as the REST API's status does. GraphQL's own
// errors (a bad query, over the complexity limit) keep gqlgen's codes.
func presentError(ctx context.Context, err error) *gqlerror.Error {
	gerr := gql.DefaultErrorPresenter(ctx, err)
	var ae *app.Error
	var qe *gqlerror.Error
	switch {
	case errors.As(err, &ae):
		setCode(gerr, string(ae.Code))
		if ae.Field != "" {
			gerr.Extensions["field"] = ae.Field
		}
	case !errors.As(err, &qe):
		setCode(gerr, string(app.CodeOf(err)))
	}
	return gerr
}

func setCode(e *gqlerror.Error, code string) {
	if e.Extensions == nil {
		e.Extensions = map[string]any{}
	}
	e.Extensions["code"] = code
}
