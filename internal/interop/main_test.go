package interop

import (
	"testing"

	"go.uber.org/goleak"
)

// Fixed ports of this package's tests, apart from INTEROP.md's table and from
// examples/forward's (25060-25130, 26060-26099, 27100-27139): packages' tests
// run in parallel.
const (
	testUACSIPPort, testUACControlPort, testUACMediaPort = 25160, 25161, 26160
	testUASSIPPort, testUASControlPort, testUASMediaPort = 25170, 25171, 26170
	testDataPort, testProbePort                          = 26197, 26199
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
