package mediaservertest

import "log/slog"

// StartPhone starts a phone outside a test, for demos and tools such as the
// -demo flag of the examples. The caller must Close it. A nil Logger logs
// to slog.Default().
func StartPhone(cfg PhoneConfig) (*Phone, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return newPhone(nil, cfg)
}
