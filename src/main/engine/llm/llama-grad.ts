// The Llama-family decoder layer (llama.ts) under a gradient tape, differentiated by hand
// (issue 14: fine-tuning speed). One tf.customGrad op a layer: its forward keeps what the
// backward needs (or, over the activation budget, only its input, and the backward runs the
// forward again as tape.ts's checkpointing does), and its backward is written out below, so that
//   - when not every layer fits the budget with all its activations, a layer keeps all but the
//     attention probabilities and output, which its backward recomputes from q, k, v (a few
//     percent of a layer's forward; a third of its bytes), so that more layers fit and fewer run
//     twice (keepsAttention);
//   - each layer's kept tensors are freed as soon as its backward has run (tfjs holds a
//     customGrad's saves until the whole backward pass ends);
//   - LoRA's dropout masks (a byte an input element, 153 MB a step for SmolLM2 at 4 × 256) are
//     kept with a layer's activations; a layer run again in the backward draws them again from
//     their seeds (drawing a step's 210 masks costs ~0.45 CPU-s);
//   - no layer is run twice when its activations fit the budget (tape.ts replays every layer:
//     one more forward pass a step, a third of a LoRA step's layer time);
//   - the frozen weights get no gradient, the trainable ones (full fine-tuning) exactly one
//     matMul each, and LoRA's A and B theirs from the saved rank-r products;
//   - tfjs' tape keeps nothing of the layer but the op (its backward of every primitive op,
//     with the gradients of every intermediate held to the end, is what made tape.ts necessary).
// The math, per row (x [N, d], N = B·S; the same as transformers' LlamaDecoderLayer):
//   h = rms(x)·w1, rms(x) = x·r, r = (mean(x²) + eps)^−½;  q, k, v = h·Wq, h·Wk, h·Wv (+ b, + LoRA)
//   a = attention(rope(q), rope(k), v);  x1 = x + a·Wo;  h2 = rms(x1)·w2
//   g, u = h2·Wg, h2·Wu;  y = x1 + (silu(g)·u)·Wd
// and its gradient, given dy:
//   RMSNorm: dw = Σ_rows dh·x·r;  dx = r·(dxn − xn·mean(dxn·xn)),  dxn = dh·w, xn = x·r
//   SwiGLU: du = dact·silu(g);  dg = dact·u·σ(g)·(1 + g·(1 − σ(g)))
//   rope(x) = x·cos + swap(x)·sinS (swap: the halves exchanged) ⇒ dx = dr·cos + swap(dr·sinS)
//   softmax attention: dP = dO·Vᵀ, dV = Pᵀ·dO, dS = P·(dP − Σ_j dP·P), dQ = dS·K, dK = dSᵀ·Q
//   a linear y = x·W (+ b) + s·(dropout(x)·A)·B: dx = dy·Wᵀ + mask·((s·dy·Bᵀ)·Aᵀ), dW = xᵀ·dy,
//   db = Σ_rows dy, dB = s·(dropout(x)·A)ᵀ·dy, dA = dropout(x)ᵀ·(s·dy·Bᵀ)   (Hu et al. 2021)
// tests/integration/llm-lora.test.ts checks every gradient against tfjs' own differentiation.
import * as tf from '@tensorflow/tfjs'
import { swapHalves, type ForwardCtx } from './attention.ts'
import { dropoutKeep } from './dropout.ts'
import type { LoraView, NamedWeights } from './layer-weights.ts'
import type { CustomGradient } from './tape.ts'
import type { LlmSpec } from './spec.ts'

/** what a layer's forward kept for its backward */
interface Saved {
  x: tf.Tensor2D
  r1: tf.Tensor2D
  qt: tf.Tensor4D
  kt: tf.Tensor4D
  vt: tf.Tensor4D
  /** the attention probabilities and output; null: recomputed in the backward (keepsAttention) */
  probs: tf.Tensor4D | null
  a: tf.Tensor2D | null
  x1: tf.Tensor2D
  r2: tf.Tensor2D
  g: tf.Tensor2D
  u: tf.Tensor2D
  /** per LoRA-adapted linear: its dropout seed (null: no dropout), (x⊙keep)·A [N, r] (the
   *  1/(1−p) of inverted dropout not yet applied: see linear), and (when kept: `keepMasks` of
   *  forward) where the mask kept x, as bool */
  lora: Map<string, { seed: number | null; xa: tf.Tensor2D; kept: tf.Tensor | null }>
}

const SAVED_KEYS = ['x', 'r1', 'qt', 'kt', 'vt', 'probs', 'a', 'x1', 'r2', 'g', 'u'] as const

/** bytes one layer's forward keeps for its backward over B × S tokens (float32; LoRA's rank-r
 *  products); `attention`: with the attention probabilities and output */
function layerBytes(m: NamedWeights, B: number, S: number, lora: LoraView | null, attention: boolean): number {
  const s = m.spec
  const N = B * S
  // x, x1; rotated q; k, v; gate and up; (the attention output a and probabilities)
  const rows = s.dModel * 2 + s.nHeads * s.headDim + s.nKvHeads * s.headDim * 2 + s.dFF * 2 + (attention ? s.nHeads * s.headDim : 0)
  let bytes = 4 * (N * rows + (attention ? B * s.nHeads * S * S : 0))
  const dropout = (lora?.dropout() ?? 0) > 0
  for (const name of ['q', 'k', 'v', 'o', 'gate', 'up', 'down']) {
    const mod = lora?.module(`layers.0.${name}`)
    // (x⊙keep)·A [N, r] float32; with dropout its mask, a byte an input element
    if (mod) bytes += N * 4 * mod.A.shape[1]! + (dropout ? N * mod.A.shape[0]! : 0)
  }
  return bytes
}

/** Do the layers that keep their activations keep the attention probabilities and output too?
 *  Yes when every layer fits the model's activation budget with them; otherwise the backward
 *  recomputes them from the kept q, k, v (measured on SmolLM2 at 4 × 256: ~0.5 CPU-s a step for
 *  30 layers, where a layer run twice costs ~0.3 CPU-s each) and a layer keeps a third less. */
export function keepsAttention(m: NamedWeights, B: number, S: number, lora: LoraView | null = null): boolean {
  return m.spec.nLayers * layerBytes(m, B, S, lora, true) <= (m.activationBudgetBytes ?? Infinity)
}

/** bytes one layer's forward keeps for its backward over B × S tokens (keepsAttention decides
 *  what it keeps) */
export function savedBytesPerLayer(m: NamedWeights, B: number, S: number, lora: LoraView | null = null): number {
  return layerBytes(m, B, S, lora, keepsAttention(m, B, S, lora))
}

/** rms(x)·w and the row factor r */
function rmsForward(x: tf.Tensor2D, w: tf.Tensor, eps: number): { h: tf.Tensor2D; r: tf.Tensor2D } {
  const r = tf.rsqrt(x.square().mean(-1, true).add(eps)) as tf.Tensor2D
  return { h: x.mul(r).mul(w) as tf.Tensor2D, r }
}

/** dx (and dw when wanted) of h = x·r·w given dh */
function rmsBackward(dh: tf.Tensor2D, x: tf.Tensor2D, r: tf.Tensor2D, w: tf.Tensor, wantW: boolean): { dx: tf.Tensor2D; dw: tf.Tensor | null } {
  const xn = x.mul(r)
  const dxn = dh.mul(w)
  const dx = dxn.sub(xn.mul(dxn.mul(xn).mean(-1, true))).mul(r) as tf.Tensor2D
  return { dx, dw: wantW ? dh.mul(xn).sum(0) : null }
}

const trainable = (t: tf.Tensor | undefined): t is tf.Variable => t instanceof tf.Variable && t.trainable

export class LlamaLayerGrad {
  private readonly L: string
  constructor(
    private readonly m: NamedWeights,
    private readonly l: number,
    private readonly lora: LoraView | null
  ) {
    this.L = `layers.${l}`
  }

  /** LoRA's s, times inverted dropout's 1/(1−p) when it drops: both go on the rank-r factors
   *  ((x⊙keep)·A·s/(1−p) = dropout(x)·A·s), not on the [N, in] input */
  private loraScale(seed: number | null): number {
    const s = this.lora!.scale()
    return seed === null ? s : s / (1 - this.lora!.dropout())
  }

  /** x·W (+ b) (+ s·(dropout(x)·A)·B), recording LoRA's seed and rank-r product (and its mask
   *  with `keepMasks`) */
  private linear(x: tf.Tensor2D, name: string, lora: Saved['lora'], keepMasks: boolean): tf.Tensor2D {
    const full = `${this.L}.${name}`
    const w = this.m.weight(`${full}.weight`) as tf.Tensor2D
    const b = this.m.weights.get(`${full}.bias`)
    let y = (b ? tf.fused.matMul({ a: x, b: w, bias: b }) : tf.matMul(x, w)) as tf.Tensor2D
    const mod = this.lora?.module(full)
    if (mod) {
      const p = this.lora!.dropout()
      const seed = p > 0 ? this.lora!.nextMaskSeed() : null
      const kept = seed === null ? null : dropoutKeep(x.shape, p, seed)
      const xa = tf.matMul(kept ? x.mul(kept.cast('float32')) : x, mod.A) as tf.Tensor2D
      y = y.add(tf.matMul(xa.mul(this.loraScale(seed)), mod.B)) as tf.Tensor2D
      lora.set(full, { seed, xa, kept: kept && keepMasks ? kept : null })
    }
    return y
  }

  /** dx of a linear given dy, its input x; its parameters' gradients into `grads` */
  private linearBack(dy: tf.Tensor2D, x: tf.Tensor2D, name: string, saved: Saved, grads: Map<tf.Variable, tf.Tensor>): tf.Tensor2D {
    const full = `${this.L}.${name}`
    const w = this.m.weight(`${full}.weight`) as tf.Tensor2D
    const b = this.m.weights.get(`${full}.bias`)
    let dx = tf.matMul(dy, w, false, true)
    if (trainable(w)) grads.set(w, tf.matMul(x, dy, true, false))
    if (trainable(b)) grads.set(b, dy.sum(0))
    const mod = this.lora?.module(full)
    const rec = saved.lora.get(full)
    if (mod && rec) {
      // with keep the 0/1 mask and s' = s/(1−p) (loraScale): dB = s'·((x⊙keep)·A)ᵀ·dy,
      // du = s'·dy·Bᵀ, dA = (x⊙keep)ᵀ·du, dx += keep⊙(du·Aᵀ)
      const s = this.loraScale(rec.seed)
      const keep = rec.seed === null ? null : (rec.kept ?? dropoutKeep(x.shape, this.lora!.dropout(), rec.seed)).cast('float32')
      const du = tf.matMul(dy, mod.B, false, true).mul(s) as tf.Tensor2D // [N, r]
      if (mod.B.trainable) grads.set(mod.B, tf.matMul(rec.xa, dy, true, false).mul(s))
      if (mod.A.trainable) grads.set(mod.A, tf.matMul(keep ? x.mul(keep) : x, du, true, false))
      const back = tf.matMul(du, mod.A, false, true)
      dx = dx.add(keep ? back.mul(keep) : back)
    }
    return dx as tf.Tensor2D
  }

  /** the spec and the shapes of a pass: B traces × S positions, H query heads in KV groups of G,
   *  head size dh */
  private dims(ctx: ForwardCtx): { s: LlmSpec; B: number; S: number; H: number; KV: number; dh: number; G: number } {
    const s = this.m.spec
    return { s, B: ctx.B, S: ctx.S, H: s.nHeads, KV: s.nKvHeads, dh: s.headDim, G: s.nHeads / s.nKvHeads }
  }

  /** softmax attention probabilities [B, KV, G·S, S] of rotated q and k */
  private probs(qt: tf.Tensor4D, kt: tf.Tensor4D, ctx: ForwardCtx): tf.Tensor4D {
    const { B, S, H, KV, G } = this.dims(ctx)
    let scores: tf.Tensor = tf.matMul(qt, kt, false, true) // [B, KV, G·S, S]
    if (ctx.bias) scores = scores.reshape([B, H, S, S]).add(ctx.bias)
    return tf.softmax(scores, -1).reshape([B, KV, G * S, S]) as tf.Tensor4D
  }

  /** the attention output [B·S, H·dh] */
  private attend(probs: tf.Tensor4D, vt: tf.Tensor4D, ctx: ForwardCtx): tf.Tensor2D {
    const { B, S, H, dh } = this.dims(ctx)
    return tf
      .matMul(probs, vt)
      .reshape([B, H, S, dh])
      .transpose([0, 2, 1, 3])
      .reshape([B * S, H * dh]) as tf.Tensor2D
  }

  /** the layer's output and what its backward needs (`attention`: the attention probabilities
   *  and output among it; `keepMasks`: LoRA's dropout masks too, for its backward) */
  forward(x: tf.Tensor2D, ctx: ForwardCtx, keepMasks: boolean, attention = true): { y: tf.Tensor2D; saved: Saved } {
    const { s, B, S, H, KV, dh, G } = this.dims(ctx)
    const lora: Saved['lora'] = new Map()
    const { h, r: r1 } = rmsForward(x, this.m.weight(`${this.L}.attn_norm.weight`), s.normEps)
    let q = this.linear(h, 'q', lora, keepMasks).reshape([B, S, H, dh]) as tf.Tensor4D
    let k = this.linear(h, 'k', lora, keepMasks).reshape([B, S, KV, dh]) as tf.Tensor4D
    const v = this.linear(h, 'v', lora, keepMasks).reshape([B, S, KV, dh]) as tf.Tensor4D
    if (ctx.cos && ctx.sinSigned && ctx.cosQ && ctx.sinSignedQ) {
      q = q.mul(ctx.cosQ).add(swapHalves(q).mul(ctx.sinSignedQ)) as tf.Tensor4D
      k = k.mul(ctx.cos).add(swapHalves(k).mul(ctx.sinSigned)) as tf.Tensor4D
    } else q = q.mul(1 / Math.sqrt(dh)) as tf.Tensor4D
    const qt = q.transpose([0, 2, 1, 3]).reshape([B, KV, G * S, dh]) as tf.Tensor4D
    const kt = k.transpose([0, 2, 1, 3]) as tf.Tensor4D
    const vt = v.transpose([0, 2, 1, 3]) as tf.Tensor4D
    const probs = this.probs(qt, kt, ctx)
    const a = this.attend(probs, vt, ctx)
    const x1 = x.add(this.linear(a, 'o', lora, keepMasks)) as tf.Tensor2D
    const { h: h2, r: r2 } = rmsForward(x1, this.m.weight(`${this.L}.mlp_norm.weight`), s.normEps)
    const g = this.linear(h2, 'gate', lora, keepMasks)
    const u = this.linear(h2, 'up', lora, keepMasks)
    const act = g.mul(tf.sigmoid(g)).mul(u) as tf.Tensor2D
    const y = x1.add(this.linear(act, 'down', lora, keepMasks)) as tf.Tensor2D
    return { y, saved: { x, r1, qt, kt, vt, probs: attention ? probs : null, a: attention ? a : null, x1, r2, g, u, lora } }
  }

  /** dx and every trainable tensor's gradient given dy */
  backward(dy: tf.Tensor2D, sv: Saved, ctx: ForwardCtx): { dx: tf.Tensor2D; grads: Map<tf.Variable, tf.Tensor> } {
    const { B, S, H, KV, dh, G } = this.dims(ctx)
    const grads = new Map<tf.Variable, tf.Tensor>()
    const w1 = this.m.weight(`${this.L}.attn_norm.weight`)
    const w2 = this.m.weight(`${this.L}.mlp_norm.weight`)
    // feed-forward
    const sg = tf.sigmoid(sv.g)
    const silu = sv.g.mul(sg) as tf.Tensor2D
    const dact = this.linearBack(dy, silu.mul(sv.u) as tf.Tensor2D, 'down', sv, grads)
    const du = dact.mul(silu) as tf.Tensor2D
    const dg = dact.mul(sv.u).mul(sg.mul(sv.g.mul(tf.scalar(1).sub(sg)).add(1))) as tf.Tensor2D
    const h2 = sv.x1.mul(sv.r2).mul(w2) as tf.Tensor2D
    const dh2 = this.linearBack(dg, h2, 'gate', sv, grads).add(this.linearBack(du, h2, 'up', sv, grads)) as tf.Tensor2D
    const n2 = rmsBackward(dh2, sv.x1, sv.r2, w2, trainable(w2))
    if (n2.dw) grads.set(w2 as tf.Variable, n2.dw)
    const dx1 = dy.add(n2.dx) as tf.Tensor2D
    // attention
    const probs = sv.probs ?? this.probs(sv.qt, sv.kt, ctx)
    const da = this.linearBack(dx1, sv.a ?? this.attend(probs, sv.vt, ctx), 'o', sv, grads)
    const dO = da
      .reshape([B, S, H, dh])
      .transpose([0, 2, 1, 3])
      .reshape([B, KV, G * S, dh])
    const dP = tf.matMul(dO, sv.vt, false, true)
    const dvt = tf.matMul(probs, dO, true, false) // [B, KV, S, dh]
    const dS = probs.mul(dP.sub(dP.mul(probs).sum(-1, true)))
    const dqt = tf.matMul(dS, sv.kt) // [B, KV, G·S, dh]
    const dkt = tf.matMul(dS, sv.qt, true, false) // [B, KV, S, dh]
    let dq = dqt.reshape([B, H, S, dh]).transpose([0, 2, 1, 3]) as tf.Tensor4D
    let dk = dkt.transpose([0, 2, 1, 3]) as tf.Tensor4D
    const dv = dvt.transpose([0, 2, 1, 3]).reshape([B * S, KV * dh]) as tf.Tensor2D
    if (ctx.cos && ctx.sinSigned && ctx.cosQ && ctx.sinSignedQ) {
      dq = dq.mul(ctx.cosQ).add(swapHalves(dq.mul(ctx.sinSignedQ) as tf.Tensor4D)) as tf.Tensor4D
      dk = dk.mul(ctx.cos).add(swapHalves(dk.mul(ctx.sinSigned) as tf.Tensor4D)) as tf.Tensor4D
    } else dq = dq.mul(1 / Math.sqrt(dh)) as tf.Tensor4D
    const h = sv.x.mul(sv.r1).mul(w1) as tf.Tensor2D
    const dh1 = tf.addN([
      this.linearBack(dq.reshape([B * S, H * dh]) as tf.Tensor2D, h, 'q', sv, grads),
      this.linearBack(dk.reshape([B * S, KV * dh]) as tf.Tensor2D, h, 'k', sv, grads),
      this.linearBack(dv, h, 'v', sv, grads)
    ]) as tf.Tensor2D
    const n1 = rmsBackward(dh1, sv.x, sv.r1, w1, trainable(w1))
    if (n1.dw) grads.set(w1 as tf.Variable, n1.dw)
    return { dx: dx1.add(n1.dx) as tf.Tensor2D, grads }
  }
}

/** Saved as a flat list (tf.customGrad's save) and back. */
interface LoraMeta {
  name: string
  seed: number | null
  /** its dropout mask is among the saves */
  kept: boolean
}

/** (the attention probabilities and output only when kept: `attention` of forward; the dropout
 *  masks the forward drew) */
function flatten(sv: Saved): { tensors: tf.Tensor[]; loraMeta: LoraMeta[] } {
  const tensors: tf.Tensor[] = SAVED_KEYS.flatMap((k) => (sv[k] === null ? [] : [sv[k] as tf.Tensor]))
  const loraMeta: LoraMeta[] = []
  for (const [name, r] of sv.lora) {
    tensors.push(r.xa)
    if (r.kept) tensors.push(r.kept)
    loraMeta.push({ name, seed: r.seed, kept: r.kept !== null })
  }
  return { tensors, loraMeta }
}

function unflatten(ts: tf.Tensor[], loraMeta: LoraMeta[], attention: boolean): Saved {
  let i = 0
  const sv = Object.fromEntries(SAVED_KEYS.map((k) => [k, attention || (k !== 'probs' && k !== 'a') ? ts[i++] : null])) as unknown as Saved
  sv.lora = new Map(
    loraMeta.map((m) => {
      const xa = ts[i++] as tf.Tensor2D
      return [m.name, { seed: m.seed, xa, kept: m.kept ? ts[i++] : null }]
    })
  )
  return sv
}

/** the ctx tensors a layer reads (kept with the op: its backward may come after their owner is gone) */
type CtxTensors = [tf.Tensor2D | null, tf.Tensor4D | null, tf.Tensor4D | null, tf.Tensor4D | null, tf.Tensor4D | null, tf.Tensor4D | null]

const ctxTensors = (c: ForwardCtx): CtxTensors => [c.positions, c.cos, c.sinSigned, c.cosQ, c.sinSignedQ, c.bias]
const withCtx = (c: ForwardCtx, t: CtxTensors): ForwardCtx => ({ ...c, positions: t[0], cos: t[1], sinSigned: t[2], cosQ: t[3], sinSignedQ: t[4], bias: t[5] })

/**
 * Layer l of a Llama-family model as one op with a hand-written gradient to x and to `params`
 * (the layer's trainable weights, or its LoRA A and B). `keep`: the forward keeps its
 * activations (savedBytesPerLayer); otherwise only x, and the backward runs the forward again
 * (with the same dropout masks: `replay` puts the adapter's mask counter back). Call only under a
 * gradient tape.
 */
export function llamaLayerWithGrad(
  m: NamedWeights,
  l: number,
  x: tf.Tensor2D,
  ctx: ForwardCtx,
  params: tf.Variable[],
  lora: LoraView | null,
  replay: { get(): number; set(n: number): void } | null,
  keep: boolean
): tf.Tensor2D {
  const layer = new LlamaLayerGrad(m, l, lora)
  const cts = ctxTensors(ctx)
  const kept = cts.filter((t): t is NonNullable<typeof t> => t !== null)
  const rebuild = (saved: tf.Tensor[]): CtxTensors => {
    let i = 0
    return cts.map((t) => (t === null ? null : saved[i++])) as CtxTensors
  }
  const state = replay?.get() ?? 0
  const attention = keepsAttention(m, ctx.B, ctx.S, lora)
  let loraMeta: LoraMeta[] = []
  const op = tf.customGrad(((...args: unknown[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc
    const xin = args[0] as tf.Tensor2D
    // a layer that keeps its activations keeps its dropout masks with them (counted in layerBytes)
    const { y, saved } = layer.forward(xin, ctx, keep, attention)
    if (keep) {
      const f = flatten(saved)
      loraMeta = f.loraMeta
      save([...kept, ...f.tensors])
    } else save([xin, ...kept])
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, ts: tf.Tensor[]) =>
        tf.tidy(() => {
          let sv: Saved
          let c: ForwardCtx
          if (keep) {
            c = withCtx(ctx, rebuild(ts))
            sv = unflatten(ts.slice(kept.length), loraMeta, attention)
          } else {
            // run the forward again with the masks it drew the first time
            c = withCtx(ctx, rebuild(ts.slice(1)))
            const after = replay?.get() ?? 0
            replay?.set(state)
            try {
              sv = layer.forward(ts[0] as tf.Tensor2D, c, true).saved // its masks too: no third draw
            } finally {
              replay?.set(after)
            }
          }
          const { dx, grads } = layer.backward(dy as tf.Tensor2D, sv, c)
          const out = [dx, ...params.map((p) => grads.get(p) ?? tf.zerosLike(p))]
          // free this layer's saves now (clones: the tensors they were made from are the
          // forward's; tfjs' own disposal at the end of the backward skips disposed tensors)
          for (const t of ts) t.dispose()
          return out
        })
    }
  }) as unknown as CustomGradient)
  return op(x, ...params) as tf.Tensor2D
}
