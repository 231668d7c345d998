// Package bench holds the load harness of the mediaserver library: our
// server (ivrserver) against the diago peer (diago, a module of its own),
// driven by SIPp (driver). The only Go code of this package is the smoke
// test that keeps the harness working; see README.md.
package bench
