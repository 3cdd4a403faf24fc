// Peers that go away or misreport (GEARMAN.md §3.6, §3.8, §3.9): a TCP worker killed mid-job, a client that
// disconnects, WORK_* packets for jobs the connection does not hold.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { RES, rawPacket, startServer, waitUntil } from './tcp-peer.js'

const limits = { timeout: 20_000 }

test('a TCP worker killed mid-job: the job is requeued (retry counted, status reset) and completed by another worker; the client is not told about the loss', limits, async (t) => {
  const { connect } = await startServer(t)
  const client = await connect()
  const doomed = await connect()
  const healthy = await connect()
  const admin = await connect()
  healthy.send('CAN_DO', 'k')
  healthy.send('PRE_SLEEP')
  await healthy.sync()
  doomed.send('CAN_DO', 'k')
  await doomed.sync()

  client.send('SUBMIT_JOB', 'k', 'uk', 'payload')
  await client.expect('JOB_CREATED', ['H:t:1'])
  await healthy.expect('NOOP', [])
  doomed.send('GRAB_JOB')
  await doomed.expect('JOB_ASSIGN', ['H:t:1', 'k', 'payload'])
  doomed.send('WORK_STATUS', 'H:t:1', '1', '4')
  await client.expect('WORK_STATUS', ['H:t:1', '1', '4'])
  healthy.send('GRAB_JOB')
  await healthy.expect('NO_JOB', [])
  healthy.send('PRE_SLEEP')
  await healthy.sync()

  await doomed.destroy()
  // the requeue wakes the sleeping worker
  await healthy.expect('NOOP', [])
  assert.equal(await admin.admin('show jobs'), 'H:t:1\t1\t0\t0\n.\n')
  admin.send('GET_STATUS', 'H:t:1')
  await admin.expect('STATUS_RES', ['H:t:1', '1', '0', '0', '0'])

  healthy.send('GRAB_JOB_UNIQ')
  await healthy.expect('JOB_ASSIGN_UNIQ', ['H:t:1', 'k', 'uk', 'payload'])
  healthy.send('WORK_COMPLETE', 'H:t:1', 'second time lucky')
  // right after the first attempt's WORK_STATUS comes the second attempt's result
  await client.expect('WORK_COMPLETE', ['H:t:1', 'second time lucky'])
  await client.sync()
  assert.equal(await admin.admin('status'), 'k\t0\t0\t1\n.\n')
})

test('a TCP worker killed mid-job: an in-process worker runs the retry as attempt 2 for an in-process client', limits, async (t) => {
  const { broker, connect } = await startServer(t)
  const request = broker.client({ encoder: 'utf8' }).submit('k2', 'data')
  const doomed = await connect()
  doomed.send('CAN_DO', 'k2')
  doomed.send('GRAB_JOB')
  await doomed.expect('JOB_ASSIGN', ['H:t:1', 'k2', 'data'])
  const attempts: number[] = []
  broker.worker({ encoder: 'utf8' }).register('k2', (job) => {
    attempts.push(job.attempt)
    return `${job.payload} ok`
  })
  await doomed.destroy()
  assert.equal(await request, 'data ok')
  assert.deepEqual(attempts, [2])
})

test('with jobRetries 1 a job whose TCP worker dies fails at once: the TCP client gets WORK_FAIL with the bare handle', limits, async (t) => {
  const { connect } = await startServer(t, { broker: { jobRetries: 1 } })
  const client = await connect()
  const doomed = await connect()
  client.send('SUBMIT_JOB', 'once', '', 'x')
  await client.expect('JOB_CREATED', ['H:t:1'])
  doomed.send('CAN_DO', 'once')
  doomed.send('GRAB_JOB')
  await doomed.expect('JOB_ASSIGN', ['H:t:1', 'once', 'x'])
  await doomed.destroy()
  assert.deepEqual((await client.packet()).raw, rawPacket(RES, 14, 'H:t:1'))
})

test('a client that disconnects: its queued foreground job is dropped, its background job stays, the server and other clients carry on', limits, async (t) => {
  const { server, connect } = await startServer(t)
  const leaver = await connect()
  const worker = await connect()
  const other = await connect()
  worker.send('CAN_DO', 'dc')
  await worker.sync()
  leaver.send('SUBMIT_JOB', 'dc', '', 'running')
  leaver.send('SUBMIT_JOB', 'dc', '', 'queued')
  leaver.send('SUBMIT_JOB_BG', 'dc', '', 'background')
  for (let n = 1; n <= 3; n++) await leaver.expect('JOB_CREATED', [`H:t:${n}`])
  worker.send('GRAB_JOB')
  await worker.expect('JOB_ASSIGN', ['H:t:1', 'dc', 'running'])

  await leaver.destroy()
  await waitUntil(() => server.connections === 2, 'the server has seen the client go')

  // the queued foreground job is gone; the background one is still there
  worker.send('GRAB_JOB')
  await worker.expect('JOB_ASSIGN', ['H:t:3', 'dc', 'background'])
  worker.send('GRAB_JOB')
  await worker.expect('NO_JOB', [])
  worker.send('WORK_COMPLETE', 'H:t:3', 'done')
  await worker.sync()

  // another client submits and completes as usual
  other.send('SUBMIT_JOB', 'dc', '', 'next')
  await other.expect('JOB_CREATED', ['H:t:4'])
  worker.send('GRAB_JOB')
  await worker.expect('JOB_ASSIGN', ['H:t:4', 'dc', 'next'])
  worker.send('WORK_DATA', 'H:t:4', 'partial')
  worker.send('WORK_COMPLETE', 'H:t:4', 'finished')
  await other.expect('WORK_DATA', ['H:t:4', 'partial'])
  await other.expect('WORK_COMPLETE', ['H:t:4', 'finished'])
})

test("the running job of a client that disconnected: the worker's later WORK_* packets are absorbed without an ERROR (GEARMAN.md §3.9)", limits, async (t) => {
  const { server, connect } = await startServer(t)
  const leaver = await connect()
  const worker = await connect()
  worker.send('CAN_DO', 'gone')
  leaver.send('SUBMIT_JOB', 'gone', '', 'work')
  await leaver.expect('JOB_CREATED', ['H:t:1'])
  worker.send('GRAB_JOB')
  await worker.expect('JOB_ASSIGN', ['H:t:1', 'gone', 'work'])

  await leaver.destroy()
  await waitUntil(() => server.connections === 1, 'the server has seen the client go')

  // gearmand: "running → the worker is not told; its WORK_DATA/STATUS/COMPLETE are accepted silently"
  worker.send('WORK_DATA', 'H:t:1', 'late data')
  worker.send('WORK_STATUS', 'H:t:1', '1', '2')
  worker.send('WORK_COMPLETE', 'H:t:1', 'late result')
  worker.send('ECHO_REQ', 'nothing before this')
  const next = await worker.packet()
  assert.deepEqual({ name: next.name, args: next.args }, { name: 'ECHO_RES', args: ['nothing before this'] }, 'no ERROR for results of an abandoned running job')
})

test('WORK_* for a handle the connection does not hold → ERROR JOB_NOT_FOUND with gearmand\'s text; the connection stays usable', limits, async (t) => {
  const { connect } = await startServer(t)
  const worker = await connect()
  worker.send('WORK_COMPLETE', 'H:t:42', 'result')
  assert.deepEqual((await worker.packet()).raw, rawPacket(RES, 19, 'JOB_NOT_FOUND\0Job given in work result not found'))
  worker.send('WORK_DATA', 'H:t:42', 'data')
  await worker.expect('ERROR', ['JOB_NOT_FOUND', 'Job does not exist on server'])
  worker.send('WORK_WARNING', 'H:t:42', 'warning')
  await worker.expect('ERROR', ['JOB_NOT_FOUND', 'Job does not exist on server'])
  worker.send('WORK_STATUS', 'H:t:42', '1', '2')
  await worker.expect('ERROR', ['JOB_NOT_FOUND', 'Job given in work result not found'])
  worker.send('WORK_FAIL', 'H:t:42')
  await worker.expect('ERROR', ['JOB_NOT_FOUND', 'Job given in work result not found'])
  worker.send('WORK_EXCEPTION', 'H:t:42', 'boom')
  await worker.expect('ERROR', ['JOB_NOT_FOUND', 'An exception was received for a job that does not exist'])
  // another server's handle
  worker.send('WORK_COMPLETE', 'H:vm:1', 'result')
  await worker.expect('ERROR', ['JOB_NOT_FOUND', 'Job given in work result not found'])

  // a job that exists but is held by another connection: refused, and the job is unaffected
  const client = await connect()
  const owner = await connect()
  client.send('SUBMIT_JOB', 'nf', '', 'x')
  await client.expect('JOB_CREATED', ['H:t:1'])
  owner.send('CAN_DO', 'nf')
  owner.send('GRAB_JOB')
  await owner.expect('JOB_ASSIGN', ['H:t:1', 'nf', 'x'])
  worker.send('WORK_COMPLETE', 'H:t:1', 'stolen')
  await worker.expect('ERROR', ['JOB_NOT_FOUND', 'Job given in work result not found'])
  owner.send('WORK_COMPLETE', 'H:t:1', 'real')
  await client.expect('WORK_COMPLETE', ['H:t:1', 'real'])
  // a second terminal packet for a finished job
  owner.send('WORK_COMPLETE', 'H:t:1', 'again')
  await owner.expect('ERROR', ['JOB_NOT_FOUND', 'Job given in work result not found'])
  await client.sync()
  await worker.sync()
})
