// While the server keeps reading input, a client's replies may wait a moment for more replies to go out with
// them (Connection.holdReplies). That wait is bounded: a connection whose input keeps the server reading turn
// after turn does not keep another connection's replies back until it is done.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { connect } from 'node:net'
import { fileURLToPath } from 'node:url'
import { test } from 'node:test'
import { Broker, GearmanServer, InvalidArgumentError } from '../src/index.js'
import { encodePacket } from '../src/protocol/encoder.js'
import { PACKET } from '../src/protocol/packets.js'
import { startServer } from './tcp-peer.js'

test('a reply is not held back until another connection stops sending', { timeout: 30_000 }, async (t) => {
  const fixture = await startServer(t)

  const flood = connect({ host: '127.0.0.1', port: fixture.port })
  t.after(() => flood.destroy())
  await new Promise<void>((resolve) => flood.once('connect', resolve))
  // one write of many small ECHO_REQs: the server reads (and answers) them over many event-loop turns
  const echo = encodePacket('REQ', PACKET.ECHO_REQ, [Buffer.from('x')])
  const count = 400_000
  const total = count * echo.length // each ECHO_RES is as long as its ECHO_REQ
  let echoed = 0
  const allEchoed = new Promise<void>((resolve) => {
    flood.on('data', (chunk: Buffer) => {
      echoed += chunk.length
      if (echoed === total) resolve()
    })
  })
  flood.write(Buffer.concat(Array.from({ length: count }, () => echo)))
  while (echoed === 0) await new Promise((resolve) => setTimeout(resolve, 1))

  const client = await fixture.connect()
  client.send('SUBMIT_JOB_BG', 'nobody', '', 'queued')
  const created = await client.packet()
  const echoedThen = echoed
  assert.equal(created.name, 'JOB_CREATED')
  // were the wait unbounded, JOB_CREATED would come with the flood's last replies
  assert.ok(echoedThen < total / 2, `JOB_CREATED came after ${String(echoedThen)} of ${String(total)} echoed bytes`)
  await allEchoed
})

test('replyHold takes 0 to 10 ms; anything else is refused with InvalidArgumentError', async () => {
  const broker = new Broker()
  for (const replyHold of [-1, 10.5, Number.NaN, Infinity, '0.2']) {
    assert.throws(() => new GearmanServer(broker, { port: 0, replyHold: replyHold as number }), (err) => err instanceof InvalidArgumentError && err.code === 'GEARBOX_INVALID_ARGUMENT', String(replyHold))
  }
  for (const replyHold of [0, 0.05, 10]) new GearmanServer(broker, { port: 0, replyHold })
  await broker.close()
})

test('with replyHold 0 (no holding) every reply still arrives, under a flood too', { timeout: 30_000 }, async (t) => {
  const fixture = await startServer(t, { server: { replyHold: 0 } })
  const flood = connect({ host: '127.0.0.1', port: fixture.port })
  t.after(() => flood.destroy())
  await new Promise<void>((resolve) => flood.once('connect', resolve))
  const echo = encodePacket('REQ', PACKET.ECHO_REQ, [Buffer.from('x')])
  const count = 100_000
  let echoed = 0
  const allEchoed = new Promise<void>((resolve) => {
    flood.on('data', (chunk: Buffer) => {
      echoed += chunk.length
      if (echoed === count * echo.length) resolve()
    })
  })
  flood.write(Buffer.concat(Array.from({ length: count }, () => echo)))
  const client = await fixture.connect()
  client.send('SUBMIT_JOB_BG', 'nobody', '', 'queued')
  assert.equal((await client.packet()).name, 'JOB_CREATED')
  await allEchoed
})

test('gearbox serve --reply-hold: a number from 0 to 10; anything else stops it at start with a message', { timeout: 20_000 }, async () => {
  const main = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url))
  const cases: [string, RegExp][] = [
    ['abc', /--reply-hold takes a number such as 0\.2, got "abc"/],
    ['-1', /--reply-hold takes a number such as 0\.2, got "-1"/],
    ['20', /`replyHold` to be a number from 0 to 10, got `20`/],
  ]
  for (const [value, message] of cases) {
    const child = spawn(process.execPath, [main, 'serve', '-p', '0', `--reply-hold=${value}`], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s))
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
    assert.equal(code, 2, `--reply-hold ${value}: exit code (stderr: ${stderr})`)
    assert.match(stderr, message, value)
  }
})
