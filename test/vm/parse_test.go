package main

import (
	"strings"
	"testing"
)

// consoleOutput is the serial console of a VM that ran two modes, with
// kernel messages and the carriage returns of a serial line.
const consoleOutput = "[    0.024000] ..MP-BIOS bug: 8254 timer not connected to IO-APIC\r\n" +
	"SENDFILE-OTEL-VMTEST BOOT kernel=6.1.0-50-cloud-amd64 uptime=2.35\r\n" +
	"SENDFILE-OTEL-VMTEST BEGIN mode=kprobe\r\n" +
	"VERIFIER: kprobe kprobe_sendfile64 412\r\n" +
	"VERIFIER: fentry fentry_sendfile64 398\r\n" +
	"=== RUN   TestNative\r\n" +
	"--- PASS: TestNative (0.20s)\r\n" +
	"=== RUN   TestTable\r\n" +
	"=== RUN   TestTable/zero\r\n" +
	"    --- PASS: TestTable/zero (0.00s)\r\n" +
	"=== RUN   TestTable/big\r\n" +
	"    probe_test.go:10: got 1, want 2\r\n" +
	"    --- FAIL: TestTable/big (0.00s)\r\n" +
	"--- FAIL: TestTable (0.01s)\r\n" +
	"=== RUN   TestCompat\r\n" +
	"    helpers_test.go:40: no callers\r\n" +
	"--- SKIP: TestCompat (0.00s)\r\n" +
	"FAIL\r\n" +
	"COVERAGE: kprobe native=true sendfile32=false sendfile64_ia32=true\r\n" +
	"SENDFILE-OTEL-VMTEST END mode=kprobe status=1 seconds=12\r\n" +
	"SENDFILE-OTEL-VMTEST BEGIN mode=fentry\r\n" +
	"MODE-UNSUPPORTED: fentry: attach fentry: not supported\r\n" +
	"PASS\r\n" +
	"SENDFILE-OTEL-VMTEST END mode=fentry status=0 seconds=1\r\n" +
	"SENDFILE-OTEL-VMTEST DONE\r\n"

func TestParseConsoleSplitsModes(t *testing.T) {
	result := parseConsole(consoleOutput)

	if !result.booted || !result.done {
		t.Errorf("booted=%v done=%v, want both true", result.booted, result.done)
	}
	if result.release != "6.1.0-50-cloud-amd64" {
		t.Errorf("release = %q, want 6.1.0-50-cloud-amd64", result.release)
	}
	if len(result.runs) != 2 {
		t.Fatalf("got %d runs, want 2", len(result.runs))
	}

	kprobe := result.run("kprobe")
	if kprobe == nil || !kprobe.ended || kprobe.status != 1 || kprobe.seconds != 12 {
		t.Fatalf("kprobe run = %+v, want ended with status 1 after 12 s", kprobe)
	}
	want := testCounts{run: 5, passed: 2, skipped: 1, failed: 2}
	if kprobe.counts != want {
		t.Errorf("kprobe counts = %+v, want %+v", kprobe.counts, want)
	}
	if got := strings.Join(kprobe.failures, " "); got != "TestTable/big TestTable" {
		t.Errorf("kprobe failures = %q, want \"TestTable/big TestTable\"", got)
	}
	if kprobe.coverage["native"] != "true" || kprobe.coverage["sendfile32"] != "false" || kprobe.coverage["sendfile64_ia32"] != "true" {
		t.Errorf("kprobe coverage = %v", kprobe.coverage)
	}
	// The kprobe run printed the counts of both modes.
	if got := result.verifier.counts["kprobe"]["kprobe_sendfile64"]; got != 412 {
		t.Errorf("kprobe_sendfile64 count = %d, want 412", got)
	}
	if got := result.verifier.counts["fentry"]["fentry_sendfile64"]; got != 398 {
		t.Errorf("fentry_sendfile64 count = %d, want 398", got)
	}

	fentry := result.run("fentry")
	if fentry == nil || fentry.unsupported != "attach fentry: not supported" {
		t.Fatalf("fentry run = %+v, want unsupported", fentry)
	}
	if fentry.coverage != nil {
		t.Errorf("fentry coverage = %v, want none", fentry.coverage)
	}
}

func TestParseConsoleKernelPanic(t *testing.T) {
	output := "SENDFILE-OTEL-VMTEST BOOT kernel=6.12.118+deb12-cloud-amd64\n" +
		"SENDFILE-OTEL-VMTEST BEGIN mode=tracepoint\n" +
		"=== RUN   TestShortWrite\n" +
		"[  131.8] Oops: int3: 0000 [#1] PREEMPT SMP NOPTI\n" +
		"[  131.9] Kernel panic - not syncing: Fatal exception in interrupt\n"
	result := parseConsole(output)

	if result.done {
		t.Error("done = true, want false")
	}
	if result.panic != "Kernel panic - not syncing: Fatal exception in interrupt" {
		t.Errorf("panic = %q", result.panic)
	}
	verdict, reason := result.run("tracepoint").verdict(true)
	if verdict != verdictUnfinished || !strings.Contains(reason, "TestShortWrite") {
		t.Errorf("verdict = %q, %q; want %q naming TestShortWrite", verdict, reason, verdictUnfinished)
	}
}

func TestParseConsoleMarkerAfterKernelMessage(t *testing.T) {
	// A kernel message can start on the same console line as a marker.
	output := "SENDFILE-OTEL-VMTEST BEGIN mode=kprobe\n" +
		"=== RUN   TestNative\n--- PASS: TestNative (0.1s)\nPASS\n" +
		"[   3.1] random: crng init doneSENDFILE-OTEL-VMTEST END mode=kprobe status=0 seconds=3\n"
	run := parseConsole(output).run("kprobe")
	if run == nil || !run.ended || run.status != 0 {
		t.Fatalf("run = %+v, want ended with status 0", run)
	}
}

func TestModeRunVerdict(t *testing.T) {
	passed := testCounts{run: 3, passed: 3}
	cases := []struct {
		name      string
		run       *modeRun
		mustOffer bool
		want      string
	}{
		{"missing run", nil, true, verdictNotRun},
		{"not begun", &modeRun{mode: "kprobe", sigquitLine: -1}, true, verdictNotRun},
		{"not ended", &modeRun{mode: "kprobe", begun: true, sigquitLine: -1}, true, verdictUnfinished},
		{"passed", &modeRun{mode: "kprobe", begun: true, ended: true, counts: passed, sigquitLine: -1}, true, verdictPassed},
		{"exit status", &modeRun{mode: "kprobe", begun: true, ended: true, status: 1, counts: passed, sigquitLine: -1}, true, verdictFailed},
		{"failed test with status 0", &modeRun{mode: "kprobe", begun: true, ended: true, counts: testCounts{run: 1, failed: 1}, sigquitLine: -1}, true, verdictFailed},
		{"no tests", &modeRun{mode: "kprobe", begun: true, ended: true, sigquitLine: -1}, true, verdictFailed},
		{"sigquit", &modeRun{mode: "kprobe", begun: true, ended: true, status: 2, sigquitLine: 4}, true, verdictTimedOut},
		{"unsupported, optional", &modeRun{mode: "fentry", begun: true, ended: true, unsupported: "no BTF", sigquitLine: -1}, false, verdictNotOffered},
		{"unsupported, required", &modeRun{mode: "fentry", begun: true, ended: true, unsupported: "no BTF", sigquitLine: -1}, true, verdictFailed},
		{"unsupported with failure", &modeRun{mode: "fentry", begun: true, ended: true, status: 1, unsupported: "no BTF", sigquitLine: -1}, false, verdictFailed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, reason := tc.run.verdict(tc.mustOffer)
			if got != tc.want {
				t.Errorf("verdict = %q (%s), want %q", got, reason, tc.want)
			}
			if got != verdictPassed && reason == "" {
				t.Errorf("verdict %q has no reason", got)
			}
		})
	}
}

func TestParseSuiteOutputTimedOut(t *testing.T) {
	output := "=== RUN   TestHang\nSIGQUIT: quit\nPC=0x40acce m=0 sigcode=0\n\ngoroutine 1 [chan receive]:\n"
	run := parseSuiteOutput("tracepoint", output, 2, 100)

	verdict, reason := run.verdict(true)
	if verdict != verdictTimedOut || !strings.Contains(reason, "TestHang") {
		t.Errorf("verdict = %q, %q; want %q naming TestHang", verdict, reason, verdictTimedOut)
	}
	excerpt := run.logExcerpt(4)
	if len(excerpt) != 4 || excerpt[0] != "=== RUN   TestHang" || excerpt[1] != "SIGQUIT: quit" {
		t.Errorf("excerpt = %q, want the RUN line, then the dump's start", excerpt)
	}
}

func TestVerifierRejectedByKernel(t *testing.T) {
	run := parseSuiteOutput("fentry", "VERIFIER: fentry refused-by-kernel\n", 0, 1)
	if !run.verifier.rejected["fentry"] {
		t.Errorf("rejected = %v, want fentry", run.verifier.rejected)
	}
	if len(run.verifier.counts) != 0 {
		t.Errorf("counts = %v, want none", run.verifier.counts)
	}
}

func TestVmtestConfQuotesValues(t *testing.T) {
	conf := vmtestConf(initramfsConfig{
		modes:       []string{"kprobe", "tracepoint"},
		modeTimeout: 90,
		testArgs:    "-test.run=TestA|TestB -test.short",
		env:         map[string]string{"B": "2", "A": "it's"},
	})
	want := "VMTEST_MODES='kprobe tracepoint'\n" +
		"VMTEST_MODE_TIMEOUT=90\n" +
		"VMTEST_TEST_ARGS='-test.run=TestA|TestB -test.short'\n" +
		`export A='it'\''s'` + "\n" +
		"export B='2'\n"
	if conf != want {
		t.Errorf("vmtestConf =\n%s\nwant\n%s", conf, want)
	}
}
