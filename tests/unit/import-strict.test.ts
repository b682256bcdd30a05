// Imports that used to be accepted quietly (issue 11): invalid UTF-8, a misspelt mapping key or
// column, an empty completion, a line or trace past the size limits. Each is refused with a
// message naming the file, the line and what to do; with skipBadRows the good rows are imported
// and every bad line is reported with its reason.
import { describe, expect, it } from 'vitest'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { importTextFile, ImportError } from '../../src/main/engine/data/import-text.ts'
import { importDatasetFileFull } from '../../src/main/engine/data/import.ts'
import { decodeTextFile, invalidUtf8At } from '../../src/main/engine/data/text-bytes.ts'
import { ByteTokenizer } from '../../src/main/engine/text/index.ts'
import { Rng } from '../../src/main/engine/rng.ts'
import { IMPORT_LIMIT_DEFAULTS } from '../../src/shared/import-options.ts'

const byte = new ByteTokenizer()
const dir = mkdtempSync(join(tmpdir(), 'imp-strict-'))
const write = (name: string, data: string | Buffer): string => {
  const f = join(dir, name)
  writeFileSync(f, data)
  return f
}
const row = (prompt: string, completion: string, score = 1): string => JSON.stringify({ prompt, completion, score })

describe('strict UTF-8', () => {
  it('refuses a JSONL file with a bad byte, naming its line and byte offset', async () => {
    const good = row('a', 'b') + '\n'
    // line 2: "é" written in Latin-1 (0xe9), as a legacy editor saves it
    const bad = Buffer.concat([Buffer.from(good), Buffer.from('{"prompt":"caf'), Buffer.from([0xe9]), Buffer.from('","completion":"x","score":1}\n')])
    const f = write('latin1.jsonl', bad)
    const offset = good.length + '{"prompt":"caf'.length
    await expect(importTextFile(f, { tokenizer: byte })).rejects.toThrow(`file "${f}", line 2: not valid UTF-8: byte 0xe9 at byte offset ${offset} of the file; save the file as UTF-8`)
  })

  it('refuses a truncated multi-byte sequence in CSV (lines counted with CR record ends) and in the trace JSON format', async () => {
    const c = write('t.csv', Buffer.concat([Buffer.from('prompt,completion\r1,2\r3,'), Buffer.from([0xc3, 0x41]), Buffer.from('\r')]))
    await expect(importTextFile(c, { tokenizer: byte })).rejects.toThrow(/t\.csv", line 3: not valid UTF-8: byte 0xc3 at byte offset 24/)
    const j = write('x.traces.json', Buffer.concat([Buffer.from('{"kind":"discrete",\n"name":"'), Buffer.from([0xff]), Buffer.from('"}')]))
    await expect(importDatasetFileFull(j)).rejects.toThrow(/x\.traces\.json, line 2: not valid UTF-8: byte 0xff at byte offset 28/)
  })

  it('names the first bad line in file order: a bad row before a bad byte, a bad byte before a bad row', async () => {
    const badByte = Buffer.concat([Buffer.from('{"prompt":"'), Buffer.from([0xff]), Buffer.from('","completion":"x"}\n')])
    const rowFirst = write('row-first.jsonl', Buffer.concat([Buffer.from(row('a', '') + '\n' + row('b', 'c') + '\n'), badByte]))
    await expect(importTextFile(rowFirst, { tokenizer: byte })).rejects.toThrow(/row-first\.jsonl", line 1, field "completion": the completion is empty/)
    const byteFirst = write('byte-first.jsonl', Buffer.concat([Buffer.from(row('b', 'c') + '\n'), badByte, Buffer.from(row('a', '') + '\n')]))
    await expect(importTextFile(byteFirst, { tokenizer: byte })).rejects.toThrow(/byte-first\.jsonl", line 2: not valid UTF-8/)
    // a bad byte on the last line, with no line break after it
    const last = write('last.jsonl', Buffer.concat([Buffer.from(row('b', 'c') + '\n'), badByte.subarray(0, badByte.length - 1)]))
    await expect(importTextFile(last, { tokenizer: byte })).rejects.toThrow(/last\.jsonl", line 2: not valid UTF-8/)
  })

  it('keeps valid multi-byte text, a BOM and U+FFFD written as such', async () => {
    const f = write('ok.jsonl', '\ufeff' + row('caf\u00e9 \u{1F600}', 'ok \ufffd') + '\n')
    const r = await importTextFile(f, { tokenizer: byte, addEos: false })
    expect(byte.decode(r.dataset.actions)).toBe('caf\u00e9 \u{1F600}ok \ufffd')
  })

  it('finds the first ill-formed sequence where a strict TextDecoder fails (random bytes)', () => {
    const rng = new Rng(7)
    const strict = new TextDecoder('utf-8', { fatal: true })
    const valid = (b: Uint8Array): boolean => {
      try {
        strict.decode(b)
        return true
      } catch {
        return false
      }
    }
    // mostly ASCII with lead and continuation bytes sprinkled in, so valid and invalid both occur
    const pool = [0x41, 0x0a, 0x80, 0xbf, 0xc2, 0xc0, 0xdf, 0xe0, 0xa0, 0xed, 0x9f, 0xef, 0xf0, 0x90, 0xf4, 0x8f, 0xf5, 0xff]
    let invalid = 0
    for (let n = 0; n < 3000; n++) {
      const b = Uint8Array.from({ length: 1 + rng.int(12) }, () => (rng.next() < 0.5 ? 0x61 : pool[rng.int(pool.length)]))
      const at = invalidUtf8At(b)
      expect(at === -1, Buffer.from(b).toString('hex')).toBe(valid(b))
      if (at >= 0) {
        invalid++
        // everything before it decodes; the sequence it starts does not, whatever follows
        expect(valid(b.subarray(0, at))).toBe(true)
        expect(valid(b.subarray(0, Math.min(b.length, at + 4)))).toBe(false)
      }
    }
    expect(invalid).toBeGreaterThan(500)
  })
})

describe('column mapping', () => {
  const f = write('pc.jsonl', [row('1+1=', '2'), row('2+2=', '4', 0)].join('\n') + '\n')
  it('an unknown mapping key is an error that lists the keys', async () => {
    await expect(importTextFile(f, { tokenizer: byte, mapping: { promt: 'prompt', completion: 'completion' } as never })).rejects.toThrow(
      /pc\.jsonl": the column mapping has unknown key "promt"; the keys are prompt, completion, messages, question/
    )
  })
  it("a column the file does not have is an error that names it and lists the file's columns (JSONL, CSV)", async () => {
    await expect(importTextFile(f, { tokenizer: byte, mapping: { prompt: 'prompt', completion: 'completion', score: 'scroe' } })).rejects.toThrow(
      `file "${f}": the column mapping names column "scroe" (for score), which is not in the file; its columns are "prompt", "completion", "score"`
    )
    const c = write('pc.csv', 'question,answer\n1+1=,2\n')
    await expect(importTextFile(c, { tokenizer: byte, mapping: { prompt: 'question', completion: 'answr' } })).rejects.toThrow(
      /column "answr" \(for completion\), which is not in the file; its columns are "question", "answer"/
    )
    await expect(importTextFile(c, { tokenizer: byte, mapping: { prompt: 'question', completion: 'answer', meta: ['src'] } })).rejects.toThrow(/column "src" \(for meta\)/)
  })
})

describe('empty completions', () => {
  it('an empty or blank completion is refused by line and field, not stored as the end token alone', async () => {
    const f = write('empty.jsonl', [row('a', 'b'), row('c', ''), row('d', '  \n')].join('\n') + '\n')
    await expect(importTextFile(f, { tokenizer: byte })).rejects.toThrow(/empty\.jsonl", line 2, field "completion": the completion is empty; a trace needs at least one completion token/)
    const r = await importTextFile(f, { tokenizer: byte, skipBadRows: true })
    expect(r.skipped.map((s) => [s.line, /the completion is empty( \(only white space\))?;/.exec(s.reason)?.[1] ?? ''])).toEqual([
      [2, ''],
      [3, ' (only white space)']
    ])
    const s1k = write('s1k.jsonl', JSON.stringify({ question: 'q', thinking: '', attempt: '' }) + '\n')
    await expect(importTextFile(s1k, { tokenizer: byte })).rejects.toThrow(/line 1: the completion is empty \(fields "thinking" and "attempt" are both empty\)/)
  })
})

describe('size limits', () => {
  it('has defaults that hold a long reasoning trace and refuse a runaway one', () => {
    expect(IMPORT_LIMIT_DEFAULTS.maxTraceSteps).toBeGreaterThanOrEqual(128 * 1024)
    expect(IMPORT_LIMIT_DEFAULTS.maxLineBytes).toBeLessThan(50e6)
  })
  it('a line longer than maxLineBytes is refused by line with the setting to raise it; raising it imports', async () => {
    const long = row('p', 'x'.repeat(400))
    const f = write('long.jsonl', [row('a', 'b'), long].join('\r\n') + '\r\n')
    await expect(importTextFile(f, { tokenizer: byte, maxLineBytes: 300 })).rejects.toThrow(
      `file "${f}", line 2: the line is ${long.length} bytes long, more than the limit of 300 bytes a line; if it is meant to be, raise the limit (--max-line-bytes, or maxLineBytes in the API)`
    )
    expect((await importTextFile(f, { tokenizer: byte, maxLineBytes: long.length })).rows).toBe(2)
    const c = write('long.csv', `prompt,completion\na,b\np,${'y'.repeat(400)}\n`)
    await expect(importTextFile(c, { tokenizer: byte, maxLineBytes: 300 })).rejects.toThrow(/long\.csv", line 3: the line is 402 bytes long/)
  })
  it('a trace longer than maxTraceSteps is refused by line (text and token columns); raising it imports', async () => {
    const f = write('steps.jsonl', [row('ab', 'cd'), row('ab', 'cdefgh')].join('\n') + '\n')
    // line 2: 2 prompt + 6 completion + eos = 9 steps
    await expect(importTextFile(f, { tokenizer: byte, maxTraceSteps: 8 })).rejects.toThrow(
      /steps\.jsonl", line 2: the trace has 9 steps \(2 prompt \+ 7 completion tokens\), more than the limit of 8 steps a trace; if it is meant to be that long, raise the limit \(--max-trace-steps, or maxTraceSteps in the API\)/
    )
    expect((await importTextFile(f, { tokenizer: byte, maxTraceSteps: 9 })).rows).toBe(2)
    const t = write('tok.jsonl', JSON.stringify({ tokens: Array.from({ length: 20 }, (_, i) => i) }) + '\n')
    await expect(importTextFile(t, { maxTraceSteps: 10 })).rejects.toThrow(/tok\.jsonl", line 1: the trace has 20 tokens in "tokens", more than the limit of 10/)
  })
  it('finds every over-long line and every bad line of the bytes in one pass when asked', () => {
    const b = Buffer.concat([Buffer.from('ok\n' + 'z'.repeat(20) + '\nok\n'), Buffer.from([0x80]), Buffer.from('\nok\n')])
    const all = decodeTextFile(b, { maxLineBytes: 10, loneCr: false, all: true })
    expect(all.problems.map((p) => [p.line, p.kind, p.value])).toEqual([
      [2, 'too-long', 20],
      [4, 'utf8', 0x80]
    ])
    expect(all.text.split('\n')[4]).toBe('ok')
    expect(decodeTextFile(b, { maxLineBytes: 10, loneCr: false, all: false }).problems).toHaveLength(1)
    // CSV: lines split by lone CRs are short although the LF-separated stretch is long; the long line after them is found
    const csv = Buffer.from('a\r' + 'b'.repeat(8) + '\r' + 'c'.repeat(8) + '\n' + 'z'.repeat(20) + '\n')
    expect(decodeTextFile(csv, { maxLineBytes: 10, loneCr: true, all: false }).problems.map((p) => [p.line, p.kind, p.value])).toEqual([[4, 'too-long', 20]])
  })
})

describe('skip bad rows', () => {
  const lines = [
    row('1+1=', '2'), // 1 good
    '{"prompt": "2+2=", "completion": ', // 2 not JSON
    row('3+3=', '6', 0), // 3 good
    '', // 4 blank: not a row, not skipped
    JSON.stringify({ prompt: '4+4=', score: 1, completion: 8 }), // 5 good (a number is text)
    JSON.stringify({ prompt: '5+5=', completion: '10', score: 'ten' }), // 6 bad score
    '[1, 2]', // 7 not an object
    row('6+6=', '') // 8 empty completion
  ]
  const text = Buffer.concat([Buffer.from(lines.join('\n') + '\n'), Buffer.from('{"prompt":"'), Buffer.from([0xff]), Buffer.from('","completion":"x","score":1}\n')]) // 9 bad byte
  const f = write('mixed.jsonl', text)

  it('all-or-nothing by default: the first bad line refuses the file', async () => {
    await expect(importTextFile(f, { tokenizer: byte })).rejects.toThrow(/mixed\.jsonl", line 2: not valid JSON/)
  })

  it('imports the good rows and lists every skipped line with its reason, in file order', async () => {
    const r = await importTextFile(f, { tokenizer: byte, skipBadRows: true, addEos: false })
    expect(r.rows).toBe(3)
    expect(byte.decode(r.dataset.actions)).toBe('1+1=23+3=64+4=8')
    expect(Array.from(r.dataset.scores)).toEqual([1, 0, 1])
    // the trace ids stay the rows' indices in the parsed file
    expect(r.dataset.ids).toEqual(['0', '1', '2'])
    expect(r.skipped.map((s) => s.line)).toEqual([2, 6, 7, 8, 9])
    const reasons = r.skipped.map((s) => s.reason)
    expect(reasons[0]).toMatch(/^file ".*mixed\.jsonl", line 2: not valid JSON/)
    expect(reasons[1]).toMatch(/line 6, field "score": "ten" is not a number/)
    expect(reasons[2]).toMatch(/line 7: expected a JSON object/)
    expect(reasons[3]).toMatch(/line 8, field "completion": the completion is empty/)
    expect(reasons[4]).toMatch(/line 9: not valid UTF-8: byte 0xff/)
  })

  it('skips CSV records with too many fields, a bad byte or an over-long line, and keeps the line of a multi-line record', async () => {
    const c = write(
      'mixed.csv',
      Buffer.concat([Buffer.from('prompt,completion,score\na,"b\nc",1\nx,y,1,extra\n'), Buffer.from([0x66, 0xfe]), Buffer.from(',g,1\nh,' + 'i'.repeat(50) + ',1\nj,k,0\n')])
    )
    const r = await importTextFile(c, { tokenizer: byte, skipBadRows: true, maxLineBytes: 40, addEos: false })
    expect(byte.decode(r.dataset.actions)).toBe('ab\ncjk')
    expect(r.skipped.map((s) => [s.line, s.reason.replace(/^.*?line \d+: /, '').slice(0, 24)])).toEqual([
      [4, '4 fields, the header has'],
      [5, 'not valid UTF-8: byte 0x'],
      [6, 'the line is 54 bytes lon']
    ])
  })

  it('a file with no good row is still an error, naming the first reasons', async () => {
    const g = write('allbad.jsonl', '{"prompt":"a"\n' + row('b', '') + '\n')
    await expect(importTextFile(g, { tokenizer: byte, skipBadRows: true })).rejects.toThrow(
      /allbad\.jsonl": has no good row: all 2 lines were skipped \(file .*line 1: not valid JSON.*; file .*line 2, field "completion": the completion is empty/
    )
  })

  it('mapping errors are never skipped: they concern every row', async () => {
    await expect(importTextFile(f, { tokenizer: byte, skipBadRows: true, mapping: { prompt: 'prompt', completion: 'completoin' } })).rejects.toThrow(ImportError)
  })

  it('the dispatcher passes the options on and reports what it skipped', async () => {
    const r = await importDatasetFileFull(f, { skipBadRows: true })
    expect(r.dataset.offsets.length - 1).toBe(3)
    expect(r.skipped.map((s) => s.line)).toEqual([2, 6, 7, 8, 9])
    const clean = write('clean.jsonl', row('a', 'b') + '\n')
    await expect(importDatasetFileFull(clean, { mapping: { prompt: 'prompt', completion: 'completion', scor: 'score' } })).rejects.toThrow(/unknown key "scor"/)
  })
})
