/** Small promise helpers shared by the behaviour tests. No timers: everything settles when the test says so. */

export interface Deferred<T> {
  readonly promise: Promise<T>
  resolve(value: T): void
  reject(reason: unknown): void
}

/** A promise with its resolve/reject exposed (Promise.withResolvers is Node 22+). */
export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void
  let reject!: (reason: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

/** Resolves with the signal's reason once it fires (at once if it already has). */
export function untilAborted(signal: AbortSignal): Promise<unknown> {
  if (signal.aborted) return Promise.resolve(signal.reason)
  return new Promise((resolve) => {
    signal.addEventListener(
      'abort',
      () => {
        resolve(signal.reason)
      },
      { once: true },
    )
  })
}

/** An append-only list of events a test can wait on: `await log.waitFor(3)` resolves once 3 are in. */
export class EventLog<T> {
  readonly items: T[] = []
  #waiters: { count: number; resolve: () => void }[] = []

  push(item: T): void {
    this.items.push(item)
    const ready = this.#waiters.filter((w) => this.items.length >= w.count)
    this.#waiters = this.#waiters.filter((w) => this.items.length < w.count)
    for (const w of ready) w.resolve()
  }

  async waitFor(count: number): Promise<T[]> {
    if (this.items.length < count) {
      await new Promise<void>((resolve) => {
        this.#waiters.push({ count, resolve })
      })
    }
    return this.items.slice(0, count)
  }
}

/** Tracks whether a promise has settled, without timing anything. */
export function track(promise: Promise<unknown>): { readonly settled: boolean } {
  const state = { settled: false }
  promise.then(
    () => (state.settled = true),
    () => (state.settled = true),
  )
  return state
}
