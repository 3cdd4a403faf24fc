import type { CloseOptions, Encoder, Handler, RegisterOptions, WorkerApi } from '../api.js'
import { BrokerClosedError, InvalidArgumentError } from '../errors.js'
import { intOption, limitOption, stringArg } from '../options.js'
import { FunctionRegistration, type WorkerHost } from './registration.js'
import type { RemoteSettings } from './settings.js'
import { Closing } from '../closing.js'
import { GLOBAL_TIMERS } from '../wait-all.js'

/**
 * A Gearman worker over TCP, with the in-process worker's API.
 *
 * Each registered function has its own connection to every server, registered for that function alone
 * (CAN_DO, or CAN_DO_TIMEOUT with a timeout) and for the worker's id (SET_CLIENT_ID). A function's
 * `concurrency` is the number of its jobs held at once across those connections: as many GRAB_JOB_UNIQ are
 * in flight as there are free slots, so the function's jobs never wait behind another function's, and its
 * limit is exact without CANT_DO (which would requeue the jobs it runs). A connection that hears NO_JOB
 * stops grabbing; once its last grab is answered it sends PRE_SLEEP and waits for NOOP: no polling. A
 * dropped connection is reopened with backoff and jitter, and registers again.
 * @example
 * const worker = connect({ servers: ['127.0.0.1:4730'] }).worker({ id: 'resizer-1' })
 * worker.register('reverse', (job) => Buffer.from(job.data).reverse(), { concurrency: 8 })
 */
export class RemoteWorker<TPayload, TResult> implements WorkerApi<TPayload, TResult>, WorkerHost {
  readonly id: string
  readonly #settings: RemoteSettings
  readonly #encoder: Encoder<unknown, unknown>
  readonly #functions = new Map<string, FunctionRegistration>()
  readonly #closing = new Closing()
  /** While a graceful close waits: called after each job. */
  #idle: (() => void) | null = null

  constructor(settings: RemoteSettings, encoder: Encoder<unknown, unknown>, id: string) {
    this.#settings = settings
    this.#encoder = encoder
    this.id = id
  }

  /** Jobs this worker's handlers are running now. */
  get running(): number {
    let n = 0
    for (const f of this.#functions.values()) n += f.active
    return n
  }

  register<P = TPayload, R = TResult>(name: string, handler: Handler<P, R, TResult>, options: RegisterOptions = {}): void {
    stringArg('name', name)
    if (name.length === 0 || name.includes('\0')) throw new InvalidArgumentError('name', 'a non-empty string without NUL', name)
    if (typeof handler !== 'function') throw new InvalidArgumentError('handler', 'a function', handler)
    const timeout = intOption('timeout', options.timeout, 0)
    const concurrency = limitOption('concurrency', options.concurrency, 1)
    if (concurrency === Infinity) throw new InvalidArgumentError('concurrency', 'a finite number of jobs held at once over TCP', concurrency)
    if (this.#functions.has(name)) throw new InvalidArgumentError('name', `a function not yet registered on worker "${this.id}"`, name)
    if (this.#closing.started) throw new InvalidArgumentError('worker', 'an open worker', 'a closed worker')
    const f = new FunctionRegistration(this, name, handler as Handler<unknown, unknown, unknown>, timeout, concurrency)
    this.#functions.set(name, f)
    f.start()
  }

  /** Stops taking jobs of `name`; its running jobs finish, then its connections close. */
  unregister(name: string): boolean {
    stringArg('name', name)
    const f = this.#functions.get(name)
    if (f === undefined) return false
    this.#functions.delete(name)
    f.retire()
    return true
  }

  async close(options: CloseOptions = {}): Promise<void> {
    return this.#closing.run(options, (graceful, timeout) => this.#close(graceful, timeout))
  }

  async #close(graceful: boolean, timeout: number): Promise<void> {
    const functions = [...this.#functions.values()]
    this.#functions.clear()
    for (const f of functions) f.retire()
    if (graceful && functions.some((f) => f.active > 0)) {
      await this.#closing.wait(timeout, GLOBAL_TIMERS, (done) => {
        this.#idle = () => {
          if (functions.every((f) => f.active === 0)) done()
        }
        return () => {
          this.#idle = null
        }
      })
    }
    for (const f of functions) f.stop(new BrokerClosedError('worker closed'))
  }

  // ---------------------------------------------------------------- shared with the registrations

  get settings(): RemoteSettings {
    return this.#settings
  }

  get encoder(): Encoder<unknown, unknown> {
    return this.#encoder
  }

  jobFinished(): void {
    this.#idle?.()
  }
}
