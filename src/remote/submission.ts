/** A submission on its way (a foreground request, or a background one): what to send, where it was tried. */
export interface Submission {
  readonly functionName: string
  readonly unique: string
  readonly data: Uint8Array
  readonly packet: Buffer
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
  readonly packet: Buffer
  tries = 0
  tried: string[] | null = null
  readonly accepted: (handle: string) => void
  readonly rejected: (error: unknown) => void

  constructor(functionName: string, unique: string, data: Uint8Array, packet: Buffer, accepted: (handle: string) => void, rejected: (error: unknown) => void) {
    this.functionName = functionName
    this.unique = unique
    this.data = data
    this.packet = packet
    this.accepted = accepted
    this.rejected = rejected
  }
}
