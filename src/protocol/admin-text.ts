/**
 * The text administrative protocol of gearmand 1.1.20 (GEARMAN.md §1.3, §4): a request line → a typed
 * command, and plain data → gearmand's byte-exact replies. Pure functions; no broker types.
 *
 * Line endings: list replies use `\n` and end with `.\n`; `OK` of a state-changing command is `OK\r\n`;
 * `OK <value>` of a query is `OK <value>\n`; every `ERR` line ends with `\r\n`, its text with `+` for spaces.
 * Replies are strings; write them as UTF-8 (function names and handles arrive as UTF-8 from `parseAdminLine`).
 */

/** At most this many tokens; one more and gearmand drops the connection without a reply. */
export const MAX_ADMIN_TOKENS = 5

/** gearmand's verbosity names, as `verbose` reports them. */
export const VERBOSE_LEVELS = ['FATAL', 'ALERT', 'CRITICAL', 'ERROR', 'WARNING', 'NOTICE', 'INFO', 'DEBUG'] as const
export type VerboseLevel = (typeof VERBOSE_LEVELS)[number]

/** A parsed admin line. `error` carries gearmand's exact reply; `close` means drop the connection, no reply. */
export type AdminCommand =
  | { readonly command: 'status' }
  | { readonly command: 'prioritystatus' }
  | { readonly command: 'workers' }
  | { readonly command: 'maxqueue'; readonly functionName: string; readonly high: number; readonly normal: number; readonly low: number }
  | { readonly command: 'show-jobs' }
  | { readonly command: 'show-unique-jobs' }
  | { readonly command: 'cancel-job'; readonly handle: string }
  | { readonly command: 'create-function'; readonly functionName: string }
  | { readonly command: 'drop-function'; readonly functionName: string }
  | { readonly command: 'getpid' }
  | { readonly command: 'version' }
  | { readonly command: 'verbose' }
  | { readonly command: 'shutdown'; readonly graceful: boolean }
  | { readonly command: 'error'; readonly reply: string }
  | { readonly command: 'close' }

export interface AdminParseOptions {
  /**
   * Recognise `shutdown` and `shutdown graceful` (gearmand ≤ 1.1.14, python-gearman's `send_shutdown`).
   * Default `false`: as gearmand 1.1.20, `shutdown` is an unknown command.
   */
  readonly shutdown?: boolean | undefined
}

/**
 * Split a line as gearmand does: on the space character only (tabs are not separators), runs of spaces
 * collapse, a leading space gives an empty first token, trailing spaces one extra empty token.
 * @example
 * tokenizeAdminLine('maxqueue  fn 5 ') // ['maxqueue', 'fn', '5', '']
 */
export function tokenizeAdminLine(line: string): string[] {
  return line.split(/ +/)
}

/**
 * Parse one admin line (without its line ending, as the decoder's `onText` delivers it). Command words are
 * case-insensitive; arguments (function names, handles) are kept as sent.
 * @example
 * parseAdminLine(Buffer.from('maxqueue rev 10')) // { command: 'maxqueue', functionName: 'rev', high: 10, normal: 10, low: 10 }
 */
export function parseAdminLine(line: Uint8Array | string, options: AdminParseOptions = {}): AdminCommand {
  const text = typeof line === 'string' ? line : Buffer.from(line.buffer, line.byteOffset, line.byteLength).toString('utf8')
  const tokens = tokenizeAdminLine(text)
  if (tokens.length > MAX_ADMIN_TOKENS) return { command: 'close' }
  const [first = '', second, third] = tokens
  const argc = tokens.length
  switch (first.toLowerCase()) {
    case 'status':
      return { command: 'status' }
    case 'prioritystatus':
      return { command: 'prioritystatus' }
    case 'workers':
      return { command: 'workers' }
    case 'getpid':
      return { command: 'getpid' }
    case 'version':
      return { command: 'version' }
    case 'verbose':
      return { command: 'verbose' }
    case 'maxqueue':
      return parseMaxQueue(tokens, first)
    case 'show':
      if (argc < 2) break
      if (argc === 2 && second?.toLowerCase() === 'jobs') return { command: 'show-jobs' }
      if (argc === 3 && second?.toLowerCase() === 'unique' && third?.toLowerCase() === 'jobs') return { command: 'show-unique-jobs' }
      return { command: 'error', reply: ADMIN_REPLIES.UNKNOWN_SHOW_ARGUMENTS }
    case 'cancel':
      if (argc < 3) break
      if (argc === 3 && second?.toLowerCase() === 'job') return { command: 'cancel-job', handle: third ?? '' }
      return { command: 'error', reply: ADMIN_REPLIES.UNKNOWN_ERROR }
    case 'create':
    case 'drop':
      if (argc === 3 && second?.toLowerCase() === 'function') {
        return { command: first.toLowerCase() === 'create' ? 'create-function' : 'drop-function', functionName: third ?? '' }
      }
      return { command: 'error', reply: invalidArgumentsReply(first) }
    case 'shutdown':
      if (options.shutdown !== true) break
      if (argc === 1) return { command: 'shutdown', graceful: false }
      if (argc === 2 && second?.toLowerCase() === 'graceful') return { command: 'shutdown', graceful: true }
      return { command: 'error', reply: invalidArgumentsReply(first) }
    default:
      break
  }
  return { command: 'error', reply: unknownCommandReply(first) }
}

/** `maxqueue FN [N | H N | H N L]`: gearmand's argument shapes, including `H N` → LOW unlimited. */
function parseMaxQueue(tokens: readonly string[], word: string): AdminCommand {
  const [, functionName, a, b, c] = tokens
  if (functionName === undefined) return { command: 'error', reply: invalidArgumentsReply(word) }
  const high = a === undefined ? 0 : atoi(a)
  if (tokens.length <= 3) return { command: 'maxqueue', functionName, high, normal: high, low: high }
  return { command: 'maxqueue', functionName, high, normal: b === undefined ? 0 : atoi(b), low: c === undefined ? 0 : atoi(c) }
}

const INT32_MAX = 0x7fff_ffff

/**
 * C's `atoi` as gearmand applies it to maxqueue values: leading white space, optional sign, then digits up to
 * the first non-digit; no digits → 0. Negative → 0 (gearmand's rule). Values beyond a C int are clamped to
 * 2^31−1 (gearmand's behaviour there is undefined).
 */
export function atoi(token: string): number {
  const match = /^[\t\n\v\f\r ]*([+-]?)(\d+)/.exec(token)
  if (match === null || match[1] === '-') return 0
  const value = Number(match[2])
  return value > INT32_MAX ? INT32_MAX : value
}

// ---------------------------------------------------------------------------------------------- replies

/** Fixed reply lines. */
export const ADMIN_REPLIES = {
  /** Success of a state-changing command (gearmand 1.1.20). */
  OK: 'OK\r\n',
  /** Success as the Perl server and gearmand ≤ 0.14 wrote it (python-gearman's `send_maxqueue` needs this). */
  OK_LF: 'OK\n',
  /** End of a list reply (alone: an empty list). */
  END: '.\n',
  UNKNOWN_SHOW_ARGUMENTS: 'ERR UNKNOWN_SHOW_ARGUMENTS\r\n',
  UNKNOWN_JOB: 'ERR UNKNOWN_JOB\r\n',
  UNKNOWN_ERROR: 'ERR UNKNOWN_ERROR\r\n',
  /** `drop function` of a function that still has workers or running jobs. */
  FUNCTION_IN_USE: 'ERR there are still connected workers or executing clients\r\n',
  /** `drop function` of an unknown function. */
  FUNCTION_NOT_FOUND: 'ERR function not found\r\n',
} as const

/**
 * An `ERR` line: `ERR CODE\r\n`, or `ERR CODE text+with+plus\r\n` when `text` is given.
 * @example
 * formatErr('UNKNOWN_COMMAND', 'Unknown server commandfoo') // 'ERR UNKNOWN_COMMAND Unknown+server+commandfoo\r\n'
 */
export function formatErr(code: string, text?: string): string {
  return text === undefined ? `ERR ${code}\r\n` : `ERR ${code} ${text.replaceAll(' ', '+')}\r\n`
}

/** Reply to an unknown command: the first token as sent, glued to the text (`...commandfoo`). */
export function unknownCommandReply(token: string): string {
  return formatErr('UNKNOWN_COMMAND', `Unknown server command${token}`)
}

/** Reply to `maxqueue`, `create …` or `drop …` of the wrong shape; `word` is the command word as sent. */
export function invalidArgumentsReply(word: string): string {
  return formatErr('INVALID_ARGUMENTS', `An incomplete set of arguments was sent to this command ${word}`)
}

/** `OK\r\n` (gearmand 1.1.20), or `OK\n` with `lf` (python-gearman compatibility). */
export function formatOk(style: 'crlf' | 'lf' = 'crlf'): string {
  return style === 'lf' ? ADMIN_REPLIES.OK_LF : ADMIN_REPLIES.OK
}

/** A query's answer: `OK <value>\n` (`getpid`, `version`, `verbose`). */
export function formatValue(value: string | number): string {
  return `OK ${value}\n`
}

export interface StatusRow {
  readonly functionName: string
  /** Queued + running jobs (abandoned ones not yet purged included). */
  readonly total: number
  readonly running: number
  /** Worker registrations (duplicates counted). */
  readonly workers: number
}

/** `status`: `FUNC\tTOTAL\tRUNNING\tWORKERS\n` per function, then `.\n`. */
export function formatStatus(rows: Iterable<StatusRow>): string {
  let out = ''
  for (const r of rows) out += `${r.functionName}\t${r.total}\t${r.running}\t${r.workers}\n`
  return out + ADMIN_REPLIES.END
}

export interface PriorityStatusRow {
  readonly functionName: string
  /** Jobs waiting (not running) in each priority queue. */
  readonly high: number
  readonly normal: number
  readonly low: number
  readonly workers: number
}

/** `prioritystatus`: `FUNC\tHIGH\tNORMAL\tLOW\tWORKERS\n` per function, then `.\n`. */
export function formatPriorityStatus(rows: Iterable<PriorityStatusRow>): string {
  let out = ''
  for (const r of rows) out += `${r.functionName}\t${r.high}\t${r.normal}\t${r.low}\t${r.workers}\n`
  return out + ADMIN_REPLIES.END
}

export interface WorkerRow {
  /** Any stable per-connection integer (gearmand: the socket descriptor). */
  readonly fd: number
  readonly ip: string
  /** `-` unless the connection sent SET_CLIENT_ID; printed raw (may contain spaces). */
  readonly clientId: string
  /** Registrations, newest first, duplicates repeated. */
  readonly functions: readonly string[]
}

/** `workers`: `FD IP CLIENT_ID :` then ` FUNC` per registration and `\n`, per connection; then `.\n`. */
export function formatWorkers(rows: Iterable<WorkerRow>): string {
  let out = ''
  for (const r of rows) {
    out += `${r.fd} ${r.ip} ${r.clientId} :`
    for (const f of r.functions) out += ` ${f}`
    out += '\n'
  }
  return out + ADMIN_REPLIES.END
}

export interface JobRow {
  readonly handle: string
  readonly retries: number
  /** Abandoned or cancelled. */
  readonly ignore: boolean
  /** A live background job (gearmand shows 1 even without a durable queue). */
  readonly persisted: boolean
}

/** `show jobs`: `HANDLE\tRETRIES\tIGNORE\tPERSISTED\n` per job, then `.\n`. */
export function formatShowJobs(rows: Iterable<JobRow>): string {
  let out = ''
  for (const r of rows) out += `${r.handle}\t${r.retries}\t${r.ignore ? 1 : 0}\t${r.persisted ? 1 : 0}\n`
  return out + ADMIN_REPLIES.END
}

/** `show unique jobs`: `UNIQUE\n` per job (an empty line for an empty unique), then `.\n`. */
export function formatShowUniqueJobs(uniques: Iterable<string>): string {
  let out = ''
  for (const u of uniques) out += `${u}\n`
  return out + ADMIN_REPLIES.END
}
