import type { JobRequest } from './api.js'
import { WaitTimeoutError } from './errors.js'

/** The timer functions a wait needs (the broker's clock, or the global timers). */
export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown
  clearTimeout(handle: never): void
}

/** Node's own timers, for what runs without a broker's clock (the remote side). */
export const GLOBAL_TIMERS: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle: NodeJS.Timeout) => {
    clearTimeout(handle)
  },
}

/**
 * Every request's outcome, or WaitTimeoutError after `timeout` ms (0 = none), or the signal's reason. The
 * jobs themselves carry on either way. Shared by the in-process and the remote clients.
 */
export function waitAllSettled<R>(
  requests: readonly JobRequest<R, unknown>[],
  timeout: number,
  signal: AbortSignal | undefined,
  timers: Timers,
): Promise<PromiseSettledResult<R>[]> {
  signal?.throwIfAborted()
  const all = Promise.allSettled(requests.map((r) => r.result))
  if (timeout === 0 && signal === undefined) return all
  return new Promise((resolve, reject) => {
    const timer =
      timeout > 0
        ? timers.setTimeout(() => {
            done()
            reject(new WaitTimeoutError(timeout, requests.filter((r) => r.state === 'pending').length))
          }, timeout)
        : null
    const onAbort = (): void => {
      done()
      reject(signal?.reason as Error)
    }
    const done = (): void => {
      if (timer !== null) timers.clearTimeout(timer as never)
      signal?.removeEventListener('abort', onAbort)
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    all.then((results) => {
      done()
      resolve(results)
    }, reject)
  })
}
