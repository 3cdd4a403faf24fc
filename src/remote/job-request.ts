import type { Encoder } from '../api.js'
import { JobExceptionError, JobFailedError, JobTimeoutError } from '../errors.js'
import { JobRequestBase } from '../job-request-base.js'
import type { Arg } from '../protocol/encoder.js'
import type { PacketType } from '../protocol/packets.js'

/**
 * A foreground job submitted to a Gearman server: accepted (JOB_CREATED gives its handle), then WORK_*
 * packets for that handle feed its updates and outcome. The client routes packets to it; `onSettled` tells
 * the client to forget it.
 */
export class RemoteJobRequest<TResult, TUpdate> extends JobRequestBase<TResult, TUpdate> {
  readonly data: Uint8Array
  /** SUBMIT_JOB, _HIGH or _LOW, with the function, unique and data as arguments (encoded again for each try). */
  readonly packetType: PacketType
  #handle: string | undefined = undefined
  /** Connection attempts and resubmissions so far. */
  tries = 0
  /** Servers whose connection failed before they took the job, `host:port`, for the error when none did. */
  tried: string[] | null = null
  #signal: AbortSignal | undefined
  /** Made only for a request with a signal. */
  #onAbort: (() => void) | null = null
  #timer: NodeJS.Timeout | null = null
  readonly #forget: (request: RemoteJobRequest<TResult, TUpdate>) => void

  constructor(
    functionName: string,
    unique: string,
    data: Uint8Array,
    packetType: PacketType,
    encoder: Encoder<unknown, unknown>,
    forget: (request: RemoteJobRequest<TResult, TUpdate>) => void,
  ) {
    super(functionName, unique, encoder)
    this.data = data
    this.packetType = packetType
    this.#forget = forget
  }

  get packetArgs(): readonly Arg[] {
    return [this.functionName, this.unique, this.data]
  }

  get handle(): string | undefined {
    return this.#handle
  }

  /** Bounds the wait: the signal's reason, or JobTimeoutError after `timeout` ms (0 = none). */
  watch(signal: AbortSignal | undefined, timeout: number): void {
    if (signal !== undefined) {
      this.#signal = signal
      this.#onAbort = () => {
        this.settle('failed', undefined, signal.reason)
      }
      signal.addEventListener('abort', this.#onAbort, { once: true })
    }
    if (timeout > 0) {
      this.#timer = setTimeout(() => {
        this.settle('failed', undefined, new JobTimeoutError(timeout, 1))
      }, timeout)
    }
  }

  /** JOB_CREATED arrived; undefined when the request is being resubmitted elsewhere. */
  accepted(handle: string | undefined): void {
    this.#handle = handle
  }

  rejected(error: unknown): void {
    this.settle('failed', undefined, error)
  }

  onData(data: Uint8Array): void {
    this.pushData('data', data)
  }

  onWarning(data: Uint8Array): void {
    this.pushData('warning', data)
  }

  onStatus(numerator: number, denominator: number): void {
    this.push({ type: 'status', numerator, denominator })
  }

  onComplete(data: Uint8Array): void {
    this.complete(data)
  }

  onFail(): void {
    this.settle('failed', undefined, new JobFailedError())
  }

  onException(data: Uint8Array): void {
    this.settle('failed', undefined, new JobExceptionError(data))
  }

  protected onSettled(): void {
    if (this.#onAbort !== null) this.#signal?.removeEventListener('abort', this.#onAbort)
    this.#signal = undefined
    this.#onAbort = null
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    this.#forget(this)
  }

}
