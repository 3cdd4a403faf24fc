import type { Encoder, Handler } from '../api.js'
import { BrokerClosedError, ConnectionLostError, type GearboxError, JobFailedError, JobTimeoutError, WorkerLostError } from '../errors.js'
import { isThenable, messageOf } from '../guards.js'
import { type Arg, encodePacket } from '../protocol/encoder.js'
import type { Frame } from '../protocol/frame.js'
import { PACKET, type PacketType } from '../protocol/packets.js'
import type { Address } from './address.js'
import { RemoteConnection } from './connection.js'
import { RemoteJobContext } from './job-context.js'
import { ServerLink } from './link.js'
import type { RemoteSettings } from './settings.js'

type AnyContext = RemoteJobContext<unknown, unknown>

const GRAB = encodePacket('REQ', PACKET.GRAB_JOB_UNIQ, [])
const PRE_SLEEP = encodePacket('REQ', PACKET.PRE_SLEEP, [])
/** ms a timed-out job's connection is kept before it is dropped so that the server requeues the job. */
const TIMEOUT_GRACE = 1_000
/**
 * NO_JOB answers in a row (no job between them) after which PRE_SLEEP waits, and the longest wait (ms). A
 * server may wake a worker (NOOP) for work that its grab then does not find: gearmand does so while a
 * future SUBMIT_JOB_EPOCH job heads a priority above a runnable job (GEARMAN.md §3.4), and without a pause
 * the worker and the server would ping-pong NOOP, GRAB, NO_JOB, PRE_SLEEP as fast as they can. The wait
 * doubles from 1 ms per further NO_JOB; any job assigned ends it.
 */
const DRY_GRABS_BEFORE_PAUSE = 4
const MAX_SLEEP_PAUSE = 100

/** What a registration needs from its worker. */
export interface WorkerHost {
  readonly id: string
  readonly settings: RemoteSettings
  readonly encoder: Encoder<unknown, unknown>
  /** A job ended (a graceful close may be waiting for the last one). */
  jobFinished(): void
}

/** One registered function: its handler, its slots, and its connection to each server. */
export class FunctionRegistration {
  readonly worker: WorkerHost
  readonly name: string
  readonly handler: Handler<unknown, unknown, unknown>
  readonly timeout: number
  readonly concurrency: number
  /** Jobs running now, across servers. */
  active = 0
  /** GRAB_JOB_UNIQ in flight, across servers. */
  grabs = 0
  retired = false
  #links: FunctionLink[] = []
  #turn = 0

  constructor(worker: WorkerHost, name: string, handler: Handler<unknown, unknown, unknown>, timeout: number, concurrency: number) {
    this.worker = worker
    this.name = name
    this.handler = handler
    this.timeout = timeout
    this.concurrency = concurrency
  }

  start(): void {
    this.#links = this.worker.settings.servers.map((address) => new FunctionLink(this, address))
    for (const link of this.#links) link.connect()
  }

  /** Grabs while slots are free, from the servers in turn (only connections that may have work). */
  fill(): void {
    const links = this.#links
    const n = links.length
    let idle = 0
    while (!this.retired && this.active + this.grabs < this.concurrency && idle < n) {
      const link = links[this.#turn++ % n] as FunctionLink
      if (link.canGrab) {
        link.grab()
        idle = 0
      } else idle++
    }
  }

  /** No new jobs; connections close once the running ones finished. */
  retire(): void {
    this.retired = true
    if (this.active === 0) this.stop(new BrokerClosedError('function unregistered'))
  }

  /** Closes every connection now; running jobs' signals fire with `reason`. */
  stop(reason: GearboxError): void {
    this.retired = true
    for (const link of this.#links) link.stop(reason)
  }

  jobDone(): void {
    this.active--
    this.worker.jobFinished()
    if (this.retired && this.active === 0) this.stop(new BrokerClosedError('function unregistered'))
    else this.fill()
  }
}

/** One function's connection to one server, reopened with backoff while the function is registered. */
class FunctionLink extends ServerLink {
  readonly #f: FunctionRegistration
  #connection: RemoteConnection | null = null
  #grabs = 0
  /** NO_JOB seen: no more grabs until NOOP. */
  #dry = false
  #asleep = false
  /** NO_JOB answers since the last job assigned here. */
  #dryGrabs = 0
  /** A PRE_SLEEP put off (see DRY_GRABS_BEFORE_PAUSE). */
  #sleepPause: NodeJS.Timeout | null = null
  #reconnect: NodeJS.Timeout | null = null
  /** GRAB and PRE_SLEEP packets this link sent: either one resets gearmand's job timer on its connection. */
  #timerResets = 0
  /** Runs while grabs are unanswered: a server that answers none of them within the reply timeout is stalled. */
  #watchdog: NodeJS.Timeout | null = null
  /** Epoch ms since which the server owes an answer: the first unanswered grab, or the last answer after it. */
  #owedSince = 0
  /** The jobs running from this connection (an array: a Set reallocates its table as it empties and fills per job). */
  readonly #running: AnyContext[] = []
  #stopped = false

  constructor(f: FunctionRegistration, address: Address) {
    super(address, f.worker.settings.backoff)
    this.#f = f
  }

  get canGrab(): boolean {
    return this.#connection?.open === true && !this.#dry && !this.#asleep
  }

  connect(): void {
    this.#reconnect = null
    const f = this.#f
    // retired while dropped (an unregister waiting for its last jobs): registering again would take new work
    if (this.#stopped || f.retired) return
    const connection = new RemoteConnection(this.address, this.#sink, f.worker.settings.connection)
    this.#connection = connection
    this.#dry = false
    this.#asleep = false
    this.#dryGrabs = 0
    connection.write(encodePacket('REQ', PACKET.SET_CLIENT_ID, [f.worker.id]))
    connection.write(
      f.timeout > 0 ? encodePacket('REQ', PACKET.CAN_DO_TIMEOUT, [f.name, String(f.timeout)]) : encodePacket('REQ', PACKET.CAN_DO, [f.name]),
    )
  }

  grab(): void {
    this.#grabs++
    this.#f.grabs++
    this.#connection?.write(GRAB)
    this.#timerResets++
    if (this.#grabs === 1) {
      this.#owedSince = performance.now()
      this.#watch()
    }
  }

  /**
   * Starts the watchdog unless it runs. One timer per link, not touched per job: answers only move
   * #owedSince, and the timer, when it fires, waits again for what is left of the reply timeout.
   */
  #watch(): void {
    if (this.#watchdog === null) this.#watchdog = setTimeout(this.#onStall, this.#f.worker.settings.connection.replyTimeout).unref()
  }

  readonly #onStall = (): void => {
    this.#watchdog = null
    const connection = this.#connection
    if (this.#grabs === 0 || connection === null) return
    const timeout = this.#f.worker.settings.connection.replyTimeout
    const silent = performance.now() - this.#owedSince
    if (silent < timeout) this.#watchdog = setTimeout(this.#onStall, timeout - silent).unref()
    else connection.destroy(new ConnectionLostError(this.address.key, `no answer to a grab within ${timeout} ms`))
  }

  #unwatch(): void {
    if (this.#watchdog !== null) clearTimeout(this.#watchdog)
    this.#watchdog = null
  }

  stop(reason: GearboxError): void {
    this.#stopped = true
    this.#unwatch()
    this.#unpause()
    if (this.#reconnect !== null) clearTimeout(this.#reconnect)
    this.#reconnect = null
    this.#connection?.destroy(reason)
  }

  readonly #sink = {
    onOpen: (): void => {
      this.#f.fill()
    },
    onHeard: (): void => {
      this.opened()
    },
    onFrame: (frame: Frame, connection: RemoteConnection): void => {
      this.#onFrame(frame, connection)
    },
    onClose: (error: GearboxError, connection: RemoteConnection): void => {
      if (this.#connection !== connection) return
      this.#connection = null
      this.#f.grabs -= this.#grabs
      this.#grabs = 0
      this.#unwatch()
      this.#unpause()
      // the server requeues what this connection held: the handlers' results have nowhere to go
      // a copy: the aborts run user code (signal listeners) while the list is walked
      for (const ctx of [...this.#running]) ctx.abort(error)
      if (this.#stopped) return
      this.#reconnect = setTimeout(() => {
        this.connect()
      }, this.failed())
      this.#f.fill()
    },
  }

  #onFrame(frame: Frame, connection: RemoteConnection): void {
    const f = this.#f
    switch (frame.type) {
      case PACKET.NOOP:
        this.#asleep = false
        this.#dry = false
        f.fill()
        return
      case PACKET.NO_JOB:
        this.#grabs--
        f.grabs--
        this.#dry = true
        this.#dryGrabs++
        this.#owedSince = performance.now()
        this.#sleepIfDry(connection)
        f.fill()
        return
      case PACKET.JOB_ASSIGN_UNIQ:
        this.#grabs--
        f.grabs--
        this.#dryGrabs = 0
        this.#owedSince = performance.now()
        // an earlier grab may have come back NO_JOB: with this, the last answer is in, and the link sleeps
        this.#sleepIfDry(connection)
        // this connection is registered for this function alone: its name need not be decoded
        this.#run(connection, frame)
        f.fill()
        return
      default:
        return // ERROR JOB_NOT_FOUND for a result the server no longer wants (timed out or requeued)
    }
  }

  /**
   * A job timed out here, and its result is never sent. gearmand keeps one timeout timer per connection, which
   * a later grab or PRE_SLEEP cancelled (GEARMAN.md §3.8): it would hold the job forever. After a grace,
   * dropping the connection makes it requeue the job (and any other it holds there, which run again).
   */
  #giveBack(connection: RemoteConnection, ctx: AnyContext): void {
    setTimeout(() => {
      connection.destroy(new ConnectionLostError(this.address.key, `job ${ctx.handle} timed out; dropping the connection so that the server requeues it`))
    }, TIMEOUT_GRACE).unref()
  }

  /**
   * After NO_JOB, once no grab is in flight: PRE_SLEEP, so the server wakes this link (NOOP) when work comes;
   * put off a little after several NO_JOB in a row (see DRY_GRABS_BEFORE_PAUSE).
   */
  #sleepIfDry(connection: RemoteConnection, paused = false): void {
    if (!this.#dry || this.#grabs !== 0 || this.#asleep || this.#sleepPause !== null) return
    const beyond = this.#dryGrabs - DRY_GRABS_BEFORE_PAUSE
    if (beyond >= 0 && !paused) {
      this.#sleepPause = setTimeout(() => {
        this.#sleepPause = null
        if (this.#connection === connection) this.#sleepIfDry(connection, true)
      }, Math.min(2 ** Math.min(beyond, 16), MAX_SLEEP_PAUSE)).unref()
      return
    }
    this.#asleep = true
    connection.write(PRE_SLEEP)
    this.#timerResets++
  }

  #unpause(): void {
    if (this.#sleepPause !== null) clearTimeout(this.#sleepPause)
    this.#sleepPause = null
  }

  #run(connection: RemoteConnection, frame: Frame): void {
    const f = this.#f
    f.active++
    const ctx: AnyContext = new RemoteJobContext(connection, frame, f.name, f.worker.encoder)
    this.#running.push(ctx)
    const timer = f.timeout > 0 ? this.#deadline(connection, ctx) : null
    let result: unknown
    try {
      result = f.handler(ctx)
    } catch (err) {
      this.#failed(ctx, err)
      this.#finish(ctx, timer)
      return
    }
    if (isThenable(result)) {
      result.then(
        (value) => {
          this.#succeeded(ctx, value)
          this.#finish(ctx, timer)
        },
        (err: unknown) => {
          this.#failed(ctx, err)
          this.#finish(ctx, timer)
        },
      )
    } else {
      this.#succeeded(ctx, result)
      this.#finish(ctx, timer)
    }
  }

  /** The function's timeout for one job: its signal fires, and the server is made to requeue it if need be. */
  #deadline(connection: RemoteConnection, ctx: AnyContext): NodeJS.Timeout {
    const f = this.#f
    const resets = this.#timerResets
    return setTimeout(() => {
      ctx.abort(new JobTimeoutError(f.timeout, 1))
      if (this.#timerResets !== resets) this.#giveBack(connection, ctx)
    }, Math.max(f.timeout, 1000))
  }

  /** The handler is done (its answer was sent): the slot is free. */
  #finish(ctx: AnyContext, timer: NodeJS.Timeout | null): void {
    if (timer !== null) clearTimeout(timer)
    const running = this.#running
    // O(jobs running here); the last one is swapped into its place
    const at = running.lastIndexOf(ctx)
    if (at >= 0) {
      const last = running.pop() as AnyContext
      if (at < running.length) running[at] = last
    }
    this.#f.jobDone()
  }

  /** WORK_COMPLETE with the handler's value (WORK_EXCEPTION if it cannot be encoded or is too large). */
  #succeeded(ctx: AnyContext, value: unknown): void {
    let data: Uint8Array
    try {
      data = ctx.encodeValue(value)
    } catch (err) {
      this.#failed(ctx, err)
      return
    }
    const limit = this.#f.worker.settings.maxPayloadSize
    if (data.byteLength > limit) answer(ctx, PACKET.WORK_EXCEPTION, [ctx.handleBytes, `result of ${data.byteLength} bytes exceeds maxPayloadSize ${limit}`])
    else answer(ctx, PACKET.WORK_COMPLETE, [ctx.handleBytes, data])
  }

  /** WORK_FAIL for JobFailedError, else WORK_EXCEPTION with the error's message. */
  #failed(ctx: AnyContext, err: unknown): void {
    if (err instanceof JobFailedError) {
      answer(ctx, PACKET.WORK_FAIL, [ctx.handleBytes])
      return
    }
    if (err instanceof WorkerLostError) {
      // Gearman's way to give a job back: drop the connection, the server requeues what it held
      ctx.connection.destroy(new ConnectionLostError(this.address.key, 'a handler gave its job back (WorkerLostError)'))
    }
    answer(ctx, PACKET.WORK_EXCEPTION, [ctx.handleBytes, messageOf(err)])
  }
}

/**
 * A job's outcome packet, unless the attempt was taken away (the server gave the job to someone else, or the
 * connection is gone). The handle came from the server as one NUL-free argument; only the last may hold NULs.
 */
function answer(ctx: AnyContext, type: PacketType, args: readonly Arg[]): void {
  if (!ctx.aborted) ctx.connection.writePacket(type, args)
}
