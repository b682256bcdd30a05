// LoRA's dropout masks (lora.ts, llama-grad.ts), seeded so that a layer run again or
// differentiated by hand sees the mask its forward pass drew.
import * as tf from '@tensorflow/tfjs'

/**
 * Inverted dropout's multiplier for `shape`: 1/(1−p) where kept, else 0, from `seed`; each element
 * is dropped with probability round(p·2¹⁶)/2¹⁶ (p within 8·10⁻⁶). Drawn on the host with
 * mulberry32, two elements a draw: tf.dropout's seeded randomUniform draws one number at a time
 * with seedrandom's alea in JavaScript, measured here at ~20 ns a number, seconds a SmolLM2 step
 * for its 420 masks. The same seed gives the same mask, so a layer run again or differentiated
 * by hand sees the mask its forward pass saw.
 */
export function dropoutMask(shape: number[], p: number, seed: number): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1)
  const v = 1 / (1 - p)
  const drop = Math.round(p * 65536)
  const out = new Float32Array(n)
  let a = seed | 0
  for (let i = 0; i < n; i += 2) {
    // mulberry32 (Tommy Ettinger): 32 random bits a step, split into two 16-bit uniforms
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    t = t ^ (t >>> 14)
    if ((t & 0xffff) >= drop) out[i] = v
    if (i + 1 < n && t >>> 16 >= drop) out[i + 1] = v
  }
  return tf.tensor(out, shape, 'float32')
}
