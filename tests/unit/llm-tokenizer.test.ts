// LLM tokenizers against transformers' ids (tests/fixtures/llm/hf/tokenization.json and
// gguf/tokenization.json, written by the parity script), against @huggingface/tokenizers as an
// independent implementation of byte-level BPE, and on a vocabulary small enough to merge by hand.
import { readFileSync } from 'node:fs'
import { Tokenizer as HfLib } from '@huggingface/tokenizers'
import { describe, expect, it } from 'vitest'
import { ByteLevelBpe, GPT2_PATTERN, bytesToUnicode, splitIsolated, toJsRegex } from '../../src/main/engine/llm/bpe.ts'
import { readGgufHeader } from '../../src/main/engine/llm/gguf.ts'
import { tokenizerFromGguf, tokenizerFromJson } from '../../src/main/engine/llm/tokenizer.ts'
import { Rng } from '../../src/main/engine/rng.ts'

const fx = (p: string): string => new URL(`../fixtures/llm/${p}`, import.meta.url).pathname
const json = (p: string): any => JSON.parse(readFileSync(fx(p), 'utf8'))
const hfTok = json('hf/tokenization.json')
const ggufTok = json('gguf/tokenization.json')

function loadJsonTokenizer(folder: string) {
  const f = fx(`hf/${folder}`)
  const cfg = json(`hf/${folder}/config.json`)
  const eos = Array.isArray(cfg.eos_token_id) ? cfg.eos_token_id : [cfg.eos_token_id]
  return tokenizerFromJson(json(`hf/${folder}/tokenizer.json`), json(`hf/${folder}/tokenizer_config.json`), `${f}/tokenizer.json`, {
    bos: cfg.bos_token_id ?? null,
    eos,
    pad: cfg.pad_token_id ?? null
  })
}

describe('tokenizer.json, byte-level BPE (the fast encoder)', () => {
  const tok = loadJsonTokenizer('llama')
  it('runs on the fast encoder', () => {
    expect(tok.info.engine).toBe('byte-level-bpe')
    expect(tok.vocabSize).toBe(hfTok.tokenizers.bytelevel.vocab_size)
    expect([tok.bos, tok.eos, tok.pad, tok.addBos]).toEqual([1, 2, 0, false])
  })
  for (const c of hfTok.tokenizers.bytelevel.cases) {
    it(`encodes and decodes ${JSON.stringify(c.text).slice(0, 40)} as transformers`, () => {
      expect(tok.encode(c.text)).toEqual(c.ids_no_special)
      expect(tok.decode(c.ids_no_special, false)).toBe(c.decoded)
    })
  }
  it('drops special tokens when decoding by default', () => {
    expect(tok.decode(tok.encode('<|im_start|>user\nhi<|im_end|>\n'))).toBe('user\nhi\n')
  })
})

describe('tokenizer.json, Metaspace + byte fallback (through @huggingface/tokenizers)', () => {
  const tok = loadJsonTokenizer('mistral')
  it('falls back to the library and adds BOS as the model does', () => {
    expect(tok.info.engine).toBe('hf-tokenizers')
    expect([tok.bos, tok.eos, tok.addBos]).toEqual([1, 2, true])
  })
  for (const c of hfTok.tokenizers.metaspace.cases) {
    it(`encodes ${JSON.stringify(c.text).slice(0, 40)} as transformers`, () => {
      expect(tok.encode(c.text)).toEqual(c.ids_no_special)
      expect([tok.bos, ...tok.encode(c.text)]).toEqual(c.ids)
    })
  }
})

describe('GGUF tokenizer metadata (tokenizer.ggml.*)', async () => {
  const h = await readGgufHeader(fx('gguf/tiny-llama-Q8_0.gguf'))
  const tok = tokenizerFromGguf(h)
  it('reads specials and the pre-tokenizer', () => {
    expect(tok.info).toMatchObject({ engine: 'byte-level-bpe', preTokenizer: 'gpt-2' })
    expect([tok.specialText(tok.bos), tok.specialText(tok.eos), tok.specialText(tok.pad)]).toEqual([ggufTok.bos_token, ggufTok.eos_token, ggufTok.pad_token])
  })
  for (const c of ggufTok.cases) {
    it(`encodes ${JSON.stringify(c.text).slice(0, 40)} as transformers' GGUF tokenizer`, () => {
      expect(tok.encode(c.text)).toEqual(c.ids)
      expect(tok.decode(c.ids, false)).toBe(c.decoded)
    })
  }
  it('names an unknown pre-tokenizer and a non-BPE tokenizer model', () => {
    const bad = { ...h, metadata: new Map(h.metadata) }
    bad.metadata.set('tokenizer.ggml.pre', 'frobnicate')
    expect(() => tokenizerFromGguf(bad)).toThrow(/tiny-llama-Q8_0\.gguf": pre-tokenizer "frobnicate" \(tokenizer\.ggml\.pre\) is not supported \(supported: .*smollm.*qwen2/)
    bad.metadata.set('tokenizer.ggml.model', 'llama')
    expect(() => tokenizerFromGguf(bad)).toThrow(/tokenizer model "llama" is not supported from GGUF metadata/)
    bad.metadata.delete('tokenizer.ggml.model')
    expect(() => tokenizerFromGguf(bad)).toThrow(/has no tokenizer/)
  })
})

describe('the fast encoder equals @huggingface/tokenizers on byte-level BPE', () => {
  const tj = json('hf/gpt2/tokenizer.json')
  const fast = loadJsonTokenizer('gpt2')
  const lib = new HfLib(tj, json('hf/gpt2/tokenizer_config.json'))
  it('on random strings mixing words, digits, spaces, unicode and specials, including long pre-tokens', () => {
    const rng = new Rng(7)
    const atoms = [
      'the',
      ' cat',
      'é',
      '你好',
      '🙂',
      ' ',
      '  ',
      '\n',
      '\t',
      '12',
      '345',
      "'s",
      "'LL",
      '!',
      '...',
      '<|im_start|>',
      '<|im_end|>',
      'ab'.repeat(40),
      ' x',
      'Ğ',
      '\u00a0',
      '\u2009'
    ]
    // (no U+0085 / U+FEFF: the JS library's \s follows JavaScript, transformers' Rust library
    // follows Oniguruma; the engine follows Oniguruma, tested below)
    expect(fast.info.engine).toBe('byte-level-bpe')
    for (let n = 0; n < 300; n++) {
      let s = ''
      const k = 1 + rng.int(12)
      for (let i = 0; i < k; i++) s += atoms[rng.int(atoms.length)]
      expect(fast.encode(s), JSON.stringify(s)).toEqual(lib.encode(s, { add_special_tokens: false }).ids)
    }
  })
})

describe('byte-level BPE by hand', () => {
  const ch = bytesToUnicode()
  // bytes a, b, c, space; merges in rank order: "a b", "ab c", "b c", "Ġ a"
  const tokens = ['a', 'b', 'c', ch[32], 'ab', 'abc', 'bc', `${ch[32]}a`, '<s>']
  const make = (pre = [toJsRegex(GPT2_PATTERN)!]) =>
    new ByteLevelBpe({ tokens, merges: ['a b', 'ab c', 'b c', `${ch[32]} a`], preTokenizer: pre, added: [{ content: '<s>', id: 8, special: true }], source: 'test vocabulary' })

  it('merges the lowest-ranked pair first, leftmost on ties', () => {
    const t = make()
    expect(t.encode('abc')).toEqual([5]) // a b → ab, then ab c → abc
    expect(t.encode('bc')).toEqual([6])
    expect(t.encode('abab')).toEqual([4, 4])
    expect(t.encode('aabc')).toEqual([0, 5]) // a a has no merge; a b (rank 0) before b c (rank 2)
    // " abc" is one pre-token Ġ a b c: a b (rank 0) goes before Ġ a (rank 3), then ab c (rank 1)
    expect(t.encode(' abc')).toEqual([3, 5])
    expect(t.encode(' a')).toEqual([7])
  })

  it('matches special tokens in the text and decodes back', () => {
    const t = make()
    expect(t.encode('ab<s>c')).toEqual([4, 8, 2])
    expect(t.decode([4, 8, 2], false)).toBe('ab<s>c')
    expect(t.decode([4, 8, 2])).toBe('abc')
  })

  it('merges long pre-tokens (the heap path) exactly as short ones', () => {
    const t = make([])
    const s = 'abcabbcaabc'.repeat(9)
    const ids = t.encode(s)
    // short pieces give the same ids piece by piece, as the same merges apply inside each 'abcabbcaabc'
    // only when no merge crosses the boundary: 'c' + 'a' has none
    const one = t.encode('abcabbcaabc')
    expect(ids).toEqual(new Array(9).fill(one).flat())
    expect(one).toEqual([5, 4, 6, 0, 5])
  })

  it('names a byte the vocabulary lacks', () => {
    expect(() => make().encode('d')).toThrow(/test vocabulary: byte 0x64 .* has no token/)
  })
})

describe('pre-tokenizer regexes', () => {
  it('spells whitespace as Oniguruma does (U+0085 is whitespace, U+FEFF is not)', () => {
    const re = toJsRegex('\\s+')!
    const out: string[] = []
    splitIsolated('a\u0085b\ufeffc', re, out)
    expect(out).toEqual(['a', '\u0085', 'b\ufeffc'])
  })
  it('splits with the GPT-2 regex as GPT-2 does', () => {
    const out: string[] = []
    splitIsolated("Hello world's  12 ok!!\n\n x", toJsRegex(GPT2_PATTERN)!, out)
    expect(out).toEqual(['Hello', ' world', "'s", ' ', ' 12', ' ok', '!!', '\n\n', ' x'])
  })
  it('refuses constructs JavaScript cannot run', () => {
    expect(toJsRegex('a++')).toBeNull()
    expect(toJsRegex('(?x) a')).toBeNull()
    expect(toJsRegex("(?i:'s|'t|'re|'ve|'m|'ll|'d)|\\p{L}+")).not.toBeNull()
  })
})
