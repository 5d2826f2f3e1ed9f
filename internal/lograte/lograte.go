// Package lograte limits how often a recurring error is logged: the first
// occurrence goes through, then at most one per interval, each reporting
// how many were held back since the previous one.
package lograte

import (
	"sync"
	"time"
)

// Limiter lets one occurrence through per Interval. The zero value lets
// every occurrence through. A Limiter is safe for concurrent use.
type Limiter struct {
	Interval time.Duration

	mu         sync.Mutex
	last       time.Time
	suppressed int
}

// Allow reports whether an occurrence at now may be logged and, if so,
// how many occurrences were held back since the last one that was.
func (l *Limiter) Allow(now time.Time) (suppressed int, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() && now.Sub(l.last) < l.Interval {
		l.suppressed++
		return 0, false
	}
	suppressed = l.suppressed
	l.last, l.suppressed = now, 0
	return suppressed, true
}
