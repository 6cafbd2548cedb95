package graphql

import "github.com/signet-dspy/signet/app"

// Resolver resolves every field with one call of the application service,
// as the request's principal (app.Caller): the service's policies decide,
// never this package.
type Resolver struct {
	svc app.Service
}
