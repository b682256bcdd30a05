// Importing LLM traces from elsewhere: JSONL, CSV (RFC 4180) and Parquet files, mapped by
// column names onto 'sequence' TraceDatasets, and "bring your own log-probs": rows that carry
// per-token log-probs of the reference and of the policy (vLLM, a PyTorch run) go straight to
// the weight inspector with no training here.
//
// Row → trace:
//   prompt tokens      = promptTokens column (token ids), else tokenizer.encode(prompt text), else none
//   completion tokens  = tokens column (token ids), else tokenizer.encode(completion text) (+ eos
//                        when addEos, the default for text without log-probs)
//   steps = prompt ++ completion; mask 0 on the prompt, 1 on the completion.
// Text comes from {prompt, completion} or, s1K style, {question, thinking, attempt}: prompt =
// question, completion = completionTemplate with {thinking} and {attempt} filled in (default
// "{thinking}\n{attempt}"; a thinking value that is a list of strings, as in s1K-1.1's
// thinking_trajectories, is joined with newlines).
// Log-prob columns (refLogprobs, policyLogprobs) must have exactly one finite value ≤ 0 per
// completion token; the returned Float32Arrays are aligned with the dataset's steps and hold 0
// on prompt steps.
//
// Errors name the file, the row (JSONL/CSV: its 1-based line; Parquet: its 1-based row) and
// the field. Everything is parsed and checked before anything is returned: a bad row means no
// dataset at all, never half of one.
import { readFile, open, stat } from 'node:fs/promises'
import { watch, type FSWatcher } from 'node:fs'
import { basename, extname } from 'node:path'
import { parquetReadObjects } from 'hyparquet'
import { DatasetError, validateDataset, type TraceDataset } from '../../common/trace.ts'
import type { Tokenizer } from '../text/tokenizer.ts'
import { loadHfTokenizer } from '../text/hf.ts'

export type TextFormat = 'jsonl' | 'csv' | 'parquet'

export interface TextColumnMapping {
  /** column with the prompt text */
  prompt?: string
  /** column with the completion text */
  completion?: string
  /** s1K style: question (= the prompt), thinking and attempt (→ the completion) */
  question?: string
  thinking?: string
  attempt?: string
  /** how thinking and attempt make the completion (default "{thinking}\n{attempt}") */
  completionTemplate?: string
  /** score column (number, boolean or numeric text); without one every trace scores defaultScore */
  score?: string
  /** trace id column (default: the row index) */
  id?: string
  /** columns copied into per-trace metadata */
  meta?: string[]
  /** completion token ids (a list, or its JSON text in CSV) */
  tokens?: string
  /** prompt token ids (masked out) */
  promptTokens?: string
  /** per-completion-token log π_ref and log π_policy */
  refLogprobs?: string
  policyLogprobs?: string
}

export interface ImportTextOptions {
  /** column mapping; default: detectMapping(the first row's columns) */
  mapping?: TextColumnMapping
  /** needed for text columns; for token columns it only sets the vocabulary size */
  tokenizer?: Tokenizer
  /** or: a Hugging Face tokenizer.json to load (importTextFile only) */
  tokenizerFile?: string
  /** default: from the file extension (.jsonl/.ndjson, .csv, .parquet) */
  format?: TextFormat
  /** dataset name (default: the file's base name) */
  name?: string
  /** append the tokenizer's eos to text completions (default: true unless log-probs are mapped) */
  addEos?: boolean
  /** score of every trace when no score column is mapped (default 1) */
  defaultScore?: number
  /** vocabulary size for token columns without a tokenizer (default: largest id + 1) */
  vocabSize?: number
}

export interface ImportedText {
  dataset: TraceDataset
  /** log π_ref per step (0 on prompt steps), when the rows carried it */
  refLogProbs?: Float32Array
  /** log π_policy per step (0 on prompt steps), when the rows carried it */
  policyLogProbs?: Float32Array
  format: TextFormat
  mapping: TextColumnMapping
  /** data rows read (blank JSONL lines not counted) */
  rows: number
}

/** Rows from a parser, with where each came from (for error messages). */
export interface RowSource {
  /** the file name used in messages */
  file: string
  rows: Record<string, unknown>[]
  /** 'line' (JSONL, CSV) or 'row' (Parquet) */
  unit: 'line' | 'row'
  /** 1-based line or row number of each row */
  numbers: ArrayLike<number>
}

export class ImportError extends DatasetError {
  constructor(message: string) {
    super(message)
    this.name = 'ImportError'
  }
}

// ---------------------------------------------------------------------------------------------
// Parsers

/** JSONL: one JSON object a line; blank lines are skipped. */
export function parseJsonl(text: string, file: string): RowSource {
  const rows: Record<string, unknown>[] = []
  const numbers: number[] = []
  let start = 0
  let line = 0
  if (text.charCodeAt(0) === 0xfeff) start = 1
  while (start <= text.length) {
    let end = text.indexOf('\n', start)
    if (end < 0) end = text.length
    line++
    let s = text.slice(start, end)
    if (s.endsWith('\r')) s = s.slice(0, -1)
    start = end + 1
    if (s.trim() === '') continue
    let v: unknown
    try {
      v = JSON.parse(s)
    } catch (e) {
      throw new ImportError(`file "${file}", line ${line}: not valid JSON (${(e as Error).message})`)
    }
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new ImportError(`file "${file}", line ${line}: expected a JSON object with one field a column`)
    rows.push(v as Record<string, unknown>)
    numbers.push(line)
  }
  return { file, rows, unit: 'line', numbers }
}

/** CSV per RFC 4180: a header row; fields separated by commas; double-quoted fields may hold
 *  commas, line breaks and "" for a quote; CRLF or LF line ends. Cells stay text. */
export function parseCsv(text: string, file: string): RowSource {
  const QUOTE = 34
  const COMMA = 44
  const LF = 10
  const CR = 13
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0
  const n = text.length
  let line = 1
  const records: string[][] = []
  const recLines: number[] = []
  while (i < n) {
    const recLine = line
    const cells: string[] = []
    // one record
    for (;;) {
      let cell: string
      if (text.charCodeAt(i) === QUOTE) {
        const fieldLine = line
        let j = i + 1
        cell = ''
        for (;;) {
          const q = text.indexOf('"', j)
          if (q < 0) throw new ImportError(`file "${file}", line ${fieldLine}: a quoted field is never closed`)
          for (let k = j; k < q; k++) if (text.charCodeAt(k) === LF) line++
          cell += text.slice(j, q)
          if (text.charCodeAt(q + 1) === QUOTE) {
            cell += '"'
            j = q + 2
            continue
          }
          i = q + 1
          break
        }
        const c = text.charCodeAt(i)
        if (i < n && c !== COMMA && c !== LF && c !== CR) {
          throw new ImportError(`file "${file}", line ${line}: unexpected "${text[i]}" after a closing quote (field ${cells.length + 1})`)
        }
      } else {
        let j = i
        while (j < n) {
          const c = text.charCodeAt(j)
          if (c === COMMA || c === LF || c === CR) break
          j++
        }
        cell = text.slice(i, j)
        i = j
      }
      cells.push(cell)
      if (i >= n) break
      const c = text.charCodeAt(i)
      if (c === COMMA) {
        i++
        continue
      }
      // end of record: CRLF, LF or a lone CR
      if (c === CR) i++
      if (text.charCodeAt(i) === LF) i++
      line++
      break
    }
    if (cells.length === 1 && cells[0] === '') continue // blank line
    records.push(cells)
    recLines.push(recLine)
  }
  if (records.length === 0) throw new ImportError(`file "${file}": is empty (no header row)`)
  const header = records[0]
  const seen = new Set<string>()
  for (const h of header) {
    if (seen.has(h)) throw new ImportError(`file "${file}", line ${recLines[0]}: the header names column "${h}" twice`)
    seen.add(h)
  }
  const rows: Record<string, unknown>[] = []
  const numbers: number[] = []
  for (let r = 1; r < records.length; r++) {
    const cells = records[r]
    if (cells.length > header.length) {
      throw new ImportError(`file "${file}", line ${recLines[r]}: ${cells.length} fields, the header has ${header.length}`)
    }
    const o: Record<string, unknown> = {}
    // a short row simply lacks its last columns; a mapped missing column is reported by name
    for (let c = 0; c < cells.length; c++) o[header[c]] = cells[c]
    rows.push(o)
    numbers.push(recLines[r])
  }
  return { file, rows, unit: 'line', numbers }
}

/** Parquet through hyparquet; lists arrive as arrays, INT64 as bigint. */
export async function parseParquet(data: ArrayBuffer, file: string): Promise<RowSource> {
  let rows: Record<string, unknown>[]
  try {
    rows = (await parquetReadObjects({ file: data })) as Record<string, unknown>[]
  } catch (e) {
    throw new ImportError(`file "${file}": not a readable Parquet file (${(e as Error).message})`)
  }
  const numbers = new Int32Array(rows.length)
  for (let i = 0; i < rows.length; i++) numbers[i] = i + 1
  return { file, rows, unit: 'row', numbers }
}

export function formatOf(file: string): TextFormat {
  const ext = extname(file).toLowerCase()
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl'
  if (ext === '.csv') return 'csv'
  if (ext === '.parquet' || ext === '.pq') return 'parquet'
  throw new ImportError(`file "${file}": unknown format "${ext}" (expected .jsonl, .csv or .parquet, or name the format)`)
}

export async function readRows(file: string, format: TextFormat = formatOf(file)): Promise<RowSource> {
  let buf: Buffer
  try {
    buf = await readFile(file)
  } catch (e) {
    throw new ImportError(`file "${file}": cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`)
  }
  if (format === 'parquet') return parseParquet(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer, file)
  const text = buf.toString('utf8')
  return format === 'csv' ? parseCsv(text, file) : parseJsonl(text, file)
}

// ---------------------------------------------------------------------------------------------
// Mapping

/** A mapping guessed from column names: log-prob columns (ref_logprobs / policy_logprobs with
 *  tokens), s1K (question / thinking or thinking_trajectories / attempt), or prompt / completion
 *  (also response, output, answer). Score from score, reward, correct or label. */
export function detectMapping(columns: string[]): TextColumnMapping {
  const has = new Set(columns)
  const pick = (...names: string[]): string | undefined => names.find((x) => has.has(x))
  const m: TextColumnMapping = {}
  const ref = pick('ref_logprobs', 'reference_logprobs', 'ref_logps')
  const pol = pick('policy_logprobs', 'logprobs', 'policy_logps')
  if (ref || pol) {
    m.refLogprobs = ref
    m.policyLogprobs = pol
  }
  m.tokens = pick('tokens', 'token_ids', 'completion_token_ids', 'completion_ids')
  m.promptTokens = pick('prompt_tokens', 'prompt_token_ids', 'prompt_ids')
  const q = pick('question', 'problem')
  const th = pick('thinking', 'thinking_trajectories', 'reasoning')
  const at = pick('attempt', 'solution')
  if (q && th && at) {
    m.question = q
    m.thinking = th
    m.attempt = at
  } else {
    m.prompt = pick('prompt', 'question', 'input', 'instruction')
    if (!m.tokens) m.completion = pick('completion', 'response', 'output', 'answer')
  }
  m.score = pick('score', 'reward', 'correct', 'label', 'grade')
  m.id = pick('id', 'uid', 'trace_id')
  for (const k of Object.keys(m) as (keyof TextColumnMapping)[]) if (m[k] === undefined) delete m[k]
  return m
}

// ---------------------------------------------------------------------------------------------
// Rows → dataset

class IntBuilder {
  data = new Int32Array(1 << 16)
  length = 0
  /** largest value pushed */
  max = -1
  pushAll(vs: ArrayLike<number>): void {
    if (this.length + vs.length > this.data.length) this.reserve(this.length + vs.length)
    const d = this.data
    let o = this.length
    let max = this.max
    for (let k = 0; k < vs.length; k++) {
      const v = vs[k]
      d[o++] = v
      if (v > max) max = v
    }
    this.max = max
    this.length = o
  }
  /** make room for n values in all (grows by half again or to n, whichever is more) */
  reserve(n: number): void {
    if (n <= this.data.length) return
    const d = new Int32Array(Math.max(n, Math.ceil(this.data.length * 1.5)))
    d.set(this.data.subarray(0, this.length))
    this.data = d
  }
  /** the values as an array of their own (never a view: callers may transfer .buffer) */
  take(): Int32Array {
    return this.length === this.data.length ? this.data : this.data.slice(0, this.length)
  }
}

const plain = (v: unknown): unknown => (typeof v === 'bigint' ? Number(v) : v)

/** Turn parsed rows into a 'sequence' dataset (and aligned log-probs, when mapped). */
export function importTextRows(src: RowSource, opts: ImportTextOptions = {}): ImportedText {
  const { file, rows, unit, numbers } = src
  if (rows.length === 0) throw new ImportError(`file "${file}": has no data rows`)
  const mapping = opts.mapping ?? detectMapping(Object.keys(rows[0]))
  const m = mapping
  const textMode = !m.tokens
  const hasRef = m.refLogprobs !== undefined
  const hasPol = m.policyLogprobs !== undefined
  const tok = opts.tokenizer
  const at = (i: number, field?: string): string => `file "${file}", ${unit} ${numbers[i]}${field !== undefined ? `, field "${field}"` : ''}`
  if (textMode && !(m.completion || (m.thinking && m.attempt))) {
    throw new ImportError(
      `file "${file}": the column mapping names no completion (map completion, tokens, or question/thinking/attempt); columns seen: ${Object.keys(rows[0]).join(', ')}`
    )
  }
  if ((textMode || (m.prompt && !m.promptTokens) || m.question) && !tok) {
    throw new ImportError(`file "${file}": text columns need a tokenizer`)
  }
  const addEos = opts.addEos ?? (textMode && !hasRef && !hasPol)
  const template = m.completionTemplate ?? '{thinking}\n{attempt}'
  const defaultScore = opts.defaultScore ?? 1
  const promptCol = m.prompt ?? m.question

  const getText = (row: Record<string, unknown>, i: number, col: string, allowList = false): string => {
    const v = row[col]
    if (v === undefined || v === null) throw new ImportError(`${at(i, col)}: missing`)
    if (typeof v === 'string') return v
    if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v)
    if (allowList && Array.isArray(v) && v.every((x) => typeof x === 'string')) return v.join('\n')
    throw new ImportError(`${at(i, col)}: expected text, found ${Array.isArray(v) ? 'a list' : typeof v}`)
  }
  const getList = (row: Record<string, unknown>, i: number, col: string): ArrayLike<unknown> => {
    let v = row[col]
    if (v === undefined || v === null) throw new ImportError(`${at(i, col)}: missing`)
    if (typeof v === 'string') {
      try {
        v = JSON.parse(v)
      } catch {
        throw new ImportError(`${at(i, col)}: expected a list of numbers, found text that is not a JSON list`)
      }
    }
    if (!Array.isArray(v) && !ArrayBuffer.isView(v)) throw new ImportError(`${at(i, col)}: expected a list of numbers, found ${typeof v}`)
    return v as ArrayLike<unknown>
  }
  const getTokens = (row: Record<string, unknown>, i: number, col: string): number[] => {
    const l = getList(row, i, col)
    const out = new Array<number>(l.length)
    for (let k = 0; k < l.length; k++) {
      const x = plain(l[k])
      if (typeof x !== 'number' || !Number.isInteger(x) || x < 0) throw new ImportError(`${at(i, col)}: entry ${k} is ${String(x)}, not a token id (an integer ≥ 0)`)
      out[k] = x
    }
    return out
  }
  const getLogprobs = (row: Record<string, unknown>, i: number, col: string, expected: number): ArrayLike<unknown> => {
    const l = getList(row, i, col)
    if (l.length !== expected) {
      throw new ImportError(`${at(i, col)}: has ${l.length} log-probs, the completion has ${expected} tokens; they must match one to one`)
    }
    for (let k = 0; k < l.length; k++) {
      const x = plain(l[k])
      if (typeof x !== 'number' || !Number.isFinite(x) || x > 1e-3) {
        throw new ImportError(`${at(i, col)}: entry ${k} is ${String(x)}; a log-prob must be a finite number ≤ 0`)
      }
    }
    return l
  }
  const getScore = (row: Record<string, unknown>, i: number, col: string): number => {
    const v = plain(row[col])
    if (v === undefined || v === null || v === '') throw new ImportError(`${at(i, col)}: missing`)
    if (typeof v === 'boolean') return v ? 1 : 0
    if (typeof v === 'number' && Number.isFinite(v)) return v
    if (typeof v === 'string') {
      const s = v.trim().toLowerCase()
      if (s === 'true') return 1
      if (s === 'false') return 0
      const x = Number(s)
      if (Number.isFinite(x)) return x
    }
    throw new ImportError(`${at(i, col)}: ${JSON.stringify(v)} is not a number`)
  }

  const N = rows.length
  const offsets = new Int32Array(N + 1)
  const actions = new IntBuilder()
  const promptLens = new Int32Array(N)
  const scores = new Float64Array(N)
  const ids: string[] = new Array(N)
  const metas: Record<string, unknown>[] | undefined = m.meta && m.meta.length > 0 ? new Array(N) : undefined
  const refParts: ArrayLike<unknown>[] = []
  const polParts: ArrayLike<unknown>[] = []
  for (let i = 0; i < N; i++) {
    const row = rows[i]
    let p: ArrayLike<number> = []
    if (m.promptTokens) p = getTokens(row, i, m.promptTokens)
    else if (promptCol) p = tok!.encode(getText(row, i, promptCol))
    let c: number[]
    if (m.tokens) c = getTokens(row, i, m.tokens)
    else {
      let text: string
      if (m.completion) text = getText(row, i, m.completion)
      else {
        const th = getText(row, i, m.thinking!, true)
        const an = getText(row, i, m.attempt!)
        text = template.replace(/\{(thinking|attempt)\}/g, (_s, k: string) => (k === 'thinking' ? th : an))
      }
      c = tok!.encode(text)
      if (addEos) c.push(tok!.eos)
    }
    if (c.length === 0) throw new ImportError(`${at(i, m.tokens ?? m.completion ?? m.attempt)}: the completion has no tokens; nothing of it would count`)
    if (hasRef) refParts.push(getLogprobs(row, i, m.refLogprobs!, c.length))
    if (hasPol) polParts.push(getLogprobs(row, i, m.policyLogprobs!, c.length))
    actions.pushAll(p)
    actions.pushAll(c)
    // after a few rows, size the buffer for the whole file (+10%) to avoid repeated copies
    if (i === 63 && N > 128) actions.reserve(Math.ceil((actions.length / 64) * N * 1.1))
    promptLens[i] = p.length
    offsets[i + 1] = offsets[i] + p.length + c.length
    scores[i] = m.score ? getScore(row, i, m.score) : defaultScore
    ids[i] = m.id ? getText(row, i, m.id) : String(i)
    if (metas) {
      const o: Record<string, unknown> = {}
      for (const col of m.meta!) {
        if (!(col in row)) throw new ImportError(`${at(i, col)}: missing`)
        o[col] = plain(row[col])
      }
      metas[i] = o
    }
  }
  const maxId = actions.max
  const vocab = tok?.vocabSize ?? opts.vocabSize ?? maxId + 1
  if (maxId >= vocab) {
    // find the first offending row to name it
    for (let i = 0; i < N; i++) {
      for (let s = offsets[i]; s < offsets[i + 1]; s++) {
        if (actions.data[s] >= vocab) {
          const field = s - offsets[i] < promptLens[i] ? m.promptTokens : m.tokens
          throw new ImportError(`${at(i, field)}: token id ${actions.data[s]} is outside the vocabulary of ${vocab}`)
        }
      }
    }
  }
  const T = offsets[N]
  const mask = new Uint8Array(T)
  for (let i = 0; i < N; i++) mask.fill(1, offsets[i] + promptLens[i], offsets[i + 1])
  const align = (parts: ArrayLike<unknown>[]): Float32Array => {
    const out = new Float32Array(T)
    for (let i = 0; i < N; i++) {
      const base = offsets[i] + promptLens[i]
      const l = parts[i]
      for (let k = 0; k < l.length; k++) out[base + k] = Number(l[k])
    }
    return out
  }
  const dataset: TraceDataset = {
    name: opts.name ?? basename(file),
    kind: 'sequence',
    obsDim: 0,
    actDim: vocab,
    offsets,
    obs: new Float32Array(0),
    actions: actions.take(),
    mask,
    scores,
    ids,
    meta: metas
  }
  validateDataset(dataset)
  return {
    dataset,
    refLogProbs: hasRef ? align(refParts) : undefined,
    policyLogProbs: hasPol ? align(polParts) : undefined,
    format: opts.format ?? (unit === 'row' ? 'parquet' : 'jsonl'),
    mapping,
    rows: N
  }
}

/** Read, map and tokenize a JSONL, CSV or Parquet file into a 'sequence' dataset. */
export async function importTextFile(file: string, opts: ImportTextOptions = {}): Promise<ImportedText> {
  const format = opts.format ?? formatOf(file)
  const tokenizer = opts.tokenizer ?? (opts.tokenizerFile ? await loadHfTokenizer(opts.tokenizerFile) : undefined)
  const src = await readRows(file, format)
  return { ...importTextRows(src, { ...opts, tokenizer }), format }
}

// ---------------------------------------------------------------------------------------------
// Following a JSONL log that another process appends to

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
  onError?: (err: ImportError) => void
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
  const onError = opts.onError ?? ((e: ImportError) => console.warn(e.message))

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
        onError(new ImportError(`file "${file}", line ${line}: not valid JSON (${(e as Error).message}); skipped`))
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

/** Followed rows → dataset pieces with the same mapping and checks as importTextRows. */
export function importFollowedRows(file: string, rows: FollowedRow[], opts: ImportTextOptions = {}): ImportedText {
  return importTextRows(
    {
      file,
      rows: rows.map((r) => r.value),
      unit: 'line',
      numbers: rows.map((r) => r.line)
    },
    { format: 'jsonl', ...opts }
  )
}
