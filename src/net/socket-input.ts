import type { Socket } from 'node:net'

/**
 * How an accepted socket's bytes reach the server: read into one buffer shared by every connection, when this
 * Node allows it, instead of a fresh ArrayBuffer and a stream `push` per read.
 *
 * Node offers this publicly as the `onread` option of `new net.Socket()` and `net.connect()`, but a server
 * cannot pass options to the sockets it accepts. So this sets up, on the accepted socket, what that option
 * sets up — which needs Node internals: the socket's `_handle` and its `useUserBuffer()`, and the socket's
 * own `kBuffer` / `kBufferCb` slots (found by their symbol descriptions). All three are checked first;
 * without any of them the socket's `'data'` events are used, as before. 'end', 'error' and 'close' are
 * emitted as usual either way. The caller must copy whatever it keeps past its callback (the server's
 * connection does; the remote client and worker keep views of their chunks, so they do not use this).
 */

/** 64 KiB, as Node's own read size: one read never yields more. Made at the first accepted socket. */
const SHARED_BYTES = 64 * 1024
let shared: Buffer | null = null
/** The socket's `kBuffer` / `kBufferCb` slot keys, looked up at the first accepted socket (null: not found). */
let slotKeys: { readonly kBuffer: symbol; readonly kBufferCb: symbol } | null | undefined

interface Internals {
  _handle?: { useUserBuffer?: unknown } | null
}

/**
 * Calls `onChunk` with each chunk read from `socket`, from now on. Returns true if the chunks are views of
 * the shared buffer, valid only until `onChunk` returns (the caller copies what it keeps); false if they are
 * Node's usual fresh buffers.
 */
export function readChunks(socket: Socket, onChunk: (chunk: Buffer) => void): boolean {
  const handle = (socket as unknown as Internals)._handle
  const slots = socket as unknown as Record<symbol, unknown>
  slotKeys ??= findSlotKeys(socket)
  // both slots exist and are unset (null) on a socket made without `onread`
  if (typeof handle?.useUserBuffer !== 'function' || slotKeys === null || slots[slotKeys.kBuffer] !== null || slots[slotKeys.kBufferCb] !== null) {
    socket.on('data', onChunk)
    return false
  }
  const { kBuffer, kBufferCb } = slotKeys
  shared ??= Buffer.allocUnsafeSlow(SHARED_BYTES)
  slots[kBuffer] = shared
  slots[kBufferCb] = (bytes: number, buffer: Buffer): void => {
    onChunk(buffer.subarray(0, bytes))
  }
  ;(handle.useUserBuffer as (buffer: Uint8Array) => void).call(handle, shared)
  return true
}

function findSlotKeys(socket: Socket): { readonly kBuffer: symbol; readonly kBufferCb: symbol } | null {
  const symbols = Object.getOwnPropertySymbols(socket)
  const kBuffer = symbols.find((s) => s.description === 'kBuffer')
  const kBufferCb = symbols.find((s) => s.description === 'kBufferCb')
  return kBuffer === undefined || kBufferCb === undefined ? null : { kBuffer, kBufferCb }
}
