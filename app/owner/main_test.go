package owner

import (
	"testing"

	"github.com/signet-dspy/signet/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m, "owner") }
