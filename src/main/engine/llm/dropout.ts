// LoRA's dropout masks (lora.ts, llama-grad.ts), seeded so that a layer run again or
// differentiated by hand sees the mask its forward pass drew.
import * as tf from '@tensorflow/tfjs'

/** the native backend's way to run a TensorFlow op by name (tfjs-node's NodeJSKernelBackend) */
interface NativeBackend {
  binding: { TF_ATTR_TYPE: number; TF_FLOAT: number; TF_INT32: number }
  executeSingleOutput(name: string, attrs: Array<{ name: string; type: number; value: number }>, inputs: tf.Tensor[]): tf.Tensor
}

/**
 * Where inverted dropout with rate p keeps an element of a tensor of `shape` (bool), from `seed`:
 * each element is dropped with probability p. The same seed gives the same mask on a backend.
 * On the native backend TensorFlow's StatelessRandomUniform (Philox) draws it, in parallel and
 * on the device; elsewhere mulberry32 on the host, two elements a draw (probability
 * round(p·2¹⁶)/2¹⁶). tf.dropout's seeded randomUniform draws one number at a time with
 * seedrandom's alea in JavaScript: measured seconds a SmolLM2 LoRA step for its 210 masks.
 */
export function dropoutKeep(shape: number[], p: number, seed: number): tf.Tensor {
  const be = tf.backend() as unknown as Partial<NativeBackend>
  if (tf.getBackend() === 'tensorflow' && be.binding && be.executeSingleOutput) {
    const b = be.binding
    const T = b.TF_ATTR_TYPE
    return tf.tidy(() => {
      const u = be.executeSingleOutput!(
        'StatelessRandomUniform',
        [
          { name: 'dtype', type: T, value: b.TF_FLOAT },
          { name: 'T', type: T, value: b.TF_INT32 },
          { name: 'Tseed', type: T, value: b.TF_INT32 }
        ],
        [tf.tensor1d(shape, 'int32'), tf.tensor1d([seed | 0, 0x5eed], 'int32')]
      )
      return tf.greaterEqual(u, p)
    })
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
