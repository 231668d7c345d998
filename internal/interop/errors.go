package interop

import "errors"

// Sentinel errors of package interop.
var (
	// ErrBadPcap is returned (wrapped) by ReadPcap and ParsePcap for input
	// that is not a classic pcap file.
	ErrBadPcap = errors.New("interop: invalid pcap file")
	// ErrCommandFailed is returned (wrapped) by Ctrl.Command when baresip
	// answers a command with ok:false.
	ErrCommandFailed = errors.New("interop: baresip command failed")
	// ErrNoEvent is returned (wrapped) by Ctrl.WaitEvent when the event did
	// not come.
	ErrNoEvent = errors.New("interop: baresip event did not come")
)
