// Admin text protocol: tokenising (GEARMAN.md §1.3), parsing and gearmand's replies byte for byte (§4, §9).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  ADMIN_REPLIES,
  type AdminCommand,
  atoi,
  formatErr,
  formatOk,
  formatPriorityStatus,
  formatShowJobs,
  formatShowUniqueJobs,
  formatStatus,
  formatValue,
  formatWorkers,
  invalidArgumentsReply,
  parseAdminLine,
  tokenizeAdminLine,
  unknownCommandReply,
  VERBOSE_LEVELS,
} from '../../src/protocol/admin-text.js'
import { Decoder } from '../../src/protocol/decoder.js'
import { limits } from './protocol-helpers.js'

const err = (reply: string): AdminCommand => ({ command: 'error', reply })

test('tokenising: spaces only, runs collapse, leading / trailing spaces give empty tokens (§1.3)', limits, () => {
  assert.deepEqual(tokenizeAdminLine('status'), ['status'])
  assert.deepEqual(tokenizeAdminLine('maxqueue  fn   5'), ['maxqueue', 'fn', '5'])
  assert.deepEqual(tokenizeAdminLine(' status'), ['', 'status'])
  assert.deepEqual(tokenizeAdminLine('   status'), ['', 'status'])
  assert.deepEqual(tokenizeAdminLine('status '), ['status', ''])
  assert.deepEqual(tokenizeAdminLine('status    '), ['status', ''])
  assert.deepEqual(tokenizeAdminLine('version\tx'), ['version\tx'])
  assert.deepEqual(tokenizeAdminLine(''), [''])
})

test('command words are case-insensitive; extra tokens after a query word are ignored', limits, () => {
  for (const line of ['status', 'STATUS', 'Status', 'status extra words', 'status ']) assert.deepEqual(parseAdminLine(line), { command: 'status' }, line)
  assert.deepEqual(parseAdminLine('Workers'), { command: 'workers' })
  assert.deepEqual(parseAdminLine('prioritystatus'), { command: 'prioritystatus' })
  assert.deepEqual(parseAdminLine('getpid'), { command: 'getpid' })
  assert.deepEqual(parseAdminLine('VERSION'), { command: 'version' })
  assert.deepEqual(parseAdminLine('verbose'), { command: 'verbose' })
  assert.deepEqual(parseAdminLine(Buffer.from('status')), { command: 'status' }, 'a Buffer, as the decoder delivers it')
})

test('unknown commands, tabs, leading spaces and empty lines (§4, §9)', limits, () => {
  assert.deepEqual(parseAdminLine('foo'), err('ERR UNKNOWN_COMMAND Unknown+server+commandfoo\r\n'))
  assert.deepEqual(parseAdminLine('version\tx'), err('ERR UNKNOWN_COMMAND Unknown+server+commandversion\tx\r\n'))
  assert.deepEqual(parseAdminLine(' status'), err('ERR UNKNOWN_COMMAND Unknown+server+command\r\n'))
  assert.deepEqual(parseAdminLine(''), err('ERR UNKNOWN_COMMAND Unknown+server+command\r\n'))
  assert.deepEqual(parseAdminLine('status\r'), err('ERR UNKNOWN_COMMAND Unknown+server+commandstatus\r\r\n'), 'status\\r\\r\\n is not recognised')
  assert.deepEqual(parseAdminLine('jobs'), err('ERR UNKNOWN_COMMAND Unknown+server+commandjobs\r\n'))
})

test('more than 5 tokens: close the connection without a reply', limits, () => {
  assert.deepEqual(parseAdminLine('maxqueue mq 1 2 3 4'), { command: 'close' })
  assert.deepEqual(parseAdminLine('maxqueue mq 1 2 3 '), { command: 'close' }, 'a trailing space is a sixth token')
  assert.deepEqual(parseAdminLine('status a b c d e'), { command: 'close' })
  assert.deepEqual(parseAdminLine('maxqueue mq 1 2 3'), { command: 'maxqueue', functionName: 'mq', high: 1, normal: 2, low: 3 })
})

test('maxqueue: every argument shape, atoi values (§4)', limits, () => {
  assert.deepEqual(
    parseAdminLine('maxqueue'),
    err('ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+maxqueue\r\n'),
  )
  assert.deepEqual(parseAdminLine('MAXQUEUE'), err('ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+MAXQUEUE\r\n'))
  assert.deepEqual(parseAdminLine('maxqueue foo'), { command: 'maxqueue', functionName: 'foo', high: 0, normal: 0, low: 0 })
  assert.deepEqual(parseAdminLine('maxqueue foo 5'), { command: 'maxqueue', functionName: 'foo', high: 5, normal: 5, low: 5 })
  assert.deepEqual(parseAdminLine('maxqueue foo 1 2'), { command: 'maxqueue', functionName: 'foo', high: 1, normal: 2, low: 0 }, 'QUIRK: LOW unlimited')
  assert.deepEqual(parseAdminLine('maxqueue foo 1 2 3'), { command: 'maxqueue', functionName: 'foo', high: 1, normal: 2, low: 3 })
  assert.deepEqual(parseAdminLine('maxqueue foo abc -5 7x'), { command: 'maxqueue', functionName: 'foo', high: 0, normal: 0, low: 7 })
  assert.deepEqual(parseAdminLine('maxqueue Foo '), { command: 'maxqueue', functionName: 'Foo', high: 0, normal: 0, low: 0 }, 'the empty token parses as 0')
  assert.deepEqual([atoi('12'), atoi('+3'), atoi('\t4'), atoi('-1'), atoi(''), atoi('x1'), atoi('99999999999')], [12, 3, 4, 0, 0, 0, 2 ** 31 - 1])
})

test('show, cancel, create, drop: shapes and errors (§4)', limits, () => {
  assert.deepEqual(parseAdminLine('show jobs'), { command: 'show-jobs' })
  assert.deepEqual(parseAdminLine('SHOW Unique JOBS'), { command: 'show-unique-jobs' })
  assert.deepEqual(parseAdminLine('show'), err('ERR UNKNOWN_COMMAND Unknown+server+commandshow\r\n'))
  assert.deepEqual(parseAdminLine('show foo'), err('ERR UNKNOWN_SHOW_ARGUMENTS\r\n'))
  assert.deepEqual(parseAdminLine('show unique'), err('ERR UNKNOWN_SHOW_ARGUMENTS\r\n'))
  assert.deepEqual(parseAdminLine('show jobs now'), err('ERR UNKNOWN_SHOW_ARGUMENTS\r\n'))

  assert.deepEqual(parseAdminLine('cancel job H:x:1'), { command: 'cancel-job', handle: 'H:x:1' })
  assert.deepEqual(parseAdminLine('Cancel JOB H:x:1'), { command: 'cancel-job', handle: 'H:x:1' })
  assert.deepEqual(parseAdminLine('cancel'), err('ERR UNKNOWN_COMMAND Unknown+server+commandcancel\r\n'))
  assert.deepEqual(parseAdminLine('cancel job'), err('ERR UNKNOWN_COMMAND Unknown+server+commandcancel\r\n'))
  assert.deepEqual(parseAdminLine('cancel job H X'), err('ERR UNKNOWN_ERROR\r\n'))

  assert.deepEqual(parseAdminLine('create function abc'), { command: 'create-function', functionName: 'abc' }, 'the real token, not gearmand\'s "ab"')
  assert.deepEqual(parseAdminLine('create'), err('ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+create\r\n'))
  assert.deepEqual(parseAdminLine('create fn abc'), err('ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+create\r\n'))
  assert.deepEqual(parseAdminLine('drop function Abc'), { command: 'drop-function', functionName: 'Abc' })
  assert.deepEqual(parseAdminLine('drop function'), err('ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+drop\r\n'))
})

test('shutdown: an unknown command in 1.1.20, recognised behind an option (§3.15)', limits, () => {
  assert.deepEqual(parseAdminLine('shutdown'), err('ERR UNKNOWN_COMMAND Unknown+server+commandshutdown\r\n'))
  assert.deepEqual(parseAdminLine('shutdown graceful'), err('ERR UNKNOWN_COMMAND Unknown+server+commandshutdown\r\n'))
  const on = { shutdown: true }
  assert.deepEqual(parseAdminLine('shutdown', on), { command: 'shutdown', graceful: false })
  assert.deepEqual(parseAdminLine('SHUTDOWN Graceful', on), { command: 'shutdown', graceful: true })
  assert.deepEqual(parseAdminLine('shutdown now', on), err('ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+shutdown\r\n'))
})

test('§9 replies, byte for byte', limits, () => {
  assert.equal(formatStatus([]), '.\n')
  assert.equal(
    formatStatus([
      { functionName: 'xyz', total: 0, running: 0, workers: 0 },
      { functionName: 'ab', total: 0, running: 0, workers: 0 },
      { functionName: 'rev', total: 1, running: 0, workers: 1 },
    ]),
    'xyz\t0\t0\t0\nab\t0\t0\t0\nrev\t1\t0\t1\n.\n',
  )
  assert.equal(formatStatus([{ functionName: '', total: 2, running: 1, workers: 0 }]), '\t2\t1\t0\n.\n', 'an empty function name starts with a tab')
  assert.equal(formatPriorityStatus([{ functionName: 'rev', high: 0, normal: 1, low: 0, workers: 1 }]), 'rev\t0\t1\t0\t1\n.\n')
  assert.equal(formatWorkers([{ fd: 38, ip: '127.0.0.1', clientId: '-', functions: [] }]), '38 127.0.0.1 - :\n.\n')
  assert.equal(
    formatWorkers([
      { fd: 38, ip: '127.0.0.1', clientId: '-', functions: ['rev'] },
      { fd: 39, ip: '127.0.0.1', clientId: '-', functions: [] },
    ]),
    '38 127.0.0.1 - : rev\n39 127.0.0.1 - :\n.\n',
  )
  assert.equal(formatWorkers([{ fd: 42, ip: '127.0.0.1', clientId: 'my worker id', functions: ['r3'] }]), '42 127.0.0.1 my worker id : r3\n.\n')
  assert.equal(formatWorkers([{ fd: 7, ip: '::1', clientId: '-', functions: ['fC', 'fB', 'fA', 'fA'] }]), '7 ::1 - : fC fB fA fA\n.\n')
  assert.equal(formatValue('1.1.20+ds'), 'OK 1.1.20+ds\n')
  assert.equal(formatValue('INFO'), 'OK INFO\n')
  assert.equal(formatValue(14286), 'OK 14286\n')
  assert.equal(formatOk(), 'OK\r\n')
  assert.equal(formatOk('crlf'), 'OK\r\n')
  assert.equal(formatOk('lf'), 'OK\n')
  assert.equal(invalidArgumentsReply('maxqueue'), 'ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+maxqueue\r\n')
  assert.equal(unknownCommandReply('foo'), 'ERR UNKNOWN_COMMAND Unknown+server+commandfoo\r\n')
  assert.equal(unknownCommandReply('shutdown'), 'ERR UNKNOWN_COMMAND Unknown+server+commandshutdown\r\n')
  assert.equal(ADMIN_REPLIES.UNKNOWN_JOB, 'ERR UNKNOWN_JOB\r\n')
  assert.equal(ADMIN_REPLIES.UNKNOWN_SHOW_ARGUMENTS, 'ERR UNKNOWN_SHOW_ARGUMENTS\r\n')
  assert.equal(ADMIN_REPLIES.UNKNOWN_ERROR, 'ERR UNKNOWN_ERROR\r\n')
  assert.equal(ADMIN_REPLIES.FUNCTION_IN_USE, 'ERR there are still connected workers or executing clients\r\n')
  assert.equal(ADMIN_REPLIES.FUNCTION_NOT_FOUND, 'ERR function not found\r\n')
  assert.equal(formatShowJobs([{ handle: 'H:vm:2', retries: 0, ignore: false, persisted: true }]), 'H:vm:2\t0\t0\t1\n.\n')
  assert.equal(formatShowJobs([{ handle: 'PFX:1', retries: 1, ignore: false, persisted: false }]), 'PFX:1\t1\t0\t0\n.\n')
  assert.equal(formatShowJobs([{ handle: 'H:vm:5', retries: 0, ignore: true, persisted: false }]), 'H:vm:5\t0\t1\t0\n.\n')
  assert.equal(formatShowJobs([]), '.\n')
  assert.equal(formatShowUniqueJobs(['u1', '', '-']), 'u1\n\n-\n.\n')
  assert.equal(formatErr('UNKNOWN_JOB'), 'ERR UNKNOWN_JOB\r\n')
  assert.equal(formatErr('X', 'two words'), 'ERR X two+words\r\n')
  assert.deepEqual(VERBOSE_LEVELS, ['FATAL', 'ALERT', 'CRITICAL', 'ERROR', 'WARNING', 'NOTICE', 'INFO', 'DEBUG'])
})

test('decoder lines feed the parser: gearadmin-style \\r\\n requests', limits, () => {
  const got: AdminCommand[] = []
  const decoder = new Decoder({ onPacket: () => undefined, onText: (line) => got.push(parseAdminLine(line)), onError: () => undefined })
  decoder.push(Buffer.from('status\r\nshow unique jobs\r\ncancel job H:vm:1\r\ncreate function abc\n'))
  assert.deepEqual(got, [
    { command: 'status' },
    { command: 'show-unique-jobs' },
    { command: 'cancel-job', handle: 'H:vm:1' },
    { command: 'create-function', functionName: 'abc' },
  ])
})
