//go:build linux

package otelbridge

import (
	"errors"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// scriptedSources returns time sources that return the given readings in
// order and fail the test when it reads more.
func scriptedSources(t *testing.T, boots []uint64, walls []time.Time) (func() (uint64, error), func() time.Time) {
	t.Helper()
	bootNow := func() (uint64, error) {
		if len(boots) == 0 {
			t.Fatal("boot clock read more often than scripted")
		}
		v := boots[0]
		boots = boots[1:]
		return v, nil
	}
	wallNow := func() time.Time {
		if len(walls) == 0 {
			t.Fatal("wall clock read more often than scripted")
		}
		v := walls[0]
		walls = walls[1:]
		return v
	}
	return bootNow, wallNow
}

// simulatedHost is a boot clock and a wall clock that advance together
// until the test steps the wall clock.
type simulatedHost struct {
	boot     uint64
	wallBase time.Time // wall time at boot 0
	reads    int       // boot clock reads
}

func (h *simulatedHost) bootNow() (uint64, error) {
	h.reads++
	return h.boot, nil
}

func (h *simulatedHost) wallNow() time.Time {
	return h.wallBase.Add(time.Duration(h.boot))
}

func TestClockConvertsWithShortestAnchorRead(t *testing.T) {
	w1 := time.Date(2025, 1, 1, 0, 0, 1, 0, time.UTC)
	w2 := time.Date(2025, 1, 1, 0, 0, 2, 0, time.UTC)
	w3 := time.Date(2025, 1, 1, 0, 0, 3, 0, time.UTC)
	// Three tries of boot, wall, boot: windows of 10, 2 and 20 ns. The
	// second wins and pairs w2 with the middle of [200_000, 200_002].
	bootNow, wallNow := scriptedSources(t,
		[]uint64{100_000, 100_010, 200_000, 200_002, 300_000, 300_020},
		[]time.Time{w1, w2, w3})
	c := newClockWithSources(time.Second, bootNow, wallNow)

	const anchorBoot = 200_001
	tests := []struct {
		name string
		boot uint64
		want time.Time
	}{
		{"anchor itself", anchorBoot, w2},
		{"one nanosecond later", anchorBoot + 1, time.Unix(0, w2.UnixNano()+1)},
		{"before the anchor", 150_000, time.Unix(0, w2.UnixNano()-50_001)},
		{"at the end of the interval", anchorBoot + 1_000_000_000, time.Unix(0, w2.UnixNano()+1_000_000_000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.Wall(tt.boot); !got.Equal(tt.want) {
				t.Errorf("Wall(%d) = %v, want %v", tt.boot, got, tt.want)
			}
		})
	}
}

func TestClockKeepsNanosecondsAfterLongUptime(t *testing.T) {
	// 200 days of uptime: larger than a float64 holds exactly in ns.
	const boot = uint64(200*24*time.Hour) + 123_456_789
	wall := time.Date(2025, 6, 1, 12, 0, 0, 1, time.UTC)
	c := newClockWithSources(time.Second,
		func() (uint64, error) { return boot, nil },
		func() time.Time { return wall })

	got := c.Wall(boot + 987_654_321)
	want := time.Unix(0, wall.UnixNano()+987_654_321)
	if !got.Equal(want) {
		t.Errorf("Wall = %v, want %v", got, want)
	}
}

func TestClockReanchorsAfterWallClockStep(t *testing.T) {
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	host := &simulatedHost{boot: 1000 * uint64(time.Second), wallBase: start}
	c := newClockWithSources(time.Second, host.bootNow, host.wallNow)
	wallAt := func(boot uint64) time.Time { return start.Add(time.Duration(boot)) }

	// The wall clock jumps one hour ahead half a second after the anchor.
	host.boot += 500 * uint64(time.Millisecond)
	host.wallBase = host.wallBase.Add(time.Hour)
	readsBefore := host.reads

	inInterval := 1000*uint64(time.Second) + 900*uint64(time.Millisecond)
	if got, want := c.Wall(inInterval), wallAt(inInterval); !got.Equal(want) {
		t.Errorf("Wall within the anchor interval = %v, want %v from the old anchor", got, want)
	}
	if host.reads != readsBefore {
		t.Errorf("Wall within the anchor interval read the boot clock %d times, want 0", host.reads-readsBefore)
	}

	// 2 s after the anchor the clock reads a new anchor, which includes the step.
	host.boot = 1002 * uint64(time.Second)
	later := 1001*uint64(time.Second) + 900*uint64(time.Millisecond)
	if got, want := c.Wall(later), wallAt(later).Add(time.Hour); !got.Equal(want) {
		t.Errorf("Wall after the interval = %v, want %v from a new anchor", got, want)
	}
	if host.reads == readsBefore {
		t.Error("Wall after the interval did not read a new anchor")
	}
}

func TestClockDefaultsReanchorToOneSecond(t *testing.T) {
	for _, reanchor := range []time.Duration{0, -time.Second} {
		host := &simulatedHost{boot: uint64(time.Hour), wallBase: time.Unix(1_700_000_000, 0)}
		c := newClockWithSources(reanchor, host.bootNow, host.wallNow)
		readsAfterNew := host.reads

		c.Wall(uint64(time.Hour + 999*time.Millisecond))
		if host.reads != readsAfterNew {
			t.Errorf("reanchor %v: Wall 999 ms after the anchor read a new one", reanchor)
		}
		c.Wall(uint64(time.Hour + 1001*time.Millisecond))
		if host.reads == readsAfterNew {
			t.Errorf("reanchor %v: Wall 1001 ms after the anchor kept the old one", reanchor)
		}
	}
}

func TestClockIsMonotonicWithinAnchor(t *testing.T) {
	host := &simulatedHost{boot: 10 * uint64(time.Second), wallBase: time.Unix(1_700_000_000, 0)}
	c := newClockWithSources(time.Second, host.bootNow, host.wallNow)

	// The wall clock steps back a minute: without a new anchor the
	// converted times must keep moving forward with the boot clock.
	host.wallBase = host.wallBase.Add(-time.Minute)

	base := 10 * uint64(time.Second)
	steps := []uint64{0, 1, 2, 1000, 1_000_000, 250_000_000, 999_999_999}
	var previous time.Time
	for i, step := range steps {
		got := c.Wall(base + step)
		if i > 0 {
			if !got.After(previous) {
				t.Errorf("Wall(base+%d) = %v, not after the previous %v", step, got, previous)
			}
			if diff, want := got.Sub(previous), time.Duration(step-steps[i-1]); diff != want {
				t.Errorf("Wall(base+%d) - previous = %v, want %v", step, diff, want)
			}
		}
		previous = got
	}
}

func TestClockPairSharesAnchor(t *testing.T) {
	host := &simulatedHost{boot: 100 * uint64(time.Second), wallBase: time.Unix(1_700_000_000, 0)}
	c := newClockWithSources(time.Second, host.bootNow, host.wallNow)

	// The call starts within the anchor interval and ends after it, and
	// the wall clock stepped back in between.
	host.boot = 102 * uint64(time.Second)
	host.wallBase = host.wallBase.Add(-time.Minute)
	enter := 100*uint64(time.Second) + 500*uint64(time.Millisecond)
	exit := 101*uint64(time.Second) + 500*uint64(time.Millisecond)

	start, end := c.wallPair(enter, exit)
	if got := end.Sub(start); got != time.Second {
		t.Errorf("end - start = %v, want exactly 1s", got)
	}
	wantStart := host.wallBase.Add(time.Duration(enter))
	if !start.Equal(wantStart) {
		t.Errorf("start = %v, want %v from the new anchor", start, wantStart)
	}
}

func TestClockFallsBackWhenBootClockFails(t *testing.T) {
	wall := time.Unix(1_700_000_000, 42)
	c := newClockWithSources(time.Second,
		func() (uint64, error) { return 0, errors.New("clock_gettime: invalid argument") },
		func() time.Time { return wall })

	if got := c.Wall(12345); !got.Equal(wall) {
		t.Errorf("Wall = %v, want the current wall time %v", got, wall)
	}
}

func TestClockKeepsAnchorWhenRereadFails(t *testing.T) {
	wall := time.Unix(1_700_000_000, 0)
	fail := false
	c := newClockWithSources(time.Second,
		func() (uint64, error) {
			if fail {
				return 0, errors.New("clock_gettime: invalid argument")
			}
			return uint64(time.Minute), nil
		},
		func() time.Time { return wall })

	fail = true
	boot := uint64(time.Minute + 5*time.Second)
	if got, want := c.Wall(boot), wall.Add(5*time.Second); !got.Equal(want) {
		t.Errorf("Wall = %v, want %v from the old anchor", got, want)
	}
}

func TestNewClockMatchesSystemClocks(t *testing.T) {
	c := NewClock(time.Second)
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		t.Fatalf("clock_gettime(CLOCK_BOOTTIME): %v", err)
	}
	got := c.Wall(uint64(ts.Nano()))
	if diff := time.Since(got); diff < -time.Second || diff > time.Second {
		t.Errorf("Wall(now) is %v away from time.Now, want well under a second", diff)
	}
}
