import { it, expect, beforeAll } from 'vitest'
import * as tf from '@tensorflow/tfjs'
import { TransformerPolicy } from '../../src/main/engine/policies/transformer.ts'
import { gatherBatch, toDevice, disposeBatch } from '../../src/main/engine/data/batch.ts'
import { buildSequenceDataset, arithmeticTokenizer, makeArithmeticProblems, noisyRows } from '../../src/main/engine/datasets/arithmetic.ts'
import { Rng } from '../../src/main/engine/rng.ts'

beforeAll(async () => {
  await tf.setBackend('cpu')
})

// The engine's batcher (data/batch.ts) pads sequence traces on the right and marks real tokens
// in `valid`; the transformer must score each trace exactly as it would alone.
it('scores a sequence dataset batched by the engine the same as one trace at a time', () => {
  const tok = arithmeticTokenizer()
  const probs = makeArithmeticProblems(6, new Rng(1), { maxOperand: 30 })
  const d = buildSequenceDataset('b', tok, noisyRows(probs, new Rng(2), 0.3))
  const p = new TransformerPolicy({ vocabSize: tok.vocabSize, dModel: 16, nHeads: 2, nLayers: 2, dFF: 32, maxLen: 48, bos: tok.bos }, { seed: 3 })
  const idx = [0, 1, 2, 3, 4, 5]
  const all = toDevice(gatherBatch(d, idx), d)
  const lp = p.logProbs(all)
  const grid = lp.arraySync()
  for (const i of idx) {
    const one = toDevice(gatherBatch(d, [i]), d)
    const single = p.logProbs(one).arraySync()[0]
    const len = d.offsets[i + 1] - d.offsets[i]
    expect(single.length).toBe(len)
    for (let t = 0; t < len; t++) expect(Math.abs(grid[i][t] - single[t])).toBeLessThan(1e-5)
    disposeBatch(one)
  }
  // masked log-likelihood of the completion, summed by hand vs on the tensors
  const masked = lp.mul(all.mask).sum(1).arraySync() as number[]
  for (const i of idx) {
    let s = 0
    for (let t = 0; t < d.offsets[i + 1] - d.offsets[i]; t++) s += d.mask[d.offsets[i] + t] * grid[i][t]
    expect(masked[i]).toBeCloseTo(s, 4)
  }
  lp.dispose()
  disposeBatch(all)
  p.dispose()
})
