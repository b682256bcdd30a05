// What the workbench does with a loaded model (issue 13), on plain data (no store): generate from
// a prompt, score a completion, score every trace of a dataset (reference scoring), and sample K
// completions per prompt into a scored dataset. The model worker (model-worker.ts) runs these for
// the services; execute-run.ts scores a run's reference with scoreDatasetLogProbs; tests call them
// directly. Long loops yield between batches so a cancel message gets through.
//
// Token convention (as engine/llm/policy.ts): a trace holds the tokens exactly as the model reads
// them, prompt (mask 0: the chat template's rendering, or the model's BOS and the text) then
// completion (mask 1: the answer and the template's end-of-turn tokens, or the text and EOS).
// Log-probs are log p(token_t | tokens_<t) on completion steps and 0 on prompt steps.
import { statSync } from 'node:fs'
import { freemem, totalmem } from 'node:os'
import * as tf from '@tensorflow/tfjs'
import type { ModelGeneration, ModelScore } from '../../shared/models.ts'
import { fromTraces, numTraces, totalSteps, type TraceDataset } from '../common/trace.ts'
import { readBack } from '../engine/backend/readback.ts'
import { disposeBatch, gatherBatch, scatterSteps, toDevice } from '../engine/data/batch.ts'
import { makeVerifier, type PromptRow } from '../engine/datasets/verifiers.ts'
import { chatPromptCompletion, encodeChat, generate, hashLlmFiles, LlmError, LlmPolicy, plainPromptCompletion, scoreCompletions, type LoadedLlm } from '../engine/llm/index.ts'
import { Rng } from '../engine/rng.ts'

/** A model as the jobs need it (a row of the store's models table, trimmed). */
export interface ModelRef {
  name: string
  path: string
  hash: string
  memoryBytes: number
  files: Array<{ path: string; bytes: number; mtimeMs: number }>
}

const GB = 1024 ** 3
const gb = (b: number): string => `${(b / GB).toFixed(2)} GB`

/** Total and available memory in bytes. IWSFT_MEMORY_LIMIT (bytes) caps both: to test the
 *  refusal, or to keep the workbench inside a budget. */
export function systemMemory(): { total: number; available: number } {
  const cap = Number(process.env.IWSFT_MEMORY_LIMIT)
  const lim = Number.isFinite(cap) && cap > 0 ? cap : Infinity
  return { total: Math.min(totalmem(), lim), available: Math.min(freemem(), lim) }
}

/** Refuse a model this machine cannot hold, before anything is loaded: `when` is 'add' (compared
 *  with all the memory there is) or 'load' (with what is available now, plus `freed` bytes the
 *  loader gives back first). The message gives the estimate. */
export function checkModelMemory(name: string, need: number, when: 'add' | 'load', mem = systemMemory(), freed = 0): void {
  if (when === 'add' && need > mem.total) {
    throw new LlmError(
      `model "${name}" needs about ${gb(need)} of memory in float32 (weights and a scoring batch of 8 × 256 tokens); this machine has ${gb(mem.total)} in all, so it cannot be loaded here`
    )
  }
  if (when === 'load' && need > mem.available + freed) {
    throw new LlmError(
      `model "${name}" needs about ${gb(need)} of memory in float32 (weights and a scoring batch of 8 × 256 tokens); ${gb(mem.available + freed)} is available now (of ${gb(mem.total)}); close other programs and try again`
    )
  }
}

/** The model's files as recorded (paths, sizes, modification times): a changed file is hashed
 *  again, and refused when its bytes are no longer the model that was added. */
export async function verifyModelFiles(m: ModelRef, onHash?: (bytes: number) => void): Promise<void> {
  let changed = false
  for (const f of m.files) {
    let s
    try {
      s = statSync(f.path)
    } catch {
      throw new LlmError(`model "${m.name}": its file ${f.path} is gone; put it back, or remove the model and add it again`)
    }
    if (s.size !== f.bytes || Math.abs(s.mtimeMs - f.mtimeMs) > 1) changed = true
  }
  if (!changed) return
  const h = await hashLlmFiles(
    m.files.map((f) => f.path),
    onHash
  )
  if (h !== m.hash)
    throw new LlmError(
      `model "${m.name}": the files at ${m.path} changed since the model was added (sha256 ${h.slice(0, 12)}…, recorded ${m.hash.slice(0, 12)}…); add it again under a new name`
    )
}

/** The reference cache's key for a model's log-probs over a dataset: the model's hash and how the
 *  dataset's text was made into tokens ('chat', 'plain', or 'ids' when it came as token ids): the
 *  dataset's hash (the other half of the key) covers the tokens themselves. */
export function modelRefKey(modelHash: string, template: 'chat' | 'plain' | 'ids'): string {
  return `model:${modelHash}:${template}`
}

/** A prompt's ids as the model reads it: a user turn of its chat template, or the text after its BOS. */
export function promptIds(llm: LoadedLlm, prompt: string, chat: boolean): number[] {
  const tok = llm.tokenizer
  if (chat) {
    if (!llm.chat) throw new LlmError(`model "${llm.description.name}" has no chat template; use plain text (no --chat)`)
    return encodeChat(tok, llm.chat, [{ role: 'user', content: prompt }], true)
  }
  const ids = tok.encode(prompt)
  if (tok.addBos) ids.unshift(tok.bos)
  return ids
}

export interface GenerateInput {
  prompt: string
  chat?: boolean
  maxTokens?: number
  temperature?: number
  topP?: number
  seed?: number
}

/** One continuation of a prompt (temperature 0 = greedy). */
export function generateText(llm: LoadedLlm, name: string, i: GenerateInput): ModelGeneration {
  const t0 = performance.now()
  const ids = promptIds(llm, i.prompt, i.chat ?? false)
  if (ids.length === 0) throw new LlmError(`model "${name}" adds no BOS token, so an empty prompt gives it nothing to continue; write a prompt`)
  const temperature = i.temperature ?? 1
  const [g] = generate(llm.model, [ids], {
    maxNewTokens: i.maxTokens ?? 64,
    temperature,
    topP: i.topP ?? 1,
    stop: llm.tokenizer.eosIds,
    rng: new Rng(i.seed ?? 0)
  })
  return {
    model: name,
    prompt_tokens: ids,
    tokens: g.tokens,
    text: llm.tokenizer.decode(g.tokens),
    logprobs: g.logprobs,
    modelLogprobs: g.modelLogprobs,
    tokenTexts: g.tokens.map((t) => llm.tokenizer.tokenText(t)),
    finish: g.finish,
    seconds: (performance.now() - t0) / 1000
  }
}

/** The completion's per-token log-probs given the prompt (through the chat template with `chat`). */
export function scoreText(llm: LoadedLlm, name: string, i: { prompt: string; completion: string; chat?: boolean }): ModelScore {
  const t0 = performance.now()
  const tok = llm.tokenizer
  let pair: { prompt: number[]; completion: number[] }
  if (i.chat) {
    if (!llm.chat) throw new LlmError(`model "${name}" has no chat template; score plain text (no --chat)`)
    pair = chatPromptCompletion(tok, llm.chat, i.prompt, i.completion)
  } else pair = plainPromptCompletion(tok, i.prompt, i.completion)
  if (pair.prompt.length === 0) throw new LlmError(`model "${name}" adds no BOS token, so the first token of a completion without a prompt cannot be scored; give a prompt`)
  const [lp] = scoreCompletions(llm.model, [pair])
  return {
    model: name,
    prompt_tokens: pair.prompt,
    tokens: pair.completion,
    logprobs: Array.from(lp),
    tokenTexts: pair.completion.map((t) => tok.tokenText(t)),
    seconds: (performance.now() - t0) / 1000
  }
}

export interface LoopHooks {
  /** checked between batches; true stops the loop ('cancelled') */
  cancelled?: () => boolean
  /** items done of total, and tokens a second so far */
  onProgress?: (done: number, total: number, tokensPerSecond: number) => void
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r))

/** Every token id of the dataset must be in the model's vocabulary: the first that is not is
 *  named with its trace. */
export function checkDatasetIds(ds: TraceDataset, vocab: number, model: string): void {
  if (ds.kind !== 'sequence') throw new LlmError(`dataset "${ds.name}" holds ${ds.kind} actions, not tokens; a language model scores sequence (text) datasets`)
  const a = ds.actions
  for (let i = 0; i < numTraces(ds); i++) {
    for (let s = ds.offsets[i]; s < ds.offsets[i + 1]; s++) {
      if (a[s] < 0 || a[s] >= vocab || !Number.isInteger(a[s])) {
        throw new LlmError(
          `dataset "${ds.name}", trace "${ds.ids[i]}" (index ${i}), token ${s - ds.offsets[i]}: id ${a[s]} is outside the vocabulary of model "${model}" (0..${vocab - 1}); import the data with this model's tokenizer`
        )
      }
    }
  }
}

/** log p(a_t | a_<t) of every completion (mask 1) step of the dataset under the model, in the
 *  dataset's flat step layout; prompt steps are 0. Traces go in batches of similar length. */
export async function scoreDatasetLogProbs(
  llm: LoadedLlm,
  name: string,
  ds: TraceDataset,
  hooks: LoopHooks = {},
  batchSize = 8
): Promise<{ logp: Float32Array; tokens: number; seconds: number } | 'cancelled'> {
  checkDatasetIds(ds, llm.spec.vocabSize, name)
  const policy = new LlmPolicy(llm.model, { model: name, prependBos: false })
  const N = numTraces(ds)
  const order = Array.from({ length: N }, (_, i) => i).sort((x, y) => ds.offsets[x + 1] - ds.offsets[x] - (ds.offsets[y + 1] - ds.offsets[y]) || x - y)
  const out = new Float32Array(totalSteps(ds))
  const t0 = performance.now()
  let tokens = 0
  for (let c = 0; c < N; c += batchSize) {
    if (hooks.cancelled?.()) return 'cancelled'
    const part = order.slice(c, c + batchSize)
    const host = gatherBatch(ds, part)
    const batch = toDevice(host, ds)
    try {
      const lp = readBack(
        tf.tidy(() => policy.logProbs(batch)),
        { dispose: true }
      ) as Float32Array
      scatterSteps(ds, host, lp, out)
    } finally {
      disposeBatch(batch)
    }
    for (const i of part) tokens += ds.offsets[i + 1] - ds.offsets[i]
    hooks.onProgress?.(Math.min(c + batchSize, N), N, tokens / Math.max(1e-9, (performance.now() - t0) / 1000))
    await tick()
  }
  // completion tokens only: the prompt is given, not scored
  for (let s = 0; s < out.length; s++) if (!ds.mask[s]) out[s] = 0
  return { logp: out, tokens, seconds: (performance.now() - t0) / 1000 }
}

export interface SampleOptions {
  k: number
  temperature: number
  topP?: number
  maxTokens: number
  seed: number
  /** "arithmetic", "answer:COLUMN", "regex:PATTERN", or none (every trace scores 1) */
  verify?: string
  chat: boolean
  /** the dataset's name */
  name: string
  /** prompts decoded together (default 16) */
  batchSize?: number
}

export interface SampledDataset {
  dataset: TraceDataset
  /** per step: log π(x_t | x_<t) under the model itself (temperature 1): π_ref for importance weights */
  modelLogprobs: Float32Array
  /** per step: log-probs under the distribution sampled from (temperature, top-p) */
  samplingLogprobs: Float32Array
  tokens: number
  passed: number | null
  seconds: number
}

/** K completions of every prompt, each scored by the verifier: a dataset ready for curation,
 *  with both log-probs of every generated token. The same seed and settings give the same
 *  dataset (one random stream, prompts in file order, batches of batchSize rows). */
export async function sampleDataset(llm: LoadedLlm, modelName: string, rows: PromptRow[], o: SampleOptions, hooks: LoopHooks = {}): Promise<SampledDataset | 'cancelled'> {
  const verifier = o.verify ? makeVerifier(o.verify) : null
  const prompts = rows.map((r, i) => {
    const p = r.prompt
    if (typeof p !== 'string' || p.length === 0) throw new LlmError(`prompt row ${i + 1}: needs a non-empty "prompt" (columns: ${Object.keys(r).join(', ')})`)
    const ids = promptIds(llm, p, o.chat)
    if (ids.length === 0) throw new LlmError(`prompt row ${i + 1}: model "${modelName}" adds no BOS, so this prompt gives it nothing to continue`)
    return ids
  })
  // one row a (prompt, sample) pair, prompt by prompt
  const jobs: Array<{ p: number; j: number }> = []
  for (let p = 0; p < rows.length; p++) for (let j = 0; j < o.k; j++) jobs.push({ p, j })
  const rng = new Rng(o.seed)
  const bs = Math.max(1, o.batchSize ?? 16)
  const gens: Array<{ tokens: number[]; logprobs: number[]; modelLogprobs: number[]; finish: string }> = new Array(jobs.length)
  const t0 = performance.now()
  let produced = 0
  for (let c = 0; c < jobs.length; c += bs) {
    if (hooks.cancelled?.()) return 'cancelled'
    const group = jobs.slice(c, c + bs)
    const out = generate(
      llm.model,
      group.map((g) => prompts[g.p]),
      { maxNewTokens: o.maxTokens, temperature: o.temperature, topP: o.topP ?? 1, stop: llm.tokenizer.eosIds, rng }
    )
    out.forEach((g, i) => {
      gens[c + i] = g
      produced += g.tokens.length
    })
    hooks.onProgress?.(Math.min(c + bs, jobs.length), jobs.length, produced / Math.max(1e-9, (performance.now() - t0) / 1000))
    await tick()
  }
  let passed = 0
  const traces = jobs.map(({ p, j }, n) => {
    const g = gens[n]
    const text = llm.tokenizer.decode(g.tokens)
    const row = rows[p]
    const score = verifier ? verifier.score(row, text, `prompt row ${p + 1}`) : 1
    if (score > 0) passed++
    const pl = prompts[p].length
    const id = row.id !== undefined ? String(row.id) : String(p)
    const meta: Record<string, unknown> = { ...row, completion: text, sample: j, finish: g.finish }
    return {
      id: `${id}/${j}`,
      actions: [...prompts[p], ...g.tokens],
      mask: [...new Array<number>(pl).fill(0), ...new Array<number>(g.tokens.length).fill(1)],
      score,
      meta,
      lp: g
    }
  })
  const dataset = fromTraces(o.name, 'sequence', 0, llm.spec.vocabSize, traces)
  const T = totalSteps(dataset)
  const modelLogprobs = new Float32Array(T)
  const samplingLogprobs = new Float32Array(T)
  traces.forEach((t, i) => {
    const start = dataset.offsets[i] + prompts[jobs[i].p].length
    modelLogprobs.set(t.lp.modelLogprobs, start)
    samplingLogprobs.set(t.lp.logprobs, start)
  })
  return { dataset, modelLogprobs, samplingLogprobs, tokens: produced, passed: verifier ? passed : null, seconds: (performance.now() - t0) / 1000 }
}
