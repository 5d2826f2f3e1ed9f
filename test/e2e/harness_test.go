//go:build linux

package e2e

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sendfile-otel/sendfile-otel/internal/jaegertest"
	"github.com/sendfile-otel/sendfile-otel/internal/testenv"
)

var skipOrFail = testenv.SkipOrFail

// requireRoot skips or fails a test that needs root, and skips it in -short mode.
func requireRoot(t testing.TB) {
	t.Helper()
	testenv.RequireRoot(t)
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
}

var (
	buildOnce sync.Once
	agentPath string
	buildErr  error
)

// agentBinary builds cmd/sendfile-otel once per test run.
func agentBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		root, err := jaegertest.RepoRoot()
		if err != nil {
			buildErr = err
			return
		}
		dir, err := os.MkdirTemp("", "sendfile-otel-e2e-")
		if err != nil {
			buildErr = err
			return
		}
		agentPath = filepath.Join(dir, "sendfile-otel")
		cmd := exec.Command("go", "build", "-o", agentPath, "./cmd/sendfile-otel")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/sendfile-otel: %w: %s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return agentPath
}

// agent is a running sendfile-otel process.
type agent struct {
	cmd    *exec.Cmd
	log    *lockedBuffer
	stdout *lockedBuffer
	exited chan error
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startAgent runs the agent with env added to the test's environment and
// waits until it logs that it runs.
func startAgent(t testing.TB, env []string, args ...string) *agent {
	t.Helper()
	cmd := exec.Command(agentBinary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	a := &agent{cmd: cmd, log: &lockedBuffer{}, stdout: &lockedBuffer{}, exited: make(chan error, 1)}
	cmd.Stderr = a.log
	cmd.Stdout = a.stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { a.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-a.exited
		}
		if t.Failed() {
			t.Logf("agent log:\n%s", a.log.String())
		}
	})

	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(a.log.String(), "sendfile-otel running") {
		select {
		case err := <-a.exited:
			t.Fatalf("agent exited before it ran: %v\n%s", err, a.log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent did not start within 30 s:\n%s", a.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return a
}

// stop sends SIGTERM and returns the exit error and how long the exit took.
func (a *agent) stop(t testing.TB, bound time.Duration) (error, time.Duration) {
	t.Helper()
	start := time.Now()
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-a.exited:
		return err, time.Since(start)
	case <-time.After(bound):
		t.Fatalf("agent did not exit within %s of SIGTERM:\n%s", bound, a.log.String())
	}
	return nil, 0
}

// nginx is a running nginx serving a directory on a loopback port.
type nginx struct {
	root   string
	port   int
	master int
}

// startNginx serves root on 127.0.0.1 with sendfile on and one worker
// running as www-data.
func startNginx(t testing.TB, root string) *nginx {
	t.Helper()
	return startNginxOn(t, root, "127.0.0.1")
}

// startNginxOn is startNginx on another loopback address, such as ::1.
func startNginxOn(t testing.TB, root, host string) *nginx {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if _, statErr := os.Stat("/usr/sbin/nginx"); statErr != nil {
			skipOrFail(t, "nginx not installed (apt-get install nginx-light)")
		}
		bin = "/usr/sbin/nginx"
	}
	prefix := t.TempDir()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		skipOrFail(t, "cannot listen on %s: %v", host, err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	listen := net.JoinHostPort(host, strconv.Itoa(port))

	conf := fmt.Sprintf(`daemon off;
master_process on;
worker_processes 1;
user www-data;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events { worker_connections 64; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    server {
        listen %[2]s;
        root %[3]s;
    }
}
`, prefix, listen, root)
	confPath := filepath.Join(prefix, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", prefix, "-c", confPath)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})

	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.Dial("tcp", listen)
		if err == nil {
			conn.Close()
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("nginx exited: %v: %s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx did not listen within 10 s: %s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return &nginx{root: root, port: port, master: cmd.Process.Pid}
}

// nginxUser is the user the configuration above runs workers as.
const nginxUser = "www-data"

// nginxWorkerUID looks up the uid of nginxUser in the user database, which is
// what the kernel reports for a worker once it has dropped root.
func nginxWorkerUID(t testing.TB) int {
	t.Helper()
	u, err := user.Lookup(nginxUser)
	if err != nil {
		skipOrFail(t, "nginx workers run as %s, which this machine lacks: %v", nginxUser, err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		t.Fatalf("user %s has an invalid uid %q: want a number", nginxUser, u.Uid)
	}
	return uid
}

// workers returns the pids of the master's children once at least one of
// them runs as nginxUser. Listening comes before the fork and the setuid,
// so a child seen too early may still be root, and its calls would count
// under uid 0.
func (n *nginx) workers(t testing.TB) []int {
	t.Helper()
	want := nginxWorkerUID(t)
	var pids []int
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", n.master, n.master))
		if err != nil {
			t.Fatal(err)
		}
		pids = pids[:0]
		ready := false
		for _, field := range strings.Fields(string(data)) {
			pid, err := strconv.Atoi(field)
			if err != nil {
				continue
			}
			pids = append(pids, pid)
			if uid, ok := realUID(pid); ok && uid == want {
				ready = true
			}
		}
		if ready {
			return pids
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx master %d has no worker running as %s (uid %d) after 10 s; children: %v", n.master, nginxUser, want, pids)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// realUID returns the real uid of a process from /proc, false when the
// process is gone or its status has no Uid line.
func realUID(pid int) (int, bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if fields := strings.Fields(line); len(fields) >= 2 && fields[0] == "Uid:" {
			uid, err := strconv.Atoi(fields[1])
			return uid, err == nil
		}
	}
	return 0, false
}

// worldDir returns a temporary directory that the nginx worker can read.
func worldDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sendfile-otel-www-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func writeFile(t testing.TB, path string, size int) {
	t.Helper()
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i * 7)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// fdTargets maps each fd of a process to its link target.
func fdTargets(pid int) map[int]string {
	out := map[int]string{}
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return out
	}
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if target, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil {
			out[fd] = target
		}
	}
	return out
}

// socketInode finds the inode of the TCP socket with these ports in
// /proc/net/tcp (local and remote as the socket's owner sees them).
func socketInode(t testing.TB, localPort, remotePort int) string {
	t.Helper()
	data, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	local := fmt.Sprintf(":%04X", localPort)
	remote := fmt.Sprintf(":%04X", remotePort)
	for _, line := range strings.Split(string(data), "\n")[1:] {
		fields := strings.Fields(line)
		if len(fields) >= 10 && strings.HasSuffix(fields[1], local) && strings.HasSuffix(fields[2], remote) {
			return fields[9]
		}
	}
	t.Fatalf("no TCP socket %d -> %d in /proc/net/tcp", localPort, remotePort)
	return ""
}
