// The file follower (jobs/follow-file.ts): a JSONL file that another process appends to,
// read line by line as it grows, and its rows imported with the same checks as a whole file.
import { describe, it, expect } from 'vitest'
import { mkdtempSync, writeFileSync, appendFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { followJsonl, type FollowedRow } from '../../src/main/jobs/follow-file.ts'
import { importFollowedRows } from '../../src/main/engine/data/import-text.ts'

const tmp = (): string => mkdtempSync(join(tmpdir(), 'follow-'))

describe('followJsonl', () => {
  it('delivers complete lines in order, holds a partial last line until its newline, and restarts on truncation', async () => {
    const f = join(tmp(), 'live.jsonl')
    writeFileSync(f, '{"tokens":[1],"ref_logprobs":[-1]}\n{"tokens":[2],')
    const got: FollowedRow[][] = []
    const errors: string[] = []
    const fol = followJsonl(f, (rows) => got.push(rows), { intervalMs: 20, onError: (e) => errors.push(e.message) })
    await fol.poll()
    expect(got.flat().map((r) => r.line)).toEqual([1])
    appendFileSync(f, '"ref_logprobs":[-2]}\n')
    await fol.poll()
    expect(got.flat().map((r) => r.value.tokens)).toEqual([[1], [2]])
    // a multi-byte character split across two appends
    const line3 = Buffer.from('{"tokens":[3],"ref_logprobs":[-3],"note":"é"}\n')
    appendFileSync(f, line3.subarray(0, line3.length - 4))
    await fol.poll()
    expect(got.flat().length).toBe(2)
    appendFileSync(f, Buffer.concat([line3.subarray(line3.length - 4), Buffer.from('not json\n')]))
    await fol.poll()
    expect(got.flat()[2].value.note).toBe('é')
    expect(errors[0]).toMatch(/live\.jsonl", line 4: not valid JSON/)
    const imported = importFollowedRows(f, got.flat(), { vocabSize: 5 })
    expect(Array.from(imported.refLogProbs!)).toEqual([-1, -2, -3])
    // truncated and rewritten: read from the start again
    writeFileSync(f, '{"tokens":[4],"ref_logprobs":[-4]}\n')
    await fol.poll()
    expect(got.flat().at(-1)!.value.tokens).toEqual([4])
    expect(got.flat().at(-1)!.line).toBe(1)
    fol.stop()
  })

  it('waits for a file that does not exist yet, and picks up appends by itself', async () => {
    const f = join(tmp(), 'later.jsonl')
    const got: FollowedRow[] = []
    const fol = followJsonl(f, (rows) => got.push(...rows), { intervalMs: 20 })
    await new Promise((r) => setTimeout(r, 60))
    writeFileSync(f, '{"a":1}\n')
    const t0 = Date.now()
    while (got.length < 1 && Date.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 20))
    appendFileSync(f, '{"a":2}\n')
    while (got.length < 2 && Date.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 20))
    fol.stop()
    expect(got.map((r) => r.value.a)).toEqual([1, 2])
  })
})
