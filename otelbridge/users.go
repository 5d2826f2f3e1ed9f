package otelbridge

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DefaultPasswdPath is the passwd file Users reads when given no path.
const DefaultPasswdPath = "/etc/passwd"

// maxPasswdBytes bounds the passwd file Users reads: a real one with a
// million users is about 60 MiB. Larger files, and anything that is not a
// regular file, such as a FIFO or /dev/zero, are refused with a warning.
const maxPasswdBytes = 64 << 20

// usersCheckInterval is how often Users looks at the passwd file's size and
// modification time to decide whether to read it again.
const usersCheckInterval = 5 * time.Second

// Users resolves user ids to user names from a passwd file. It reads the
// file again when its modification time or size changes, checking at most
// every few seconds. A missing, unreadable or malformed file is tolerated:
// the names it cannot provide are absent, and each distinct problem is
// logged once at Warn level.
//
// A Users is safe for concurrent use.
type Users struct {
	path   string
	logger *slog.Logger
	now    func() time.Time

	mu        sync.Mutex
	names     map[uint32]string
	checkedAt time.Time
	loaded    bool // the last check found a readable file
	modTime   time.Time
	size      int64
	failure   string // message of the last failed read, logged once
}

// NewUsers returns a Users reading the passwd file at path and reads it
// once. An empty path means DefaultPasswdPath, and a nil logger means
// slog.Default(). In a container, pass the host's file (for example
// mounted at /host/etc/passwd), because the event's uid is the host's.
func NewUsers(path string, logger *slog.Logger) *Users {
	if path == "" {
		path = DefaultPasswdPath
	}
	if logger == nil {
		logger = slog.Default()
	}
	u := &Users{path: path, logger: logger, now: time.Now}
	u.mu.Lock()
	u.check(u.now())
	u.mu.Unlock()
	return u
}

// Name returns the user name of uid and whether the passwd file has one.
// A nil Users has no names.
func (u *Users) Name(uid uint32) (string, bool) {
	if u == nil {
		return "", false
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if now := u.now(); now.Sub(u.checkedAt) >= usersCheckInterval {
		u.check(now)
	}
	name, ok := u.names[uid]
	return name, ok
}

// check reads the file again when it changed since the last check.
func (u *Users) check(now time.Time) {
	u.checkedAt = now
	info, err := os.Stat(u.path)
	if err != nil {
		u.fail(err)
		return
	}
	if u.loaded && info.ModTime().Equal(u.modTime) && info.Size() == u.size {
		return
	}
	data, err := readPasswd(u.path)
	if err != nil {
		u.fail(err)
		return
	}
	names, malformed, firstBad := parsePasswd(string(data))
	u.names = names
	u.loaded = true
	u.modTime = info.ModTime()
	u.size = info.Size()
	u.failure = ""
	if malformed > 0 {
		u.logger.Warn("skipped malformed lines of the passwd file, so the users on them have no name",
			"path", u.path, "lines", malformed, "first_line", firstBad)
	}
}

// readPasswd reads a regular file of at most maxPasswdBytes. It opens the
// file without blocking, so a FIFO put in its place cannot stall the caller.
func readPasswd(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (mode %s)", path, info.Mode().Type())
	}
	data, err := io.ReadAll(io.LimitReader(f, maxPasswdBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxPasswdBytes {
		return nil, fmt.Errorf("%s is larger than %d MiB, the most read", path, maxPasswdBytes>>20)
	}
	return data, nil
}

// fail drops all names after a failed read and logs the error unless it is
// the same as the previous one.
func (u *Users) fail(err error) {
	u.names = nil
	u.loaded = false
	msg := err.Error()
	if msg == u.failure {
		return
	}
	u.failure = msg
	hint := "check the path of the passwd file"
	if errors.Is(err, fs.ErrPermission) {
		hint = "give the agent read access to the passwd file"
	}
	u.logger.Warn("reading the passwd file failed, so user names are absent until it can be read",
		"path", u.path, "error", err, "hint", hint)
}

// parsePasswd returns the user names of the passwd(5) text data by uid,
// the number of malformed lines and the 1-based number of the first one.
// Blank lines, lines starting with '#' and NIS compat lines ("+" or "-"
// entries) are skipped without counting as malformed. When a uid appears
// more than once, its first line wins, as getpwuid(3) does on a files
// database.
func parsePasswd(data string) (names map[uint32]string, malformed, firstBad int) {
	names = make(map[uint32]string)
	lineNumber := 0
	for line := range strings.Lines(data) {
		lineNumber++
		line = strings.TrimRight(line, "\r\n")
		trimmed := strings.TrimLeft(line, " \t")
		if trimmed == "" || trimmed[0] == '#' || trimmed[0] == '+' || trimmed[0] == '-' {
			continue
		}
		name, uid, ok := parsePasswdLine(line)
		if !ok {
			malformed++
			if firstBad == 0 {
				firstBad = lineNumber
			}
			continue
		}
		if _, seen := names[uid]; !seen {
			names[uid] = name
		}
	}
	return names, malformed, firstBad
}

// parsePasswdLine splits name:password:uid:gid:gecos:home:shell. The shell
// field takes the rest of the line, so it may contain colons.
func parsePasswdLine(line string) (name string, uid uint32, ok bool) {
	fields := strings.SplitN(line, ":", 7)
	if len(fields) != 7 || fields[0] == "" {
		return "", 0, false
	}
	n, err := strconv.ParseUint(fields[2], 10, 32)
	if err != nil {
		return "", 0, false
	}
	return fields[0], uint32(n), true
}
