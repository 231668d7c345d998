package callback

import (
	"testing"

	"github.com/getkin/kin-openapi/openapi3filter"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// The validator decodes binary bodies of these types as opaque files.
	for _, ct := range []string{"audio/wav", "audio/mpeg", "audio/x-wav"} {
		openapi3filter.RegisterBodyDecoder(ct, openapi3filter.FileBodyDecoder)
	}
	goleak.VerifyTestMain(m)
}
