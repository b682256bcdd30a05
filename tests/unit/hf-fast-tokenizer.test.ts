// Text imports with a tokenizer.json encode byte-level BPE vocabularies through the engine's own
// BPE (load-hf.ts): the ids must be the ones @huggingface/tokenizers gives for the same file,
// special ids and decoding unchanged; other tokenizer kinds keep the library.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { HfTokenizer } from '../../src/main/engine/text/hf.ts'
import { FastBpeTokenizer, loadHfTokenizer } from '../../src/main/engine/text/load-hf.ts'
import { Rng } from '../../src/main/engine/rng.ts'

const HF = join(__dirname, '../fixtures/llm/hf')
const BYTE_LEVEL = ['gpt2', 'llama', 'qwen2']

/** prose, numbers, code, whitespace runs, unicode and special tokens written in the text */
function corpus(n: number, seed: number, specials: string[]): string[] {
  const rng = new Rng(seed)
  const words = [
    'the',
    'answer',
    'is',
    '12',
    '345',
    "don't",
    'café',
    'naïve',
    '🙂',
    '\n\n',
    '  ',
    '\t',
    'def',
    'f(x):',
    'return',
    'x+1',
    'Ünïcödé',
    '数学',
    '=',
    '?',
    "I'll",
    "'s",
    '...',
    '1000000'
  ]
  const out: string[] = ['', ' ', 'a', ' leading space', 'trailing space ', '\n', 'x'.repeat(300)]
  for (let i = 0; i < n; i++) {
    const len = 1 + rng.int(30)
    let s = ''
    for (let k = 0; k < len; k++) {
      const r = rng.next()
      s += r < 0.05 && specials.length ? specials[rng.int(specials.length)] : words[rng.int(words.length)]
      s += rng.next() < 0.7 ? ' ' : ''
    }
    out.push(s)
  }
  return out
}

describe('tokenizer.json through the engine BPE', () => {
  for (const name of BYTE_LEVEL) {
    it(`${name}: the same ids as @huggingface/tokenizers, the same specials and decoding`, async () => {
      const file = join(HF, name, 'tokenizer.json')
      const fast = await loadHfTokenizer(file)
      expect(fast).toBeInstanceOf(FastBpeTokenizer)
      const slow = new HfTokenizer(JSON.parse(readFileSync(file, 'utf8')), JSON.parse(readFileSync(join(HF, name, 'tokenizer_config.json'), 'utf8')), file)
      expect([fast.vocabSize, fast.bos, fast.eos, fast.pad]).toEqual([slow.vocabSize, slow.bos, slow.eos, slow.pad])
      const added = (JSON.parse(readFileSync(file, 'utf8')).added_tokens as Array<{ content: string }>).map((t) => t.content)
      let tokens = 0
      for (const text of corpus(400, 7, added)) {
        const ids = fast.encode(text)
        expect(ids, JSON.stringify(text)).toEqual(slow.encode(text))
        expect(fast.decode(ids)).toBe(slow.decode(ids))
        tokens += ids.length
      }
      expect(tokens).toBeGreaterThan(4000)
      expect(fast.spec()).toEqual({ kind: 'hf', file })
    })
  }

  it('other tokenizer kinds (sentencepiece-style BPE, whitespace BPE) stay with the library', async () => {
    expect(await loadHfTokenizer(join(HF, 'mistral', 'tokenizer.json'))).toBeInstanceOf(HfTokenizer)
    expect(await loadHfTokenizer(join(__dirname, '../fixtures/text/tokenizer.json'))).toBeInstanceOf(HfTokenizer)
  })

  it('a missing or broken file still names the file', async () => {
    await expect(loadHfTokenizer('/nonexistent/tokenizer.json')).rejects.toThrow(/tokenizer file "\/nonexistent\/tokenizer.json": cannot be read/)
  })
})
