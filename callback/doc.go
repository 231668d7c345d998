// Package callback makes a mediaserver.Server speak the iotcomms "SIP
// Mediaserver Service" protocol over HTTP, so that an application written
// for the hosted service works unchanged with a self-hosted server. It is
// translation only: call logic lives in package mediaserver.
//
// It has two halves:
//
//   - Handler is a mediaserver.Handler that POSTs every callback as JSON to
//     the application's webhook base URL (/newCall, /callNotify,
//     /callEvent, /callAnswered, /getIvrCommand, /sessionCompleted,
//     /recordingReady) and decodes the answers. Each callback is signed
//     (decision 17): "Authorization: Bearer <JWT>", RS256 with a private
//     key or HS256 with a shared secret, with the claims iss, iat, exp,
//     path, bodySha256 and domain. Applications check it with Verify.
//   - API is an http.Handler that serves the REST API (POST
//     /placeivrcall, /splitconnection, /connect, ..., GET/PUT/DELETE
//     /promptfile/{filename}) on top of a *mediaserver.Server, at /op and
//     at /{domain}/op, with bearer-token or RS256 JWT authentication,
//     CORS, JSON errors {"success":false,"error":...,"message":...} and
//     the operator paths /healthz, /readyz, /metrics and /openapi.json
//     (without authentication) and /sessions/{sessionId} (also at
//     /sessions/{sessionId}/trace), a session's call flow as a Mermaid
//     diagram.
//
// OpenAPI returns the OpenAPI 3.1 document of both: the REST paths and the
// callbacks as webhooks.
//
// # Delivery (decision 16)
//
// Decision callbacks (newCall, callEvent, getIvrCommand) get one attempt
// within Config.DecisionTimeout (default 5 s). A timeout, a non-2xx
// status, an answer that is not JSON or has wrong types, an answer larger
// than Config.MaxAnswerSize, or an unknown or incomplete action is
// returned as an error; the server then logs it (with the sessionId) and
// applies the fallback of API.md §6: newCall rejects the call, callEvent
// drops the participant, getIvrCommand hangs the IVR up. Unknown fields in
// an answer are ignored.
//
// callNotify and callAnswered get one attempt of at most
// Config.NotifyTimeout (default 2 s); their answer body is ignored.
// sessionCompleted and recordingReady are queued and the call returns at
// once; the Handler's workers deliver them, retrying up to Config.Retries
// times (default 3) with doubling backoff on no answer, a timeout, 5xx,
// 408 or 429. With Config.FallbackURL, a callback that the primary URL did
// not take goes to the fallback URL within the same attempt.
//
// # Goroutines
//
// A Handler owns Config.Workers delivery goroutines (default 4), started by
// NewHandler and ended by Shutdown (which first delivers what is queued,
// bounded by its context) or Close. The callbacks of one session are
// queued on one worker, so sessionCompleted is delivered before that
// session's recordingReady, and a slow application delays only the
// sessions of that worker. Decision and informational callbacks run on
// the server's goroutine that calls the Handler. The API starts no
// goroutines; net/http runs each request on its own.
//
// # Errors of the REST API
//
// The sentinels of package mediaserver map to statuses: ErrInvalid 400
// invalidRequest, ErrNotFound 404 notFound, ErrStaleReply and
// ErrInvalidState 409 invalidState, ErrTooLarge 413, ErrServerClosed and
// ErrMaxSessions 503 (with Retry-After), anything else 500 internalError.
// A request whose replyId or IDs carry another instance's ID (several
// instances behind one SIP load balancer, decision 20) never reaches the
// Server: it is 421 misdirected, with the owner's URL as apiBaseUrl when
// APIConfig.Peers knows it.
// A body that is not a JSON object, has a field of the wrong type or
// misses a required field is 400 invalidRequest with a message naming
// the field. Authentication failures are 401 {"message":"Unauthorized"}
// (403 {"message":"Forbidden"} for a JWT of another domain).
package callback
