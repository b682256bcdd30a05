import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { createHash } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { openProject, SCHEMA_VERSION, APPLICATION_ID, StoreError, encodeTensors, decodeTensors, type ProjectStore } from '../../src/main/store/index.ts'
import { datasetHash, fromTraces, type TraceDataset } from '../../src/main/common/trace.ts'
import { defaultConfig } from '../../src/shared/config.ts'

let dir: string
let stores: ProjectStore[]
const open = (name = 'p.iwsft', opts?: Parameters<typeof openProject>[1]): ProjectStore => {
  const s = openProject(join(dir, name), opts)
  stores.push(s)
  return s
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'iwsft-store-'))
  stores = []
})
afterEach(() => {
  for (const s of stores) s.close()
  rmSync(dir, { recursive: true, force: true })
})

function discrete(withExtras: boolean): TraceDataset {
  return fromTraces('bandit-small', 'discrete', 0, 3, [
    { id: 'a', actions: [0, 2, 1], mask: [1, 0, 1], score: 0.25, ...(withExtras ? { rewards: [0.5, -1, 2], meta: { src: 'x', n: 1 } } : {}) },
    { id: 'b', actions: [2], score: -1.5, ...(withExtras ? { rewards: [3] } : {}) },
    { id: 'c', actions: [1, 1], score: 1e-300 }
  ])
}

function continuous(withExtras: boolean): TraceDataset {
  return fromTraces('hopper-tiny', 'continuous', 2, 2, [
    { id: 't0', obs: [0.1, 0.2, Math.PI, -0], actions: [1.5, -2.25, 1 / 3, 7], score: 123.456, ...(withExtras ? { rewards: [1, 2], meta: { ep: 0 } } : {}) },
    { id: 't1', obs: [1e-30, -1e30], actions: [0, 0.1], score: -7, ...(withExtras ? { meta: { ep: 1, nested: { a: [1, 2] } } } : {}) }
  ])
}

/** Exact equality of every field, including the typed array types and bit patterns. */
function expectSameDataset(got: TraceDataset, want: TraceDataset): void {
  expect(got.name).toBe(want.name)
  expect(got.kind).toBe(want.kind)
  expect(got.obsDim).toBe(want.obsDim)
  expect(got.actDim).toBe(want.actDim)
  for (const f of ['offsets', 'obs', 'actions', 'mask', 'scores', 'rewards'] as const) {
    const a = got[f]
    const b = want[f]
    if (b === undefined) {
      expect(a, f).toBeUndefined()
      continue
    }
    expect(a, f).toBeDefined()
    expect(a!.constructor.name, f).toBe(b.constructor.name)
    expect(Array.from(a!), f).toEqual(Array.from(b))
    expect(Buffer.from(a!.buffer, a!.byteOffset, a!.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength)), f).toBe(true)
    expect(a!.byteOffset % a!.BYTES_PER_ELEMENT, `${f} aligned`).toBe(0)
  }
  expect(got.ids).toEqual(want.ids)
  if (want.meta === undefined) expect(got.meta).toBeUndefined()
  else expect(got.meta).toEqual(want.meta)
  expect(datasetHash(got)).toBe(datasetHash(want))
}

const sha = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex')

describe('project file', () => {
  it('is in WAL mode with foreign keys, a busy timeout and the current schema version', () => {
    const s = open()
    s.close()
    const db = new Database(join(dir, 'p.iwsft'), { readonly: true })
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal')
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION)
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((r) => r.name)
    expect(tables).toEqual([
      'artifacts',
      'bc_references',
      'checkpoints',
      'dataset_tokenization',
      'datasets',
      'imported_logprobs',
      'metrics',
      'models',
      'presets',
      'project',
      'ref_logprobs',
      'runs',
      'weight_snapshots'
    ])
    db.close()
  })

  it('reopens an existing project and keeps its data', () => {
    const s = open()
    const { id } = s.putDataset(discrete(false), 'builtin:bandit')
    s.close()
    const t = open()
    expect(t.listDatasets().map((d) => d.id)).toEqual([id])
  })

  it('refuses a file written by a newer schema and leaves it byte-for-byte untouched', () => {
    for (const journal of ['delete', 'wal']) {
      const file = join(dir, `newer-${journal}.iwsft`)
      const db = new Database(file)
      db.pragma(`journal_mode = ${journal}`)
      db.exec('CREATE TABLE future (x); INSERT INTO future VALUES (42)')
      db.pragma(`application_id = ${APPLICATION_ID}`)
      db.pragma(`user_version = ${SCHEMA_VERSION + 7}`)
      db.close()
      const before = sha(file)
      let err: unknown
      try {
        openProject(file)
      } catch (e) {
        err = e
      }
      expect(err).toBeInstanceOf(StoreError)
      const msg = (err as Error).message
      expect(msg).toContain(file)
      expect(msg).toContain(`was written by a newer IW-SFT Workbench (schema ${SCHEMA_VERSION + 7}, this app knows ${SCHEMA_VERSION}); update the app`)
      expect(sha(file)).toBe(before)
      expect(existsSync(`${file}-wal`)).toBe(false)
      expect(() => openProject(file, { readonly: true })).toThrow(/newer IW-SFT Workbench/)
      expect(sha(file)).toBe(before)
    }
  })

  it('refuses a file that is not a project, naming it and leaving it untouched', () => {
    const cases: Array<[string, (file: string) => void, RegExp]> = [
      ['notes.txt', (f) => writeFileSync(f, 'x'.repeat(200)), /not a SQLite database/],
      ['short.bin', (f) => writeFileSync(f, 'SQLite'), /not a SQLite database/],
      [
        'other-app.db',
        (f) => {
          const db = new Database(f)
          db.exec('CREATE TABLE runs (x)')
          db.close()
        },
        /a SQLite database with 1 tables or indexes of its own/
      ],
      [
        'other-app-versioned.db',
        (f) => {
          const db = new Database(f)
          db.exec('CREATE TABLE t (x)')
          db.pragma('user_version = 3')
          db.close()
        },
        /a SQLite database of another application, schema 3/
      ],
      [
        'other-app-id.db',
        (f) => {
          const db = new Database(f)
          db.pragma('application_id = 1234')
          db.exec('CREATE TABLE t (x)')
          db.close()
        },
        /a SQLite database of another application, id 0x4d2/
      ]
    ]
    for (const [name, make, why] of cases) {
      const file = join(dir, name)
      make(file)
      const before = sha(file)
      let err: unknown
      try {
        openProject(file)
      } catch (e) {
        err = e
      }
      expect(err, name).toBeInstanceOf(StoreError)
      expect((err as Error).message, name).toContain(`${file} is not an IW-SFT Workbench project`)
      expect((err as Error).message, name).toMatch(why)
      expect(sha(file), name).toBe(before)
      expect(existsSync(`${file}-wal`), name).toBe(false)
    }
  })

  it('marks its files with the application id and opens an empty file as a new project', () => {
    const file = join(dir, 'empty.iwsft')
    writeFileSync(file, '')
    openProject(file).close()
    const db = new Database(file, { readonly: true })
    expect(db.pragma('application_id', { simple: true })).toBe(APPLICATION_ID)
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION)
    db.close()
  })

  it('explains a missing folder or a missing file when create is off', () => {
    expect(() => openProject(join(dir, 'nope', 'p.iwsft'))).toThrow(/the folder .*nope does not exist/)
    expect(() => openProject(join(dir, 'missing.iwsft'), { create: false })).toThrow(/missing\.iwsft: no project file there/)
    expect(existsSync(join(dir, 'missing.iwsft'))).toBe(false)
  })

  it('read-only open reads but cannot write', () => {
    const s = open()
    s.putDataset(discrete(false), 'builtin:bandit')
    const ro = open('p.iwsft', { readonly: true })
    expect(ro.listDatasets()).toHaveLength(1)
    expect(() => ro.putDataset(continuous(false), 'x')).toThrow(/p\.iwsft.*read-only/)
  })

  it('waits out a short lock and explains a long one (a run write gives up only past runWriteRetryMs)', () => {
    const waits: number[] = []
    const s = open('p.iwsft', { busyTimeoutMs: 150, runWriteRetryMs: 600, onBusy: (_what, ms) => void waits.push(ms) })
    const run = s.createRun({ name: 'r', config: defaultConfig('bandit'), datasetId: null, dataHash: null, backend: null, versions: {} })
    const other = new Database(join(dir, 'p.iwsft'))
    other.exec('BEGIN IMMEDIATE')
    let t0 = Date.now()
    expect(() => s.putDataset(discrete(false), 'x')).toThrow(/p\.iwsft: cannot put dataset: .*held the project locked/)
    expect(Date.now() - t0).toBeGreaterThanOrEqual(100)
    t0 = Date.now()
    expect(() => s.appendMetrics(run, [{ step: 0, key: 'loss', value: 1 }])).toThrow(/p\.iwsft: cannot append metrics: .*held the project locked/)
    // tried again with back-off (each try waiting busy_timeout) until 600 ms had passed
    expect(Date.now() - t0).toBeGreaterThanOrEqual(600)
    expect(waits.length).toBeGreaterThanOrEqual(2)
    expect(s.getRun(run)!.status).toBe('queued') // reads are not blocked by the writer (WAL)
    other.exec('COMMIT')
    other.close()
    s.appendMetrics(run, [{ step: 0, key: 'loss', value: 1 }])
    expect(s.getMetrics(run)).toEqual([{ step: 0, key: 'loss', value: 1 }])
  })

  it('rejects calls after close', () => {
    const s = open()
    s.close()
    expect(() => s.listRuns()).toThrow(/was closed/)
  })
})

describe('datasets', () => {
  for (const [label, make] of [
    ['discrete', discrete],
    ['continuous', continuous]
  ] as const) {
    for (const extras of [false, true]) {
      it(`round-trips a ${label} dataset ${extras ? 'with' : 'without'} rewards and meta exactly`, () => {
        const s = open()
        const ds = make(extras)
        expect(ds.rewards !== undefined).toBe(extras)
        expect(ds.meta !== undefined).toBe(extras)
        const put = s.putDataset(ds, `generated:${label}`)
        expect(put.created).toBe(true)
        expect(put.hash).toBe(datasetHash(ds))
        expectSameDataset(s.getDataset(put.id), ds)
        // and from a fresh connection (blobs read from disk, not from any cache)
        s.close()
        expectSameDataset(open().getDataset(put.id), ds)
      })
    }
  }

  it('round-trips typed arrays that are unaligned views into a larger buffer', () => {
    const base = continuous(false)
    const big = new ArrayBuffer(1024)
    const copyAt = <T extends Float32Array | Int32Array | Float64Array>(a: T, at: number): T => {
      const C = a.constructor as new (b: ArrayBuffer, o: number, l: number) => T
      const v = new C(big, at, a.length)
      v.set(a)
      return v
    }
    const ds: TraceDataset = { ...base, obs: copyAt(base.obs, 8), scores: copyAt(base.scores, 512) }
    const s = open()
    const { id } = s.putDataset(ds, 'x')
    expectSameDataset(s.getDataset(id), base)
  })

  it('keeps Int32 vs Float32 action storage for discrete data', () => {
    const base = discrete(false)
    const asFloat: TraceDataset = { ...base, actions: Float32Array.from(base.actions) }
    const s = open()
    const a = s.putDataset(base, 'x')
    const b = s.putDataset(asFloat, 'y')
    expect(b.hash).not.toBe(a.hash)
    expect(s.getDataset(a.id).actions).toBeInstanceOf(Int32Array)
    expect(s.getDataset(b.id).actions).toBeInstanceOf(Float32Array)
  })

  it('summarises a dataset (counts, dims, score range, source)', () => {
    const s = open()
    const { id, hash } = s.putDataset(discrete(true), 'file:/tmp/x.jsonl')
    const d = s.findDataset(String(id))!
    expect(d).toMatchObject({
      id,
      name: 'bandit-small',
      kind: 'discrete',
      hash,
      numTraces: 3,
      numSteps: 6,
      obsDim: 0,
      actDim: 3,
      source: 'file:/tmp/x.jsonl',
      scoreMin: -1.5,
      scoreMax: 0.25
    })
    expect(Date.parse(d.createdAt)).toBeGreaterThan(Date.now() - 60_000)
  })

  it('deduplicates by content hash, whatever the name', () => {
    const s = open()
    const first = s.putDataset(discrete(false), 'a')
    const again = s.putDataset({ ...discrete(false), name: 'renamed' }, 'b')
    expect(again).toEqual({ id: first.id, hash: first.hash, created: false })
    expect(s.listDatasets()).toHaveLength(1)
    expect(s.listDatasets()[0].name).toBe('bandit-small')
  })

  it('stores nothing when the dataset is invalid, and names the project file', () => {
    const s = open()
    const bad = discrete(false)
    bad.actions[1] = 3 // outside 0..actDim-1
    expect(() => s.putDataset(bad, 'x')).toThrow(/p\.iwsft.*action at trace 0 \(a\), step 1 is 3, outside 0\.\.2/)
    const nanScore = continuous(false)
    nanScore.scores[1] = NaN
    expect(() => s.putDataset(nanScore, 'x')).toThrow(/score NaN/)
    expect(s.listDatasets()).toEqual([])
    s.close()
    const db = new Database(join(dir, 'p.iwsft'), { readonly: true })
    expect((db.prepare('SELECT COUNT(*) n FROM datasets').get() as { n: number }).n).toBe(0)
    db.close()
  })

  it('stores nothing when the metadata cannot be encoded as JSON or the kind is unknown', () => {
    const s = open()
    const ds = discrete(true)
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    ds.meta![1] = cyclic
    expect(() => s.putDataset(ds, 'x')).toThrow(/p\.iwsft/)
    expect(() => s.putDataset({ ...discrete(false), kind: 'images' as never }, 'x')).toThrow(/p\.iwsft.*kind "images" is not one of discrete, continuous, sequence/)
    expect(s.listDatasets()).toEqual([])
  })

  it('finds a dataset by id or by exact name, newest first', async () => {
    const s = open()
    const a = s.putDataset({ ...discrete(false), name: 'same' }, 'x')
    await new Promise((r) => setTimeout(r, 5))
    const b = s.putDataset({ ...continuous(false), name: 'same' }, 'x')
    const c = s.putDataset({ ...continuous(true), name: '42' }, 'x')
    expect(s.findDataset('same')!.id).toBe(b.id)
    expect(s.findDataset(String(a.id))!.id).toBe(a.id)
    expect(s.findDataset('42')!.id).toBe(c.id) // no dataset with id 42: falls back to the name
    expect(s.findDataset('Same')).toBeNull()
    expect(s.findDataset('999')).toBeNull()
    expect(s.listDatasets().map((d) => d.id)).toEqual([c.id, b.id, a.id])
  })

  it('deletes a dataset with its presets and detaches its runs', () => {
    const s = open()
    const { id, hash } = s.putDataset(discrete(false), 'x')
    s.savePreset(id, 'top', { mode: 'top_k', percent: 10 })
    const run = s.createRun({ name: 'r', config: defaultConfig('bandit'), datasetId: id, dataHash: hash, backend: null, versions: {} })
    s.deleteDataset(id)
    expect(s.listDatasets()).toEqual([])
    expect(s.listPresets()).toEqual([])
    expect(s.getRun(run)).toMatchObject({ datasetId: null, dataHash: hash })
    expect(() => s.getDataset(id)).toThrow(new RegExp(`no dataset ${id}.*list the datasets`))
    expect(() => s.deleteDataset(id)).toThrow(/no dataset/)
  })
})

describe('presets and reference cache', () => {
  it('saves, replaces and lists presets; rejects invalid curation', () => {
    const s = open()
    const d1 = s.putDataset(discrete(false), 'x').id
    const d2 = s.putDataset(continuous(false), 'x').id
    const p = s.savePreset(d1, 'bins', { mode: 'quality_bins', cutoffs: [90, 95, 98] })
    expect(p).toMatchObject({ datasetId: d1, name: 'bins', curation: { mode: 'quality_bins', cutoffs: [90, 95, 98] } })
    const p2 = s.savePreset(d1, 'bins', { mode: 'threshold', threshold: 0.5 })
    expect(p2.id).toBe(p.id)
    s.savePreset(d2, 'all', { mode: 'all' })
    expect(s.listPresets(d1).map((r) => r.curation)).toEqual([{ mode: 'threshold', threshold: 0.5 }])
    expect(s.listPresets().map((r) => [r.datasetId, r.name])).toEqual([
      [d1, 'bins'],
      [d2, 'all']
    ])
    expect(() => s.savePreset(d1, 'bad', { mode: 'top_k', percent: 0 } as never)).toThrow(/p\.iwsft: preset "bad" has an invalid curation/)
    expect(() => s.savePreset(999, 'x', { mode: 'all' })).toThrow(/no dataset 999/)
    expect(s.listPresets(d1)).toHaveLength(1)
  })

  it('caches reference log-probabilities per (reference, data hash)', () => {
    const s = open()
    expect(s.getRefLogProbs('init', 'h1')).toBeNull()
    const logp = new Float32Array([-0.1, -2.5, -Infinity, -1e-8])
    s.putRefLogProbs('init', 'h1', logp)
    s.putRefLogProbs('bc:1000', 'h1', new Float32Array([1]))
    expect(Array.from(s.getRefLogProbs('init', 'h1')!)).toEqual(Array.from(logp))
    expect(s.getRefLogProbs('init', 'h2')).toBeNull()
    s.putRefLogProbs('init', 'h1', new Float32Array([-3]))
    expect(Array.from(s.getRefLogProbs('init', 'h1')!)).toEqual([-3])
    expect(Array.from(s.getRefLogProbs('bc:1000', 'h1')!)).toEqual([1])
  })
})

describe('imported log-probs', () => {
  it('go in with their dataset, are replaced by another import of the same traces, and go with it', () => {
    const s = open('imported.iwsft')
    const ds = discrete(false) // 6 steps
    const ref = new Float32Array([-1, -2, -0.5, -3, -0.25, -1e-8])
    const pol = new Float32Array([-1, -1, -1, -1, -1, -1])
    const first = s.putImportedDataset(ds, 'byo:/x.jsonl', { ref, policy: pol, tokenizer: { kind: 'byte' } })
    expect(first).toMatchObject({ created: true, replacedLogProbs: false })
    const got = s.getImportedLogProbs(first.id)!
    expect(Array.from(got.ref)).toEqual(Array.from(ref))
    expect(Array.from(got.policy)).toEqual(Array.from(pol))
    expect(got.tokenizer).toEqual({ kind: 'byte' })
    // the same log-probs again: nothing replaced; other log-probs for the same traces: replaced
    expect(s.putImportedDataset(ds, 'byo:/x.jsonl', { ref, policy: pol, tokenizer: null })).toMatchObject({ id: first.id, created: false, replacedLogProbs: false })
    expect(s.getImportedLogProbs(first.id)!.tokenizer).toBeNull()
    const later = new Float32Array([-2, -2, -2, -2, -2, -2])
    expect(s.putImportedDataset(ds, 'byo:/x.jsonl', { ref, policy: later, tokenizer: null })).toMatchObject({ id: first.id, created: false, replacedLogProbs: true })
    expect(Array.from(s.getImportedLogProbs(first.id)!.policy)).toEqual(Array.from(later))
    // a dataset stored without them has none
    expect(s.getImportedLogProbs(s.putDataset(continuous(false), 'file:/c').id)).toBeNull()
    s.deleteDataset(first.id)
    expect(s.getImportedLogProbs(first.id)).toBeNull()
  })

  it('must have one value per step; nothing is stored otherwise', () => {
    const s = open('imported-bad.iwsft')
    const n = s.listDatasets().length
    expect(() => s.putImportedDataset(discrete(false), 'byo:/x', { ref: new Float32Array(5), policy: new Float32Array(6), tokenizer: null })).toThrow(
      /5 \(reference\) and 6 \(policy\) values for 6 steps/
    )
    expect(s.listDatasets()).toHaveLength(n)
  })
})

describe('runs', () => {
  const cfg = defaultConfig('control')
  const newRun = (s: ProjectStore, name: string, group?: string): number =>
    s.createRun({ name, group, config: { ...cfg, seed: 7 }, datasetId: null, dataHash: 'abc', backend: null, versions: { node: process.version } })

  it('creates runs, lists them newest first and records status transitions', () => {
    const s = open()
    const a = newRun(s, 'first', 'sweep')
    const b = newRun(s, 'second')
    expect(s.listRuns().map((r) => r.id)).toEqual([b, a])
    const r = s.getRun(a)!
    expect(r).toMatchObject({
      id: a,
      name: 'first',
      group: 'sweep',
      method: cfg.method,
      status: 'queued',
      seed: 7,
      backend: null,
      datasetId: null,
      dataHash: 'abc',
      versions: { node: process.version },
      error: null,
      startedAt: null,
      endedAt: null,
      lastStep: null
    })
    expect(r.config).toEqual({ ...cfg, seed: 7 })

    s.setRunStatus(a, 'running')
    s.setRunBackend(a, 'wasm')
    const running = s.getRun(a)!
    expect(running.status).toBe('running')
    expect(running.backend).toBe('wasm')
    expect(running.startedAt).not.toBeNull()
    expect(running.endedAt).toBeNull()
    const db = new Database(join(dir, 'p.iwsft'), { readonly: true })
    expect((db.prepare('SELECT owner_pid FROM runs WHERE id = ?').get(a) as { owner_pid: number }).owner_pid).toBe(process.pid)
    db.close()

    s.setRunStatus(a, 'failed', 'loss became NaN at step 12')
    const failed = s.getRun(a)!
    expect(failed).toMatchObject({ status: 'failed', error: 'loss became NaN at step 12', startedAt: running.startedAt })
    expect(failed.endedAt).not.toBeNull()
    s.setRunStatus(b, 'completed')
    expect(s.getRun(b)).toMatchObject({ status: 'completed', error: null })
    expect(() => s.setRunStatus(999, 'running')).toThrow(/p\.iwsft: there is no run 999/)
    expect(() => s.setRunStatus(a, 'done' as never)).toThrow(/not a run status/)
    expect(s.getRun(999)).toBeNull()
  })

  it('appends metrics in one transaction and reads them back by key', () => {
    const s = open()
    const id = newRun(s, 'm')
    s.appendMetrics(id, [
      { step: 0, key: 'loss', value: 2.5 },
      { step: 0, key: 'ess', value: 0.75 },
      { step: 10, key: 'loss', value: 1.25 }
    ])
    s.appendMetrics(id, [
      { step: 20, key: 'loss', value: NaN },
      { step: 20, key: 'grad_norm', value: Infinity }
    ])
    expect(s.metricKeys(id)).toEqual(['ess', 'grad_norm', 'loss'])
    expect(s.getMetrics(id, ['loss'])).toEqual([
      { step: 0, key: 'loss', value: 2.5 },
      { step: 10, key: 'loss', value: 1.25 },
      { step: 20, key: 'loss', value: NaN }
    ])
    expect(s.getMetrics(id)).toHaveLength(5)
    expect(s.getMetrics(id, ['grad_norm'])[0].value).toBe(Infinity)
    expect(s.getRun(id)!.lastStep).toBe(20)
    // a bad row anywhere in the batch stores none of it
    expect(() =>
      s.appendMetrics(id, [
        { step: 30, key: 'loss', value: 1 },
        { step: -1, key: 'loss', value: 1 }
      ])
    ).toThrow(/steps must be whole numbers/)
    expect(s.getMetrics(id, ['loss']).map((m) => m.step)).toEqual([0, 10, 20])
    expect(s.getRun(id)!.lastStep).toBe(20)
    expect(() => s.appendMetrics(12345, [{ step: 0, key: 'loss', value: 1 }])).toThrow(/no run 12345/)
  })

  it('stores weight snapshots exactly', () => {
    const s = open()
    const id = newRun(s, 'w')
    const snap = { step: 250, traceIndex: new Int32Array([5, 0, 9]), logWRaw: new Float32Array([-1.5, 0, 3.25]), w: new Float32Array([0.2, 1, 16]) }
    s.putWeightSnapshot(id, snap)
    s.putWeightSnapshot(id, { ...snap, step: 0 })
    expect(s.listSnapshotSteps(id)).toEqual([0, 250])
    const got = s.getWeightSnapshot(id, 250)!
    expect(got.step).toBe(250)
    expect(got.traceIndex).toBeInstanceOf(Int32Array)
    expect(Array.from(got.traceIndex)).toEqual([5, 0, 9])
    expect(Array.from(got.logWRaw)).toEqual([-1.5, 0, 3.25])
    expect(Array.from(got.w)).toEqual(Array.from(new Float32Array([0.2, 1, 16])))
    expect(s.getWeightSnapshot(id, 1)).toBeNull()
    expect(() => s.putWeightSnapshot(id, { ...snap, w: new Float32Array(2) })).toThrow(/equal lengths/)
  })

  it('stores checkpoints with their tensors, spec and metrics', () => {
    const s = open()
    const id = newRun(s, 'c')
    const tensors = [
      { name: 'dense/kernel', shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, -6.5]) },
      { name: 'dense/bias', shape: [3], data: new Float32Array([0.1, 0.2, 0.3]) },
      { name: 'scalar', shape: [], data: new Float32Array([42]) },
      { name: 'empty', shape: [0, 4], data: new Float32Array(0) }
    ]
    const spec = { kind: 'categorical', hidden: [3], inputs: 2 }
    const c1 = s.putCheckpoint(id, 100, tensors, spec, { loss: 0.5 })
    const c2 = s.putCheckpoint(id, 50, tensors.slice(0, 1), null, {})
    expect(s.listCheckpoints(id).map((c) => [c.id, c.step])).toEqual([
      [c2, 50],
      [c1, 100]
    ])
    const got = s.getCheckpoint(c1)
    expect(got.row).toMatchObject({ id: c1, runId: id, step: 100, metrics: { loss: 0.5 } })
    expect(got.spec).toEqual(spec)
    expect(got.tensors.map((t) => [t.name, t.shape, Array.from(t.data)])).toEqual(tensors.map((t) => [t.name, t.shape, Array.from(t.data)]))
    expect(s.getCheckpoint(c2).spec).toBeNull()
    expect(() => s.putCheckpoint(id, 1, [{ name: 'x', shape: [2, 2], data: new Float32Array(3) }], {}, {})).toThrow(/p\.iwsft.*shape \[2, 2\] \(4 values\) but 3/)
    expect(() => s.getCheckpoint(999)).toThrow(/no checkpoint 999/)
  })

  it('tensor blobs decode from an unaligned buffer', () => {
    const blob = encodeTensors([{ name: 'a', shape: [3], data: new Float32Array([1, 2, 3]) }])
    const shifted = Buffer.alloc(blob.length + 1)
    blob.copy(shifted, 1)
    const t = decodeTensors(shifted.subarray(1), 'test')
    expect(Array.from(t[0].data)).toEqual([1, 2, 3])
    expect(() => decodeTensors(Buffer.from('nope nope'), 'test')).toThrow(/bad magic/)
  })

  it('deletes a run with its metrics, snapshots and checkpoints', () => {
    const s = open()
    const id = newRun(s, 'd')
    const other = newRun(s, 'keep')
    s.appendMetrics(id, [{ step: 1, key: 'loss', value: 1 }])
    s.appendMetrics(other, [{ step: 1, key: 'loss', value: 2 }])
    s.putWeightSnapshot(id, { step: 1, traceIndex: new Int32Array(1), logWRaw: new Float32Array(1), w: new Float32Array(1) })
    s.putCheckpoint(id, 1, [], {}, {})
    s.deleteRun(id)
    expect(s.getRun(id)).toBeNull()
    expect(s.getMetrics(id)).toEqual([])
    expect(s.listSnapshotSteps(id)).toEqual([])
    expect(s.listCheckpoints(id)).toEqual([])
    expect(s.getMetrics(other)).toEqual([{ step: 1, key: 'loss', value: 2 }])
  })

  it('marks runs of dead processes interrupted, keeps runs of live ones', () => {
    const s = open()
    const mine = newRun(s, 'mine')
    s.setRunStatus(mine, 'running')
    const dead = newRun(s, 'dead')
    s.setRunStatus(dead, 'running')
    const queuedDead = newRun(s, 'queued-dead')
    const done = newRun(s, 'done')
    s.setRunStatus(done, 'completed')
    // a pid that is certainly not alive: above the kernel's pid_max
    const db = new Database(join(dir, 'p.iwsft'))
    db.prepare('UPDATE runs SET owner_pid = 2147483000 WHERE id IN (?, ?)').run(dead, queuedDead)
    db.close()
    expect(s.markInterrupted().sort()).toEqual([dead, queuedDead].sort())
    expect(s.getRun(mine)!.status).toBe('running')
    expect(s.getRun(dead)).toMatchObject({ status: 'interrupted' })
    expect(s.getRun(dead)!.error).toMatch(/pid 2147483000/)
    expect(s.getRun(dead)!.endedAt).not.toBeNull()
    expect(s.getRun(queuedDead)!.status).toBe('interrupted')
    expect(s.getRun(done)!.status).toBe('completed')
    expect(s.markInterrupted()).toEqual([])
  })
})

describe('in-memory store', () => {
  it('works with ":memory:"', () => {
    const s = openProject(':memory:')
    const { id } = s.putDataset(discrete(true), 'x')
    expectSameDataset(s.getDataset(id), discrete(true))
    s.close()
  })
})
