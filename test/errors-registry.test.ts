import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { test } from 'node:test'
import * as gearbox from '../src/index.js'
import {
  BadAddressError,
  BrokerClosedError,
  ConnectionLostError,
  type ErrorCode,
  EncodingError,
  FunctionInUseError,
  GearboxError,
  HandlerModuleError,
  InvalidArgumentError,
  JobCancelledError,
  JobExceptionError,
  JobFailedError,
  JobTimeoutError,
  PayloadTooLargeError,
  ProtocolError,
  QueueFullError,
  StoreError,
  ServerError,
  ServerUnavailableError,
  WaitTimeoutError,
  WorkerLostError,
} from '../src/index.js'

const limits = { timeout: 10_000 }

/**
 * One instance of every error class, and the code it must carry. Codes are a public contract: once
 * shipped, a code never changes and is never reused. A new error class must be added here (the first test
 * fails until it is).
 */
const registry: Record<string, { readonly make: () => GearboxError; readonly code: ErrorCode }> = {
  InvalidArgumentError: { make: () => new InvalidArgumentError('name', 'a string', 42), code: 'GEARBOX_INVALID_ARGUMENT' },
  QueueFullError: { make: () => new QueueFullError('resize', 10), code: 'GEARBOX_QUEUE_FULL' },
  JobFailedError: { make: () => new JobFailedError(), code: 'GEARBOX_JOB_FAILED' },
  JobExceptionError: { make: () => new JobExceptionError(Buffer.from('boom')), code: 'GEARBOX_JOB_EXCEPTION' },
  JobTimeoutError: { make: () => new JobTimeoutError(1000, 3), code: 'GEARBOX_JOB_TIMEOUT' },
  WorkerLostError: { make: () => new WorkerLostError(), code: 'GEARBOX_WORKER_LOST' },
  JobCancelledError: { make: () => new JobCancelledError(), code: 'GEARBOX_JOB_CANCELLED' },
  BrokerClosedError: { make: () => new BrokerClosedError(), code: 'GEARBOX_BROKER_CLOSED' },
  WaitTimeoutError: { make: () => new WaitTimeoutError(500, 2), code: 'GEARBOX_WAIT_TIMEOUT' },
  FunctionInUseError: { make: () => new FunctionInUseError('resize'), code: 'GEARBOX_FUNCTION_IN_USE' },
  EncodingError: { make: () => new EncodingError('cannot encode'), code: 'GEARBOX_ENCODING' },
  HandlerModuleError: { make: () => new HandlerModuleError('file:///x.js', 'no handler'), code: 'GEARBOX_HANDLER_MODULE' },
  ProtocolError: { make: () => new ProtocolError('bad-magic', 'bad magic', { packetType: 7, offset: 0 }), code: 'GEARBOX_PROTOCOL' },
  StoreError: { make: () => new StoreError('write', 'disk full'), code: 'GEARBOX_STORE' },
  BadAddressError: { make: () => new BadAddressError('host:port:x', 'not host:port'), code: 'GEARBOX_BAD_ADDRESS' },
  ConnectionLostError: { make: () => new ConnectionLostError('127.0.0.1:4730', 'connection closed'), code: 'GEARBOX_CONNECTION_LOST' },
  ServerUnavailableError: { make: () => new ServerUnavailableError(['127.0.0.1:4730'], 'no server'), code: 'GEARBOX_SERVER_UNAVAILABLE' },
  ServerError: { make: () => new ServerError('127.0.0.1:4730', 'QUEUE_ERROR', 'Job queue is full'), code: 'GEARBOX_SERVER_ERROR' },
  PayloadTooLargeError: { make: () => new PayloadTooLargeError(100, 10), code: 'GEARBOX_PAYLOAD_TOO_LARGE' },
}

/** Every member of the ErrorCode union (the compiler checks this list is complete). */
const everyCode: Record<ErrorCode, true> = {
  GEARBOX_INVALID_ARGUMENT: true,
  GEARBOX_QUEUE_FULL: true,
  GEARBOX_JOB_FAILED: true,
  GEARBOX_JOB_EXCEPTION: true,
  GEARBOX_JOB_TIMEOUT: true,
  GEARBOX_WORKER_LOST: true,
  GEARBOX_JOB_CANCELLED: true,
  GEARBOX_BROKER_CLOSED: true,
  GEARBOX_WAIT_TIMEOUT: true,
  GEARBOX_FUNCTION_IN_USE: true,
  GEARBOX_ENCODING: true,
  GEARBOX_HANDLER_MODULE: true,
  GEARBOX_PROTOCOL: true,
  GEARBOX_STORE: true,
  GEARBOX_BAD_ADDRESS: true,
  GEARBOX_CONNECTION_LOST: true,
  GEARBOX_SERVER_UNAVAILABLE: true,
  GEARBOX_SERVER_ERROR: true,
  GEARBOX_PAYLOAD_TOO_LARGE: true,
}

/** Every exported class that is an Error, by export name. */
function exportedErrorClasses(): Map<string, abstract new (...args: never[]) => Error> {
  const out = new Map<string, abstract new (...args: never[]) => Error>()
  for (const [name, value] of Object.entries(gearbox)) {
    if (typeof value !== 'function') continue
    const proto: unknown = value.prototype
    if (proto instanceof Error || (value as unknown) === Error) out.set(name, value as unknown as abstract new (...args: never[]) => Error)
  }
  return out
}

test('every exported error class is in the registry, and every registry entry is exported', limits, () => {
  const exported = [...exportedErrorClasses().keys()].filter((name) => name !== 'GearboxError').sort()
  assert.deepEqual(exported, Object.keys(registry).sort())
  assert.ok(exportedErrorClasses().has('GearboxError'))
})

test('every error class extends GearboxError and Error, with name equal to the class name', limits, () => {
  for (const [name, cls] of exportedErrorClasses()) {
    if (name === 'GearboxError') continue
    assert.equal(cls.name, name, `${name} is exported under its class name`)
    const entry = registry[name]
    assert.ok(entry, `${name} has a registry entry`)
    const err = entry.make()
    assert.ok(err instanceof cls, name)
    assert.ok(err instanceof GearboxError, `${name} extends GearboxError`)
    assert.ok(err instanceof Error, `${name} extends Error`)
    assert.equal(err.name, name, `${name}.name`)
    assert.equal(Object.prototype.toString.call(err), '[object Error]')
    assert.equal(typeof err.stack, 'string')
  }
  const base = new GearboxError('GEARBOX_JOB_FAILED', 'x')
  assert.equal(base.name, 'GearboxError')
  assert.ok(base instanceof Error)
})

test('every error class has its own stable code', limits, () => {
  const seen = new Map<string, string>()
  for (const [name, entry] of Object.entries(registry)) {
    const err = entry.make()
    assert.equal(err.code, entry.code, `${name}.code`)
    assert.match(err.code, /^GEARBOX_[A-Z_]+$/)
    const previous = seen.get(err.code)
    assert.equal(previous, undefined, `${name} and ${previous ?? ''} share ${err.code}`)
    seen.set(err.code, name)
  }
  // every code of the ErrorCode union belongs to exactly one class
  assert.deepEqual([...seen.keys()].sort(), Object.keys(everyCode).sort())
})

test('errors carry their data fields and causes', limits, () => {
  const queueFull = new QueueFullError('resize', 10)
  assert.deepEqual([queueFull.functionName, queueFull.limit], ['resize', 10])
  const invalid = new InvalidArgumentError('timeout', 'an integer >= 0', -1)
  assert.equal(invalid.argument, 'timeout')
  const timeout = new JobTimeoutError(1000, 3)
  assert.deepEqual([timeout.timeout, timeout.attempts], [1000, 3])
  const wait = new WaitTimeoutError(500, 2)
  assert.equal(wait.pending, 2)
  const inUse = new FunctionInUseError('resize')
  assert.equal(inUse.functionName, 'resize')
  const lost = new WorkerLostError('gone', 2)
  assert.equal(lost.attempts, 2)
  const thrown = new RangeError('inner')
  const exception = new JobExceptionError(Buffer.from('inner'), { cause: thrown })
  assert.equal(exception.cause, thrown)
  assert.deepEqual([...exception.data], [...Buffer.from('inner')])
  const encoding = new EncodingError('bad', { cause: thrown })
  assert.equal(encoding.cause, thrown)
  const fatal = new ProtocolError('too-large', 'too large', { packetType: 7, offset: 12 })
  assert.deepEqual([fatal.kind, fatal.packetType, fatal.offset, fatal.closeConnection], ['too-large', 7, 12, true])
  const store = new StoreError('corrupt', 'not a database', { cause: thrown })
  assert.deepEqual([store.kind, store.cause], ['corrupt', thrown])
  const kept = new ProtocolError('unexpected-magic', 'RES magic on a request')
  assert.deepEqual([kept.kind, kept.packetType, kept.offset, kept.closeConnection], ['unexpected-magic', undefined, undefined, false])
})

test("README.md's error table lists every code", limits, () => {
  const readme = new URL('../../README.md', import.meta.url)
  assert.ok(existsSync(readme), `README.md is missing at ${readme.pathname}: it must have an error table listing every code`)
  const tableRows = readFileSync(readme, 'utf8')
    .split('\n')
    .filter((line) => line.trimStart().startsWith('|'))
    .join('\n')
  const missing = Object.values(registry)
    .map((e) => e.code)
    .filter((code) => !tableRows.includes(`\`${code}\``))
  assert.deepEqual(missing, [], 'codes missing from the README error table')
})
