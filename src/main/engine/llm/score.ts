// Teacher-forced scoring: per-token log-probabilities log p(x_t | x_<t) of given token ids.
// The log-softmax over the vocabulary is taken a chunk of rows at a time (logits of `chunkRows`
// positions, then the log-sum-exp and the target's logit: targetLogSoftmax), so a batch of
// 8 × 256 tokens with a 49k vocabulary never holds its 400 MB of logits at once; only real
// (unpadded) positions are scored.
import * as tf from '@tensorflow/tfjs'
import type { CausalLm } from './decoder.ts'
import { targetLogSoftmax } from '../backend/native-ops.ts'

/** rows of logits computed at once: ~16M floats (64 MB) whatever the vocabulary */
export function defaultChunkRows(vocabSize: number): number {
  return Math.max(16, Math.floor((16 << 20) / vocabSize))
}

export interface ScoreOptions {
  /** sequences scored together (padded to the longest of them); default 8 */
  batchSize?: number
  chunkRows?: number
  /** called after each batch with the number of sequences done */
  onProgress?: (done: number, total: number) => void
}

/**
 * log p(ids[b, t] | ids[b, < t]) for a right-padded batch: ids [B·T] row-major, lengths[b] real
 * tokens in row b. Returns [B·T]: position 0 of each row and padded positions are 0 (nothing to
 * condition on / not a token).
 */
export function scoreBatch(lm: CausalLm, ids: Int32Array, lengths: ArrayLike<number>, B: number, T: number, chunkRows = defaultChunkRows(lm.spec.vocabSize)): Float32Array {
  if (ids.length !== B * T) throw new Error(`scoreBatch: ${ids.length} ids for a ${B} × ${T} batch`)
  for (let b = 0; b < B; b++) {
    if (!(lengths[b] >= 0 && lengths[b] <= T)) throw new Error(`scoreBatch: row ${b} has length ${lengths[b]}, outside 0..${T}`)
    lm.checkIds(ids.subarray(b * T, b * T + lengths[b]), `scoring row ${b}`)
  }
  const out = new Float32Array(B * T)
  // the scored positions: row b, position t ≥ 1 predicted from the hidden state at t − 1
  const rows: number[] = []
  const targets: number[] = []
  for (let b = 0; b < B; b++) {
    for (let t = 1; t < lengths[b]; t++) {
      rows.push(b * T + t - 1)
      targets.push(ids[b * T + t])
    }
  }
  if (rows.length === 0) return out
  // padded ids must still be valid for the embedding lookup
  const safe = Int32Array.from(ids, (v, i) => (i % T < lengths[Math.floor(i / T)] ? v : 0))
  const h = tf.tidy(() => {
    const x = tf.tensor2d(safe, [B, T], 'int32')
    const ctx = lm.context(B, T, {}, lm.causalMask(T, T), null, false)
    return lm.hidden(x, ctx)
  })
  try {
    for (let c = 0; c < rows.length; c += chunkRows) {
      const n = Math.min(chunkRows, rows.length - c)
      const lp = tf.tidy(() => {
        const hc = tf.gather(h, tf.tensor1d(rows.slice(c, c + n), 'int32'))
        return targetLogSoftmax(lm.logits(hc as tf.Tensor2D), tf.tensor1d(targets.slice(c, c + n), 'int32'), false).lp
      })
      const vals = lp.dataSync() as Float32Array
      lp.dispose()
      for (let i = 0; i < n; i++) out[rows[c + i] + 1] = vals[i]
    }
  } finally {
    h.dispose()
  }
  return out
}

/**
 * Per-token log-probs of each sequence: result[i][t] = log p(seq_i[t] | seq_i[< t]) for t ≥ 1,
 * result[i][0] = 0. Sequences are batched `batchSize` at a time in order of length (less
 * padding); results come back in the order given.
 */
export function scoreSequences(lm: CausalLm, seqs: ArrayLike<number>[], opts: ScoreOptions = {}): Float32Array[] {
  const bs = Math.max(1, opts.batchSize ?? 8)
  const out: Float32Array[] = new Array(seqs.length)
  const order = seqs.map((_, i) => i).sort((a, b) => seqs[a].length - seqs[b].length || a - b)
  for (let i = 0; i < order.length; i += bs) {
    const idx = order.slice(i, i + bs)
    const B = idx.length
    const T = Math.max(1, ...idx.map((k) => seqs[k].length))
    const ids = new Int32Array(B * T)
    idx.forEach((k, b) => ids.set(Array.from(seqs[k]), b * T))
    const lp = scoreBatch(
      lm,
      ids,
      idx.map((k) => seqs[k].length),
      B,
      T,
      opts.chunkRows
    )
    idx.forEach((k, b) => (out[k] = lp.slice(b * T, b * T + seqs[k].length)))
    opts.onProgress?.(Math.min(i + bs, seqs.length), seqs.length)
  }
  return out
}

/**
 * The completion tokens' log-probs given their prompts (reference scoring of traces):
 * result[i][k] = log p(completion_i[k] | prompt_i, completion_i[< k]). Prompts must be non-empty
 * (a chat prompt, or at least the model's BOS).
 */
export function scoreCompletions(lm: CausalLm, items: Array<{ prompt: ArrayLike<number>; completion: ArrayLike<number> }>, opts: ScoreOptions = {}): Float32Array[] {
  items.forEach((it, i) => {
    if (it.prompt.length === 0) throw new Error(`scoreCompletions: item ${i} has an empty prompt; the first completion token needs a context (the model's BOS at least)`)
  })
  const seqs = items.map((it) => [...Array.from(it.prompt), ...Array.from(it.completion)])
  const lps = scoreSequences(lm, seqs, opts)
  return lps.map((lp, i) => lp.slice(items[i].prompt.length))
}
