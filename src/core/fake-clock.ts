import type { Clock, TimerHandle } from './clock.js'

interface FakeTimer {
  readonly id: number
  readonly at: number
  readonly fn: () => void
}

/**
 * A clock that moves only when told to: timers fire in due order during {@link FakeClock.advance}.
 * Hand it to `new Broker({ clock })` to test timeouts and scheduled jobs without sleeping.
 * @example
 * const clock = new FakeClock()
 * const broker = new Broker({ clock })
 * // … submit a job whose handler waits on job.signal …
 * clock.advance(5_000) // the job's timeout fires now
 */
export class FakeClock implements Clock {
  #now: number
  #nextId = 1
  #timers: FakeTimer[] = []

  constructor(start = 0) {
    this.#now = start
  }

  now(): number {
    return this.#now
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer: FakeTimer = { id: this.#nextId++, at: this.#now + Math.max(0, ms), fn }
    this.#timers.push(timer)
    return timer.id
  }

  clearTimeout(handle: TimerHandle): void {
    const i = this.#timers.findIndex((t) => t.id === handle)
    if (i !== -1) this.#timers.splice(i, 1)
  }

  /** Number of timers not yet fired. */
  get pendingTimers(): number {
    return this.#timers.length
  }

  /** Moves time forward by `ms`, firing every timer that falls due, earliest first (timers set meanwhile included). */
  advance(ms: number): void {
    const target = this.#now + ms
    for (;;) {
      let next: FakeTimer | undefined
      for (const t of this.#timers) if (t.at <= target && (next === undefined || t.at < next.at || (t.at === next.at && t.id < next.id))) next = t
      if (next === undefined) break
      this.#timers.splice(this.#timers.indexOf(next), 1)
      this.#now = next.at
      next.fn()
    }
    this.#now = target
  }

  /** Sets the time to `epochMs` (which must not be in the past of this clock) and fires what falls due. */
  set(epochMs: number): void {
    this.advance(Math.max(0, epochMs - this.#now))
  }
}
