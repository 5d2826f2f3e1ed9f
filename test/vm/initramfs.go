package main

import (
	_ "embed"
	"fmt"
	"sort"
	"strings"
)

//go:embed init.sh
var initScript []byte

// initramfsConfig lists what goes into the test VM's initramfs.
type initramfsConfig struct {
	busybox     string            // static busybox binary on the host
	testBinary  string            // static test binary, installed as /sendfile-otel-bpf.test
	callersDir  string            // directory of 32-bit callers, copied to /callers; may be empty
	modes       []string          // attach modes to run, in order
	modeTimeout int               // seconds per mode
	testArgs    string            // extra arguments for the test binary
	env         map[string]string // extra environment variables for the suite
}

// buildInitramfs writes the initramfs archive to name.
func buildInitramfs(name string, config initramfsConfig) error {
	w, err := newCpioWriter(name)
	if err != nil {
		return err
	}
	if err := fillInitramfs(w, config); err != nil {
		w.close()
		return fmt.Errorf("build initramfs %s: %w", name, err)
	}
	return w.close()
}

func fillInitramfs(w *cpioWriter, config initramfsConfig) error {
	for _, dir := range []string{"bin", "sbin", "usr/bin", "usr/sbin", "dev", "proc", "sys", "root", "etc", "callers"} {
		if err := w.addDir(dir, 0o755); err != nil {
			return err
		}
	}
	if err := w.addDir("tmp", 0o1777); err != nil {
		return err
	}

	// The kernel opens /dev/console for init's standard streams before
	// init can mount devtmpfs.
	if err := w.addCharDevice("dev/console", 0o600, 5, 1); err != nil {
		return err
	}
	if err := w.addCharDevice("dev/null", 0o666, 1, 3); err != nil {
		return err
	}

	if err := w.addFile("bin/busybox", config.busybox); err != nil {
		return err
	}
	if err := w.addSymlink("bin/sh", "busybox"); err != nil {
		return err
	}

	if err := w.addBytes("init", 0o755, initScript); err != nil {
		return err
	}
	if err := w.addBytes("etc/vmtest.conf", 0o644, []byte(vmtestConf(config))); err != nil {
		return err
	}
	// User and group lookups in the suite need these files.
	if err := w.addBytes("etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")); err != nil {
		return err
	}
	if err := w.addBytes("etc/group", 0o644, []byte("root:x:0:\nnogroup:x:65534:\n")); err != nil {
		return err
	}

	if err := w.addFile("sendfile-otel-bpf.test", config.testBinary); err != nil {
		return err
	}
	if config.callersDir != "" {
		if err := w.addDirContents("callers", config.callersDir); err != nil {
			return err
		}
	}
	return nil
}

// vmtestConf returns the shell fragment that /init sources.
func vmtestConf(config initramfsConfig) string {
	var b strings.Builder
	fmt.Fprintf(&b, "VMTEST_MODES=%s\n", shellQuote(strings.Join(config.modes, " ")))
	fmt.Fprintf(&b, "VMTEST_MODE_TIMEOUT=%d\n", config.modeTimeout)
	fmt.Fprintf(&b, "VMTEST_TEST_ARGS=%s\n", shellQuote(config.testArgs))
	keys := make([]string, 0, len(config.env))
	for key := range config.env {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	for _, key := range keys {
		fmt.Fprintf(&b, "export %s=%s\n", key, shellQuote(config.env[key]))
	}
	return b.String()
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
