// The causal transformer's network (transformer.ts holds its parameters, BOS and padding
// conventions, generation), with its training pass written out: transformerLogProbs is one
// tf.customGrad over every parameter whose backward pass is the chain rule by hand, layer by
// layer, a few ops each (issue 17: tfjs's tape issued ~1400 kernels a step for this model, most
// of them small; this issues ~350). The gradients are tested against tfjs's autodiff of an
// independent reference implementation (tests/unit/hand-gradients.test.ts).
//
// Layout: activations are rows [n = B·S, d]; attention works on [B, H, S, dh], reached by one
// reshape + transpose of the fused q/k/v projection and left by one transpose + reshape.
import * as tf from '@tensorflow/tfjs'
import { layerNormNoGrad } from '../backend/native-ops.ts'
import { affine } from './mlp.ts'
import type { Block, TransformerConfig } from './transformer-types.ts'

export interface TransformerNet {
  config: Required<TransformerConfig>
  wte: tf.Variable
  wpe: tf.Variable
  blocks: Block[]
  lnfg: tf.Variable
  lnfb: tf.Variable
  /** output head [d, V]; null: tied to wte */
  head: tf.Variable | null
}

const LN_EPS = 1e-5
/** GELU (tanh approximation, GPT-2): 0.5u(1 + tanh(c(u + a·u³))) = u·σ(2c·u + 2ca·u³) */
const GELU_C = Math.sqrt(2 / Math.PI)
const GELU_A = 0.044715

interface KV {
  k: tf.Tensor4D
  v: tf.Tensor4D
}

/** What one layer norm keeps for its backward pass. */
interface LnSaved {
  xhat: tf.Tensor2D
  rstd: tf.Tensor2D
}

/** What one block keeps for its backward pass. */
interface BlockSaved {
  ln1: LnSaved
  h1: tf.Tensor2D
  /** q·(1/√dh), k, v: [B, H, S, dh] */
  qs: tf.Tensor4D
  k: tf.Tensor4D
  v: tf.Tensor4D
  /** attention probabilities [B, H, S, S] */
  p: tf.Tensor4D
  /** attention output p·v [B, H, S, dh], and as rows [n, d] (the input of w_o) */
  oh: tf.Tensor4D
  o: tf.Tensor2D
  ln2: LnSaved
  h2: tf.Tensor2D
  /** u² of the pre-GELU u, σ(z), the GELU output: [n, f] */
  u2: tf.Tensor2D
  sig: tf.Tensor2D
  g: tf.Tensor2D
}

interface Saved {
  blocks: BlockSaved[]
  lnf: LnSaved
  hf: tf.Tensor2D
}

/** The mean over the last axis of rows x [n, d] as x · (1/d)·1 [d, 1] → [n, 1]: one matrix
 *  product, where tfjs-node runs tf.mean as Cast + Mean with an uploaded axis argument. */
const rowMean = (x: tf.Tensor2D, col: tf.Tensor2D): tf.Tensor2D => tf.matMul(x, col)

/** y = (x − mean)/√(var + ε)·g + b over the last axis of rows x [n, d]; col = meanColumn(d) */
function layerNorm(x: tf.Tensor2D, g: tf.Tensor, b: tf.Tensor, col: tf.Tensor2D): { y: tf.Tensor2D; saved: LnSaved } {
  const xc = tf.sub(x, rowMean(x, col)) as tf.Tensor2D
  const rstd = tf.rsqrt(tf.add(rowMean(tf.square(xc), col), LN_EPS)) as tf.Tensor2D
  const xhat = tf.mul(xc, rstd) as tf.Tensor2D
  return { y: tf.add(tf.mul(xhat, g), b) as tf.Tensor2D, saved: { xhat, rstd } }
}

/** d x, d g, d b of a layer norm: dx = rstd·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)), dx̂ = dy·g */
function layerNormBackward(dy: tf.Tensor2D, s: LnSaved, g: tf.Tensor, col: tf.Tensor2D): { dx: tf.Tensor2D; dg: tf.Tensor; db: tf.Tensor } {
  const dxhat = tf.mul(dy, g) as tf.Tensor2D
  const inner = tf.sub(tf.sub(dxhat, rowMean(dxhat, col)), tf.mul(s.xhat, rowMean(tf.mul(dxhat, s.xhat) as tf.Tensor2D, col)))
  return { dx: tf.mul(inner, s.rstd) as tf.Tensor2D, dg: tf.sum(tf.mul(dy, s.xhat), 0), db: tf.sum(dy, 0) }
}

/** d x (unless skipped), d W, d b of affine() */
function affineBackward(dy: tf.Tensor2D, x: tf.Tensor2D, w: tf.Tensor, needDx = true): { dx: tf.Tensor2D | null; dw: tf.Tensor; db: tf.Tensor } {
  return { dx: needDx ? (tf.matMul(dy, w as tf.Tensor2D, false, true) as tf.Tensor2D) : null, dw: tf.matMul(x, dy, true, false), db: tf.sum(dy, 0) }
}

/** rows of `table` at `idx` [n] (int32) */
function lookup(table: tf.Tensor, idx: tf.Tensor1D, rows: number): tf.Tensor2D {
  // The wasm backend has no UnsortedSegmentSum, the gradient of gather: there the lookup and its
  // gradient are one-hot matrix products (exactly the same values).
  if (hasSegmentSum()) return tf.gather(table as tf.Tensor2D, idx)
  return tf.matMul(tf.oneHot(idx, rows), table as tf.Tensor2D)
}

/** d table of lookup(): the rows of dy summed into the rows they were read from */
function lookupBackward(dy: tf.Tensor2D, idx: tf.Tensor1D, rows: number): tf.Tensor2D {
  if (hasSegmentSum()) return tf.unsortedSegmentSum(dy, idx, rows) as tf.Tensor2D
  return tf.matMul(tf.oneHot(idx, rows), dy, true, false)
}

const hasSegmentSum = (): boolean => Boolean(tf.getKernel('UnsortedSegmentSum', tf.getBackend()))

/**
 * The network on ids [B, S] at positions start … start+S−1: logits [B·S, V] and each layer's
 * keys and values including the new positions. bias [B or 1, 1, S, P] is added to the attention
 * scores (null: attend to every key); past holds each layer's keys and values of the positions
 * before start. With `rec`, everything the backward pass needs is recorded there (training).
 * Call inside tf.tidy.
 */
export function transformerCore(net: TransformerNet, ids: tf.Tensor2D, start: number, bias: tf.Tensor | null, past: KV[] | null, rec: Saved | null): { logits: tf.Tensor2D; kv: KV[] } {
  const [B, S] = ids.shape
  const n = B * S
  const { dModel: d, nHeads: H, vocabSize: V } = net.config
  const dh = d / H
  const col = rec ? (tf.fill([d, 1], 1 / d) as tf.Tensor2D) : null
  const tok = lookup(net.wte, tf.reshape(ids, [n]) as tf.Tensor1D, V)
  const pos = tf.tile(tf.slice(net.wpe, [start, 0], [S, d]), [B, 1])
  let x = tf.add(tok, pos) as tf.Tensor2D
  const scale = 1 / Math.sqrt(dh)
  const kv: KV[] = []
  // a pass nobody differentiates takes each layer norm as one op (native backend)
  const norm = (x: tf.Tensor2D, g: tf.Tensor, b: tf.Tensor): { y: tf.Tensor2D; saved: LnSaved | null } =>
    col ? layerNorm(x, g, b, col) : { y: layerNormNoGrad(x, g, b, LN_EPS), saved: null }
  for (const [l, blk] of net.blocks.entries()) {
    const ln1 = norm(x, blk.ln1g, blk.ln1b)
    // [n, 3d] → [B, S, 3H, dh] → [B, 3H, S, dh]: q, k, v of every head
    const qkv = tf.transpose(tf.reshape(affine(ln1.y, blk.wqkv, blk.bqkv), [B, S, 3 * H, dh]), [0, 2, 1, 3])
    const [q, kNew, vNew] = tf.split(qkv, 3, 1) as tf.Tensor4D[]
    const k = past ? (tf.concat([past[l].k, kNew], 2) as tf.Tensor4D) : kNew
    const v = past ? (tf.concat([past[l].v, vNew], 2) as tf.Tensor4D) : vNew
    kv.push({ k, v })
    const qs = tf.mul(q, scale) as tf.Tensor4D
    let scores: tf.Tensor = tf.matMul(qs, k, false, true) // [B, H, S, P]
    if (bias) scores = tf.add(scores, bias)
    const p = tf.softmax(scores) as tf.Tensor4D
    const oh = tf.matMul(p, v) as tf.Tensor4D
    const o = tf.reshape(tf.transpose(oh, [0, 2, 1, 3]), [n, d]) as tf.Tensor2D
    const xMid = tf.add(x, affine(o, blk.wo, blk.bo)) as tf.Tensor2D
    const ln2 = norm(xMid, blk.ln2g, blk.ln2b)
    const u = affine(ln2.y, blk.wfc, blk.bfc)
    const u2 = tf.square(u) as tf.Tensor2D
    const sig = tf.sigmoid(tf.mul(u, tf.add(tf.mul(u2, 2 * GELU_C * GELU_A), 2 * GELU_C))) as tf.Tensor2D
    const g = tf.mul(u, sig) as tf.Tensor2D
    x = tf.add(xMid, affine(g, blk.wproj, blk.bproj)) as tf.Tensor2D
    rec?.blocks.push({ ln1: ln1.saved!, h1: ln1.y, qs, k, v, p, oh, o, ln2: ln2.saved!, h2: ln2.y, u2, sig, g })
  }
  const lnf = norm(x, net.lnfg, net.lnfb)
  if (rec) {
    rec.lnf = lnf.saved!
    rec.hf = lnf.y
  }
  const logits = (net.head ? tf.matMul(lnf.y, net.head as tf.Tensor2D) : tf.matMul(lnf.y, net.wte as tf.Tensor2D, false, true)) as tf.Tensor2D
  return { logits, kv }
}

/** Flatten / unflatten a Saved for tf.customGrad's save(), in one fixed order. */
const BLOCK_KEYS = ['h1', 'qs', 'k', 'v', 'p', 'oh', 'o', 'h2', 'u2', 'sig', 'g'] as const
function flattenSaved(s: Saved): tf.Tensor[] {
  const out: tf.Tensor[] = []
  for (const b of s.blocks) out.push(b.ln1.xhat, b.ln1.rstd, b.ln2.xhat, b.ln2.rstd, ...BLOCK_KEYS.map((k) => b[k]))
  out.push(s.lnf.xhat, s.lnf.rstd, s.hf)
  return out
}
function unflattenSaved(t: tf.Tensor[], layers: number): Saved {
  let i = 0
  const next = <T extends tf.Tensor>(): T => t[i++] as T
  const blocks: BlockSaved[] = []
  for (let l = 0; l < layers; l++) {
    const ln1 = { xhat: next<tf.Tensor2D>(), rstd: next<tf.Tensor2D>() }
    const ln2 = { xhat: next<tf.Tensor2D>(), rstd: next<tf.Tensor2D>() }
    const b = { ln1, ln2 } as Partial<BlockSaved> as Record<string, unknown>
    for (const k of BLOCK_KEYS) b[k] = next()
    blocks.push(b as unknown as BlockSaved)
  }
  return { blocks, lnf: { xhat: next<tf.Tensor2D>(), rstd: next<tf.Tensor2D>() }, hf: next<tf.Tensor2D>() }
}

/** log-softmax of logits [B·S, V] at the targets [B, S]: (logit − max) − log Σ exp(logit − max),
 *  with what its gradient needs (exp(logit − max), its sum, the targets one-hot) */
function targetLogSoftmax(logits: tf.Tensor2D, targets: tf.Tensor2D, V: number): { lp: tf.Tensor2D; e: tf.Tensor; sumE: tf.Tensor; onehot: tf.Tensor } {
  const [B, S] = targets.shape
  const shifted = tf.sub(logits, tf.max(logits, -1, true))
  const e = tf.exp(shifted)
  const sumE = tf.sum(e, -1, true)
  const onehot = tf.oneHot(tf.reshape(targets, [B * S]) as tf.Tensor1D, V)
  return { lp: tf.reshape(tf.sub(tf.sum(tf.mul(shifted, onehot), -1, true), tf.log(sumE)), [B, S]) as tf.Tensor2D, e, sumE, onehot }
}

/** transformerLogProbs where no gradient is taken (scoring π_ref, a q that is not the policy):
 *  the same values without recording the backward pass's tensors, each layer norm one op. */
export function transformerLogProbsNoGrad(net: TransformerNet, inputs: tf.Tensor2D, targets: tf.Tensor2D, bias: tf.Tensor4D): tf.Tensor2D {
  return targetLogSoftmax(transformerCore(net, inputs, 0, bias, null, null).logits, targets, net.config.vocabSize).lp
}

/**
 * log π(target_t | inputs_≤t) [B, S] for inputs and targets [B, S] (int32) under the attention
 * bias [B, 1, S, S], differentiable in `variables` (the policy's parameters, in its order:
 * wte, wpe, 12 per block, lnf g, b, head?) by the hand-written backward pass below.
 */
export function transformerLogProbs(net: TransformerNet, variables: tf.Variable[], inputs: tf.Tensor2D, targets: tf.Tensor2D, bias: tf.Tensor4D): tf.Tensor2D {
  const [B, S] = inputs.shape
  const n = B * S
  const V = net.config.vocabSize
  const f = tf.customGrad((...args) => {
    const save = args[variables.length] as unknown as (t: tf.Tensor[]) => void
    const rec: Saved = { blocks: [], lnf: null as unknown as LnSaved, hf: null as unknown as tf.Tensor2D }
    const { logits } = transformerCore(net, inputs, 0, bias, null, rec)
    const { lp, e, sumE, onehot } = targetLogSoftmax(logits, targets, V)
    save([...flattenSaved(rec), tf.div(e, sumE), onehot, inputs])
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const k = saved.length
      const [probs, oh, ids] = saved.slice(k - 3)
      // d log p_target / d logits = onehot − softmax
      const dLogits = tf.mul(tf.sub(oh, probs), tf.reshape(dy, [n, 1])) as tf.Tensor2D
      return transformerBackward(net, unflattenSaved(saved.slice(0, k - 3), net.blocks.length), dLogits, ids as tf.Tensor2D)
    }
    return { value: lp, gradFunc }
  })
  return f(...variables) as tf.Tensor2D
}

/** Gradients of every parameter (the policy's order) given d loss / d logits [n, V]. */
function transformerBackward(net: TransformerNet, s: Saved, dLogits: tf.Tensor2D, ids: tf.Tensor2D): tf.Tensor[] {
  const [B, S] = ids.shape
  const n = B * S
  const { dModel: d, nHeads: H, vocabSize: V, maxLen } = net.config
  const dh = d / H
  const scale = 1 / Math.sqrt(dh)
  const col = tf.fill([d, 1], 1 / d) as tf.Tensor2D
  // head: logits = hf · W (untied) or hf · wteᵀ (tied)
  let dWte: tf.Tensor | null = null
  let dHead: tf.Tensor | null = null
  let dhf: tf.Tensor2D
  if (net.head) {
    dHead = tf.matMul(s.hf, dLogits, true, false)
    dhf = tf.matMul(dLogits, net.head as tf.Tensor2D, false, true)
  } else {
    dWte = tf.matMul(dLogits, s.hf, true, false)
    dhf = tf.matMul(dLogits, net.wte as tf.Tensor2D)
  }
  const lnf = layerNormBackward(dhf, s.lnf, net.lnfg, col)
  let dx = lnf.dx
  const blockGrads: tf.Tensor[][] = []
  for (let l = net.blocks.length - 1; l >= 0; l--) {
    const blk = net.blocks[l]
    const b = s.blocks[l]
    // x = xMid + g·W_proj + b_proj, g = u·σ(z)
    const proj = affineBackward(dx, b.g, blk.wproj)
    // dg/du = σ + u·σ(1 − σ)·dz/du = σ + g·(1 − σ)·dz/du, dz/du = 2c + 6ca·u²
    const dzdu = tf.add(tf.mul(b.u2, 6 * GELU_C * GELU_A), 2 * GELU_C)
    const dgdu = tf.add(b.sig, tf.mul(tf.mul(b.g, tf.sub(1, b.sig)), dzdu))
    const du = tf.mul(proj.dx!, dgdu) as tf.Tensor2D
    const fc = affineBackward(du, b.h2, blk.wfc)
    const ln2 = layerNormBackward(fc.dx!, b.ln2, blk.ln2g, col)
    const dxMid = tf.add(dx, ln2.dx) as tf.Tensor2D
    // xMid = x + o·W_o + b_o
    const out = affineBackward(dxMid, b.o, blk.wo)
    const dO = tf.transpose(tf.reshape(out.dx!, [B, S, H, dh]), [0, 2, 1, 3]) as tf.Tensor4D
    const dP = tf.matMul(dO, b.v, false, true)
    const dv = tf.matMul(b.p, dO, true, false)
    // softmax: dscores = p ⊙ (dp − Σ_keys dp ⊙ p), and Σ_keys dp ⊙ p = Σ_keys p (dO·v) = dO·o
    // per query: summed over dh instead of over the keys (8× less here; FlashAttention's D)
    const dScores = tf.mul(b.p, tf.sub(dP, tf.sum(tf.mul(dO, b.oh), -1, true)))
    const dq = tf.mul(tf.matMul(dScores, b.k), scale)
    const dk = tf.matMul(dScores, b.qs, true, false)
    const dQkv = tf.reshape(tf.transpose(tf.concat([dq, dk, dv], 1), [0, 2, 1, 3]), [n, 3 * d]) as tf.Tensor2D
    const qkv = affineBackward(dQkv, b.h1, blk.wqkv)
    const ln1 = layerNormBackward(qkv.dx!, b.ln1, blk.ln1g, col)
    dx = tf.add(dxMid, ln1.dx) as tf.Tensor2D
    blockGrads[l] = [ln1.dg, ln1.db, qkv.dw, qkv.db, out.dw, out.db, ln2.dg, ln2.db, fc.dw, fc.db, proj.dw, proj.db]
  }
  // x0 = wte[ids] + wpe[position]
  const dTok = lookupBackward(dx, tf.reshape(ids, [n]) as tf.Tensor1D, V)
  dWte = dWte ? tf.add(dWte, dTok) : dTok
  const dPos = tf.sum(tf.reshape(dx, [B, S, d]), 0)
  const dWpe =
    S < maxLen
      ? tf.pad(dPos, [
          [0, maxLen - S],
          [0, 0]
        ])
      : dPos
  const grads = [dWte, dWpe, ...blockGrads.flat(), lnf.dg, lnf.db]
  if (dHead) grads.push(dHead)
  return grads
}
