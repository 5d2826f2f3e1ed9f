package otelbridge

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const samplePasswd = `root:x:0:0:root:/root:/bin/bash
# a comment line:x:1:1::/:/bin/sh

daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
   # an indented comment
nginx:x:101:101:nginx user,,,:/var/cache/nginx:/bin/false
too:few:fields
noname-uid:x:abc:1::/:/bin/sh
:x:102:102:empty name:/:/bin/sh
negative:x:-5:1::/:/bin/sh
toolarge:x:4294967296:1::/:/bin/sh
shadowed:x:101:101:second line for uid 101:/:/bin/sh
+nisuser::::::
-nisexcluded::::::
+
windows:x:1000:1000:CRLF line:/home/windows:/bin/sh` + "\r" + `
colons:x:1001:1001::/home/colons:/bin/sh:with:colons
maxuid:x:4294967295:1::/:/bin/sh
last:x:2000:2000::/home/last:/bin/sh`

func writePasswd(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestParsePasswd(t *testing.T) {
	names, malformed, firstBad := parsePasswd(samplePasswd)

	want := map[uint32]string{
		0:          "root",
		1:          "daemon",
		101:        "nginx",
		1000:       "windows",
		1001:       "colons",
		4294967295: "maxuid",
		2000:       "last",
	}
	for uid, name := range want {
		if got, ok := names[uid]; !ok || got != name {
			t.Errorf("names[%d] = %q, %v; want %q", uid, got, ok, name)
		}
	}
	for uid, name := range names {
		if _, ok := want[uid]; !ok {
			t.Errorf("names has unexpected uid %d (%q)", uid, name)
		}
	}
	// too:few:fields, noname-uid, the empty name, negative and toolarge.
	if malformed != 5 {
		t.Errorf("malformed = %d, want 5", malformed)
	}
	if firstBad != 7 {
		t.Errorf("first malformed line = %d, want 7", firstBad)
	}
}

func TestParsePasswdEmpty(t *testing.T) {
	for _, data := range []string{"", "\n\n", "# only a comment\n"} {
		names, malformed, _ := parsePasswd(data)
		if len(names) != 0 || malformed != 0 {
			t.Errorf("parsePasswd(%q) = %d names, %d malformed; want none", data, len(names), malformed)
		}
	}
}

// newTestUsers returns Users on a file in a temporary directory, with a
// clock the test advances and the log output.
func newTestUsers(t *testing.T, content *string) (*Users, string, *time.Time, *bytes.Buffer) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "passwd")
	if content != nil {
		writePasswd(t, path, *content)
	}
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	u := &Users{path: path, logger: logger, now: func() time.Time { return now }}
	u.mu.Lock()
	u.check(now)
	u.mu.Unlock()
	return u, path, &now, &logs
}

func TestUsersName(t *testing.T) {
	content := "root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n"
	u, _, _, logs := newTestUsers(t, &content)

	tests := []struct {
		uid       uint32
		wantName  string
		wantFound bool
	}{
		{0, "root", true},
		{1000, "alice", true},
		{1001, "", false},
	}
	for _, tt := range tests {
		name, found := u.Name(tt.uid)
		if name != tt.wantName || found != tt.wantFound {
			t.Errorf("Name(%d) = %q, %v; want %q, %v", tt.uid, name, found, tt.wantName, tt.wantFound)
		}
	}
	if logs.Len() != 0 {
		t.Errorf("logs = %q, want none for a valid file", logs.String())
	}
}

func TestUsersLogsMalformedLinesOncePerLoad(t *testing.T) {
	content := "alice:x:1000:1000::/home/alice:/bin/sh\nbroken line\nbob:x:zz:1::/:/bin/sh\n"
	u, _, now, logs := newTestUsers(t, &content)

	if name, ok := u.Name(1000); !ok || name != "alice" {
		t.Errorf("Name(1000) = %q, %v; want alice from the valid line", name, ok)
	}
	*now = now.Add(time.Minute)
	u.Name(1000) // checks the unchanged file again

	if got := strings.Count(logs.String(), "level=WARN"); got != 1 {
		t.Errorf("%d Warn records, want 1:\n%s", got, logs)
	}
	if !strings.Contains(logs.String(), "lines=2") || !strings.Contains(logs.String(), "first_line=2") {
		t.Errorf("log %q lacks lines=2 first_line=2", logs)
	}
}

func TestUsersMissingFile(t *testing.T) {
	u, path, now, logs := newTestUsers(t, nil)

	if name, ok := u.Name(0); ok {
		t.Errorf("Name(0) = %q, true; want no name without a file", name)
	}
	for range 3 {
		*now = now.Add(time.Minute)
		u.Name(0)
	}
	if got := strings.Count(logs.String(), "level=WARN"); got != 1 {
		t.Errorf("%d Warn records for a missing file read 4 times, want 1:\n%s", got, logs)
	}
	if !strings.Contains(logs.String(), path) {
		t.Errorf("log %q does not name the path %s", logs, path)
	}

	writePasswd(t, path, "root:x:0:0::/root:/bin/sh\n")
	*now = now.Add(time.Minute)
	if name, ok := u.Name(0); !ok || name != "root" {
		t.Errorf("Name(0) after the file appeared = %q, %v; want root", name, ok)
	}
}

func TestUsersReloadsChangedFile(t *testing.T) {
	content := "alice:x:1000:1000::/home/alice:/bin/sh\n"
	u, path, now, _ := newTestUsers(t, &content)
	if name, _ := u.Name(1000); name != "alice" {
		t.Fatalf("Name(1000) = %q, want alice", name)
	}

	writePasswd(t, path, "alicia:x:1000:1000::/home/alicia:/bin/sh\nbob:x:1001:1001::/home/bob:/bin/sh\n")
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}

	*now = now.Add(usersCheckInterval - time.Millisecond)
	if name, _ := u.Name(1000); name != "alice" {
		t.Errorf("Name(1000) before the check interval = %q, want the old alice", name)
	}

	*now = now.Add(time.Millisecond)
	if name, _ := u.Name(1000); name != "alicia" {
		t.Errorf("Name(1000) after the check interval = %q, want alicia", name)
	}
	if name, ok := u.Name(1001); !ok || name != "bob" {
		t.Errorf("Name(1001) = %q, %v; want bob", name, ok)
	}
}

func TestUsersReloadsOnSizeChangeAlone(t *testing.T) {
	content := "alice:x:1000:1000::/home/alice:/bin/sh\n"
	u, path, now, _ := newTestUsers(t, &content)
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}

	writePasswd(t, path, "alice:x:1000:1000::/home/alice:/bin/sh\nbob:x:1001:1001::/:/bin/sh\n")
	if err := os.Chtimes(path, info.ModTime(), info.ModTime()); err != nil {
		t.Fatal(err)
	}
	*now = now.Add(usersCheckInterval)
	if name, ok := u.Name(1001); !ok || name != "bob" {
		t.Errorf("Name(1001) = %q, %v; want bob after a size change", name, ok)
	}
}

func TestUsersForgetsNamesOfRemovedFile(t *testing.T) {
	content := "alice:x:1000:1000::/home/alice:/bin/sh\n"
	u, path, now, logs := newTestUsers(t, &content)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	*now = now.Add(usersCheckInterval)
	if name, ok := u.Name(1000); ok {
		t.Errorf("Name(1000) = %q, true; want no name after the file was removed", name)
	}
	if got := strings.Count(logs.String(), "level=WARN"); got != 1 {
		t.Errorf("%d Warn records, want 1:\n%s", got, logs)
	}
}

func TestNewUsersDefaults(t *testing.T) {
	u := NewUsers("", nil)
	if u.path != DefaultPasswdPath {
		t.Errorf("path = %q, want %q", u.path, DefaultPasswdPath)
	}
	if u.logger == nil {
		t.Error("logger is nil, want slog.Default()")
	}
}

func TestNewUsersReadsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "passwd")
	writePasswd(t, path, "svc:x:998:998::/:/sbin/nologin\n")
	u := NewUsers(path, slog.New(slog.DiscardHandler))
	if name, ok := u.Name(998); !ok || name != "svc" {
		t.Errorf("Name(998) = %q, %v; want svc", name, ok)
	}
}

func TestNilUsersHasNoNames(t *testing.T) {
	var u *Users
	if name, ok := u.Name(0); ok || name != "" {
		t.Errorf("Name(0) on nil Users = %q, %v; want \"\", false", name, ok)
	}
}

func TestUsersRefusesFIFOAndDevices(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "passwd")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("cannot make a FIFO here: %v", err)
	}
	for _, path := range []string{fifo, "/dev/zero"} {
		var logs bytes.Buffer
		done := make(chan *Users, 1)
		go func() { done <- NewUsers(path, slog.New(slog.NewTextHandler(&logs, nil))) }()
		select {
		case u := <-done:
			if name, ok := u.Name(0); ok {
				t.Errorf("%s: Name(0) = %q; want no names", path, name)
			}
			if !strings.Contains(logs.String(), "not a regular file") {
				t.Errorf("%s: log %q does not say it is not a regular file", path, logs.String())
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("NewUsers(%s) still blocked after 5 s", path)
		}
	}
}

func TestUsersRefusesOversizedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "passwd")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	// A sparse file one byte over the limit, which begins with a valid line.
	if _, err := f.WriteString("root:x:0:0::/root:/bin/sh\n"); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(maxPasswdBytes + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()

	var logs bytes.Buffer
	u := NewUsers(path, slog.New(slog.NewTextHandler(&logs, nil)))
	if name, ok := u.Name(0); ok {
		t.Errorf("Name(0) = %q from a file over the limit; want no names", name)
	}
	if !strings.Contains(logs.String(), "larger than") {
		t.Errorf("log %q does not say the file is too large", logs.String())
	}
}
