import { InvalidArgumentError } from '../errors.js'

/** Gearman's limits: libgearman caps function names at 512 bytes; gearmand refuses uniques over 64 bytes. */
export const MAX_FUNCTION_NAME_BYTES = 512
export const MAX_UNIQUE_BYTES = 64

/** The coalescing key: null = never coalesce (empty unique, or `-` with empty data); `-` keys on the payload. */
export function uniqueKeyOf(unique: string, data: Uint8Array): string | null {
  if (unique === '') return null
  if (unique !== '-') return unique
  if (data.byteLength === 0) return null
  // '\0' cannot start a real unique (refused by checkUnique), so payload keys never collide with them
  return '\0' + Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('latin1')
}

export function checkFunctionName(name: string): void {
  if (name.length === 0 || name.includes('\0') || Buffer.byteLength(name) > MAX_FUNCTION_NAME_BYTES) {
    throw new InvalidArgumentError('function name', `a non-empty string of at most ${MAX_FUNCTION_NAME_BYTES} bytes without NUL`, name)
  }
}

export function checkUnique(unique: string): void {
  const n = unique.length
  if (n === 0) return
  // a UTF-16 unit is at most 3 UTF-8 bytes, so short strings skip the byte count
  if (n > MAX_UNIQUE_BYTES || (n * 3 > MAX_UNIQUE_BYTES && Buffer.byteLength(unique) > MAX_UNIQUE_BYTES) || unique.includes('\0')) {
    throw new InvalidArgumentError('unique', `a string of at most ${MAX_UNIQUE_BYTES} bytes without NUL`, unique)
  }
}
