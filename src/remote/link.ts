import type { Address } from './address.js'

export interface BackoffSettings {
  /** ms before the first retry of a server that failed. */
  readonly base: number
  /** ms, the longest wait between retries. */
  readonly max: number
}

/** Exponential backoff with jitter: a random wait in [½, 1] × min(max, base × 2^(failures−1)). */
export function backoffDelay(failures: number, settings: BackoffSettings): number {
  const ceiling = Math.min(settings.max, settings.base * 2 ** Math.min(30, Math.max(0, failures - 1)))
  return ceiling / 2 + Math.random() * (ceiling / 2)
}

/**
 * One server as a client or a worker's function sees it: whether it counts as live. A server
 * whose connection failed is skipped until its backoff has passed; then it is tried again.
 */
export class ServerLink {
  readonly address: Address
  readonly #backoff: BackoffSettings
  #failures = 0
  #downUntil = 0

  constructor(address: Address, backoff: BackoffSettings) {
    this.address = address
    this.#backoff = backoff
  }

  get live(): boolean {
    // a server that never failed (the usual case) needs no clock
    return this.#downUntil === 0 || this.#downUntil <= Date.now()
  }

  /** Epoch ms until which the server is skipped (0: not down). */
  get downUntil(): number {
    return this.#downUntil
  }

  /** The server answered on a new connection: the backoff starts over. */
  opened(): void {
    this.#failures = 0
    this.#downUntil = 0
  }

  /** Could not connect, or dropped: skip it for a while. Returns the wait, ms. */
  failed(): number {
    const delay = backoffDelay(++this.#failures, this.#backoff)
    this.#downUntil = Date.now() + delay
    return delay
  }
}
