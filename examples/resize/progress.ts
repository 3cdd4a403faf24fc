/**
 * Progress of a batch, on a terminal or not. On a TTY: one line, redrawn in place with \r, showing a bar
 * and the images in flight with their step. Elsewhere (a pipe, a CI log): one plain line per finished
 * item, and nothing in between.
 */
const BAR_WIDTH = 24

export class Progress {
  readonly #out: NodeJS.WriteStream
  readonly #tty: boolean
  readonly #total: number
  readonly #label: string
  /** Items in flight: name → [step, steps]. */
  readonly #running = new Map<string, readonly [number, number]>()
  #done = 0
  #drawn = false

  constructor(label: string, total: number, out: NodeJS.WriteStream = process.stdout) {
    this.#out = out
    this.#tty = out.isTTY
    this.#label = label
    this.#total = total
  }

  /** `name` reported step `step` of `steps`. */
  step(name: string, step: number, steps: number): void {
    this.#running.set(name, [step, steps])
    this.#redraw()
  }

  /** `name` is finished; `line` describes it (printed as is when not on a TTY). */
  done(name: string, line: string): void {
    this.#running.delete(name)
    this.#done++
    if (this.#tty) this.#redraw()
    else this.#out.write(`  ${line}\n`)
  }

  /** Runs `write` (which prints whole lines, e.g. with console.table) above the bar, then redraws the bar. */
  above(write: () => void): void {
    this.#clear()
    write()
    this.#redraw()
  }

  /** Leaves the bar's last state on screen. */
  finish(): void {
    if (this.#drawn) this.#out.write('\n')
    this.#drawn = false
  }

  #clear(): void {
    if (this.#drawn) this.#out.write('\r\x1b[K')
    this.#drawn = false
  }

  #redraw(): void {
    if (!this.#tty) return
    // fraction done, counting the steps of the items in flight
    let partial = 0
    for (const [step, steps] of this.#running.values()) partial += step / steps
    const fraction = Math.min(1, (this.#done + partial) / this.#total)
    const filled = Math.round(fraction * BAR_WIDTH)
    const bar = '█'.repeat(filled) + '░'.repeat(BAR_WIDTH - filled)
    const inFlight = [...this.#running].map(([name, [step, steps]]) => `${name} ${step}/${steps}`).join(' · ')
    let line = `  ${this.#label} [${bar}] ${String(Math.round(fraction * 100)).padStart(3)}%  ${this.#done}/${this.#total} done`
    if (inFlight !== '') line += `  running: ${inFlight}`
    const columns = this.#out.columns
    if (columns > 0 && line.length >= columns) line = line.slice(0, columns - 2) + '…'
    this.#out.write(`\r${line}\x1b[K`)
    this.#drawn = true
  }
}
