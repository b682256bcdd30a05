// The sequence suite's policy: a small GPT-style causal transformer in tfjs.
//
//   token + learned position embeddings → nLayers × [x + MHA(LN(x)); x + MLP(LN(x))] → LN →
//   output head (tied to the token embedding, or its own matrix) → log-softmax over the vocab.
//
// BOS convention. Traces hold only real tokens (a dataset never stores a BOS). The model puts
// its own BOS token (config.bos, usually the tokenizer's bos id) in front of every sequence:
// the input at position t is BOS for t = 0 and token t−1 otherwise, so
//   logProbs(batch)[b, t] = log π(token_t | BOS, token_0 … token_{t−1}),
// and position 0 is scored under the BOS-only context. A sequence of T tokens therefore uses
// input positions 0 … T−1, and T ≤ maxLen.
//
// Padding. Batches are padded on the right; `valid` marks real tokens. Keys at padded inputs
// are masked out of attention (together with the causal mask), positions are absolute, so a
// sequence gives the same log-probs alone or inside a padded batch. Values at padded steps are
// finite and meaningless (the engine multiplies them by mask = 0).
//
// Initialisation is drawn from the seeded Rng (GPT-2 style: N(0, 0.02), residual projections
// scaled by 1/√(2·nLayers), biases 0, LayerNorm gains 1), never from tfjs random ops, so a seed
// gives the same weights on every backend.
import * as tf from '@tensorflow/tfjs'
import type { Batch, Policy, PolicySpec } from './policy.ts'
import { Rng } from '../rng.ts'

export interface TransformerConfig {
  vocabSize: number
  dModel: number
  nHeads: number
  nLayers: number
  dFF: number
  /** longest sequence (tokens, BOS not counted) the model accepts */
  maxLen: number
  /** output head = token embedding transposed (default true) */
  tied?: boolean
  /** id of the BOS context token (default 1, the character tokenizer's bos) */
  bos?: number
}

export interface TransformerSpec extends PolicySpec {
  kind: 'transformer'
  vocabSize: number
  dModel: number
  nHeads: number
  nLayers: number
  dFF: number
  maxLen: number
  tied: boolean
  bos: number
}

export interface GenerateOptions {
  /** most new tokens per prompt */
  maxNew: number
  /** 0 = greedy (argmax, lowest id on ties); default 1 */
  temperature?: number
  /** nucleus sampling: keep the smallest set of most likely tokens with total probability ≥ topP (default 1) */
  topP?: number
  /** required when temperature > 0 */
  rng?: Rng
  /** generation of a row ends at this token; it is not included in the output unless includeStop */
  stopToken?: number
  includeStop?: boolean
}

let instanceCounter = 0

const LN_EPS = 1e-5
const NEG = -1e9

function checkConfig(c: TransformerConfig): Required<TransformerConfig> {
  const full: Required<TransformerConfig> = { tied: true, bos: 1, ...c }
  for (const k of ['vocabSize', 'dModel', 'nHeads', 'nLayers', 'dFF', 'maxLen'] as const) {
    const v = full[k]
    if (!Number.isInteger(v) || v < 1) throw new Error(`transformer config: ${k} must be a positive integer, got ${v}`)
  }
  if (full.dModel % full.nHeads !== 0) throw new Error(`transformer config: dModel ${full.dModel} is not divisible by nHeads ${full.nHeads}`)
  if (!Number.isInteger(full.bos) || full.bos < 0 || full.bos >= full.vocabSize) {
    throw new Error(`transformer config: bos ${full.bos} is outside the vocabulary 0..${full.vocabSize - 1}`)
  }
  return full
}

interface KV {
  k: tf.Tensor
  v: tf.Tensor
}

interface Block {
  ln1g: tf.Variable
  ln1b: tf.Variable
  wqkv: tf.Variable
  bqkv: tf.Variable
  wo: tf.Variable
  bo: tf.Variable
  ln2g: tf.Variable
  ln2b: tf.Variable
  wfc: tf.Variable
  bfc: tf.Variable
  wproj: tf.Variable
  bproj: tf.Variable
}

function layerNorm(x: tf.Tensor, g: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true)
  return x.sub(mean).div(variance.add(LN_EPS).sqrt()).mul(g).add(b)
}

/** GELU, tanh approximation (GPT-2) */
function gelu(x: tf.Tensor): tf.Tensor {
  const c = Math.sqrt(2 / Math.PI)
  // x·x·x rather than pow(x, 3): pow's gradient also differentiates the exponent (log x)
  return x.mul(0.5).mul(tf.tanh(x.add(x.mul(x).mul(x).mul(0.044715)).mul(c)).add(1))
}

export class TransformerPolicy implements Policy {
  readonly spec: TransformerSpec
  readonly variables: tf.Variable[]
  readonly config: Required<TransformerConfig>
  private readonly wte: tf.Variable
  private readonly wpe: tf.Variable
  private readonly blocks: Block[] = []
  private readonly lnfg: tf.Variable
  private readonly lnfb: tf.Variable
  private readonly head: tf.Variable | null
  private readonly causalCache = new Map<number, tf.Tensor4D>()

  /** New model. Weights come from `weights` (copied, in `variables` order) or are drawn from
   *  `rng` (or a new Rng(seed), seed default 0). */
  constructor(config: TransformerConfig, opts: { rng?: Rng; seed?: number; trainable?: boolean; weights?: tf.Tensor[] } = {}) {
    const c = checkConfig(config)
    this.config = c
    this.spec = { kind: 'transformer', obsDim: 0, actDim: c.vocabSize, ...c }
    const trainable = opts.trainable ?? true
    const rng = opts.rng ?? new Rng(opts.seed ?? 0)
    const id = ++instanceCounter
    const { vocabSize: V, dModel: d, dFF: f, maxLen: L, nLayers: N } = c
    const shapes: Array<[string, number[], 'normal' | 'proj' | 'zeros' | 'ones']> = [
      ['wte', [V, d], 'normal'],
      ['wpe', [L, d], 'normal']
    ]
    for (let l = 0; l < N; l++) {
      shapes.push(
        [`h${l}/ln1/g`, [d], 'ones'],
        [`h${l}/ln1/b`, [d], 'zeros'],
        [`h${l}/attn/w_qkv`, [d, 3 * d], 'normal'],
        [`h${l}/attn/b_qkv`, [3 * d], 'zeros'],
        [`h${l}/attn/w_o`, [d, d], 'proj'],
        [`h${l}/attn/b_o`, [d], 'zeros'],
        [`h${l}/ln2/g`, [d], 'ones'],
        [`h${l}/ln2/b`, [d], 'zeros'],
        [`h${l}/mlp/w_fc`, [d, f], 'normal'],
        [`h${l}/mlp/b_fc`, [f], 'zeros'],
        [`h${l}/mlp/w_proj`, [f, d], 'proj'],
        [`h${l}/mlp/b_proj`, [d], 'zeros']
      )
    }
    shapes.push(['lnf/g', [d], 'ones'], ['lnf/b', [d], 'zeros'])
    if (!c.tied) shapes.push(['head/w', [d, V], 'normal'])
    if (opts.weights && opts.weights.length !== shapes.length) {
      throw new Error(`transformer: ${opts.weights.length} weight tensors given, the architecture has ${shapes.length}`)
    }
    const projStd = 0.02 / Math.sqrt(2 * N)
    this.variables = shapes.map(([name, shape, init], i) => {
      const fullName = `transformer${id}/${name}`
      if (opts.weights) {
        const w = opts.weights[i]
        if (w.shape.join('x') !== shape.join('x')) throw new Error(`transformer: weight ${name} has shape [${w.shape}], expected [${shape}]`)
        return tf.variable(w.clone(), trainable, fullName, 'float32')
      }
      const n = shape.reduce((a, b) => a * b, 1)
      const data = new Float32Array(n)
      if (init === 'ones') data.fill(1)
      else if (init !== 'zeros') {
        const std = init === 'proj' ? projStd : 0.02
        for (let k = 0; k < n; k++) data[k] = rng.normal() * std
      }
      return tf.variable(tf.tensor(data, shape, 'float32'), trainable, fullName, 'float32')
    })
    let k = 0
    const next = (): tf.Variable => this.variables[k++]
    this.wte = next()
    this.wpe = next()
    for (let l = 0; l < N; l++) {
      this.blocks.push({
        ln1g: next(),
        ln1b: next(),
        wqkv: next(),
        bqkv: next(),
        wo: next(),
        bo: next(),
        ln2g: next(),
        ln2b: next(),
        wfc: next(),
        bfc: next(),
        wproj: next(),
        bproj: next()
      })
    }
    this.lnfg = next()
    this.lnfb = next()
    this.head = c.tied ? null : next()
  }

  /** Rebuild from a spec (checkpoints); weights drawn from the seed unless written afterwards. */
  static fromSpec(spec: PolicySpec, opts: { seed?: number; trainable?: boolean } = {}): TransformerPolicy {
    if (spec.kind !== 'transformer') throw new Error(`not a transformer spec (kind "${spec.kind}")`)
    const s = spec as TransformerSpec
    return new TransformerPolicy(
      { vocabSize: s.vocabSize, dModel: s.dModel, nHeads: s.nHeads, nLayers: s.nLayers, dFF: s.dFF, maxLen: s.maxLen, tied: s.tied, bos: s.bos },
      opts
    )
  }

  /** [1,1,S,S] additive causal mask: 0 where key j ≤ query i, −1e9 above the diagonal */
  private causal(S: number): tf.Tensor4D {
    let m = this.causalCache.get(S)
    if (!m) {
      const data = new Float32Array(S * S)
      for (let i = 0; i < S; i++) for (let j = i + 1; j < S; j++) data[i * S + j] = NEG
      m = tf.keep(tf.tensor4d(data, [1, 1, S, S]))
      this.causalCache.set(S, m)
    }
    return m
  }

  /** logits [B, S, V] for input ids [B, S] (int32) whose real positions keyValid [B, S] marks */
  forward(ids: tf.Tensor2D, keyValid: tf.Tensor2D): tf.Tensor3D {
    const [B, S] = ids.shape
    if (S > this.config.maxLen) throw new Error(`transformer: sequence of ${S} positions is longer than maxLen ${this.config.maxLen}`)
    return tf.tidy(() => {
      const keyBias = tf.sub(1, keyValid.toFloat()).mul(NEG).reshape([B, 1, 1, S])
      return this.core(ids, 0, this.causal(S).add(keyBias), null).logits
    })
  }

  /** The network on ids [B, S] at positions start … start+S−1. bias is added to the attention
   *  scores (null: attend to every key); past holds each layer's keys and values [B, H, P, dh]
   *  of the positions before start. Returns logits [B, S, V] and each layer's keys and values
   *  including the new positions. Call inside tf.tidy. */
  private core(ids: tf.Tensor2D, start: number, bias: tf.Tensor | null, past: KV[] | null): { logits: tf.Tensor3D; kv: KV[] } {
    const [B, S] = ids.shape
    const { dModel: d, nHeads: H, vocabSize: V } = this.config
    const dh = d / H
    // Embedding lookup. The wasm backend has no UnsortedSegmentSum, the gradient of gather, so
    // there the lookup is a one-hot matrix product; both give exactly the same values.
    const flat = ids.reshape([B * S]) as tf.Tensor1D
    const tok = (tf.getKernel('UnsortedSegmentSum', tf.getBackend()) ? tf.gather(this.wte, flat) : tf.oneHot(flat, V).matMul(this.wte)).reshape([B, S, d])
    let x: tf.Tensor = tok.add(this.wpe.slice([start, 0], [S, d]))
    const scale = 1 / Math.sqrt(dh)
    const kv: KV[] = []
    // Heads are column slices of the fused q/k/v projection, attended one at a time: no
    // rank-5 transposes (the slowest kernels of a training step on wasm). The cache keeps keys and
    // values as [B, P, d], every head side by side.
    const bias3 = bias ? bias.reshape([-1, S, bias.shape[bias.rank - 1] as number]) : null
    this.blocks.forEach((blk, l) => {
      const h = layerNorm(x, blk.ln1g, blk.ln1b).reshape([B * S, d])
      const qkv = h.matMul(blk.wqkv).add(blk.bqkv) // [B*S, 3d]
      const q = qkv.slice([0, 0], [B * S, d]).reshape([B, S, d])
      let k: tf.Tensor = qkv.slice([0, d], [B * S, d]).reshape([B, S, d])
      let v: tf.Tensor = qkv.slice([0, 2 * d], [B * S, d]).reshape([B, S, d])
      if (past) {
        k = tf.concat([past[l].k, k], 1)
        v = tf.concat([past[l].v, v], 1)
      }
      kv.push({ k, v })
      const P = k.shape[1] as number
      const heads: tf.Tensor[] = []
      for (let hh = 0; hh < H; hh++) {
        const qh = H === 1 ? q : q.slice([0, 0, hh * dh], [B, S, dh])
        const kh = H === 1 ? k : k.slice([0, 0, hh * dh], [B, P, dh])
        const vh = H === 1 ? v : v.slice([0, 0, hh * dh], [B, P, dh])
        let scores = tf.matMul(qh, kh, false, true).mul(scale) // [B,S,P]
        if (bias3) scores = scores.add(bias3)
        heads.push(tf.matMul(tf.softmax(scores, -1), vh)) // [B,S,dh]
      }
      const o = (H === 1 ? heads[0] : tf.concat(heads, 2)).reshape([B * S, d])
      x = x.add(o.matMul(blk.wo).add(blk.bo).reshape([B, S, d]))
      const h2 = layerNorm(x, blk.ln2g, blk.ln2b).reshape([B * S, d])
      const m = gelu(h2.matMul(blk.wfc).add(blk.bfc)).matMul(blk.wproj).add(blk.bproj)
      x = x.add(m.reshape([B, S, d]))
    })
    const hf = layerNorm(x, this.lnfg, this.lnfb).reshape([B * S, d])
    const logits = this.head ? hf.matMul(this.head) : hf.matMul(this.wte, false, true)
    return { logits: logits.reshape([B, S, V]) as tf.Tensor3D, kv }
  }

  /** log π(token_t | BOS, tokens_<t) for every step: [B, T] */
  logProbs(batch: Batch): tf.Tensor2D {
    const { B, T } = batch
    const { vocabSize: V, bos, maxLen } = this.config
    if (T > maxLen) throw new Error(`transformer: batch has traces of up to ${T} tokens, the model's maxLen is ${maxLen}`)
    return tf.tidy(() => {
      const acts = (batch.actions.dtype === 'int32' ? batch.actions : batch.actions.toInt()).reshape([B, T]) as tf.Tensor2D
      const bosCol = tf.fill([B, 1], bos, 'int32')
      const inputs = (T > 1 ? tf.concat([bosCol, acts.slice([0, 0], [B, T - 1])], 1) : bosCol) as tf.Tensor2D
      const valid = batch.valid ?? tf.ones([B, T])
      const keyValid = (T > 1 ? tf.concat([tf.ones([B, 1]), valid.slice([0, 0], [B, T - 1])], 1) : tf.ones([B, 1])) as tf.Tensor2D
      const lsm = tf.logSoftmax(this.forward(inputs, keyValid), -1)
      const oh = tf.oneHot(acts.reshape([B * T]), V).reshape([B, T, V])
      return lsm.mul(oh).sum(-1) as tf.Tensor2D
    })
  }

  /** Continue each prompt (token ids, no BOS). Returns the new tokens of each row, without the
   *  stop token. A row also ends when prompt + new tokens reach maxLen. Prompts of equal length
   *  are decoded together with a key/value cache (one position a step); groups run in order of
   *  prompt length and, within a step, rows draw from rng in their input order. */
  generate(prompts: number[][], opts: GenerateOptions): number[][] {
    const { bos, maxLen, vocabSize: V } = this.config
    const temperature = opts.temperature ?? 1
    const topP = opts.topP ?? 1
    if (temperature > 0 && !opts.rng) throw new Error('transformer.generate: sampling (temperature > 0) needs an rng')
    if (!(topP > 0 && topP <= 1)) throw new Error(`transformer.generate: topP must be in (0, 1], got ${topP}`)
    for (const p of prompts) {
      for (const t of p) if (!Number.isInteger(t) || t < 0 || t >= V) throw new Error(`transformer.generate: prompt token ${t} is outside the vocabulary 0..${V - 1}`)
    }
    const outs: number[][] = prompts.map(() => [])
    const groups = new Map<number, number[]>()
    prompts.forEach((p, i) => {
      const g = groups.get(p.length)
      if (g) g.push(i)
      else groups.set(p.length, [i])
    })
    for (const L of [...groups.keys()].sort((a, b) => a - b)) {
      const rows = groups.get(L)!
      const S0 = L + 1 // BOS + prompt
      if (S0 > maxLen || opts.maxNew < 1) continue
      const ids = new Int32Array(rows.length * S0)
      rows.forEach((i, a) => {
        ids[a * S0] = bos
        ids.set(prompts[i], a * S0 + 1)
      })
      // state as a flat tensor list for tf.tidy: [last-position logits [A, V], k0, v0, k1, v1, …]
      const pack = (last: tf.Tensor, kv: KV[]): tf.Tensor[] => [last, ...kv.flatMap(({ k, v }) => [k, v])]
      const kvOf = (t: tf.Tensor[]): KV[] => this.blocks.map((_b, l) => ({ k: t[1 + 2 * l], v: t[2 + 2 * l] }))
      let state: tf.Tensor[] = tf.tidy(() => {
        const { logits, kv } = this.core(tf.tensor2d(ids, [rows.length, S0], 'int32'), 0, this.causal(S0), null)
        return pack(logits.slice([0, S0 - 1, 0], [rows.length, 1, V]).reshape([rows.length, V]), kv)
      })
      let active = rows
      for (let step = 0; step < opts.maxNew; step++) {
        const data = state[0].dataSync() as Float32Array
        const keep: number[] = [] // positions in `active` that continue
        const next: number[] = []
        active.forEach((i, a) => {
          const tok = sampleToken(data.subarray(a * V, (a + 1) * V), temperature, topP, opts.rng)
          if (opts.stopToken !== undefined && tok === opts.stopToken) {
            if (opts.includeStop) outs[i].push(tok)
            return
          }
          outs[i].push(tok)
          // the new token sits at position S0 + step; it can be fed only if that is < maxLen
          if (S0 + step < maxLen) {
            keep.push(a)
            next.push(tok)
          }
        })
        if (keep.length === 0 || step === opts.maxNew - 1) break
        const prev = state
        state = tf.tidy(() => {
          const idx = keep.length === active.length ? null : tf.tensor1d(keep, 'int32')
          const past = idx ? kvOf(prev).map(({ k, v }) => ({ k: tf.gather(k, idx), v: tf.gather(v, idx) })) : kvOf(prev)
          const { logits, kv } = this.core(tf.tensor2d(next, [keep.length, 1], 'int32'), S0 + step, null, past)
          return pack(logits.reshape([keep.length, V]), kv)
        })
        tf.dispose(prev)
        active = keep.map((a) => active[a])
      }
      tf.dispose(state)
    }
    return outs
  }

  act(): Float32Array | Int32Array {
    throw new Error('TransformerPolicy.act: not for sequences; use generate()')
  }

  clone(trainable: boolean): TransformerPolicy {
    return new TransformerPolicy(this.config, { trainable, weights: this.variables })
  }

  dispose(): void {
    for (const v of this.variables) v.dispose()
    for (const m of this.causalCache.values()) m.dispose()
    this.causalCache.clear()
  }
}

/** One token from a row of logits: argmax at temperature 0, else softmax(logits / temperature)
 *  restricted to the top-p nucleus, drawn with rng. */
export function sampleToken(logits: ArrayLike<number>, temperature: number, topP: number, rng: Rng | undefined): number {
  const V = logits.length
  if (!(temperature > 0)) {
    let best = 0
    for (let i = 1; i < V; i++) if (logits[i] > logits[best]) best = i
    return best
  }
  if (!rng) throw new Error('sampleToken: sampling needs an rng')
  let max = -Infinity
  for (let i = 0; i < V; i++) if (logits[i] > max) max = logits[i]
  const p = new Float64Array(V)
  let sum = 0
  for (let i = 0; i < V; i++) {
    p[i] = Math.exp((logits[i] - max) / temperature)
    sum += p[i]
  }
  let order: number[]
  let total: number
  if (topP < 1) {
    order = Array.from({ length: V }, (_, i) => i).sort((a, b) => p[b] - p[a] || a - b)
    let cum = 0
    let keep = 0
    while (keep < V) {
      cum += p[order[keep]]
      keep++
      if (cum >= topP * sum) break
    }
    order = order.slice(0, keep)
    total = cum
  } else {
    order = Array.from({ length: V }, (_, i) => i)
    total = sum
  }
  let u = rng.next() * total
  for (const i of order) {
    u -= p[i]
    if (u < 0) return i
  }
  return order[order.length - 1]
}
