package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// nginxFileSize is the size of the file nginx serves with sendfile.
const nginxFileSize = 64 << 10

// nginxFileName is its name under the server root.
const nginxFileName = "file-64k.bin"

// nginxServer is a running nginx with one worker on a loopback port.
type nginxServer struct {
	cmd  *exec.Cmd
	port int
	done chan struct{}
	err  error
	log  string
}

// nginxConfig is the whole configuration: one worker, sendfile on, no
// access log, so that a request costs what serving the file costs. The
// placeholders are the prefix directory, the port and the server root.
const nginxConfig = `daemon off;
master_process on;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    client_body_temp_path %[1]s/client_body;
    proxy_temp_path %[1]s/proxy;
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:%[2]d;
        root %[3]s;
    }
}
`

// startNginx writes a configuration and a 64 KiB file under dir, which
// must be readable by the worker's user, starts nginx and waits until it
// accepts connections.
func startNginx(nginxPath, dir string) (*nginxServer, error) {
	root := filepath.Join(dir, "www")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	content := make([]byte, nginxFileSize)
	_, _ = rand.Read(content)
	if err := os.WriteFile(filepath.Join(root, nginxFileName), content, 0o644); err != nil {
		return nil, err
	}

	port, err := freeLoopbackPort()
	if err != nil {
		return nil, err
	}
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, fmt.Appendf(nil, nginxConfig, dir, port, root), 0o644); err != nil {
		return nil, err
	}

	logPath := filepath.Join(dir, "nginx.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd := exec.Command(nginxPath, "-p", dir, "-c", confPath)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", nginxPath, err)
	}
	n := &nginxServer{cmd: cmd, port: port, done: make(chan struct{}), log: logPath}
	go func() {
		n.err = cmd.Wait()
		close(n.done)
	}()

	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", n.address(), time.Second)
		if err == nil {
			conn.Close()
			return n, nil
		}
		select {
		case <-n.done:
			return nil, fmt.Errorf("nginx exited before it listened: %v\n%s", n.err, tail(logPath))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			n.stop()
			return nil, fmt.Errorf("nginx did not listen on %s within 10 s\n%s", n.address(), tail(logPath))
		}
	}
}

func (n *nginxServer) address() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(n.port)) }

// stop sends nginx SIGTERM, which makes it quit at once, and waits for it.
func (n *nginxServer) stop() {
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(10 * time.Second):
		_ = n.cmd.Process.Kill()
		<-n.done
	}
}

func freeLoopbackPort() (int, error) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free loopback port: %w", err)
	}
	defer listener.Close()
	return listener.Addr().(*net.TCPAddr).Port, nil
}

// loadResult is what one load run achieved.
type loadResult struct {
	Requests int64
	Elapsed  time.Duration
}

// runLoad fetches the file over connections keep-alive connections for d
// and counts the complete responses. Any failed request stops the run,
// because a run with errors is not comparable with the others.
func runLoad(address string, connections int, d time.Duration) (loadResult, error) {
	request := []byte("GET /" + nginxFileName + " HTTP/1.1\r\nHost: bench\r\n\r\n")
	var requests atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup

	start := time.Now()
	deadline := start.Add(d)
	for range connections {
		wg.Go(func() {
			n, err := fetchUntil(address, request, deadline)
			requests.Add(n)
			if err != nil {
				errOnce.Do(func() { firstErr = err })
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return loadResult{}, firstErr
	}
	return loadResult{Requests: requests.Load(), Elapsed: elapsed}, nil
}

// fetchUntil sends the request on one connection, one at a time, until
// the deadline, and returns how many complete responses it read.
func fetchUntil(address string, request []byte, deadline time.Time) (int64, error) {
	conn, err := net.Dial("tcp", address)
	if err != nil {
		return 0, fmt.Errorf("connecting to nginx at %s: %w", address, err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(deadline.Add(10 * time.Second))
	reader := bufio.NewReaderSize(conn, 128<<10)

	var n int64
	for time.Now().Before(deadline) {
		if _, err := conn.Write(request); err != nil {
			return n, fmt.Errorf("sending a request to nginx: %w", err)
		}
		length, err := readResponseHead(reader)
		if err != nil {
			return n, err
		}
		if length != nginxFileSize {
			return n, fmt.Errorf("nginx sent a body of %d bytes, want %d", length, nginxFileSize)
		}
		if _, err := reader.Discard(int(length)); err != nil {
			return n, fmt.Errorf("reading a response body from nginx: %w", err)
		}
		n++
	}
	return n, nil
}

// readResponseHead reads a response's status line and headers, checks for
// status 200 and returns the Content-Length.
func readResponseHead(r *bufio.Reader) (int64, error) {
	status, err := r.ReadSlice('\n')
	if err != nil {
		return 0, fmt.Errorf("reading a response from nginx: %w", err)
	}
	if !bytes.HasPrefix(status, []byte("HTTP/1.1 200 ")) {
		return 0, fmt.Errorf("nginx answered %q, want status 200", bytes.TrimSpace(status))
	}
	length := int64(-1)
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return 0, fmt.Errorf("reading response headers from nginx: %w", err)
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if ok && strings.EqualFold(string(name), "Content-Length") {
			length, err = strconv.ParseInt(string(bytes.TrimSpace(value)), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("invalid Content-Length %q from nginx", value)
			}
		}
	}
	if length < 0 {
		return 0, errors.New("nginx sent a response without Content-Length")
	}
	return length, nil
}
