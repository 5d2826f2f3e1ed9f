//go:build linux

package otelbridge

import (
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// anchorTries is how many (boot, wall) pairs an anchor read takes before it
// keeps the one read in the shortest window.
const anchorTries = 3

// Clock converts CLOCK_BOOTTIME nanoseconds, the kernel's event timestamps,
// to wall-clock time. It pairs one boot time with one wall time (the
// anchor) and converts by offset: wall = anchorWall + (boot - anchorBoot).
// CLOCK_BOOTTIME keeps counting across suspend and never steps, so the
// conversion is exact within one anchor. The anchor is read again once it
// is older than the reanchor interval, so that a step of the wall clock
// (NTP, settimeofday) reaches the spans after at most that long.
//
// A Clock is safe for concurrent use.
type Clock struct {
	reanchor time.Duration
	bootNow  func() (uint64, error)
	wallNow  func() time.Time

	mu         sync.Mutex
	anchored   bool
	anchorBoot uint64
	anchorWall time.Time
}

// NewClock returns a Clock that reads a new anchor when the current one is
// older than reanchor; zero or less means one second.
func NewClock(reanchor time.Duration) *Clock {
	return newClockWithSources(reanchor, readBoottime, time.Now)
}

// newClockWithSources returns a Clock reading the given time sources, which
// tests replace.
func newClockWithSources(reanchor time.Duration, bootNow func() (uint64, error), wallNow func() time.Time) *Clock {
	if reanchor <= 0 {
		reanchor = time.Second
	}
	c := &Clock{reanchor: reanchor, bootNow: bootNow, wallNow: wallNow}
	c.readAnchor()
	return c
}

// readBoottime returns CLOCK_BOOTTIME in nanoseconds, the clock of
// bpf_ktime_get_boot_ns.
func readBoottime() (uint64, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return 0, err
	}
	return uint64(ts.Nano()), nil
}

// Wall returns the wall-clock time of the CLOCK_BOOTTIME instant bootNs.
func (c *Clock) Wall(bootNs uint64) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refresh(bootNs)
	return c.convert(bootNs)
}

// wallPair converts two instants with the same anchor, so the wall times
// are exactly as far apart as the boot times even when the anchor is due.
func (c *Clock) wallPair(startNs, endNs uint64) (time.Time, time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refresh(max(startNs, endNs))
	return c.convert(startNs), c.convert(endNs)
}

// refresh reads a new anchor when bootNs is more than the reanchor interval
// past the current one. The age is measured by the converted timestamps, so
// that Wall reads no clock while the anchor is fresh. Events reach Wall a
// flush interval or so after their exit, which delays a re-anchor by as much.
func (c *Clock) refresh(bootNs uint64) {
	if c.anchored && bootNs <= c.anchorBoot+uint64(c.reanchor) {
		return
	}
	c.readAnchor()
}

// readAnchor reads the boot clock, the wall clock and the boot clock again,
// anchorTries times, and keeps the wall time read in the shortest window,
// paired with the middle of that window. A failed read keeps the previous
// anchor.
func (c *Clock) readAnchor() {
	found := false
	var bestGap, bestBoot uint64
	var bestWall time.Time
	for range anchorTries {
		before, err := c.bootNow()
		if err != nil {
			continue
		}
		wall := c.wallNow()
		after, err := c.bootNow()
		if err != nil || after < before {
			continue
		}
		gap := after - before
		if !found || gap < bestGap {
			found = true
			bestGap = gap
			bestBoot = before + gap/2
			bestWall = wall
		}
	}
	if !found {
		return
	}
	c.anchored = true
	c.anchorBoot = bestBoot
	// Round(0) drops the monotonic reading, so that the converted times
	// compare and subtract by wall clock alone.
	c.anchorWall = bestWall.Round(0)
}

func (c *Clock) convert(bootNs uint64) time.Time {
	if !c.anchored {
		// NOTE: only reached when CLOCK_BOOTTIME cannot be read at all,
		// which Linux 2.6.39 and later never do. The span then gets the
		// conversion time instead of the kernel's.
		return c.wallNow().Round(0)
	}
	// The unsigned difference reinterpreted as signed is correct for
	// instants on both sides of the anchor.
	return c.anchorWall.Add(time.Duration(int64(bootNs - c.anchorBoot)))
}
