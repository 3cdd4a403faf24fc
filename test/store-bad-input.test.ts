// A job store that cannot be opened, a damaged or foreign database, and writes that fail while running: a
// typed StoreError, and a background submit that could not be made durable is refused, never acknowledged.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { closeSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs'
import { once } from 'node:events'
import { createConnection } from 'node:net'
import { join } from 'node:path'
import { test } from 'node:test'
import Database from 'better-sqlite3'
import { Broker, type JobStore, memoryStore, sqliteStore, StoreError } from '../src/index.js'
import { encodePacket } from '../src/protocol/encoder.js'
import { PACKETS } from '../src/protocol/packets.js'
import { startServer, waitUntil } from './tcp-peer.js'
import { deferred } from './helpers.js'
import { tempDir } from './store-setup.js'

const limits = { timeout: 15_000 }

/** A memory store whose writes throw while `failing` is set (the broker sees what a full disk looks like). */
function faulty(): { store: JobStore; control: { failing: boolean } } {
  const inner = memoryStore()
  const control = { failing: false }
  const store: JobStore = {
    load: () => inner.load(),
    write(added, removed) {
      if (control.failing) throw new StoreError('write', 'SQLITE_FULL: database or disk is full')
      inner.write(added, removed)
    },
    close: () => {
      inner.close()
    },
  }
  return { store, control }
}

/**
 * Makes files immutable (`chattr +i`) or writable again: even root cannot write to an immutable file, also
 * through a descriptor opened before. Needs root and a filesystem with attributes (ext4 here); fails loudly
 * otherwise.
 */
function immutable(on: boolean, files: readonly string[]): void {
  execFileSync('chattr', [on ? '+i' : '-i', ...files], { stdio: ['ignore', 'ignore', 'pipe'] })
}

function storeKind(kind: string): { name: string; kind: string } {
  return { name: 'StoreError', kind }
}

test('a path that cannot be opened: a StoreError of kind `open`', limits, (t) => {
  const dir = tempDir(t)
  assert.throws(() => sqliteStore(join(dir, 'no', 'such', 'dir', 'jobs.db')), storeKind('open'))
  assert.throws(() => sqliteStore(dir), storeKind('open'))
  assert.throws(() => sqliteStore(''), { code: 'GEARBOX_INVALID_ARGUMENT' })
  assert.throws(() => new Broker({ store: {} as JobStore }), { code: 'GEARBOX_INVALID_ARGUMENT' })
})

test('a file that is not a database, or a gearbox store with damaged pages: kind `corrupt`', limits, (t) => {
  const dir = tempDir(t)
  const garbage = join(dir, 'garbage.db')
  writeFileSync(garbage, Buffer.alloc(8192, 0x5a))
  assert.throws(() => sqliteStore(garbage), storeKind('corrupt'))

  const damaged = join(dir, 'damaged.db')
  const store = sqliteStore(damaged)
  store.write(
    Array.from({ length: 200 }, (_, i) => ({ id: i + 1, functionName: 'f', unique: '', data: Buffer.alloc(1000, i), priority: 1 as const, dueAt: 0, timeout: 0, reducer: '' })),
    [],
  )
  store.close()
  // keep the header page, overwrite the table's pages
  const size = readFileSync(damaged).length
  const fd = openSync(damaged, 'r+')
  writeSync(fd, Buffer.alloc(size - 8192, 0xa5), 0, size - 8192, 8192)
  closeSync(fd)
  assert.throws(() => new Broker({ store: sqliteStore(damaged) }), storeKind('corrupt'))
})

test("another application's SQLite database, or a newer gearbox schema: kind `foreign`, and the file is left alone", limits, (t) => {
  const dir = tempDir(t)
  const other = join(dir, 'other.db')
  const db = new Database(other)
  db.exec("CREATE TABLE gearman_queue (unique_key TEXT, function_name TEXT); INSERT INTO gearman_queue VALUES ('', 'f')")
  db.close()
  assert.throws(() => sqliteStore(other), storeKind('foreign'))
  const check = new Database(other)
  assert.deepEqual(check.prepare('SELECT count(*) AS n FROM gearman_queue').get(), { n: 1 })
  check.close()

  const newer = join(dir, 'newer.db')
  sqliteStore(newer).close()
  const bump = new Database(newer)
  bump.pragma('user_version = 99')
  bump.close()
  assert.throws(() => sqliteStore(newer), storeKind('foreign'))
})

test('a store file already open in another broker: kind `open` (the same jobs are never served twice)', limits, (t) => {
  const path = join(tempDir(t), 'jobs.db')
  const first = sqliteStore(path)
  t.after(() => {
    first.close()
  })
  first.write([{ id: 1, functionName: 'f', unique: '', data: Buffer.from('x'), priority: 1, dueAt: 0, timeout: 0, reducer: '' }], [])
  assert.throws(() => sqliteStore(path), storeKind('open'))
  assert.equal(first.load().length, 1, 'the first one carries on')
})

test('a failed write refuses the submits it held: they reject with StoreError, never run, and a coalesced foreground client fails too', limits, async (t) => {
  const { store, control } = faulty()
  const broker = new Broker({ store })
  t.after(() => broker.close({ graceful: false }))
  const client = broker.client({ encoder: 'utf8' })
  const ran: string[] = []
  broker.worker({ encoder: 'utf8' }).register('mail', (job) => {
    ran.push(job.payload)
    return 'sent'
  })
  control.failing = true
  const refused = client.submitBackground('mail', 'lost?', { unique: 'u1' })
  const joined = client.submit('mail', 'joins', { unique: 'u1' })
  const other = client.submitBackground('mail', 'other')
  await assert.rejects(refused, { name: 'StoreError', kind: 'write' })
  await assert.rejects(joined, { name: 'StoreError', kind: 'write' })
  await assert.rejects(other, { name: 'StoreError', kind: 'write' })
  await broker.idle()
  assert.deepEqual([ran, broker.size, store.load()], [[], 0, []])

  control.failing = false
  await client.submitBackground('mail', 'after the disk was freed')
  await broker.idle()
  assert.deepEqual(ran, ['after the disk was freed'])
  assert.deepEqual(store.load(), [])
})

test('a removal that fails is written with the next write (the job may run again after a crash, never silently vanish)', limits, async (t) => {
  const { store, control } = faulty()
  const broker = new Broker({ store })
  t.after(() => broker.close({ graceful: false }))
  const client = broker.client()
  await client.submitBackground('f', 'first')
  control.failing = true
  broker.worker().register('f', () => 'ok')
  await broker.idle()
  assert.equal(store.load().length, 1, 'the row stays while the store fails')
  control.failing = false
  await waitUntil(() => store.load().length === 0, 'the removal is tried again with nothing else happening', 5_000)
  await client.submitBackground('g', 'second')
  assert.deepEqual(
    store.load().map((j) => j.functionName),
    ['g'],
  )
})

test('a store still failing when the broker closes: close() rejects with the StoreError, and the store is closed', limits, async () => {
  const { store, control } = faulty()
  let closed = false
  const broker = new Broker({
    store: {
      ...store,
      close: () => {
        closed = true
      },
    },
  })
  await broker.client().submitBackground('f', 'x')
  control.failing = true
  broker.worker().register('f', () => 'ok')
  await broker.idle()
  await assert.rejects(broker.close(), { name: 'StoreError', kind: 'write' })
  assert.equal(closed, true)
  assert.equal(store.load().length, 1, 'the finished job is still stored: it runs again at the next start')
})

test('a database file that becomes read-only while running refuses the submit (StoreError), and works again once writable; read-only at start: kind `open`', limits, async (t) => {
  const path = join(tempDir(t), 'jobs.db')
  const files = [path, `${path}-wal`]
  const broker = new Broker({ handlePrefix: 'H:t', store: sqliteStore(path) })
  t.after(() => broker.close({ graceful: false }))
  const client = broker.client()
  assert.equal(await client.submitBackground('f', 'before'), 'H:t:1')
  immutable(true, files)
  try {
    await assert.rejects(client.submitBackground('f', 'while read-only'), storeKind('write'))
    assert.equal(broker.size, 1)
  } finally {
    immutable(false, files)
  }
  assert.equal(await client.submitBackground('f', 'after'), 'H:t:3')
  await broker.close()

  immutable(true, [path])
  try {
    assert.throws(() => sqliteStore(path), storeKind('open'))
  } finally {
    immutable(false, [path])
  }
  const again = new Broker({ handlePrefix: 'H:t', store: sqliteStore(path) })
  t.after(() => again.close({ graceful: false }))
  assert.deepEqual(
    (await again.admin.showJobs()).map((j) => j.handle),
    ['H:t:1', 'H:t:3'],
  )
})

test('SQLite full (maxBytes) while running: the submits past the limit are refused, the accepted ones are all there after a restart', limits, async (t) => {
  const path = join(tempDir(t), 'jobs.db')
  const broker = new Broker({ handlePrefix: 'H:t', store: sqliteStore(path, { maxBytes: 64 * 1024 }) })
  t.after(() => broker.close({ graceful: false }))
  const client = broker.client()
  const accepted: string[] = []
  const refused: unknown[] = []
  for (let i = 0; i < 40; i++) {
    try {
      accepted.push(await client.submitBackground('big', Buffer.alloc(4096, i)))
    } catch (err) {
      refused.push(err)
    }
  }
  assert.ok(accepted.length > 0 && refused.length > 0, `some accepted (${accepted.length}), some refused (${refused.length})`)
  for (const err of refused) assert.ok(err instanceof StoreError && err.kind === 'write', String(err))
  assert.equal(broker.size, accepted.length)
  await broker.close()
  const again = new Broker({ handlePrefix: 'H:t', store: sqliteStore(path) })
  t.after(() => again.close({ graceful: false }))
  assert.deepEqual(
    (await again.admin.showJobs()).map((j) => j.handle),
    accepted,
  )
})

test('over TCP: JOB_CREATED only after the write, replies in request order, a refused write is ERROR QUEUE_ERROR', limits, async (t) => {
  const { store, control } = faulty()
  const { connect, broker } = await startServer(t, { broker: { store } })
  const peer = await connect()
  peer.send('SUBMIT_JOB_BG', 'f', '', 'a')
  peer.send('ECHO_REQ', 'between')
  peer.send('SUBMIT_JOB_LOW_BG', 'f', '', 'b')
  await peer.expect('JOB_CREATED', ['H:t:1'])
  assert.equal(store.load().length, 2, 'both rows are written before the first JOB_CREATED arrives')
  await peer.expect('ECHO_RES', ['between'])
  await peer.expect('JOB_CREATED', ['H:t:2'])

  control.failing = true
  peer.send('SUBMIT_JOB_BG', 'f', 'u', 'c')
  // a foreground client joining the refused job hears that it was created, then (when the write failed) that it failed
  peer.send('SUBMIT_JOB', 'f', 'u', 'joins')
  peer.send('ECHO_REQ', 'after')
  const [code] = await peer.expect('ERROR')
  assert.equal(code, 'QUEUE_ERROR')
  await peer.expect('JOB_CREATED', ['H:t:3'])
  await peer.expect('ECHO_RES', ['after'])
  await peer.expect('WORK_FAIL', ['H:t:3'])
  assert.equal(broker.size, 2)
})

test('over TCP: replies the fast path writes (JOB_CREATED of a foreground job, JOB_ASSIGN_UNIQ, WORK_COMPLETE) wait behind a held one', limits, async (t) => {
  const { connect } = await startServer(t, { broker: { store: memoryStore() } })
  const peer = await connect()
  const packet = (name: keyof typeof PACKETS, ...args: string[]): Buffer => encodePacket('REQ', PACKETS[name].code, args as never)
  // one write, so the server reads them all while the background job's write is still to come
  peer.write(
    Buffer.concat([
      packet('SUBMIT_JOB_BG', 'f', '', 'a'),
      packet('SUBMIT_JOB', 'g', '', 'fg'),
      packet('CAN_DO', 'g'),
      packet('GRAB_JOB_UNIQ'),
      packet('WORK_COMPLETE', 'H:t:2', 'done'),
    ]),
  )
  await peer.expect('JOB_CREATED', ['H:t:1'])
  await peer.expect('JOB_CREATED', ['H:t:2'])
  await peer.expect('JOB_ASSIGN_UNIQ', ['H:t:2', 'g', '', 'fg'])
  await peer.expect('WORK_COMPLETE', ['H:t:2', 'done'])
})

test('over TCP: a client that half-closes right after a background submit still gets its JOB_CREATED (held behind the write)', limits, async (t) => {
  const { port, broker } = await startServer(t, { broker: { store: memoryStore() } })
  const socket = createConnection({ host: '127.0.0.1', port })
  t.after(() => socket.destroy())
  await once(socket, 'connect')
  const received: Buffer[] = []
  socket.on('data', (chunk: Buffer) => received.push(chunk))
  // the packet and the FIN in one write: the server reads both in one turn, before the store write
  socket.end(encodePacket('REQ', PACKETS.SUBMIT_JOB_BG.code, ['f', '', 'a'] as never))
  await once(socket, 'close')
  assert.deepEqual(Buffer.concat(received), encodePacket('RES', PACKETS.JOB_CREATED.code, ['H:t:1'] as never))
  assert.equal(broker.size, 1)
})

test('a Broker that refuses its options closes the store it was given (the file is not left locked)', limits, (t) => {
  const path = join(tempDir(t), 'jobs.db')
  assert.throws(() => new Broker({ store: sqliteStore(path), jobRetries: -1 }), { code: 'GEARBOX_INVALID_ARGUMENT' })
  const again = sqliteStore(path)
  again.close()
})

test('a refused background submit that joined a running foreground job leaves it foreground: it is abandoned when its client leaves', limits, async (t) => {
  const { store, control } = faulty()
  const broker = new Broker({ store })
  t.after(() => broker.close({ graceful: false }))
  const client = broker.client({ encoder: 'utf8' })
  const started = deferred()
  const aborted = deferred()
  broker.worker({ encoder: 'utf8' }).register('report', (job) => {
    started.resolve()
    return new Promise<string>((_, reject) => {
      job.signal.addEventListener('abort', () => {
        aborted.resolve()
        reject(new Error('stopped'))
      })
    })
  })
  const leave = new AbortController()
  const foreground = client.submit('report', 'q3', { unique: 'r', signal: leave.signal })
  foreground.catch(() => undefined)
  await started.promise
  control.failing = true
  await assert.rejects(client.submitBackground('report', 'q3', { unique: 'r' }), { name: 'StoreError' })
  control.failing = false
  leave.abort()
  await aborted.promise // the handler is told: nobody waits for the job any more
  await broker.idle()
  assert.equal(broker.size, 0)
  assert.deepEqual(store.load(), [])
})

test('a function dropped while its background jobs wait for their write: they never reach the store', limits, async (t) => {
  const inner = memoryStore()
  const added: number[] = []
  const store: JobStore = {
    load: () => inner.load(),
    write(jobs, removed) {
      added.push(...jobs.map((j) => j.id))
      inner.write(jobs, removed)
    },
    close: () => {
      inner.close()
    },
  }
  const broker = new Broker({ store })
  t.after(() => broker.close({ graceful: false }))
  const submitted = broker.client().submitBackground('gone', 'x')
  assert.equal(await broker.admin.dropFunction('gone'), true)
  await submitted
  await broker.idle()
  assert.deepEqual([added, inner.load(), broker.size], [[], [], 0])
})
