//go:build linux

package bpf

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

// plan describes the programs one mode loads and attaches on this kernel.
type plan struct {
	mode      Mode
	handlers  []handler // handlers present in the kernel and wanted
	compat    bool      // compat calls are covered
	compatBTF bool      // tracepoint mode covers them with BTF, not raw, tracepoints
	noSpans   bool
}

// planMode picks the handlers a mode hooks: the native one always, the
// compat ones when they exist and Options.Compat allows.
func planMode(opts Options, mode Mode, log *slog.Logger) (plan, error) {
	pl := plan{mode: mode, noSpans: opts.NoSpans}
	for _, h := range handlers {
		if h.compat && opts.Compat == CompatOff {
			continue
		}
		if !kernelHasFunction(h.symbol) {
			if h.required {
				return plan{}, fmt.Errorf("kernel function %s not found: this kernel does not expose the sendfile syscall handler", h.symbol)
			}
			if opts.Compat == CompatOn {
				return plan{}, fmt.Errorf("kernel function %s not found: compat calls cannot be traced (kernel without CONFIG_IA32_EMULATION?); use --compat=off or auto", h.symbol)
			}
			log.Info("compat handler missing, skipped", "function", h.symbol)
			continue
		}
		pl.handlers = append(pl.handlers, h)
		if h.compat {
			pl.compat = true
		}
	}
	if mode == Tracepoint && rawCompatEnterProgram == "" {
		pl.compat = false
	}
	pl.compatBTF = mode == Tracepoint && pl.compat && btfCompatEnterProgram != "" && !opts.rawCompatTracepoints
	if opts.Compat == CompatOn && !pl.compat {
		return plan{}, errors.New("compat calls cannot be traced on this architecture; use --compat=off or auto")
	}
	return pl, nil
}

// programs returns the spec key of every program the plan loads, mapped to
// the kernel function it is bound to at load time ("" when bound at attach).
func (pl plan) programs() map[string]string {
	progs := map[string]string{}
	switch pl.mode {
	case Fentry:
		for _, h := range pl.handlers {
			if !pl.noSpans {
				progs[h.fentry] = h.symbol
			}
			progs[fexitKey(h.symbol)] = h.symbol
		}
	case Kprobe:
		for _, h := range pl.handlers {
			if !pl.noSpans {
				progs[h.kprobe] = ""
			}
		}
		progs[sendfileProgKretprobeSendfileExit] = ""
	case Tracepoint:
		if !pl.noSpans {
			progs[sendfileProgTpSendfile64Enter] = ""
		}
		progs[sendfileProgTpSendfile64Exit] = ""
		if pl.compat {
			enter, exit := pl.compatPrograms()
			if !pl.noSpans {
				progs[enter] = ""
			}
			progs[exit] = ""
		}
	}
	return progs
}

// compatPrograms returns the enter and exit programs of compat calls in
// tracepoint mode.
func (pl plan) compatPrograms() (enter, exit string) {
	if pl.compatBTF {
		return btfCompatEnterProgram, btfCompatExitProgram
	}
	return rawCompatEnterProgram, rawCompatExitProgram
}

// fexitKey names the copy of the fexit program bound to one handler.
func fexitKey(symbol string) string { return sendfileProgFexitSendfileExit + "/" + symbol }

// configure trims spec to the plan's programs and sets the tunables and map
// sizes from opts.
func configure(spec *ebpf.CollectionSpec, opts Options, pl plan) error {
	all := spec.Programs
	spec.Programs = map[string]*ebpf.ProgramSpec{}
	for key, target := range pl.programs() {
		name := strings.SplitN(key, "/", 2)[0]
		prog := all[name]
		if prog == nil {
			return fmt.Errorf("program %s missing from the BPF object", name)
		}
		prog = prog.Copy()
		if target != "" {
			prog.AttachTo = target
		}
		spec.Programs[key] = prog
	}

	spec.Maps[sendfileMapEvents].MaxEntries = opts.RingBufferBytes
	spec.Maps[sendfileMapInflight].MaxEntries = opts.MaxInflight
	spec.Maps[sendfileMapTotalsByUser].MaxEntries = opts.MaxUserKeys
	spec.Maps[sendfileMapEnrichments].MaxEntries = opts.MaxEnriched

	f := opts.Filter
	vars := map[string]any{
		sendfileVarSpansEnabled:    !opts.NoSpans,
		sendfileVarSampleThreshold: f.sampleThreshold(),
		sendfileVarFilterTgid:      len(f.TGIDs) > 0,
		sendfileVarFilterUid:       len(f.UIDs) > 0,
		sendfileVarFilterComm:      len(f.Comms) > 0,
		sendfileVarFilterCgroup:    len(f.CgroupIDs) > 0,
		sendfileVarMinResult:       f.MinBytes,
		sendfileVarErrorsOnly:      f.ErrorsOnly,
		sendfileVarWakeupBytes:     uint64(opts.WakeupBytes),
		sendfileVarEnrichEnabled:   !opts.NoEnrich,
		sendfileVarCapturePaths:    !opts.NoPaths,
	}
	for name, value := range vars {
		v := spec.Variables[name]
		if v == nil {
			return fmt.Errorf("variable %s missing from the BPF object", name)
		}
		if err := v.Set(value); err != nil {
			return fmt.Errorf("setting %s to %v: %w", name, value, err)
		}
	}
	return nil
}

// fillFilters writes the filter sets into their maps before anything attaches.
func fillFilters(coll *ebpf.Collection, f Filter) error {
	one := uint8(1)
	for _, tgid := range f.TGIDs {
		if err := coll.Maps[sendfileMapTgidFilter].Put(tgid, one); err != nil {
			return fmt.Errorf("adding pid %d to the filter: %w", tgid, err)
		}
	}
	for _, uid := range f.UIDs {
		if err := coll.Maps[sendfileMapUidFilter].Put(uid, one); err != nil {
			return fmt.Errorf("adding uid %d to the filter: %w", uid, err)
		}
	}
	for _, comm := range f.Comms {
		var key [16]byte
		copy(key[:], comm)
		if err := coll.Maps[sendfileMapCommFilter].Put(key, one); err != nil {
			return fmt.Errorf("adding comm %q to the filter: %w", comm, err)
		}
	}
	for _, id := range f.CgroupIDs {
		if err := coll.Maps[sendfileMapCgroupFilter].Put(id, one); err != nil {
			return fmt.Errorf("adding cgroup id %d to the filter: %w", id, err)
		}
	}
	return nil
}

// attach hooks the loaded programs, exits first: a call already under way
// then shows up as an orphan exit rather than as an enter that never ends.
func (p *Probe) attach(pl plan) error {
	progs := p.coll.Programs
	add := func(l link.Link, hook string) {
		p.links = append(p.links, l)
		p.hooks = append(p.hooks, hook)
	}

	switch pl.mode {
	case Fentry:
		for _, enter := range []bool{false, true} {
			for _, h := range pl.handlers {
				key, kind := fexitKey(h.symbol), "fexit"
				if enter {
					key, kind = h.fentry, "fentry"
				}
				prog := progs[key]
				if prog == nil {
					continue
				}
				l, err := link.AttachTracing(link.TracingOptions{Program: prog})
				if err != nil {
					return fmt.Errorf("attaching %s to %s: %w", kind, h.symbol, err)
				}
				add(l, kind+":"+h.symbol)
			}
		}

	case Kprobe:
		exit := progs[sendfileProgKretprobeSendfileExit]
		for _, h := range pl.handlers {
			l, err := link.Kretprobe(h.symbol, exit, &link.KprobeOptions{RetprobeMaxActive: p.opts.KretprobeMaxActive})
			if err != nil {
				// maxactive needs the tracefs interface; the perf one has a fixed, smaller limit.
				p.log.Warn("kretprobe with maxactive failed, attaching with the kernel's default", "function", h.symbol, "maxactive", p.opts.KretprobeMaxActive, "error", err)
				l, err = link.Kretprobe(h.symbol, exit, nil)
			}
			if err != nil {
				return fmt.Errorf("attaching kretprobe to %s: %w", h.symbol, err)
			}
			add(l, "kretprobe:"+h.symbol)
			p.kretprobes = append(p.kretprobes, l)
		}
		for _, h := range pl.handlers {
			prog := progs[h.kprobe]
			if prog == nil {
				continue
			}
			l, err := link.Kprobe(h.symbol, prog, nil)
			if err != nil {
				return fmt.Errorf("attaching kprobe to %s: %w", h.symbol, err)
			}
			add(l, "kprobe:"+h.symbol)
		}

	case Tracepoint:
		// kind "" is a syscalls: tracepoint, "raw" a raw one, "btf" a BTF one.
		type tracepoint struct{ prog, kind, name string }
		compatEnter, compatExit := pl.compatPrograms()
		compatKind := "raw"
		if pl.compatBTF {
			compatKind = "btf"
		}
		order := []tracepoint{
			{sendfileProgTpSendfile64Exit, "", "sys_exit_sendfile64"},
			{compatExit, compatKind, "sys_exit"},
			{sendfileProgTpSendfile64Enter, "", "sys_enter_sendfile64"},
			{compatEnter, compatKind, "sys_enter"},
		}
		for _, tp := range order {
			prog := progs[tp.prog]
			if tp.prog == "" || prog == nil {
				continue
			}
			var l link.Link
			var err error
			var hook string
			switch tp.kind {
			case "btf":
				l, err = link.AttachTracing(link.TracingOptions{Program: prog})
				hook = "tp_btf:" + tp.name
			case "raw":
				l, err = link.AttachRawTracepoint(link.RawTracepointOptions{Name: tp.name, Program: prog})
				hook = "raw_tracepoint:" + tp.name
			default:
				l, err = link.Tracepoint("syscalls", tp.name, prog, nil)
				hook = "syscalls:" + tp.name
			}
			if err != nil {
				return fmt.Errorf("attaching %s to %s: %w", tp.prog, hook, err)
			}
			add(l, hook)
		}
	}
	return nil
}

// verifierSummary keeps a verifier rejection readable: the error and the
// last lines of the log, where the reason is.
func verifierSummary(err error) error {
	var ve *ebpf.VerifierError
	if !errors.As(err, &ve) {
		return err
	}
	return fmt.Errorf("%w (verifier: %s)", err, strings.Join(tail(ve.Log, 3), " | "))
}

func tail(lines []string, n int) []string {
	if len(lines) > n {
		return lines[len(lines)-n:]
	}
	return lines
}
