// Strict imports through the services and the command line (issue 11, issue 16): a misspelt
// mapping key or column is refused and nothing is stored; --skip-bad-rows imports the good rows
// and lists every skipped line (CLI on stderr, the API in `skipped`); invalid UTF-8 and a trace
// past the limit exit non-zero naming the line.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ApiError } from '../../src/shared/contract.ts'
import { createServices, type Services } from '../../src/main/services/index.ts'

const BIN = resolve(import.meta.dirname, '../../bin/iwsft.mjs')
let dir: string
let sv: Services
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'iwsft-strict-'))
  sv = await createServices({ projectFile: join(dir, 'p.iwsft'), transport: 'cli' })
})
afterAll(async () => {
  await sv?.shutdown()
  rmSync(dir, { recursive: true, force: true })
})

const iwsft = (args: string[]) => spawnSync(process.execPath, [BIN, ...args, '--project', join(dir, 'cli.iwsft')], { cwd: dir, encoding: 'utf8', timeout: 120_000 })
const write = (name: string, data: string | Buffer): string => {
  const f = join(dir, name)
  writeFileSync(f, data)
  return f
}
const rows = (n: number): string => Array.from({ length: n }, (_, i) => JSON.stringify({ prompt: `${i}+1=`, completion: String(i + 1), score: i % 2 })).join('\n') + '\n'
const sources = async (): Promise<string[]> => (await sv.call('datasets.list', {})).map((d) => d.source)

describe('datasets.import (the API)', () => {
  it('refuses a mapping with an unknown key by field, and one naming a missing column by name; nothing is stored', async () => {
    const f = write('pairs.jsonl', rows(20))
    const before = await sources()
    const e1 = await sv.call('datasets.import', { path: f, importId: 'a', mapping: { promt: 'prompt', completion: 'completion' } }).catch((e: unknown) => e)
    expect(e1).toBeInstanceOf(ApiError)
    expect((e1 as ApiError).code).toBe('invalid_input')
    expect((e1 as ApiError).issues).toEqual([{ path: 'mapping.promt', message: 'unknown key' }])
    const e2 = await sv.call('datasets.import', { path: f, importId: 'b', mapping: { prompt: 'prompt', completion: 'completion', score: 'scroe' } }).catch((e: unknown) => e)
    expect((e2 as ApiError).code).toBe('invalid_data')
    expect((e2 as Error).message).toMatch(/the column mapping names column "scroe" \(for score\), which is not in the file; its columns are "prompt", "completion", "score"/)
    expect(await sources()).toEqual(before)
  })

  it('skipBadRows stores the good rows and returns every skipped line; without it the file is refused', async () => {
    const f = write('some-bad.jsonl', rows(3) + '{"prompt": "x", "completion": ""}\nnot json\n' + rows(2))
    await expect(sv.call('datasets.import', { path: f, importId: 'c' })).rejects.toThrow(/some-bad\.jsonl", line 4, field "completion": the completion is empty/)
    const r = await sv.call('datasets.import', { path: f, importId: 'd', skipBadRows: true })
    expect(r.dataset.numTraces).toBe(5)
    expect(r.skipped.map((s) => s.line)).toEqual([4, 5])
    expect(r.skipped[1].reason).toMatch(/line 5: not valid JSON/)
  })

  it('maxTraceSteps and maxLineBytes are inputs of the request', async () => {
    const f = write('long.jsonl', rows(2) + JSON.stringify({ prompt: 'p', completion: 'y'.repeat(300), score: 1 }) + '\n')
    await expect(sv.call('datasets.import', { path: f, importId: 'e', maxTraceSteps: 100 })).rejects.toThrow(/line 3: the trace has 302 steps .*more than the limit of 100 steps a trace/)
    await expect(sv.call('datasets.import', { path: f, importId: 'f', maxLineBytes: 64 })).rejects.toThrow(/line 3: the line is \d+ bytes long, more than the limit of 64 bytes/)
    await expect(sv.call('datasets.import', { path: f, importId: 'g', maxTraceSteps: 0 })).rejects.toThrow(/maxTraceSteps/)
    expect((await sv.call('datasets.import', { path: f, importId: 'h', maxTraceSteps: 400 })).dataset.numTraces).toBe(3)
  })

  it('byo.import takes the same options and reports its skipped rows', async () => {
    const good = (i: number): string => JSON.stringify({ tokens: [1, 2], ref_logprobs: [-1, -2], policy_logprobs: [-1, -1], score: i })
    const f = write('lp.jsonl', [good(0), '{"tokens": [1, 2], "ref_logprobs": [-1], "policy_logprobs": [-1, -1]}', good(1)].join('\n') + '\n')
    await expect(sv.call('byo.import', { path: f })).rejects.toThrow(/lp\.jsonl", line 2, field "ref_logprobs": has 1 log-probs, the completion has 2 tokens/)
    const r = await sv.call('byo.import', { path: f, skipBadRows: true })
    expect(r.rows).toBe(2)
    expect(r.skipped.map((s) => s.line)).toEqual([2])
  })
})

describe('iwsft datasets import / byo import', () => {
  it('a misspelt --map key is a usage error (exit 2); a misspelt column exits 1 naming it; nothing is stored', () => {
    const f = write('cli.jsonl', rows(5))
    const k = iwsft(['datasets', 'import', f, '--map', 'promt=prompt,completion=completion'])
    expect(k.status).toBe(2)
    expect(k.stderr).toContain('--map: unknown key promt')
    const c = iwsft(['datasets', 'import', f, '--map', 'prompt=prompt,completion=completoin'])
    expect(c.status).toBe(1)
    expect(c.stderr).toMatch(/column "completoin" \(for completion\), which is not in the file/)
    const list = JSON.parse(iwsft(['datasets', 'list', '--json']).stdout) as Array<{ source: string }>
    expect(list.map((d) => d.source)).toEqual(['builtin:bandit'])
  })

  it('invalid UTF-8 exits 1 naming the line and byte offset; --skip-bad-rows imports the rest and prints each skipped line', () => {
    const f = write('latin.jsonl', Buffer.concat([Buffer.from(rows(2)), Buffer.from('{"prompt":"'), Buffer.from([0xe9]), Buffer.from('","completion":"a"}\n'), Buffer.from(rows(1))]))
    const bad = iwsft(['datasets', 'import', f])
    expect(bad.status).toBe(1)
    expect(bad.stderr).toMatch(/latin\.jsonl", line 3: not valid UTF-8: byte 0xe9 at byte offset \d+/)
    const ok = iwsft(['datasets', 'import', f, '--skip-bad-rows', '--json'])
    expect(ok.status).toBe(0)
    const out = JSON.parse(ok.stdout.trim().split('\n').pop()!)
    expect(out.traces).toBe(3)
    expect(out.skipped).toHaveLength(1)
    const text = iwsft(['datasets', 'import', f, '--skip-bad-rows', '--name', 'again'])
    expect(text.stderr).toMatch(/skipped: file ".*latin\.jsonl", line 3: not valid UTF-8/)
    expect(text.stderr).toContain('1 bad row skipped (--skip-bad-rows)')
    const steps = iwsft(['datasets', 'import', f, '--max-trace-steps', '3', '--skip-bad-rows'])
    expect(steps.status).toBe(1)
    // every row is past the limit: a file with no good row is still an error
    expect(steps.stderr).toMatch(/has no good row: all 4 lines were skipped .*more than the limit of 3 steps a trace/)
  })
})
