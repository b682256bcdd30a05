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
// Speed (issue 17). The training pass is one tf.customGrad over every parameter with the
// backward pass written out (transformer-grad.ts), instead of tfjs's tape over ~700 small ops:
// all heads are attended at once as [B, H, S, dh] (one transpose in, one out, a layer), the
// attention bias (causal + padded keys) is made once a batch and the causal part once a length,
// and GELU is u·σ(2c(u + 0.044715u³)), the same function as 0.5u(1 + tanh(c(u + 0.044715u³))).
//
// Initialisation is drawn from the seeded Rng (GPT-2 style: N(0, 0.02), residual projections
// scaled by 1/√(2·nLayers), biases 0, LayerNorm gains 1), never from tfjs random ops, so a seed
// gives the same weights on every backend.
import * as tf from '@tensorflow/tfjs'
import { variableOf } from '../variables.ts'
import type { Block, TransformerConfig } from './transformer-types.ts'
import type { Batch, Policy, PolicySpec } from './policy.ts'
import { Rng } from '../rng.ts'
import { underGradientTape } from '../llm/tape.ts'
import { transformerCore, transformerLogProbs, transformerLogProbsNoGrad, type TransformerNet } from './transformer-grad.ts'

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

/** one layer's keys and values of the positions seen so far, [B, H, P, dh] */
interface KV {
  k: tf.Tensor4D
  v: tf.Tensor4D
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
        return variableOf(() => w.clone(), trainable, fullName, 'float32')
      }
      const n = shape.reduce((a, b) => a * b, 1)
      const data = new Float32Array(n)
      if (init === 'ones') data.fill(1)
      else if (init !== 'zeros') {
        const std = init === 'proj' ? projStd : 0.02
        for (let k = 0; k < n; k++) data[k] = rng.normal() * std
      }
      return variableOf(() => tf.tensor(data, shape, 'float32'), trainable, fullName, 'float32')
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
    return new TransformerPolicy({ vocabSize: s.vocabSize, dModel: s.dModel, nHeads: s.nHeads, nLayers: s.nLayers, dFF: s.dFF, maxLen: s.maxLen, tied: s.tied, bos: s.bos }, opts)
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

  /** The additive attention bias [B, 1, S, S] of a batch: causal, and −1e9 at padded keys. */
  private attentionBias(keyValid: tf.Tensor2D): tf.Tensor4D {
    const [B, S] = keyValid.shape
    return tf.add(this.causal(S), tf.reshape(tf.mul(tf.sub(1, keyValid), NEG), [B, 1, 1, S])) as tf.Tensor4D
  }

  /** logits [B, S, V] for input ids [B, S] (int32) whose real positions keyValid [B, S] marks */
  forward(ids: tf.Tensor2D, keyValid: tf.Tensor2D): tf.Tensor3D {
    const [B, S] = ids.shape
    if (S > this.config.maxLen) throw new Error(`transformer: sequence of ${S} positions is longer than maxLen ${this.config.maxLen}`)
    return tf.tidy(
      () => tf.reshape(transformerCore(this.net, ids, 0, this.attentionBias(keyValid.toFloat() as tf.Tensor2D), null, null).logits, [B, S, this.config.vocabSize]) as tf.Tensor3D
    )
  }

  /** the parameters by role, for transformer-grad.ts */
  private get net(): TransformerNet {
    return { config: this.config, wte: this.wte, wpe: this.wpe, blocks: this.blocks, lnfg: this.lnfg, lnfb: this.lnfb, head: this.head }
  }

  /** log π(token_t | BOS, tokens_<t) for every step: [B, T] */
  logProbs(batch: Batch): tf.Tensor2D {
    const { B, T } = batch
    const { bos, maxLen } = this.config
    if (T > maxLen) throw new Error(`transformer: batch has traces of up to ${T} tokens, the model's maxLen is ${maxLen}`)
    return tf.tidy(() => {
      const acts = (batch.actions.dtype === 'int32' ? batch.actions : batch.actions.toInt()).reshape([B, T]) as tf.Tensor2D
      // inputs: BOS, then the tokens shifted right by one; keys: BOS and the real tokens
      const inputs = tf.slice(
        tf.pad(
          acts,
          [
            [0, 0],
            [1, 0]
          ],
          bos
        ),
        [0, 0],
        [B, T]
      ) as tf.Tensor2D
      const valid = batch.valid ?? tf.ones([B, T])
      const keyValid = tf.slice(
        tf.pad(
          valid,
          [
            [0, 0],
            [1, 0]
          ],
          1
        ),
        [0, 0],
        [B, T]
      ) as tf.Tensor2D
      const bias = this.attentionBias(keyValid)
      return underGradientTape() ? transformerLogProbs(this.net, this.variables, inputs, acts, bias) : transformerLogProbsNoGrad(this.net, inputs, acts, bias)
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
      const kvOf = (t: tf.Tensor[]): KV[] => this.blocks.map((_b, l) => ({ k: t[1 + 2 * l] as tf.Tensor4D, v: t[2 + 2 * l] as tf.Tensor4D }))
      let state: tf.Tensor[] = tf.tidy(() => {
        const { logits, kv } = transformerCore(this.net, tf.tensor2d(ids, [rows.length, S0], 'int32'), 0, this.causal(S0), null, null)
        return pack(
          logits
            .reshape([rows.length, S0, V])
            .slice([0, S0 - 1, 0], [rows.length, 1, V])
            .reshape([rows.length, V]),
          kv
        )
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
          const past = idx ? kvOf(prev).map(({ k, v }) => ({ k: tf.gather(k, idx) as tf.Tensor4D, v: tf.gather(v, idx) as tf.Tensor4D })) : kvOf(prev)
          const { logits, kv } = transformerCore(this.net, tf.tensor2d(next, [keep.length, 1], 'int32'), S0 + step, null, past, null)
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

export type { Block, TransformerConfig } from './transformer-types.ts'
