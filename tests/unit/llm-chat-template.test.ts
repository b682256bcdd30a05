// Chat templates rendered with @huggingface/jinja against transformers' apply_chat_template
// (tests/fixtures/llm/hf/tokenization.json, gguf/tokenization.json), errors for templates that
// cannot be rendered faithfully, and the prompt/completion split and loss mask of issue 14.
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { ChatTemplate, chatLossMask, chatPromptCompletion, chatTemplateFor, plainPromptCompletion } from '../../src/main/engine/llm/chat-template.ts'
import { readGgufHeader } from '../../src/main/engine/llm/gguf.ts'
import { readTokenizerConfig, tokenizerFromGguf, tokenizerFromJson } from '../../src/main/engine/llm/tokenizer.ts'

const fx = (p: string): string => new URL(`../fixtures/llm/${p}`, import.meta.url).pathname
const json = (p: string): any => JSON.parse(readFileSync(fx(p), 'utf8'))
const hfTok = json('hf/tokenization.json')

// transformers 5 picks the tokenizer class from config.json's model_type and, for Qwen2, runs
// Qwen2's own pre-tokenizer (digits one by one) whatever tokenizer.json says; the fixture's
// Qwen2 folders carry a GPT-2-regex tokenizer.json, so their chat ids are compared with the
// engine running Qwen2's regex (a Split pre-tokenizer, as real Qwen2 tokenizer.json files have).
// The engine itself follows tokenizer.json.
const QWEN2_SPLIT = {
  type: 'Sequence',
  pretokenizers: [
    {
      type: 'Split',
      pattern: { Regex: "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+" },
      behavior: 'Isolated',
      invert: false
    },
    { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false }
  ]
}

function folder(name: string, asTransformers = false) {
  const cfg = json(`hf/${name}/config.json`)
  const tc = json(`hf/${name}/tokenizer_config.json`)
  const tj = json(`hf/${name}/tokenizer.json`)
  if (asTransformers && cfg.model_type === 'qwen2') tj.pre_tokenizer = QWEN2_SPLIT
  const tok = tokenizerFromJson(tj, tc, fx(`hf/${name}/tokenizer.json`), { bos: cfg.bos_token_id ?? null, eos: [cfg.eos_token_id], pad: cfg.pad_token_id ?? null })
  const tpl = chatTemplateFor(readTokenizerConfig(tc).chatTemplate!, name, tok)
  return { tok, tpl }
}

describe('chat templates render as transformers renders them', () => {
  for (const [name, cases] of Object.entries<any[]>(hfTok.chat)) {
    it(`${name}: text and ids of ${cases.length} conversations`, () => {
      const { tok, tpl } = folder(name, true)
      for (const c of cases) {
        const text = tpl.render(c.messages, { addGenerationPrompt: c.add_generation_prompt })
        expect(text).toBe(c.text)
        expect(tok.encode(text)).toEqual(c.ids)
      }
    })
  }

  it('GGUF tokenizer.chat_template', async () => {
    const h = await readGgufHeader(fx('gguf/tiny-llama-F16.gguf'))
    const tok = tokenizerFromGguf(h)
    const tpl = chatTemplateFor(h.metadata.get('tokenizer.chat_template') as string, 'tiny', tok)
    const ref = json('gguf/tokenization.json')
    for (const c of ref.chat) {
      const text = tpl.render(c.messages, { addGenerationPrompt: c.add_generation_prompt })
      expect(text).toBe(c.text)
      expect(tok.encode(text)).toEqual(c.ids)
    }
  })
})

describe('templates that cannot be rendered faithfully are errors naming the model and the construct', () => {
  it('a statement the library does not know', () => {
    expect(() => new ChatTemplate('{% frobnicate %}{{ x }}{% endfrobnicate %}', 'model "m"')).toThrow(/chat template of model "m": cannot be parsed \(.*frobnicate/)
  })
  it('an unknown filter, at render time', () => {
    const t = new ChatTemplate("{{ messages[0]['content'] | shout }}", 'model "m"')
    expect(() => t.render([{ role: 'user', content: 'hi' }])).toThrow(/chat template of model "m": rendering failed \(.*shout/)
  })
  it("the template's own raise_exception (Mistral's role check)", () => {
    const { tpl } = folder('mistral')
    expect(() => tpl.render([{ role: 'assistant', content: 'first' }])).toThrow(/chat template of mistral: rendering failed \(Conversation roles must alternate/)
  })
  it('messages without a string role or content', () => {
    const { tpl } = folder('llama')
    expect(() => tpl.render([{ role: 'user', content: 3 as unknown as string }])).toThrow(/message 0 needs a string role and content/)
  })
})

describe('prompt / completion split and the completion-only loss mask', () => {
  const { tok, tpl } = folder('llama')
  it('splits a rendered conversation into the generation prompt and the answer with its end of turn', () => {
    const { prompt, completion } = chatPromptCompletion(tok, tpl, 'What is 12 + 7?', '19')
    const promptText = tpl.render([{ role: 'user', content: 'What is 12 + 7?' }], { addGenerationPrompt: true })
    expect(prompt).toEqual(tok.encode(promptText))
    expect(tok.decode(completion, false)).toBe('19<|im_end|>\n')
    expect([...prompt, ...completion]).toEqual(
      tok.encode(
        tpl.render([
          { role: 'user', content: 'What is 12 + 7?' },
          { role: 'assistant', content: '19' }
        ])
      )
    )
  })

  it('masks every assistant turn and nothing else', () => {
    const msgs = [
      { role: 'user', content: 'Hi!' },
      { role: 'assistant', content: 'Hello.' },
      { role: 'user', content: '2 + 2?' },
      { role: 'assistant', content: '4' }
    ]
    const { ids, mask } = chatLossMask(tok, tpl, msgs)
    expect(ids).toEqual(tok.encode(tpl.render(msgs)))
    // the masked tokens, decoded run by run, are the answers with their end-of-turn tokens
    const runs: string[] = []
    let cur: number[] = []
    ids.forEach((id, i) => {
      if (mask[i]) cur.push(id)
      else if (cur.length) {
        runs.push(tok.decode(cur, false))
        cur = []
      }
    })
    if (cur.length) runs.push(tok.decode(cur, false))
    expect(runs).toEqual(['Hello.<|im_end|>\n', '4<|im_end|>\n'])
  })

  it('plain text: BOS in front of the prompt only when the model adds one', () => {
    const r = plainPromptCompletion(tok, 'Q: 2+2? A:', ' 4')
    expect(tok.addBos).toBe(false)
    expect([...r.prompt, ...r.completion]).toEqual(tok.encode('Q: 2+2? A: 4'))
    const mistral = folder('mistral').tok
    const m = plainPromptCompletion(mistral, 'Q: 2+2? A:', ' 4')
    expect(m.prompt[0]).toBe(mistral.bos)
  })
})
