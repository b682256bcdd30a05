// KV-cached sampling from a causal LM, batched over prompts of different lengths.
//
// Prompts are left-padded to a common length L; padded keys are masked and each row's positions
// count from its first real token, so a prompt gives the same continuation alone or in a batch
// (up to float rounding). The prompt pass fills every layer's key/value cache; each step then
// feeds one token a row. A row stops at a stop token (kept in its output, with its log-prob: the
// trace's probability includes ending there), after maxNewTokens, or at the context length;
// finished rows leave the batch.
//
// Log-probs returned per generated token:
//   logprobs       log q(x_t | x_<t) under the distribution actually sampled from:
//                  softmax(logits / temperature), restricted to the top-p nucleus and
//                  renormalised. At temperature 1 and topP 1 this is the model's own
//                  log p(x_t | x_<t), equal to a teacher-forced re-score (scoreSequences) of the
//                  same ids within float tolerance: an exact π_ref for importance weights.
//                  At temperature 0 (greedy) it is 0 (the choice is certain).
//   modelLogprobs  log p(x_t | x_<t) under the model itself (temperature 1, no nucleus), whatever
//                  the sampling settings: what a re-score gives.
// Randomness: rng draws one uniform per row per step, rows in prompt order.
import * as tf from '@tensorflow/tfjs'
import type { KV } from './attention.ts'
import type { CausalLm } from './decoder.ts'
import { LlmError } from './errors.ts'
import type { Rng } from '../rng.ts'

export interface GenerateOptions {
  maxNewTokens: number
  /** 0 = greedy (argmax, lowest id on ties); default 1 */
  temperature?: number
  /** nucleus: the smallest set of most likely tokens with probability ≥ topP (default 1) */
  topP?: number
  /** ids that end a row (default: none; callers pass the tokenizer's eosIds) */
  stop?: number[]
  /** required when temperature > 0 */
  rng?: Rng
  /** rows decoded together (default: all prompts) */
  batchSize?: number
  /** called after every step with tokens generated so far (all rows) */
  onStep?: (tokens: number) => void
}

export interface Generation {
  tokens: number[]
  logprobs: number[]
  modelLogprobs: number[]
  /** 'stop': ended on a stop token; 'length': maxNewTokens; 'context': the context length */
  finish: 'stop' | 'length' | 'context'
}

/** One row of logits → chosen token and its log-probs (sampling distribution, model). */
export function sampleRow(logits: Float32Array, temperature: number, topP: number, rng: Rng | undefined): { token: number; logprob: number; modelLogprob: number } {
  const V = logits.length
  let max = -Infinity
  let arg = 0
  for (let i = 0; i < V; i++) {
    if (logits[i] > max) {
      max = logits[i]
      arg = i
    }
  }
  // p ∝ exp((logits − max) / temperature); at temperature 1 the same numbers give the model's lse
  const t1 = temperature === 1
  const p = temperature > 0 ? new Float64Array(V) : null
  let sum = 0
  let sum1 = 0
  for (let i = 0; i < V; i++) {
    const e = Math.exp(logits[i] - max)
    sum1 += e
    if (p) {
      p[i] = t1 ? e : Math.exp((logits[i] - max) / temperature)
      sum += p[i]
    }
  }
  const lse1 = max + Math.log(sum1)
  if (!p) return { token: arg, logprob: 0, modelLogprob: logits[arg] - lse1 }
  if (!rng) throw new LlmError('sampling with temperature > 0 needs an rng')
  let token = -1
  let total = sum
  if (topP < 1) {
    // candidates: every token with p ≥ t for the largest t = pmax·10^−k whose set already holds
    // topP of the mass (the nucleus is a prefix of the sorted order, so it lies inside)
    let cand: number[]
    for (let thr = 1e-3; ; thr *= 1e-3) {
      cand = []
      let mass = 0
      for (let i = 0; i < V; i++) {
        if (p[i] >= thr) {
          cand.push(i)
          mass += p[i]
        }
      }
      if (mass >= topP * sum || thr < 1e-300) break
    }
    cand.sort((a, b) => p[b] - p[a] || a - b)
    let cum = 0
    let keep = 0
    while (keep < cand.length) {
      cum += p[cand[keep]]
      keep++
      if (cum >= topP * sum) break
    }
    total = cum
    let u = rng.next() * total
    for (let k = 0; k < keep; k++) {
      u -= p[cand[k]]
      if (u < 0) {
        token = cand[k]
        break
      }
    }
    if (token < 0) token = cand[keep - 1]
  } else {
    let u = rng.next() * sum
    for (let i = 0; i < V; i++) {
      u -= p[i]
      if (u < 0) {
        token = i
        break
      }
    }
    if (token < 0) token = arg
  }
  return { token, logprob: Math.log(p[token] / total), modelLogprob: logits[token] - lse1 }
}

/** Continue each prompt (ids, BOS included if the model wants one). */
export function generate(lm: CausalLm, prompts: number[][], opts: GenerateOptions): Generation[] {
  const temperature = opts.temperature ?? 1
  const topP = opts.topP ?? 1
  if (!(temperature >= 0)) throw new LlmError(`temperature must be ≥ 0, got ${temperature}`)
  if (!(topP > 0 && topP <= 1)) throw new LlmError(`topP must be in (0, 1], got ${topP}`)
  if (temperature > 0 && !opts.rng) throw new LlmError('sampling with temperature > 0 needs an rng (seed)')
  if (!(Number.isInteger(opts.maxNewTokens) && opts.maxNewTokens >= 0)) throw new LlmError(`maxNewTokens must be a whole number ≥ 0, got ${opts.maxNewTokens}`)
  prompts.forEach((p, i) => {
    if (p.length === 0) throw new LlmError(`prompt ${i} is empty; give at least one token (e.g. the BOS token)`)
    lm.checkIds(p, `prompt ${i}`)
  })
  const stop = new Set(opts.stop ?? [])
  const out: Generation[] = prompts.map(() => ({ tokens: [], logprobs: [], modelLogprobs: [], finish: 'length' as const }))
  const bs = Math.max(1, opts.batchSize ?? prompts.length)
  let produced = 0
  for (let g0 = 0; g0 < prompts.length; g0 += bs) {
    const rowsIdx = Array.from({ length: Math.min(bs, prompts.length - g0) }, (_, i) => g0 + i)
    produced = decodeGroup(lm, prompts, rowsIdx, out, { temperature, topP, stop, rng: opts.rng, maxNew: opts.maxNewTokens, onStep: opts.onStep, produced })
  }
  return out
}

interface GroupOpts {
  temperature: number
  topP: number
  stop: Set<number>
  rng: Rng | undefined
  maxNew: number
  onStep?: (tokens: number) => void
  produced: number
}

function decodeGroup(lm: CausalLm, prompts: number[][], rowsIdx: number[], out: Generation[], o: GroupOpts): number {
  const ctxLen = lm.spec.contextLength
  const V = lm.spec.vocabSize
  const nL = lm.spec.nLayers
  let produced = o.produced
  for (const i of rowsIdx) {
    if (prompts[i].length >= ctxLen) out[i].finish = 'context'
  }
  let rows = rowsIdx.filter((i) => prompts[i].length < ctxLen)
  if (rows.length === 0 || o.maxNew === 0) return produced
  const L = Math.max(...rows.map((i) => prompts[i].length))
  const B = rows.length
  // left padding: row b's tokens sit at L − len_b … L − 1, positions 0 … len_b − 1
  const ids = new Int32Array(B * L)
  const pos = new Int32Array(B * L)
  const keyOk = new Float32Array(B * L)
  rows.forEach((i, b) => {
    const p = prompts[i]
    const off = L - p.length
    ids.set(p, b * L + off)
    for (let t = 0; t < L; t++) {
      pos[b * L + t] = Math.max(0, t - off)
      keyOk[b * L + t] = t >= off ? 1 : 0
    }
  })
  const nextPos = rows.map((i) => prompts[i].length) // position of the next token of each row
  let keyValid = keyOk // [B, P] flattened, P grows by one a step
  let P = L
  // state for tf.tidy: [last logits [B, V], k0, v0, k1, v1, …]
  const unpack = (t: tf.Tensor[]): KV[] => Array.from({ length: nL }, (_, l) => ({ k: t[1 + 2 * l] as tf.Tensor4D, v: t[2 + 2 * l] as tf.Tensor4D }))
  let state: tf.Tensor[] = tf.tidy(() => {
    const padBias = tf
      .sub(1, tf.tensor2d(keyValid, [B, P]))
      .mul(-1e9)
      .reshape([B, 1, 1, P])
    const bias = lm.causalMask(L, L).add(padBias) as tf.Tensor4D
    const positions = tf.tensor2d(pos, [B, L], 'int32')
    const ctx = lm.context(B, L, { positions, maxPos: L - 1 }, bias, null, true)
    const h = lm.hidden(tf.tensor2d(ids, [B, L], 'int32'), ctx)
    const last = tf.gather(
      h,
      tf.tensor1d(
        Array.from({ length: B }, (_, b) => b * L + L - 1),
        'int32'
      )
    )
    return [lm.logits(last as tf.Tensor2D), ...ctx.kv.flatMap(({ k, v }) => [k, v])]
  })
  try {
    for (let step = 0; ; step++) {
      const logits = state[0].dataSync() as Float32Array
      const keep: number[] = []
      const next: number[] = []
      rows.forEach((i, b) => {
        const { token, logprob, modelLogprob } = sampleRow(logits.subarray(b * V, (b + 1) * V), o.temperature, o.topP, o.rng)
        const g = out[i]
        g.tokens.push(token)
        g.logprobs.push(logprob)
        g.modelLogprobs.push(modelLogprob)
        produced++
        if (o.stop.has(token)) g.finish = 'stop'
        else if (g.tokens.length >= o.maxNew) g.finish = 'length'
        else if (nextPos[b] + 1 >= ctxLen) g.finish = 'context'
        else {
          keep.push(b)
          next.push(token)
        }
      })
      o.onStep?.(produced)
      if (keep.length === 0) break
      const Bn = keep.length
      const kv = keyValid
      const Pn = P + 1
      const newValid = new Float32Array(Bn * Pn)
      keep.forEach((b, a) => {
        newValid.set(kv.subarray(b * P, (b + 1) * P), a * Pn)
        newValid[a * Pn + P] = 1
      })
      const stepPos = keep.map((b) => nextPos[b])
      const prev = state
      state = tf.tidy(() => {
        const idx = Bn === rows.length ? null : tf.tensor1d(keep, 'int32')
        const past = unpack(prev).map(({ k, v }) => (idx ? { k: tf.gather(k, idx) as tf.Tensor4D, v: tf.gather(v, idx) as tf.Tensor4D } : { k, v }))
        const bias = tf
          .sub(1, tf.tensor2d(newValid, [Bn, Pn]))
          .mul(-1e9)
          .reshape([Bn, 1, 1, Pn]) as tf.Tensor4D
        const positions = tf.tensor2d(Int32Array.from(stepPos), [Bn, 1], 'int32')
        const maxPos = Math.max(...stepPos)
        const ctx = lm.context(Bn, 1, { positions, maxPos }, bias, past, true)
        const h = lm.hidden(tf.tensor2d(Int32Array.from(next), [Bn, 1], 'int32'), ctx)
        return [lm.logits(h), ...ctx.kv.flatMap(({ k, v }) => [k, v])]
      })
      tf.dispose(prev)
      rows = keep.map((b) => rows[b])
      for (let a = 0; a < Bn; a++) nextPos[a] = stepPos[a] + 1
      nextPos.length = Bn
      keyValid = newValid
      P = Pn
    }
  } finally {
    tf.dispose(state)
  }
  return produced
}
