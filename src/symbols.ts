/** Module-private symbols shared across folders; never exported from index.ts. */

/** `broker[kEngine]` gives the TCP adapter and thread pool the broker's engine. */
export const kEngine = Symbol('gearbox.engine')

/**
 * Marks a handler made by a ThreadPool: the worker registers it with the pool's shared capacity (a slot
 * group keyed by `key`) and passes payload bytes through untouched, since the thread does the encoding.
 */
export const kThreaded = Symbol('gearbox.threaded')

export interface ThreadedTraits {
  /** Identity of the shared capacity (one per pool). */
  readonly key: object
  /** Jobs the pool may be handed at once, at most. */
  readonly capacity: number
  /** Called by a worker registering the handler with its broker's engine: throws if the pool serves another. */
  readonly bind: (engine: object) => void
  /** Then called with a way to change how many jobs the pool is handed at once (up to `capacity`). */
  readonly attach: (setLimit: (limit: number) => void) => void
}

/**
 * `job[kOnAbort](fn)` (on an in-process job context) calls `fn(reason)` when the attempt is taken away, without
 * creating the AbortController behind `job.signal`: the thread pool's way to watch thousands of jobs cheaply.
 * `fn` null removes it. Absent on other contexts: use `job.signal` there.
 */
export const kOnAbort = Symbol('gearbox.onAbort')

export type OnAbortHook = (listener: ((reason: unknown) => void) | null) => void
