// A causal LM in tfjs (float32): the frozen weights as tensors created once, the forward pass to
// the final hidden states, and the output head. Scoring (score.ts), sampling (generate.ts) and
// the Policy adapter (policy.ts) are built on `hidden()` and `logits()`.
//
// Every linear goes through `linear(x, name)`: x·W (+ b) with W stored [in, out]. That is the one
// place a LoRA delta will be added per linear (issue 14): set `linearHook`.
import * as tf from '@tensorflow/tfjs'
import type { ForwardCtx, KV } from './attention.ts'
import { gpt2FinalNorm, gpt2Layer } from './gpt2.ts'
import { llamaFinalNorm, llamaLayer } from './llama.ts'
import { ropeTables } from './rope.ts'
import { checkpointed, underGradientTape, type CustomGradient, type ReplayState } from './tape.ts'
import { LlmError } from './errors.ts'
import type { LlmSpec } from './spec.ts'
import type { CanonicalTensor } from './weights.ts'
import type { DecoderWeights, LoraView } from './layer-weights.ts'
import { llamaLayerWithGrad, savedBytesPerLayer } from './llama-grad.ts'
import { targetLogSoftmax } from '../backend/native-ops.ts'

/** what a decoder layer needs from the model */
/** Called with every linear's input and output; returns the output to use (LoRA: y + s·(x·A)·B). */
export type LinearHook = (name: string, x: tf.Tensor2D, y: tf.Tensor2D) => tf.Tensor2D

/** What the owner of a linearHook tells a checkpointed layer (tape.ts): the trainable tensors
 *  the hook adds to layer l, and its random state, so a replayed layer draws the same dropout. */
export interface LinearHookParams extends ReplayState {
  variables(layer: number): tf.Variable[]
  /** the hook is a LoRA adapter: the Llama layer differentiates it by hand (llama-grad.ts) */
  lora?: LoraView
}

/** bytes of activations the Llama layers may keep for the backward pass in one forward (beyond
 *  them a layer keeps only its input and runs again in the backward, as tape.ts's checkpointing;
 *  llama-grad.ts's keepsAttention says what a kept layer holds). Sized on SmolLM2 LoRA at
 *  4 × 256 tokens: 768 MiB keeps all 30 layers (21.5 MB each without the attention
 *  probabilities) and, being at least 4 × the head's 192 MiB softmax, lets the head keep that too
 *  (policy.ts): peak resident 2.8 GB with dropout 0.05 (bench-llm.ts), under issue 14's 3 GB bound.
 *  Full fine-tuning raises it on its own copy of the model (policy.ts). */
export const ACTIVATION_BUDGET_BYTES = 768 << 20

const NEG = -1e9

export class CausalLm implements DecoderWeights {
  /** frozen base weights by canonical name (weights.ts) */
  readonly weights = new Map<string, tf.Tensor>()
  linearHook: LinearHook | null = null
  /** set with linearHook when the hook has trainable tensors (LoRA) */
  linearHookParams: LinearHookParams | null = null
  /** what the Llama layers may keep for the backward pass (ACTIVATION_BUDGET_BYTES) */
  activationBudgetBytes = ACTIVATION_BUDGET_BYTES
  /** the weights are tf.Variables (full fine-tuning): nothing derived from them is cached */
  private variableWeights = false
  private headT: tf.Tensor2D | null = null
  private cosTable: tf.Tensor2D | null = null
  private sinTable: tf.Tensor2D | null = null
  private tableLen = 0
  private readonly masks = new Map<string, tf.Tensor4D>()
  private disposed = false

  constructor(readonly spec: LlmSpec) {}

  /** Add one weight (from canonicalWeights); the data is copied into a tensor. */
  addWeight(t: CanonicalTensor): void {
    if (this.weights.has(t.name)) throw new LlmError(`weight "${t.name}" given twice`)
    const w = tf.keep(tf.tensor(t.data, t.shape, 'float32'))
    // tfjs-node copies a tensor's values into TensorFlow only when an op first reads it and keeps
    // the JavaScript array until then: read it now (a one-value slice), so the model is held once
    if (tf.getBackend() === 'tensorflow') tf.tidy(() => tf.slice(w.reshape([-1]), 0, 1))
    this.weights.set(t.name, w)
  }

  /** A copy whose weights are tf.Variables (full fine-tuning, or a frozen copy of a trained
   *  one): every tensor is copied once here; `prefix` makes the variable names unique. */
  copyAsVariables(trainable: boolean, prefix: string): CausalLm {
    const c = new CausalLm(this.spec)
    c.variableWeights = true
    for (const [name, w] of this.weights) c.weights.set(name, tf.variable(w, trainable, `${prefix}/${name}`))
    return c
  }

  /** throws unless every weight the spec implies is present */
  checkComplete(where: string): void {
    const need = ['embed', 'norm.weight']
    if (this.spec.arch === 'gpt2') need.push('pos_embed')
    if (!this.spec.tiedHead) need.push('head.weight')
    for (let l = 0; l < this.spec.nLayers; l++) for (const n of ['q', 'k', 'v', 'o', 'up', 'down']) need.push(`layers.${l}.${n}.weight`)
    const missing = need.filter((n) => !this.weights.has(n))
    if (missing.length) throw new LlmError(`${where}: weights missing after loading: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ' …' : ''}`)
  }

  weight(name: string): tf.Tensor {
    const w = this.weights.get(name)
    if (!w) throw new LlmError(`model has no weight "${name}"`)
    return w
  }

  linear(x: tf.Tensor2D, name: string): tf.Tensor2D {
    const w = this.weight(`${name}.weight`) as tf.Tensor2D
    const b = this.weights.get(`${name}.bias`)
    const y = (b ? tf.fused.matMul({ a: x, b: w, bias: b }) : tf.matMul(x, w)) as tf.Tensor2D
    return this.linearHook ? this.linearHook(name, x, y) : y
  }

  /** RoPE rows [n, dh] for positions 0…n−1, grown on demand (kept) */
  private rope(n: number): { cos: tf.Tensor2D; sin: tf.Tensor2D } {
    if (n > this.tableLen) {
      const len = Math.min(Math.max(n, 2 * this.tableLen, 256), Math.max(n, this.spec.contextLength))
      const { cos, sinSigned } = ropeTables(this.spec, len)
      this.cosTable?.dispose()
      this.sinTable?.dispose()
      this.cosTable = tf.keep(tf.tensor2d(cos, [len, this.spec.headDim]))
      this.sinTable = tf.keep(tf.tensor2d(sinSigned, [len, this.spec.headDim]))
      this.tableLen = len
    }
    return { cos: this.cosTable!, sin: this.sinTable! }
  }

  /** [1, 1, S, P] additive mask: query i (at absolute position P − S + i) sees keys j ≤ its
   *  position, within the sliding window if the model has one. Cached. */
  causalMask(S: number, P: number): tf.Tensor4D {
    const key = `${S}x${P}`
    let m = this.masks.get(key)
    if (!m) {
      const w = this.spec.slidingWindow
      const data = new Float32Array(S * P)
      for (let i = 0; i < S; i++) {
        const pos = P - S + i
        for (let j = 0; j < P; j++) if (j > pos || (w !== null && pos - j >= w)) data[i * P + j] = NEG
      }
      m = tf.keep(tf.tensor4d(data, [1, 1, S, P]))
      if (this.masks.size >= 64) {
        // many batch shapes (training on traces of every length): start the cache afresh
        for (const old of this.masks.values()) old.dispose()
        this.masks.clear()
      }
      this.masks.set(key, m)
    }
    return m
  }

  /**
   * Position-dependent inputs of a forward pass over [B, S] tokens. `positions`: null = start …
   * start+S−1 for every row; else [B, S] int32 absolute positions, all ≤ maxPos. Call inside tf.tidy.
   */
  context(B: number, S: number, at: { positions?: tf.Tensor2D; maxPos?: number; start?: number }, bias: tf.Tensor4D | null, past: KV[] | null, keepKv: boolean): ForwardCtx {
    const positions = at.positions ?? null
    const start = at.start ?? 0
    const span = positions ? (at.maxPos ?? 0) + 1 : start + S
    if (span > this.spec.contextLength) throw new LlmError(`sequence of ${span} positions is longer than the model's context length ${this.spec.contextLength}`)
    const ctx: ForwardCtx = { B, S, positions, start, cos: null, sinSigned: null, cosQ: null, sinSignedQ: null, bias, past, kv: [], keepKv }
    if (this.spec.rope) {
      const dh = this.spec.headDim
      const { cos, sin } = this.rope(span)
      if (positions) {
        const flat = positions.reshape([B * S]) as tf.Tensor1D
        ctx.cos = tf.gather(cos, flat).reshape([B, S, 1, dh]) as tf.Tensor4D
        ctx.sinSigned = tf.gather(sin, flat).reshape([B, S, 1, dh]) as tf.Tensor4D
      } else {
        ctx.cos = cos.slice([start, 0], [S, dh]).reshape([1, S, 1, dh]) as tf.Tensor4D
        ctx.sinSigned = sin.slice([start, 0], [S, dh]).reshape([1, S, 1, dh]) as tf.Tensor4D
      }
      const scale = 1 / Math.sqrt(dh)
      ctx.cosQ = ctx.cos.mul(scale) as tf.Tensor4D
      ctx.sinSignedQ = ctx.sinSigned.mul(scale) as tf.Tensor4D
    }
    return ctx
  }

  /** final hidden states [B·S, d] (after the final norm) for ids [B, S]. Call inside tf.tidy. */
  hidden(ids: tf.Tensor2D, ctx: ForwardCtx): tf.Tensor2D {
    const { B, S, positions, start } = ctx
    const s = this.spec
    const flat = ids.reshape([B * S]) as tf.Tensor1D
    let x = tf.gather(this.weight('embed'), flat) as tf.Tensor2D
    if (s.arch === 'gpt2') {
      const pe = this.weight('pos_embed')
      const pos = positions ? tf.gather(pe, positions.reshape([B * S]) as tf.Tensor1D) : tf.tile(pe.slice([start, 0], [S, s.dModel]), [B, 1])
      x = x.add(pos) as tf.Tensor2D
    }
    const layer = s.arch === 'gpt2' ? gpt2Layer : llamaLayer
    // one tidy a layer: only the residual stream (and the layer's keys/values when generating)
    // outlives it, so a 30-layer pass holds one layer's activations at a time, not all of them.
    // (Under a gradient tape the tape keeps what backpropagation needs.)
    // Under a gradient tape each layer is checkpointed (tape.ts): the tape keeps its input, not
    // its activations, and the backward replays it; gradients reach the layer's trainable
    // weights (full fine-tuning), the hook's tensors (LoRA) and x, nothing else in the layer;
    // a hook that does not declare its tensors (linearHookParams) keeps the plain taped layer.
    const taped = underGradientTape() && !ctx.keepKv && (this.linearHook === null || this.linearHookParams !== null)
    const consts = [ctx.positions, ctx.cos, ctx.sinSigned, ctx.cosQ, ctx.sinSignedQ, ctx.bias]
    // Llama-family layers under a tape (no hook, or LoRA's): differentiated by hand
    // (llama-grad.ts), keeping their activations for the first layers that fit the budget
    const byHand = taped && s.arch !== 'gpt2' && (this.linearHook === null || this.linearHookParams?.lora !== undefined)
    const keepLayers = byHand ? Math.floor(this.activationBudgetBytes / savedBytesPerLayer(this, B, S, this.linearHookParams?.lora ?? null)) : 0
    for (let l = 0; l < s.nLayers; l++) {
      const prev = x
      const out = tf.tidy(() => {
        if (byHand) {
          const hookParams = this.linearHookParams
          return [llamaLayerWithGrad(this, l, prev, ctx, this.layerVariables(l), hookParams?.lora ?? null, hookParams, l < keepLayers)]
        }
        if (taped) {
          // the replay comes after the caller has unset its hook: it runs with the hook of now
          const hook = this.linearHook
          const hookParams = this.linearHookParams
          const f = (xin: tf.Tensor2D, c: typeof consts): tf.Tensor2D =>
            this.withHook(hook, hookParams, () =>
              layer(this, l, xin, {
                ...ctx,
                positions: c[0] as tf.Tensor2D | null,
                cos: c[1] as tf.Tensor4D | null,
                sinSigned: c[2] as tf.Tensor4D | null,
                cosQ: c[3] as tf.Tensor4D | null,
                sinSignedQ: c[4] as tf.Tensor4D | null,
                bias: c[5] as tf.Tensor4D | null
              })
            )
          return [checkpointed(f, prev, consts, this.layerVariables(l), this.linearHookParams)]
        }
        const y = layer(this, l, prev, ctx)
        return ctx.keepKv ? [y, ctx.kv[l].k, ctx.kv[l].v] : [y]
      })
      x = out[0] as tf.Tensor2D
      if (ctx.keepKv) ctx.kv[l] = { k: out[1] as tf.Tensor4D, v: out[2] as tf.Tensor4D }
      prev.dispose()
    }
    const h = s.arch === 'gpt2' ? gpt2FinalNorm(this, x) : llamaFinalNorm(this, x)
    x.dispose()
    return h
  }

  /** run f with this hook (and its params) set, then restore the previous ones */
  withHook<T>(hook: LinearHook | null, params: LinearHookParams | null, f: () => T): T {
    const prev = this.linearHook
    const prevParams = this.linearHookParams
    this.linearHook = hook
    this.linearHookParams = params
    try {
      return f()
    } finally {
      this.linearHook = prev
      this.linearHookParams = prevParams
    }
  }

  /** the trainable tensors layer l reads: its own variable weights (full fine-tuning) and the hook's */
  private layerVariables(l: number): tf.Variable[] {
    const prefix = `layers.${l}.`
    const out: tf.Variable[] = []
    if (this.variableWeights) for (const [n, w] of this.weights) if (n.startsWith(prefix) && w instanceof tf.Variable && w.trainable) out.push(w)
    if (this.linearHook && this.linearHookParams) out.push(...this.linearHookParams.variables(l))
    return out
  }

  /** logits [n, V] for hidden rows [n, d] */
  logits(h: tf.Tensor2D): tf.Tensor2D {
    if (!this.spec.tiedHead) return tf.matMul(h, this.weight('head.weight') as tf.Tensor2D)
    // tied: the native backend multiplies by the embedding transposed on the fly as fast as by a
    // transposed copy; wasm and cpu are many times slower that way, so they keep a copy [d, V]
    if (tf.getBackend() === 'tensorflow' || this.variableWeights) return tf.matMul(h, this.weight('embed') as tf.Tensor2D, false, true)
    if (!this.headT) this.headT = tf.keep(tf.transpose(this.weight('embed')) as tf.Tensor2D)
    return tf.matMul(h, this.headT)
  }

  /**
   * log softmax(h·W)[target] per row: hidden rows [n, d], target ids [n] (int32) → [n]. Under a
   * gradient tape the [n, V] logits are not kept: the backward recomputes them from h (and with
   * them softmax − onehot), d/dlogits = dy·(onehot(target) − softmax), and passes the head weight
   * a gradient only when it is a trainable variable (full fine-tuning). `keepSoftmax`: keep
   * softmax − onehot [n, V] from the forward instead (one head matMul less, n·V floats).
   */
  targetLogProbs(h: tf.Tensor2D, targets: tf.Tensor1D, keepSoftmax = false): tf.Tensor1D {
    const n = h.shape[0]
    // targetLogSoftmax: with the gradient wanted (the softmax kept, or the backward) one fused kernel
    // on the native backend; for lp alone the faster log-sum-exp + gather
    if (!underGradientTape()) return tf.tidy(() => targetLogSoftmax(this.logits(h), targets, false).lp)
    const tied = this.spec.tiedHead
    const w = this.weight(tied ? 'embed' : 'head.weight') as tf.Tensor2D
    const trainW = w instanceof tf.Variable && w.trainable
    /** [dh (, dW)] for dy [n] and d = softmax − onehot: dlogits = dy·(onehot − softmax) = −dy·d */
    const headGrad = (dy: tf.Tensor, hs: tf.Tensor2D, d: tf.Tensor2D): tf.Tensor[] => {
      const g = d.mul(dy.neg().reshape([n, 1])) as tf.Tensor2D // dlogits [n, V]
      const dh = tied ? tf.matMul(g, w) : tf.matMul(g, w, false, true)
      if (!trainW) return [dh]
      return [dh, tied ? tf.matMul(g, hs, true, false) : tf.matMul(hs, g, true, false)]
    }
    const op = tf.customGrad(((...args: unknown[]) => {
      const save = args[args.length - 1] as tf.GradSaveFunc
      const hin = args[0] as tf.Tensor2D
      const { lp, pMinusOneHot } = targetLogSoftmax(this.logits(hin), targets, keepSoftmax)
      save(keepSoftmax ? [hin, pMinusOneHot!] : [hin, targets])
      return {
        value: lp,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
          tf.tidy(() => {
            const hs = saved[0] as tf.Tensor2D
            if (keepSoftmax) return headGrad(dy, hs, saved[1] as tf.Tensor2D)
            return headGrad(dy, hs, targetLogSoftmax(this.logits(hs), saved[1] as tf.Tensor1D, true).pMinusOneHot!)
          })
      }
    }) as unknown as CustomGradient)
    return (trainW ? op(h, w) : op(h)) as tf.Tensor1D
  }

  /** check ids are in the vocabulary; `where` names the caller in the error */
  checkIds(ids: ArrayLike<number>, where: string): void {
    const V = this.spec.vocabSize
    for (let i = 0; i < ids.length; i++) {
      const t = ids[i]
      if (!Number.isInteger(t) || t < 0 || t >= V) throw new LlmError(`${where}: token id ${t} (position ${i}) is outside the vocabulary 0..${V - 1}`)
    }
  }

  get isDisposed(): boolean {
    return this.disposed
  }

  dispose(): void {
    if (this.disposed) return
    this.disposed = true
    for (const w of this.weights.values()) w.dispose()
    this.weights.clear()
    this.headT?.dispose()
    this.cosTable?.dispose()
    this.sinTable?.dispose()
    for (const m of this.masks.values()) m.dispose()
    this.masks.clear()
  }
}
