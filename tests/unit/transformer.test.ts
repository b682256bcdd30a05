import { describe, it, expect, beforeAll } from 'vitest'
import * as tf from '@tensorflow/tfjs'
import { TransformerPolicy, sampleToken } from '../../src/main/engine/policies/transformer.ts'
import { readWeights, writeWeights } from '../../src/main/engine/policies/policy.ts'
import { Rng } from '../../src/main/engine/rng.ts'
import { tokenBatch } from '../helpers/token-batch.ts'

const cfg = { vocabSize: 11, dModel: 16, nHeads: 2, nLayers: 2, dFF: 32, maxLen: 12, bos: 1 }

function lp(p: TransformerPolicy, seqs: number[][], T?: number): number[][] {
  const b = tokenBatch(seqs, T)
  const out = p.logProbs(b)
  const arr = out.arraySync()
  tf.dispose([out, b.actions, b.mask])
  return arr
}

beforeAll(async () => {
  await tf.setBackend('cpu')
})

describe('TransformerPolicy', () => {
  it('is causal: changing a later token leaves earlier log-probs unchanged', () => {
    const p = new TransformerPolicy(cfg, { seed: 3 })
    const [a] = lp(p, [[4, 5, 6, 7, 8, 9]])
    const [b] = lp(p, [[4, 5, 6, 10, 8, 9]])
    for (let t = 0; t < 3; t++) expect(b[t]).toBeCloseTo(a[t], 6) // positions before the changed token 3 are untouched
    expect(Math.abs(b[3] - a[3])).toBeGreaterThan(1e-4) // token 3 itself is a different token
    expect(Math.abs(b[4] - a[4])).toBeGreaterThan(1e-6) // later positions see the change
    p.dispose()
  })

  it('gives the same log-probs alone and inside a padded batch', () => {
    const p = new TransformerPolicy(cfg, { seed: 4 })
    const s = [4, 7, 2, 9]
    const [alone] = lp(p, [s])
    const padded = lp(p, [[5, 5, 5, 5, 5, 5, 5, 5, 5, 5], s, [8, 3]], 10)
    for (let t = 0; t < s.length; t++) expect(Math.abs(padded[1][t] - alone[t])).toBeLessThan(1e-5)
    const [short] = lp(p, [[8, 3]])
    for (let t = 0; t < 2; t++) expect(Math.abs(padded[2][t] - short[t])).toBeLessThan(1e-5)
    // padded values are finite
    for (const v of padded[2]) expect(Number.isFinite(v)).toBe(true)
    p.dispose()
  })

  it('normalises: logsumexp over the vocabulary is 0 at every position', () => {
    const p = new TransformerPolicy({ ...cfg, tied: false }, { seed: 5 })
    // score every possible next token at position 2 of the prefix [4, 6]
    const seqs = Array.from({ length: cfg.vocabSize }, (_, v) => [4, 6, v])
    const out = lp(p, seqs)
    const lse = Math.log(out.reduce((s, row) => s + Math.exp(row[2]), 0))
    expect(Math.abs(lse)).toBeLessThan(1e-5)
    // position 0 (BOS context) too
    const first = lp(
      p,
      Array.from({ length: cfg.vocabSize }, (_, v) => [v])
    )
    expect(Math.abs(Math.log(first.reduce((s, r) => s + Math.exp(r[0]), 0)))).toBeLessThan(1e-5)
    p.dispose()
  })

  it('an untrained model is close to uniform: logits have std ≈ √16 · 0.02 = 0.08, so log-probs are near −log V', () => {
    const p = new TransformerPolicy(cfg, { seed: 6 })
    const [row] = lp(p, [[4, 5, 6]])
    for (const v of row) expect(Math.abs(v + Math.log(11))).toBeLessThan(0.3)
    p.dispose()
  })

  it('is seeded: same seed, same weights; different seed, different weights', () => {
    const a = new TransformerPolicy(cfg, { seed: 9 })
    const b = new TransformerPolicy(cfg, { seed: 9 })
    const c = new TransformerPolicy(cfg, { seed: 10 })
    const wa = readWeights(a)
    const wb = readWeights(b)
    expect(wa.map((t) => Array.from(t.data))).toEqual(wb.map((t) => Array.from(t.data)))
    expect(Array.from(readWeights(c)[0].data)).not.toEqual(Array.from(wa[0].data))
    // names are unique per instance, shapes as documented: 2 embeddings + 12 per layer + final LN (tied head)
    expect(wa.length).toBe(2 + 12 * 2 + 2)
    expect(wa[0].shape).toEqual([11, 16])
    expect(new Set([...wa, ...wb].map((t) => t.name)).size).toBe(2 * wa.length)
    ;[a, b, c].forEach((p) => p.dispose())
  })

  it('overfits a few sequences (Adam, variableGrads): loss drops by a real margin', () => {
    const p = new TransformerPolicy({ ...cfg, nLayers: 1 }, { seed: 7 })
    const data = [
      [4, 5, 6, 7, 2],
      [8, 9, 10, 2],
      [4, 6, 8, 10, 9, 2]
    ]
    const b = tokenBatch(data)
    const denom = b.mask.sum()
    const opt = tf.train.adam(0.01)
    const lossFn = (): tf.Scalar => tf.neg(p.logProbs(b).mul(b.mask).sum().div(denom)) as tf.Scalar
    const first = (lossFn().dataSync() as Float32Array)[0]
    let last = first
    for (let i = 0; i < 60; i++) {
      const { value, grads } = tf.variableGrads(lossFn, p.variables)
      opt.applyGradients(grads as tf.NamedTensorMap as Record<string, tf.Variable>)
      last = value.dataSync()[0]
      tf.dispose([value, ...Object.values(grads)])
    }
    expect(first).toBeGreaterThan(2.2) // ≈ log 11 = 2.40 at init
    expect(last).toBeLessThan(0.5)
    // greedy generation now reproduces a training sequence from its first token
    const [gen] = p.generate([[8]], { maxNew: 6, temperature: 0, stopToken: 2 })
    expect(gen).toEqual([9, 10])
    opt.dispose()
    p.dispose()
  })

  it('saves and loads through readWeights / writeWeights; clone copies, frozen clones are not trainable', () => {
    const a = new TransformerPolicy(cfg, { seed: 11 })
    const b = TransformerPolicy.fromSpec(JSON.parse(JSON.stringify(a.spec)), { seed: 99 })
    expect(lp(b, [[4, 5, 6]])[0][2]).not.toBeCloseTo(lp(a, [[4, 5, 6]])[0][2], 6)
    writeWeights(b, readWeights(a))
    const ra = lp(a, [[4, 5, 6, 9]])[0]
    const rb = lp(b, [[4, 5, 6, 9]])[0]
    for (let t = 0; t < 4; t++) expect(rb[t]).toBeCloseTo(ra[t], 6)
    const c = a.clone(false)
    expect(c.variables.every((v) => !v.trainable)).toBe(true)
    expect(lp(c, [[4, 5, 6, 9]])[0][3]).toBeCloseTo(ra[3], 6)
    // the clone owns its variables: changing a does not change c
    a.variables[0].assign(tf.zerosLike(a.variables[0]))
    expect(lp(c, [[4, 5, 6, 9]])[0][3]).toBeCloseTo(ra[3], 6)
    expect(() => writeWeights(new TransformerPolicy({ ...cfg, dModel: 8 }), readWeights(c))).toThrow(/shape/)
    ;[a, b, c].forEach((p) => p.dispose())
  })

  it('rejects traces longer than maxLen and bad configs; act is not for sequences', () => {
    const p = new TransformerPolicy({ ...cfg, maxLen: 4 })
    expect(() => lp(p, [[4, 5, 6, 7, 8]])).toThrow(/maxLen is 4/)
    expect(() => new TransformerPolicy({ ...cfg, nHeads: 3 })).toThrow(/divisible/)
    expect(() => p.act()).toThrow(/not for sequences/)
    p.dispose()
  })

  it('generates: greedy is deterministic, sampling is seeded, stops at the stop token and at maxLen', () => {
    const p = new TransformerPolicy(cfg, { seed: 12 })
    const g1 = p.generate([[4, 5], [6]], { maxNew: 5, temperature: 0 })
    const g2 = p.generate([[4, 5], [6]], { maxNew: 5, temperature: 0 })
    expect(g1).toEqual(g2)
    expect(g1[0].length).toBe(5)
    const s1 = p.generate([[4, 5], [6]], { maxNew: 5, temperature: 1, rng: new Rng(1) })
    const s2 = p.generate([[4, 5], [6]], { maxNew: 5, temperature: 1, rng: new Rng(1) })
    expect(s1).toEqual(s2)
    // maxLen 12 with BOS: a prompt of 9 tokens can grow to 11 tokens at most... (seq incl. BOS ≤ maxLen+1)
    const long = p.generate([[4, 4, 4, 4, 4, 4, 4, 4, 4]], { maxNew: 10, temperature: 0 })
    expect(long[0].length).toBe(3)
    // greedy continuation from the same prompt equals the first row of the batched call
    expect(p.generate([[4, 5]], { maxNew: 5, temperature: 0 })[0]).toEqual(g1[0])
    const firstTok = g1[0][0]
    expect(p.generate([[4, 5]], { maxNew: 5, temperature: 0, stopToken: firstTok })[0]).toEqual([])
    expect(p.generate([[4, 5]], { maxNew: 5, temperature: 0, stopToken: firstTok, includeStop: true })[0]).toEqual([firstTok])
    expect(() => p.generate([[4]], { maxNew: 1, temperature: 1 })).toThrow(/rng/)
    p.dispose()
  })
})

describe('generate with the key/value cache', () => {
  it('greedy tokens are the argmax of the full (uncached) forward pass at every step; no tensors leak', () => {
    const p = new TransformerPolicy({ ...cfg, tied: false, maxLen: 16 }, { seed: 31 })
    const prompts = [[4, 5], [6], [7, 8, 9], [10, 4]]
    p.generate(prompts, { maxNew: 6, temperature: 0 }) // caches the causal masks it needs
    const before = tf.memory().numTensors
    const gen = p.generate(prompts, { maxNew: 6, temperature: 0 })
    expect(tf.memory().numTensors).toBe(before)
    prompts.forEach((pr, i) => {
      const seq = [1, ...pr, ...gen[i]] // BOS first
      const S = seq.length - 1 // inputs: everything but the last token
      const logits = p.forward(tf.tensor2d([seq.slice(0, S)], [1, S], 'int32'), tf.ones([1, S]) as tf.Tensor2D)
      const rows = logits.arraySync()[0]
      logits.dispose()
      for (let t = pr.length; t < S; t++) {
        const row = rows[t]
        expect(row.indexOf(Math.max(...row))).toBe(seq[t + 1])
      }
    })
    p.dispose()
  })

  it('a row that stops early leaves the others of its group unchanged', () => {
    const p = new TransformerPolicy({ ...cfg, tied: false }, { seed: 32 })
    // find two prompts of equal length whose greedy continuations start differently
    const cands = [
      [4, 5],
      [5, 4],
      [6, 7],
      [7, 6],
      [8, 9],
      [9, 8],
      [10, 3],
      [3, 10]
    ]
    const free = p.generate(cands, { maxNew: 5, temperature: 0 })
    const a = free.findIndex((g) => g[0] !== free[0][0])
    expect(a).toBeGreaterThan(0)
    const stop = free[a][0]
    const got = p.generate([cands[0], cands[a]], { maxNew: 5, temperature: 0, stopToken: stop })
    expect(got[1]).toEqual([])
    const cut = free[0].indexOf(stop)
    expect(got[0]).toEqual(cut < 0 ? free[0] : free[0].slice(0, cut))
    p.dispose()
  })
})

describe('sampleToken', () => {
  const logits = [Math.log(0.5), Math.log(0.3), Math.log(0.2)]
  it('greedy picks the argmax', () => {
    expect(sampleToken(logits, 0, 1, undefined)).toBe(0)
  })
  it('samples in proportion to softmax(logits / T)', () => {
    const rng = new Rng(5)
    const n = 20000
    const c = [0, 0, 0]
    for (let i = 0; i < n; i++) c[sampleToken(logits, 1, 1, rng)]++
    expect(c[0] / n).toBeCloseTo(0.5, 1)
    expect(c[2] / n).toBeCloseTo(0.2, 1)
    // temperature 0.5 squares the probabilities: 0.25 : 0.09 : 0.04 → 0.661, 0.238, 0.106
    const c2 = [0, 0, 0]
    for (let i = 0; i < n; i++) c2[sampleToken(logits, 0.5, 1, rng)]++
    expect(Math.abs(c2[0] / n - 0.25 / 0.38)).toBeLessThan(0.015)
  })
  it('top-p keeps the smallest nucleus: p = 0.7 keeps {0.5, 0.3} → 0.625 / 0.375, never token 2', () => {
    const rng = new Rng(6)
    const n = 20000
    const c = [0, 0, 0]
    for (let i = 0; i < n; i++) c[sampleToken(logits, 1, 0.7, rng)]++
    expect(c[2]).toBe(0)
    expect(Math.abs(c[0] / n - 0.625)).toBeLessThan(0.015)
    // p = 0.5 keeps only the top token
    for (let i = 0; i < 100; i++) expect(sampleToken(logits, 1, 0.5, rng)).toBe(0)
  })
})
