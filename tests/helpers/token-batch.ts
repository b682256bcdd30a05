// A policy Batch of token sequences, right-padded to T (valid = mask = 1 on real tokens).
import * as tf from '@tensorflow/tfjs'
import type { Batch } from '../../src/main/engine/policies/policy.ts'

export function tokenBatch(seqs: number[][], T = Math.max(...seqs.map((s) => s.length))): Batch {
  const B = seqs.length
  const a = new Int32Array(B * T)
  const v = new Float32Array(B * T)
  seqs.forEach((s, b) => {
    a.set(s, b * T)
    v.fill(1, b * T, b * T + s.length)
  })
  const valid = tf.tensor2d(v, [B, T])
  return { B, T, obs: null, actions: tf.tensor2d(a, [B, T], 'int32'), mask: valid, valid, traceIndex: new Int32Array(B) }
}
