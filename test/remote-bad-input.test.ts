// connect() with bad input and misbehaving servers: every failure is a typed error, and every wait ends.
import assert from 'node:assert/strict'
import { createServer, type Server, type Socket } from 'node:net'
import { type TestContext, test } from 'node:test'
import {
  BadAddressError,
  ConnectionLostError,
  connect,
  EncodingError,
  InvalidArgumentError,
  PayloadTooLargeError,
  ProtocolError,
  ServerError,
  ServerUnavailableError,
} from '../src/index.js'
import { encodePacket } from '../src/protocol/encoder.js'
import { PACKET } from '../src/protocol/packets.js'
import { startServer } from './tcp-peer.js'

const limits = { timeout: 20_000 }

/** A fake server on 127.0.0.1:0 that answers each chunk it receives with `reply(chunk)` (null: nothing). */
async function fakeServer(t: TestContext, reply: (chunk: Buffer, socket: Socket) => Buffer | null): Promise<number> {
  const sockets = new Set<Socket>()
  const server: Server = createServer((socket) => {
    sockets.add(socket)
    socket.on('error', () => undefined)
    socket.on('close', () => sockets.delete(socket))
    socket.on('data', (chunk) => {
      const out = reply(chunk, socket)
      if (out !== null) socket.write(out)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(async () => {
    for (const s of sockets) s.destroy()
    await new Promise<void>((resolve) => server.close(() => { resolve() }))
  })
  const address = server.address()
  assert.ok(address !== null && typeof address === 'object')
  return address.port
}

test('unparseable server addresses throw BadAddressError naming the address', limits, () => {
  for (const bad of ['host:99999', 'host:abc', '', 'a b:1', 'host:0', 'exa mple.com', '[::1]:x']) {
    assert.throws(() => connect({ servers: [bad] }), (err: unknown) => err instanceof BadAddressError && err.address === bad, bad)
  }
  assert.throws(() => connect({ servers: [{ host: 'localhost', port: 70000 }] }), BadAddressError)
  // the object form is checked too (a missing host would otherwise mean localhost)
  for (const bad of [{ port: 4730 }, { host: 123 }, { host: 'a', port: '4730' }, { host: null }]) {
    assert.throws(() => connect({ servers: [bad as never] }), BadAddressError, JSON.stringify(bad))
  }
  assert.throws(() => connect({ servers: [] }), InvalidArgumentError)
  // good ones parse
  assert.deepEqual(
    connect({ servers: ['gearman-a', 'gearman-b:4731', '[::1]:4732', '10.0.0.1', { host: 'c', port: 1 }] }).servers.map((s) => s.key),
    ['gearman-a:4730', 'gearman-b:4731', '[::1]:4732', '10.0.0.1:4730', 'c:1'],
  )
})

test('a payload over maxPayloadSize throws PayloadTooLargeError; nothing is sent', limits, async () => {
  const remote = connect({ servers: ['127.0.0.1:1'], maxPayloadSize: 10 })
  const client = remote.client({ encoder: 'utf8' })
  assert.throws(() => client.submit('f', 'x'.repeat(11)), (err: unknown) => err instanceof PayloadTooLargeError && err.size === 11 && err.limit === 10)
  await assert.rejects(client.submitBackground('f', 'x'.repeat(11)), PayloadTooLargeError)
  await remote.close()
})

test('every server refuses: ServerUnavailableError lists them; status and admin reject with ConnectionLostError', limits, async (t) => {
  const remote = connect({ servers: ['127.0.0.1:1', '127.0.0.1:2'], maxRetries: 3, backoff: { base: 5, max: 20 } })
  t.after(() => remote.close())
  const client = remote.client()
  const err: unknown = await client.submit('f', 'x').then(
    () => assert.fail('no server is up'),
    (e: unknown) => e,
  )
  assert.ok(err instanceof ServerUnavailableError)
  assert.deepEqual([...err.servers].sort(), ['127.0.0.1:1', '127.0.0.1:2'])
  await assert.rejects(client.submitBackground('f', 'x'), ServerUnavailableError)
  await assert.rejects(client.getStatus('H:x:1'), ConnectionLostError)
  await assert.rejects(remote.admin.status(), ConnectionLostError)
})

test('a server that answers garbage: the connection is dropped with the ProtocolError as cause', limits, async (t) => {
  const port = await fakeServer(t, () => Buffer.from('\0XYZ\0\0\0\x08\0\0\0\0', 'latin1'))
  const remote = connect({ servers: [`127.0.0.1:${port}`], maxRetries: 0 })
  t.after(() => remote.close())
  const err: unknown = await remote.client().submit('f', 'x').then(
    () => assert.fail('garbage is no JOB_CREATED'),
    (e: unknown) => e,
  )
  assert.ok(err instanceof ServerUnavailableError)
  assert.ok(err.cause instanceof ConnectionLostError)
  assert.ok(err.cause.cause instanceof ProtocolError)
  assert.equal(err.cause.cause.kind, 'bad-magic')
})

test('an ERROR packet in place of a reply rejects that request with ServerError (code and text); the connection stays usable', limits, async (t) => {
  const error = encodePacket('RES', PACKET.ERROR, ['SOME_FAILURE', 'Something went wrong'])
  const created = encodePacket('RES', PACKET.JOB_CREATED, ['H:fake:1'])
  let submissions = 0
  const port = await fakeServer(t, (chunk) => {
    // OPTION_REQ first (answered with ERROR: ignored by the client), then one reply per SUBMIT_JOB_BG
    const out: Buffer[] = []
    for (let at = 0; at + 12 <= chunk.length; at += 12 + chunk.readUInt32BE(at + 8)) {
      const type = chunk.readUInt32BE(at + 4)
      if (type === PACKET.OPTION_REQ) out.push(error)
      if (type === PACKET.SUBMIT_JOB_BG) out.push(++submissions === 1 ? error : created)
    }
    return Buffer.concat(out)
  })
  const remote = connect({ servers: [`127.0.0.1:${port}`] })
  t.after(() => remote.close())
  const client = remote.client()
  await assert.rejects(client.submitBackground('f', 'x'), (err: unknown) => err instanceof ServerError && err.serverCode === 'SOME_FAILURE' && /Something went wrong/.test(err.message))
  assert.equal(await client.submitBackground('f', 'y'), 'H:fake:1')
})

test('a server that accepts but never answers: the reply timeout drops the connection (ConnectionLostError), no promise hangs', limits, async (t) => {
  const port = await fakeServer(t, () => null)
  const remote = connect({ servers: [`127.0.0.1:${port}`], replyTimeout: 200, maxRetries: 0 })
  t.after(() => remote.close())
  const client = remote.client()
  await assert.rejects(client.getStatus('H:x:1'), (err: unknown) => err instanceof ConnectionLostError && /no reply within 200 ms/.test(err.message))
  await assert.rejects(client.submit('f', 'x'), ServerUnavailableError)
  await assert.rejects(remote.admin.version(), ConnectionLostError)
})

test('submitMany with one entry that cannot be encoded throws EncodingError and submits none', limits, async (t) => {
  const { broker, port } = await startServer(t)
  const remote = connect({ servers: [`127.0.0.1:${port}`] })
  t.after(() => remote.close())
  const client = remote.client({ encoder: 'json' })
  assert.throws(
    () =>
      client.submitMany([
        { name: 'f', payload: 1 },
        { name: 'f', payload: 10n },
      ]),
    EncodingError,
  )
  // a later submission goes through the same connection: had anything been sent, it would be queued first
  await client.submitBackground('g', 2)
  assert.equal(broker.size, 1)
})

test('status queries gearmand would never answer (handle or unique of 64 bytes or more) throw InvalidArgumentError; nothing is sent', limits, async (t) => {
  let chunks = 0
  const port = await fakeServer(t, () => {
    chunks++
    return null
  })
  const remote = connect({ servers: [`127.0.0.1:${port}`] })
  t.after(() => remote.close())
  const client = remote.client()
  await assert.rejects(client.getStatus('H:' + 'x'.repeat(62)), InvalidArgumentError)
  await assert.rejects(client.getStatusByUnique('u'.repeat(64)), InvalidArgumentError)
  await assert.rejects(client.getStatusByUnique('é'.repeat(32)), InvalidArgumentError, 'bytes, not characters')
  assert.equal(chunks, 0)
})
