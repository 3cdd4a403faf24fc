import { createRequire } from 'node:module'
import type Database from 'better-sqlite3'
import type { JobStore, StoredJob } from '../core/store.js'
import { InvalidArgumentError, StoreError, type StoreErrorKind } from '../errors.js'

export interface SqliteStoreOptions {
  /**
   * `'full'` (default): every commit is fsync'ed, so an acknowledged job survives a power cut as well as a crash.
   * `'normal'`: WAL without the fsync per commit: survives the process being killed, may lose the last commits
   * on a power cut or OS crash.
   */
  synchronous?: 'full' | 'normal' | undefined
  /** Largest database size, bytes; a write past it fails as on a full disk (submits are refused). Default: none. */
  maxBytes?: number | undefined
}

/** `PRAGMA application_id` of a gearbox job store ('gbx1'), so another application's database is recognised. */
const APPLICATION_ID = 0x67627831
const SCHEMA_VERSION = 1
/** A second process opening the same file waits this long for the first one's lock, then fails. */
const LOCK_WAIT_MS = 2_000

/** better-sqlite3 is a native addon: loaded on the first `sqliteStore()` call, not by importing gearbox. */
let sqlite: typeof Database | null = null
function openDatabase(path: string, options: Database.Options): Database.Database {
  sqlite ??= createRequire(import.meta.url)('better-sqlite3') as typeof Database
  return new sqlite(path, options)
}

const SCHEMA = `CREATE TABLE gearbox_jobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  function_name TEXT NOT NULL,
  unique_key TEXT NOT NULL,
  priority INTEGER NOT NULL,
  data BLOB NOT NULL,
  due_at INTEGER NOT NULL,
  timeout INTEGER NOT NULL,
  reducer TEXT NOT NULL
) STRICT`

interface Row {
  id: unknown
  function_name: unknown
  unique_key: unknown
  priority: unknown
  data: unknown
  due_at: unknown
  timeout: unknown
  reducer: unknown
}

/**
 * A durable job store in one SQLite file (better-sqlite3, WAL). Rows are keyed by the job's id, so two jobs
 * with the same (or an empty) unique never overwrite each other. The file is locked for this process while
 * open: a second broker on the same file fails to start instead of running the same jobs twice.
 * Throws a StoreError (`open`, `corrupt` or `foreign`) when the file cannot serve as a job store.
 * @example
 * const broker = new Broker({ store: sqliteStore('jobs.db') })
 */
export function sqliteStore(path: string, options: SqliteStoreOptions = {}): JobStore {
  if (typeof path !== 'string' || path === '') throw new InvalidArgumentError('path', 'a non-empty file path', path)
  const synchronous: unknown = options.synchronous ?? 'full'
  if (synchronous !== 'full' && synchronous !== 'normal') throw new InvalidArgumentError('synchronous', "'full' or 'normal'", synchronous)
  const maxBytes = options.maxBytes
  if (maxBytes !== undefined && (typeof maxBytes !== 'number' || !Number.isSafeInteger(maxBytes) || maxBytes < 4096)) {
    throw new InvalidArgumentError('maxBytes', 'an integer >= 4096', maxBytes)
  }
  let db: Database.Database
  try {
    db = openDatabase(path, { timeout: LOCK_WAIT_MS })
  } catch (err) {
    throw storeError('open', `cannot open the job store ${path}`, err)
  }
  try {
    prepare(db, path, synchronous, maxBytes)
  } catch (err) {
    db.close()
    throw err instanceof StoreError ? err : storeError('open', `cannot open the job store ${path}`, err)
  }
  return new SqliteStore(db, path, synchronous === 'full')
}

function prepare(db: Database.Database, path: string, synchronous: 'full' | 'normal', maxBytes: number | undefined): void {
  // held until close: no shared-memory file, and no second process on the same jobs
  db.pragma('locking_mode = EXCLUSIVE')
  db.pragma('journal_mode = WAL')
  db.pragma(`synchronous = ${synchronous.toUpperCase()}`)
  if (maxBytes !== undefined) {
    const pageSize = db.pragma('page_size', { simple: true }) as number
    db.pragma(`max_page_count = ${Math.max(1, Math.floor(maxBytes / pageSize))}`)
  }
  db.transaction(() => {
    const id = db.pragma('application_id', { simple: true }) as number
    const tables = db.prepare("SELECT count(*) AS n FROM sqlite_schema WHERE type = 'table'").get() as { n: number }
    if (id === 0 && tables.n === 0) {
      db.exec(SCHEMA)
      db.pragma(`application_id = ${APPLICATION_ID}`)
      db.pragma(`user_version = ${SCHEMA_VERSION}`)
      return
    }
    if (id !== APPLICATION_ID) throw new StoreError('foreign', `${path} is an SQLite database but not a gearbox job store`)
    const version = db.pragma('user_version', { simple: true }) as number
    if (version !== SCHEMA_VERSION) {
      throw new StoreError('foreign', `${path} is a gearbox job store of schema version ${version}; this gearbox reads version ${SCHEMA_VERSION}`)
    }
  }).exclusive()
}

class SqliteStore implements JobStore {
  readonly #db: Database.Database
  readonly #path: string
  readonly #insert: Database.Statement
  readonly #delete: Database.Statement
  readonly #write: (added: readonly StoredJob[], removed: readonly number[]) => void
  readonly #fsyncEachCommit: boolean

  constructor(db: Database.Database, path: string, fsyncEachCommit: boolean) {
    this.#db = db
    this.#path = path
    this.#fsyncEachCommit = fsyncEachCommit
    try {
      this.#insert = db.prepare('INSERT INTO gearbox_jobs (id, function_name, unique_key, priority, data, due_at, timeout, reducer) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      this.#delete = db.prepare('DELETE FROM gearbox_jobs WHERE id = ?')
    } catch (err) {
      db.close()
      throw storeError('corrupt', `${path}: the gearbox_jobs table is damaged`, err)
    }
    this.#write = db.transaction((added: readonly StoredJob[], removed: readonly number[]) => {
      for (const j of added) this.#insert.run(j.id, j.functionName, j.unique, j.priority, asBuffer(j.data), j.dueAt, j.timeout, j.reducer)
      for (const id of removed) this.#delete.run(id)
    })
  }

  nextId(): number {
    // AUTOINCREMENT keeps the highest id ever inserted in sqlite_sequence, also once its row is deleted
    let row: { seq: unknown } | undefined
    try {
      row = this.#db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'gearbox_jobs'").get() as { seq: unknown } | undefined
    } catch (err) {
      throw storeError('corrupt', `${this.#path}: cannot read the highest job id`, err)
    }
    return typeof row?.seq === 'number' ? row.seq + 1 : 0
  }

  load(): StoredJob[] {
    let rows: Row[]
    try {
      rows = this.#db.prepare('SELECT id, function_name, unique_key, priority, data, due_at, timeout, reducer FROM gearbox_jobs ORDER BY id').all() as Row[]
    } catch (err) {
      throw storeError('corrupt', `${this.#path}: cannot read the stored jobs`, err)
    }
    return rows.map((row) => this.#job(row))
  }

  write(added: readonly StoredJob[], removed: readonly number[]): void {
    // Nobody waits on a removal: it is committed without its own fsync (it survives the process being killed,
    // and a power cut only until the next fsync'ed commit, which carries it too). A lost removal replays a
    // finished job; a lost add would lose one.
    // (exec, not a prepared statement: this pragma takes effect when compiled)
    const lazy = this.#fsyncEachCommit && added.length === 0
    try {
      if (lazy) this.#db.exec('PRAGMA synchronous = NORMAL')
      this.#write(added, removed)
    } catch (err) {
      throw storeError('write', `${this.#path}: cannot write ${added.length} job(s) and remove ${removed.length}`, err)
    } finally {
      if (lazy) this.#db.exec('PRAGMA synchronous = FULL')
    }
  }

  close(): void {
    if (this.#db.open) this.#db.close()
  }

  #job(row: Row): StoredJob {
    const { id, function_name: functionName, unique_key: unique, priority, data, due_at: dueAt, timeout, reducer } = row
    if (
      typeof id !== 'number' ||
      typeof functionName !== 'string' ||
      functionName === '' ||
      typeof unique !== 'string' ||
      (priority !== 0 && priority !== 1 && priority !== 2) ||
      !(data instanceof Uint8Array) ||
      typeof dueAt !== 'number' ||
      typeof timeout !== 'number' ||
      typeof reducer !== 'string'
    ) {
      throw new StoreError('corrupt', `${this.#path}: stored job ${String(id)} has invalid fields`)
    }
    return { id, functionName, unique, data, priority, dueAt, timeout, reducer }
  }
}

function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength)
}

/** A StoreError for a SQLite failure: an unreadable file is `corrupt` whatever step met it. */
function storeError(kind: StoreErrorKind, message: string, cause: unknown): StoreError {
  const code = (cause as { code?: unknown } | null)?.code
  const corrupt = code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT'
  const detail = cause instanceof Error ? cause.message : String(cause)
  return new StoreError(corrupt ? 'corrupt' : kind, `${message}: ${detail}`, { cause })
}
