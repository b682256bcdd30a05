// Rotary position embeddings as Hugging Face's Llama computes them ("rotate half"):
//   inv_freq[i] = 1 / theta^(2i / dh), i < dh/2, adjusted by the model's scaling;
//   angle(p, i) = p · inv_freq[i];  cos/sin tables [P, dh] hold each angle twice (cat(freqs, freqs));
//   rope(x) = x·cos + rotate_half(x)·sin,  rotate_half([x1, x2]) = [−x2, x1].
// Values are rounded to float32 where transformers computes in float32, so the tables match its.
import type { LlmSpec, RopeScaling } from './spec.ts'

const f32 = Math.fround

/** the inverse frequencies (dh/2 of them) after scaling (transformers' rope init functions) */
export function ropeInvFreq(theta: number, headDim: number, scaling: RopeScaling | null, freqFactors?: number[] | null): Float64Array {
  const half = headDim / 2
  const inv = new Float64Array(half)
  for (let i = 0; i < half; i++) inv[i] = f32(1 / f32(theta ** f32((2 * i) / headDim)))
  if (freqFactors) {
    for (let i = 0; i < half; i++) inv[i] = f32(inv[i] / freqFactors[i])
  }
  if (!scaling) return inv
  if (scaling.type === 'linear') {
    for (let i = 0; i < half; i++) inv[i] = f32(inv[i] / scaling.factor)
    return inv
  }
  // Llama 3: long wavelengths divided by factor, short kept, a smooth blend in between
  const { factor, lowFreqFactor, highFreqFactor, originalContext } = scaling
  const lowWavelen = originalContext / lowFreqFactor
  const highWavelen = originalContext / highFreqFactor
  for (let i = 0; i < half; i++) {
    const wavelen = (2 * Math.PI) / inv[i]
    if (wavelen > lowWavelen) inv[i] = f32(inv[i] / factor)
    else if (wavelen >= highWavelen) {
      const smooth = (originalContext / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor)
      inv[i] = f32((1 - smooth) * (inv[i] / factor) + smooth * inv[i])
    }
  }
  return inv
}

/**
 * cos and "signed sin" tables [n, dh] for positions 0…n−1. The signed sin has its first half
 * negated so that rope(x) = x·cos + swap_halves(x)·sinSigned, one multiply-add per element.
 */
export function ropeTables(spec: LlmSpec, n: number): { cos: Float32Array; sinSigned: Float32Array } {
  if (!spec.rope) throw new Error('ropeTables: the model has no rotary embeddings')
  const dh = spec.headDim
  const half = dh / 2
  const inv = ropeInvFreq(spec.rope.theta, dh, spec.rope.scaling, spec.rope.freqFactors)
  const cos = new Float32Array(n * dh)
  const sinSigned = new Float32Array(n * dh)
  for (let p = 0; p < n; p++) {
    for (let i = 0; i < half; i++) {
      const a = f32(p * inv[i])
      const c = Math.cos(a)
      const s = Math.sin(a)
      cos[p * dh + i] = c
      cos[p * dh + half + i] = c
      sinSigned[p * dh + i] = -s
      sinSigned[p * dh + half + i] = s
    }
  }
  return { cos, sinSigned }
}
