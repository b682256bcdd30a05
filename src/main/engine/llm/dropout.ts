// LoRA's dropout masks (lora.ts, llama-grad.ts), seeded so that a layer run again or
// differentiated by hand sees the mask its forward pass drew.
import * as tf from '@tensorflow/tfjs'

/**
 * Where inverted dropout with rate p keeps an element of a tensor of `shape` (bool), from `seed`:
 * each element is dropped with probability round(p·2¹⁶)/2¹⁶. The same seed gives the same mask
 * on every backend: mulberry32 on the host, two elements a 32-bit draw. Measured on the native
 * backend for a SmolLM2 LoRA step's 210 masks (153 M elements, mask and cast to float): 0.52–0.63
 * CPU-s (with a branch a mask element), where TensorFlow's StatelessRandomUniform (Philox) and a
 * comparison took 0.84–0.89;
 * tf.dropout's seeded randomUniform (seedrandom's alea, one number at a time) took seconds.
 */
export function dropoutKeep(shape: number[], p: number, seed: number): tf.Tensor {
  const n = shape.reduce((a, c) => a * c, 1)
  const drop = Math.round(p * 65536)
  const out = new Uint8Array(n)
  let a = seed | 0
  for (let i = 0; i < n; i += 2) {
    // mulberry32 (Tommy Ettinger): 32 random bits a step, split into two 16-bit uniforms u;
    // kept where u ≥ drop, i.e. the sign bit of u − drop is 0 (no branch: 15–30% faster)
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    t = t ^ (t >>> 14)
    out[i] = (((t & 0xffff) - drop) >>> 31) ^ 1
    if (i + 1 < n) out[i + 1] = (((t >>> 16) - drop) >>> 31) ^ 1
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
