package owner

import (
	"github.com/signet-dspy/signet/app"
)

// Not yet moved from cmd into the service (issue 15, in progress).
var errTodo = app.Errorf(app.CodeInternal, "not implemented yet")
