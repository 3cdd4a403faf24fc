import type {
  BackgroundOptions,
  ClientApi,
  Encoder,
  JobRequest,
  JobResult,
  JobSpec,
  JobStatus,
  SubmitOptions,
  UniqueStatus,
  WaitOptions,
} from '../api.js'
import type { Engine, SubmitSpec } from '../core/engine.js'
import type { Job } from '../core/job.js'
import { BrokerClosedError, InvalidArgumentError, JobExceptionError, WaitTimeoutError } from '../errors.js'
import { LocalJobRequest } from './job-request.js'
import { epochOption, intOption, priorityLevel, signalOption, stringArg } from './validate.js'

const NO_OPTIONS: SubmitOptions = {}

/** The common foreground specs (no timeout), shared so a plain submit allocates none. */
const FOREGROUND: readonly [SubmitSpec, SubmitSpec, SubmitSpec] = [
  { priority: 0, background: false, dueAt: 0, timeout: 0, reducer: '' },
  { priority: 1, background: false, dueAt: 0, timeout: 0, reducer: '' },
  { priority: 2, background: false, dueAt: 0, timeout: 0, reducer: '' },
]

/**
 * The in-process client: submits jobs to the broker it came from and asks about them.
 * @example
 * const client = broker.client({ encoder: 'json' })
 * const total = await client.submit<number>('sum', [1, 2, 3])
 */
export class LocalClient<TPayload, TResult> implements ClientApi<TPayload, TResult> {
  readonly #engine: Engine
  readonly #encoder: Encoder<unknown, unknown>
  #closed = false

  constructor(engine: Engine, encoder: Encoder<unknown, unknown>) {
    this.#engine = engine
    this.#encoder = encoder
  }

  /**
   * Submits a foreground job. Invalid arguments throw at once; a full queue or a closed broker rejects the
   * returned request.
   */
  submit<R = TResult>(name: string, payload: TPayload, options: SubmitOptions = NO_OPTIONS): JobRequest<R, TResult> {
    stringArg('name', name)
    const unique = options.unique === undefined ? '' : stringArg('unique', options.unique)
    const priority = priorityLevel(options.priority)
    const timeout = intOption('timeout', options.timeout, 0)
    const spec: SubmitSpec = timeout === 0 ? FOREGROUND[priority] : { ...FOREGROUND[priority], timeout }
    const signal = signalOption(options.signal)
    const data = this.#encoder.encode(payload)
    const request = new LocalJobRequest<R, TResult>(name, unique, this.#encoder)
    if (signal?.aborted === true) {
      request.reject(signal.reason)
      return request
    }
    if (this.#closed) {
      request.reject(new BrokerClosedError('client is closed'))
      return request
    }
    let job: Job
    try {
      job = this.#engine.submit(name, unique, data, spec, request)
    } catch (err) {
      if (err instanceof InvalidArgumentError) throw err
      request.reject(err)
      return request
    }
    request.attach(this.#engine, job, signal)
    return request
  }

  submitBackground(name: string, payload: TPayload, options: BackgroundOptions = {}): Promise<string> {
    try {
      return Promise.resolve(this.#submitBackground(name, payload, options))
    } catch (err) {
      return Promise.reject(err)
    }
  }

  #submitBackground(name: string, payload: TPayload, options: BackgroundOptions): string {
    stringArg('name', name)
    const unique = options.unique === undefined ? '' : stringArg('unique', options.unique)
    const spec: SubmitSpec = {
      priority: priorityLevel(options.priority),
      background: true,
      dueAt: epochOption(options.at),
      timeout: intOption('timeout', options.timeout, 0),
      reducer: '',
    }
    const signal = signalOption(options.signal)
    signal?.throwIfAborted()
    if (this.#closed) throw new BrokerClosedError('client is closed')
    const job = this.#engine.submit(name, unique, this.#encoder.encode(payload), spec, null)
    return this.#engine.handleOf(job)
  }

  submitMany<R = TResult>(jobs: readonly JobSpec<TPayload>[]): JobRequest<R, TResult>[] {
    const list: unknown = jobs
    if (!Array.isArray(list)) throw new InvalidArgumentError('jobs', 'an array of { name, payload, options }', jobs)
    const out: JobRequest<R, TResult>[] = []
    for (const j of jobs) out.push(this.submit<R>(j.name, j.payload, j.options))
    return out
  }

  async waitAll<R>(requests: readonly JobRequest<R, unknown>[], options: WaitOptions = {}): Promise<PromiseSettledResult<R>[]> {
    const timeout = intOption('timeout', options.timeout, 0)
    const signal = signalOption(options.signal)
    signal?.throwIfAborted()
    const all = Promise.allSettled(requests.map((r) => r.result))
    if (timeout === 0 && signal === undefined) return all
    return new Promise((resolve, reject) => {
      const timer =
        timeout > 0
          ? this.#engine.clock.setTimeout(() => {
              done()
              reject(new WaitTimeoutError(timeout, requests.filter((r) => r.state === 'pending').length))
            }, timeout)
          : null
      const onAbort = (): void => {
        done()
        reject(signal?.reason as Error)
      }
      const done = (): void => {
        if (timer !== null) this.#engine.clock.clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      all.then((results) => {
        done()
        resolve(results)
      }, reject)
    })
  }

  getStatus(handle: string): Promise<JobStatus> {
    stringArg('handle', handle)
    const engine = this.#engine
    const job = engine.jobByHandle(handle)
    if (job !== undefined) {
      const running = job.state === 'running'
      return Promise.resolve({
        handle,
        known: true,
        running,
        numerator: job.numerator,
        denominator: job.denominator,
        state: running ? 'running' : 'queued',
      })
    }
    const finished = engine.resultCache?.byHandle(handle)
    return Promise.resolve({
      handle,
      known: false,
      running: false,
      numerator: 0,
      denominator: 0,
      state: finished === undefined ? 'unknown' : finished.outcome.state === 'completed' ? 'completed' : 'failed',
    })
  }

  getStatusByUnique(unique: string, functionName?: string): Promise<UniqueStatus> {
    stringArg('unique', unique)
    if (functionName !== undefined) stringArg('functionName', functionName)
    const engine = this.#engine
    const job = engine.jobByUnique(unique, functionName)
    if (job !== undefined) {
      const running = job.state === 'running'
      return Promise.resolve({
        unique,
        known: true,
        running,
        numerator: job.numerator,
        denominator: job.denominator,
        waiting: job.clients?.length ?? 0,
        state: running ? 'running' : 'queued',
      })
    }
    const finished = functionName === undefined ? undefined : engine.resultCache?.byUnique(functionName, unique)
    return Promise.resolve({
      unique,
      known: false,
      running: false,
      numerator: 0,
      denominator: 0,
      waiting: 0,
      state: finished === undefined ? 'unknown' : finished.outcome.state === 'completed' ? 'completed' : 'failed',
    })
  }

  getResult<R = TResult>(handle: string): Promise<JobResult<R> | undefined> {
    stringArg('handle', handle)
    const finished = this.#engine.resultCache?.byHandle(handle)
    if (finished === undefined) return Promise.resolve(undefined)
    const outcome = finished.outcome
    switch (outcome.state) {
      case 'completed':
        return Promise.resolve({ state: 'completed', value: this.#encoder.decode(outcome.data) as R })
      case 'failed':
        return Promise.resolve({ state: 'failed', error: outcome.error })
      case 'exception':
        return Promise.resolve({ state: 'failed', error: new JobExceptionError(outcome.data) })
    }
  }

  /** New submissions are refused; jobs already submitted carry on and settle as usual. */
  close(): Promise<void> {
    this.#closed = true
    return Promise.resolve()
  }
}
