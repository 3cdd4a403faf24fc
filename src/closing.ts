import type { CloseOptions } from './api.js'
import { intOption } from './options.js'
import type { Timers } from './wait-all.js'

/**
 * The once-only close of a broker or a worker: the first call starts it, later calls get the same promise,
 * and a forced call (`graceful: false`) ends the wait of a graceful one at once.
 */
export class Closing {
  #promise: Promise<void> | null = null
  #cut: (() => void) | null = null

  get started(): boolean {
    return this.#promise !== null
  }

  /** Starts `close(graceful, timeout)` on the first call (options checked here); joins it on later ones. */
  run(options: CloseOptions, close: (graceful: boolean, timeout: number) => Promise<void>): Promise<void> {
    if (this.#promise !== null) {
      if (options.graceful === false) this.#cut?.()
      return this.#promise
    }
    this.#promise = close(options.graceful ?? true, intOption('timeout', options.timeout, 30_000))
    return this.#promise
  }

  /**
   * A graceful close's wait: over when `watch`'s `done` is called, after `timeout` ms, or when a forced close
   * cuts it short. `watch` may return what undoes it, called when the wait ends.
   */
  wait(timeout: number, timers: Timers, watch: (done: () => void) => (() => void) | undefined): Promise<void> {
    return new Promise<void>((resolve) => {
      // watch may call done at once (an engine already idle): then there is nothing to undo yet
      let unwatch: (() => void) | undefined = undefined
      const done = (): void => {
        timers.clearTimeout(timer as never)
        this.#cut = null
        unwatch?.()
        resolve()
      }
      const timer = timers.setTimeout(done, timeout)
      this.#cut = done
      unwatch = watch(done)
    })
  }
}
