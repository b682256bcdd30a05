import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { formatOfFile, importDatasetFile } from '../../src/main/engine/data/import.ts'

const dir = mkdtempSync(join(tmpdir(), 'iwsft-import-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const write = (name: string, body: unknown): string => {
  const f = join(dir, name)
  writeFileSync(f, typeof body === 'string' ? body : JSON.stringify(body))
  return f
}

describe('importDatasetFile', () => {
  it('guesses the format from the extension', () => {
    expect(formatOfFile('a/b.traces.json')).toBe('traces.json')
    expect(formatOfFile('x.NDJSON')).toBe('jsonl')
    expect(formatOfFile('d4rl.hdf5')).toBe('hdf5')
    expect(formatOfFile('t.parquet')).toBe('parquet')
  })
  it('reads the trace JSON format', async () => {
    const f = write('ok.traces.json', {
      kind: 'continuous',
      obsDim: 2,
      actDim: 1,
      traces: [
        { obs: [0, 1, 2, 3], actions: [0.5, -0.5], score: 3 },
        { obs: [1, 1], actions: [0.1], score: 1, meta: { src: 'x' } }
      ]
    })
    const ds = await importDatasetFile(f)
    expect(ds.offsets).toEqual(new Int32Array([0, 2, 3]))
    expect(Array.from(ds.scores)).toEqual([3, 1])
    expect(ds.name).toBe('ok')
  })
  it('an action of the wrong dimension names the file and the trace', async () => {
    const f = write('bad.traces.json', {
      kind: 'continuous',
      obsDim: 1,
      actDim: 2,
      traces: [
        { obs: [0], actions: [1, 2], score: 0 },
        { obs: [0], actions: [1, 2, 3], score: 0 }
      ]
    })
    await expect(importDatasetFile(f)).rejects.toThrow(/bad\.traces\.json: traces\[1\]\.actions has 3 values, not a multiple of the action dimension 2/)
  })
  it('a missing score names the trace', async () => {
    const f = write('noscore.traces.json', { kind: 'discrete', obsDim: 0, actDim: 2, traces: [{ actions: [1] }] })
    await expect(importDatasetFile(f)).rejects.toThrow(/noscore\.traces\.json: traces\[0\] has no "score"/)
  })
  it('an unknown format says which ones exist', async () => {
    await expect(importDatasetFile(write('x.xlsx', 'nope'))).rejects.toThrow(/unknown format "xlsx".*jsonl, csv, parquet, hdf5/)
  })
  it('dispatches JSONL to the text importer (bytes by default)', async () => {
    const f = write('t.jsonl', '{"prompt":"1+1=","completion":"2","score":1}\n{"prompt":"2+2=","completion":"4","score":0}\n')
    const ds = await importDatasetFile(f)
    expect(ds.kind).toBe('sequence')
    expect(ds.scores.length).toBe(2)
  })
})
