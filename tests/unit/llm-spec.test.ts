// LlmSpec from config.json and GGUF metadata, parameter counts, and configs the loader refuses.
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { readGgufHeader } from '../../src/main/engine/llm/gguf.ts'
import { ropeInvFreq } from '../../src/main/engine/llm/rope.ts'
import { llmMemoryBytes, llmParameterCount, specFromGguf, specFromHfConfig } from '../../src/main/engine/llm/spec.ts'

const fx = (p: string): string => new URL(`../fixtures/llm/${p}`, import.meta.url).pathname
const json = (p: string): any => JSON.parse(readFileSync(fx(p), 'utf8'))

describe('config.json', () => {
  it('Llama with GQA and a separate head', () => {
    const s = specFromHfConfig(json('hf/llama/config.json'), 'config.json')
    expect(s).toMatchObject({
      arch: 'llama',
      nLayers: 2,
      dModel: 64,
      nHeads: 4,
      nKvHeads: 2,
      headDim: 16,
      dFF: 128,
      vocabSize: 384,
      norm: 'rms',
      normEps: 1e-5,
      tiedHead: false,
      bias: { qkv: false, o: false, mlp: false }
    })
    expect(s.rope).toEqual({ theta: 10000, scaling: null, freqFactors: null })
  })
  it('rope scaling: llama3 and linear; Qwen2 biases and transformers 5 rope_parameters; Mistral; GPT-2', () => {
    expect(specFromHfConfig(json('hf/llama-tied-rope-scaled/config.json'), 'c').rope!.scaling).toEqual({
      type: 'llama3',
      factor: 8,
      lowFreqFactor: 1,
      highFreqFactor: 4,
      originalContext: 32
    })
    expect(specFromHfConfig(json('hf/llama-bf16/config.json'), 'c').rope!.scaling).toEqual({ type: 'linear', factor: 2 })
    const q = specFromHfConfig(json('hf/qwen2-fp16/config.json'), 'c')
    expect(q).toMatchObject({ arch: 'qwen2', tiedHead: true, bias: { qkv: true, o: false, mlp: false } })
    expect(q.rope!.theta).toBe(1e6)
    expect(specFromHfConfig(json('hf/mistral/config.json'), 'c')).toMatchObject({ arch: 'mistral', slidingWindow: null })
    expect(specFromHfConfig(json('hf/gpt2/config.json'), 'c')).toMatchObject({
      arch: 'gpt2',
      norm: 'layer',
      activation: 'gelu_tanh',
      rope: null,
      dFF: 256,
      contextLength: 64,
      tiedHead: true
    })
  })
  it('refuses what it does not run, naming the file and the supported list', () => {
    expect(() => specFromHfConfig({ architectures: ['BertModel'] }, '/m/config.json')).toThrow(
      /model config "\/m\/config\.json": architecture BertModel is not supported \(supported: LlamaForCausalLM, Qwen2ForCausalLM, MistralForCausalLM, GPT2LMHeadModel\)/
    )
    const base = json('hf/llama/config.json')
    expect(() => specFromHfConfig({ ...base, hidden_size: 'big' }, 'c.json')).toThrow(/c\.json: "hidden_size" must be a positive integer/)
    expect(() => specFromHfConfig({ ...base, rope_scaling: { rope_type: 'yarn', factor: 4 } }, 'c.json')).toThrow(
      /rope_scaling type "yarn" is not supported \(supported: default, linear, llama3\)/
    )
    expect(() => specFromHfConfig({ ...base, num_key_value_heads: 3 }, 'c.json')).toThrow(/4 attention heads are not a multiple of 3/)
    expect(() => specFromHfConfig({ ...base, hidden_act: 'gelu' }, 'c.json')).toThrow(/hidden_act "gelu" is not supported/)
  })
})

describe('GGUF metadata', () => {
  it('SmolLM2-shaped metadata from the tiny file; the head is tied when output.weight is absent', async () => {
    const s = specFromGguf(await readGgufHeader(fx('gguf/tiny-llama-Q4_0.gguf')))
    expect(s).toMatchObject({ arch: 'llama', nLayers: 2, dModel: 64, nHeads: 4, nKvHeads: 2, headDim: 16, dFF: 128, vocabSize: 384, tiedHead: false, bos: 1, eos: [2], pad: 0 })
  })
  it('names an unsupported architecture', async () => {
    const h = await readGgufHeader(fx('gguf/tiny-llama-Q4_0.gguf'))
    h.metadata.set('general.architecture', 'mamba')
    expect(() => specFromGguf(h)).toThrow(/tiny-llama-Q4_0\.gguf": architecture "mamba" is not supported \(supported: llama, qwen2, gpt2\)/)
  })
})

describe('size', () => {
  it("counts SmolLM2's 134,515,008 parameters (transformers' count in the fixture)", () => {
    const ref = json('smollm2-reference.json').config
    const s = specFromHfConfig(
      {
        architectures: ['LlamaForCausalLM'],
        hidden_size: ref.hidden_size,
        intermediate_size: ref.intermediate_size,
        num_hidden_layers: ref.num_hidden_layers,
        num_attention_heads: ref.num_attention_heads,
        num_key_value_heads: ref.num_key_value_heads,
        vocab_size: ref.vocab_size,
        max_position_embeddings: ref.max_position_embeddings,
        tie_word_embeddings: true
      },
      'c'
    )
    expect(llmParameterCount(s)).toBe(ref.n_parameters)
    // weights + a transposed tied head in float32, plus working memory: between 0.6 and 2 GB
    const mem = llmMemoryBytes(s)
    expect(mem).toBeGreaterThan(4 * (134515008 + 49152 * 576))
    expect(mem).toBeLessThan(2e9)
  })
  it('counts GPT-2 small (124,439,808) with its learned positions and biases', () => {
    const s = specFromHfConfig({ architectures: ['GPT2LMHeadModel'], n_embd: 768, n_layer: 12, n_head: 12, n_positions: 1024, vocab_size: 50257 }, 'c')
    expect(llmParameterCount(s)).toBe(124439808)
  })
})

describe('rotary frequencies', () => {
  it('1/θ^(2i/d), and Llama 3 scaling keeps high frequencies, divides low ones by the factor', () => {
    const plain = ropeInvFreq(10000, 8, null)
    expect(Array.from(plain)).toEqual([1, 0.1, 0.01, 0.001].map(Math.fround))
    const l3 = ropeInvFreq(10000, 8, { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalContext: 32 })
    // wavelengths 2π/f: 6.3 (< 32/4 = 8: kept), 62.8 and 628 (> 32: divided by 8), 6283 (> 32)
    expect(l3[0]).toBe(plain[0])
    expect(l3[2]).toBeCloseTo(plain[2] / 8, 9)
    // 2π/0.1 = 62.8 > 32 as well
    expect(l3[1]).toBeCloseTo(plain[1] / 8, 9)
    // original context 128: wavelength 62.8 lies between 128/4 and 128/1, blended with
    // s = (128/62.83 − 1)/(4 − 1) = 0.3457: (1 − s)·0.1/8 + s·0.1 = 0.04275
    const mid = ropeInvFreq(10000, 8, { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalContext: 128 })
    expect(mid[1]).toBeCloseTo(0.04275, 4)
    const lin = ropeInvFreq(10000, 8, { type: 'linear', factor: 2 })
    expect(lin[3]).toBeCloseTo(plain[3] / 2, 12)
  })
})
