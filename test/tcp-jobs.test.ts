// Jobs across the TCP adapter: TCP clients with in-process workers, in-process clients with TCP workers, and the
// three GRAB flavours with the assign packet each one gets (GEARMAN.md §2, §3.5, §3.12).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { JobUpdate } from '../src/index.js'
import { encodePacket } from '../src/protocol/encoder.js'
import { PACKET } from '../src/protocol/packets.js'
import { REQ, RES, header, rawPacket, startServer } from './tcp-peer.js'

const limits = { timeout: 20_000 }

test('a job submitted over TCP runs on an in-process worker; its WORK_DATA, WORK_WARNING and WORK_STATUS reach the client in order', limits, async (t) => {
  const { broker, connect } = await startServer(t)
  const seen: { handle: string; name: string; unique: string; data: string }[] = []
  broker.worker({ id: 'local' }).register('reverse', (job) => {
    seen.push({ handle: job.handle, name: job.name, unique: job.unique, data: job.data.toString('latin1') })
    job.sendData('first')
    job.sendStatus(1, 2)
    job.sendWarning('careful')
    job.sendData(Buffer.from('sec\0ond', 'latin1'))
    job.sendStatus(2, 2)
    return Buffer.from(job.data).reverse()
  })
  const client = await connect()

  // GEARMAN.md §1.2's worked example, byte for byte (function `rev` is ours to name: here `reverse`)
  client.write(rawPacket(REQ, 7, 'reverse\0u1\0ab\0cd'))
  const created = await client.packet()
  assert.deepEqual(created.raw, Buffer.concat([header(RES, 8, 5), Buffer.from('H:t:1')]))

  await client.expect('WORK_DATA', ['H:t:1', 'first'])
  await client.expect('WORK_STATUS', ['H:t:1', '1', '2'])
  await client.expect('WORK_WARNING', ['H:t:1', 'careful'])
  await client.expect('WORK_DATA', ['H:t:1', 'sec\0ond'])
  await client.expect('WORK_STATUS', ['H:t:1', '2', '2'])
  const complete = await client.packet()
  assert.deepEqual(complete.raw, rawPacket(RES, 13, 'H:t:1\0dc\0ba'))
  assert.deepEqual(seen, [{ handle: 'H:t:1', name: 'reverse', unique: 'u1', data: 'ab\0cd' }])

  // the job is gone: status says unknown, and nothing else was queued for this client
  client.send('GET_STATUS', 'H:t:1')
  await client.expect('STATUS_RES', ['H:t:1', '0', '0', '0', '0'])
  await client.sync()
})

test('an in-process client submits to a TCP worker: CAN_DO, PRE_SLEEP, NOOP, GRAB_JOB_UNIQ, WORK_* forwarded as updates in order', limits, async (t) => {
  const { broker, connect } = await startServer(t)
  const worker = await connect()
  worker.send('CAN_DO', 'upper')
  worker.send('PRE_SLEEP')
  // nothing queued: PRE_SLEEP gets no NOOP (the echo comes back first)
  await worker.sync()

  const client = broker.client()
  const request = client.submit('upper', 'abc', { unique: 'job-1' })
  const updates: string[] = []
  const collected = (async () => {
    for await (const u of request.updates()) updates.push(describe(u))
  })()

  await worker.expect('NOOP', [])
  worker.send('GRAB_JOB_UNIQ')
  await worker.expect('JOB_ASSIGN_UNIQ', ['H:t:1', 'upper', 'job-1', 'abc'])
  assert.equal(request.handle, 'H:t:1')
  worker.send('WORK_DATA', 'H:t:1', 'part one')
  worker.send('WORK_STATUS', 'H:t:1', '1', '3')
  worker.send('WORK_WARNING', 'H:t:1', 'odd input')
  worker.send('WORK_DATA', 'H:t:1', Buffer.from('two\0bytes', 'latin1'))
  worker.send('WORK_STATUS', 'H:t:1', '3', '3')
  worker.send('WORK_COMPLETE', 'H:t:1', 'ABC')

  assert.equal((await request).toString(), 'ABC')
  await collected
  assert.deepEqual(updates, ['data:part one', 'status:1/3', 'warning:odd input', 'data:two\0bytes', 'status:3/3'])

  // none of that earned the worker a reply; nothing is left to grab
  worker.send('GRAB_JOB_UNIQ')
  await worker.expect('NO_JOB', [])
  worker.send('PRE_SLEEP')
  await worker.sync()

  // asleep again: the next submission wakes it, and it can run a background job the same way
  const bgHandle = await client.submitBackground('upper', 'xyz')
  assert.equal(bgHandle, 'H:t:2')
  await worker.expect('NOOP', [])
  worker.send('GRAB_JOB')
  await worker.expect('JOB_ASSIGN', ['H:t:2', 'upper', 'xyz'])
  worker.send('WORK_COMPLETE', 'H:t:2', 'XYZ')
  await worker.sync()
  assert.equal(broker.size, 0)
})

test('GRAB_JOB → JOB_ASSIGN, GRAB_JOB_UNIQ → JOB_ASSIGN_UNIQ, GRAB_JOB_ALL → JOB_ASSIGN_ALL only for a reduce job with a reducer', limits, async (t) => {
  const { connect } = await startServer(t)
  const client = await connect()
  client.send('SUBMIT_JOB_BG', 'g', 'u1', 'd1')
  client.send('SUBMIT_JOB_BG', 'g', 'u2', 'd2')
  client.send('SUBMIT_JOB_BG', 'g', 'u3', 'd3')
  client.send('SUBMIT_REDUCE_JOB', 'g', 'u4', 'red4', '', 'd4')
  client.send('SUBMIT_REDUCE_JOB_BACKGROUND', 'g', 'u5', 'red5', 'agg5', 'd5')
  client.send('SUBMIT_REDUCE_JOB', 'g', 'u6', 'red6', '', 'd6')
  client.send('SUBMIT_REDUCE_JOB', 'g', 'u7', '', '', 'd7')
  for (let n = 1; n <= 7; n++) await client.expect('JOB_CREATED', [`H:t:${n}`])

  const worker = await connect()
  worker.send('CAN_DO', 'g')
  worker.send('GRAB_JOB')
  await worker.expect('JOB_ASSIGN', ['H:t:1', 'g', 'd1'])
  worker.send('GRAB_JOB_UNIQ')
  await worker.expect('JOB_ASSIGN_UNIQ', ['H:t:2', 'g', 'u2', 'd2'])
  // GRAB_JOB_ALL on a plain job: JOB_ASSIGN_UNIQ
  worker.send('GRAB_JOB_ALL')
  await worker.expect('JOB_ASSIGN_UNIQ', ['H:t:3', 'g', 'u3', 'd3'])
  // a reduce job: only GRAB_JOB_ALL reveals the reducer
  worker.send('GRAB_JOB_ALL')
  const all = await worker.packet()
  assert.deepEqual(all.raw, rawPacket(RES, 40, 'H:t:4\0g\0u4\0red4\0d4'))
  worker.send('GRAB_JOB')
  await worker.expect('JOB_ASSIGN', ['H:t:5', 'g', 'd5'])
  worker.send('GRAB_JOB_UNIQ')
  await worker.expect('JOB_ASSIGN_UNIQ', ['H:t:6', 'g', 'u6', 'd6'])
  // a reduce job with an empty reducer is a plain job to GRAB_JOB_ALL
  worker.send('GRAB_JOB_ALL')
  await worker.expect('JOB_ASSIGN_UNIQ', ['H:t:7', 'g', 'u7', 'd7'])
  worker.send('GRAB_JOB_ALL')
  await worker.expect('NO_JOB', [])

  // one connection holds all seven; the foreground reduce jobs' results go to the client, the others nowhere
  for (let n = 7; n >= 1; n--) worker.send('WORK_COMPLETE', `H:t:${n}`, `r${n}`)
  await worker.sync()
  await client.expect('WORK_COMPLETE', ['H:t:7', 'r7'])
  await client.expect('WORK_COMPLETE', ['H:t:6', 'r6'])
  await client.expect('WORK_COMPLETE', ['H:t:4', 'r4'])
  await client.sync()
})

function describe(u: JobUpdate<Buffer>): string {
  switch (u.type) {
    case 'data':
    case 'warning':
      return `${u.type}:${u.data.toString('latin1')}`
    case 'status':
      return `status:${u.numerator}/${u.denominator}`
  }
}

test('a TCP worker completes a job shared by a TCP and an in-process client: both get the result, still intact after more jobs on the same connections', limits, async (t) => {
  const { broker, connect } = await startServer(t)
  const tcpClient = await connect()
  tcpClient.send('SUBMIT_JOB', 'upper', 'shared', 'abc')
  await tcpClient.expect('JOB_CREATED', ['H:t:1'])
  const request = broker.client().submit('upper', 'abc', { unique: 'shared' })
  const worker = await connect()
  worker.send('CAN_DO', 'upper')
  worker.send('GRAB_JOB_UNIQ')
  await worker.expect('JOB_ASSIGN_UNIQ', ['H:t:1', 'upper', 'shared', 'abc'])
  assert.equal(request.handle, 'H:t:1')
  // the result and the next packets arrive in one chunk
  worker.write(Buffer.concat([rawPacket(REQ, 13, 'H:t:1\0ABC'), rawPacket(REQ, 16, 'x'.repeat(64))]))
  await tcpClient.expect('WORK_COMPLETE', ['H:t:1', 'ABC'])
  await worker.expect('ECHO_RES', ['x'.repeat(64)])
  const result = await request
  // more jobs through the same connections
  for (let i = 2; i <= 4; i++) {
    tcpClient.send('SUBMIT_JOB', 'upper', '', `job ${i}`)
    await tcpClient.expect('JOB_CREATED', [`H:t:${i}`])
    worker.send('GRAB_JOB_UNIQ')
    await worker.expect('JOB_ASSIGN_UNIQ', [`H:t:${i}`, 'upper', '', `job ${i}`])
    worker.send('WORK_COMPLETE', `H:t:${i}`, `JOB ${i}`)
    await tcpClient.expect('WORK_COMPLETE', [`H:t:${i}`, `JOB ${i}`])
  }
  assert.equal(result.toString(), 'ABC')
  assert.equal(broker.size, 0)
})

test('large payloads and results (over 64 KiB) pass through the assign and complete replies intact and in order', limits, async (t) => {
  const { connect } = await startServer(t)
  const client = await connect()
  const worker = await connect()
  worker.send('CAN_DO', 'big')
  await worker.sync()
  const payload = Buffer.alloc(200 * 1024, 'pay\0load')
  const result = Buffer.alloc(300 * 1024, 're\0sult')
  client.send('SUBMIT_JOB', 'big', 'u-big', payload)
  client.send('SUBMIT_JOB', 'big', '', 'small')
  await client.expect('JOB_CREATED', ['H:t:1'])
  await client.expect('JOB_CREATED', ['H:t:2'])
  worker.send('GRAB_JOB_UNIQ')
  worker.send('GRAB_JOB_UNIQ')
  const assigned = await worker.packet()
  assert.equal(assigned.name, 'JOB_ASSIGN_UNIQ')
  assert.ok(assigned.raw.equals(encodePacket('RES', PACKET.JOB_ASSIGN_UNIQ, ['H:t:1', 'big', 'u-big', payload])), 'the big assignment, byte for byte')
  await worker.expect('JOB_ASSIGN_UNIQ', ['H:t:2', 'big', '', 'small'])
  worker.send('WORK_COMPLETE', 'H:t:1', result)
  worker.send('WORK_COMPLETE', 'H:t:2', 'SMALL')
  const completed = await client.packet()
  assert.ok(completed.raw.equals(encodePacket('RES', PACKET.WORK_COMPLETE, ['H:t:1', result])), 'the big result, byte for byte')
  await client.expect('WORK_COMPLETE', ['H:t:2', 'SMALL'])
})
