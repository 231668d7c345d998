package callback

import _ "embed"

// openapiJSON is the OpenAPI 3.1 document of the REST API and the
// callbacks (webhooks), served at /openapi.json.
//
//go:embed openapi.json
var openapiJSON string

// OpenAPI returns a copy of the OpenAPI 3.1 document that describes the
// REST API this package serves and the callbacks (webhooks) its Handler
// sends.
func OpenAPI() []byte { return []byte(openapiJSON) }
