// How the server reads its sockets (src/net/socket-input.ts): into one shared buffer where this Node allows
// it, else through 'data' events. Either way every byte arrives once and in order, and 'end' still comes.
import assert from 'node:assert/strict'
import { connect, createServer, type Socket } from 'node:net'
import { test } from 'node:test'
import { readChunks } from '../src/net/socket-input.js'

const limits = { timeout: 20_000 }

test('an accepted socket is read into the shared buffer: all bytes in order, then end', limits, async (t) => {
  const received: Buffer[] = []
  let shared: boolean | undefined
  const ended = new Promise<void>((resolve, reject) => {
    const server = createServer({ allowHalfOpen: true }, (socket: Socket) => {
      socket.on('error', reject)
      shared = readChunks(socket, (chunk) => {
        received.push(Buffer.from(chunk)) // a view of a reused buffer: keep a copy
      })
      socket.on('end', () => {
        socket.end()
        resolve()
      })
    })
    t.after(() => server.close())
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      if (address === null || typeof address === 'string') return reject(new Error('no address'))
      const client = connect({ host: '127.0.0.1', port: address.port })
      t.after(() => client.destroy())
      client.on('error', reject)
      // several writes, some larger than one read, with pauses so that they arrive as separate reads
      const write = (i: number): void => {
        if (i === 8) {
          client.end()
          return
        }
        client.write(Buffer.alloc(i % 2 === 0 ? 100 : 100_000, i))
        setTimeout(() => { write(i + 1) }, 5)
      }
      client.on('connect', () => { write(0) })
    })
  })
  await ended
  // Node 20 and 22 have the internals this needs; if a Node release drops them, the server still works
  // through 'data' events, and this line says so
  assert.equal(shared, true, 'the shared read buffer is not available on this Node')
  const all = Buffer.concat(received)
  const want = Buffer.concat(Array.from({ length: 8 }, (_, i) => Buffer.alloc(i % 2 === 0 ? 100 : 100_000, i)))
  assert.equal(all.length, want.length)
  assert.ok(all.equals(want))
})

test('a socket without the internals falls back to data events', limits, () => {
  const socket = connect({ host: '127.0.0.1', port: 9, onread: { buffer: Buffer.alloc(16), callback: () => true } })
  socket.on('error', () => {
    // nothing listens on port 9 (discard) here, or it refuses: either way not the point
  })
  try {
    const chunks: Buffer[] = []
    // the socket already has its own onread buffer: readChunks leaves it alone and takes 'data' events
    assert.equal(readChunks(socket, (chunk) => chunks.push(chunk)), false)
    socket.emit('data', Buffer.from('x'))
    assert.deepEqual(chunks, [Buffer.from('x')])
  } finally {
    socket.destroy()
  }
})
