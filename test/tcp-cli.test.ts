// The real libgearman tools against our server: the `gearman` CLI as worker and client, and `gearadmin`
// (Debian packages gearman-tools / gearman-job-server). Missing binaries fail the tests, they do not skip them.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { VERSION } from '../src/index.js'
import { maskFds, startServer, waitUntil } from './tcp-peer.js'

const limits = { timeout: 20_000 }
const INSTALL = 'apt-get install -y gearman-tools gearman-job-server'

/** The absolute path of an executable on PATH (or in /usr/bin, /usr/sbin); fails the test when there is none. */
function binary(name: string): string {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter), '/usr/bin', '/usr/sbin'].filter((d) => d !== '')
  for (const dir of dirs) {
    const file = join(dir, name)
    try {
      accessSync(file, constants.X_OK)
      return file
    } catch {
      // not here
    }
  }
  assert.fail(`the \`${name}\` binary is not installed; these tests need the libgearman tools: ${INSTALL}`)
}

interface Result {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Starts a child process that is killed (and awaited) when the test ends. */
function start(t: TestContext, file: string, args: readonly string[]): { child: ChildProcess; done: Promise<Result> } {
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('latin1').on('data', (s: string) => (stdout += s))
  child.stderr.setEncoding('latin1').on('data', (s: string) => (stderr += s))
  const done = new Promise<Result>((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code) => {
      resolve({ code, stdout, stderr })
    })
  })
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await done.catch(() => undefined)
  })
  return { child, done }
}

/** Runs a short-lived command to completion. */
function run(t: TestContext, file: string, args: readonly string[]): Promise<Result> {
  return start(t, file, args).done
}

test('the gearman CLI: `gearman -w -f NAME -- rev` as a worker, `gearman -f NAME data` as a client (output reversed)', limits, async (t) => {
  const gearman = binary('gearman')
  const { broker, port } = await startServer(t)
  const at = ['-h', '127.0.0.1', '-p', String(port)]
  const worker = start(t, gearman, [...at, '-w', '-f', 'reverse', '--', 'rev'])
  await waitUntil(async () => (await broker.admin.status()).some((f) => f.name === 'reverse' && f.workers === 1), 'the gearman worker has registered')

  assert.deepEqual(await run(t, gearman, [...at, '-f', 'reverse', 'hello']), { code: 0, stdout: 'olleh', stderr: '' })
  assert.deepEqual(await run(t, gearman, [...at, '-f', 'reverse', 'gearbox over tcp']), { code: 0, stdout: 'pct revo xobraeg', stderr: '' })
  // an in-process client is served by the CLI worker as well
  assert.equal(await broker.client({ encoder: 'utf8' }).submit('reverse', 'abc'), 'cba')
  // a background job: the client exits at once, the worker still runs it
  const background = await run(t, gearman, [...at, '-b', '-f', 'reverse', 'later'])
  assert.deepEqual({ code: background.code, stderr: background.stderr }, { code: 0, stderr: '' })
  await waitUntil(() => broker.size === 0, 'the background job has run')

  // the CLI client with an in-process worker
  broker.worker({ encoder: 'utf8' }).register('upper', (job) => job.payload.toUpperCase())
  assert.deepEqual(await run(t, gearman, [...at, '-f', 'upper', 'shout']), { code: 0, stdout: 'SHOUT', stderr: '' })
  assert.equal(worker.child.exitCode, null, 'the worker is still running')
})

test('gearadmin --status / --priority-status / --workers / --show-jobs / --show-unique-jobs against our server', limits, async (t) => {
  const gearadmin = binary('gearadmin')
  const { port, connect } = await startServer(t)
  const at = ['-h', '127.0.0.1', '-p', String(port)]
  const worker = await connect()
  worker.send('SET_CLIENT_ID', 'peer-worker')
  worker.send('CAN_DO', 'adm')
  await worker.sync()
  const client = await connect()
  client.send('SUBMIT_JOB_BG', 'adm', 'uq', 'x')
  client.send('SUBMIT_JOB', 'adm', '', 'y')
  await client.expect('JOB_CREATED', ['H:t:1'])
  await client.expect('JOB_CREATED', ['H:t:2'])

  assert.deepEqual(await run(t, gearadmin, [...at, '--status']), { code: 0, stdout: 'adm\t2\t0\t1\n.\n', stderr: '' })
  assert.deepEqual(await run(t, gearadmin, [...at, '--priority-status']), { code: 0, stdout: 'adm\t0\t2\t0\t1\n.\n', stderr: '' })
  const workers = await run(t, gearadmin, [...at, '--workers'])
  // ours: the worker, the client, and gearadmin's own connection
  assert.deepEqual(sortedLines(maskFds(workers.stdout)), ['.', 'FD 127.0.0.1 - :', 'FD 127.0.0.1 - :', 'FD 127.0.0.1 peer-worker : adm'])
  assert.equal(workers.stderr, '')
  const jobs = await run(t, gearadmin, [...at, '--show-jobs'])
  assert.deepEqual(sortedLines(jobs.stdout), ['.', 'H:t:1\t0\t0\t1', 'H:t:2\t0\t0\t0'])
  assert.equal(jobs.stderr, '')
  const uniques = await run(t, gearadmin, [...at, '--show-unique-jobs'])
  assert.deepEqual(sortedLines(uniques.stdout), ['', '.', 'uq'])
  assert.equal(uniques.stderr, '')
})

test('gearadmin --cancel-job / --getpid / --server-version / --server-verbose / --create-function / --drop-function', limits, async (t) => {
  const gearadmin = binary('gearadmin')
  const { port, connect } = await startServer(t)
  const at = ['-h', '127.0.0.1', '-p', String(port)]
  const client = await connect()
  client.send('SUBMIT_JOB', 'cx', '', 'y')
  await client.expect('JOB_CREATED', ['H:t:1'])

  // gearadmin removes `OK ` from `OK <value>` replies; a bare `OK\r\n` it prints as `OK\n`
  assert.deepEqual(await run(t, gearadmin, [...at, '--cancel-job', 'H:t:1']), { code: 0, stdout: 'OK\n', stderr: '' })
  await client.expect('WORK_FAIL', ['H:t:1'])
  // ERR goes to stderr as "Error: …"
  const unknown = await run(t, gearadmin, [...at, '--cancel-job', 'H:t:999'])
  assert.deepEqual({ stdout: unknown.stdout, stderr: unknown.stderr }, { stdout: '', stderr: 'Error: UNKNOWN_JOB\r\n' })

  assert.deepEqual(await run(t, gearadmin, [...at, '--getpid']), { code: 0, stdout: `${process.pid}\n`, stderr: '' })
  assert.deepEqual(await run(t, gearadmin, [...at, '--server-version']), { code: 0, stdout: `${VERSION}\n`, stderr: '' })
  const verbose = await run(t, gearadmin, [...at, '--server-verbose'])
  assert.match(verbose.stdout, /^(FATAL|ALERT|CRITICAL|ERROR|WARNING|NOTICE|INFO|DEBUG)\n$/)

  assert.deepEqual(await run(t, gearadmin, [...at, '--create-function', 'made']), { code: 0, stdout: 'OK\n', stderr: '' })
  assert.deepEqual(await run(t, gearadmin, [...at, '--status']), { code: 0, stdout: 'cx\t0\t0\t0\nmade\t0\t0\t0\n.\n', stderr: '' })
  assert.deepEqual(await run(t, gearadmin, [...at, '--drop-function', 'made']), { code: 0, stdout: 'OK\n', stderr: '' })
  const again = await run(t, gearadmin, [...at, '--drop-function', 'made'])
  assert.deepEqual({ stdout: again.stdout, stderr: again.stderr }, { stdout: '', stderr: 'Error: function not found\r\n' })
})

function sortedLines(text: string): string[] {
  assert.ok(text.endsWith('\n'), `output ends with a newline: ${JSON.stringify(text)}`)
  return text.slice(0, -1).split('\n').sort()
}
