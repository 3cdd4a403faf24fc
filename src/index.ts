/**
 * gearbox: an embeddable job broker with Gearman's semantics.
 * The one public entry: named re-exports only.
 */
export { Broker } from './broker.js'
export type { BrokerEvents, BrokerOptions, ClientOptions, JobEvent, WorkerOptions } from './broker.js'
export type {
  AdminApi,
  BackgroundOptions,
  ClientApi,
  CloseOptions,
  Encoder,
  FunctionStatus,
  Handler,
  JobContext,
  JobInfo,
  JobRequest,
  JobResult,
  JobSpec,
  JobStatus,
  JobUpdate,
  MaxQueueLimits,
  Priority,
  RegisterOptions,
  RequestState,
  SubmitOptions,
  UniqueStatus,
  WaitOptions,
  WorkerApi,
  WorkerInfo,
} from './api.js'
export type { Clock, TimerHandle } from './core/clock.js'
export { systemClock } from './core/clock.js'
export { FakeClock } from './core/fake-clock.js'
export { MAX_FUNCTION_NAME_BYTES, MAX_UNIQUE_BYTES } from './core/limits.js'
export type { ResultCacheOptions } from './core/result-cache.js'
export type { JobStore, StoredJob } from './core/store.js'
export { memoryStore } from './store/memory-store.js'
export { sqliteStore } from './store/sqlite-store.js'
export type { SqliteStoreOptions } from './store/sqlite-store.js'
export {
  BadAddressError,
  BrokerClosedError,
  ConnectionLostError,
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
  QueueFullError,
  StoreError,
  ServerError,
  ServerUnavailableError,
  WaitTimeoutError,
  WorkerLostError,
} from './errors.js'
export type { ErrorCode, StoreErrorKind } from './errors.js'
export { jsonEncoder, rawEncoder, utf8Encoder } from './encoders.js'
export type { EncoderName } from './encoders.js'
export type { LocalAdmin } from './local/admin.js'
export type { LocalClient } from './local/client.js'
export type { LocalWorker } from './local/worker.js'
export { GearmanServer } from './net/server.js'
export type { GearmanServerOptions } from './net/server.js'
export { connect, RemoteGearbox } from './remote/connect.js'
export type { ConnectOptions, RemoteClientOptions, RemoteWorkerOptions } from './remote/connect.js'
export type { ServerAddress } from './remote/address.js'
export type { RemoteAdmin } from './remote/admin.js'
export type { RemoteClient } from './remote/client.js'
export type { RemoteWorker } from './remote/worker.js'
export { ThreadPool } from './pool/thread-pool.js'
export type { ThreadHandlerOptions, ThreadPoolOptions } from './pool/thread-pool.js'
export { VERSION } from './version.js'
export { ProtocolError } from './errors.js'
export type { ProtocolErrorKind } from './errors.js'
