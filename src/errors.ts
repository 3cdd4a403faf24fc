/**
 * Every error gearbox raises is a {@link GearboxError} with a stable `code`.
 * Codes are born here and never reused once retired; match on `code` (or `instanceof`), not on messages.
 */

/** The stable error codes. The README's error table lists each one. */
export type ErrorCode =
  | 'GEARBOX_INVALID_ARGUMENT'
  | 'GEARBOX_QUEUE_FULL'
  | 'GEARBOX_JOB_FAILED'
  | 'GEARBOX_JOB_EXCEPTION'
  | 'GEARBOX_JOB_TIMEOUT'
  | 'GEARBOX_WORKER_LOST'
  | 'GEARBOX_JOB_CANCELLED'
  | 'GEARBOX_BROKER_CLOSED'
  | 'GEARBOX_WAIT_TIMEOUT'
  | 'GEARBOX_FUNCTION_IN_USE'
  | 'GEARBOX_ENCODING'
  | 'GEARBOX_HANDLER_MODULE'
  | 'GEARBOX_PROTOCOL'
  | 'GEARBOX_STORE'
  | 'GEARBOX_BAD_ADDRESS'
  | 'GEARBOX_CONNECTION_LOST'
  | 'GEARBOX_SERVER_UNAVAILABLE'
  | 'GEARBOX_SERVER_ERROR'
  | 'GEARBOX_PAYLOAD_TOO_LARGE'

/** Base class of every error gearbox raises. */
export class GearboxError extends Error {
  readonly code: ErrorCode
  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = new.target.name
    this.code = code
  }
}

/**
 * An argument had the wrong type or was out of range. Thrown synchronously; nothing was queued.
 * @example
 * try { client.submit('', 'x') } catch (err) { if (err instanceof InvalidArgumentError) console.log(err.argument) }
 */
export class InvalidArgumentError extends GearboxError {
  /** The name of the offending argument or option. */
  readonly argument: string
  constructor(argument: string, expected: string, received: unknown) {
    super('GEARBOX_INVALID_ARGUMENT', `Expected \`${argument}\` to be ${expected}, got ${describe(received)}`)
    this.argument = argument
  }
}

/** The function's queue is at its `maxQueue` limit for that priority; the job was not queued. */
export class QueueFullError extends GearboxError {
  readonly functionName: string
  readonly limit: number
  constructor(functionName: string, limit: number) {
    super('GEARBOX_QUEUE_FULL', `queue for "${functionName}" is full (maxQueue ${limit})`)
    this.functionName = functionName
    this.limit = limit
  }
}

/** The worker reported failure (Gearman's WORK_FAIL). Final: never retried. A handler may throw it to fail its job. */
export class JobFailedError extends GearboxError {
  constructor(message = 'job failed', options?: ErrorOptions) {
    super('GEARBOX_JOB_FAILED', message, options)
  }
}

/**
 * The handler threw (Gearman's WORK_EXCEPTION). `data` holds the exception bytes as the worker sent them;
 * in-process, `cause` is the value the handler threw.
 */
export class JobExceptionError extends GearboxError {
  readonly data: Uint8Array
  constructor(data: Uint8Array, options?: ErrorOptions) {
    super('GEARBOX_JOB_EXCEPTION', `job threw: ${Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8')}`, options)
    this.data = data
  }
}

/** The job ran out of time on its last allowed attempt (per-function or per-job timeout). */
export class JobTimeoutError extends GearboxError {
  readonly timeout: number
  readonly attempts: number
  constructor(timeout: number, attempts: number) {
    super('GEARBOX_JOB_TIMEOUT', `job timed out after ${timeout} ms (attempt ${attempts})`)
    this.timeout = timeout
    this.attempts = attempts
  }
}

/**
 * The worker running the job went away. Thrown by a handler (or a thread adapter) to say "this attempt was
 * lost, retry it"; received by clients when the job was lost on its last allowed attempt (`jobRetries`).
 */
export class WorkerLostError extends GearboxError {
  readonly attempts: number
  constructor(message = 'worker lost', attempts = 0, options?: ErrorOptions) {
    super('GEARBOX_WORKER_LOST', message, options)
    this.attempts = attempts
  }
}

/** The job was cancelled by an admin (or its last waiting client left). */
export class JobCancelledError extends GearboxError {
  constructor(message = 'job cancelled') {
    super('GEARBOX_JOB_CANCELLED', message)
  }
}

/** The broker is closed or closing: no new jobs; jobs that could not finish before the deadline fail with this. */
export class BrokerClosedError extends GearboxError {
  constructor(message = 'broker is closed') {
    super('GEARBOX_BROKER_CLOSED', message)
  }
}

/** A wait (e.g. `client.waitAll`, `broker.idle`) ran past its timeout. The jobs themselves carry on. */
export class WaitTimeoutError extends GearboxError {
  readonly pending: number
  constructor(timeout: number, pending: number) {
    super('GEARBOX_WAIT_TIMEOUT', `wait timed out after ${timeout} ms with ${pending} unfinished`)
    this.pending = pending
  }
}

/** `dropFunction` refused: workers are registered or jobs are running for the function. */
export class FunctionInUseError extends GearboxError {
  readonly functionName: string
  constructor(functionName: string) {
    super('GEARBOX_FUNCTION_IN_USE', `function "${functionName}" still has workers or running jobs`)
    this.functionName = functionName
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return `\`${value.length > 40 ? value.slice(0, 40) + '…' : value}\` (string)`
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return `\`${String(value)}\` (${typeof value})`
  if (value === null) return '`null`'
  if (value === undefined) return '`undefined`'
  if (value instanceof Uint8Array) return `a ${value.constructor.name} of ${value.byteLength} bytes`
  return `a value of type ${typeof value === 'object' ? (value.constructor as { name?: string } | undefined)?.name ?? 'object' : typeof value}`
}

/** A payload, result or update could not be encoded or decoded by the configured encoder. */
export class EncodingError extends GearboxError {
  constructor(message: string, options?: ErrorOptions) {
    super('GEARBOX_ENCODING', message, options)
  }
}

/** A thread-pool handler module could not be loaded, or exports no handler function under the given name. */
export class HandlerModuleError extends GearboxError {
  readonly module: string
  constructor(module: string, message: string, options?: ErrorOptions) {
    super('GEARBOX_HANDLER_MODULE', message, options)
    this.module = module
  }
}

/**
 * What was wrong with the bytes a Gearman peer sent:
 * - `bad-magic`: a packet did not start with `\0REQ` or `\0RES`;
 * - `unknown-type`: the packet type was 0 or above 42;
 * - `too-large`: the declared payload size exceeds `maxPacketSize` (refused before any payload is buffered);
 * - `bad-arguments`: the payload has fewer NUL separators than the packet type needs (or a payload where none is allowed);
 * - `truncated`: the stream ended in the middle of a packet or text line;
 * - `line-too-long`: a text (admin) line exceeds `maxLineLength` without a newline;
 * - `unexpected-magic`: a well-formed packet with the other side's magic (`\0RES` sent to a server, `\0REQ` to a client);
 * - `unexpected-command`: a well-formed packet of a type the receiving side does not accept (e.g. NOOP sent to a server).
 */
export type ProtocolErrorKind =
  | 'bad-magic'
  | 'unknown-type'
  | 'too-large'
  | 'bad-arguments'
  | 'truncated'
  | 'line-too-long'
  | 'unexpected-magic'
  | 'unexpected-command'

/** Kinds after which the stream is still in sync: gearmand answers with an ERROR packet and keeps the connection. */
const keepsConnection: ReadonlySet<ProtocolErrorKind> = new Set<ProtocolErrorKind>(['unexpected-magic', 'unexpected-command'])

/**
 * A Gearman peer sent bytes that break the wire protocol. `closeConnection` says what gearmand 1.1.20 does:
 * `true` → it drops the connection without a reply (the stream cannot be trusted any more); `false` → the
 * offending packet was skipped whole, gearmand answers ERROR (INVALID_MAGIC / INVALID_COMMAND) and carries on.
 * @example
 * decoder = new Decoder({ onPacket, onText, onError: (err) => { if (err.closeConnection) socket.destroy() } })
 */
export class ProtocolError extends GearboxError {
  readonly kind: ProtocolErrorKind
  /** The packet type from the header, when the header was read (may be an invalid number for `unknown-type`). */
  readonly packetType: number | undefined
  /** Stream offset (bytes since the decoder started) where the offending packet or line begins. */
  readonly offset: number | undefined
  readonly closeConnection: boolean
  constructor(kind: ProtocolErrorKind, message: string, details: { readonly packetType?: number | undefined; readonly offset?: number | undefined } = {}) {
    super('GEARBOX_PROTOCOL', message)
    this.kind = kind
    this.packetType = details.packetType
    this.offset = details.offset
    this.closeConnection = !keepsConnection.has(kind)
  }
}

/**
 * What went wrong with a job store:
 * - `open`: the database cannot be opened or created (bad path, directory, no permission);
 * - `corrupt`: the file is not a readable SQLite database, or its gearbox table is damaged;
 * - `foreign`: a readable SQLite database that is not a gearbox job store (another application's, or a newer schema);
 * - `write`: a write failed while running (disk full, read-only, I/O error): the submits it held were refused.
 */
export type StoreErrorKind = 'open' | 'corrupt' | 'foreign' | 'write'

/**
 * The job store failed. At start (`new Broker({ store })`, `sqliteStore(path)`) nothing is served; while
 * running, the background submits that could not be made durable are rejected with it (never acknowledged).
 * @example
 * try { await client.submitBackground('mail', msg) } catch (err) { if (err instanceof StoreError) retryLater(msg) }
 */
export class StoreError extends GearboxError {
  readonly kind: StoreErrorKind
  constructor(kind: StoreErrorKind, message: string, options?: ErrorOptions) {
    super('GEARBOX_STORE', message, options)
    this.kind = kind
  }
}

/** A Gearman server address that cannot be parsed (`connect({ servers })`); `address` is what was given. */
export class BadAddressError extends GearboxError {
  readonly address: string
  constructor(address: string, reason: string) {
    super('GEARBOX_BAD_ADDRESS', `bad server address ${JSON.stringify(address)}: ${reason}`)
    this.address = address
  }
}

/**
 * The connection to a Gearman server dropped (or stopped answering) while a request depended on it: a
 * foreground job accepted on it (unless resubmission is on), a status query, an admin command.
 */
export class ConnectionLostError extends GearboxError {
  /** `host:port` of the server. */
  readonly server: string
  constructor(server: string, message: string, options?: ErrorOptions) {
    super('GEARBOX_CONNECTION_LOST', `${server}: ${message}`, options)
    this.server = server
  }
}

/** No server could take the request: every one is down or refused the connection, after the allowed retries. */
export class ServerUnavailableError extends GearboxError {
  /** `host:port` of each server tried. */
  readonly servers: readonly string[]
  constructor(servers: readonly string[], message: string, options?: ErrorOptions) {
    super('GEARBOX_SERVER_UNAVAILABLE', message, options)
    this.servers = servers
  }
}

/** A Gearman server answered a request with an ERROR packet (or an admin `ERR` line); `serverCode` is its CODE. */
export class ServerError extends GearboxError {
  readonly server: string
  readonly serverCode: string
  constructor(server: string, serverCode: string, text: string) {
    super('GEARBOX_SERVER_ERROR', `${server} answered ${serverCode}: ${text}`)
    this.server = server
    this.serverCode = serverCode
  }
}

/** A payload (or result, or update) is larger than the connection's `maxPayloadSize`; nothing was sent. */
export class PayloadTooLargeError extends GearboxError {
  readonly size: number
  readonly limit: number
  constructor(size: number, limit: number) {
    super('GEARBOX_PAYLOAD_TOO_LARGE', `payload of ${size} bytes exceeds the limit of ${limit} bytes`)
    this.size = size
    this.limit = limit
  }
}
