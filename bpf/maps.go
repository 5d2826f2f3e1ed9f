//go:build linux

package bpf

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
)

// Counters are the probe's loss and health counters, summed over CPUs,
// since Open.
type Counters struct {
	// RingBufferFull counts span events dropped because the ring buffer was full.
	RingBufferFull uint64
	// OrphanExits counts exits with no recorded enter: calls under way when
	// the probe attached, or whose inflight entry was evicted.
	OrphanExits uint64
	// TotalsFull counts calls missing from the per-user totals because the
	// totals map was full.
	TotalsFull uint64
	// InflightFailed counts enters that could not be stored.
	InflightFailed uint64
	// SpansOffered counts calls that passed filters and sampling and were
	// offered to the ring buffer.
	SpansOffered uint64
	// KprobeMissed counts calls whose kretprobe the kernel skipped (kprobe
	// mode, Linux 6.7+ reports it; 0 elsewhere).
	KprobeMissed uint64
}

// Counters reads the loss and health counters.
func (p *Probe) Counters() (Counters, error) {
	var c Counters
	fields := map[sendfileCounter]*uint64{
		sendfileCounterCOUNTER_RINGBUF_FULL:    &c.RingBufferFull,
		sendfileCounterCOUNTER_ORPHAN_EXIT:     &c.OrphanExits,
		sendfileCounterCOUNTER_TOTALS_FULL:     &c.TotalsFull,
		sendfileCounterCOUNTER_INFLIGHT_FAILED: &c.InflightFailed,
		sendfileCounterCOUNTER_SPAN_OFFERED:    &c.SpansOffered,
	}
	var perCPU []uint64
	for index, field := range fields {
		if err := p.coll.Maps[sendfileMapCounters].Lookup(uint32(index), &perCPU); err != nil {
			return Counters{}, fmt.Errorf("reading counter %d: %w", index, err)
		}
		for _, v := range perCPU {
			*field += v
		}
	}
	for _, l := range p.kretprobes {
		info, err := l.Info()
		if err != nil {
			continue
		}
		if pe := info.PerfEvent(); pe != nil {
			if kp := pe.Kprobe(); kp != nil {
				c.KprobeMissed += kp.Missed
			}
		}
	}
	return c, nil
}

// Totals appends the per-user totals to dst and returns it: one entry per
// (uid, errno) pair seen since Open, summed over CPUs.
func (p *Probe) Totals(dst []UserTotal) ([]UserTotal, error) {
	var (
		key    sendfileUserKey
		perCPU []sendfileUserTotals
	)
	iter := p.coll.Maps[sendfileMapTotalsByUser].Iterate()
	for iter.Next(&key, &perCPU) {
		t := UserTotal{UID: key.Uid, Errno: key.Err}
		for _, v := range perCPU {
			t.Calls += v.Calls
			t.Bytes += v.Bytes
		}
		dst = append(dst, t)
	}
	if err := iter.Err(); err != nil {
		return dst, fmt.Errorf("reading the per-user totals: %w", err)
	}
	return dst, nil
}

// InflightLen counts the calls recorded at enter and not yet exited.
func (p *Probe) InflightLen() (int, error) {
	var (
		key   uint32
		value sendfileInflight
		n     int
	)
	iter := p.coll.Maps[sendfileMapInflight].Iterate()
	for iter.Next(&key, &value) {
		n++
	}
	if err := iter.Err(); err != nil && !errors.Is(err, ebpf.ErrIterationAborted) {
		return n, fmt.Errorf("reading the inflight map: %w", err)
	}
	return n, nil
}

// MaxInflight returns the capacity of the inflight map.
func (p *Probe) MaxInflight() uint32 { return p.coll.Maps[sendfileMapInflight].MaxEntries() }
