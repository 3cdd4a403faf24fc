/** A timer token returned by {@link Clock.setTimeout}. */
export type TimerHandle = unknown

/**
 * The one source of time for a broker: job timeouts and scheduled jobs go through it, so tests can swap in
 * a {@link FakeClock} and advance time instead of sleeping.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number
  /** Calls `fn` once after `ms` milliseconds. Real timers must not keep the process alive. */
  setTimeout(fn: () => void, ms: number): TimerHandle
  clearTimeout(handle: TimerHandle): void
}

/** The real clock: `Date.now()` and `unref()`'d timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms)
    t.unref()
    return t
  },
  clearTimeout(handle) {
    clearTimeout(handle as NodeJS.Timeout)
  },
}
