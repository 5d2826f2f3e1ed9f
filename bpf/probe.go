//go:build linux

package bpf

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
)

var (
	// ErrStopped is returned by ReadEvent once Stop was called and every
	// event that was still buffered has been read.
	ErrStopped = errors.New("probe stopped")
	// ErrClosed is returned by ReadEvent after Close.
	ErrClosed = errors.New("probe closed")
	// ErrNoSpans is returned by ReadEvent when the probe keeps totals only.
	ErrNoSpans = errors.New("probe opened without span events")
)

// handler is one kernel syscall handler that the programs hook.
type handler struct {
	symbol   string // kernel function name
	kprobe   string // enter program in kprobe mode
	fentry   string // enter program in fentry mode
	required bool   // Open fails without it
	compat   bool   // an ia32 handler, governed by Options.Compat
}

// Refusal records why an attach mode could not be used.
type Refusal struct {
	Mode Mode
	Err  error
}

// Probe is a set of loaded and attached programs and the maps they share.
type Probe struct {
	opts    Options
	log     *slog.Logger
	mode    Mode
	refused []Refusal
	hooks   []string // human-readable list of what is attached
	compat  bool     // compat calls are traced

	coll       *ebpf.Collection
	links      []link.Link
	kretprobes []link.Link

	readMu  sync.Mutex // serialises ReadEvent
	reader  *ringbuf.Reader
	record  ringbuf.Record
	drained bool // ReadEvent returned ErrStopped once: the ring buffer is empty for good

	stopOnce  sync.Once
	closeOnce sync.Once
}

// Open loads the programs, attaches them in the requested mode and returns
// the running probe. In Auto mode it tries each mode in turn and keeps the
// first that loads and attaches. Refused returns why the earlier ones failed.
func Open(opts Options) (*Probe, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if err := removeMemlock(); err != nil {
		return nil, err
	}

	modes := []Mode{opts.Mode}
	if opts.Mode == Auto {
		modes = Modes
	}

	var refused []Refusal
	for _, mode := range modes {
		p, err := openMode(opts, mode)
		if err == nil {
			p.refused = refused
			for _, r := range refused {
				opts.Logger.Info("attach mode refused", "mode", r.Mode, "error", r.Err)
			}
			opts.Logger.Info("attached", "mode", mode, "compat", p.compat, "hooks", strings.Join(p.hooks, ","))
			return p, nil
		}
		refused = append(refused, Refusal{Mode: mode, Err: err})
	}

	if len(refused) == 1 {
		return nil, fmt.Errorf("attach mode %s: %w", refused[0].Mode, refused[0].Err)
	}
	var reasons []string
	for _, r := range refused {
		reasons = append(reasons, fmt.Sprintf("%s: %v", r.Mode, r.Err))
	}
	return nil, fmt.Errorf("no attach mode works on this kernel (%s)", strings.Join(reasons, "; "))
}

// openMode loads and attaches the programs of one mode. In tracepoint mode
// it covers compat calls with BTF tracepoints when the kernel accepts them,
// and with raw tracepoints otherwise.
func openMode(opts Options, mode Mode) (*Probe, error) {
	if err := preflight(opts, mode, opts.Logger); err != nil {
		return nil, err
	}
	pl, err := planMode(opts, mode, opts.Logger)
	if err != nil {
		return nil, err
	}
	if pl.compatBTF {
		p, err := openPlan(opts, pl)
		if err == nil {
			return p, nil
		}
		opts.Logger.Info("the kernel rejected BTF tracepoints for compat calls, so raw tracepoints are used, at a higher cost per syscall", "error", err)
		pl.compatBTF = false
	}
	return openPlan(opts, pl)
}

// openPlan loads and attaches the programs of a plan, closing everything
// it opened when a step fails.
func openPlan(opts Options, pl plan) (_ *Probe, err error) {
	p := &Probe{opts: opts, log: opts.Logger, mode: pl.mode, compat: pl.compat}
	defer func() {
		if err != nil {
			p.Close()
		}
	}()

	if p.coll, err = loadPlan(opts, pl); err != nil {
		return nil, err
	}
	if err := fillFilters(p.coll, opts.Filter); err != nil {
		return nil, err
	}

	if !opts.NoSpans {
		p.reader, err = ringbuf.NewReader(p.coll.Maps[sendfileMapEvents])
		if err != nil {
			return nil, fmt.Errorf("opening the event ring buffer: %w", err)
		}
		p.reader.SetDeadline(time.Now().Add(opts.FlushInterval))
	}

	if err := p.attach(pl); err != nil {
		return nil, err
	}
	return p, nil
}

// Mode returns the attach mode in use.
func (p *Probe) Mode() Mode { return p.mode }

// Refused returns the modes Auto tried before the one in use, and why each failed.
func (p *Probe) Refused() []Refusal { return p.refused }

// Compat reports whether compat (i386) calls are traced.
func (p *Probe) Compat() bool { return p.compat }

// Hooks returns the kernel hooks attached, as "kind:target" strings.
func (p *Probe) Hooks() []string { return p.hooks }

// ReadEvent blocks until the next event and copies it into ev, without
// allocating. Events wait at most Options.FlushInterval in the kernel before
// they are read. After Stop it returns the events still buffered, then
// ErrStopped, also to every later call and from any goroutine; after Close,
// ErrClosed. Any other error is transient: count it and call again.
func (p *Probe) ReadEvent(ev *Event) error {
	if p.reader == nil {
		return ErrNoSpans
	}
	p.readMu.Lock()
	defer p.readMu.Unlock()

	// The reader reports a flush once, and no program writes after Stop, so
	// every later call has nothing to read.
	if p.drained {
		return ErrStopped
	}
	for {
		err := p.reader.ReadInto(&p.record)
		switch {
		case err == nil:
			if len(p.record.RawSample) < EventSize {
				return fmt.Errorf("short ring buffer record: %d bytes, want %d", len(p.record.RawSample), EventSize)
			}
			*ev = *(*Event)(unsafe.Pointer(&p.record.RawSample[0]))
			return nil
		case errors.Is(err, os.ErrDeadlineExceeded):
			// Records submitted without a wakeup have been read; wait for the next batch.
			p.reader.SetDeadline(time.Now().Add(p.opts.FlushInterval))
		case errors.Is(err, ringbuf.ErrFlushed):
			p.drained = true
			return ErrStopped
		case errors.Is(err, ringbuf.ErrClosed), errors.Is(err, os.ErrClosed):
			return ErrClosed
		default:
			return fmt.Errorf("reading the event ring buffer: %w", err)
		}
	}
}

// Stop detaches every program, so no new calls are seen, and makes
// ReadEvent return what is still buffered followed by ErrStopped. The maps
// stay readable until Close.
func (p *Probe) Stop() error {
	var errs []error
	p.stopOnce.Do(func() {
		for _, l := range p.links {
			if err := l.Close(); err != nil {
				errs = append(errs, err)
			}
		}
		p.links = nil
		p.kretprobes = nil
		if p.reader != nil {
			if err := p.reader.Flush(); err != nil {
				errs = append(errs, fmt.Errorf("flushing the ring buffer reader: %w", err))
			}
		}
	})
	return errors.Join(errs...)
}

// Close detaches the programs and frees the maps and the reader. It
// interrupts a blocked ReadEvent.
func (p *Probe) Close() error {
	errs := []error{p.Stop()}
	p.closeOnce.Do(func() {
		if p.reader != nil {
			errs = append(errs, p.reader.Close())
		}
		if p.coll != nil {
			p.coll.Close()
		}
	})
	return errors.Join(errs...)
}
