package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// vmConfig sets how qemu runs one VM.
type vmConfig struct {
	qemu      string
	kernel    string // vmlinuz
	initramfs string
	memoryMiB int
	cpus      int
	tcgThread string // "single" or "multi"
	timeout   time.Duration
	logFile   string // where the console output is saved
	// stream, when not nil, receives every console line as it arrives.
	stream io.Writer
	prefix string // put before each streamed line
}

// vmOutcome is what a VM printed and how it ended.
type vmOutcome struct {
	console  string
	timeout  time.Duration // the limit that applied to this VM
	timedOut bool
	// bootTime is the wall time from the qemu start to the BOOT marker, or 0
	// if the marker never came.
	bootTime time.Duration
	wallTime time.Duration
	qemuErr  error // qemu's exit error, if any. Only the console decides the result.
}

// qemuArgs returns the qemu command line for config. The VM has no network
// device, its only console is the serial port on qemu's standard output, and
// a kernel panic ends qemu (panic=-1 reboots at once, -no-reboot exits).
func qemuArgs(config vmConfig) []string {
	return []string{
		// Software emulation, because -enable-kvm hung at boot on the 2-core
		// CI machines. TCG boots the pinned kernels there in 3 to 5 s.
		"-accel", "tcg,thread=" + config.tcgThread,
		"-cpu", "max",
		"-m", fmt.Sprint(config.memoryMiB),
		"-smp", fmt.Sprint(config.cpus),
		"-nodefaults",
		"-display", "none",
		"-serial", "stdio",
		"-no-reboot",
		"-kernel", config.kernel,
		"-initrd", config.initramfs,
		"-append", "console=ttyS0 quiet panic=-1",
	}
}

// runVM boots one VM and returns its console output. It kills qemu when the
// VM runs past config.timeout, and 30 s after /init printed DONE if qemu is
// still running then.
func runVM(config vmConfig) (*vmOutcome, error) {
	logFile, err := os.Create(config.logFile)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()

	cmd := exec.Command(config.qemu, qemuArgs(config)...)
	cmd.Stdin = nil // /dev/null: nothing types on the console
	// qemu gets its own process group, so that killing it also ends any
	// child of a wrapper given as -qemu, which would keep the console open.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	kill := func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr

	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", config.qemu, err)
	}

	outcome := &vmOutcome{timeout: config.timeout}
	// The reader goroutine owns console and outcome.bootTime until it ends,
	// which happens before exited receives qemu's exit.
	var console strings.Builder
	doneMarker := make(chan struct{})
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		reader := bufio.NewReader(stdout)
		sawDone := false
		for {
			line, err := reader.ReadString('\n')
			if line != "" {
				console.WriteString(line)
				logFile.WriteString(line)
				if config.stream != nil {
					fmt.Fprintf(config.stream, "%s%s\n", config.prefix, strings.TrimRight(line, "\r\n"))
				}
				if strings.Contains(line, markerPrefix+"BOOT") && outcome.bootTime == 0 {
					outcome.bootTime = time.Since(start)
				}
				if strings.Contains(line, markerPrefix+"DONE") && !sawDone {
					sawDone = true
					close(doneMarker)
				}
			}
			if err != nil {
				return
			}
		}
	}()

	exited := make(chan error, 1)
	go func() {
		<-readerDone
		exited <- cmd.Wait()
	}()

	timeout := time.NewTimer(config.timeout)
	defer timeout.Stop()
	select {
	case outcome.qemuErr = <-exited:
	case <-timeout.C:
		outcome.timedOut = true
		kill()
		outcome.qemuErr = <-exited
	case <-doneMarker:
		// poweroff -f ends qemu at once. The wait only guards against a VM
		// that hangs while powering off.
		select {
		case outcome.qemuErr = <-exited:
		case <-time.After(30 * time.Second):
			kill()
			outcome.qemuErr = <-exited
		}
	}
	outcome.wallTime = time.Since(start)
	if stderr.Len() > 0 {
		fmt.Fprintf(logFile, "\n--- qemu standard error ---\n%s", stderr.String())
	}
	outcome.console = console.String()
	if outcome.qemuErr != nil && !outcome.timedOut && stderr.Len() > 0 {
		outcome.qemuErr = fmt.Errorf("%w: %s", outcome.qemuErr, strings.TrimSpace(stderr.String()))
	}
	return outcome, nil
}
