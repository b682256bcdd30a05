// Log-prob JSONL whose tokens are strings (as vLLM and most trainers log them): imported with no
// tokenizer, the strings kept and shown per token; the weights are those of the log-probs alone
// (worked by hand below); errors quote text values so "7" and 7 differ.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { importTextFile } from '../../src/main/engine/data/import-text.ts'
import { importDatasetFileFull } from '../../src/main/engine/data/import.ts'
import { byoInspect, byoTraceRho, followByo, importByo } from '../../src/main/services/byo-service.ts'
import { openProject, type ProjectStore } from '../../src/main/store/index.ts'
import type { ByoFollowUpdate } from '../../src/shared/byo.ts'

let dir: string
let store: ProjectStore
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'iwsft-tokstr-'))
  store = openProject(join(dir, 'p.iwsft'))
})
afterAll(() => {
  store.close()
  rmSync(dir, { recursive: true, force: true })
})

const write = (name: string, rows: unknown[]): string => {
  const f = join(dir, name)
  writeFileSync(f, rows.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n') + '\n')
  return f
}

// settings that leave log w = Σρ_t / |τ| unclamped and unnormalised, so the numbers are by hand
const plainMean = { temp: 1, aggregate: 'mean' as const, per_step: null, clamp: [0, 1e9] as [number, number], normalize: false, step_clip: [0.2, 1.8] as [number, number] }

describe('token strings with their log-probs', () => {
  it('imports with no tokenizer; ids by first appearance; the prompt text is one masked step', async () => {
    const f = write('strings.jsonl', [
      { id: 'a', prompt: 'What is 3+4?', tokens: ['7', ' is', ' it'], ref_logprobs: [-1, -0.5, -0.25], policy_logprobs: [-0.5, -0.5, -0.75], score: 1 },
      { id: 'b', prompt: 'What is 2+2?', tokens: ['4', ' is', '7'], ref_logprobs: [-2, -1, -1], policy_logprobs: [-1, -1, -2], score: 0 }
    ])
    const r = await importTextFile(f)
    expect(r.tokenStrings).toEqual(['7', ' is', ' it', 'What is 3+4?', '4', 'What is 2+2?'])
    expect(Array.from(r.dataset.actions)).toEqual([3, 0, 1, 2, 5, 4, 1, 0])
    expect(Array.from(r.dataset.mask)).toEqual([0, 1, 1, 1, 0, 1, 1, 1])
    expect(r.dataset.actDim).toBe(6)
    expect(Array.from(r.refLogProbs!)).toEqual([0, -1, -0.5, -0.25, 0, -2, -1, -1])
  })

  it('byo import stores the strings; the weights need no tokenizer; ρ_t shading shows the strings', async () => {
    const f = write('byo-strings.jsonl', [
      { id: 'a', tokens: ['7', ' is', ' it'], ref_logprobs: [-1, -0.5, -0.25], policy_logprobs: [-0.5, -0.5, -0.25], score: 1 },
      { id: 'b', tokens: ['4', '\n', '7'], ref_logprobs: [-2, -1, -1], policy_logprobs: [-1, -1, -2], score: 0 }
    ])
    const r = await importByo(store, f)
    expect(r.tokenizer).toEqual({ kind: 'strings', count: 5 })
    expect(r.rows).toBe(2)
    // by hand: trace a ρ = [0.5, 0, 0] → log w = 0.5 / 3; trace b ρ = [1, 0, −1] → 0
    const ins = byoInspect(store, { datasetId: r.dataset.id, settings: plainMean })
    const byId = Object.fromEntries([...ins.top].map((t) => [t.id, t]))
    expect(byId.a.logWRaw).toBeCloseTo(0.5 / 3, 6)
    expect(byId.b.logWRaw).toBeCloseTo(0, 12)
    const rho = await byoTraceRho(store, { datasetId: r.dataset.id, traceIndex: 1 })
    expect(rho.tokenizer).toBe('strings')
    expect(rho.tokens.map((t) => t.text)).toEqual(['4', '\n', '7'])
    expect(rho.tokens.map((t) => t.rho)).toEqual([1, 0, -1])
  })

  it('the weight is temp/|τ| · Σρ over the string tokens (by hand: ρ = [1, 1, -0.5] → 0.5)', async () => {
    const f = write('byo-strings-w.jsonl', [
      { id: 'x', tokens: ['a', 'b', 'a'], ref_logprobs: [-2, -2, -1], policy_logprobs: [-1, -1, -1.5], score: 1 },
      { id: 'y', tokens: ['b'], ref_logprobs: [-1], policy_logprobs: [-1], score: 0 }
    ])
    const r = await importByo(store, f)
    const ins = byoInspect(store, { datasetId: r.dataset.id, settings: { ...plainMean, temp: 2 } })
    const x = ins.top.find((t) => t.id === 'x')!
    // Σρ = 1 + 1 − 0.5 = 1.5, |τ| = 3, temp 2 → log w = 2 · 1.5 / 3 = 1
    expect(x.logWRaw).toBeCloseTo(1, 6)
    expect(x.w).toBeCloseTo(Math.E, 5)
  })

  it("datasets import (the app's path) carries the strings too", async () => {
    const f = write('ds-strings.jsonl', [{ tokens: ['x', 'y'], ref_logprobs: [-1, -1], policy_logprobs: [-1, -1] }])
    const r = await importDatasetFileFull(f)
    expect(r.tokenStrings).toEqual(['x', 'y'])
  })

  it('error values are quoted: the string "7" among ids, the number 7 among strings', async () => {
    const ids = write('mixed-a.jsonl', [
      { tokens: [1, 2], ref_logprobs: [-1, -1], policy_logprobs: [-1, -1] },
      { tokens: ['7', 2], ref_logprobs: [-1, -1], policy_logprobs: [-1, -1] }
    ])
    await expect(importTextFile(ids)).rejects.toThrow('line 2, field "tokens": entry 0 is "7", a token string, but the rows before gave tokens as ids')
    const strs = write('mixed-b.jsonl', [{ tokens: ['a', 7], ref_logprobs: [-1, -1], policy_logprobs: [-1, -1] }])
    await expect(importTextFile(strs)).rejects.toThrow('line 1, field "tokens": entry 1 is 7, not a token string')
    const badLp = write('bad-lp.jsonl', [{ tokens: ['a'], ref_logprobs: ['-1'], policy_logprobs: [-1] }])
    await expect(importTextFile(badLp)).rejects.toThrow('entry 0 is "-1"; a log-prob must be a finite number ≤ 0')
    const badId = write('bad-id.jsonl', [{ tokens: [1.5], ref_logprobs: [-1], policy_logprobs: [-1] }])
    await expect(importTextFile(badId)).rejects.toThrow('entry 0 is 1.5, not a token id')
  })

  it('a skipped row leaves none of its strings in the vocabulary', async () => {
    const f = write('skip.jsonl', [
      { tokens: ['a'], ref_logprobs: [-1], policy_logprobs: [-1] },
      { tokens: ['zzz'], ref_logprobs: [-1, -1], policy_logprobs: [-1] },
      { tokens: ['b'], ref_logprobs: [-1], policy_logprobs: [-1] }
    ])
    const r = await importTextFile(f, { skipBadRows: true })
    expect(r.skipped.map((s) => s.line)).toEqual([2])
    expect(r.tokenStrings).toEqual(['a', 'b'])
    expect(r.dataset.actDim).toBe(2)
  })

  it("a followed log keeps each string's id from batch to batch", async () => {
    const f = write('follow.jsonl', [{ id: '1', tokens: ['p', 'q'], ref_logprobs: [-1, -1], policy_logprobs: [-0.5, -1] }])
    const updates: ByoFollowUpdate[] = []
    const h = followByo(store, f, { minUpdateMs: 0, intervalMs: 20, onError: (m) => updates.push({ error: m } as never) }, (u) => updates.push(u))
    await h.flush()
    writeFileSync(f, JSON.stringify({ id: '2', tokens: ['q', 'r', 'p'], ref_logprobs: [-1, -1, -1], policy_logprobs: [-1, -1, -1] }) + '\n', { flag: 'a' })
    await h.flush()
    await h.stop()
    const rho = await byoTraceRho(store, { datasetId: h.datasetId!, traceIndex: 1 })
    expect(rho.tokens.map((t) => t.text)).toEqual(['q', 'r', 'p'])
    const first = await byoTraceRho(store, { datasetId: h.datasetId!, traceIndex: 0 })
    expect(first.tokens.map((t) => t.text)).toEqual(['p', 'q'])
    expect(first.tokens.map((t) => t.id)).toEqual([0, 1])
    expect(rho.tokens.map((t) => t.id)).toEqual([1, 2, 0])
  })
})
