// The three targets the contract suite runs against: the in-process Broker, `gearbox serve` over TCP (a
// GearmanServer in this process, port 0) through connect(), and a real gearmand child process through
// connect(). Each target states, by name, where its observable behaviour differs (GEARMAN.md's quirks and
// what the text admin protocol cannot report): the suite asserts those expectations, it never skips.
import type { TestContext } from 'node:test'
import type { AdminApi, ClientApi, WorkerApi } from '../src/api.js'
import { Broker, connect, GearmanServer } from '../src/index.js'
import { startServer as startChild } from '../bench/loadgen/servers.js'

export interface Quirks {
  /** `show jobs` names each job's function and unique (the text protocol only gives handle, retries, ignore, persisted). */
  readonly showJobsHasDetails: boolean
  /** admin `workers` reports each worker's running jobs (the text protocol does not). */
  readonly workersReportRunning: boolean
  /** admin `status` reports maxQueue limits (the text protocol does not). */
  readonly statusReportsMaxQueue: boolean
  /** A cancelled queued job still counts in `status` until a grab reaches it (gearmand §3.13; gearbox drops it at once). */
  readonly cancelledJobStaysCounted: boolean
}

export interface Setup {
  readonly client: (options?: { id?: string }) => ClientApi<string, string>
  readonly worker: (options?: { id?: string }) => WorkerApi<string, string>
  readonly admin: AdminApi
}

export interface Target {
  readonly name: string
  readonly quirks: Quirks
  /** A fresh server (or broker) for one test, torn down in `t.after`. */
  start(t: TestContext): Promise<Setup>
}

const TEXT_ADMIN: Omit<Quirks, 'cancelledJobStaysCounted'> = { showJobsHasDetails: false, workersReportRunning: false, statusReportsMaxQueue: false }

export const inProcess: Target = {
  name: 'in-process Broker',
  quirks: { showJobsHasDetails: true, workersReportRunning: true, statusReportsMaxQueue: true, cancelledJobStaysCounted: false },
  async start(t) {
    const broker = new Broker()
    t.after(() => broker.close({ graceful: false }))
    return {
      // in-process clients have no id (nothing shows it)
      client: () => broker.client({ encoder: 'utf8' }),
      worker: (options = {}) => broker.worker({ encoder: 'utf8', ...options }),
      admin: broker.admin,
    }
  },
}

/** Clients and workers through connect(); `close` ends them all (before the server goes). */
function remoteSetup(port: number): { setup: Setup; close: () => Promise<void> } {
  const remote = connect({ servers: [`127.0.0.1:${port}`], replyTimeout: 5_000 })
  const workers: WorkerApi<string, string>[] = []
  return {
    setup: {
      client: (options = {}) => remote.client({ encoder: 'utf8', ...options }),
      worker: (options = {}) => {
        const worker = remote.worker({ encoder: 'utf8', ...options })
        workers.push(worker)
        return worker
      },
      admin: remote.admin,
    },
    close: async () => {
      await Promise.all(workers.map((w) => w.close({ graceful: false })))
      await remote.close()
    },
  }
}

export const gearboxTcp: Target = {
  name: 'gearbox serve over TCP',
  quirks: { ...TEXT_ADMIN, cancelledJobStaysCounted: false },
  async start(t) {
    const broker = new Broker()
    const server = new GearmanServer(broker, { port: 0 })
    const { port } = await server.listen()
    const { setup, close } = remoteSetup(port)
    t.after(async () => {
      await close()
      await server.close()
      await broker.close({ graceful: false })
    })
    return setup
  },
}

export const gearmand: Target = {
  name: 'gearmand 1.1.20',
  quirks: { ...TEXT_ADMIN, cancelledJobStaysCounted: true },
  async start(t) {
    const child = await startChild('gearmand')
    const { setup, close } = remoteSetup(child.port)
    t.after(async () => {
      await close()
      await child.stop()
    })
    return setup
  },
}
