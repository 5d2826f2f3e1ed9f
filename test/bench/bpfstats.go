package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// programStat is one program's cumulative run statistics at one moment.
type programStat struct {
	ID       uint32
	Name     string
	Type     ebpf.ProgramType
	RunCount uint64
	Runtime  time.Duration
}

// programUsage is what one program did between two snapshots.
type programUsage struct {
	Name     string  `json:"name"`
	Type     string  `json:"type"`
	Runs     uint64  `json:"runs"`
	NsPerRun float64 `json:"ns_per_run"`
	// EveryCall marks, in the getppid loop, a program that ran at least
	// once for every two getppid calls: one that hooks every system call.
	EveryCall bool `json:"every_call,omitempty"`
}

// enableBPFStats turns on the kernel's run-time statistics of BPF programs
// (the effect of sysctl kernel.bpf_stats_enabled=1) for as long as the
// returned closer is open. The kernel turns them off again when the last
// such fd is closed, also when this process dies, and leaves the sysctl
// untouched, so nothing needs restoring.
func enableBPFStats() (io.Closer, error) {
	closer, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
	if err != nil {
		return nil, fmt.Errorf("enabling BPF run-time statistics (BPF_ENABLE_STATS, Linux 5.8+): %w", err)
	}
	return closer, nil
}

// snapshotPrograms reads the statistics of the programs with these ids.
func snapshotPrograms(ids []uint32) (map[uint32]programStat, error) {
	stats := make(map[uint32]programStat, len(ids))
	for _, id := range ids {
		prog, err := ebpf.NewProgramFromID(ebpf.ProgramID(id))
		if err != nil {
			return nil, fmt.Errorf("opening BPF program %d: %w", id, err)
		}
		info, errInfo := prog.Info()
		runStats, errStats := prog.Stats()
		prog.Close()
		if err := errors.Join(errInfo, errStats); err != nil {
			return nil, fmt.Errorf("reading BPF program %d: %w", id, err)
		}
		stats[id] = programStat{
			ID:       id,
			Name:     info.Name,
			Type:     info.Type,
			RunCount: runStats.RunCount,
			Runtime:  runStats.Runtime,
		}
	}
	return stats, nil
}

// programUsages returns what each program did from before to after,
// sorted by name, leaving out programs that did not run.
func programUsages(before, after map[uint32]programStat) []programUsage {
	var usages []programUsage
	for id, a := range after {
		b, ok := before[id]
		if !ok || a.RunCount <= b.RunCount {
			continue
		}
		runs := a.RunCount - b.RunCount
		usages = append(usages, programUsage{
			Name:     a.Name,
			Type:     a.Type.String(),
			Runs:     runs,
			NsPerRun: float64(a.Runtime-b.Runtime) / float64(runs),
		})
	}
	slices.SortFunc(usages, func(x, y programUsage) int {
		if x.Name < y.Name {
			return -1
		}
		if x.Name > y.Name {
			return 1
		}
		return 0
	})
	return usages
}

// tracingProgramTypes are the program types that hook kernel events and so
// can slow the workload down.
var tracingProgramTypes = []ebpf.ProgramType{
	ebpf.Kprobe, ebpf.TracePoint, ebpf.RawTracepoint, ebpf.RawTracepointWritable,
	ebpf.Tracing, ebpf.PerfEvent,
}

// otherTracingPrograms lists the names of tracing programs loaded on the
// host that the given process (0 for none) does not hold: programs of other
// work on the machine, which can slow the workload in every setup.
func otherTracingPrograms(ownPid int) ([]string, error) {
	own := make(map[uint32]bool)
	if ownPid != 0 {
		ids, err := programIDs(ownPid)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			own[id] = true
		}
	}

	var names []string
	id := ebpf.ProgramID(0)
	for {
		next, err := ebpf.ProgramGetNextID(id)
		if errors.Is(err, os.ErrNotExist) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("listing BPF programs: %w", err)
		}
		id = next
		if own[uint32(id)] {
			continue
		}
		prog, err := ebpf.NewProgramFromID(id)
		if err != nil {
			continue // unloaded meanwhile
		}
		info, err := prog.Info()
		prog.Close()
		if err != nil || !slices.Contains(tracingProgramTypes, info.Type) {
			continue
		}
		names = append(names, info.Name)
	}
	slices.Sort(names)
	return names, nil
}
