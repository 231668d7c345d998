// Package procstat reads a Linux process's resource figures from /proc:
// open file descriptors, the UDP and TCP sockets among them, and its
// resident memory. Both the soak driver (looking at the server from
// outside) and the soak server (looking at itself) use it.
package procstat

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Figures are one reading of a process.
type Figures struct {
	// FDs is the number of entries in /proc/<pid>/fd.
	FDs int `json:"fds"`
	// UDPSockets and TCPSockets are the fds that are sockets listed in the
	// process's /proc/<pid>/net/udp{,6} and tcp{,6} tables.
	UDPSockets int `json:"udpSockets"`
	TCPSockets int `json:"tcpSockets"`
	// RSSBytes is VmRSS; HWMBytes is VmHWM (the peak RSS).
	RSSBytes int64 `json:"rssBytes"`
	HWMBytes int64 `json:"hwmBytes"`
	// Threads is the number of OS threads.
	Threads int `json:"threads"`
}

// Read reads the figures of process pid; pid 0 means the calling process.
// The socket tables of /proc/<pid>/net list every socket of the process's
// network namespace, so a socket counts only when one of pid's fds links
// to its inode.
func Read(pid int) (Figures, error) {
	dir := "/proc/self"
	if pid > 0 {
		dir = "/proc/" + strconv.Itoa(pid)
	}
	var f Figures
	udp, err := inodes(dir+"/net/udp", dir+"/net/udp6")
	if err != nil {
		return f, err
	}
	tcp, err := inodes(dir+"/net/tcp", dir+"/net/tcp6")
	if err != nil {
		return f, err
	}
	d, err := os.Open(dir + "/fd")
	if err != nil {
		return f, err
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return f, err
	}
	self := pid <= 0
	for _, n := range names {
		link, err := os.Readlink(dir + "/fd/" + n)
		if err != nil {
			// Closed since the listing (or, for /proc/self, the fd of the
			// listing itself): not open now.
			continue
		}
		if self && strings.HasSuffix(link, "/fd") {
			continue // the directory this function had open
		}
		f.FDs++
		ino, ok := strings.CutPrefix(link, "socket:[")
		if !ok {
			continue
		}
		ino = strings.TrimSuffix(ino, "]")
		switch {
		case udp[ino]:
			f.UDPSockets++
		case tcp[ino]:
			f.TCPSockets++
		}
	}
	st, err := os.ReadFile(dir + "/status")
	if err != nil {
		return f, err
	}
	for _, line := range strings.Split(string(st), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(fields[0], 10, 64)
		switch k {
		case "VmRSS":
			f.RSSBytes = n * 1024
		case "VmHWM":
			f.HWMBytes = n * 1024
		case "Threads":
			f.Threads = int(n)
		}
	}
	return f, nil
}

// inodes returns the socket inodes listed in /proc net tables (the tenth
// column); a missing table (no IPv6) is empty.
func inodes(paths ...string) (map[string]bool, error) {
	out := make(map[string]bool)
	for _, p := range paths {
		fh, err := os.Open(p)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 4096), 1<<20)
		first := true
		for sc.Scan() {
			if first {
				first = false
				continue
			}
			f := strings.Fields(sc.Text())
			if len(f) > 9 {
				out[f[9]] = true
			}
		}
		err = sc.Err()
		fh.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
	}
	return out, nil
}
