// Malformed and refused input (GEARMAN.md §1.3, §1.4, §3.14): the offending connection gets gearmand's ERROR
// and stays usable, or is closed without a reply; meanwhile another connection keeps submitting and
// completing jobs, and jobs already queued (including the bad peer's own background job) are unaffected.
import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import type { GearmanServerOptions } from '../src/index.js'
import { type Peer, REQ, RES, header, rawPacket, startServer, waitUntil } from './tcp-peer.js'

const limits = { timeout: 20_000 }

/** Closed without a reply, or these replies (packet name and arguments) and the connection kept. */
type Outcome = { readonly closed: true } | { readonly replies: readonly (readonly [string, readonly string[]])[] }

interface Case {
  readonly name: string
  readonly server?: GearmanServerOptions
  /** Sends the bad input on the bad connection. */
  send(bad: Peer): void
  readonly outcome: Outcome
}

const CLOSED = { closed: true } as const
const INVALID_COMMAND = ['ERROR', ['INVALID_COMMAND', 'Command not expected']] as const
const INVALID_MAGIC = ['ERROR', ['INVALID_MAGIC', 'Request magic expected']] as const
const UNIQUE_TOO_LARGE = ['ERROR', ['ARGUMENT_TOO_LARGE', 'Unique value too large']] as const

/** Deterministic pseudo-random bytes (a linear congruential generator), starting with one NUL. */
function garbage(length: number): Buffer {
  const out = Buffer.alloc(length)
  let x = 12345
  for (let i = 1; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0
    out[i] = x >>> 24
  }
  return out
}

const cases: Case[] = [
  { name: 'bad magic (\\0REX)', send: (p) => { p.write(rawPacket(0x00524558, 7, 'echo\0\0x')) }, outcome: CLOSED },
  { name: 'packet type 0', send: (p) => { p.write(header(REQ, 0, 0)) }, outcome: CLOSED },
  { name: 'packet type 43', send: (p) => { p.write(header(REQ, 43, 0)) }, outcome: CLOSED },
  { name: 'packet type 0xffffffff with a payload', send: (p) => { p.write(rawPacket(REQ, 0xffffffff, 'abc')) }, outcome: CLOSED },
  {
    name: '\\0RES magic on a request (its payload is skipped, nothing is submitted)',
    send: (p) => { p.write(rawPacket(RES, 7, 'echo\0\0must not run')) },
    outcome: { replies: [INVALID_MAGIC] },
  },
  {
    name: '\\0RES magic on a zero-argument request',
    send: (p) => { p.write(rawPacket(RES, 9, '')) },
    outcome: { replies: [INVALID_MAGIC] },
  },
  {
    name: 'every server-only or unsupported type as a request (5, 6, 8, 10, 11, 17, 19, 20, 24, 27, 31, 35, 40, 42)',
    send: (p) => {
      p.write(
        Buffer.concat([
          rawPacket(REQ, 5, ''),
          rawPacket(REQ, 6, ''),
          rawPacket(REQ, 8, 'H:t:1'),
          rawPacket(REQ, 10, ''),
          rawPacket(REQ, 11, 'H:t:1\0echo\0data'),
          rawPacket(REQ, 17, 'echo'),
          rawPacket(REQ, 19, 'CODE\0text'),
          rawPacket(REQ, 20, 'H:t:1\x001\x000\x000\x000'),
          rawPacket(REQ, 24, ''),
          rawPacket(REQ, 27, 'exceptions'),
          rawPacket(REQ, 31, 'H:t:1\0echo\0u\0data'),
          rawPacket(REQ, 35, 'echo\0\x001\x002\x003\x004\x005\0must not run'),
          rawPacket(REQ, 40, 'H:t:1\0echo\0u\0r\0data'),
          rawPacket(REQ, 42, 'u\x001\x000\x000\x000\x000'),
        ]),
      )
    },
    outcome: { replies: Array.from({ length: 14 }, () => INVALID_COMMAND) },
  },
  {
    name: 'SUBMIT_JOB and SUBMIT_JOB_LOW_BG with a 65-byte unique (nothing is queued)',
    send: (p) => {
      p.send('SUBMIT_JOB', 'echo', 'u'.repeat(65), 'must not run')
      p.send('SUBMIT_JOB_LOW_BG', 'q', 'u'.repeat(65), 'must not be queued')
    },
    outcome: { replies: [UNIQUE_TOO_LARGE, UNIQUE_TOO_LARGE] },
  },
  { name: 'SUBMIT_JOB with one argument instead of three', send: (p) => { p.write(rawPacket(REQ, 7, 'echo')) }, outcome: CLOSED },
  { name: 'SUBMIT_JOB with two arguments instead of three', send: (p) => { p.write(rawPacket(REQ, 7, 'echo\0data')) }, outcome: CLOSED },
  { name: 'CAN_DO_TIMEOUT without its timeout', send: (p) => { p.write(rawPacket(REQ, 23, 'echo')) }, outcome: CLOSED },
  {
    name: 'a header declaring 1 GiB over maxPacketSize 1024 (refused before any payload is sent)',
    server: { maxPacketSize: 1024 },
    send: (p) => { p.write(header(REQ, 16, 1024 * 1024 * 1024)) },
    outcome: CLOSED,
  },
  {
    name: 'a payload of exactly maxPacketSize is still accepted',
    server: { maxPacketSize: 1024 },
    send: (p) => { p.send('ECHO_REQ', Buffer.alloc(1024, 'z')) },
    outcome: { replies: [['ECHO_RES', ['z'.repeat(1024)]]] },
  },
  { name: 'a text line longer than the line limit, no newline', send: (p) => { p.write('a'.repeat(9000)) }, outcome: CLOSED },
  { name: 'a text line longer than the line limit, then a newline', send: (p) => { p.write(`status ${'b'.repeat(9000)}\r\n`) }, outcome: CLOSED },
  { name: 'an admin line of six tokens', send: (p) => { p.write('maxqueue q 1 2 3 4\r\n') }, outcome: CLOSED },
  { name: '4 KiB of binary garbage', send: (p) => { p.write(garbage(4096)) }, outcome: CLOSED },
  {
    name: 'a packet cut off by the peer half-closing',
    send: (p) => {
      p.write(Buffer.concat([header(REQ, 7, 100), Buffer.from('echo\0\0abc')]))
      p.end()
    },
    outcome: CLOSED,
  },
]

for (const c of cases) {
  test(`bad input: ${c.name}`, limits, async (t) => {
    await scenario(t, c)
  })
}

async function scenario(t: TestContext, c: Case): Promise<void> {
  const { broker, server, connect } = await startServer(t, c.server === undefined ? {} : { server: c.server })
  broker.worker({ encoder: 'utf8' }).register('echo', (job) => job.payload.toUpperCase())
  const good = await connect()
  const bad = await connect()
  // queued before the trouble: a foreground job of the good client, a background job of the bad one
  good.send('SUBMIT_JOB', 'q', '', 'waiting')
  await good.expect('JOB_CREATED', ['H:t:1'])
  bad.send('SUBMIT_JOB_BG', 'q', '', 'from the bad peer')
  await bad.expect('JOB_CREATED', ['H:t:2'])
  await bad.sync()

  c.send(bad)

  let handle = 3
  if ('closed' in c.outcome) {
    assert.deepEqual(await bad.untilClosed(), [], 'closed without a reply')
  } else {
    for (const [name, args] of c.outcome.replies) await bad.expect(name, args)
    // still in sync and usable: it submits and completes a job itself
    await bad.sync()
    bad.send('SUBMIT_JOB', 'echo', '', 'still here')
    await bad.expect('JOB_CREATED', [`H:t:${handle}`])
    await bad.expect('WORK_COMPLETE', [`H:t:${handle}`, 'STILL HERE'])
    handle++
  }

  // the other connection keeps submitting and completing jobs
  for (const word of ['one', 'two']) {
    good.send('SUBMIT_JOB', 'echo', '', word)
    await good.expect('JOB_CREATED', [`H:t:${handle}`])
    await good.expect('WORK_COMPLETE', [`H:t:${handle}`, word.toUpperCase()])
    handle++
  }

  // the queued jobs are intact, and run once a worker for them shows up
  assert.equal(await good.admin('status'), 'echo\t0\t0\t1\nq\t2\t0\t0\n.\n')
  const worker = await connect()
  worker.send('CAN_DO', 'q')
  worker.send('GRAB_JOB')
  await worker.expect('JOB_ASSIGN', ['H:t:1', 'q', 'waiting'])
  worker.send('GRAB_JOB')
  await worker.expect('JOB_ASSIGN', ['H:t:2', 'q', 'from the bad peer'])
  worker.send('WORK_COMPLETE', 'H:t:1', 'done')
  worker.send('WORK_COMPLETE', 'H:t:2', 'done too')
  await good.expect('WORK_COMPLETE', ['H:t:1', 'done'])
  await worker.sync()
  assert.equal(broker.size, 0)
  const open = 'closed' in c.outcome ? 2 : 3
  await waitUntil(() => server.connections === open, `the server holds ${open} connections`)
}
