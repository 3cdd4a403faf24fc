import { LRUCache } from 'lru-cache'
import { type GearboxError, InvalidArgumentError } from '../errors.js'
import type { Clock } from './clock.js'

/** How a finished job ended, as kept by the result cache. */
export type JobOutcome =
  | { readonly state: 'completed'; readonly data: Uint8Array }
  | { readonly state: 'exception'; readonly data: Uint8Array }
  | { readonly state: 'failed'; readonly error: GearboxError }

/** A finished job as the result cache remembers it. */
export interface FinishedJob {
  readonly handle: string
  readonly functionName: string
  readonly unique: string
  readonly outcome: JobOutcome
  readonly finishedAt: number
}

/** Bounds of the optional result cache: at most `max` finished jobs, each kept at most `ttl` ms. */
export interface ResultCacheOptions {
  max: number
  ttl: number
}

/**
 * Finished jobs kept by handle and by (function, unique), bounded by count and age (lru-cache).
 * Unbounded configurations are refused.
 */
export class ResultCache {
  readonly #byHandle: LRUCache<string, FinishedJob>
  readonly #byUnique: LRUCache<string, FinishedJob>

  constructor(options: ResultCacheOptions, clock: Clock) {
    const { max, ttl } = options
    if (!Number.isSafeInteger(max) || max < 1) throw new InvalidArgumentError('resultCache.max', 'an integer >= 1', max)
    if (!Number.isSafeInteger(ttl) || ttl < 1) throw new InvalidArgumentError('resultCache.ttl', 'an integer >= 1 (ms)', ttl)
    // lru-cache reads a start time of 0 as "no ttl", so the time it sees is shifted by 1 ms (a FakeClock
    // starts at 0); ages are unchanged
    const perf = { now: () => clock.now() + 1 }
    // ttlResolution 0: read the clock on every check, so an injected clock is obeyed to the millisecond
    this.#byHandle = new LRUCache({ max, ttl, perf, ttlResolution: 0 })
    this.#byUnique = new LRUCache({ max, ttl, perf, ttlResolution: 0 })
  }

  add(entry: FinishedJob): void {
    this.#byHandle.set(entry.handle, entry)
    if (entry.unique !== '') this.#byUnique.set(uniqueKey(entry.functionName, entry.unique), entry)
  }

  byHandle(handle: string): FinishedJob | undefined {
    return this.#byHandle.get(handle)
  }

  byUnique(functionName: string, unique: string): FinishedJob | undefined {
    return this.#byUnique.get(uniqueKey(functionName, unique))
  }

  /** Entries held now (by handle). */
  get size(): number {
    return this.#byHandle.size
  }
}

function uniqueKey(functionName: string, unique: string): string {
  return functionName + '\0' + unique
}
