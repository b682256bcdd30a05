// LoRA's dropout masks (lora.ts, llama-grad.ts), seeded so that a layer run again or
// differentiated by hand sees the mask its forward pass drew.
import * as tf from '@tensorflow/tfjs'
import { statelessUniform } from '../backend/native-ops.ts'

/**
 * Where inverted dropout with rate p keeps an element of a tensor of `shape` (bool), from `seed`:
 * each element is dropped with probability p. The same seed gives the same mask on a backend.
 * On the native backend TensorFlow's StatelessRandomUniform (Philox) draws it, in parallel and
 * on the device; elsewhere mulberry32 on the host, two elements a draw (probability
 * round(p·2¹⁶)/2¹⁶). tf.dropout's seeded randomUniform draws one number at a time with
 * seedrandom's alea in JavaScript: measured seconds a SmolLM2 LoRA step for its 210 masks.
 */
export function dropoutKeep(shape: number[], p: number, seed: number): tf.Tensor {
  const u = statelessUniform(shape, [seed | 0, 0x5eed])
  if (u) {
    const keep = tf.greaterEqual(u, p)
    u.dispose()
    return keep
  }
  const n = shape.reduce((a, c) => a * c, 1)
  const drop = Math.round(p * 65536)
  const out = new Uint8Array(n)
  let a = seed | 0
  for (let i = 0; i < n; i += 2) {
    // mulberry32 (Tommy Ettinger): 32 random bits a step, split into two 16-bit uniforms
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    t = t ^ (t >>> 14)
    if ((t & 0xffff) >= drop) out[i] = 1
    if (i + 1 < n && t >>> 16 >= drop) out[i + 1] = 1
  }
  return tf.tensor(out, shape, 'bool')
}

/** Inverted dropout's multiplier: 1/(1−p) where dropoutKeep keeps, else 0. */
export function dropoutMask(shape: number[], p: number, seed: number): tf.Tensor {
  return tf.tidy(() =>
    dropoutKeep(shape, p, seed)
      .cast('float32')
      .mul(1 / (1 - p))
  )
}
