// The packet table against GEARMAN.md §2 and §1.4, the request limits (§3.3, §3.7, §3.14) and the ERROR catalogue.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ProtocolError, type ProtocolErrorKind } from '../../src/errors.js'
import { WIRE_ERRORS, errorReplyFor, jobNotFoundFor } from '../../src/protocol/error-replies.js'
import { checkRequestLimits } from '../../src/protocol/limits.js'
import {
  MAX_PACKET_TYPE,
  PACKET,
  PACKETS,
  type Packet,
  type PacketName,
  isPacketType,
  packetByName,
  packetInfo,
  packetName,
} from '../../src/protocol/packets.js'
import { limits } from './protocol-helpers.js'

// §2, read off the table: number, name, field count, whether the last field is a blob.
const catalogue = `
1 CAN_DO 1 - | 2 CANT_DO 1 - | 3 RESET_ABILITIES 0 - | 4 PRE_SLEEP 0 - | 5 UNUSED 0 - | 6 NOOP 0 - |
7 SUBMIT_JOB 3 blob | 8 JOB_CREATED 1 - | 9 GRAB_JOB 0 - | 10 NO_JOB 0 - | 11 JOB_ASSIGN 3 blob |
12 WORK_STATUS 3 - | 13 WORK_COMPLETE 2 blob | 14 WORK_FAIL 1 - | 15 GET_STATUS 1 - | 16 ECHO_REQ 1 blob |
17 ECHO_RES 1 blob | 18 SUBMIT_JOB_BG 3 blob | 19 ERROR 2 - | 20 STATUS_RES 5 - | 21 SUBMIT_JOB_HIGH 3 blob |
22 SET_CLIENT_ID 1 - | 23 CAN_DO_TIMEOUT 2 - | 24 ALL_YOURS 0 - | 25 WORK_EXCEPTION 2 blob | 26 OPTION_REQ 1 - |
27 OPTION_RES 1 - | 28 WORK_DATA 2 blob | 29 WORK_WARNING 2 blob | 30 GRAB_JOB_UNIQ 0 - | 31 JOB_ASSIGN_UNIQ 4 blob |
32 SUBMIT_JOB_HIGH_BG 3 blob | 33 SUBMIT_JOB_LOW 3 blob | 34 SUBMIT_JOB_LOW_BG 3 blob | 35 SUBMIT_JOB_SCHED 8 blob |
36 SUBMIT_JOB_EPOCH 4 blob | 37 SUBMIT_REDUCE_JOB 5 blob | 38 SUBMIT_REDUCE_JOB_BACKGROUND 5 blob | 39 GRAB_JOB_ALL 0 - |
40 JOB_ASSIGN_ALL 5 blob | 41 GET_STATUS_UNIQUE 1 - | 42 STATUS_RES_UNIQUE 6 -`
  .split('|')
  .map((row) => row.trim().split(/\s+/))
  .map(([code, name, args, blob]) => ({ code: Number(code), name: name ?? '', args: Number(args), blob: blob === 'blob' }))

// §1.4: the types gearmand answers with INVALID_COMMAND when a client or worker sends them.
const notRequests = [5, 6, 8, 10, 11, 17, 19, 20, 24, 27, 31, 35, 40, 42]
// §2 magic column: RES or REQ / RES.
const responses = [6, 8, 10, 11, 12, 13, 14, 17, 19, 20, 25, 27, 28, 29, 31, 40, 42]

test('the table holds types 1–42 exactly as GEARMAN.md §2 lists them', limits, () => {
  assert.equal(catalogue.length, 42)
  assert.equal(Object.keys(PACKETS).length, 42)
  assert.equal(MAX_PACKET_TYPE, 42)
  for (const row of catalogue) {
    const info = packetInfo(row.code)
    assert.ok(info, `type ${row.code}`)
    assert.deepEqual({ code: info.code, name: info.name, args: info.args, blob: info.blob }, row)
    assert.equal(packetByName(row.name), info)
    assert.equal(PACKET[row.name as PacketName], row.code)
    assert.equal(packetName(row.code), row.name)
    assert.ok(isPacketType(row.code))
  }
})

test('request / response flags follow §1.4 and the magic column', limits, () => {
  const requestTypes = Object.values(PACKETS).filter((p) => !p.request).map((p) => p.code).sort((a, b) => a - b)
  assert.deepEqual(requestTypes, notRequests)
  const responseTypes = Object.values(PACKETS).filter((p) => p.response).map((p) => p.code).sort((a, b) => a - b)
  assert.deepEqual(responseTypes, responses)
  for (const p of Object.values(PACKETS)) {
    if (p.magic === 'REQ') assert.ok(!p.response, `${p.code} is REQ only`)
    if (p.magic === 'RES') assert.ok(!p.request, `${p.code} is RES only`)
    if (p.magic === 'REQ/RES') assert.deepEqual([p.request, p.response], [true, true], `${p.code} goes both ways`)
  }
})

test('lookups reject what is not a packet type', limits, () => {
  for (const bad of [0, 43, -1, 1.5, Number.NaN, 2 ** 32]) {
    assert.equal(packetInfo(bad), undefined, String(bad))
    assert.equal(isPacketType(bad), false)
  }
  assert.equal(packetName(43), 'UNKNOWN(43)')
  assert.equal(packetByName('submit_job'), undefined)
  assert.equal(packetByName('toString'), undefined)
  assert.equal(packetByName('constructor'), undefined)
})

function pkt(type: number, ...args: string[]): Packet {
  return { magic: 'REQ', type, args: args.map((a) => Buffer.from(a, 'latin1')) } as unknown as Packet
}

test('unique limit: 64 bytes pass, 65 get ARGUMENT_TOO_LARGE (§3.3)', limits, () => {
  const submits = [7, 18, 21, 32, 33, 34]
  for (const type of submits) {
    assert.equal(checkRequestLimits(pkt(type, 'f', 'u'.repeat(64), 'data')), null)
    assert.deepEqual(checkRequestLimits(pkt(type, 'f', 'u'.repeat(65), 'data'))?.reply, {
      code: 'ARGUMENT_TOO_LARGE',
      text: 'Unique value too large',
    })
  }
  assert.equal(checkRequestLimits(pkt(36, 'f', 'u'.repeat(64), '0', 'd')), null)
  assert.equal(checkRequestLimits(pkt(36, 'f', 'u'.repeat(65), '0', 'd'))?.reply, WIRE_ERRORS.UNIQUE_TOO_LARGE)
  // reduce: gearmand checks the reducer; we check both
  assert.equal(checkRequestLimits(pkt(37, 'f', 'u', 'r'.repeat(64), '', 'd')), null)
  assert.equal(checkRequestLimits(pkt(37, 'f', 'u', 'r'.repeat(65), '', 'd'))?.reply, WIRE_ERRORS.UNIQUE_TOO_LARGE)
  assert.equal(checkRequestLimits(pkt(38, 'f', 'u'.repeat(65), 'r', '', 'd'))?.reply, WIRE_ERRORS.UNIQUE_TOO_LARGE)
  // the data is not limited
  assert.equal(checkRequestLimits(pkt(7, 'f', '', 'x'.repeat(100_000))), null)
})

test('handle limits: WORK_FAIL gets ARGUMENT_TOO_LARGE, GET_STATUS / GET_STATUS_UNIQUE no reply (§3.7, §3.14)', limits, () => {
  assert.equal(checkRequestLimits(pkt(14, 'h'.repeat(63))), null)
  assert.deepEqual(checkRequestLimits(pkt(14, 'h'.repeat(64)))?.reply, {
    code: 'ARGUMENT_TOO_LARGE',
    text: 'Error occurred due to GEARMAND_JOB_HANDLE_SIZE being too small from snprintf',
  })
  assert.equal(checkRequestLimits(pkt(15, 'h'.repeat(63))), null)
  assert.equal(checkRequestLimits(pkt(15, 'h'.repeat(64)))?.reply, null)
  assert.equal(checkRequestLimits(pkt(41, 'u'.repeat(63))), null)
  assert.equal(checkRequestLimits(pkt(41, 'u'.repeat(64)))?.reply, null)
  assert.equal(checkRequestLimits(pkt(23, 'f', '1'.repeat(20))), null)
  assert.equal(checkRequestLimits(pkt(23, 'f', '1'.repeat(21)))?.reply, null)
  assert.equal(checkRequestLimits(pkt(13, 'h'.repeat(200), 'd')), null, 'other WORK_* are a JOB_NOT_FOUND matter')
  assert.match(checkRequestLimits(pkt(15, 'h'.repeat(64)))?.reason ?? '', /64 bytes/)
})

test('ERROR catalogue matches §3.14, and decoder errors map to gearmand replies', limits, () => {
  assert.deepEqual(WIRE_ERRORS.INVALID_MAGIC, { code: 'INVALID_MAGIC', text: 'Request magic expected' })
  assert.deepEqual(WIRE_ERRORS.INVALID_COMMAND, { code: 'INVALID_COMMAND', text: 'Command not expected' })
  assert.deepEqual(WIRE_ERRORS.QUEUE_FULL, { code: 'QUEUE_ERROR', text: 'Job queue is full' })
  assert.deepEqual(WIRE_ERRORS.UNKNOWN_OPTION, { code: 'UNKNOWN_OPTION', text: 'Server does not recognize given option' })
  assert.deepEqual(jobNotFoundFor(PACKET.WORK_DATA), { code: 'JOB_NOT_FOUND', text: 'Job does not exist on server' })
  assert.deepEqual(jobNotFoundFor(PACKET.WORK_WARNING), { code: 'JOB_NOT_FOUND', text: 'Job does not exist on server' })
  for (const t of [PACKET.WORK_STATUS, PACKET.WORK_COMPLETE, PACKET.WORK_FAIL]) {
    assert.deepEqual(jobNotFoundFor(t), { code: 'JOB_NOT_FOUND', text: 'Job given in work result not found' })
  }
  assert.deepEqual(jobNotFoundFor(PACKET.WORK_EXCEPTION), {
    code: 'JOB_NOT_FOUND',
    text: 'An exception was received for a job that does not exist',
  })
  assert.equal(jobNotFoundFor(PACKET.SUBMIT_JOB), null)

  const kinds: Record<ProtocolErrorKind, { close: boolean; reply: unknown }> = {
    'bad-magic': { close: true, reply: null },
    'unknown-type': { close: true, reply: null },
    'too-large': { close: true, reply: null },
    'bad-arguments': { close: true, reply: null },
    truncated: { close: true, reply: null },
    'line-too-long': { close: true, reply: null },
    'unexpected-magic': { close: false, reply: WIRE_ERRORS.INVALID_MAGIC },
    'unexpected-command': { close: false, reply: WIRE_ERRORS.INVALID_COMMAND },
  }
  for (const [kind, want] of Object.entries(kinds) as [ProtocolErrorKind, { close: boolean; reply: unknown }][]) {
    const err = new ProtocolError(kind, kind)
    assert.equal(err.code, 'GEARBOX_PROTOCOL')
    assert.equal(err.closeConnection, want.close, kind)
    assert.equal(errorReplyFor(err), want.reply, kind)
  }
})
