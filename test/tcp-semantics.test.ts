// Gearman semantics over TCP (GEARMAN.md §3): priorities, unique coalescing across connections, background
// jobs and GET_STATUS / GET_STATUS_UNIQUE, the `exceptions` option, ECHO, SET_CLIENT_ID in `workers`.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { VERSION } from '../src/index.js'
import { RES, maskFds, rawPacket, startServer } from './tcp-peer.js'

const limits = { timeout: 20_000 }

test('jobs queued at HIGH, NORMAL and LOW before any worker connects are grabbed high, normal, low (FIFO within a priority)', limits, async (t) => {
  const { connect } = await startServer(t)
  const client = await connect()
  client.send('SUBMIT_JOB_LOW', 'p', '', 'l1')
  client.send('SUBMIT_JOB', 'p', '', 'n1')
  client.send('SUBMIT_JOB_HIGH', 'p', '', 'h1')
  client.send('SUBMIT_JOB_LOW_BG', 'p', '', 'l2')
  client.send('SUBMIT_JOB_HIGH_BG', 'p', '', 'h2')
  client.send('SUBMIT_JOB_BG', 'p', '', 'n2')
  for (let n = 1; n <= 6; n++) await client.expect('JOB_CREATED', [`H:t:${n}`])

  const admin = await connect()
  assert.equal(await admin.admin('prioritystatus'), 'p\t2\t2\t2\t0\n.\n')

  const worker = await connect()
  worker.send('CAN_DO', 'p')
  const order: string[] = []
  for (let i = 0; i < 6; i++) {
    worker.send('GRAB_JOB')
    const [handle, fn, data] = await worker.expect('JOB_ASSIGN')
    assert.equal(fn, 'p')
    order.push(`${data}=${handle}`)
  }
  assert.deepEqual(order, ['h1=H:t:3', 'h2=H:t:5', 'n1=H:t:2', 'n2=H:t:6', 'l1=H:t:1', 'l2=H:t:4'])
  worker.send('GRAB_JOB')
  await worker.expect('NO_JOB', [])
  assert.equal(await admin.admin('status'), 'p\t6\t6\t1\n.\n')

  for (const n of [3, 5, 2, 6, 1, 4]) worker.send('WORK_COMPLETE', `H:t:${n}`, `done ${n}`)
  // the client hears about its three foreground jobs only, in completion order
  await client.expect('WORK_COMPLETE', ['H:t:3', 'done 3'])
  await client.expect('WORK_COMPLETE', ['H:t:2', 'done 2'])
  await client.expect('WORK_COMPLETE', ['H:t:1', 'done 1'])
  await client.sync()
  assert.equal(await admin.admin('status'), 'p\t0\t0\t1\n.\n')
})

test('two TCP clients submitting the same unique share one job: same handle, first data wins, both get every WORK_* packet', limits, async (t) => {
  const { connect } = await startServer(t)
  const c1 = await connect()
  const c2 = await connect()
  c1.send('SUBMIT_JOB', 'co', 'same', 'first')
  await c1.expect('JOB_CREATED', ['H:t:1'])
  c2.send('SUBMIT_JOB', 'co', 'same', 'second')
  await c2.expect('JOB_CREATED', ['H:t:1'])
  // an empty unique never coalesces
  c1.send('SUBMIT_JOB', 'co', '', 'first')
  await c1.expect('JOB_CREATED', ['H:t:2'])

  c2.send('GET_STATUS_UNIQUE', 'same')
  await c2.expect('STATUS_RES_UNIQUE', ['same', '1', '0', '0', '0', '2'])
  const admin = await connect()
  assert.equal(await admin.admin('status'), 'co\t2\t0\t0\n.\n')
  assert.equal(await admin.admin('show unique jobs'), 'same\n\n.\n')

  const worker = await connect()
  worker.send('CAN_DO', 'co')
  worker.send('GRAB_JOB_UNIQ')
  await worker.expect('JOB_ASSIGN_UNIQ', ['H:t:1', 'co', 'same', 'first'])
  worker.send('WORK_DATA', 'H:t:1', 'partial')
  worker.send('WORK_STATUS', 'H:t:1', '1', '2')
  worker.send('WORK_COMPLETE', 'H:t:1', 'done')
  for (const c of [c1, c2]) {
    await c.expect('WORK_DATA', ['H:t:1', 'partial'])
    await c.expect('WORK_STATUS', ['H:t:1', '1', '2'])
    await c.expect('WORK_COMPLETE', ['H:t:1', 'done'])
  }

  worker.send('GRAB_JOB_UNIQ')
  await worker.expect('JOB_ASSIGN_UNIQ', ['H:t:2', 'co', '', 'first'])
  worker.send('WORK_COMPLETE', 'H:t:2', 'solo')
  await c1.expect('WORK_COMPLETE', ['H:t:2', 'solo'])
  worker.send('GRAB_JOB_UNIQ')
  await worker.expect('NO_JOB', [])
  // c2 waited on H:t:1 only
  await c2.sync()
})

test('a background job: GET_STATUS and GET_STATUS_UNIQUE report known/running/numerator/denominator (and waiting clients) from any connection', limits, async (t) => {
  const { connect } = await startServer(t)
  const submitter = await connect()
  const observer = await connect()
  submitter.send('SUBMIT_JOB_BG', 'bg', 'bgu', 'payload')
  await submitter.expect('JOB_CREATED', ['H:t:1'])

  observer.send('GET_STATUS', 'H:t:1')
  const queued = await observer.packet()
  assert.deepEqual(queued.raw, rawPacket(RES, 20, 'H:t:1\x001\x000\x000\x000'))
  observer.send('GET_STATUS_UNIQUE', 'bgu')
  await observer.expect('STATUS_RES_UNIQUE', ['bgu', '1', '0', '0', '0', '0'])

  // a foreground submission of the same unique joins the background job and does receive its results
  const joiner = await connect()
  joiner.send('SUBMIT_JOB', 'bg', 'bgu', 'ignored data')
  await joiner.expect('JOB_CREATED', ['H:t:1'])
  observer.send('GET_STATUS_UNIQUE', 'bgu')
  await observer.expect('STATUS_RES_UNIQUE', ['bgu', '1', '0', '0', '0', '1'])

  const worker = await connect()
  worker.send('CAN_DO', 'bg')
  worker.send('GRAB_JOB')
  await worker.expect('JOB_ASSIGN', ['H:t:1', 'bg', 'payload'])
  observer.send('GET_STATUS', 'H:t:1')
  await observer.expect('STATUS_RES', ['H:t:1', '1', '1', '0', '0'])

  worker.send('WORK_STATUS', 'H:t:1', '3', '10')
  await joiner.expect('WORK_STATUS', ['H:t:1', '3', '10'])
  observer.send('GET_STATUS', 'H:t:1')
  await observer.expect('STATUS_RES', ['H:t:1', '1', '1', '3', '10'])
  observer.send('GET_STATUS_UNIQUE', 'bgu')
  await observer.expect('STATUS_RES_UNIQUE', ['bgu', '1', '1', '3', '10', '1'])

  worker.send('WORK_COMPLETE', 'H:t:1', 'result')
  await joiner.expect('WORK_COMPLETE', ['H:t:1', 'result'])
  observer.send('GET_STATUS', 'H:t:1')
  await observer.expect('STATUS_RES', ['H:t:1', '0', '0', '0', '0'])
  observer.send('GET_STATUS_UNIQUE', 'bgu')
  await observer.expect('STATUS_RES_UNIQUE', ['bgu', '0', '0', '0', '0', '0'])
  observer.send('GET_STATUS', 'H:t:999')
  await observer.expect('STATUS_RES', ['H:t:999', '0', '0', '0', '0'])

  // the background submitter is never sent WORK_* packets
  await submitter.sync()
})

test('OPTION_REQ exceptions: WORK_EXCEPTION reaches that client as WORK_EXCEPTION, others as WORK_FAIL with the bare handle', limits, async (t) => {
  const { connect } = await startServer(t)
  const plain = await connect()
  const withExceptions = await connect()
  withExceptions.send('OPTION_REQ', 'Exceptions')
  // echoed exactly as sent (the match is case-insensitive)
  await withExceptions.expect('OPTION_RES', ['Exceptions'])
  withExceptions.send('OPTION_REQ', 'bogus')
  await withExceptions.expect('ERROR', ['UNKNOWN_OPTION', 'Server does not recognize given option'])

  plain.send('SUBMIT_JOB', 'ex', 'u', 'x')
  await plain.expect('JOB_CREATED', ['H:t:1'])
  withExceptions.send('SUBMIT_JOB', 'ex', 'u', 'x')
  await withExceptions.expect('JOB_CREATED', ['H:t:1'])

  const worker = await connect()
  worker.send('CAN_DO', 'ex')
  worker.send('GRAB_JOB')
  await worker.expect('JOB_ASSIGN', ['H:t:1', 'ex', 'x'])
  worker.send('WORK_EXCEPTION', 'H:t:1', 'it\0broke')
  const fail = await plain.packet()
  // WORK_FAIL, payload = the handle and nothing else (no trailing NUL: GEARMAN.md §3.6 R)
  assert.deepEqual(fail.raw, rawPacket(RES, 14, 'H:t:1'))
  await withExceptions.expect('WORK_EXCEPTION', ['H:t:1', 'it\0broke'])

  // a plain WORK_FAIL is a WORK_FAIL for everyone
  plain.send('SUBMIT_JOB', 'ex', 'v', 'y')
  await plain.expect('JOB_CREATED', ['H:t:2'])
  withExceptions.send('SUBMIT_JOB', 'ex', 'v', 'y')
  await withExceptions.expect('JOB_CREATED', ['H:t:2'])
  worker.send('GRAB_JOB')
  await worker.expect('JOB_ASSIGN', ['H:t:2', 'ex', 'y'])
  worker.send('WORK_FAIL', 'H:t:2')
  assert.deepEqual((await plain.packet()).raw, rawPacket(RES, 14, 'H:t:2'))
  assert.deepEqual((await withExceptions.packet()).raw, rawPacket(RES, 14, 'H:t:2'))
  await worker.sync()
})

test('ECHO_REQ returns its payload unchanged (NULs, empty, 1 MiB); text and binary replies keep request order', limits, async (t) => {
  const { connect } = await startServer(t)
  const peer = await connect()
  peer.send('ECHO_REQ', Buffer.from('hello\0world', 'latin1'))
  assert.deepEqual((await peer.packet()).raw, rawPacket(RES, 17, 'hello\0world'))
  peer.send('ECHO_REQ', '')
  assert.deepEqual((await peer.packet()).raw, rawPacket(RES, 17, ''))
  const big = Buffer.alloc(1024 * 1024, 'abc\0')
  peer.send('ECHO_REQ', big)
  const echoed = await peer.packet()
  assert.equal(echoed.name, 'ECHO_RES')
  assert.ok(echoed.raw.subarray(12).equals(big), 'the 1 MiB payload came back intact')

  // GEARMAN.md §1.1 probe: `version\n` + ECHO_REQ + `getpid\r\n` in one write → answers in that order
  peer.write(Buffer.concat([Buffer.from('version\n'), rawPacket(0x00524551, 16, 'mid'), Buffer.from('getpid\r\n')]))
  assert.equal(await peer.line(), `OK ${VERSION}\n`)
  await peer.expect('ECHO_RES', ['mid'])
  assert.equal(await peer.line(), `OK ${process.pid}\n`)
})

test('SET_CLIENT_ID shows in `workers` (raw, spaces kept) with the registrations newest first', limits, async (t) => {
  const { connect } = await startServer(t)
  const worker = await connect()
  worker.send('SET_CLIENT_ID', 'my worker id')
  worker.send('CAN_DO', 'r1')
  worker.send('CAN_DO', 'r2')
  worker.send('CAN_DO', 'r2')
  await worker.sync()
  // an id set after registering applies too
  const late = await connect()
  late.send('CAN_DO', 'r3')
  late.send('SET_CLIENT_ID', 'late-id')
  await late.sync()
  const admin = await connect()

  const reply = await admin.admin('workers')
  assert.equal(maskFds(reply), 'FD 127.0.0.1 my worker id : r2 r2 r1\nFD 127.0.0.1 late-id : r3\nFD 127.0.0.1 - :\n.\n')
  const fds = reply.split('\n').slice(0, 3).map((line) => Number(line.split(' ')[0]))
  assert.equal(new Set(fds).size, 3, `one distinct number per connection: ${reply}`)
  assert.ok(fds.every((fd) => Number.isSafeInteger(fd) && fd >= 0))
  assert.equal(await admin.admin('status'), 'r1\t0\t0\t1\nr2\t0\t0\t2\nr3\t0\t0\t1\n.\n')

  // CANT_DO removes every registration of the function on that connection
  worker.send('CANT_DO', 'r2')
  await worker.sync()
  assert.equal(maskFds(await admin.admin('workers')), 'FD 127.0.0.1 my worker id : r1\nFD 127.0.0.1 late-id : r3\nFD 127.0.0.1 - :\n.\n')
})
