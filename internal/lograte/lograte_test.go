package lograte

import (
	"testing"
	"time"
)

func TestLimiterOnePerInterval(t *testing.T) {
	l := Limiter{Interval: 10 * time.Second}
	start := time.Unix(1000, 0)
	if _, ok := l.Allow(start); !ok {
		t.Fatal("the first occurrence was held back")
	}
	for i := 1; i <= 3; i++ {
		if _, ok := l.Allow(start.Add(time.Duration(i) * time.Second)); ok {
			t.Errorf("occurrence %d s after a logged one was let through, want one per 10 s", i)
		}
	}
	suppressed, ok := l.Allow(start.Add(10 * time.Second))
	if !ok || suppressed != 3 {
		t.Errorf("Allow 10 s later = %d, %v; want 3 held back, true", suppressed, ok)
	}
	if suppressed, ok := l.Allow(start.Add(20 * time.Second)); !ok || suppressed != 0 {
		t.Errorf("Allow 20 s later = %d, %v; want 0 held back, true", suppressed, ok)
	}
}

func TestZeroLimiterLetsEverythingThrough(t *testing.T) {
	var l Limiter
	now := time.Unix(1000, 0)
	for i := 0; i < 3; i++ {
		if _, ok := l.Allow(now); !ok {
			t.Errorf("occurrence %d held back by a zero Limiter", i)
		}
	}
}
