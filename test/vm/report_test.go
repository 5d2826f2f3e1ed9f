package main

import (
	"strings"
	"testing"
	"time"
)

func testReport(results ...*kernelResult) *matrixReport {
	return &matrixReport{
		opts: &options{
			modes:       []string{"kprobe", "tracepoint"},
			modeTimeout: 100 * time.Second,
			vmTimeout:   240 * time.Second,
			cpus:        2,
			memoryMiB:   1024,
			workDir:     "build/vm",
		},
		kernels: results,
	}
}

func testKernel(name string) kernel {
	return kernel{
		pkg:       "linux-image-" + name,
		version:   "1.0-1",
		mustOffer: map[string]bool{"kprobe": true, "tracepoint": true},
	}
}

const passingRun = "=== RUN   TestA\n--- PASS: TestA (0.1s)\nPASS\n" +
	"COVERAGE: %s native=true sendfile32=true sendfile64_ia32=false\n" +
	"VERIFIER: %s handle_exit 1200\n"

func passingConsole(modes ...string) string {
	var b strings.Builder
	b.WriteString("SENDFILE-OTEL-VMTEST BOOT kernel=6.1.0-50-cloud-amd64\n")
	for _, mode := range modes {
		b.WriteString("SENDFILE-OTEL-VMTEST BEGIN mode=" + mode + "\n")
		b.WriteString(strings.ReplaceAll(passingRun, "%s", mode))
		b.WriteString("SENDFILE-OTEL-VMTEST END mode=" + mode + " status=0 seconds=5\n")
	}
	return b.String()
}

func TestReportAllPassed(t *testing.T) {
	console := passingConsole("kprobe", "tracepoint") + "SENDFILE-OTEL-VMTEST DONE\n"
	report := testReport(&kernelResult{
		kernel:  testKernel("6.1.0-50-cloud-amd64"),
		outcome: &vmOutcome{console: console},
		console: parseConsole(console),
	})

	passed, failed, skipped := report.summary()
	if passed != 2 || failed != 0 || skipped != 0 {
		t.Errorf("summary = %d passed, %d failed, %d skipped; want 2, 0, 0", passed, failed, skipped)
	}
	page := report.markdown()
	row := "| 6.1.0-50-cloud-amd64 | 1.0-1 | kprobe | passed | 1 | 1 | 0 | 0 | yes | yes | no | 5 |"
	if !strings.Contains(page, row) {
		t.Errorf("page lacks the row %q:\n%s", row, page)
	}
	if !strings.Contains(page, "| handle_exit | 1200 |") {
		t.Errorf("page lacks the verifier count:\n%s", page)
	}
	if strings.Contains(page, "## Failures") {
		t.Errorf("page lists failures:\n%s", page)
	}
}

func TestReportHangAfterLastMode(t *testing.T) {
	// Both modes ended, but the VM never printed DONE and was killed.
	console := passingConsole("kprobe", "tracepoint")
	report := testReport(&kernelResult{
		kernel:  testKernel("6.1.0-50-cloud-amd64"),
		outcome: &vmOutcome{console: console, timedOut: true, timeout: 4 * time.Minute},
		console: parseConsole(console),
	})

	passed, failed, _ := report.summary()
	if passed != 2 || failed != 1 {
		t.Errorf("summary = %d passed, %d failed; want 2 passed and the VM failed", passed, failed)
	}
	failures := report.failures()
	if len(failures) != 1 || !strings.Contains(failures[0].title, "killed after 4m0s") {
		t.Fatalf("failures = %+v, want one hang", failures)
	}
	if len(failures[0].lines) == 0 {
		t.Error("the hang has no console lines")
	}
}

func TestReportHangDuringMode(t *testing.T) {
	console := "SENDFILE-OTEL-VMTEST BOOT kernel=6.1.0-50-cloud-amd64\n" +
		"SENDFILE-OTEL-VMTEST BEGIN mode=kprobe\n=== RUN   TestStuck\n"
	report := testReport(&kernelResult{
		kernel:  testKernel("6.1.0-50-cloud-amd64"),
		outcome: &vmOutcome{console: console, timedOut: true},
		console: parseConsole(console),
	})

	// The VM's failure is already counted by its two failed modes.
	passed, failed, _ := report.summary()
	if passed != 0 || failed != 2 {
		t.Errorf("summary = %d passed, %d failed; want 0 and 2", passed, failed)
	}
	page := report.markdown()
	for _, want := range []string{
		"| kprobe | did not finish |",
		"| tracepoint | not run |",
		"| n/a | n/a | n/a |",
		"running TestStuck",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q:\n%s", want, page)
		}
	}
}

func TestReportModeNotOffered(t *testing.T) {
	console := "SENDFILE-OTEL-VMTEST BOOT kernel=5.4.0-old\n" +
		"SENDFILE-OTEL-VMTEST BEGIN mode=kprobe\nMODE-UNSUPPORTED: kprobe: no kprobes\nPASS\n" +
		"SENDFILE-OTEL-VMTEST END mode=kprobe status=0 seconds=1\n" +
		passingConsole("tracepoint")[len("SENDFILE-OTEL-VMTEST BOOT kernel=6.1.0-50-cloud-amd64\n"):] +
		"SENDFILE-OTEL-VMTEST DONE\n"
	k := testKernel("5.4.0-old")
	k.mustOffer = map[string]bool{"tracepoint": true}
	report := testReport(&kernelResult{kernel: k, outcome: &vmOutcome{console: console}, console: parseConsole(console)})

	passed, failed, skipped := report.summary()
	if passed != 1 || failed != 0 || skipped != 1 {
		t.Errorf("summary = %d passed, %d failed, %d skipped; want 1, 0, 1", passed, failed, skipped)
	}
	if page := report.markdown(); !strings.Contains(page, "- 5.4.0-old, kprobe: no kprobes") {
		t.Errorf("page lacks the reason kprobe is not offered:\n%s", page)
	}
}
