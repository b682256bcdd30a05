// One entry point for importing a dataset file, by extension: JSONL / CSV / Parquet text traces
// (tokenized; column mapping optional), HDF5 offline-RL files (D4RL or Minari), and the
// project's own JSON trace format. Everything is parsed and validated before it is returned,
// so a bad file never leaves half a dataset behind; errors name the file, row and field.
import { readFile } from 'node:fs/promises'
import { extname } from 'node:path'
import { loadHfTokenizer, llmTextTokenizer, ByteTokenizer, type Tokenizer } from '../text/index.ts'
import { chatPromptCompletion, plainPromptCompletion } from '../llm/chat-template.ts'
import { openLlmTokenizer } from '../llm/load.ts'
import { importHdf5 } from './import-hdf5.ts'
import { describeLineProblem, importTextFile, type SkippedRow, type TextColumnMapping } from './import-text.ts'
import { decodeTextFile } from './text-bytes.ts'
import { DatasetError, fromTraces, validateDataset, type TraceDataset } from '../../common/trace.ts'

export interface ImportOptions {
  onProgress?: (done: number, total: number) => void
  /** override the format guessed from the extension */
  format?: string
  /** column mapping for text files (prompt/completion/score/… → column names; meta → a list) */
  mapping?: Record<string, string | string[]>
  /** a Hugging Face tokenizer.json for text files (default: bytes) */
  tokenizerFile?: string
  /** or a real model's tokenizer (its GGUF file or folder): prompts and completions tokenised as
   *  the model reads them, through its chat template when `chat` (models.ts in the services) */
  tokenizerModel?: { path: string; chat: boolean }
  name?: string
  /** text files: import the good rows, report the bad (HDF5 and trace JSON are whole or nothing) */
  skipBadRows?: boolean
  /** text files: limits on a trace's steps and a line's bytes (see import-text.ts) */
  maxTraceSteps?: number
  maxLineBytes?: number
}

export interface ImportResult {
  dataset: TraceDataset
  /** text files that carried per-token log-probs (bring your own log-probs) */
  refLogProbs?: Float32Array
  policyLogProbs?: Float32Array
  /** text files: true when the rows' text was tokenised here, false when they carried token ids */
  fromText?: boolean
  /** rows left out with skipBadRows (text files), each with its reason */
  skipped: SkippedRow[]
  /** text files whose tokens were strings: the string of each token id */
  tokenStrings?: string[]
}

export const IMPORT_FORMATS = ['jsonl', 'csv', 'parquet', 'hdf5', 'traces.json'] as const

export function formatOfFile(file: string): string {
  const f = file.toLowerCase()
  if (f.endsWith('.traces.json')) return 'traces.json'
  const e = extname(f).slice(1)
  if (e === 'ndjson') return 'jsonl'
  if (e === 'h5' || e === 'hdf5') return 'hdf5'
  return e
}

export async function importDatasetFileFull(file: string, opts: ImportOptions = {}): Promise<ImportResult> {
  const format = opts.format ?? formatOfFile(file)
  if (format === 'hdf5') {
    const dataset = await importHdf5(file, { name: opts.name, onProgress: (p) => opts.onProgress?.(p.done, p.total) })
    return { dataset, skipped: [] }
  }
  if (format === 'jsonl' || format === 'csv' || format === 'parquet') {
    let tokenizer: Tokenizer = opts.tokenizerFile ? await loadHfTokenizer(opts.tokenizerFile) : new ByteTokenizer()
    let encodePair: ((prompt: string, completion: string) => { prompt: number[]; completion: number[] }) | undefined
    if (opts.tokenizerModel) {
      const m = await modelTextFormat(opts.tokenizerModel.path, opts.tokenizerModel.chat)
      tokenizer = m.tokenizer
      encodePair = m.encodePair
    }
    opts.onProgress?.(0, 1)
    const { skipBadRows, maxTraceSteps, maxLineBytes } = opts
    const r = await importTextFile(file, { format, tokenizer, encodePair, name: opts.name, mapping: opts.mapping as TextColumnMapping | undefined, skipBadRows, maxTraceSteps, maxLineBytes })
    opts.onProgress?.(1, 1)
    return {
      dataset: r.dataset,
      refLogProbs: r.refLogProbs,
      policyLogProbs: r.policyLogProbs,
      fromText: !r.mapping.tokens,
      skipped: r.skipped,
      ...(r.tokenStrings ? { tokenStrings: r.tokenStrings } : {})
    }
  }
  if (format === 'traces.json') return { dataset: await importTraceJson(file, opts.name), skipped: [] }
  throw new DatasetError(`${file}: unknown format "${format}"; the workbench reads ${IMPORT_FORMATS.join(', ')} (name the format explicitly if the extension differs)`)
}

/** A real model's tokenizer and how it reads a (prompt, completion) pair: through its chat
 *  template (the completion as the assistant's turn, end-of-turn tokens included), or as plain
 *  text with the model's BOS (when it adds one) and its EOS after the completion. */
export async function modelTextFormat(
  path: string,
  chat: boolean
): Promise<{ tokenizer: Tokenizer; encodePair: (prompt: string, completion: string) => { prompt: number[]; completion: number[] } }> {
  const { tokenizer: tok, chat: tpl } = await openLlmTokenizer(path)
  if (chat && !tpl) throw new DatasetError(`model "${path}" has no chat template; import the data as plain text (without the chat template)`)
  const encodePair =
    tpl && chat
      ? (prompt: string, completion: string) => chatPromptCompletion(tok, tpl, prompt, completion)
      : (prompt: string, completion: string) => {
          const r = plainPromptCompletion(tok, prompt, completion)
          if (tok.eos >= 0) r.completion.push(tok.eos)
          return r
        }
  return { tokenizer: llmTextTokenizer(tok, path), encodePair }
}

export async function importDatasetFile(file: string, opts: ImportOptions = {}): Promise<TraceDataset> {
  return (await importDatasetFileFull(file, opts)).dataset
}

/** The workbench's own trace format: {"kind", "obsDim", "actDim", "traces": [{id?, obs?, actions,
 *  mask?, rewards?, score, meta?}]} with flat per-trace arrays. */
export async function importTraceJson(file: string, name?: string): Promise<TraceDataset> {
  let raw: unknown
  let bytes: Buffer
  try {
    bytes = await readFile(file)
  } catch (e) {
    throw new DatasetError(`${file}: cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`)
  }
  // strictly UTF-8 (one JSON document: no limit on a line)
  const { text, problems } = decodeTextFile(bytes, { maxLineBytes: Infinity, loneCr: false, all: false })
  if (problems.length) throw new DatasetError(`${file}, line ${problems[0].line}: ${describeLineProblem(problems[0], Infinity)}`)
  try {
    raw = JSON.parse(text)
  } catch (e) {
    throw new DatasetError(`${file}: not valid JSON (${(e as Error).message}); expected {"kind", "obsDim", "actDim", "traces": [...]}`)
  }
  const o = raw as { kind?: unknown; obsDim?: unknown; actDim?: unknown; traces?: unknown }
  if (o === null || typeof o !== 'object') throw new DatasetError(`${file}: expected an object with "kind", "obsDim", "actDim" and "traces"`)
  if (o.kind !== 'discrete' && o.kind !== 'continuous' && o.kind !== 'sequence') throw new DatasetError(`${file}: field "kind" must be "discrete", "continuous" or "sequence"`)
  for (const k of ['obsDim', 'actDim'] as const) {
    if (!Number.isInteger(o[k]) || (o[k] as number) < 0) throw new DatasetError(`${file}: field "${k}" must be a whole number ≥ 0`)
  }
  if (!Array.isArray(o.traces)) throw new DatasetError(`${file}: field "traces" must be a list`)
  const traces = o.traces.map((t: Record<string, unknown>, i: number) => {
    for (const k of ['actions', 'score'] as const) if (t?.[k] === undefined) throw new DatasetError(`${file}: traces[${i}] has no "${k}"`)
    if (!Array.isArray(t.actions)) throw new DatasetError(`${file}: traces[${i}].actions must be a list of numbers`)
    if (typeof t.score !== 'number') throw new DatasetError(`${file}: traces[${i}].score must be a number`)
    const perStep = o.kind === 'continuous' ? (o.actDim as number) : 1
    if (t.actions.length % perStep !== 0) {
      throw new DatasetError(`${file}: traces[${i}].actions has ${t.actions.length} values, not a multiple of the action dimension ${perStep}`)
    }
    return t as { id?: string; obs?: number[]; actions: number[]; mask?: number[]; rewards?: number[]; score: number; meta?: Record<string, unknown> }
  })
  const ds = fromTraces(name ?? file.replace(/^.*[\\/]/, '').replace(/\.traces\.json$/i, ''), o.kind, o.obsDim as number, o.actDim as number, traces)
  try {
    validateDataset(ds)
  } catch (e) {
    throw new DatasetError(`${file}: ${(e as Error).message}`)
  }
  return ds
}
