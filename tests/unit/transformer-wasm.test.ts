import { it, expect } from 'vitest'
import * as tf from '@tensorflow/tfjs'
import '@tensorflow/tfjs-backend-wasm'
import { TransformerPolicy } from '../../src/main/engine/policies/transformer.ts'
import type { Batch } from '../../src/main/engine/policies/policy.ts'

// The same seed gives the same model on every backend (init from the seeded Rng), and the
// forward pass agrees between the cpu and wasm backends to float32 rounding.
it('gives the same log-probs and greedy generations on the cpu and wasm backends', async () => {
  const cfg = { vocabSize: 13, dModel: 16, nHeads: 4, nLayers: 2, dFF: 24, maxLen: 10, tied: false, bos: 1 }
  const seqs = [
    [4, 5, 6, 7, 8],
    [9, 3]
  ]
  const run = async (backend: string): Promise<{ lp: number[][]; gen: number[][] }> => {
    await tf.setBackend(backend)
    await tf.ready()
    const p = new TransformerPolicy(cfg, { seed: 21 })
    const T = 5
    const a = new Int32Array(2 * T)
    const v = new Float32Array(2 * T)
    seqs.forEach((s, b) => {
      a.set(s, b * T)
      v.fill(1, b * T, b * T + s.length)
    })
    const valid = tf.tensor2d(v, [2, T])
    const batch: Batch = { B: 2, T, obs: null, actions: tf.tensor2d(a, [2, T], 'int32'), mask: valid, valid, traceIndex: new Int32Array(2) }
    const out = p.logProbs(batch)
    const lp = out.arraySync()
    const gen = p.generate(seqs, { maxNew: 4, temperature: 0 })
    tf.dispose([out, batch.actions, valid])
    p.dispose()
    return { lp, gen }
  }
  const cpu = await run('cpu')
  const wasm = await run('wasm')
  expect(tf.getBackend()).toBe('wasm')
  for (let b = 0; b < 2; b++) for (let t = 0; t < seqs[b].length; t++) expect(Math.abs(wasm.lp[b][t] - cpu.lp[b][t])).toBeLessThan(1e-5)
  expect(wasm.gen).toEqual(cpu.gen)
})
