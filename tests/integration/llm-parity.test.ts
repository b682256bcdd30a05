// The engine's per-token log-probs equal transformers' (float32) within 1e-4 on the tiny
// checkpoints of every supported architecture and on the tiny GGUF files of every quantisation
// type, alone and in padded batches, on every tfjs backend available here (cpu and wasm always,
// native-cpu where it is installed). Reference numbers: tests/fixtures/llm (parity script).
import { readFileSync } from 'node:fs'
import * as tf from '@tensorflow/tfjs'
import { afterAll, describe, expect, it } from 'vitest'
import { initBackend, probeBackends, type BackendName } from '../../src/main/engine/backend/index.ts'
import { generate } from '../../src/main/engine/llm/generate.ts'
import { loadLlm, type LoadedLlm } from '../../src/main/engine/llm/load.ts'
import { LlmPolicy } from '../../src/main/engine/llm/policy.ts'
import { scoreBatch, scoreSequences } from '../../src/main/engine/llm/score.ts'
import type { Batch } from '../../src/main/engine/policies/policy.ts'

const TOL = 1e-4
const fx = (p: string): string => new URL(`../fixtures/llm/${p}`, import.meta.url).pathname
const json = (p: string): any => JSON.parse(readFileSync(fx(p), 'utf8'))

const probe = await probeBackends()
const backends = probe.filter((p) => p.available && p.name !== 'native-gpu').map((p) => p.name)
afterAll(async () => {
  await initBackend('cpu')
})

interface Ref {
  sequences: number[][]
  logprobs: number[][]
  right_padded: { input_ids: number[][]; attention_mask: number[][]; logprobs: Array<Array<number | null>> }
  last_logits: { sequence: number; position: number; values: number[] }
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let m = 0
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]))
  return m
}

function checkModel(m: LoadedLlm, ref: Ref): void {
  // each sequence alone
  const lps = scoreSequences(m.model, ref.sequences)
  lps.forEach((lp, i) => {
    expect(lp.length).toBe(ref.sequences[i].length)
    expect(maxDiff(lp.subarray(1), ref.logprobs[i])).toBeLessThan(TOL)
  })
  // one right-padded batch
  const rp = ref.right_padded
  const B = rp.input_ids.length
  const T = rp.input_ids[0].length
  const lens = rp.attention_mask.map((r) => r.reduce((a, b) => a + b, 0))
  const out = scoreBatch(m.model, Int32Array.from(rp.input_ids.flat()), lens, B, T)
  let worst = 0
  rp.logprobs.forEach((row, b) => row.forEach((r, t) => r !== null && (worst = Math.max(worst, Math.abs(out[b * T + t] - r)))))
  expect(worst).toBeLessThan(TOL)
  // the same batch through the Policy interface (a trace batch as the trainer builds it)
  const valid = tf.tensor2d(Float32Array.from(rp.attention_mask.flat()), [B, T])
  const batch: Batch = { B, T, obs: null, actions: tf.tensor2d(Int32Array.from(rp.input_ids.flat()), [B, T], 'int32'), mask: valid, valid, traceIndex: new Int32Array(B) }
  const pol = new LlmPolicy(m.model, { model: 'fixture' })
  const lpT = pol.logProbs(batch)
  const lpP = lpT.dataSync()
  let worstP = 0
  rp.logprobs.forEach((row, b) => row.forEach((r, t) => r !== null && (worstP = Math.max(worstP, Math.abs(lpP[b * T + t] - r)))))
  expect(worstP).toBeLessThan(TOL)
  tf.dispose([lpT, batch.actions, valid])
  // left padding (generation): sequence 0 is padded on the left by a longer prompt in the batch;
  // its first generated token's log-prob is log_softmax(transformers' last logits)[token]
  const ll = ref.last_logits
  const s0 = ref.sequences[ll.sequence]
  const longer = [...s0, ...ref.sequences[1].slice(0, 3)]
  const [g0] = generate(m.model, [s0, longer], { maxNewTokens: 1, temperature: 0 })
  const v = ll.values
  let arg = 0
  for (let i = 1; i < v.length; i++) if (v[i] > v[arg]) arg = i
  const lse = Math.log(v.reduce((a, x) => a + Math.exp(x - v[arg]), 0)) + v[arg]
  expect(g0.tokens[0]).toBe(arg)
  expect(Math.abs(g0.modelLogprobs[0] - (v[arg] - lse))).toBeLessThan(TOL)
}

const HF = ['llama', 'llama-tied-rope-scaled', 'llama-bf16', 'qwen2', 'qwen2-fp16', 'mistral', 'gpt2']
const gguf = json('gguf/logprobs.json')

describe.each(backends)('on the %s backend', (backend: BackendName) => {
  it.each(HF)('Hugging Face folder %s: transformers log-probs within 1e-4, alone and padded', async (name) => {
    await initBackend(backend)
    const m = await loadLlm(fx(`hf/${name}`))
    try {
      checkModel(m, json(`hf/${name}/logprobs.json`))
    } finally {
      m.dispose()
    }
  })

  it.each(Object.keys(gguf.files))('GGUF %s: transformers log-probs (dequantised, un-permuted) within 1e-4', async (file) => {
    await initBackend(backend)
    const r = gguf.files[file]
    const m = await loadLlm(fx(`gguf/${file}`))
    try {
      checkModel(m, { sequences: r.sequences ?? gguf.sequences, logprobs: r.logprobs, right_padded: r.right_padded, last_logits: r.last_logits })
    } finally {
      m.dispose()
    }
  })
})

it('frees every tensor it made', async () => {
  await initBackend('cpu')
  const before = tf.memory().numTensors
  const m = await loadLlm(fx('hf/llama'))
  scoreSequences(m.model, [[1, 2, 3, 4]])
  generate(m.model, [[1, 2], [3]], { maxNewTokens: 3, temperature: 0 })
  m.dispose()
  expect(tf.memory().numTensors).toBe(before)
})
