import type { Arg } from '../protocol/encoder.js'
import type { PacketType } from '../protocol/packets.js'

/** A submission on its way (a foreground request, or a background one): what to send, where it was tried. */
export interface Submission {
  readonly functionName: string
  readonly unique: string
  readonly data: Uint8Array
  /** The SUBMIT_JOB* packet's type and checked arguments: each try (a retry, a resubmission) encodes them again. */
  readonly packetType: PacketType
  readonly packetArgs: readonly Arg[]
  tries: number
  /** Servers whose connection failed before they took the job (made with the first one). */
  tried: string[] | null
  accepted(handle: string): void
  rejected(error: unknown): void
}

/** A background submission: its promise settles with the handle (JOB_CREATED) or an error. */
export class BackgroundSubmission implements Submission {
  readonly functionName: string
  readonly unique: string
  readonly data: Uint8Array
  readonly packetType: PacketType
  readonly packetArgs: readonly Arg[]
  tries = 0
  tried: string[] | null = null
  readonly accepted: (handle: string) => void
  readonly rejected: (error: unknown) => void

  constructor(
    functionName: string,
    unique: string,
    data: Uint8Array,
    packetType: PacketType,
    packetArgs: readonly Arg[],
    accepted: (handle: string) => void,
    rejected: (error: unknown) => void,
  ) {
    this.functionName = functionName
    this.unique = unique
    this.data = data
    this.packetType = packetType
    this.packetArgs = packetArgs
    this.accepted = accepted
    this.rejected = rejected
  }
}
