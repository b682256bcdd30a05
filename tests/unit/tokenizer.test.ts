import { describe, it, expect } from 'vitest'
import { mkdtempSync, writeFileSync, copyFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CharTokenizer, ByteTokenizer, TokenizerError, loadHfTokenizer, tokenizerFromSpec } from '../../src/main/engine/text/index.ts'

const FIX = join(import.meta.dirname, '..', 'fixtures', 'text')

describe('CharTokenizer', () => {
  const t = new CharTokenizer('0123456789+-*=;#')
  it('numbers specials first, then the alphabet', () => {
    expect([t.pad, t.bos, t.eos, t.unk]).toEqual([0, 1, 2, 3])
    expect(t.vocabSize).toBe(20)
    // '1' is alphabet index 1 → id 5; '+' index 10 → 14; '=' index 13 → 17
    expect(t.encode('1+1=')).toEqual([5, 14, 5, 17])
    expect([5, 2, 3].map((i) => t.tokenText(i))).toEqual(['1', '<eos>', '<unk>'])
  })
  it('round-trips and drops specials when decoding', () => {
    const s = '12+7*3=7*3=21;12+21=33;#33'
    expect(t.decode(t.encode(s))).toBe(s)
    expect(t.decode([t.bos, 5, t.eos, t.pad, t.unk])).toBe('1')
  })
  it('strict: an unknown character is an error naming it; lenient: it becomes unk', () => {
    expect(() => t.encode('1/2')).toThrow(/"\/" .*not in its alphabet/)
    const lenient = new CharTokenizer('ab', false)
    expect(lenient.encode('abc')).toEqual([4, 5, 3])
  })
  it('rejects duplicate characters', () => {
    expect(() => new CharTokenizer('aba')).toThrow(/twice/)
  })
})

describe('ByteTokenizer', () => {
  const t = new ByteTokenizer()
  it('encodes UTF-8 bytes and keeps specials above 255', () => {
    expect(t.vocabSize).toBe(259)
    expect([t.pad, t.bos, t.eos]).toEqual([256, 257, 258])
    expect(t.encode('Aé')).toEqual([65, 0xc3, 0xa9])
    expect(t.decode([257, 65, 0xc3, 0xa9, 258])).toBe('Aé')
    expect([65, 0xc3, 10, 258].map((i) => t.tokenText(i))).toEqual(['A', '<0xC3>', '\n', '<eos>'])
  })
})

describe('Hugging Face tokenizer.json', () => {
  it('loads a hand-written BPE file: merges apply, unknown pieces map to [UNK]', async () => {
    const t = await loadHfTokenizer(join(FIX, 'tokenizer.json'))
    expect(t.vocabSize).toBe(19)
    expect([t.bos, t.eos, t.pad]).toEqual([1, 2, 3])
    // h e → he, l l → ll, he ll → hell, hell o → hello (id 14); w o r l d → world (id 18)
    expect(t.encode('Hello world')).toEqual([14, 18])
    // "held": he + l + d (no merge for "l d")
    expect(t.encode('held')).toEqual([11, 6, 10])
    // z is not in the vocabulary → [UNK] = 0
    expect(t.encode('hello z')).toEqual([14, 0])
    expect(t.decode([1, 14, 18, 2])).toBe('hello world')
    expect(t.tokenText(14)).toBe('hello')
    expect(t.spec()).toEqual({ kind: 'hf', file: join(FIX, 'tokenizer.json') })
  })
  it('loads a WordLevel file; a lone <|endoftext|> serves as bos, eos and pad', async () => {
    const t = await tokenizerFromSpec({ kind: 'hf', file: join(FIX, 'wordlevel-tokenizer.json') })
    expect(t.encode('the answer is 42')).toEqual([2, 3, 4, 5])
    expect(t.encode('the answer is 43')).toEqual([2, 3, 4, 0])
    expect([t.bos, t.eos, t.pad]).toEqual([1, 1, 1])
    expect(t.vocabSize).toBe(6)
  })
  it('reads tokenizer_config.json beside the file for the special tokens', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tok-'))
    copyFileSync(join(FIX, 'tokenizer.json'), join(dir, 'tokenizer.json'))
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ bos_token: '</s>', eos_token: { content: '<s>' } }))
    const t = await loadHfTokenizer(join(dir, 'tokenizer.json'))
    expect([t.bos, t.eos]).toEqual([2, 1])
  })
  it('an unknown model type, broken JSON or a missing file is an error naming the file', async () => {
    const unknown = join(FIX, 'unknown-model-tokenizer.json')
    await expect(loadHfTokenizer(unknown)).rejects.toThrow(TokenizerError)
    await expect(loadHfTokenizer(unknown)).rejects.toThrow(/unknown-model-tokenizer\.json.*unknown tokenizer model type "SentencePieceMagic"/)
    await expect(loadHfTokenizer(join(FIX, 'broken-tokenizer.json'))).rejects.toThrow(/broken-tokenizer\.json.*not valid JSON/)
    await expect(loadHfTokenizer(join(FIX, 'nope.json'))).rejects.toThrow(/nope\.json.*cannot be read \(ENOENT\)/)
    const dir = mkdtempSync(join(tmpdir(), 'tok-'))
    writeFileSync(join(dir, 'vocab.json'), JSON.stringify({ a: 0, b: 1 }))
    await expect(loadHfTokenizer(join(dir, 'vocab.json'))).rejects.toThrow(/vocab\.json.*no "model" section/)
    await expect(tokenizerFromSpec({ kind: 'sentencepiece' } as never)).rejects.toThrow(/unknown tokenizer kind "sentencepiece"/)
  })
})
