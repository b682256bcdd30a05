import { describe, it, expect } from 'vitest'
import { mkdtempSync, writeFileSync, copyFileSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { importTextFile, parseCsv, parseJsonl, detectMapping, ImportError } from '../../src/main/engine/data/import-text.ts'
import { ByteTokenizer, CharTokenizer, loadHfTokenizer } from '../../src/main/engine/text/index.ts'
import { arithmeticTokenizer } from '../../src/main/engine/datasets/arithmetic.ts'
import { DatasetError, maskedLength } from '../../src/main/common/trace.ts'

const FIX = join(import.meta.dirname, '..', 'fixtures', 'text')
const tmp = (): string => mkdtempSync(join(tmpdir(), 'imp-'))
const byte = new ByteTokenizer()

describe('CSV (RFC 4180)', () => {
  it('reads quoted commas, doubled quotes, line breaks inside quotes and CRLF; rows keep their first line', () => {
    const src = parseCsv(readFileSync(join(FIX, 'quoted.csv'), 'utf8'), 'quoted.csv')
    expect(src.rows).toEqual([
      { id: '1', prompt: 'hi', completion: 'a, b', score: '1', note: 'plain' },
      { id: '2', prompt: 'say "x"', completion: 'line one\nline two', score: '0.5', note: 'multi\r\nline' },
      { id: '3', prompt: '', completion: '', score: 'true', note: '' }
    ])
    // header line 1; record 2 spans lines 3–5, so record 3 starts on line 6
    expect(Array.from(src.numbers)).toEqual([2, 3, 6])
  })
  it('names the line of an unclosed quote, of stray text after a quote and of a too-long row', () => {
    expect(() => parseCsv('a,b\n1,"open\n\n', 'x.csv')).toThrow(/x\.csv", line 2: a quoted field is never closed/)
    expect(() => parseCsv('a,b\n1,"q"z\n', 'x.csv')).toThrow(/line 2: unexpected "z" after a closing quote/)
    expect(() => parseCsv('a,b\n1,2\n1,2,3\n', 'x.csv')).toThrow(/line 3: 3 fields, the header has 2/)
    expect(() => parseCsv('a,a\n1,2\n', 'x.csv')).toThrow(/column "a" twice/)
  })
  it('drops a BOM, takes LF, CRLF and lone CR record ends in one file, skips blank lines and counts lines past them', () => {
    const src = parseCsv('\ufeffa,b\r\n\r\n1,"x\r\ny"\n\n\n2,3\r4,5\n"",\n', 'm.csv')
    expect(src.rows).toEqual([
      { a: '1', b: 'x\r\ny' },
      { a: '2', b: '3' },
      { a: '4', b: '5' },
      { a: '', b: '' }
    ])
    // line 1 header, 2 blank, 3–4 the first record, 5–6 blank, 7 "2,3", 8 "4,5" (after a lone CR), 9
    expect(Array.from(src.numbers)).toEqual([3, 7, 8, 9])
  })
  it('names the line and field of every kind of malformed quote', () => {
    // the unclosed quote opens in the record on line 6 (after a record on lines 3–4 and a blank line 5)
    expect(() => parseCsv('a,b\n1,2\n3,"x\ny"\n\n6,"never\nclosed\n', 'q.csv')).toThrow('file "q.csv", line 6: a quoted field is never closed (field 2)')
    expect(() => parseCsv('a,b,c\n1,2,"q"z\n', 'q.csv')).toThrow('file "q.csv", line 2: unexpected "z" after a closing quote (field 3)')
    expect(() => parseCsv('a,b\n1,2\nx"y",2\n', 'q.csv')).toThrow(/^file "q\.csv", line 3: a quote inside an unquoted field \(field 1\); quote the whole field/)
    expect(() => parseCsv('', 'e.csv')).toThrow('file "e.csv": is empty (no header row)')
  })
})

describe('JSONL', () => {
  it('skips blank lines and names the line of bad JSON', () => {
    const src = parseJsonl('{"a":1}\n\n{"a":2}\r\n', 'f.jsonl')
    expect(src.rows).toEqual([{ a: 1 }, { a: 2 }])
    expect(Array.from(src.numbers)).toEqual([1, 3])
    expect(() => parseJsonl('{"a":1}\n{"a":\n', 'f.jsonl')).toThrow(/f\.jsonl", line 2: not valid JSON/)
    expect(() => parseJsonl('[1,2]\n', 'f.jsonl')).toThrow(/line 1: expected a JSON object/)
  })
})

describe('importTextFile', () => {
  it('imports prompt/completion JSONL with score, id and metadata; prompt masked, eos appended', async () => {
    const tok = arithmeticTokenizer()
    const r = await importTextFile(join(FIX, 'pairs.jsonl'), { tokenizer: tok, mapping: { prompt: 'prompt', completion: 'completion', score: 'score', id: 'id', meta: ['source'] } })
    const d = r.dataset
    expect(r.format).toBe('jsonl')
    expect(r.rows).toBe(3)
    expect(d.kind).toBe('sequence')
    expect(d.actDim).toBe(20)
    expect(d.name).toBe('pairs.jsonl')
    // 4 prompt + 8 completion + eos = 13; 4 + 10 + 1 = 15; 4 + 8 + 1 = 13
    expect(Array.from(d.offsets)).toEqual([0, 13, 28, 41])
    expect(maskedLength(d, 0)).toBe(9)
    expect(Array.from(d.mask.slice(0, 5))).toEqual([0, 0, 0, 0, 1])
    expect(d.actions[12]).toBe(tok.eos)
    expect(tok.decode(d.actions.slice(13, 28))).toBe('3*4=3*4=12;#12')
    expect(Array.from(d.scores)).toEqual([2, 1.5, 0])
    expect(d.ids).toEqual(['a', 'b', 'c'])
    expect(d.meta).toEqual([{ source: 'gen' }, { source: 'gen' }, { source: 'other' }])
  })

  it('guesses the mapping from column names', async () => {
    const r = await importTextFile(join(FIX, 'pairs.jsonl'), { tokenizer: arithmeticTokenizer() })
    expect(r.mapping).toEqual({ prompt: 'prompt', completion: 'completion', score: 'score', id: 'id' })
    expect(detectMapping(['question', 'thinking_trajectories', 'attempt', 'correct'])).toEqual({
      question: 'question',
      thinking: 'thinking_trajectories',
      attempt: 'attempt',
      score: 'correct'
    })
    expect(detectMapping(['tokens', 'ref_logprobs', 'policy_logprobs'])).toEqual({ tokens: 'tokens', refLogprobs: 'ref_logprobs', policyLogprobs: 'policy_logprobs' })
  })

  it('imports CSV with the byte tokenizer; scores from text and booleans; an empty completion is refused by line', async () => {
    const mapping = { prompt: 'prompt', completion: 'completion', score: 'score' }
    // row 3 (line 6) has an empty completion: it would be a trace of the end token alone
    await expect(importTextFile(join(FIX, 'quoted.csv'), { tokenizer: byte, mapping })).rejects.toThrow(/quoted\.csv", line 6, field "completion": the completion is empty/)
    const r = await importTextFile(join(FIX, 'quoted.csv'), { tokenizer: byte, mapping, skipBadRows: true })
    const d = r.dataset
    expect(Array.from(d.scores)).toEqual([1, 0.5])
    // "hi" + "a, b" + eos; 'say "x"' (7) + 'line one\nline two' (17) + eos
    expect(Array.from(d.offsets)).toEqual([0, 7, 32])
    expect(byte.decode(d.actions.slice(7, 31))).toBe('say "x"line one\nline two')
    expect(d.actions[31]).toBe(byte.eos)
    expect(d.mask[31]).toBe(1)
    expect(r.skipped.map((x) => x.line)).toEqual([6])
    const dir = tmp()
    const f = join(dir, 'bool.csv')
    writeFileSync(f, 'prompt,completion,score\na,b,true\nc,d,FALSE\ne,f, 2.5 \n')
    expect(Array.from((await importTextFile(f, { tokenizer: byte, mapping })).dataset.scores)).toEqual([1, 0, 2.5])
  })

  it('imports s1K-style Parquet (question / thinking / attempt) through a template; INT64 metadata becomes numbers', async () => {
    const r = await importTextFile(join(FIX, 's1k-mini.parquet'), {
      tokenizer: byte,
      mapping: { question: 'question', thinking: 'thinking', attempt: 'attempt', score: 'score', meta: ['n'], completionTemplate: '<think>{thinking}</think>{attempt}' }
    })
    const d = r.dataset
    expect(r.format).toBe('parquet')
    expect(byte.decode(d.actions.slice(d.offsets[1], d.offsets[2]))).toBe('3*4=<think>3*4=12</think>#12')
    expect(maskedLength(d, 1)).toBe('<think>3*4=12</think>#12'.length + 1)
    // 'é?' is 3 UTF-8 bytes, all masked
    expect(Array.from(d.mask.slice(d.offsets[2], d.offsets[2] + 4))).toEqual([0, 0, 0, 1])
    expect(Array.from(d.scores)).toEqual([1, 0.5, 0])
    expect(d.meta).toEqual([{ n: 7 }, { n: 8 }, { n: 9 }])
  })

  it('joins a list of thinking strings (s1K-1.1 thinking_trajectories) with newlines', async () => {
    const dir = tmp()
    const f = join(dir, 's1k.jsonl')
    writeFileSync(f, JSON.stringify({ question: 'Q', thinking_trajectories: ['a', 'b'], attempt: 'A' }) + '\n')
    const r = await importTextFile(f, { tokenizer: byte, addEos: false })
    expect(byte.decode(r.dataset.actions)).toBe('Qa\nb\nA')
  })

  it('imports bring-your-own log-probs aligned with the steps, 0 on prompt steps', async () => {
    const r = await importTextFile(join(FIX, 'byo-logprobs.jsonl'), { vocabSize: 10 })
    const d = r.dataset
    expect(Array.from(d.actions)).toEqual([1, 4, 5, 6, 2, 7, 2])
    expect(Array.from(d.mask)).toEqual([0, 0, 1, 1, 1, 1, 1])
    expect(Array.from(r.refLogProbs!)).toEqual([0, 0, -0.5, -1, -0.25, -2, -0.1].map(Math.fround))
    expect(Array.from(r.policyLogProbs!)).toEqual([0, 0, -0.25, -1.5, -0.25, -1, -0.1].map(Math.fround))
    expect(d.actDim).toBe(10)
    expect(d.ids).toEqual(['t0', 't1'])
    // without a vocabulary size: the largest id + 1
    expect((await importTextFile(join(FIX, 'byo-logprobs.jsonl'))).dataset.actDim).toBe(8)
  })

  it('reads log-probs for tokenized text with an HF tokenizer', async () => {
    const tok = await loadHfTokenizer(join(FIX, 'tokenizer.json'))
    const dir = tmp()
    const f = join(dir, 'hf.jsonl')
    writeFileSync(f, JSON.stringify({ prompt: 'hello', completion: 'hello world', ref_logprobs: [-1, -2], policy_logprobs: [-1, -1] }) + '\n')
    const r = await importTextFile(f, { tokenizer: tok })
    expect(Array.from(r.dataset.actions)).toEqual([14, 14, 18])
    expect(Array.from(r.refLogProbs!)).toEqual([0, -1, -2])
  })
})

describe('bad input: errors name the file, the row and the field; nothing is returned', () => {
  const write = (name: string, text: string): string => {
    const f = join(tmp(), name)
    writeFileSync(f, text)
    return f
  }
  const map = { prompt: 'prompt', completion: 'completion', score: 'score' }

  it('a CSV record over several lines is named by its first line', async () => {
    const c = write('ml.csv', 'prompt,completion,score\na,"b\nc",1\nd,"e\nf",\n')
    await expect(importTextFile(c, { tokenizer: byte, mapping: map })).rejects.toThrow(/ml\.csv", line 4, field "score": missing/)
  })

  it('a row missing a column (JSONL line, CSV line)', async () => {
    const f = write('m.jsonl', '{"prompt":"a","completion":"b","score":1}\n\n{"prompt":"a","score":1}\n')
    await expect(importTextFile(f, { tokenizer: byte, mapping: map })).rejects.toThrow(/m\.jsonl", line 3, field "completion": missing/)
    const c = write('m.csv', 'prompt,completion,score\na,b,1\nc,d\n')
    await expect(importTextFile(c, { tokenizer: byte, mapping: map })).rejects.toThrow(/m\.csv", line 3, field "score": missing/)
    const s = write('s.jsonl', '{"prompt":"a","completion":"b","score":"high"}\n')
    await expect(importTextFile(s, { tokenizer: byte, mapping: map })).rejects.toThrow(/line 1, field "score": "high" is not a number/)
    const o = write('o.jsonl', '{"prompt":{"x":1},"completion":"b","score":1}\n')
    await expect(importTextFile(o, { tokenizer: byte, mapping: map })).rejects.toThrow(/line 1, field "prompt": expected text, found object/)
  })

  it('a log-prob list whose length does not match the tokens', async () => {
    const f = write('lp.jsonl', '{"tokens":[1,2],"ref_logprobs":[-1,-1],"policy_logprobs":[-1,-1]}\n{"tokens":[1,2,3],"ref_logprobs":[-1,-1,-1],"policy_logprobs":[-1,-1]}\n')
    await expect(importTextFile(f)).rejects.toThrow(/lp\.jsonl", line 2, field "policy_logprobs": has 2 log-probs, the completion has 3 tokens/)
    const g = write('lp2.jsonl', '{"tokens":[1,2],"ref_logprobs":[-1,0.5],"policy_logprobs":[-1,-1]}\n')
    await expect(importTextFile(g)).rejects.toThrow(/line 1, field "ref_logprobs": entry 1 is 0\.5; a log-prob must be a finite number ≤ 0/)
    const h = write('lp3.jsonl', '{"tokens":[1,2.5],"ref_logprobs":[-1,-1]}\n')
    await expect(importTextFile(h)).rejects.toThrow(/field "tokens": entry 1 is 2\.5, not a token id/)
    const v = write('lp4.jsonl', '{"tokens":[1,12],"ref_logprobs":[-1,-1]}\n')
    await expect(importTextFile(v, { vocabSize: 10 })).rejects.toThrow(/line 1, field "tokens": token id 12 is outside the vocabulary of 10/)
  })

  it('a broken Parquet file', async () => {
    await expect(importTextFile(join(FIX, 'broken.parquet'), { tokenizer: byte })).rejects.toThrow(/broken\.parquet": not a readable Parquet file/)
    const f = join(tmp(), 'x.parquet')
    copyFileSync(join(FIX, 'pairs.jsonl'), f)
    await expect(importTextFile(f, { tokenizer: byte })).rejects.toThrow(ImportError)
  })

  it('an unknown tokenizer file', async () => {
    await expect(importTextFile(join(FIX, 'pairs.jsonl'), { tokenizerFile: join(FIX, 'unknown-model-tokenizer.json') })).rejects.toThrow(
      /unknown-model-tokenizer\.json": unknown tokenizer model type/
    )
    const r = await importTextFile(join(FIX, 'pairs.jsonl'), { tokenizerFile: join(FIX, 'tokenizer.json'), addEos: false })
    expect(r.dataset.actDim).toBe(19)
  })

  it('text without a tokenizer, an unknown extension, a missing file', async () => {
    await expect(importTextFile(join(FIX, 'pairs.jsonl'))).rejects.toThrow(/pairs\.jsonl": text columns need a tokenizer/)
    await expect(importTextFile(join(FIX, 'tokenizer.json'))).rejects.toThrow(/unknown format ".json"/)
    await expect(importTextFile(join(FIX, 'nope.jsonl'))).rejects.toThrow(/nope\.jsonl": cannot be read \(ENOENT\)/)
  })

  it('a character outside a strict alphabet surfaces as an error; errors are DatasetErrors', async () => {
    const f = write('a.jsonl', '{"prompt":"1+1=","completion":"two"}\n')
    await expect(importTextFile(f, { tokenizer: new CharTokenizer('0123456789+=') })).rejects.toThrow(/"t"/)
    const g = write('b.jsonl', '{"prompt":"a","score":1}\n')
    await expect(importTextFile(g, { tokenizer: byte, mapping: map })).rejects.toBeInstanceOf(DatasetError)
  })
})
