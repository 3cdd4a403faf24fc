import type { Address } from './address.js'
import type { ConnectionSettings } from './connection.js'
import type { BackoffSettings } from './link.js'

/** What `connect()` resolved from its options, shared by the client, worker and admin it hands out. */
export interface RemoteSettings {
  readonly servers: readonly Address[]
  readonly connection: ConnectionSettings
  readonly backoff: BackoffSettings
  /** Extra tries of a submission on another (or the same) server after a connection failure or drop. */
  readonly maxRetries: number
  /** Resubmit accepted foreground jobs whose connection dropped (instead of failing them with CONNECTION_LOST). */
  readonly resubmit: boolean
  /** Largest payload, result or update sent, bytes. */
  readonly maxPayloadSize: number
}
