import type { Encoder, JobContext } from '../api.js'
import { checkStatus } from '../guards.js'
import { JobContextBase } from '../job-context-base.js'
import { encodePacket } from '../protocol/encoder.js'
import type { Frame } from '../protocol/frame.js'
import { PACKET } from '../protocol/packets.js'
import type { RemoteConnection } from './connection.js'

/**
 * The `job` a remote worker's handler receives: the JOB_ASSIGN_UNIQ it came from, and WORK_DATA /
 * WORK_WARNING / WORK_STATUS sent back on the connection that assigned it. Updates are refused (false) once
 * the attempt was taken away (timeout, connection lost, worker closed).
 */
export class RemoteJobContext<TPayload, TUpdate> extends JobContextBase<TPayload> implements JobContext<TPayload, TUpdate> {
  readonly name: string
  /** Gearman does not tell a worker how often a job was tried before: always 1. */
  readonly attempt = 1
  readonly connection: RemoteConnection
  /** The handle as the server sent it (results are sent back with these bytes). */
  readonly handleBytes: Buffer
  readonly #bytes: Buffer
  /** The packet's bytes, where the unique lies from #uniqueStart to #uniqueEnd (decoded on first read). */
  readonly #packet: Buffer
  readonly #uniqueStart: number
  readonly #uniqueEnd: number
  #handle: string | undefined = undefined
  #unique: string | undefined = undefined

  /** `frame` is a JOB_ASSIGN_UNIQ; views of its bytes are kept (Node never reuses a socket chunk's memory). */
  constructor(connection: RemoteConnection, frame: Frame, name: string, encoder: Encoder<unknown, unknown>) {
    super(encoder)
    this.connection = connection
    this.handleBytes = frame.arg(0)
    this.name = name
    this.#packet = frame.buf
    this.#uniqueStart = frame.start(2)
    this.#uniqueEnd = frame.end(2)
    this.#bytes = frame.arg(3)
  }

  get handle(): string {
    return (this.#handle ??= this.handleBytes.toString('latin1'))
  }

  get unique(): string {
    return (this.#unique ??= this.#packet.toString('utf8', this.#uniqueStart, this.#uniqueEnd))
  }

  protected get bytes(): Uint8Array {
    return this.#bytes
  }

  /** The encoder's bytes for a result or update. */
  encodeValue(value: unknown): Uint8Array {
    return this.encode(value)
  }

  sendData(data: TUpdate): boolean {
    return this.#send(encodePacket('REQ', PACKET.WORK_DATA, [this.handleBytes, this.encode(data)]))
  }

  sendWarning(data: TUpdate): boolean {
    return this.#send(encodePacket('REQ', PACKET.WORK_WARNING, [this.handleBytes, this.encode(data)]))
  }

  sendStatus(numerator: number, denominator: number): boolean {
    checkStatus(numerator, denominator)
    return this.#send(encodePacket('REQ', PACKET.WORK_STATUS, [this.handleBytes, String(numerator), String(denominator)]))
  }

  #send(packet: Buffer): boolean {
    return !this.aborted && this.connection.write(packet)
  }
}
