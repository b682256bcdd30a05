// A progress bar on stderr when it is a terminal: phase, steps, rate and time left. On a
// non-terminal (CI, pipes) it prints a plain line every 10%.
export class ProgressBar {
  private lastDraw = 0
  private lastDecile = -1
  private readonly start = Date.now()
  private readonly tty = Boolean(process.stderr.isTTY)

  constructor(private readonly label: string) {}

  update(phase: string, done: number, total: number): void {
    const now = Date.now()
    const elapsed = (now - this.start) / 1000
    const rate = elapsed > 0 ? done / elapsed : 0
    const eta = rate > 0 ? (total - done) / rate : 0
    if (this.tty) {
      if (now - this.lastDraw < 100 && done < total) return
      this.lastDraw = now
      const width = 28
      const filled = Math.round((done / Math.max(total, 1)) * width)
      const bar = '█'.repeat(filled) + '░'.repeat(width - filled)
      process.stderr.write(`\r${this.label} ${phase.padEnd(9)} ${bar} ${done}/${total} ${rate.toFixed(0)}/s ${fmt(eta)} left  `)
    } else {
      const decile = Math.floor((done / Math.max(total, 1)) * 10)
      if (decile === this.lastDecile) return
      this.lastDecile = decile
      process.stderr.write(`${this.label} ${phase} ${done}/${total} (${decile * 10}%)\n`)
    }
  }

  done(): void {
    if (this.tty) process.stderr.write('\n')
  }
}

function fmt(s: number): string {
  if (!Number.isFinite(s)) return '?'
  if (s < 60) return `${s.toFixed(0)}s`
  return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`
}
