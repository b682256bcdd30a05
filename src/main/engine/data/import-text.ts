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
// thinking_trajectories, is joined with newlines); or from a chat: a `messages` column holding a
// list of {role, content} (also ShareGPT's {from, value}): the completion is the last assistant
// message, the prompt the messages before it. A prompt or completion column may itself hold such
// a list (TRL's conversational prompt-completion format). A prompt of one message is its text;
// of several, one "role: text" line each (no chat template: a model's chat template is applied
// to that text when the data is imported with the model's tokenizer).
// detectMapping() recognises the common layouts by their column names (layoutOf names them):
// s1K (question, thinking_trajectories, attempt), s1K-1.1 (question, deepseek_thinking_trajectory,
// deepseek_attempt, graded by deepseek_grade), prompt/completion, TRL's conversational formats,
// messages/chat, and log-prob files.
// Log-prob columns (refLogprobs, policyLogprobs) must have exactly one finite value ≤ 0 per
// completion token; the returned Float32Arrays are aligned with the dataset's steps and hold 0
// on prompt steps.
// Token columns hold ids (integers ≥ 0) or, as vLLM and most trainers log them, the tokens'
// strings. A file gives one or the other (the first row decides). Strings need no tokenizer:
// each distinct string gets an id in order of first appearance (`tokenStrings` lists them by id,
// so the weight inspector shows them), and a prompt given as text becomes ONE masked step
// holding the whole prompt (it never counts in the weight or the loss).
//
// Errors name the file, the row (JSONL/CSV: its 1-based line; Parquet: its 1-based row) and
// the field. Everything is parsed and checked before anything is returned: a bad row means no
// dataset at all, never half of one, unless the caller asks to skip bad rows (skipBadRows): then
// the good rows are imported and every skipped one comes back with its reason (a file with no
// good row is still an error). JSONL and CSV are decoded strictly as UTF-8, and their lines and
// traces are held to limits (maxLineBytes, maxTraceSteps; defaults IMPORT_LIMIT_DEFAULTS) that a
// caller may raise. A column mapping may name only known keys and columns the file has.
import { readFile } from 'node:fs/promises'
import { basename, extname } from 'node:path'
import { CsvError } from 'csv-parse'
import { parse as parseCsvText } from 'csv-parse/sync'
import { parquetReadObjects } from 'hyparquet'
import { DatasetError, validateDataset, type TraceDataset } from '../../common/trace.ts'
import { IMPORT_LIMIT_DEFAULTS, type SkippedRow } from '../../../shared/import-options.ts'
import type { Tokenizer } from '../text/tokenizer.ts'
import { loadHfTokenizer } from '../text/load-hf.ts'
import { count, decodeTextFile, textBefore, type LineProblem } from './text-bytes.ts'

export type { SkippedRow } from '../../../shared/import-options.ts'

export type TextFormat = 'jsonl' | 'csv' | 'parquet'

export interface TextColumnMapping {
  /** column with the prompt text */
  prompt?: string
  /** column with the completion text */
  completion?: string
  /** a chat: a list of {role, content}; the last assistant message is the completion */
  messages?: string
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
  /** a real model's format for text rows: prompt and completion text → their token ids as the
   *  model reads them (through its chat template, or with its BOS and EOS); replaces encoding
   *  each side alone and addEos */
  encodePair?: (prompt: string, completion: string) => { prompt: number[]; completion: number[] }
  /** import the good rows and report the bad ones instead of refusing the file (default false) */
  skipBadRows?: boolean
  /** steps (prompt + completion tokens) one trace may have (default IMPORT_LIMIT_DEFAULTS) */
  maxTraceSteps?: number
  /** bytes one JSONL / CSV line may have (default IMPORT_LIMIT_DEFAULTS) */
  maxLineBytes?: number
  /** token strings → ids, shared by several imports whose ids must agree (a followed log's
   *  batches); it grows with the new strings (default: a fresh one) */
  tokenVocab?: Map<string, number>
}

/** The keys a column mapping may have. */
export const MAPPING_KEYS: ReadonlyArray<keyof TextColumnMapping> = [
  'prompt',
  'completion',
  'messages',
  'question',
  'thinking',
  'attempt',
  'completionTemplate',
  'score',
  'id',
  'meta',
  'tokens',
  'promptTokens',
  'refLogprobs',
  'policyLogprobs'
]

export interface ImportedText {
  dataset: TraceDataset
  /** log π_ref per step (0 on prompt steps), when the rows carried it */
  refLogProbs?: Float32Array
  /** log π_policy per step (0 on prompt steps), when the rows carried it */
  policyLogProbs?: Float32Array
  format: TextFormat
  mapping: TextColumnMapping
  /** data rows imported (blank JSONL lines and skipped rows not counted) */
  rows: number
  /** rows left out with skipBadRows, in file order (always empty without it) */
  skipped: SkippedRow[]
  /** the file gave tokens as strings: the string of each id (ids are indices), else undefined */
  tokenStrings?: string[]
}

/** A value as an error message shows it: text quoted (so "7" and 7 differ), long values cut. */
export function shownValue(v: unknown): string {
  if (v === undefined) return 'missing'
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v)
  let s: string
  try {
    s = JSON.stringify(v) ?? String(v)
  } catch {
    s = String(v)
  }
  return s.length > 60 ? `${s.slice(0, 57)}…` : s
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
  /** lines the parser could not make a row of (when it was asked to skip them; importTextRows
   *  then skips them too, or refuses the file at the first in file order) */
  skipped?: SkippedRow[]
  /** the file's columns, when it declares them (a CSV header, a Parquet schema) */
  columns?: string[]
}

/** What the parsers take besides the text: problems found in the file's bytes, by line, and
 *  whether a bad line is skipped (reported) or refused. */
export interface ParseOptions {
  skipBadRows?: boolean
  /** problems of the bytes (text-bytes.ts), by 1-based line */
  badLines?: ReadonlyMap<number, string>
}

export class ImportError extends DatasetError {
  constructor(message: string) {
    super(message)
    this.name = 'ImportError'
  }
}

// ---------------------------------------------------------------------------------------------
// Parsers

/** JSONL: one JSON object a line; blank lines are skipped. A bad line (not JSON, not an
 *  object, or named in opts.badLines) is an error, or with skipBadRows a skipped row. */
export function parseJsonl(text: string, file: string, opts: ParseOptions = {}): RowSource {
  const rows: Record<string, unknown>[] = []
  const numbers: number[] = []
  const skipped: SkippedRow[] = []
  const bad = (line: number, reason: string): void => {
    const e = new ImportError(`file "${file}", line ${line}: ${reason}`)
    if (!opts.skipBadRows) throw e
    skipped.push({ line, reason: e.message })
  }
  let start = 0
  let line = 0
  if (text.charCodeAt(0) === 0xfeff) start = 1
  while (start <= text.length) {
    let end = text.indexOf('\n', start)
    if (end < 0) end = text.length
    line++
    const lineStart = start
    start = end + 1
    const problem = opts.badLines?.get(line)
    if (problem !== undefined) {
      bad(line, problem)
      continue
    }
    let s = text.slice(lineStart, end)
    if (s.endsWith('\r')) s = s.slice(0, -1)
    if (s.trim() === '') continue
    let v: unknown
    try {
      v = JSON.parse(s)
    } catch (e) {
      bad(line, `not valid JSON (${(e as Error).message})`)
      continue
    }
    if (!v || typeof v !== 'object' || Array.isArray(v)) {
      bad(line, 'expected a JSON object with one field a column')
      continue
    }
    rows.push(v as Record<string, unknown>)
    numbers.push(line)
  }
  return { file, rows, unit: 'line', numbers, skipped }
}

const CSV_OPTIONS = { bom: true, relax_column_count: true, record_delimiter: ['\r\n', '\n', '\r'] }

/** Line breaks inside a cell (CRLF counts once), to know where the next record starts. */
function lineBreaks(s: string): number {
  let n = 0
  for (let i = s.indexOf('\n'); i >= 0; i = s.indexOf('\n', i + 1)) n++
  for (let i = s.indexOf('\r'); i >= 0; i = s.indexOf('\r', i + 1)) if (s.charCodeAt(i + 1) !== 10) n++
  return n
}

/** A csv-parse error → an ImportError naming the file, the line and the field. */
function csvError(e: CsvError, text: string, file: string): ImportError {
  const line = Number(e.lines)
  const field = typeof e.column === 'number' ? ` (field ${e.column + 1})` : ''
  if (e.code === 'CSV_QUOTE_NOT_CLOSED') {
    // csv-parse reports the end of the file; name the line the unfinished record starts on
    let start = 1
    try {
      parseCsvText(text, { ...CSV_OPTIONS, on_record: (_r, c) => void (start = c.lines + 1) })
    } catch {
      // the same error again, now with `start` at the last good record
    }
    return new ImportError(`file "${file}", line ${start}: a quoted field is never closed${field}`)
  }
  if (e.code === 'CSV_INVALID_CLOSING_QUOTE') {
    const got = /got "(.*?)" at line/.exec(e.message)?.[1] ?? '?'
    return new ImportError(`file "${file}", line ${line}: unexpected "${got}" after a closing quote${field}`)
  }
  if (e.code === 'INVALID_OPENING_QUOTE') {
    return new ImportError(`file "${file}", line ${line}: a quote inside an unquoted field${field}; quote the whole field and double the quotes in it ("say ""x""")`)
  }
  return new ImportError(`file "${file}", line ${line}: ${e.message}`)
}

/** CSV per RFC 4180, parsed by csv-parse: a header row; fields separated by commas;
 *  double-quoted fields may hold commas, line breaks and "" for a quote; CRLF, LF or CR line
 *  ends, mixed in one file; a BOM is dropped; blank lines are skipped. A quote inside an
 *  unquoted field is an error (RFC 4180), as is text after a closing quote. Cells stay text.
 *  Each row keeps the line it starts on, counted here from the line breaks in its cells
 *  (csv-parse's per-record info hook made parsing 59,000 short rows 3 times slower).
 *
 *  Why csv-parse: measured by importing 59,000 short rows and 20,000 s1K-sized rows, it makes
 *  the whole CSV import about 1.5 times slower than the hand-written parser it replaced
 *  (0.24 → 0.36 s, 1.75 → 2.6 s); papaparse parses about as fast as that parser did, but
 *  takes one kind of line end a file, so a file mixing LF and CRLF silently merges rows. */
export function parseCsv(text: string, file: string, opts: ParseOptions = {}): RowSource {
  let parsed: string[][]
  try {
    parsed = parseCsvText(text, CSV_OPTIONS)
  } catch (e) {
    throw e instanceof CsvError ? csvError(e, text, file) : e
  }
  const records: string[][] = []
  const recLines: number[] = []
  let line = 1
  for (const cells of parsed) {
    const start = line
    line++
    if (cells.length === 1 && cells[0] === '') continue // blank line
    for (const c of cells) line += lineBreaks(c)
    records.push(cells)
    recLines.push(start)
  }
  if (records.length === 0) throw new ImportError(`file "${file}": is empty (no header row)`)
  const header = records[0]
  const seen = new Set<string>()
  for (const h of header) {
    if (seen.has(h)) throw new ImportError(`file "${file}", line ${recLines[0]}: the header names column "${h}" twice`)
    seen.add(h)
  }
  // a bad byte or an over-long line in a record's lines makes the record bad; in the header, the file
  const badLines = [...(opts.badLines ?? [])].sort((a, b) => a[0] - b[0])
  let next = 0 // the first bad line not before the record asked about (records come in order)
  const badIn = (r: number): string | undefined => {
    const end = r + 1 < records.length ? recLines[r + 1] : Infinity
    while (next < badLines.length && badLines[next][0] < recLines[r]) next++
    return next < badLines.length && badLines[next][0] < end ? badLines[next][1] : undefined
  }
  const headerProblem = badIn(0)
  if (headerProblem !== undefined) throw new ImportError(`file "${file}", line ${recLines[0]} (the header): ${headerProblem}`)
  const rows: Record<string, unknown>[] = []
  const numbers: number[] = []
  const skipped: SkippedRow[] = []
  for (let r = 1; r < records.length; r++) {
    const cells = records[r]
    const problem = badIn(r) ?? (cells.length > header.length ? `${cells.length} fields, the header has ${header.length}` : undefined)
    if (problem !== undefined) {
      const e = new ImportError(`file "${file}", line ${recLines[r]}: ${problem}`)
      if (!opts.skipBadRows) throw e
      skipped.push({ line: recLines[r], reason: e.message })
      continue
    }
    const o: Record<string, unknown> = {}
    // a short row simply lacks its last columns; a mapped missing column is reported by name
    for (let c = 0; c < cells.length; c++) o[header[c]] = cells[c]
    rows.push(o)
    numbers.push(recLines[r])
  }
  return { file, rows, unit: 'line', numbers, skipped, columns: header }
}

/** Parquet through hyparquet; lists arrive as arrays, INT64 as bigint. */
async function parseParquet(data: ArrayBuffer, file: string): Promise<RowSource> {
  let rows: Record<string, unknown>[]
  try {
    rows = (await parquetReadObjects({ file: data })) as Record<string, unknown>[]
  } catch (e) {
    throw new ImportError(`file "${file}": not a readable Parquet file (${(e as Error).message})`)
  }
  const numbers = new Int32Array(rows.length)
  for (let i = 0; i < rows.length; i++) numbers[i] = i + 1
  return { file, rows, unit: 'row', numbers, columns: rows.length ? Object.keys(rows[0]) : [] }
}

/** A problem of a line's bytes, said so the user knows what to do. */
export function describeLineProblem(p: LineProblem, maxLineBytes: number): string {
  if (p.kind === 'utf8') {
    return `not valid UTF-8: byte 0x${p.value.toString(16).padStart(2, '0')} at byte offset ${p.offset} of the file; save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)`
  }
  return `the line is ${count(p.value)} bytes long, more than the limit of ${count(maxLineBytes)} bytes a line; if it is meant to be, raise the limit (--max-line-bytes, or maxLineBytes in the API)`
}

function formatOf(file: string): TextFormat {
  const ext = extname(file).toLowerCase()
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl'
  if (ext === '.csv') return 'csv'
  if (ext === '.parquet' || ext === '.pq') return 'parquet'
  throw new ImportError(`file "${file}": unknown format "${ext}" (expected .jsonl, .csv or .parquet, or name the format)`)
}

async function readRows(file: string, format: TextFormat = formatOf(file), opts: Pick<ImportTextOptions, 'skipBadRows' | 'maxLineBytes'> = {}): Promise<RowSource> {
  let buf: Buffer
  try {
    buf = await readFile(file)
  } catch (e) {
    throw new ImportError(`file "${file}": cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`)
  }
  if (format === 'parquet') return parseParquet(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer, file)
  const maxLineBytes = opts.maxLineBytes ?? IMPORT_LIMIT_DEFAULTS.maxLineBytes
  const skipBadRows = opts.skipBadRows ?? false
  const decoded = decodeTextFile(buf, { maxLineBytes, loneCr: format === 'csv', all: skipBadRows })
  const { problems } = decoded
  // without skipping, the parser still goes through the lines before the first problem, so the
  // first bad line of the file is the one named: a JSONL file's lines stand alone, so only those
  // are decoded (a 50 MB line never is); a CSV record may span lines, so the whole text is
  let text = decoded.text
  if (problems.length > 0 && !skipBadRows) text = format === 'jsonl' ? textBefore(buf, problems[0].offset) : buf.toString('utf8')
  const badLines = new Map<number, string>()
  for (const p of problems) if (!badLines.has(p.line)) badLines.set(p.line, describeLineProblem(p, maxLineBytes))
  // the parser collects its bad lines either way: importTextRows refuses the file at the first bad
  // line in file order (a parse problem or a bad row), or skips them all
  const parseOpts: ParseOptions = { skipBadRows: true, badLines }
  const src = format === 'csv' ? parseCsv(text, file, parseOpts) : parseJsonl(text, file, parseOpts)
  // (the first problem's line may lie past the text decoded for the parser)
  const first = problems[0]
  if (first && !skipBadRows && !src.skipped?.some((r) => r.line === first.line)) {
    src.skipped = [...(src.skipped ?? []), { line: first.line, reason: `file "${file}", line ${first.line}: ${describeLineProblem(first, maxLineBytes)}` }]
  }
  return src
}

// ---------------------------------------------------------------------------------------------
// Mapping

/** A mapping guessed from column names: log-prob columns (ref_logprobs / policy_logprobs with
 *  tokens), s1K-1.1 (question / deepseek_thinking_trajectory / deepseek_attempt, score from
 *  deepseek_grade), s1K (question / thinking_trajectories / attempt), a chat (messages or
 *  conversations), or prompt / completion (also response, output, answer). Score from score,
 *  reward, correct, label or grade. */
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
  const th = pick('deepseek_thinking_trajectory', 'thinking', 'thinking_trajectories', 'thinking_trajectory', 'reasoning', 'gemini_thinking_trajectory')
  const at = pick(...(th?.startsWith('gemini_') ? ['gemini_attempt'] : ['deepseek_attempt', 'attempt', 'gemini_attempt', 'solution']))
  const chat = pick('messages', 'conversations', 'conversation', 'chat')
  if (q && th && at) {
    m.question = q
    m.thinking = th
    m.attempt = at
  } else if (chat && !pick('completion', 'response', 'output')) {
    m.messages = chat
  } else {
    m.prompt = pick('prompt', 'question', 'input', 'instruction')
    if (!m.tokens) m.completion = pick('completion', 'response', 'output', 'answer')
  }
  // s1K-1.1 grades each model's attempt ("Yes"/"No"): the grade of the attempt imported
  const grade = at?.startsWith('deepseek_') ? 'deepseek_grade' : at?.startsWith('gemini_') ? 'gemini_grade' : undefined
  m.score = pick('score', 'reward', 'correct', 'label', 'grade', ...(grade ? [grade] : []))
  m.id = pick('id', 'uid', 'trace_id')
  for (const k of Object.keys(m) as (keyof TextColumnMapping)[]) if (m[k] === undefined) delete m[k]
  return m
}

/** The name of a known layout the columns have (see detectMapping), or null. */
export function layoutOf(columns: string[]): string | null {
  const m = detectMapping(columns)
  if (m.refLogprobs || m.policyLogprobs) return 'log-probs'
  if (m.thinking === 'deepseek_thinking_trajectory' || m.thinking === 'gemini_thinking_trajectory') return 's1K-1.1'
  if (m.question) return 's1K'
  if (m.messages) return 'messages (chat)'
  if (m.tokens) return 'token ids'
  if (m.prompt && m.completion) return 'prompt/completion'
  if (m.completion) return 'completion only'
  return null
}

/** One message of a chat list: {role, content} (OpenAI, TRL) or {from, value} (ShareGPT). */
function messageOf(v: unknown): { role: string; content: string } | null {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return null
  const o = v as Record<string, unknown>
  const role = o.role ?? o.from
  const content = o.content ?? o.value
  if (typeof role !== 'string' || typeof content !== 'string') return null
  return { role: role === 'gpt' ? 'assistant' : role === 'human' ? 'user' : role, content }
}

/** A list of chat messages, or null when `v` is not one (every entry a message). */
export function chatMessages(v: unknown): { role: string; content: string }[] | null {
  if (!Array.isArray(v) || v.length === 0) return null
  const out: { role: string; content: string }[] = []
  for (const x of v) {
    const m = messageOf(x)
    if (!m) return null
    out.push(m)
  }
  return out
}

/** Messages as prompt text: one message is its text; several, a "role: text" line each. */
export function messagesText(ms: ReadonlyArray<{ role: string; content: string }>): string {
  return ms.length === 1 ? ms[0].content : ms.map((m) => `${m.role}: ${m.content}`).join('\n')
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

/** The columns a file has, for messages: its declared columns, else the keys of its first rows. */
function columnsOf(src: RowSource): string[] {
  if (src.columns) return src.columns
  const seen = new Set<string>()
  for (let i = 0; i < Math.min(src.rows.length, 100); i++) for (const k of Object.keys(src.rows[i])) seen.add(k)
  return [...seen]
}

/** A mapping may name only known keys, and only columns the file has (a misspelt key or column
 *  would otherwise import every row with that column quietly left out). */
function checkMapping(m: TextColumnMapping, src: RowSource, given: boolean): void {
  const { file } = src
  const keys = Object.keys(m)
  const unknown = keys.filter((k) => !(MAPPING_KEYS as string[]).includes(k))
  if (unknown.length) {
    throw new ImportError(
      `file "${file}": the column mapping has unknown key${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')}; the keys are ${MAPPING_KEYS.join(', ')}`
    )
  }
  if (!given) return // detected from the file's own columns
  const has = (col: string): boolean => (src.columns ? src.columns.includes(col) : src.rows.some((r) => col in r))
  for (const key of keys as (keyof TextColumnMapping)[]) {
    if (key === 'completionTemplate') continue
    const v = m[key]
    const cols = key === 'meta' ? (v as string[]) : [v as string]
    if (!Array.isArray(cols) || cols.some((c) => typeof c !== 'string'))
      throw new ImportError(`file "${file}": the column mapping's "${key}" must name ${key === 'meta' ? 'a list of columns' : 'a column'}`)
    for (const col of cols) {
      if (!has(col)) {
        throw new ImportError(
          `file "${file}": the column mapping names column "${col}" (for ${key}), which is not in the file; its columns are ${
            columnsOf(src)
              .map((c) => `"${c}"`)
              .join(', ') || 'none'
          }`
        )
      }
    }
  }
}

/** Turn parsed rows into a 'sequence' dataset (and aligned log-probs, when mapped). */
function importTextRows(src: RowSource, opts: ImportTextOptions = {}, checkColumns = true): ImportedText {
  const { file, rows, unit, numbers } = src
  const skipBadRows = opts.skipBadRows ?? false
  // lines the parser could not make a row of: without skipBadRows the first is refused when the
  // rows reach it (so the first bad line of the file is the one named)
  const parseProblems = [...(src.skipped ?? [])].sort((a, b) => a.line - b.line)
  const refuseParsedUpTo = (line: number): void => {
    if (!skipBadRows && parseProblems.length > 0 && parseProblems[0].line <= line) throw new ImportError(parseProblems[0].reason)
  }
  const skipped: SkippedRow[] = skipBadRows ? parseProblems : []
  const noGoodRow = (): ImportError => {
    const first = skipped
      .slice(0, 3)
      .map((r) => r.reason)
      .join('; ')
    return new ImportError(`file "${file}": has no good row: all ${count(skipped.length)} ${unit}s were skipped (${first}${skipped.length > 3 ? '; …' : ''})`)
  }
  refuseParsedUpTo(rows.length ? numbers[0] : Infinity)
  if (rows.length === 0) throw skipped.length ? noGoodRow() : new ImportError(`file "${file}": has no data rows`)
  const mapping = opts.mapping ?? detectMapping(columnsOf(src))
  checkMapping(mapping, src, checkColumns && opts.mapping !== undefined)
  const m = mapping
  const textMode = !m.tokens
  const hasRef = m.refLogprobs !== undefined
  const hasPol = m.policyLogprobs !== undefined
  const tok = opts.tokenizer
  const maxSteps = opts.maxTraceSteps ?? IMPORT_LIMIT_DEFAULTS.maxTraceSteps
  const at = (i: number, field?: string): string => `file "${file}", ${unit} ${numbers[i]}${field !== undefined ? `, field "${field}"` : ''}`
  if (textMode && !(m.completion || m.messages || (m.thinking && m.attempt))) {
    throw new ImportError(
      `file "${file}": the column mapping names no completion (map completion, messages, tokens, or question/thinking/attempt); columns seen: ${columnsOf(src).join(', ')}`
    )
  }
  // token ids or token strings (see the file comment): the first row with tokens says which
  const vocab = opts.tokenVocab ?? new Map<string, number>()
  let tokenKind: 'id' | 'string' | undefined = vocab.size > 0 ? 'string' : undefined
  if (tokenKind === undefined && m.tokens) {
    for (const row of rows) {
      let v = row[m.tokens]
      if (typeof v === 'string' && v.trimStart().startsWith('[')) {
        try {
          v = JSON.parse(v)
        } catch {
          continue // the row's own check names it
        }
      }
      if (Array.isArray(v) && v.length > 0) {
        tokenKind = typeof v[0] === 'string' ? 'string' : 'id'
        break
      }
    }
  }
  const strings = tokenKind === 'string'
  if ((textMode || (m.prompt && !m.promptTokens && !strings) || (m.question && !strings)) && !tok) {
    throw new ImportError(`file "${file}": text columns need a tokenizer${textMode ? '' : ' (or give the tokens as strings)'}`)
  }
  const addEos = opts.addEos ?? (textMode && !hasRef && !hasPol)
  const template = m.completionTemplate ?? '{thinking}\n{attempt}'
  const defaultScore = opts.defaultScore ?? 1
  const promptCol = m.prompt ?? m.question
  // known before the rows are read: a token id past it is the row's fault (else the largest id sets it)
  const knownVocab = strings ? undefined : (tok?.vocabSize ?? opts.vocabSize)
  const tooLong = (i: number, n: number, what: string): ImportError =>
    new ImportError(
      `${at(i)}: the trace has ${count(n)} ${what}, more than the limit of ${count(maxSteps)} steps a trace; if it is meant to be that long, raise the limit (--max-trace-steps, or maxTraceSteps in the API)`
    )

  const getText = (row: Record<string, unknown>, i: number, col: string, allowList = false): string => {
    const v = row[col]
    if (v === undefined || v === null) throw new ImportError(`${at(i, col)}: missing`)
    if (typeof v === 'string') return v
    if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v)
    if (allowList && Array.isArray(v) && v.every((x) => typeof x === 'string')) return v.join('\n')
    // TRL's conversational prompt-completion: a list of {role, content}
    const chat = chatMessages(v)
    if (chat) return messagesText(chat)
    throw new ImportError(`${at(i, col)}: expected text, found ${Array.isArray(v) ? 'a list' : typeof v} (a list may only hold {role, content} messages)`)
  }
  /** A chat row: the last assistant message is the completion, the messages before it the prompt. */
  const getChat = (row: Record<string, unknown>, i: number, col: string): { prompt: string; completion: string } => {
    let v = row[col]
    if (v === undefined || v === null) throw new ImportError(`${at(i, col)}: missing`)
    if (typeof v === 'string') {
      try {
        v = JSON.parse(v)
      } catch {
        throw new ImportError(`${at(i, col)}: expected a list of {role, content} messages, found text that is not JSON`)
      }
    }
    const ms = chatMessages(v)
    if (!ms) throw new ImportError(`${at(i, col)}: expected a list of {role, content} messages (or ShareGPT's {from, value}), found ${shownValue(v)}`)
    let last = ms.length - 1
    while (last >= 0 && ms[last].role !== 'assistant') last--
    if (last < 0) throw new ImportError(`${at(i, col)}: no message has role "assistant"; the last assistant message is the completion to learn from`)
    if (ms[last].content.trim() === '') throw new ImportError(`${at(i, col)}: the last assistant message is empty; a trace needs at least one completion token to learn from`)
    return { prompt: messagesText(ms.slice(0, last)), completion: ms[last].content }
  }
  const getList = (row: Record<string, unknown>, i: number, col: string): ArrayLike<unknown> => {
    let v = row[col]
    if (v === undefined || v === null) throw new ImportError(`${at(i, col)}: missing`)
    if (typeof v === 'string') {
      try {
        v = JSON.parse(v)
      } catch {
        throw new ImportError(`${at(i, col)}: expected a list, found text that is not a JSON list`)
      }
    }
    if (!Array.isArray(v) && !ArrayBuffer.isView(v)) throw new ImportError(`${at(i, col)}: expected a list, found ${shownValue(v)}`)
    return v as ArrayLike<unknown>
  }
  const getTokens = (row: Record<string, unknown>, i: number, col: string): number[] => {
    const l = getList(row, i, col)
    if (l.length > maxSteps) throw tooLong(i, l.length, `tokens in "${col}"`)
    const out = new Array<number>(l.length)
    if (l.length === 0) return out
    // ids or strings: the first token of the file decides, and every row must agree
    const first = plain(l[0])
    const kind = typeof first === 'string' ? 'string' : 'id'
    if (tokenKind === undefined) tokenKind = kind
    else if (kind !== tokenKind) {
      throw new ImportError(
        `${at(i, col)}: entry 0 is ${shownValue(first)}, ${kind === 'string' ? 'a token string' : 'not a token string'}, but the rows before gave tokens as ${tokenKind === 'string' ? 'strings' : 'ids'}; give every row's tokens the same way`
      )
    }
    if (tokenKind === 'string') {
      // new strings go in once the whole list is good (a row refused later is rolled back below)
      const fresh = new Map<string, number>()
      for (let k = 0; k < l.length; k++) {
        const x = l[k]
        if (typeof x !== 'string') throw new ImportError(`${at(i, col)}: entry ${k} is ${shownValue(x)}, not a token string (the row's tokens are strings)`)
        let id = vocab.get(x) ?? fresh.get(x)
        if (id === undefined) fresh.set(x, (id = vocab.size + fresh.size))
        out[k] = id
      }
      for (const [x, id] of fresh) vocab.set(x, id)
      return out
    }
    for (let k = 0; k < l.length; k++) {
      const x = plain(l[k])
      if (typeof x !== 'number' || !Number.isInteger(x) || x < 0) throw new ImportError(`${at(i, col)}: entry ${k} is ${shownValue(x)}, not a token id (an integer ≥ 0)`)
      if (knownVocab !== undefined && x >= knownVocab) throw new ImportError(`${at(i, col)}: token id ${x} is outside the vocabulary of ${knownVocab}`)
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
        throw new ImportError(`${at(i, col)}: entry ${k} is ${shownValue(x)}; a log-prob must be a finite number ≤ 0`)
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
      if (s === 'true' || s === 'yes') return 1
      if (s === 'false' || s === 'no') return 0
      const x = Number(s)
      if (Number.isFinite(x)) return x
    }
    throw new ImportError(`${at(i, col)}: ${shownValue(v)} is not a number (nor true/false, yes/no)`)
  }
  const getCompletionText = (row: Record<string, unknown>, i: number): string => {
    if (m.messages) return getChat(row, i, m.messages).completion
    if (m.completion) {
      const text = getText(row, i, m.completion)
      if (text.trim() === '')
        throw new ImportError(
          `${at(i, m.completion)}: the completion is empty${text ? ' (only white space)' : ''}; a trace needs at least one completion token to learn from, so remove the row or fill it in`
        )
      return text
    }
    const th = getText(row, i, m.thinking!, true)
    const an = getText(row, i, m.attempt!)
    if (th.trim() === '' && an.trim() === '') {
      throw new ImportError(
        `${at(i)}: the completion is empty (fields "${m.thinking}" and "${m.attempt}" are both empty); a trace needs at least one completion token to learn from, so remove the row or fill it in`
      )
    }
    return template.replace(/\{(thinking|attempt)\}/g, (_s, k: string) => (k === 'thinking' ? th : an))
  }

  /** One row → its parts; throws an ImportError naming the row and field, having changed nothing. */
  const readRow = (i: number) => {
    const row = rows[i]
    let p: ArrayLike<number> = []
    let c: number[]
    if (opts.encodePair && !m.promptTokens && !m.tokens) {
      // a real model's format: the pair as the model reads it (chat template, or its BOS and EOS)
      const pair = opts.encodePair(promptCol ? getText(row, i, promptCol) : m.messages ? getChat(row, i, m.messages).prompt : '', getCompletionText(row, i))
      p = pair.prompt
      c = pair.completion
      if (p.length > maxSteps) throw tooLong(i, p.length, 'prompt tokens')
    } else {
      if (m.tokens) c = getTokens(row, i, m.tokens)
      else {
        c = tok!.encode(getCompletionText(row, i))
        if (addEos) c.push(tok!.eos)
      }
      if (m.promptTokens) p = getTokens(row, i, m.promptTokens)
      else if (promptCol && tokenKind === 'string')
        p = getTokens({ prompt: [getText(row, i, promptCol)] }, i, 'prompt') // one masked step
      else if (promptCol) p = tok!.encode(getText(row, i, promptCol))
      else if (m.messages && !m.tokens) {
        const pr = getChat(row, i, m.messages).prompt
        if (pr) p = tok!.encode(pr)
      }
      if (p.length > maxSteps) throw tooLong(i, p.length, 'prompt tokens')
    }
    if (c.length === 0) throw new ImportError(`${at(i, m.tokens ?? m.completion ?? m.messages ?? m.attempt)}: the completion has no tokens; nothing of it would count`)
    if (p.length + c.length > maxSteps) throw tooLong(i, p.length + c.length, `steps (${count(p.length)} prompt + ${count(c.length)} completion tokens)`)
    const ref = hasRef ? getLogprobs(row, i, m.refLogprobs!, c.length) : null
    const pol = hasPol ? getLogprobs(row, i, m.policyLogprobs!, c.length) : null
    const score = m.score ? getScore(row, i, m.score) : defaultScore
    const id = m.id ? getText(row, i, m.id) : String(i)
    let meta: Record<string, unknown> | undefined
    if (m.meta && m.meta.length > 0) {
      meta = {}
      for (const col of m.meta) {
        if (!(col in row)) throw new ImportError(`${at(i, col)}: missing`)
        meta[col] = plain(row[col])
      }
    }
    return { p, c, ref, pol, score, id, meta }
  }

  const N = rows.length
  const offsets = new Int32Array(N + 1)
  const actions = new IntBuilder()
  const promptLens = new Int32Array(N)
  const scores = new Float64Array(N)
  const ids: string[] = []
  const metas: Record<string, unknown>[] | undefined = m.meta && m.meta.length > 0 ? [] : undefined
  const refParts: ArrayLike<unknown>[] = []
  const polParts: ArrayLike<unknown>[] = []
  // the 1-based line (row) of each imported trace, to name the row of a problem found afterwards
  const kept: number[] = []
  let n = 0
  for (let i = 0; i < N; i++) {
    refuseParsedUpTo(numbers[i])
    let r: ReturnType<typeof readRow>
    const vocab0 = vocab.size
    try {
      r = readRow(i)
    } catch (e) {
      if (!skipBadRows || !(e instanceof ImportError)) throw e
      // a skipped row leaves no token strings of its own behind
      if (vocab.size > vocab0) for (const [x, id] of vocab) if (id >= vocab0) vocab.delete(x)
      skipped.push({ line: numbers[i], reason: e.message })
      continue
    }
    if (r.ref) refParts.push(r.ref)
    if (r.pol) polParts.push(r.pol)
    actions.pushAll(r.p)
    actions.pushAll(r.c)
    // after a few rows, size the buffer for the whole file (+10%) to avoid repeated copies
    if (n === 63 && N > 128) actions.reserve(Math.ceil((actions.length / 64) * N * 1.1))
    promptLens[n] = r.p.length
    offsets[n + 1] = offsets[n] + r.p.length + r.c.length
    scores[n] = r.score
    ids.push(r.id)
    if (metas) metas.push(r.meta!)
    kept.push(i)
    n++
  }
  refuseParsedUpTo(Infinity)
  skipped.sort((a, b) => a.line - b.line)
  if (n === 0) throw noGoodRow()
  const maxId = actions.max
  const vocabSize = tokenKind === 'string' ? vocab.size : (knownVocab ?? maxId + 1)
  if (maxId >= vocabSize) {
    // (token columns are checked row by row; this catches a tokenizer that emits ids past its size)
    for (let t = 0; t < n; t++) {
      for (let s = offsets[t]; s < offsets[t + 1]; s++) {
        if (actions.data[s] >= vocabSize) {
          const field = s - offsets[t] < promptLens[t] ? (m.promptTokens ?? promptCol) : (m.tokens ?? m.completion ?? m.messages ?? m.attempt)
          throw new ImportError(`${at(kept[t], field)}: token id ${actions.data[s]} is outside the vocabulary of ${vocabSize}`)
        }
      }
    }
  }
  const T = offsets[n]
  const mask = new Uint8Array(T)
  for (let t = 0; t < n; t++) mask.fill(1, offsets[t] + promptLens[t], offsets[t + 1])
  const align = (parts: ArrayLike<unknown>[]): Float32Array => {
    const out = new Float32Array(T)
    for (let t = 0; t < n; t++) {
      const base = offsets[t] + promptLens[t]
      const l = parts[t]
      for (let k = 0; k < l.length; k++) out[base + k] = Number(l[k])
    }
    return out
  }
  const dataset: TraceDataset = {
    name: opts.name ?? basename(file),
    kind: 'sequence',
    obsDim: 0,
    actDim: vocabSize,
    offsets: n === N ? offsets : offsets.slice(0, n + 1),
    obs: new Float32Array(0),
    actions: actions.take(),
    mask,
    scores: n === N ? scores : scores.slice(0, n),
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
    rows: n,
    skipped,
    ...(tokenKind === 'string' ? { tokenStrings: [...vocab.keys()] } : {})
  }
}

/** Read, map and tokenize a JSONL, CSV or Parquet file into a 'sequence' dataset. */
export async function importTextFile(file: string, opts: ImportTextOptions = {}): Promise<ImportedText> {
  const format = opts.format ?? formatOf(file)
  const tokenizer = opts.tokenizer ?? (opts.tokenizerFile ? await loadHfTokenizer(opts.tokenizerFile) : undefined)
  const src = await readRows(file, format, opts)
  return { ...importTextRows(src, { ...opts, tokenizer }), format }
}

/** Rows of a followed JSONL file (jobs/follow-file.ts) → dataset pieces with the same mapping
 *  and checks as importTextRows; `line` is each row's 1-based line in the file. The mapping's
 *  columns are not checked against the batch (a few rows of a log): a row that lacks one is
 *  refused by line and field. */
export function importFollowedRows(file: string, rows: ReadonlyArray<{ line: number; value: Record<string, unknown> }>, opts: ImportTextOptions = {}): ImportedText {
  return importTextRows(
    {
      file,
      rows: rows.map((r) => r.value),
      unit: 'line',
      numbers: rows.map((r) => r.line)
    },
    { format: 'jsonl', ...opts },
    false
  )
}

// ---------------------------------------------------------------------------------------------
// Preview (the app's import mapping step)

export interface TextPreview {
  format: TextFormat
  /** the file's columns: a CSV header, a Parquet schema, the keys of the first JSONL rows */
  columns: string[]
  /** the first rows, as they came (lists stay lists) */
  rows: Record<string, unknown>[]
  /** what detectMapping makes of the columns, and the layout it recognised (null: none) */
  detected: TextColumnMapping
  layout: string | null
}

/** The columns and first rows of a JSONL, CSV or Parquet file, and the mapping detected from
 *  them. A JSONL file is read only up to its first rows; bad lines among them are left out. */
export async function previewTextFile(file: string, opts: { format?: TextFormat; rows?: number } = {}): Promise<TextPreview> {
  const format = opts.format ?? formatOf(file)
  const n = opts.rows ?? 5
  let src: RowSource
  if (format === 'jsonl') {
    let buf: Buffer
    try {
      buf = await readFile(file)
    } catch (e) {
      throw new ImportError(`file "${file}": cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`)
    }
    // the bytes of the first n non-blank lines (and a few blank ones), no more
    let end = 0
    for (let k = 0; k < n + 20 && end < buf.length; k++) {
      const nl = buf.indexOf(10, end)
      end = nl < 0 ? buf.length : nl + 1
    }
    src = parseJsonl(buf.subarray(0, end).toString('utf8'), file, { skipBadRows: true })
  } else src = await readRows(file, format, { skipBadRows: true })
  const columns = columnsOf(src)
  return {
    format,
    columns,
    rows: src.rows.slice(0, n).map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, plain(v)]))),
    detected: detectMapping(columns),
    layout: layoutOf(columns)
  }
}
