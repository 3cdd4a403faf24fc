/** A timer token returned by {@link Clock.setTimeout}. */
export type TimerHandle = unknown

/**
 * The one source of time for a broker: job timeouts and scheduled jobs go through it, so tests can swap in
 * a {@link FakeClock} and advance time instead of sleeping.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number
  /**
   * Calls `fn` once after `ms` milliseconds. A `background` timer must not keep the process alive (a
   * forgotten broker never does); others (a running job's timeout, a caller's wait) may.
   */
  setTimeout(fn: () => void, ms: number, background?: boolean): TimerHandle
  clearTimeout(handle: TimerHandle): void
}

/** The real clock: `Date.now()` and Node's timers (`unref()`'d when `background`). */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms, background) {
    const t = setTimeout(fn, ms)
    if (background === true) t.unref()
    return t
  },
  clearTimeout(handle) {
    clearTimeout(handle as NodeJS.Timeout)
  },
}
