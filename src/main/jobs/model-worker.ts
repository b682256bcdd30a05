// The model worker (a worker thread; model-host.ts starts it and talks to it): runs the model
// operations of model-ops.ts one at a time, off the back end's own thread, and keeps the last
// model it loaded, so "Try the model" answers without loading SmolLM2 again (~3 s). Before a
// model is loaded its memory estimate is checked (model-ops.ts checkModelMemory) and its files
// are checked against the recorded hash. A cancel message stops a scoring or sampling loop at
// its next batch.
import { statSync } from 'node:fs'
import { parentPort } from 'node:worker_threads'
import type { TraceDataset } from '../common/trace.ts'
import type { PromptRow } from '../engine/datasets/verifiers.ts'
import { initBackend } from '../engine/backend/index.ts'
import { DEQUANT_TYPES, describeLlm, hashLlmFiles, loadLlm, openLlmTokenizer, tokenizerFingerprint, UnsupportedTensorType, type LlmDescription, type LoadedLlm } from '../engine/llm/index.ts'
import {
  checkModelMemory,
  generateText,
  sampleDataset,
  scoreDatasetLogProbs,
  scoreText,
  systemMemory,
  verifyModelFiles,
  type GenerateInput,
  type ModelRef,
  type SampleOptions
} from './model-ops.ts'

/** Each operation: its input and result (model-host.ts types its requests with this). */
export interface ModelOps {
  describe: { input: { path: string }; result: { description: LlmDescription; tokenizerHash: string; hash: string; files: Array<{ path: string; bytes: number; mtimeMs: number }> } }
  generate: { input: { model: ModelRef } & GenerateInput; result: ReturnType<typeof generateText> }
  score: { input: { model: ModelRef; prompt: string; completion: string; chat?: boolean }; result: ReturnType<typeof scoreText> }
  scoreDataset: { input: { model: ModelRef; dataset: TraceDataset }; result: Awaited<ReturnType<typeof scoreDatasetLogProbs>> }
  sample: { input: { model: ModelRef; rows: PromptRow[]; options: SampleOptions }; result: Awaited<ReturnType<typeof sampleDataset>> }
  /** free the loaded model */
  release: { input: Record<string, never>; result: { released: boolean } }
}
export type ModelOp = keyof ModelOps

export type ToWorker = { type: 'run'; id: number; op: ModelOp; input: unknown } | { type: 'cancel'; id: number }
export type FromWorker =
  | { type: 'progress'; id: number; phase: string; done: number; total: number; tokensPerSecond?: number }
  | { type: 'done'; id: number; result: unknown }
  | { type: 'error'; id: number; message: string }

const port = parentPort
if (!port) throw new Error('model-worker must run as a worker thread')

let loaded: { hash: string; llm: LoadedLlm; bytes: number } | null = null
let backendReady: Promise<unknown> | null = null
const cancelled = new Set<number>()
let queue: Promise<void> = Promise.resolve()

async function model(m: ModelRef, progress: (phase: string, done: number, total: number) => void): Promise<LoadedLlm> {
  await verifyModelFiles(m, (bytes) =>
    progress(
      'hash',
      bytes,
      m.files.reduce((a, f) => a + f.bytes, 0)
    )
  )
  if (loaded?.hash === m.hash) return loaded.llm
  backendReady ??= initBackend('auto')
  await backendReady
  // the loaded model goes first: its memory counts as available
  const freed = loaded?.bytes ?? 0
  loaded?.llm.dispose()
  loaded = null
  checkModelMemory(m.name, m.memoryBytes, 'load', systemMemory(), freed)
  progress('load', 0, 1)
  const llm = await loadLlm(m.path, { onProgress: (d, t) => progress('load', d, t) })
  loaded = { hash: m.hash, llm, bytes: m.memoryBytes }
  return llm
}

function transferOf(r: unknown): ArrayBuffer[] {
  if (!r || typeof r !== 'object') return []
  const o = r as Record<string, unknown>
  const out: ArrayBuffer[] = []
  for (const v of Object.values(o)) {
    if (ArrayBuffer.isView(v)) out.push(v.buffer as ArrayBuffer)
    else if (v && typeof v === 'object' && 'offsets' in v) {
      const d = v as TraceDataset
      out.push(...[d.offsets, d.obs, d.actions, d.mask, d.scores].map((a) => a.buffer as ArrayBuffer))
    }
  }
  return [...new Set(out)]
}

async function run(id: number, op: ModelOp, input: unknown): Promise<unknown> {
  const progress = (phase: string, done: number, total: number, tokensPerSecond?: number): void =>
    port!.postMessage({ type: 'progress', id, phase, done, total, tokensPerSecond } satisfies FromWorker)
  const hooks = { cancelled: () => cancelled.has(id), onProgress: (d: number, t: number, tps: number) => progress(op === 'sample' ? 'sample' : 'score', d, t, tps) }
  switch (op) {
    case 'describe': {
      const { path } = input as ModelOps['describe']['input']
      progress('describe', 0, 1)
      const description = await describeLlm(path)
      // refused now, not at the first load: a type the engine cannot turn into float32
      const unsupported = Object.keys(description.tensorTypes).filter((t) => !(DEQUANT_TYPES as readonly string[]).includes(t))
      if (unsupported.length) throw new UnsupportedTensorType(unsupported.join(', '), `model "${path}"`)
      const { tokenizer } = await openLlmTokenizer(path)
      const files = description.files.map((f) => {
        const s = statSync(f)
        return { path: f, bytes: s.size, mtimeMs: s.mtimeMs }
      })
      const total = files.reduce((a, f) => a + f.bytes, 0)
      const hash = await hashLlmFiles(description.files, (b) => progress('hash', b, total))
      return { description, tokenizerHash: tokenizerFingerprint(tokenizer), hash, files }
    }
    case 'generate': {
      const i = input as ModelOps['generate']['input']
      return generateText(await model(i.model, progress), i.model.name, i)
    }
    case 'score': {
      const i = input as ModelOps['score']['input']
      return scoreText(await model(i.model, progress), i.model.name, i)
    }
    case 'scoreDataset': {
      const i = input as ModelOps['scoreDataset']['input']
      return scoreDatasetLogProbs(await model(i.model, progress), i.model.name, i.dataset, hooks)
    }
    case 'sample': {
      const i = input as ModelOps['sample']['input']
      return sampleDataset(await model(i.model, progress), i.model.name, i.rows, i.options, hooks)
    }
    case 'release': {
      const had = loaded !== null
      loaded?.llm.dispose()
      loaded = null
      return { released: had }
    }
    default:
      throw new Error(`unknown model operation "${String(op)}"`)
  }
}

port.on('message', (m: ToWorker) => {
  if (m.type === 'cancel') {
    cancelled.add(m.id)
    return
  }
  // one operation at a time: tfjs runs on this thread
  queue = queue.then(async () => {
    try {
      const result = await run(m.id, m.op, m.input)
      port.postMessage({ type: 'done', id: m.id, result } satisfies FromWorker, transferOf(result))
    } catch (e) {
      port.postMessage({ type: 'error', id: m.id, message: e instanceof Error ? e.message : String(e) } satisfies FromWorker)
    } finally {
      cancelled.delete(m.id)
    }
  })
})
