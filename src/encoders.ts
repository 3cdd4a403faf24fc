import type { Encoder } from './api.js'
import { EncodingError, InvalidArgumentError } from './errors.js'

/** The built-in encoders by name; `raw` is the default. */
export type EncoderName = 'raw' | 'utf8' | 'json'

function view(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength)
}

const EMPTY = Buffer.alloc(0)

/** Bytes in, bytes out; strings are sent as UTF-8, `undefined`/`null` as no bytes. */
export const rawEncoder: Encoder<Uint8Array | string | undefined | null, Buffer> = {
  encode(value) {
    if (value instanceof Uint8Array) return value
    if (typeof value === 'string') return Buffer.from(value, 'utf8')
    if (value == null) return EMPTY
    throw new EncodingError(`the raw encoder takes a Uint8Array or a string, got ${typeof value}`)
  },
  decode: view,
}

/** Strings as UTF-8. */
export const utf8Encoder: Encoder<string> = {
  encode(value) {
    if (typeof value !== 'string') throw new EncodingError(`the utf8 encoder takes a string, got ${typeof value}`)
    return Buffer.from(value, 'utf8')
  },
  decode: (data) => view(data).toString('utf8'),
}

/** Any JSON value; `undefined` travels as no bytes. */
export const jsonEncoder: Encoder<unknown> = {
  encode(value) {
    if (value === undefined) return EMPTY
    try {
      return Buffer.from(JSON.stringify(value), 'utf8')
    } catch (cause) {
      throw new EncodingError('value cannot be encoded as JSON', { cause })
    }
  },
  decode(data) {
    if (data.byteLength === 0) return undefined
    try {
      return JSON.parse(view(data).toString('utf8')) as unknown
    } catch (cause) {
      throw new EncodingError('payload is not valid JSON', { cause })
    }
  },
}

/** Resolves an `encoder` option to an encoder. */
export function resolveEncoder(option: EncoderName | Encoder<never, unknown> | undefined): Encoder<unknown, unknown> {
  if (option === undefined || option === 'raw') return rawEncoder
  if (option === 'utf8') return utf8Encoder
  if (option === 'json') return jsonEncoder
  const custom = option as Partial<Encoder<unknown, unknown>> | null
  if (typeof custom === 'object' && custom !== null && typeof custom.encode === 'function' && typeof custom.decode === 'function') {
    return checked(custom as Encoder<unknown, unknown>)
  }
  throw new InvalidArgumentError('encoder', "'raw', 'utf8', 'json' or an object with encode() and decode()", option)
}

/** Wraps a user's encoder so every failure (a throw, or bytes that are not a Uint8Array) is an EncodingError. */
function checked(encoder: Encoder<unknown, unknown>): Encoder<unknown, unknown> {
  return {
    encode(value) {
      let data: unknown
      try {
        data = encoder.encode(value)
      } catch (cause) {
        throw cause instanceof EncodingError ? cause : new EncodingError('the encoder failed to encode a value', { cause })
      }
      if (!(data instanceof Uint8Array)) throw new EncodingError(`the encoder returned ${typeof data}, not a Uint8Array`)
      return data
    },
    decode(data) {
      try {
        return encoder.decode(data)
      } catch (cause) {
        throw cause instanceof EncodingError ? cause : new EncodingError('the encoder failed to decode bytes', { cause })
      }
    },
  }
}
