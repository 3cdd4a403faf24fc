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
import { checkFunctionName, checkUnique } from '../core/limits.js'
import type { FinishedJob } from '../core/result-cache.js'
import { BrokerClosedError, InvalidArgumentError, JobExceptionError } from '../errors.js'
import { waitAllSettled } from '../wait-all.js'
import { LocalJobRequest } from './job-request.js'
import { epochOption, intOption, priorityLevel, signalOption, stringArg } from './validate.js'

const NO_OPTIONS: SubmitOptions = {}

/** The common foreground specs (no timeout), shared so a plain submit allocates none. */
const FOREGROUND: readonly [SubmitSpec, SubmitSpec, SubmitSpec] = [
  { priority: 0, background: false, dueAt: 0, timeout: 0, reducer: '' },
  { priority: 1, background: false, dueAt: 0, timeout: 0, reducer: '' },
  { priority: 2, background: false, dueAt: 0, timeout: 0, reducer: '' },
]

/** A foreground submission checked and encoded, ready for the engine. */
interface Prepared {
  readonly name: string
  readonly unique: string
  readonly data: Uint8Array
  readonly spec: SubmitSpec
  readonly signal: AbortSignal | undefined
}

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
   * Submits a foreground job. Invalid arguments throw at once (nothing is queued); a full queue, a closed
   * broker or an aborted signal reject the returned request.
   */
  submit<R = TResult>(name: string, payload: TPayload, options: SubmitOptions = NO_OPTIONS): JobRequest<R, TResult> {
    return this.#enqueue<R>(this.#prepare(name, payload, options))
  }

  /** Submits several foreground jobs; if any entry is invalid, none is submitted. */
  submitMany<R = TResult>(jobs: readonly JobSpec<TPayload>[]): JobRequest<R, TResult>[] {
    const list: unknown = jobs
    if (!Array.isArray(list)) throw new InvalidArgumentError('jobs', 'an array of { name, payload, options }', jobs)
    const prepared: Prepared[] = []
    for (const j of jobs) {
      if (typeof j !== 'object' || (j as unknown) === null) throw new InvalidArgumentError('jobs[]', 'an object { name, payload, options }', j)
      const p = this.#prepare(j.name, j.payload, j.options ?? NO_OPTIONS)
      // names are otherwise checked when the function is first created, which would be too late here
      checkFunctionName(p.name)
      prepared.push(p)
    }
    return prepared.map((p) => this.#enqueue<R>(p))
  }

  async submitBackground(name: string, payload: TPayload, options: BackgroundOptions = {}): Promise<string> {
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
    const data = this.#encoder.encode(payload)
    signal?.throwIfAborted()
    if (this.#closed) throw new BrokerClosedError('client is closed')
    const engine = this.#engine
    const job = engine.submit(name, unique, data, spec, null)
    const handle = engine.handleOf(job)
    if (!engine.awaitsDurability(job)) return handle
    return new Promise((resolve, reject) => {
      engine.whenDurable(job, (error) => {
        if (error === null) resolve(handle)
        else reject(error)
      })
    })
  }

  async waitAll<R>(requests: readonly JobRequest<R, unknown>[], options: WaitOptions = {}): Promise<PromiseSettledResult<R>[]> {
    const list: unknown = requests
    if (!Array.isArray(list)) throw new InvalidArgumentError('requests', 'an array of job requests', requests)
    const timeout = intOption('timeout', options.timeout, 0)
    const signal = signalOption(options.signal)
    return waitAllSettled(requests, timeout, signal, this.#engine.clock)
  }

  async getStatus(handle: string): Promise<JobStatus> {
    stringArg('handle', handle)
    const engine = this.#engine
    const job = engine.jobByHandle(handle)
    if (job !== undefined) return { handle, ...liveStatus(job) }
    return { handle, ...finishedStatus(engine.resultCache?.byHandle(handle)) }
  }

  async getStatusByUnique(unique: string, functionName?: string): Promise<UniqueStatus> {
    stringArg('unique', unique)
    if (functionName !== undefined) stringArg('functionName', functionName)
    const engine = this.#engine
    const job = engine.jobByUnique(unique, functionName)
    if (job !== undefined) return { unique, ...liveStatus(job), waiting: job.clients?.length ?? 0 }
    const finished = functionName === undefined ? undefined : engine.resultCache?.byUnique(functionName, unique)
    return { unique, ...finishedStatus(finished), waiting: 0 }
  }

  async getResult<R = TResult>(handle: string): Promise<JobResult<R> | undefined> {
    stringArg('handle', handle)
    const finished = this.#engine.resultCache?.byHandle(handle)
    if (finished === undefined) return undefined
    const outcome = finished.outcome
    switch (outcome.state) {
      case 'completed':
        return { state: 'completed', value: this.#encoder.decode(outcome.data) as R }
      case 'failed':
        return { state: 'failed', error: outcome.error }
      case 'exception':
        return { state: 'failed', error: new JobExceptionError(outcome.data) }
    }
  }

  /** New submissions are refused; jobs already submitted carry on and settle as usual. */
  close(): Promise<void> {
    this.#closed = true
    return Promise.resolve()
  }

  #prepare(name: string, payload: TPayload, options: SubmitOptions): Prepared {
    stringArg('name', name)
    const unique = options.unique === undefined ? '' : stringArg('unique', options.unique)
    checkUnique(unique)
    const priority = priorityLevel(options.priority)
    const timeout = intOption('timeout', options.timeout, 0)
    const spec: SubmitSpec = timeout === 0 ? FOREGROUND[priority] : { ...FOREGROUND[priority], timeout }
    const signal = signalOption(options.signal)
    return { name, unique, data: this.#encoder.encode(payload), spec, signal }
  }

  #enqueue<R>(p: Prepared): JobRequest<R, TResult> {
    const request = new LocalJobRequest<R, TResult>(p.name, p.unique, this.#encoder)
    if (p.signal?.aborted === true) {
      request.reject(p.signal.reason)
      return request
    }
    if (this.#closed) {
      request.reject(new BrokerClosedError('client is closed'))
      return request
    }
    let job: Job
    try {
      job = this.#engine.submit(p.name, p.unique, p.data, p.spec, request)
    } catch (err) {
      if (err instanceof InvalidArgumentError) throw err
      request.reject(err)
      return request
    }
    request.attach(this.#engine, job, p.signal)
    return request
  }
}

function liveStatus(job: Job): Omit<JobStatus, 'handle'> {
  const running = job.state === 'running'
  return { known: true, running, numerator: job.numerator, denominator: job.denominator, state: running ? 'running' : 'queued' }
}

function finishedStatus(finished: FinishedJob | undefined): Omit<JobStatus, 'handle'> {
  const state = finished === undefined ? 'unknown' : finished.outcome.state === 'completed' ? 'completed' : 'failed'
  return { known: false, running: false, numerator: 0, denominator: 0, state }
}
