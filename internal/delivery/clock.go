package delivery

import "time"

// Clock is the time source of the delivery engine: the actor's buffer deadlines and every
// back-off wait go through it, so tests drive time instead of sleeping.
type Clock interface {
	Now() time.Time
	// NewTimer returns a timer that fires once after d.
	NewTimer(d time.Duration) Timer
}

// Timer is a one-shot timer of a Clock.
type Timer interface {
	C() <-chan time.Time
	// Stop prevents the timer from firing; it reports whether it stopped it.
	Stop() bool
}

// RealClock is the system clock.
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// NewTimer returns a time.Timer.
func (RealClock) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

type realTimer struct{ t *time.Timer }

func (t realTimer) C() <-chan time.Time { return t.t.C }
func (t realTimer) Stop() bool          { return t.t.Stop() }

// ClockFunc is a Clock whose Now is now and whose timers are the system's: for a server whose
// time source is injected (tests that pin the time of objects).
type ClockFunc func() time.Time

// Now returns f().
func (f ClockFunc) Now() time.Time { return f() }

// NewTimer returns a time.Timer.
func (ClockFunc) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }
