// A loopback TCP proxy for failover tests: forwards 127.0.0.1:<its port> to a target port, and can cut every
// connection (a server that died), refuse new ones (a server that is down), or stall (stop forwarding in
// both directions, a server that hangs) and resume.
import { connect, createServer, type Server, type Socket } from 'node:net'
import type { TestContext } from 'node:test'

export class Proxy {
  readonly #server: Server
  readonly #pairs = new Set<[Socket, Socket]>()
  #refusing = false
  #stalled = false
  /** Bytes forwarded from clients to the server so far. */
  bytesUp = 0
  port = 0

  private constructor(target: number) {
    this.#server = createServer((client) => {
      client.on('error', () => undefined)
      if (this.#refusing) {
        client.destroy()
        return
      }
      const upstream = connect({ host: '127.0.0.1', port: target })
      upstream.on('error', () => undefined)
      const pair: [Socket, Socket] = [client, upstream]
      this.#pairs.add(pair)
      const close = (): void => {
        this.#pairs.delete(pair)
        client.destroy()
        upstream.destroy()
      }
      client.on('close', close)
      upstream.on('close', close)
      client.on('data', (chunk: Buffer) => {
        this.bytesUp += chunk.length
      })
      if (this.#stalled) this.#pause(pair)
      else this.#flow(pair)
    })
  }

  /** A proxy to `target`, closed (with its connections) when the test ends. */
  static async start(t: TestContext, target: number): Promise<Proxy> {
    const proxy = new Proxy(target)
    await new Promise<void>((resolve) => proxy.#server.listen(0, '127.0.0.1', resolve))
    const address = proxy.#server.address()
    proxy.port = typeof address === 'object' && address !== null ? address.port : 0
    t.after(() => proxy.close())
    return proxy
  }

  get address(): string {
    return `127.0.0.1:${this.port}`
  }

  /** Connections open through the proxy now. */
  get connections(): number {
    return this.#pairs.size
  }

  /** The server "dies": every connection is reset and new ones are refused until `restore()`. */
  cut(): void {
    this.#refusing = true
    for (const [a, b] of this.#pairs) {
      a.destroy()
      b.destroy()
    }
    this.#pairs.clear()
  }

  /** The server is back: new connections are forwarded again. */
  restore(): void {
    this.#refusing = false
  }

  /** Nothing flows either way (connections stay open) until `resume()`. */
  stall(): void {
    this.#stalled = true
    for (const pair of this.#pairs) this.#pause(pair)
  }

  resume(): void {
    this.#stalled = false
    for (const pair of this.#pairs) this.#flow(pair)
  }

  async close(): Promise<void> {
    this.cut()
    await new Promise<void>((resolve) => this.#server.close(() => { resolve() }))
  }

  #flow([a, b]: [Socket, Socket]): void {
    a.pipe(b)
    b.pipe(a)
  }

  /** Unpiped, not just paused: a pipe's 'drain' handler would resume a paused source. */
  #pause([a, b]: [Socket, Socket]): void {
    a.unpipe(b)
    b.unpipe(a)
    a.pause()
    b.pause()
  }
}
