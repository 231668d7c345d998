package mediaserver_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/mediaserver-go/mediaserver/internal/leak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, leak.Options()...)
}
