package ivr

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests when a goroutine outlives them: TTS
// and fetch flights, espeak-ng processes, HTTP clients and players must
// all end.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
