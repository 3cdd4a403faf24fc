// A scripted Gearman server for remote-side fault tests: it decodes the requests each connection sends and
// hands them to a script, which answers with whatever packets (in whatever chunks) the test needs.
import assert from 'node:assert/strict'
import { createServer, type Server, type Socket } from 'node:net'
import type { TestContext } from 'node:test'

/** One request as the fake server decoded it; `conn` counts connections from 1. */
export interface Request {
  readonly conn: number
  readonly type: number
  readonly args: string[]
}

/** The answer to a request: bytes to write in one chunk (null: nothing). */
export type Script = (request: Request, socket: Socket) => Buffer | null

/** A RES packet, for scripts. */
export function res(type: number, args: readonly string[]): Buffer {
  const payload = Buffer.from(args.join('\0'), 'latin1')
  const head = Buffer.alloc(12)
  head.write('\0RES', 'latin1')
  head.writeUInt32BE(type, 4)
  head.writeUInt32BE(payload.length, 8)
  return Buffer.concat([head, payload])
}

export class FakeGearman {
  /** Every request received, in order. */
  readonly log: Request[] = []
  readonly #server: Server
  readonly #sockets = new Set<Socket>()
  #connections = 0
  port = 0

  private constructor(script: Script) {
    this.#server = createServer((socket) => {
      const conn = ++this.#connections
      this.#sockets.add(socket)
      socket.on('error', () => undefined)
      socket.on('close', () => this.#sockets.delete(socket))
      let buffered = Buffer.alloc(0)
      socket.on('data', (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk])
        while (buffered.length >= 12) {
          const size = buffered.readUInt32BE(8)
          if (buffered.length < 12 + size) break
          const type = buffered.readUInt32BE(4)
          const payload = buffered.subarray(12, 12 + size)
          buffered = buffered.subarray(12 + size)
          const request = { conn, type, args: size === 0 ? [] : payload.toString('latin1').split('\0') }
          this.log.push(request)
          const out = script(request, socket)
          if (out !== null) socket.write(out)
        }
      })
    })
  }

  static async start(t: TestContext, script: Script): Promise<FakeGearman> {
    const fake = new FakeGearman(script)
    await new Promise<void>((resolve) => fake.#server.listen(0, '127.0.0.1', resolve))
    const address = fake.#server.address()
    assert.ok(address !== null && typeof address === 'object')
    fake.port = address.port
    t.after(() => fake.close())
    return fake
  }

  get address(): string {
    return `127.0.0.1:${this.port}`
  }

  /** Connections accepted so far. */
  get accepted(): number {
    return this.#connections
  }

  /** Connections open now. */
  get open(): number {
    return this.#sockets.size
  }

  /** Requests of `type` received so far. */
  count(type: number, conn?: number): number {
    return this.log.filter((r) => r.type === type && (conn === undefined || r.conn === conn)).length
  }

  /** Drops every connection open now; new ones are still accepted. */
  drop(): void {
    for (const s of this.#sockets) s.destroy()
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy()
    await new Promise<void>((resolve) => this.#server.close(() => { resolve() }))
  }
}
