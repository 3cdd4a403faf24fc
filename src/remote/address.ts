import { isIP } from 'node:net'
import { BadAddressError } from '../errors.js'

/** Gearman's port. */
export const DEFAULT_PORT = 4730

/** A server to connect to: `'host:port'`, `'host'` (port 4730), `'[::1]:4730'`, or `{ host, port }`. */
export type ServerAddress = string | { readonly host: string; readonly port?: number | undefined }

export interface Address {
  readonly host: string
  readonly port: number
  /** `host:port` (`[v6]:port`), for messages and as the server's identity on the hash ring. */
  readonly key: string
}

const HOST_NAME = /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/

/**
 * Parses one server address; BadAddressError for anything that is not a host name or IP with an optional
 * port from 1 to 65535.
 * @example
 * parseAddress('gearman-a:4731') // { host: 'gearman-a', port: 4731, key: 'gearman-a:4731' }
 */
export function parseAddress(address: ServerAddress): Address {
  if (typeof address === 'object' && (address as unknown) !== null) {
    const text = JSON.stringify(address)
    const host: unknown = address.host
    const port: unknown = address.port ?? DEFAULT_PORT
    if (typeof host !== 'string') throw new BadAddressError(text, 'host must be a string')
    if (typeof port !== 'number') throw new BadAddressError(text, 'port must be a number')
    return make(host, port, text)
  }
  if (typeof address !== 'string') throw new BadAddressError(typeof address, 'expected a string or { host, port }')
  const text = address.trim()
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(text)
  if (bracketed !== null) return make(bracketed[1] ?? '', portOf(bracketed[2], address), address)
  const colons = text.split(':').length - 1
  if (colons > 1) return make(text, DEFAULT_PORT, address) // a bare IPv6 address
  const [host = '', port] = text.split(':')
  return make(host, portOf(port, address), address)
}

function portOf(text: string | undefined, original: string): number {
  if (text === undefined) return DEFAULT_PORT
  if (!/^\d{1,5}$/.test(text)) throw new BadAddressError(original, `port ${JSON.stringify(text)} is not a number`)
  return Number(text)
}

function make(host: string, port: number, original: string): Address {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new BadAddressError(original, `port ${port} is not from 1 to 65535`)
  const family = isIP(host)
  if (family === 0 && !HOST_NAME.test(host)) throw new BadAddressError(original, `${JSON.stringify(host)} is not a host name or IP address`)
  return { host, port, key: family === 6 ? `[${host}]:${port}` : `${host}:${port}` }
}
