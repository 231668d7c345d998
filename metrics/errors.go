package metrics

import (
	"errors"
	"fmt"
)

// ErrAttached is returned by Metrics.Attach when a server is attached
// already: one Metrics exports the statistics of one server at a time.
var ErrAttached = errors.New("metrics: a server is attached already")

// ConfigError reports an invalid Config field.
type ConfigError struct {
	Field  string
	Reason string
}

// Error returns "metrics: config <Field>: <Reason>".
func (e *ConfigError) Error() string {
	return fmt.Sprintf("metrics: config %s: %s", e.Field, e.Reason)
}
