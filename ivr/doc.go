// Package ivr executes IVR commands (API.md §5) against an audio port: it
// plays phrases, collects DTMF, loops a background prompt, records the
// caller, and says when the next command is due. It knows nothing of SIP;
// it sees only package media's interfaces.
//
// A Player is one IVR participant's audio port. The media clock drives
// it: the clock delivers what the caller says (WriteFrame), advances the
// player by one 20 ms tick (Process), and sends what the player has for
// the caller (ReadEncoded/ReadFrame: pre-encoded prompt frames are copied,
// never re-encoded). All command timing (timeouts, getIVRCommandAfter,
// maxDuration, silence) is counted in clock ticks, so tests step a fake
// clock instead of sleeping. Phrases load on one goroutine per command,
// owned by the Player, so that disk, HTTP and TTS never block the clock.
//
// The rest of the package turns phrases into audio: a Store of prompt
// files with safe names, a Library that loads files (WAV, MP3), URLs
// (cached with ETag/Last-Modified) and text-to-speech through a
// Synthesizer (espeak-ng locally, Amazon Polly when configured).
package ivr
