// Following a JSONL file that another process appends to (a vLLM or PyTorch run logging
// per-token log-probs): every complete new line is parsed and handed over in order. What the
// rows mean is up to the caller (services/byo-service.ts maps them with
// engine/data/import-text.ts importFollowedRows).
import { open, stat } from 'node:fs/promises'
import { watch, type FSWatcher } from 'node:fs'

export interface FollowedRow {
  /** 1-based line in the file */
  line: number
  value: Record<string, unknown>
}

export interface FollowOptions {
  /** poll interval (default 250 ms); fs.watch also triggers reads when it can */
  intervalMs?: number
  /** read what is already in the file first (default true); false starts at its current end */
  fromStart?: boolean
  /** a complete line that is not a JSON object (default: print a warning); the line is skipped */
  onError?: (err: Error) => void
}

export interface Follower {
  /** read whatever is new now (also runs on every tick) */
  poll(): Promise<void>
  stop(): void
  /** complete lines read so far */
  readonly lines: number
}

/** Tail a JSONL file: every complete new line is parsed and handed to onRows in order; a
 *  partial last line waits until its newline arrives. A file that shrinks (rotated or
 *  rewritten) is read again from its start. A missing file is waited for. */
export function followJsonl(file: string, onRows: (rows: FollowedRow[]) => void, opts: FollowOptions = {}): Follower {
  let offset = -1 // -1: not opened yet
  let leftover: Buffer = Buffer.alloc(0)
  let line = 0
  let busy: Promise<void> | null = null
  let again = false
  let stopped = false
  let watcher: FSWatcher | null = null
  const onError = opts.onError ?? ((e: Error) => console.warn(e.message))

  const readNew = async (): Promise<void> => {
    let size: number
    try {
      size = (await stat(file)).size
    } catch {
      return // not there (yet)
    }
    if (offset < 0) {
      offset = opts.fromStart === false ? size : 0
      tryWatch()
    }
    if (size < offset) {
      offset = 0
      leftover = Buffer.alloc(0)
      line = 0
    }
    if (size === offset) return
    const fh = await open(file, 'r')
    let chunk: Buffer
    try {
      chunk = Buffer.alloc(size - offset)
      let got = 0
      while (got < chunk.length) {
        const { bytesRead } = await fh.read(chunk, got, chunk.length - got, offset + got)
        if (bytesRead === 0) break
        got += bytesRead
      }
      chunk = chunk.subarray(0, got)
      offset += got
    } finally {
      await fh.close()
    }
    const buf = leftover.length ? Buffer.concat([leftover, chunk]) : chunk
    const lastNl = buf.lastIndexOf(10)
    if (lastNl < 0) {
      leftover = Buffer.from(buf)
      return
    }
    leftover = Buffer.from(buf.subarray(lastNl + 1))
    const text = buf.subarray(0, lastNl).toString('utf8')
    const out: FollowedRow[] = []
    for (let s of text.split('\n')) {
      line++
      if (s.endsWith('\r')) s = s.slice(0, -1)
      if (s.trim() === '') continue
      try {
        const v = JSON.parse(s)
        if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('expected a JSON object')
        out.push({ line, value: v })
      } catch (e) {
        // never quote the line (the parser's message does): a followed file's content stays out of errors
        const at = /at position (\d+)/.exec((e as Error).message)?.[1]
        const why = e instanceof SyntaxError ? `not valid JSON${at ? ` (at character ${Number(at) + 1})` : ''}` : (e as Error).message
        onError(new Error(`file "${file}", line ${line}: ${why}; skipped`))
      }
    }
    if (out.length > 0 && !stopped) onRows(out)
  }

  const poll = async (): Promise<void> => {
    if (busy) {
      again = true
      return busy
    }
    busy = (async () => {
      do {
        again = false
        await readNew()
      } while (again && !stopped)
    })().finally(() => {
      busy = null
    })
    return busy
  }

  const tryWatch = (): void => {
    if (watcher || stopped) return
    try {
      watcher = watch(file, () => void poll())
      watcher.on('error', () => {
        watcher?.close()
        watcher = null
      })
    } catch {
      watcher = null // polling alone still works
    }
  }

  const timer = setInterval(() => void poll(), opts.intervalMs ?? 250)
  void poll()
  return {
    poll,
    stop() {
      stopped = true
      clearInterval(timer)
      watcher?.close()
      watcher = null
    },
    get lines() {
      return line
    }
  }
}
