// Shared by the tcp-*.test.ts files: a GearmanServer fixture on 127.0.0.1:0 and a minimal promise-based raw
// Gearman peer built on the project's own codec. The peer sends packets and text lines and awaits what the
// server sends back, in order: binary packets (decoded with the project's Decoder), text lines (raw bytes,
// line ending included) and the end of the connection.
import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import type { TestContext } from 'node:test'
import { Broker, type BrokerOptions, GearmanServer, type GearmanServerOptions, type ProtocolError } from '../src/index.js'
import { Decoder, type DecoderSink } from '../src/protocol/decoder.js'
import { type Arg, encodePacket } from '../src/protocol/encoder.js'
import { HEADER_SIZE, MAGIC_CODE, PACKETS, type Packet, type PacketName, packetName } from '../src/protocol/packets.js'

/** Default wait for one reply, ms: far above what a local round trip takes, far below the test timeout. */
export const REPLY_TIMEOUT = 5_000

/** A packet the server sent: its name, its arguments as latin1 strings, and the exact bytes on the wire. */
export interface Reply {
  readonly name: string
  readonly args: string[]
  readonly raw: Buffer
}

/** What arrives on a connection, in order. */
export type Incoming =
  | { readonly kind: 'packet'; readonly reply: Reply }
  | { readonly kind: 'text'; readonly line: string }
  | { readonly kind: 'decode-error'; readonly message: string }

interface Waiter {
  resolve(item: Incoming): void
  reject(err: Error): void
}

/** Bytes of one hand-built header: any magic, type and declared size (for malformed input). */
export function header(magic: number, type: number, size: number): Buffer {
  const h = Buffer.alloc(HEADER_SIZE)
  h.writeUInt32BE(magic >>> 0, 0)
  h.writeUInt32BE(type >>> 0, 4)
  h.writeUInt32BE(size >>> 0, 8)
  return h
}

/** A hand-built packet: header plus a payload given as a latin1 string (NULs written as `\0`). */
export function rawPacket(magic: number, type: number, payload: string): Buffer {
  const body = Buffer.from(payload, 'latin1')
  return Buffer.concat([header(magic, type, body.length), body])
}

export const REQ = MAGIC_CODE.REQ
export const RES = MAGIC_CODE.RES

/** A raw Gearman connection to the server under test. */
export class Peer {
  readonly #socket: Socket
  readonly #decoder: Decoder
  readonly #queue: Incoming[] = []
  #waiter: Waiter | null = null
  #pending: Buffer = Buffer.alloc(0)
  #raw: Buffer = Buffer.alloc(0)
  #closed = false
  readonly #closedPromise: Promise<void>
  #echoCount = 0

  private constructor(socket: Socket) {
    this.#socket = socket
    const sink: DecoderSink = {
      onPacket: (packet: Packet) => {
        this.#push({ kind: 'packet', reply: { name: packetName(packet.type), args: (packet.args as readonly Buffer[]).map((a) => a.toString('latin1')), raw: this.#raw } })
      },
      onText: (line: Buffer) => {
        this.#push({ kind: 'text', line: line.toString('latin1') })
      },
      onError: (err: ProtocolError) => {
        this.#push({ kind: 'decode-error', message: err.message })
      },
    }
    this.#decoder = new Decoder(sink, { expect: 'RES', maxPacketSize: 0xffff_ffff })
    socket.on('data', (chunk: Buffer) => {
      this.#frame(chunk)
    })
    socket.on('error', () => {
      // a reset by the server is how some refusals end; 'close' follows
    })
    this.#closedPromise = new Promise((resolve) => {
      socket.once('close', () => {
        this.#closed = true
        const waiter = this.#waiter
        this.#waiter = null
        waiter?.reject(new Error('connection closed by the server'))
        resolve()
      })
    })
  }

  /** Opens a connection; with `sync` (default) it also completes an ECHO round trip, so the server has accepted it. */
  static async connect(port: number, options: { sync?: boolean } = {}): Promise<Peer> {
    const socket = connect({ host: '127.0.0.1', port })
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        reject(err)
      }
      socket.once('error', onError)
      socket.once('connect', () => {
        socket.off('error', onError)
        resolve()
      })
    })
    socket.setNoDelay(true)
    const peer = new Peer(socket)
    if (options.sync !== false) await peer.sync()
    return peer
  }

  get closed(): boolean {
    return this.#closed
  }

  /** Sends one well-formed request packet (`\0REQ` magic). */
  send(name: PacketName, ...args: Arg[]): void {
    this.write(encodePacket('REQ', PACKETS[name].code, args as never))
  }

  /** Writes raw bytes or a raw string (latin1), as they are. */
  write(bytes: Buffer | string): void {
    if (this.#socket.destroyed) return
    this.#socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes)
  }

  /** The next thing the server sent, whatever it is. Rejects on timeout or when the connection closes first. */
  next(timeout = REPLY_TIMEOUT): Promise<Incoming> {
    const item = this.#queue.shift()
    if (item !== undefined) return Promise.resolve(item)
    if (this.#closed) return Promise.reject(new Error('connection closed by the server'))
    assert.equal(this.#waiter, null, 'one reader at a time')
    return new Promise<Incoming>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiter = null
        reject(new Error(`no reply from the server within ${timeout} ms`))
      }, timeout)
      this.#waiter = {
        resolve: (value) => {
          clearTimeout(timer)
          resolve(value)
        },
        reject: (err) => {
          clearTimeout(timer)
          reject(err)
        },
      }
    })
  }

  /** The next packet; fails if a text line (or nothing) comes instead. */
  async packet(timeout = REPLY_TIMEOUT): Promise<Reply> {
    const item = await this.next(timeout)
    if (item.kind !== 'packet') assert.fail(`expected a packet, got ${JSON.stringify(item)}`)
    return item.reply
  }

  /** The next packet must be `name` (with exactly `args`, if given); returns its arguments. */
  async expect(name: string, args?: readonly string[]): Promise<string[]> {
    const reply = await this.packet()
    if (args === undefined) assert.equal(reply.name, name, `expected ${name}, got ${reply.name} ${JSON.stringify(reply.args)}`)
    else assert.deepEqual({ name: reply.name, args: reply.args }, { name, args: [...args] })
    return reply.args
  }

  /** The next text line, raw (latin1), line ending included. */
  async line(timeout = REPLY_TIMEOUT): Promise<string> {
    const item = await this.next(timeout)
    if (item.kind !== 'text') assert.fail(`expected a text line, got ${JSON.stringify(item)}`)
    return item.line
  }

  /** Reads one admin reply: a single `OK…`/`ERR…` line, or list lines up to and including `.\n`. */
  async adminReply(): Promise<string> {
    let out = await this.line()
    if (out.startsWith('OK') || out.startsWith('ERR')) return out
    while (!out.endsWith('\n.\n') && out !== '.\n') out += await this.line()
    return out
  }

  /** Sends an admin command (with `ending`, default `\r\n` as gearadmin) and returns the reply as raw text. */
  async admin(command: string, ending = '\r\n'): Promise<string> {
    this.write(command + ending)
    return this.adminReply()
  }

  /**
   * A barrier: ECHO_REQ, and the very next packet must be its ECHO_RES. Replies are sent in request order, so
   * everything sent before has been handled and nothing else was queued for this connection in between.
   */
  async sync(): Promise<void> {
    const token = `sync-${++this.#echoCount}`
    this.send('ECHO_REQ', token)
    await this.expect('ECHO_RES', [token])
  }

  /** Waits for the server to close the connection; returns whatever arrived and was not read before that. */
  async untilClosed(timeout = REPLY_TIMEOUT): Promise<Incoming[]> {
    let timer: NodeJS.Timeout | undefined
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new Error(`the server did not close the connection within ${timeout} ms`))
      }, timeout)
    })
    try {
      await Promise.race([this.#closedPromise, timedOut])
    } finally {
      clearTimeout(timer)
    }
    return this.#queue.splice(0)
  }

  /** Half-closes (FIN) from this side. */
  end(): void {
    this.#socket.end()
  }

  /** Drops the connection at once (a killed process). Resolves once the socket is closed. */
  async destroy(): Promise<void> {
    this.#socket.destroy()
    await this.#closedPromise
  }

  /** Splits the byte stream the way a server's replies are framed: `\0` → one packet, else a line up to `\n`. */
  #frame(chunk: Buffer): void {
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk])
    for (;;) {
      const buf = this.#pending
      if (buf.length === 0) return
      if (buf[0] === 0) {
        if (buf.length < HEADER_SIZE) return
        const end = HEADER_SIZE + buf.readUInt32BE(8)
        if (buf.length < end) return
        this.#raw = Buffer.from(buf.subarray(0, end))
        this.#pending = buf.subarray(end)
        this.#decoder.push(this.#raw)
      } else {
        const lf = buf.indexOf(0x0a)
        if (lf === -1) return
        this.#push({ kind: 'text', line: buf.toString('latin1', 0, lf + 1) })
        this.#pending = buf.subarray(lf + 1)
      }
    }
  }

  #push(item: Incoming): void {
    const waiter = this.#waiter
    if (waiter !== null) {
      this.#waiter = null
      waiter.resolve(item)
    } else {
      this.#queue.push(item)
    }
  }
}

export interface Fixture {
  readonly broker: Broker
  readonly server: GearmanServer
  readonly port: number
  /** A new raw peer, destroyed when the test ends. */
  readonly connect: (options?: { sync?: boolean }) => Promise<Peer>
}

/**
 * A broker (handles `H:t:<n>`) behind a GearmanServer on 127.0.0.1, port 0. Everything is torn down in
 * `t.after`: peers destroyed, server closed, broker closed.
 */
export async function startServer(
  t: TestContext,
  options: { broker?: BrokerOptions; server?: GearmanServerOptions } = {},
): Promise<Fixture> {
  const broker = new Broker({ handlePrefix: 'H:t', ...options.broker })
  const server = new GearmanServer(broker, { ...options.server, port: 0 })
  const peers: Peer[] = []
  t.after(async () => {
    await Promise.all(peers.map((p) => p.destroy()))
    await server.close()
    await broker.close({ graceful: false })
  })
  const { host, port } = await server.listen()
  assert.equal(host, '127.0.0.1')
  return {
    broker,
    server,
    port,
    connect: async (connectOptions = {}) => {
      const peer = await Peer.connect(port, connectOptions)
      peers.push(peer)
      return peer
    },
  }
}

/** Polls `check` until it returns true (for state only visible from outside, e.g. a child process's registration). */
export async function waitUntil(check: () => boolean | Promise<boolean>, what: string, timeout = 10_000): Promise<void> {
  const deadline = Date.now() + timeout
  for (;;) {
    if (await check()) return
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** `workers` replies with every leading descriptor number replaced by `FD` (they are per-connection counters). */
export function maskFds(reply: string): string {
  return reply.replace(/^\d+ /gm, 'FD ')
}
