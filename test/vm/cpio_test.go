package main

import (
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// cpioEntry is one parsed entry of a "newc" archive.
type cpioEntry struct {
	name      string
	mode      uint32
	rdevMajor uint32
	rdevMinor uint32
	data      string
}

// readCpio parses a gzip-compressed "newc" archive up to its trailer.
func readCpio(t *testing.T, name string) []cpioEntry {
	t.Helper()
	file, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	gz, err := gzip.NewReader(file)
	if err != nil {
		t.Fatal(err)
	}
	archive, err := io.ReadAll(gz)
	if err != nil {
		t.Fatal(err)
	}

	field := func(header []byte, index int) uint32 {
		value, err := strconv.ParseUint(string(header[6+8*index:6+8*index+8]), 16, 32)
		if err != nil {
			t.Fatalf("header field %d: %v", index, err)
		}
		return uint32(value)
	}
	align := func(n int) int { return (n + 3) &^ 3 }

	var entries []cpioEntry
	for offset := 0; ; {
		if offset+110 > len(archive) {
			t.Fatalf("archive ends at %d without a trailer", offset)
		}
		header := archive[offset : offset+110]
		if string(header[:6]) != "070701" {
			t.Fatalf("bad magic %q at offset %d", header[:6], offset)
		}
		nameSize := int(field(header, 11))
		dataSize := int(field(header, 6))
		name := string(archive[offset+110 : offset+110+nameSize-1])
		dataStart := align(offset + 110 + nameSize)
		if name == "TRAILER!!!" {
			return entries
		}
		entries = append(entries, cpioEntry{
			name:      name,
			mode:      field(header, 1),
			rdevMajor: field(header, 9),
			rdevMinor: field(header, 10),
			data:      string(archive[dataStart : dataStart+dataSize]),
		})
		offset = align(dataStart + dataSize)
	}
}

func TestCpioWriterEntries(t *testing.T) {
	dir := t.TempDir()
	source := filepath.Join(dir, "tool")
	if err := os.WriteFile(source, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(dir, "initramfs.cpio.gz")

	w, err := newCpioWriter(name)
	if err != nil {
		t.Fatal(err)
	}
	steps := []error{
		w.addFile("usr/bin/tool", source),
		w.addSymlink("bin/sh", "busybox"),
		w.addCharDevice("dev/console", 0o600, 5, 1),
		w.addBytes("etc/a", 0o644, []byte("odd")),
		w.addDir("usr", 0o755), // already added as a parent: no second entry
		w.close(),
	}
	for i, err := range steps {
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}

	want := []cpioEntry{
		{name: "usr", mode: cpioTypeDir | 0o755},
		{name: "usr/bin", mode: cpioTypeDir | 0o755},
		{name: "usr/bin/tool", mode: cpioTypeRegular | 0o755, data: "#!/bin/sh\n"},
		{name: "bin", mode: cpioTypeDir | 0o755},
		{name: "bin/sh", mode: cpioTypeSymlink | 0o777, data: "busybox"},
		{name: "dev", mode: cpioTypeDir | 0o755},
		{name: "dev/console", mode: cpioTypeCharDev | 0o600, rdevMajor: 5, rdevMinor: 1},
		{name: "etc", mode: cpioTypeDir | 0o755},
		{name: "etc/a", mode: cpioTypeRegular | 0o644, data: "odd"},
	}
	got := readCpio(t, name)
	if len(got) != len(want) {
		t.Fatalf("got %d entries %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}
