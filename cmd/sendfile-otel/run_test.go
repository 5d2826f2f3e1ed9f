//go:build linux

package main

import (
	"strings"
	"testing"
)

func TestShorten(t *testing.T) {
	if got := shorten("short", 10); got != "short" {
		t.Errorf("shorten kept %q, want it unchanged", got)
	}
	long := strings.Repeat("x", 30)
	got := shorten(long, 10)
	if !strings.HasPrefix(got, strings.Repeat("x", 10)+"...") || !strings.Contains(got, "20 more bytes") {
		t.Errorf("shorten(30 bytes, 10) = %q, want 10 bytes and a note of the 20 left out", got)
	}
}

func TestIgnoredSettingsWithoutSpans(t *testing.T) {
	cfg := config{
		spans:    false,
		explicit: map[string]bool{"pid": true, "comm": true, "log-level": true},
		fromEnv:  map[string]bool{"comm": true},
	}
	got := strings.Join(cfg.ignoredSettings(), " ")
	if got != "--pid SENDFILE_OTEL_COMM" {
		t.Errorf("ignored settings %q, want \"--pid SENDFILE_OTEL_COMM\" (--log-level applies without spans)", got)
	}
	cfg.spans = true
	if got := cfg.ignoredSettings(); len(got) != 0 {
		t.Errorf("with spans on, ignored settings %v, want none", got)
	}
}
