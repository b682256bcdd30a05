// Sampling, scoring and loading behaviour of the LLM engine on the tiny fixture models: sampled
// log-probs equal a teacher-forced re-score, batching does not change results, seeds reproduce,
// stop tokens and the context length end rows, and bad input is a clear error.
import { copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../src/main/engine/backend/index.ts'
import { generate, sampleRow } from '../../src/main/engine/llm/generate.ts'
import { describeLlm, loadLlm, type LoadedLlm } from '../../src/main/engine/llm/load.ts'
import { LlmPolicy } from '../../src/main/engine/llm/policy.ts'
import { scoreCompletions, scoreSequences } from '../../src/main/engine/llm/score.ts'
import type { Batch } from '../../src/main/engine/policies/policy.ts'
import { Rng } from '../../src/main/engine/rng.ts'
import { tokenBatch } from '../helpers/token-batch.ts'

const fx = (p: string): string => new URL(`../fixtures/llm/${p}`, import.meta.url).pathname
const tmp = mkdtempSync(join(tmpdir(), 'iwsft-llm-'))
let m: LoadedLlm
beforeAll(async () => {
  await initBackend('cpu')
  m = await loadLlm(fx('hf/llama'))
})
afterAll(() => {
  m?.dispose()
  rmSync(tmp, { recursive: true, force: true })
})

const prompts = [
  [1, 335, 265, 201, 322, 274],
  [44, 2, 120],
  [350, 23, 157, 371, 352, 214, 274, 82, 4]
]

describe('sampling', () => {
  it('returns log-probs equal to a teacher-forced re-score at temperature 1 (batched prompts of different lengths)', () => {
    const gens = generate(m.model, prompts, { maxNewTokens: 12, temperature: 1, rng: new Rng(3) })
    const rescored = scoreSequences(
      m.model,
      prompts.map((p, i) => [...p, ...gens[i].tokens])
    )
    gens.forEach((g, i) => {
      expect(g.tokens.length).toBe(12)
      const r = rescored[i].subarray(prompts[i].length)
      for (let t = 0; t < g.tokens.length; t++) {
        expect(Math.abs(g.logprobs[t] - r[t])).toBeLessThan(1e-5)
        expect(Math.abs(g.modelLogprobs[t] - r[t])).toBeLessThan(1e-5)
      }
    })
  })

  it('at other temperatures and top-p, logprobs are under the sampling distribution and modelLogprobs under the model', () => {
    const gens = generate(m.model, prompts, { maxNewTokens: 8, temperature: 0.7, topP: 0.9, rng: new Rng(4) })
    const rescored = scoreSequences(
      m.model,
      prompts.map((p, i) => [...p, ...gens[i].tokens])
    )
    let differ = 0
    gens.forEach((g, i) => {
      const r = rescored[i].subarray(prompts[i].length)
      g.tokens.forEach((_, t) => {
        expect(Math.abs(g.modelLogprobs[t] - r[t])).toBeLessThan(1e-5)
        expect(g.logprobs[t]).toBeLessThanOrEqual(0)
        if (Math.abs(g.logprobs[t] - g.modelLogprobs[t]) > 1e-3) differ++
      })
    })
    expect(differ).toBeGreaterThan(0)
  })

  it('top-p keeps the smallest nucleus and renormalises it (worked by hand)', () => {
    // softmax([2, 1, 0, −1]) = [0.6439, 0.2369, 0.0871, 0.0321]; topP 0.8 keeps tokens 0 and 1 (0.8808)
    const logits = new Float32Array([2, 1, 0, -1])
    const z = Math.exp(2) + Math.exp(1) + 1 + Math.exp(-1)
    const rng = new Rng(11)
    const seen = new Set<number>()
    for (let k = 0; k < 200; k++) {
      const s = sampleRow(logits, 1, 0.8, rng)
      seen.add(s.token)
      const p = Math.exp(logits[s.token]) / z
      expect(s.logprob).toBeCloseTo(Math.log(p / ((Math.exp(2) + Math.exp(1)) / z)), 6)
      expect(s.modelLogprob).toBeCloseTo(Math.log(p), 6)
    }
    expect([...seen].sort()).toEqual([0, 1])
    // temperature 0: the argmax, certain
    expect(sampleRow(logits, 0, 1, undefined)).toMatchObject({ token: 0, logprob: 0 })
    expect(sampleRow(logits, 0, 1, undefined).modelLogprob).toBeCloseTo(2 - Math.log(z), 6)
  })

  it('is reproducible from the seed, and prompts give the same greedy continuation alone or batched', () => {
    const a = generate(m.model, prompts, { maxNewTokens: 6, temperature: 1, rng: new Rng(9) })
    const b = generate(m.model, prompts, { maxNewTokens: 6, temperature: 1, rng: new Rng(9) })
    expect(a.map((g) => g.tokens)).toEqual(b.map((g) => g.tokens))
    const c = generate(m.model, prompts, { maxNewTokens: 6, temperature: 1, rng: new Rng(10) })
    expect(c.map((g) => g.tokens)).not.toEqual(a.map((g) => g.tokens))
    const batched = generate(m.model, prompts, { maxNewTokens: 10, temperature: 0 })
    prompts.forEach((p, i) => {
      const [alone] = generate(m.model, [p], { maxNewTokens: 10, temperature: 0 })
      expect(batched[i].tokens).toEqual(alone.tokens)
      for (let t = 0; t < 10; t++) expect(Math.abs(batched[i].modelLogprobs[t] - alone.modelLogprobs[t])).toBeLessThan(1e-5)
    })
    // batchSize splits the prompts into groups without changing results
    const grouped = generate(m.model, prompts, { maxNewTokens: 10, temperature: 0, batchSize: 2 })
    expect(grouped.map((g) => g.tokens)).toEqual(batched.map((g) => g.tokens))
  })

  it('ends a row at a stop token (kept, with its log-prob), at maxNewTokens, or at the context length', () => {
    const free = generate(m.model, [prompts[0]], { maxNewTokens: 8, temperature: 0 })[0]
    const stopAt = free.tokens[3]
    const first = free.tokens.indexOf(stopAt)
    const [g] = generate(m.model, [prompts[0]], { maxNewTokens: 8, temperature: 0, stop: [stopAt] })
    expect(g.finish).toBe('stop')
    expect(g.tokens).toEqual(free.tokens.slice(0, first + 1))
    expect(g.modelLogprobs.length).toBe(first + 1)
    expect(free.finish).toBe('length')
    const ctx = m.spec.contextLength // 128
    const long = Array.from({ length: ctx - 2 }, (_, i) => 3 + (i % 300))
    const [c] = generate(m.model, [long], { maxNewTokens: 10, temperature: 0 })
    expect(c.finish).toBe('context')
    expect(long.length + c.tokens.length).toBe(ctx)
  })

  it('scores completions given prompts as the matching slice of a whole-sequence score', () => {
    const items = prompts.map((p, i) => ({ prompt: p, completion: prompts[(i + 1) % 3].slice(0, 4) }))
    const got = scoreCompletions(m.model, items, { batchSize: 2 })
    const whole = scoreSequences(
      m.model,
      items.map((it) => [...it.prompt, ...it.completion])
    )
    got.forEach((lp, i) => {
      expect(lp.length).toBe(items[i].completion.length)
      lp.forEach((x, k) => expect(Math.abs(x - whole[i][items[i].prompt.length + k])).toBeLessThan(1e-6))
    })
    expect(() => scoreCompletions(m.model, [{ prompt: [], completion: [1] }])).toThrow(/item 0 has an empty prompt/)
  })

  it('refuses ids outside the vocabulary, an empty prompt, and sampling without an rng', () => {
    expect(() =>
      generate(
        m.model,
        [
          [1, 2],
          [5, 384]
        ],
        { maxNewTokens: 1, temperature: 0 }
      )
    ).toThrow(/prompt 1: token id 384 \(position 1\) is outside the vocabulary 0\.\.383/)
    expect(() => generate(m.model, [[]], { maxNewTokens: 1, temperature: 0 })).toThrow(/prompt 0 is empty/)
    expect(() => generate(m.model, [[1]], { maxNewTokens: 1, temperature: 1 })).toThrow(/needs an rng/)
    expect(() => scoreSequences(m.model, [[1, -3]])).toThrow(/token id -3 .* outside the vocabulary/)
  })
})

describe('the Policy adapter', () => {
  it('with prependBos scores position 0 under BOS, as a re-score of [BOS, …] does', () => {
    const seqs = [prompts[0], prompts[2]]
    const batch = tokenBatch(seqs)
    const { T } = batch
    const valid = batch.valid!
    const pol = new LlmPolicy(m.model, { model: 'llama', prependBos: true, bos: m.tokenizer.bos })
    const out = pol.logProbs(batch)
    const got = out.dataSync()
    const ref = scoreSequences(
      m.model,
      seqs.map((s) => [m.tokenizer.bos, ...s])
    )
    seqs.forEach((s, b) => {
      for (let t = 0; t < s.length; t++) expect(Math.abs(got[b * T + t] - ref[b][t + 1])).toBeLessThan(1e-5)
    })
    const clone = pol.clone(true)
    expect(clone.lm).toBe(pol.lm) // shares the frozen weights
    expect(clone.variables).toEqual([])
    tf.dispose([out, batch.actions, valid])
  })

  it('is differentiable through the hook: a LoRA-style delta on one linear gets the finite-difference gradient', () => {
    const seqs = [prompts[0]]
    const T = seqs[0].length
    const valid = tf.ones([1, T]) as tf.Tensor2D
    const batch: Batch = { B: 1, T, obs: null, actions: tf.tensor2d(seqs[0], [1, T], 'int32'), mask: valid, valid, traceIndex: new Int32Array(1) }
    const pol = new LlmPolicy(m.model, { model: 'llama' })
    const A = tf.variable(tf.zeros([64, 1]), true, 'loraA')
    const Bv = tf.variable(tf.tensor2d([[0.3, -0.2, 0.1, 0.05, ...new Array(28).fill(0)]], [1, 32]), true, 'loraB')
    // y + (x·A)·B on layers.0.k (out 32)
    m.model.linearHook = (name, x, y) => (name === 'layers.0.k' ? (y.add(x.matMul(A).matMul(Bv)) as tf.Tensor2D) : y)
    try {
      const loss = (): tf.Scalar => pol.logProbs(batch).sum().neg() as tf.Scalar
      const { grads } = tf.variableGrads(loss, [A])
      const g = grads.loraA.dataSync()
      const eps = 1e-2
      const fd = (i: number): number => {
        const base = A.dataSync().slice()
        const at = (delta: number): number => {
          const v = base.slice()
          v[i] += delta
          A.assign(tf.tensor2d(v, [64, 1]))
          return tf.tidy(() => loss().dataSync()[0])
        }
        const r = (at(eps) - at(-eps)) / (2 * eps)
        A.assign(tf.tensor2d(base, [64, 1]))
        return r
      }
      for (const i of [0, 17, 63]) expect(Math.abs(g[i] - fd(i))).toBeLessThan(2e-2 * Math.max(1, Math.abs(g[i])))
      expect(Math.max(...Array.from(g).map(Math.abs))).toBeGreaterThan(1e-3)
      tf.dispose(Object.values(grads))
    } finally {
      m.model.linearHook = null
      tf.dispose([A, Bv, batch.actions, valid])
    }
  })

  it('routes every linear through one hook (where LoRA will add its delta)', () => {
    const names = new Set<string>()
    const base = scoreSequences(m.model, [prompts[0]])[0]
    m.model.linearHook = (name, _x, y) => {
      names.add(name)
      return name === 'layers.1.down' ? (y.add(0.05) as tf.Tensor2D) : y
    }
    try {
      const shifted = scoreSequences(m.model, [prompts[0]])[0]
      expect(names).toEqual(new Set(['q', 'k', 'v', 'o', 'gate', 'up', 'down'].flatMap((n) => [`layers.0.${n}`, `layers.1.${n}`])))
      expect(Math.max(...Array.from(shifted).map((x, i) => Math.abs(x - base[i])))).toBeGreaterThan(1e-4)
    } finally {
      m.model.linearHook = null
    }
  })
})

describe('loading', () => {
  it('describes a model without reading its weights', async () => {
    const d = await describeLlm(fx('gguf/tiny-llama-Q4_1.gguf'))
    expect(d).toMatchObject({ format: 'gguf', parameters: 384 * 64 * 2 + 2 * (2 * 64 + 64 * 64 + 2 * 64 * 32 + 64 * 64 + 3 * 64 * 128) + 64, tensorTypes: { Q4_1: 16, F32: 5 } })
    expect(d.chatTemplate).toContain('<|im_start|>')
    expect(d.tokenizer).toMatchObject({ engine: 'byte-level-bpe', vocabSize: 384, bos: 1, eos: [2], addBos: false })
  })

  it('a folder without tokenizer.json, a missing tensor, a truncated GGUF: errors naming the file', async () => {
    const noTok = join(tmp, 'no-tokenizer')
    cpSync(fx('hf/llama'), noTok, { recursive: true })
    unlinkSync(join(noTok, 'tokenizer.json'))
    await expect(loadLlm(noTok)).rejects.toThrow(/no-tokenizer": has no tokenizer\.json/)

    const bad = join(tmp, 'bad-config')
    cpSync(fx('hf/llama'), bad, { recursive: true })
    const cfg = JSON.parse(readFileSync(join(bad, 'config.json'), 'utf8'))
    writeFileSync(join(bad, 'config.json'), JSON.stringify({ ...cfg, num_hidden_layers: 3 }))
    await expect(loadLlm(bad)).rejects.toThrow(/bad-config": missing tensor "model\.layers\.2\.input_layernorm\.weight"/)
    writeFileSync(join(bad, 'config.json'), JSON.stringify({ ...cfg, architectures: ['FalconForCausalLM'] }))
    await expect(loadLlm(bad)).rejects.toThrow(/bad-config\/config\.json": architecture FalconForCausalLM is not supported/)
    writeFileSync(join(bad, 'config.json'), JSON.stringify({ ...cfg, hidden_size: 32 }))
    await expect(loadLlm(bad)).rejects.toThrow(/tensor "model\.embed_tokens\.weight" has shape \[384,64\], the config implies \[384,32\]/)

    const shards = join(tmp, 'shards')
    cpSync(fx('hf/mistral'), shards, { recursive: true })
    unlinkSync(join(shards, 'model-00003-of-00004.safetensors'))
    await expect(loadLlm(shards)).rejects.toThrow(/model\.safetensors\.index\.json": lists shard ".*model-00003-of-00004\.safetensors", which is missing/)
    unlinkSync(join(shards, 'model.safetensors.index.json'))
    writeFileSync(join(shards, 'pytorch_model.bin'), '')
    await expect(loadLlm(shards)).rejects.toThrow(/shards": has no model\.safetensors or model\.safetensors\.index\.json \(pytorch_model\.bin is not read/)

    const cut = join(tmp, 'cut.gguf')
    copyFileSync(fx('gguf/tiny-llama-Q8_0.gguf'), cut)
    const bytes = readFileSync(cut)
    writeFileSync(cut, bytes.subarray(0, bytes.length - 5000))
    await expect(loadLlm(cut)).rejects.toThrow(/cut\.gguf": tensor ".*" \(.*\) needs bytes .* but the file is truncated at byte \d+/)
    await expect(loadLlm(join(tmp, 'absent.gguf'))).rejects.toThrow(/absent\.gguf": does not exist/)
  })
})
