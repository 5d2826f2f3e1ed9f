//go:build linux

package bpf

import (
	"fmt"
	"sort"

	"github.com/cilium/ebpf"
)

// ProgramStats describes one program as the verifier accepted it.
type ProgramStats struct {
	Name string
	// VerifiedInstructions is the number of instructions the verifier
	// processed (Linux 5.16+; 0 when the kernel does not report it).
	VerifiedInstructions uint32
}

// Verify loads the programs of one mode without attaching them and
// returns what the verifier reports for each. It needs the same privileges
// as Open but changes nothing on the host.
func Verify(opts Options, mode Mode) ([]ProgramStats, error) {
	opts = opts.withDefaults()
	opts.Mode = mode
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if mode == Auto {
		return nil, fmt.Errorf("verify needs a concrete attach mode, not %s", mode)
	}
	if err := removeMemlock(); err != nil {
		return nil, err
	}
	pl, err := planMode(opts, mode, opts.Logger)
	if err != nil {
		return nil, err
	}
	coll, err := loadPlan(opts, pl)
	if err != nil && pl.compatBTF {
		// As in Open: raw tracepoints stand in for rejected BTF ones.
		pl.compatBTF = false
		coll, err = loadPlan(opts, pl)
	}
	if err != nil {
		return nil, err
	}
	defer coll.Close()

	var stats []ProgramStats
	for name, prog := range coll.Programs {
		s := ProgramStats{Name: name}
		if info, err := prog.Info(); err == nil {
			if n, ok := info.VerifiedInstructions(); ok {
				s.VerifiedInstructions = n
			}
		}
		stats = append(stats, s)
	}
	sort.Slice(stats, func(i, j int) bool { return stats[i].Name < stats[j].Name })
	return stats, nil
}

// loadPlan loads the programs of a plan without attaching them.
func loadPlan(opts Options, pl plan) (*ebpf.Collection, error) {
	spec, err := loadSendfile()
	if err != nil {
		return nil, fmt.Errorf("reading the embedded BPF object: %w", err)
	}
	if err := configure(spec, opts, pl); err != nil {
		return nil, err
	}
	coll, err := ebpf.NewCollectionWithOptions(spec, ebpf.CollectionOptions{})
	if err != nil {
		return nil, loadError(pl.mode, err)
	}
	return coll, nil
}
