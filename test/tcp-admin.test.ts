// The text admin protocol on the Gearman port, byte for byte (GEARMAN.md §4, §9), and maxqueue with the
// binary protocol's "queue full" ERROR (§3.10).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { VERSION } from '../src/index.js'
import { RES, maskFds, rawPacket, startServer, waitUntil } from './tcp-peer.js'

const limits = { timeout: 20_000 }

/** A list reply's lines (without the final `.`), sorted: gearmand's list order is unspecified. */
function listLines(reply: string): string[] {
  assert.ok(reply.endsWith('.\n'), `a list reply ends with ".\\n": ${JSON.stringify(reply)}`)
  const body = reply.slice(0, -2)
  if (body === '') return []
  assert.ok(body.endsWith('\n'), `every list line ends with \\n: ${JSON.stringify(reply)}`)
  return body.slice(0, -1).split('\n').sort()
}

test('maxqueue over the admin protocol: `maxqueue fn 1` → OK\\r\\n, then a second SUBMIT → ERROR QUEUE_ERROR "Job queue is full"', limits, async (t) => {
  const { connect } = await startServer(t)
  const admin = await connect()
  const client = await connect()
  assert.equal(
    await admin.admin('maxqueue'),
    'ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+maxqueue\r\n',
  )

  client.send('SUBMIT_JOB_BG', 'mq', 'keep', 'a')
  await client.expect('JOB_CREATED', ['H:t:1'])
  assert.equal(await admin.admin('maxqueue mq 1'), 'OK\r\n')

  client.send('SUBMIT_JOB_BG', 'mq', '', 'b')
  assert.deepEqual((await client.packet()).raw, rawPacket(RES, 19, 'QUEUE_ERROR\0Job queue is full'))
  for (const type of ['SUBMIT_JOB', 'SUBMIT_JOB_HIGH', 'SUBMIT_JOB_LOW', 'SUBMIT_JOB_LOW_BG'] as const) {
    client.send(type, 'mq', '', 'c')
    await client.expect('ERROR', ['QUEUE_ERROR', 'Job queue is full'])
  }
  // joining the live job creates nothing, so the limit does not apply
  client.send('SUBMIT_JOB', 'mq', 'keep', 'z')
  await client.expect('JOB_CREATED', ['H:t:1'])
  assert.equal(await admin.admin('status'), 'mq\t1\t0\t0\n.\n')

  // `maxqueue FN H N L`: per priority (0 = unlimited)
  assert.equal(await admin.admin('maxqueue mq 2 0 1'), 'OK\r\n')
  client.send('SUBMIT_JOB_LOW_BG', 'mq', '', 'low')
  await client.expect('ERROR', ['QUEUE_ERROR', 'Job queue is full'])
  client.send('SUBMIT_JOB_HIGH_BG', 'mq', '', 'high')
  await client.expect('JOB_CREATED', ['H:t:2'])
  client.send('SUBMIT_JOB_BG', 'mq', '', 'normal')
  await client.expect('JOB_CREATED', ['H:t:3'])
  // `maxqueue FN H N`: LOW becomes unlimited (gearmand's quirk)
  assert.equal(await admin.admin('maxqueue mq 3 3'), 'OK\r\n')
  client.send('SUBMIT_JOB_BG', 'mq', '', 'normal')
  await client.expect('ERROR', ['QUEUE_ERROR', 'Job queue is full'])
  client.send('SUBMIT_JOB_LOW_BG', 'mq', '', 'low')
  // rejected submissions consumed no handle
  await client.expect('JOB_CREATED', ['H:t:4'])
  // `maxqueue FN`: unlimited again
  assert.equal(await admin.admin('maxqueue mq'), 'OK\r\n')
  client.send('SUBMIT_JOB_BG', 'mq', '', 'more')
  await client.expect('JOB_CREATED', ['H:t:5'])
  assert.equal(await admin.admin('prioritystatus'), 'mq\t1\t3\t1\t0\n.\n')

  // an unknown function: OK, and nothing is created
  assert.equal(await admin.admin('maxqueue nosuch 5'), 'OK\r\n')
  assert.equal(await admin.admin('status'), 'mq\t5\t0\t0\n.\n')
})

test('status / prioritystatus / workers / show jobs / show unique jobs: byte-exact lines, empty and populated', limits, async (t) => {
  const { connect } = await startServer(t)
  const admin = await connect()
  assert.equal(await admin.admin('status'), '.\n')
  assert.equal(await admin.admin('prioritystatus'), '.\n')
  assert.equal(await admin.admin('show jobs'), '.\n')
  assert.equal(await admin.admin('show unique jobs'), '.\n')
  assert.equal(maskFds(await admin.admin('workers')), 'FD 127.0.0.1 - :\n.\n')

  assert.equal(await admin.admin('create function ab'), 'OK\r\n')
  const worker = await connect()
  worker.send('CAN_DO', 'rev')
  const client = await connect()
  client.send('SUBMIT_JOB_BG', 'rev', '', 'x')
  client.send('SUBMIT_JOB_HIGH', 'rev', 'u2', 'y')
  client.send('SUBMIT_JOB_LOW', 'rev', 'u3', 'z')
  for (let n = 1; n <= 3; n++) await client.expect('JOB_CREATED', [`H:t:${n}`])
  // HANDLE \t RETRIES \t IGNORE \t PERSISTED (1 for a live background job)
  assert.deepEqual(listLines(await admin.admin('show jobs')), ['H:t:1\t0\t0\t1', 'H:t:2\t0\t0\t0', 'H:t:3\t0\t0\t0'])
  // an empty unique is an empty line
  assert.deepEqual(listLines(await admin.admin('show unique jobs')), ['', 'u2', 'u3'])

  worker.send('GRAB_JOB')
  await worker.expect('JOB_ASSIGN', ['H:t:2', 'rev', 'y'])
  assert.deepEqual(listLines(await admin.admin('status')), ['ab\t0\t0\t0', 'rev\t3\t1\t1'])
  // waiting jobs only: the running HIGH job is not counted
  assert.deepEqual(listLines(await admin.admin('prioritystatus')), ['ab\t0\t0\t0\t0', 'rev\t0\t1\t1\t1'])
  // one line per connection, this admin connection and the pure client included
  assert.deepEqual(listLines(maskFds(await admin.admin('workers'))), ['FD 127.0.0.1 - :', 'FD 127.0.0.1 - :', 'FD 127.0.0.1 - : rev'])

  // keywords are case-insensitive; a bare \n ends a line as well as \r\n
  assert.deepEqual(listLines(await admin.admin('STATUS', '\n')), ['ab\t0\t0\t0', 'rev\t3\t1\t1'])
  assert.deepEqual(listLines(await admin.admin('Show Unique Jobs', '\n')), ['', 'u2', 'u3'])
  assert.equal(await admin.admin('show unique jobs extra'), 'ERR UNKNOWN_SHOW_ARGUMENTS\r\n')
})

test('show jobs RETRIES counts lost attempts, as gearmand: 0 while the first attempt runs, 1 once it is lost, still 1 while the retry runs', limits, async (t) => {
  const { connect } = await startServer(t)
  const admin = await connect()
  const client = await connect()
  client.send('SUBMIT_JOB', 'rj', '', 'x')
  await client.expect('JOB_CREATED', ['H:t:1'])
  const doomed = await connect()
  doomed.send('CAN_DO', 'rj')
  doomed.send('GRAB_JOB')
  await doomed.expect('JOB_ASSIGN', ['H:t:1', 'rj', 'x'])
  const running = await admin.admin('show jobs')
  await doomed.destroy()
  const second = await connect()
  second.send('CAN_DO', 'rj')
  second.send('PRE_SLEEP')
  // PRE_SLEEP answers NOOP at once once the job is back in the queue
  await waitUntil(async () => (await admin.admin('status')) === 'rj\t1\t0\t1\n.\n', 'the lost job is queued again')
  const requeued = await admin.admin('show jobs')
  second.send('GRAB_JOB')
  await second.expect('NOOP', [])
  await second.expect('JOB_ASSIGN', ['H:t:1', 'rj', 'x'])
  const retrying = await admin.admin('show jobs')
  assert.deepEqual([running, requeued, retrying], ['H:t:1\t0\t0\t0\n.\n', 'H:t:1\t1\t0\t0\n.\n', 'H:t:1\t1\t0\t0\n.\n'])
})

test('cancel job: OK\\r\\n and WORK_FAIL to the waiting client; ERR UNKNOWN_JOB; wrong shapes', limits, async (t) => {
  const { connect } = await startServer(t)
  const admin = await connect()
  const client = await connect()
  client.send('SUBMIT_JOB', 'cj', '', 'first')
  client.send('SUBMIT_JOB', 'cj', '', 'second')
  await client.expect('JOB_CREATED', ['H:t:1'])
  await client.expect('JOB_CREATED', ['H:t:2'])

  assert.equal(await admin.admin('cancel job H:t:1'), 'OK\r\n')
  assert.deepEqual((await client.packet()).raw, rawPacket(RES, 14, 'H:t:1'))
  assert.equal(await admin.admin('cancel job H:t:1'), 'ERR UNKNOWN_JOB\r\n')
  assert.equal(await admin.admin('cancel job H:t:999'), 'ERR UNKNOWN_JOB\r\n')
  assert.equal(await admin.admin('cancel job'), 'ERR UNKNOWN_COMMAND Unknown+server+commandcancel\r\n')
  assert.equal(await admin.admin('cancel'), 'ERR UNKNOWN_COMMAND Unknown+server+commandcancel\r\n')
  assert.equal(await admin.admin('cancel job H:t:2 extra'), 'ERR UNKNOWN_ERROR\r\n')

  // the cancelled job never reaches a worker; the other one does
  const worker = await connect()
  worker.send('CAN_DO', 'cj')
  worker.send('GRAB_JOB')
  await worker.expect('JOB_ASSIGN', ['H:t:2', 'cj', 'second'])
  worker.send('GRAB_JOB')
  await worker.expect('NO_JOB', [])
  worker.send('WORK_COMPLETE', 'H:t:2', 'ok')
  await client.expect('WORK_COMPLETE', ['H:t:2', 'ok'])
  await client.sync()
})

test('unknown commands, `show foo`, version/getpid/verbose, create/drop function: exact replies', limits, async (t) => {
  const { connect } = await startServer(t)
  const admin = await connect()
  assert.equal(await admin.admin('foo'), 'ERR UNKNOWN_COMMAND Unknown+server+commandfoo\r\n')
  assert.equal(await admin.admin(''), 'ERR UNKNOWN_COMMAND Unknown+server+command\r\n')
  assert.equal(await admin.admin('show'), 'ERR UNKNOWN_COMMAND Unknown+server+commandshow\r\n')
  assert.equal(await admin.admin('show foo'), 'ERR UNKNOWN_SHOW_ARGUMENTS\r\n')
  // 1.1.20 has no `shutdown`
  assert.equal(await admin.admin('shutdown'), 'ERR UNKNOWN_COMMAND Unknown+server+commandshutdown\r\n')
  // only the space separates tokens
  assert.equal(await admin.admin('version\tx'), 'ERR UNKNOWN_COMMAND Unknown+server+commandversion\tx\r\n')
  assert.equal(await admin.admin(' status'), 'ERR UNKNOWN_COMMAND Unknown+server+command\r\n')

  assert.equal(await admin.admin('version'), `OK ${VERSION}\n`)
  assert.equal(await admin.admin('VERSION', '\n'), `OK ${VERSION}\n`)
  assert.equal(await admin.admin('getpid'), `OK ${process.pid}\n`)
  assert.match(await admin.admin('verbose'), /^OK (FATAL|ALERT|CRITICAL|ERROR|WARNING|NOTICE|INFO|DEBUG)\n$/)

  assert.equal(await admin.admin('create function fa'), 'OK\r\n')
  assert.equal(await admin.admin('create function fa'), 'OK\r\n')
  assert.equal(await admin.admin('create fa'), 'ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+create\r\n')
  assert.equal(await admin.admin('drop'), 'ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+drop\r\n')
  assert.equal(await admin.admin('status'), 'fa\t0\t0\t0\n.\n')
  const worker = await connect()
  worker.send('CAN_DO', 'busy')
  await worker.sync()
  assert.equal(await admin.admin('drop function busy'), 'ERR there are still connected workers or executing clients\r\n')
  assert.equal(await admin.admin('drop function fa'), 'OK\r\n')
  assert.equal(await admin.admin('drop function fa'), 'ERR function not found\r\n')
  assert.equal(await admin.admin('status'), 'busy\t0\t0\t1\n.\n')
})

test('options: okLineFeed answers OK\\n; onShutdown enables `shutdown [graceful]`', limits, async (t) => {
  const calls: boolean[] = []
  const { connect } = await startServer(t, { server: { okLineFeed: true, onShutdown: (graceful) => calls.push(graceful) } })
  const admin = await connect()
  assert.equal(await admin.admin('create function f'), 'OK\n')
  assert.equal(await admin.admin('maxqueue f 3'), 'OK\n')
  assert.equal(await admin.admin('shutdown'), 'OK\n')
  assert.equal(await admin.admin('shutdown graceful'), 'OK\n')
  assert.deepEqual(calls, [false, true])
  // query replies are unchanged
  assert.equal(await admin.admin('version'), `OK ${VERSION}\n`)
})
