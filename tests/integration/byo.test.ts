// "Bring your own log-probs" end to end on a real project file: import the fixture → store →
// inspect under changing settings → one trace's ρ_t; bad rows name the row and store nothing;
// a failure half-way through the writes leaves nothing behind; a JSONL log that another writer
// appends to is followed live.
import * as tf from '@tensorflow/tfjs'
import { appendFileSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import Database from 'better-sqlite3'
import { byoDefaultSettings, type ByoFollowUpdate } from '../../src/shared/byo.ts'
import { byoInspect, byoTraceRho, followByo, importByo } from '../../src/main/services/byo-service.ts'
import { openProject, type ProjectStore } from '../../src/main/store/index.ts'

const FIX = new URL('../fixtures/text/', import.meta.url).pathname
let dir: string
let store: ProjectStore

beforeAll(async () => {
  await tf.setBackend('cpu')
  dir = mkdtempSync(join(tmpdir(), 'iwsft-byo-'))
  store = openProject(join(dir, 'p.iwsft'))
})
afterAll(() => {
  store.close()
  rmSync(dir, { recursive: true, force: true })
})

const row = (id: string, tokens: number[], ref: number[], pol: number[], score = 1, prompt: number[] = []): string =>
  JSON.stringify({ id, prompt_tokens: prompt, tokens, ref_logprobs: ref, policy_logprobs: pol, score }) + '\n'

async function waitFor<T>(f: () => T | undefined, ms = 8000): Promise<T> {
  const t0 = Date.now()
  for (;;) {
    const v = f()
    if (v !== undefined) return v
    if (Date.now() - t0 > ms) throw new Error('timed out')
    await new Promise((r) => setTimeout(r, 25))
  }
}

describe('byo import → inspect', () => {
  let id = 0
  it('imports the fixture and stores the dataset with both log-prob arrays', async () => {
    const r = await importByo(store, join(FIX, 'byo-logprobs.jsonl'), { tokenizerFile: join(FIX, 'tokenizer.json') })
    expect(r.created).toBe(true)
    expect(r.rows).toBe(2)
    expect(r.dataset.numTraces).toBe(2)
    expect(r.dataset.numSteps).toBe(7)
    expect(r.dataset.source).toBe(`byo:${join(FIX, 'byo-logprobs.jsonl')}`)
    id = r.dataset.id
    const lp = store.getImportedLogProbs(id)!
    expect(Array.from(lp.ref)).toEqual([0, 0, -0.5, -1, -0.25, -2, -0.1].map(Math.fround))
    expect(lp.policy.length).toBe(7)
    expect(lp.tokenizer).toEqual({ kind: 'hf', file: join(FIX, 'tokenizer.json') })
  })

  it('inspects under the LLM defaults and follows setting changes', () => {
    const a = byoInspect(store, { datasetId: id, settings: byoDefaultSettings() })
    expect(a.numTraces).toBe(2)
    const w = [Math.exp(-1 / 12), Math.exp(0.5)]
    expect(a.stats.ess).toBeCloseTo((w[0] + w[1]) ** 2 / (w[0] ** 2 + w[1] ** 2), 5)
    expect(a.top.map((t) => t.id)).toEqual(['t1', 't0'])
    expect(a.bottom[0].id).toBe('t0')
    expect(a.spearman).toBe(-1) // t1 (score 0) carries the larger weight
    expect(a.hist.raw.reduce((x, y) => x + y, 0)).toBe(2)
    expect(a.hist.clamped.reduce((x, y) => x + y, 0)).toBe(2)
    expect(a.hist.edges.length).toBe(41)
    const b = byoInspect(store, { datasetId: id, settings: { ...byoDefaultSettings(), aggregate: 'sum', temp: 2, clamp: [0.5, 4] }, top: 1 })
    expect(b.top).toHaveLength(1)
    expect(b.top[0].w).toBeCloseTo(4, 5)
    expect(b.stats.clamp_fraction).toBe(0.5)
    const c = byoInspect(store, { datasetId: id, settings: byoDefaultSettings(), variant: 'per_step' })
    expect(c.steps!.n).toBe(5)
    expect(c.top[0].w).toBeCloseTo(1.4, 5)
    expect(() => byoInspect(store, { datasetId: id, settings: { ...byoDefaultSettings(), temp: -1 } })).toThrow(/temp/)
  })

  it("gives one trace's tokens with ρ_t and the tokenizer's text", async () => {
    const r = await byoTraceRho(store, { datasetId: id, traceIndex: 0 })
    expect(r.tokens.map((t) => t.id)).toEqual([1, 4, 5, 6, 2])
    expect(r.tokens.map((t) => t.masked)).toEqual([true, true, false, false, false])
    expect(r.tokens.map((t) => t.rho)).toEqual([null, null, 0.25, -0.5, 0])
    expect(r.sumRho).toBeCloseTo(-0.25, 6)
    expect(r.tokenizer).toBe('hf')
    expect(r.tokens.every((t) => typeof t.text === 'string' && t.text.length > 0)).toBe(true)
    await expect(byoTraceRho(store, { datasetId: id, traceIndex: 5 })).rejects.toThrow(/out of range/)
  })

  it('a dataset without imported log-probs is refused by name', () => {
    const other = store.listDatasets().find((d) => !d.source.startsWith('byo:'))
    if (other) expect(() => byoInspect(store, { datasetId: other.id, settings: byoDefaultSettings() })).toThrow(/carries no imported log-probs/)
    expect(() => byoInspect(store, { datasetId: 9999, settings: byoDefaultSettings() })).toThrow(/no dataset 9999/)
  })

  it('the same traces with other log-probs replace the stored ones and say so', async () => {
    const f = join(dir, 'later.jsonl')
    writeFileSync(f, row('t0', [5, 6, 2], [-0.5, -1.0, -0.25], [-0.5, -1.0, -0.25], 1, [1, 4]) + row('t1', [7, 2], [-2.0, -0.1], [-1.0, -0.1], 0))
    const r = await importByo(store, f, { tokenizerFile: join(FIX, 'tokenizer.json') })
    expect(r.dataset.id).toBe(id)
    expect(r.created).toBe(false)
    expect(r.replacedLogProbs).toBe(true)
    expect(byoInspect(store, { datasetId: id, settings: byoDefaultSettings() }).top[1].logWRaw).toBeCloseTo(0, 6)
  })
})

describe('byo bad input: nothing half-imported', () => {
  it("a log-prob list whose length is not the tokens' names the row and field; nothing stored", async () => {
    const f = join(dir, 'bad.jsonl')
    writeFileSync(f, row('a', [3, 4], [-1, -1], [-1, -1]) + row('b', [3, 4, 5], [-1, -1, -1], [-1, -1]))
    const before = store.listDatasets().length
    await expect(importByo(store, f)).rejects.toThrow(/bad\.jsonl", line 2, field "policy_logprobs": has 2 log-probs, the completion has 3 tokens/)
    expect(store.listDatasets().length).toBe(before)
  })

  it('rows without log-prob columns are refused', async () => {
    const f = join(dir, 'nolp.jsonl')
    writeFileSync(f, JSON.stringify({ tokens: [3, 4], ref_logprobs: [-1, -1], score: 1 }) + '\n')
    const before = store.listDatasets().length
    await expect(importByo(store, f)).rejects.toThrow(/no policy .*log-probs/)
    expect(store.listDatasets().length).toBe(before)
  })

  it('a write that fails half-way leaves no dataset and no log-probs behind', async () => {
    const f = join(dir, 'fresh.jsonl')
    writeFileSync(f, row('x', [3, 4, 5], [-1, -2, -3], [-1, -1, -1]))
    // the log-probs' insert fails inside the transaction that also inserts the dataset
    const db = new Database(store.file)
    db.exec(`CREATE TRIGGER fail_logprobs BEFORE INSERT ON imported_logprobs BEGIN SELECT RAISE(ABORT, 'disk full'); END`)
    const imported = (): number => (db.prepare('SELECT COUNT(*) AS n FROM imported_logprobs').get() as { n: number }).n
    const before = store.listDatasets()
    const importedBefore = imported()
    try {
      await expect(importByo(store, f)).rejects.toThrow(/disk full/)
      expect(store.listDatasets().map((d) => d.id)).toEqual(before.map((d) => d.id))
      expect(imported()).toBe(importedBefore)
    } finally {
      db.exec('DROP TRIGGER fail_logprobs')
      db.close()
    }
    const ok = await importByo(store, f)
    expect(ok.created).toBe(true)
    expect(store.getImportedLogProbs(ok.dataset.id)!.ref.length).toBe(3)
  })

  it('deleting the dataset deletes its imported log-probs', async () => {
    const f = join(dir, 'gone.jsonl')
    writeFileSync(f, row('g', [3, 9], [-1, -2], [-1, -1]))
    const r = await importByo(store, f)
    expect(store.getImportedLogProbs(r.dataset.id)).not.toBeNull()
    store.deleteDataset(r.dataset.id)
    const db = new Database(store.file, { readonly: true })
    try {
      expect(db.prepare('SELECT COUNT(*) AS n FROM imported_logprobs WHERE dataset_id = ?').get(r.dataset.id)).toEqual({ n: 0 })
    } finally {
      db.close()
    }
  })
})

describe('a project from before the imported log-probs table (schema 1)', () => {
  it('opens, moves its byo: cache rows into the table, and its imported weights and token text still show', async () => {
    const file = join(dir, 'old.iwsft')
    const s = openProject(file)
    const r = await importByo(s, join(FIX, 'byo-logprobs.jsonl'), { tokenizerFile: join(FIX, 'tokenizer.json') })
    const want = byoInspect(s, { datasetId: r.dataset.id, settings: byoDefaultSettings() })
    const lp = s.getImportedLogProbs(r.dataset.id)!
    s.close()
    // write it back the way schema 1 kept imported log-probs: two reference-cache rows under fake
    // keys, the tokenizer in the dataset's source, and an empty placeholder of a deleted version
    const db = new Database(file)
    db.exec('DROP TABLE bc_references') // what migration 5 added
    // and migration 6 (weight snapshot stages)
    db.exec(['version', 'w_clamped', 'mass', 'batch_index', 'batch_w'].map((c) => `ALTER TABLE weight_snapshots DROP COLUMN ${c};`).join(' '))
    const blob = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength)
    const t = '2026-01-01T00:00:00.000Z'
    db.exec('DROP TABLE imported_logprobs')
    // and without what the later migrations added (run owners' start time and host, models)
    db.exec('ALTER TABLE runs DROP COLUMN owner_start; ALTER TABLE runs DROP COLUMN owner_host; DROP TABLE dataset_tokenization; DROP TABLE models')
    const put = db.prepare('INSERT INTO ref_logprobs (ref_key, data_hash, logp, created_at) VALUES (?, ?, ?, ?)')
    put.run('byo:ref', r.dataset.hash, blob(lp.ref), t)
    put.run('byo:policy', r.dataset.hash, blob(lp.policy), t)
    put.run('byo:ref', 'deleted-version', Buffer.alloc(0), t)
    put.run('init', 'kept', blob(new Float32Array([1, 2])), t)
    db.prepare('UPDATE datasets SET source = ? WHERE id = ?').run(`${r.dataset.source} tokenizer=${JSON.stringify(lp.tokenizer)}`, r.dataset.id)
    db.pragma('user_version = 1')
    db.close()

    const again = openProject(file)
    try {
      expect(again.listDatasets().find((d) => d.id === r.dataset.id)!.source).toBe(r.dataset.source)
      const got = byoInspect(again, { datasetId: r.dataset.id, settings: byoDefaultSettings() })
      expect(got.stats).toEqual(want.stats)
      const rho = await byoTraceRho(again, { datasetId: r.dataset.id, traceIndex: 0 })
      expect(rho.tokenizer).toBe('hf')
      expect(rho.tokens.every((x) => typeof x.text === 'string' && x.text.length > 0)).toBe(true)
      expect(again.getRefLogProbs('byo:ref', r.dataset.hash)).toBeNull()
      expect(again.getRefLogProbs('byo:ref', 'deleted-version')).toBeNull()
      expect(Array.from(again.getRefLogProbs('init', 'kept')!)).toEqual([1, 2])
    } finally {
      again.close()
    }
  })
})

describe('byo follow', () => {
  it('follows a file another writer appends to; a bad line is named and skipped; old versions go', async () => {
    const f = join(dir, 'live.jsonl')
    copyFileSync(join(FIX, 'byo-logprobs.jsonl'), f)
    const updates: ByoFollowUpdate[] = []
    const errors: string[] = []
    const h = followByo(store, f, { intervalMs: 40, minUpdateMs: 0, onError: (m) => errors.push(m) }, (u) => updates.push(u))
    const first = await waitFor(() => updates[0])
    expect(first.numTraces).toBe(2)
    expect(first.rows).toBe(2)
    // another writer: one row in two pieces (a partial line waits for its newline), then a bad row
    const next = row('t2', [8, 9, 2], [-1, -1, -1], [-0.5, -1, -1], 1)
    appendFileSync(f, next.slice(0, 20))
    await new Promise((r) => setTimeout(r, 150))
    appendFileSync(f, next.slice(20) + row('t3', [8, 2], [-1, -1], [-1], 0))
    const second = await waitFor(() => updates.find((u) => u.numTraces === 3))
    expect(second.newRows).toBe(1)
    expect(second.skipped).toBe(1)
    expect(errors.some((e) => /live\.jsonl", line 4, field "policy_logprobs": has 1 log-probs/.test(e))).toBe(true)
    const ids = store.listDatasets().map((d) => d.id)
    expect(ids).toContain(second.datasetId)
    expect(ids).not.toContain(first.datasetId) // the follower's previous version was replaced
    const ins = byoInspect(store, { datasetId: second.datasetId, settings: byoDefaultSettings() })
    expect(ins.numTraces).toBe(3)
    expect(ins.top[0].id).toBe('t1')
    expect(second.ess).toBeCloseTo(ins.stats.ess, 6)
    await h.stop()
    expect(h.datasetId).toBe(second.datasetId)
    expect(h.rows).toBe(3)
  })
})

describe('iwsft byo (CLI)', () => {
  it('import then weights with settings flags, as JSON and as text; bad flags are usage errors', async () => {
    const { cmdByo } = await import('../../src/main/cli/commands/byo.ts')
    const project = join(dir, 'cli.iwsft')
    const out: string[] = []
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => (out.push(String(s)), true))
    try {
      expect(await cmdByo(['import', join(FIX, 'byo-logprobs.jsonl'), '--project', project, '--json'])).toBe(0)
      const imp = JSON.parse(out.pop()!) as { dataset: { id: number } }
      out.length = 0
      expect(await cmdByo(['weights', String(imp.dataset.id), '--project', project, '--aggregate', 'sum', '--temp', '2', '--clamp', '0.5,4', '--json'])).toBe(0)
      const r = JSON.parse(out.join('')) as { stats: { clamp_fraction: number }; top: Array<{ id: string; w: number }> }
      expect(r.stats.clamp_fraction).toBe(0.5)
      expect(r.top[0]).toMatchObject({ id: 't1', w: 4 })
      out.length = 0
      expect(await cmdByo(['weights', 'byo-logprobs.jsonl', '--project', project, '--clip-ratio', '0.8,1.25', '--trace', '0'])).toBe(0)
      const text = out.join('')
      expect(text).toMatch(/clip ratio to \[0\.8, 1\.25\]/)
      expect(text).toMatch(/Σρ = -0\.25/)
      await expect(cmdByo(['weights', String(imp.dataset.id), '--project', project, '--variant', 'tokens'])).rejects.toThrow(/--variant takes trace or per_step/)
      await expect(cmdByo(['weights', String(imp.dataset.id), '--project', project, '--clamp', '4'])).rejects.toThrow(/--clamp takes two numbers/)
      await expect(cmdByo(['weights', String(imp.dataset.id), '--project', project, '--clamp', '4,1'])).rejects.toThrow(/clamp/)
      // a mapping by column names: a CSV whose columns are not the detected names
      const csv = join(dir, 'renamed.csv')
      writeFileSync(csv, 'uid,toks,lp_ref,lp_pol,grade\nr0,"[3, 4]","[-1, -1]","[-0.5, -1]",1\n')
      out.length = 0
      expect(await cmdByo(['import', csv, '--project', project, '--map', 'id=uid,tokens=toks,refLogprobs=lp_ref,policyLogprobs=lp_pol,score=grade', '--json'])).toBe(0)
      expect(JSON.parse(out.join('')).dataset.numTraces).toBe(1)
      await expect(cmdByo(['import', csv, '--project', project, '--map', 'tokns=toks'])).rejects.toThrow(/--map: unknown key tokns/)
    } finally {
      spy.mockRestore()
    }
  })
})

describe('byo follow with a tokenizer that does not load', () => {
  it('reports it once and stops, without an unhandled rejection', async () => {
    const f = join(dir, 'tok-live.jsonl')
    copyFileSync(join(FIX, 'byo-logprobs.jsonl'), f)
    const errors: string[] = []
    const h = followByo(store, f, { intervalMs: 20, minUpdateMs: 0, tokenizerFile: join(FIX, 'unknown-model-tokenizer.json'), onError: (m) => errors.push(m) }, () => {})
    await waitFor(() => (errors.length ? true : undefined))
    await new Promise((r) => setTimeout(r, 100))
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(/unknown-model-tokenizer\.json/)
    expect(h.datasetId).toBeNull()
    await h.stop()
  })
})

describe("byo through the services (the contract's requests and events)", () => {
  it('byo.import → byo.inspect → byo.traceRho; byo.follow emits byo.update; bad input is invalid_input', async () => {
    const { createServices } = await import('../../src/main/services/index.ts')
    const services = await createServices({ projectFile: join(dir, 's.iwsft'), transport: 'http' })
    const events: Array<[string, unknown]> = []
    services.subscribe((e, p) => void events.push([e, p]))
    try {
      const imp = (await services.call('byo.import', { path: join(FIX, 'byo-logprobs.jsonl') })) as { dataset: { id: number } }
      const ins = (await services.call('byo.inspect', { datasetId: imp.dataset.id, settings: byoDefaultSettings(), variant: 'per_step' })) as { numTraces: number; steps: { n: number } }
      expect(ins.numTraces).toBe(2)
      expect(ins.steps.n).toBe(5)
      await expect(services.call('byo.inspect', { datasetId: imp.dataset.id, settings: { ...byoDefaultSettings(), temp: 0 } })).rejects.toThrow(/settings\.temp/)
      await expect(services.call('byo.inspect', { datasetId: 999, settings: byoDefaultSettings() })).rejects.toMatchObject({ code: 'not_found' })
      const rho = (await services.call('byo.traceRho', { datasetId: imp.dataset.id, traceIndex: 1 })) as { tokens: Array<{ rho: number | null }> }
      expect(rho.tokens.map((t) => t.rho)).toEqual([1, 0])
      const f = join(dir, 'svc-live.jsonl')
      writeFileSync(f, row('a', [3, 4], [-1, -1], [-0.5, -1]))
      await services.call('byo.follow', { followId: 'f1', path: f, minUpdateMs: 0 })
      const u = await waitFor(() => events.find(([e]) => e === 'byo.update'))
      expect(u[1]).toMatchObject({ followId: 'f1', numTraces: 1, rows: 1 })
      await services.call('byo.unfollow', { followId: 'f1' })
    } finally {
      await services.shutdown()
    }
  })
})
