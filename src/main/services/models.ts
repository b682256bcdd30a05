// models.*: real language models in the project (issue 13). A model is a record (store/model-store.ts)
// of where its files are, what it is and the hash of its bytes; the model worker (jobs/model-host.ts)
// reads, loads and runs it off this thread, keeping the last model loaded. model.progress events
// carry the caller's jobId; models.cancel stops a scoring or sampling job at its next batch.
//
// What is stored:
//   models.scoreDataset  log π(a_t | a_<t) of every completion token, in the reference cache under
//                        (model hash + how the text became tokens, dataset hash): what a run with
//                        reference { kind: model } and the Imported weights view read
//   models.weighDataset  two models' scores as the dataset's imported log-probs (π_ref and q), so
//                        the Imported weights view shows w = q/π_ref per trace and per token
//   models.sample        K completions per prompt as a new dataset, scored by the verifier, in ONE
//                        transaction with: the model's own log-probs of every generated token
//                        (temperature 1, whatever the sampling temperature: the exact π_ref) in the
//                        reference cache and as the imported reference log-probs, the sampling
//                        distribution's (temperature T, top-p) as the imported "policy" log-probs
//                        (equal to π_ref at temperature 1 and top-p 1), and which tokenizer made it
import { readFile } from 'node:fs/promises'
import { basename, extname, resolve } from 'node:path'
import { ApiError, type Handlers } from '../../shared/contract.ts'
import type { ModelInfo, ModelProgress, SampleResult, ScoreDatasetResult } from '../../shared/models.ts'
import { checkLogProbs } from '../engine/byo-weights.ts'
import { parseCsv, parseJsonl } from '../engine/data/import-text.ts'
import { makeVerifier, type PromptRow } from '../engine/datasets/verifiers.ts'
import { FETCHABLE, fetchWheelModel } from '../jobs/model-fetch.ts'
import { ModelHost } from '../jobs/model-host.ts'
import { checkModelMemory, modelRefKey } from '../jobs/model-ops.ts'
import { modelRefOf, ModelReferenceError, requireModel, resolveModelReference } from '../jobs/model-reference.ts'
import type { ModelOps } from '../jobs/model-worker.ts'
import type { ProjectStore } from '../store/types.ts'
import { forget } from './byo-service.ts'
import type { ServiceContext } from './context.ts'

type ModelRequests =
  | 'models.list'
  | 'models.get'
  | 'models.add'
  | 'models.fetch'
  | 'models.remove'
  | 'models.generate'
  | 'models.score'
  | 'models.scoreDataset'
  | 'models.weighDataset'
  | 'models.sample'
  | 'models.cancel'

/** A model by name or id, or not_found naming the models there are. */
export function findModel(store: ProjectStore, ref: string): ModelInfo {
  try {
    return requireModel(store, ref)
  } catch (e) {
    throw e instanceof ModelReferenceError ? new ApiError(e.message, e.code) : e
  }
}

/** A model's tokenizer for `datasets.import --tokenizer-model`: its path, whether prompts go through
 *  its chat template (default: when it has one), and the record the dataset keeps of it. */
export function tokenizerModelFor(
  store: ProjectStore,
  ref: string,
  chat: boolean | undefined
): { path: string; chat: boolean; record: (fromText: boolean) => { tokenizerHash: string; template: 'chat' | 'plain' | 'ids'; modelName: string } } {
  const m = findModel(store, ref)
  const useChat = chat ?? m.details.chatTemplate !== null
  if (useChat && m.details.chatTemplate === null) throw new ApiError(`model "${m.name}" has no chat template; import the data as plain text (chat: false)`, 'invalid_input')
  return { path: m.path, chat: useChat, record: (fromText) => ({ tokenizerHash: m.tokenizerHash, template: fromText ? (useChat ? 'chat' : 'plain') : 'ids', modelName: m.name }) }
}

/** The prompts of a sampling job: JSONL or CSV rows with a "prompt" column, or any other text
 *  file read as one prompt a line (blank lines skipped). */
async function readPrompts(file: string): Promise<PromptRow[]> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (e) {
    throw new ApiError(`prompts file "${file}": cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, 'invalid_input')
  }
  const ext = extname(file).toLowerCase()
  let rows: Record<string, unknown>[]
  let where: (i: number) => string
  if (ext === '.jsonl' || ext === '.ndjson' || ext === '.csv') {
    const src = ext === '.csv' ? parseCsv(text, file) : parseJsonl(text, file)
    rows = src.rows
    where = (i) => `prompts file "${file}", line ${src.numbers[i]}`
  } else {
    const lines = text.split(/\r?\n/)
    rows = []
    const numbers: number[] = []
    lines.forEach((l, i) => {
      if (l.trim()) {
        rows.push({ prompt: l })
        numbers.push(i + 1)
      }
    })
    where = (i) => `prompts file "${file}", line ${numbers[i]}`
  }
  if (rows.length === 0) throw new ApiError(`prompts file "${file}": has no prompts`, 'invalid_input')
  return rows.map((r, i) => {
    if (typeof r.prompt !== 'string' || !r.prompt.trim()) throw new ApiError(`${where(i)}: needs a non-empty "prompt" (columns: ${Object.keys(r).join(', ') || 'none'})`, 'invalid_input')
    const out: PromptRow = {}
    for (const [k, v] of Object.entries(r)) {
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = v
      else if (v !== null && v !== undefined) out[k] = JSON.stringify(v)
    }
    return out
  })
}

export function modelHandlers(ctx: ServiceContext): Pick<Handlers, ModelRequests> {
  const host = new ModelHost()
  ctx.onProjectClose(() => host.close())
  const running = new Map<string, { cancel(): void }>()
  let anon = 0
  const jobOf = (jobId: string | undefined): string => jobId ?? `model-job-${++anon}`
  const report = (jobId: string, p: Omit<ModelProgress, 'jobId'>): void => ctx.emit('model.progress', { jobId, ...p })
  /** a job's progress as events: at most ten a second, and always the end of a phase */
  const running1 = (jobId: string) => {
    let last = 0
    let lastPhase = ''
    return (phase: string, done: number, total: number, tokensPerSecond?: number): void => {
      const now = Date.now()
      if (phase === lastPhase && now - last < 100 && done < total) return
      last = now
      lastPhase = phase
      report(jobId, { phase, done, total, status: 'running', ...(tokensPerSecond !== undefined ? { tokensPerSecond } : {}) })
    }
  }

  /** run a model operation as the job `jobId`: progress events, cancel, and its end reported */
  const job = async <O extends keyof ModelOps>(jobId: string, op: O, input: ModelOps[O]['input']): Promise<ModelOps[O]['result']> => {
    if (running.has(jobId)) throw new ApiError(`job "${jobId}" is already running; choose another jobId`, 'invalid_input')
    const r = host.request(op, input, { onProgress: running1(jobId) })
    running.set(jobId, r)
    try {
      return await r.done
    } catch (e) {
      report(jobId, { phase: op, done: 0, total: 1, status: 'failed', error: e instanceof Error ? e.message : String(e) })
      throw e
    } finally {
      running.delete(jobId)
    }
  }

  /** describe + hash a model's files (in the worker) and record it */
  const register = async (path: string, source: string, name: string | undefined, jobId: string, defaultName: string): Promise<{ model: ModelInfo; created: boolean }> => {
    let d: ModelOps['describe']['result']
    try {
      d = await job(jobId, 'describe', { path })
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e)
      throw new ApiError(msg.includes(path) || msg.includes(basename(path)) ? msg : `${path}: ${msg}`, 'invalid_data')
    }
    const desc = d.description
    const existing = ctx.store.listModels().find((m) => m.hash === d.hash)
    if (existing) return { model: existing, created: false }
    const finalName = name ?? freeName(ctx.store, defaultName)
    if (name && /^\d+$/.test(name))
      throw new ApiError(`a model name of digits only ("${name}") would read as an id; choose a name with a letter`, 'invalid_input', [{ path: 'name', message: 'digits only' }])
    if (name && ctx.store.findModel(name))
      throw new ApiError(`a different model is already called "${name}"; give this one another name`, 'exists', [{ path: 'name', message: 'already used' }])
    checkModelMemory(finalName, desc.memoryBytes, 'add')
    const s = desc.spec
    const { id } = ctx.store.putModel({
      name: finalName,
      source,
      path,
      format: desc.format,
      architecture: s.arch,
      parameters: desc.parameters,
      layers: s.nLayers,
      contextLength: s.contextLength,
      vocabSize: s.vocabSize,
      hash: d.hash,
      memoryBytes: desc.memoryBytes,
      tokenizerHash: d.tokenizerHash,
      details: {
        generalName: desc.name,
        dModel: s.dModel,
        nHeads: s.nHeads,
        nKvHeads: s.nKvHeads,
        headDim: s.headDim,
        dFF: s.dFF,
        tiedHead: s.tiedHead,
        norm: s.norm,
        activation: s.activation,
        rope: s.rope ? { theta: s.rope.theta, scaling: s.rope.scaling ? JSON.stringify(s.rope.scaling) : null } : null,
        files: d.files,
        tensorTypes: desc.tensorTypes,
        tokenizer: desc.tokenizer,
        chatTemplate: desc.chatTemplate
      }
    })
    report(jobId, { phase: 'describe', done: 1, total: 1, status: 'completed' })
    ctx.emit('project.changed', { what: 'models' })
    return { model: ctx.store.getModel(id)!, created: true }
  }

  /** reference scoring of one dataset with one model, through the cache */
  const scoreDataset = async (ref: string, datasetId: number, jobId: string): Promise<{ model: ModelInfo; result: ScoreDatasetResult; logp: Float32Array }> => {
    let r: ReturnType<typeof resolveModelReference>
    try {
      r = resolveModelReference(ctx.store, ref, datasetId)
    } catch (e) {
      throw e instanceof ModelReferenceError ? new ApiError(e.message, e.code) : e
    }
    const { model: m, refKey } = r
    const summary = ctx.datasetSummary(datasetId)
    const cached = ctx.store.getRefLogProbs(refKey, summary.hash)
    const ds = ctx.dataset(datasetId)
    const scored = (): number => {
      let n = 0
      for (const v of ds.mask) n += v
      return n
    }
    if (cached) {
      report(jobId, { phase: 'score', done: 1, total: 1, status: 'completed' })
      return { model: m, result: { model: m.name, datasetId, refKey, tokens: scored(), cached: true, seconds: 0, tokensPerSecond: 0 }, logp: cached }
    }
    // a copy goes to the worker (the cached dataset's buffers stay here)
    const res = await job(jobId, 'scoreDataset', { model: modelRefOf(m), dataset: ds })
    if (res === 'cancelled') {
      report(jobId, { phase: 'score', done: 0, total: 1, status: 'cancelled' })
      throw new ApiError(`scoring of dataset ${datasetId} with model "${m.name}" was cancelled; nothing was stored`, 'failed')
    }
    ctx.store.putRefLogProbs(refKey, summary.hash, res.logp)
    const tokensPerSecond = res.tokens / Math.max(1e-9, res.seconds)
    report(jobId, { phase: 'score', done: 1, total: 1, status: 'completed', tokensPerSecond })
    return { model: m, result: { model: m.name, datasetId, refKey, tokens: scored(), cached: false, seconds: res.seconds, tokensPerSecond }, logp: res.logp }
  }

  return {
    'models.list': async () => ctx.store.listModels(),
    'models.get': async ({ model }) => findModel(ctx.store, model),
    'models.add': async ({ path, name, jobId }) => {
      const abs = resolve(path)
      return register(abs, `${/\.gguf$/i.test(abs) ? 'file' : 'folder'}:${abs}`, name, jobOf(jobId), basename(abs).replace(/\.gguf$/i, ''))
    },
    'models.fetch': async ({ model, jobId }) => {
      const id = jobOf(jobId)
      const known = FETCHABLE[model]
      let got: Awaited<ReturnType<typeof fetchWheelModel>>
      try {
        got = await fetchWheelModel(known, (p) => report(id, { phase: p.phase, done: p.done, total: p.total, status: 'running' }))
      } catch (e) {
        report(id, { phase: 'download', done: 0, total: 1, status: 'failed', error: e instanceof Error ? e.message : String(e) })
        throw e
      }
      const r = await register(got.path, `fetch:${model}`, undefined, id, model)
      return { ...r, downloaded: got.downloaded }
    },
    'models.remove': async ({ model }) => {
      const m = findModel(ctx.store, model)
      ctx.store.deleteModel(m.id)
      ctx.emit('project.changed', { what: 'models' })
      return { ok: true as const }
    },
    'models.generate': async ({ model, jobId, ...i }) => {
      const m = findModel(ctx.store, model)
      const id = jobOf(jobId)
      const r = await job(id, 'generate', { model: modelRefOf(m), ...i })
      report(id, { phase: 'generate', done: 1, total: 1, status: 'completed' })
      return r
    },
    'models.score': async ({ model, jobId, ...i }) => {
      const m = findModel(ctx.store, model)
      const id = jobOf(jobId)
      const r = await job(id, 'score', { model: modelRefOf(m), ...i })
      report(id, { phase: 'score', done: 1, total: 1, status: 'completed' })
      return r
    },
    'models.scoreDataset': async ({ model, datasetId, jobId }) => (await scoreDataset(model, datasetId, jobOf(jobId))).result,
    'models.weighDataset': async ({ datasetId, ref, q, jobId }) => {
      const id = jobOf(jobId)
      const a = await scoreDataset(ref, datasetId, `${id}:ref`)
      const b = await scoreDataset(q, datasetId, `${id}:q`)
      const ds = ctx.dataset(datasetId)
      checkLogProbs(ds, a.logp, b.logp)
      const summary = ctx.datasetSummary(datasetId)
      ctx.store.putImportedDataset(ds, summary.source, { ref: a.logp, policy: b.logp, tokenizer: { kind: 'llm', path: a.model.path } })
      forget(ctx.store, datasetId)
      report(id, { phase: 'store', done: 1, total: 1, status: 'completed' })
      ctx.emit('project.changed', { what: 'datasets' })
      return { datasetId, ref: a.result, q: b.result }
    },
    'models.sample': async (input) => {
      const id = jobOf(input.jobId)
      const m = findModel(ctx.store, input.model)
      if (input.verify) makeVerifier(input.verify) // a bad verifier is refused before any work
      const rows = input.rows ? (input.rows as PromptRow[]) : await readPrompts(resolve(input.file!))
      const chat = input.chat ?? m.details.chatTemplate !== null
      if (chat && m.details.chatTemplate === null) throw new ApiError(`model "${m.name}" has no chat template; sample with chat: false`, 'invalid_input')
      const options = {
        k: input.k ?? 8,
        temperature: input.temperature ?? 1,
        topP: input.topP ?? 1,
        maxTokens: input.maxTokens ?? 128,
        seed: input.seed ?? 0,
        verify: input.verify,
        chat,
        name: input.name ?? `samples · ${m.name}`
      }
      const r = await job(id, 'sample', { model: modelRefOf(m), rows, options })
      if (r === 'cancelled') {
        report(id, { phase: 'sample', done: 0, total: 1, status: 'cancelled' })
        throw new ApiError(`sampling with model "${m.name}" was cancelled; nothing was stored`, 'failed')
      }
      report(id, { phase: 'store', done: 0, total: 1, status: 'running' })
      const template = chat ? 'chat' : 'plain'
      const source = `sample:${m.name} k=${options.k} T=${options.temperature}${options.verify ? ` verify=${options.verify}` : ''}`
      const stored = ctx.store.transaction(() => {
        const s = ctx.store.putImportedDataset(r.dataset, source, { ref: r.modelLogprobs, policy: r.samplingLogprobs, tokenizer: { kind: 'llm', path: m.path } })
        ctx.store.setDatasetTokenization(s.id, { tokenizerHash: m.tokenizerHash, template, modelName: m.name })
        ctx.store.putRefLogProbs(modelRefKey(m.hash, template), s.hash, r.modelLogprobs)
        return s
      })
      forget(ctx.store, stored.id)
      report(id, { phase: 'store', done: 1, total: 1, status: 'completed', tokensPerSecond: r.tokens / Math.max(1e-9, r.seconds) })
      ctx.emit('project.changed', { what: 'datasets' })
      const out: SampleResult = {
        dataset: ctx.datasetSummary(stored.id),
        prompts: rows.length,
        samples: rows.length * options.k,
        passed: r.passed,
        tokens: r.tokens,
        seconds: r.seconds,
        tokensPerSecond: r.tokens / Math.max(1e-9, r.seconds),
        logprobs:
          options.temperature === 1 && options.topP === 1
            ? "each token's log-prob under the model (temperature 1): the exact π_ref, stored as the reference log-probs and in the reference cache"
            : `each token's log-prob under the model (temperature 1, the exact π_ref: reference log-probs and reference cache) and under the sampling distribution (temperature ${options.temperature}, top-p ${options.topP}: the imported policy log-probs)`
      }
      return out
    },
    'models.cancel': async ({ jobId }) => {
      const r = running.get(jobId)
      r?.cancel()
      return { cancelled: Boolean(r) }
    }
  }
}

/** `base`, or `base-2`, `base-3` … whichever no model has yet (never all digits: that reads as an id) */
function freeName(store: ProjectStore, base: string): string {
  const b = /^\d+$/.test(base) ? `model-${base}` : base
  if (!store.findModel(b)) return b
  for (let i = 2; ; i++) if (!store.findModel(`${b}-${i}`)) return `${b}-${i}`
}
