package secureai

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/secureai-go/secureai/audit"

	"github.com/secureai-go/secureai/keyprovider"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func secretOf(s string) keyprovider.Secret { return keyprovider.NewSecret(s) }

type auditEvent = audit.Event
