import { appendFileSync, unlinkSync, writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { Broker, GearmanServer, type JobStore, sqliteStore, VERSION } from '../index.js'

export const SERVE_USAGE = `usage: gearbox serve [options]

A gearmand-compatible job server (Gearman binary protocol + text admin) backed by an in-memory broker,
with background jobs optionally kept in an SQLite file across restarts and crashes.

options (gearmand's, where they make sense):
  -p, --port PORT            port to listen on (default 4730)
  -L, --listen ADDRESS       address to bind (default 127.0.0.1; 0.0.0.0 binds every interface)
  -b, --backlog N            listen backlog (default 32)
  -R, --round-robin          hand jobs to idle workers in turn
  -j, --job-retries N        attempts before a lost job fails (default 0 = retry forever, as gearmand)
  -w, --worker-wakeup N      sleeping workers woken per queued job (default 0 = all)
  -q, --queue-type TYPE      where background jobs are kept: builtin (memory, default) or sqlite
                             (libsqlite3 is accepted as another name for sqlite)
      --sqlite-db FILE       the SQLite file for -q sqlite (also spelled --libsqlite3-db); created if
                             missing; its jobs are replayed at start
  -P, --pid-file FILE        write the process id to FILE
  -l, --log-file FILE        log to FILE ('stderr' (default) or 'none')
  -v, --verbose              log more (repeat for more)
  -V, --version              print the version and exit
  -h, --help                 show this help
gearbox's own:
      --max-packet-size N    largest packet payload accepted, bytes (default 67108864)
      --max-connections N    connections at once (default 10000)
      --reply-hold MS        how long a client's replies may wait for more while input keeps coming,
                             0 to 10 ms (default 0.2; 0: written at the end of every event-loop turn)
      --admin-shutdown       answer the text command 'shutdown [graceful]' (gearmand <= 1.1.14)

signals: SIGTERM/SIGINT stop at once; SIGUSR1 (or 'shutdown graceful') stops accepting, serves the
existing connections until no job is left, then exits.
`

type Log = (level: number, message: string) => void

/** Runs `gearbox serve`; resolves with the exit code once the server has stopped. */
export async function serve(argv: string[], out: (text: string) => void): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string', short: 'p', default: '4730' },
      listen: { type: 'string', short: 'L', default: '127.0.0.1' },
      backlog: { type: 'string', short: 'b' },
      'round-robin': { type: 'boolean', short: 'R' },
      'job-retries': { type: 'string', short: 'j', default: '0' },
      'worker-wakeup': { type: 'string', short: 'w', default: '0' },
      'queue-type': { type: 'string', short: 'q', default: 'builtin' },
      'sqlite-db': { type: 'string' },
      'libsqlite3-db': { type: 'string' },
      'pid-file': { type: 'string', short: 'P' },
      'log-file': { type: 'string', short: 'l', default: 'stderr' },
      verbose: { type: 'boolean', short: 'v', multiple: true },
      version: { type: 'boolean', short: 'V' },
      help: { type: 'boolean', short: 'h' },
      'max-packet-size': { type: 'string' },
      'max-connections': { type: 'string' },
      'reply-hold': { type: 'string' },
      'admin-shutdown': { type: 'boolean' },
    },
  })
  if (values.help === true) {
    out(SERVE_USAGE)
    return 0
  }
  if (values.version === true) {
    out(`gearbox ${VERSION}\n`)
    return 0
  }
  const log = logger(values['log-file'], values.verbose?.length ?? 0)
  const store = openStore(values['queue-type'], values['sqlite-db'] ?? values['libsqlite3-db'])
  let broker: Broker
  try {
    broker = new Broker({
      roundRobin: values['round-robin'] ?? false,
      jobRetries: integer('--job-retries', values['job-retries']),
      workerWakeup: integer('--worker-wakeup', values['worker-wakeup']),
      store,
    })
  } catch (err) {
    store?.close()
    throw err
  }
  if (store !== undefined) log(0, `replayed ${broker.size} stored background job(s)`)
  let stop: (graceful: boolean) => void = () => undefined
  const stopped = new Promise<boolean>((resolve) => (stop = resolve))
  const server = new GearmanServer(broker, {
    port: integer('--port', values.port),
    host: values.listen,
    backlog: optionalInteger('--backlog', values.backlog),
    maxPacketSize: optionalInteger('--max-packet-size', values['max-packet-size']),
    maxConnections: optionalInteger('--max-connections', values['max-connections']),
    replyHold: values['reply-hold'] === undefined ? undefined : decimal('--reply-hold', values['reply-hold']),
    onShutdown: values['admin-shutdown'] === true ? (graceful) => { stop(graceful) } : undefined,
  })
  const { host, port } = await server.listen()
  const pidFile = values['pid-file']
  if (pidFile !== undefined) writeFileSync(pidFile, `${process.pid}\n`)
  log(0, `gearbox ${VERSION} listening on ${host}:${port} (pid ${process.pid})`)
  const onTerm = (): void => {
    stop(false)
  }
  const onUsr1 = (): void => {
    stop(true)
  }
  process.on('SIGTERM', onTerm).on('SIGINT', onTerm).on('SIGUSR1', onUsr1)
  const graceful = await stopped
  log(0, graceful ? 'stopping gracefully: serving existing connections until no job is left' : 'stopping')
  process.off('SIGTERM', onTerm).off('SIGINT', onTerm).off('SIGUSR1', onUsr1)
  try {
    await server.close({ graceful, timeout: 2 ** 31 - 1 })
    // rejects if the store's last write failed (its removals are lost: those jobs run again at the next start)
    await broker.close({ graceful: false })
  } finally {
    if (pidFile !== undefined) {
      try {
        unlinkSync(pidFile)
      } catch {
        // already gone
      }
    }
  }
  log(0, 'stopped')
  return 0
}

function openStore(type: string, file: string | undefined): JobStore | undefined {
  switch (type.toLowerCase()) {
    case 'builtin':
      if (file !== undefined) throw new TypeError('--sqlite-db needs -q sqlite')
      return undefined
    case 'sqlite':
    case 'libsqlite3':
      if (file === undefined) throw new TypeError('-q sqlite needs --sqlite-db FILE')
      return sqliteStore(file)
    default:
      throw new TypeError(`unknown queue type "${type}" (builtin or sqlite)`)
  }
}

function logger(target: string, verbosity: number): Log {
  return (level, message) => {
    if (level > verbosity || target === 'none') return
    const line = `${new Date().toISOString()} ${message}\n`
    if (target === 'stderr') process.stderr.write(line)
    else appendFileSync(target, line)
  }
}

function integer(flag: string, text: string): number {
  const n = Number(text)
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n)) throw new TypeError(`${flag} takes a whole number, got "${text}"`)
  return n
}

function decimal(flag: string, text: string): number {
  if (!/^\d+(\.\d+)?$/.test(text)) throw new TypeError(`${flag} takes a number such as 0.2, got "${text}"`)
  return Number(text)
}

function optionalInteger(flag: string, text: string | undefined): number | undefined {
  return text === undefined ? undefined : integer(flag, text)
}
