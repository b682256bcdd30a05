// The project's models (migration 4): a model record round-trips, the same bytes are one model,
// names are unique, datasets record which tokenizer made them (deleted with the dataset), a store
// transaction is all or nothing, and a project of schema 2 upgrades with its data intact.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { fromTraces } from '../../src/main/common/trace.ts'
import { MIGRATIONS } from '../../src/main/store/migrations.ts'
import { openProject, SCHEMA_VERSION, StoreError, type ProjectStore } from '../../src/main/store/index.ts'
import type { ModelInfo } from '../../src/shared/models.ts'

let dir: string
let stores: ProjectStore[]
const open = (name = 'p.iwsft'): ProjectStore => {
  const s = openProject(join(dir, name))
  stores.push(s)
  return s
}
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'iwsft-models-store-'))
  stores = []
})
afterEach(() => {
  for (const s of stores) s.close()
  rmSync(dir, { recursive: true, force: true })
})

const model = (over: Partial<ModelInfo> = {}): Omit<ModelInfo, 'id' | 'createdAt'> => ({
  name: 'tiny',
  source: 'file:/m/tiny.gguf',
  path: '/m/tiny.gguf',
  format: 'gguf',
  architecture: 'llama',
  parameters: 123200,
  layers: 2,
  contextLength: 64,
  vocabSize: 384,
  hash: 'a'.repeat(64),
  memoryBytes: 26_969_344,
  tokenizerHash: 'f'.repeat(64),
  details: {
    generalName: 'Tiny',
    dModel: 64,
    nHeads: 4,
    nKvHeads: 2,
    headDim: 16,
    dFF: 128,
    tiedHead: false,
    norm: 'rms',
    activation: 'swiglu',
    rope: { theta: 10000, scaling: null },
    files: [{ path: '/m/tiny.gguf', bytes: 502496, mtimeMs: 1 }],
    tensorTypes: { F32: 21 },
    tokenizer: { engine: 'byte-level-bpe', preTokenizer: 'gpt-2', vocabSize: 384, bos: 1, eos: [2], addBos: false },
    chatTemplate: '{{ messages }}'
  },
  ...over
})

const text = () => fromTraces('t', 'sequence', 0, 384, [{ id: 'a', actions: [1, 5, 7], mask: [0, 1, 1], score: 1 }])

describe('models in the project store', () => {
  it('stores a model and finds it by id and by name; the same hash is the same model', () => {
    const s = open()
    const a = s.putModel(model())
    expect(a.created).toBe(true)
    const got = s.getModel(a.id)!
    expect(got).toMatchObject({ ...model(), id: a.id })
    expect(got.createdAt).toMatch(/^\d{4}-\d\d-\d\dT/)
    expect(s.findModel(String(a.id))!.name).toBe('tiny')
    expect(s.findModel(' tiny ')!.id).toBe(a.id)
    expect(s.findModel('nope')).toBeNull()
    // same bytes under another name: the existing record
    expect(s.putModel(model({ name: 'other' }))).toEqual({ id: a.id, created: false })
    expect(s.listModels().map((m) => m.name)).toEqual(['tiny'])
  })

  it('refuses a second model under a used name, naming it', () => {
    const s = open()
    s.putModel(model())
    expect(() => s.putModel(model({ hash: 'b'.repeat(64) }))).toThrow(/a different model is already called "tiny"/)
    expect(s.listModels()).toHaveLength(1)
  })

  it('removes a model; removing it again names the id', () => {
    const s = open()
    const { id } = s.putModel(model())
    s.deleteModel(id)
    expect(s.getModel(id)).toBeNull()
    expect(() => s.deleteModel(id)).toThrow(StoreError)
    expect(() => s.deleteModel(id)).toThrow(new RegExp(`there is no model ${id} to remove`))
  })

  it("records a dataset's tokenizer, replaces it, and forgets it with the dataset", () => {
    const s = open()
    const { id } = s.putDataset(text(), 'file:/x.jsonl')
    expect(s.getDatasetTokenization(id)).toBeNull()
    s.setDatasetTokenization(id, { tokenizerHash: 'f'.repeat(64), template: 'chat', modelName: 'tiny' })
    expect(s.getDatasetTokenization(id)).toEqual({ tokenizerHash: 'f'.repeat(64), template: 'chat', modelName: 'tiny' })
    s.setDatasetTokenization(id, { tokenizerHash: 'e'.repeat(64), template: 'plain', modelName: 'big' })
    expect(s.getDatasetTokenization(id)!.template).toBe('plain')
    expect(() => s.setDatasetTokenization(id + 1, { tokenizerHash: 'x', template: 'chat', modelName: 'm' })).toThrow(/there is no dataset/)
    s.deleteDataset(id)
    expect(s.getDatasetTokenization(id)).toBeNull()
  })

  it('a transaction stores everything or nothing', () => {
    const s = open()
    expect(() =>
      s.transaction(() => {
        const { id } = s.putDataset(text(), 'sample:tiny')
        s.setDatasetTokenization(id, { tokenizerHash: 'f', template: 'chat', modelName: 'tiny' })
        s.putRefLogProbs('model:x:chat', 'h', new Float32Array([0, -1, -2]))
        throw new Error('the sampler failed after writing')
      })
    ).toThrow(/the sampler failed/)
    expect(s.listDatasets()).toHaveLength(0)
    expect(s.getRefLogProbs('model:x:chat', 'h')).toBeNull()
    const id = s.transaction(() => s.putDataset(text(), 'sample:tiny').id)
    expect(s.listDatasets().map((d) => d.id)).toEqual([id])
  })

  it('upgrades a schema-3 project: its datasets stay, the models tables appear', () => {
    const file = join(dir, 'old.iwsft')
    // a project as the previous version wrote it: migrations 1 to 3 only
    const db = new Database(file)
    db.pragma('application_id = 0x49575346')
    for (const m of MIGRATIONS.slice(0, 3)) m.up(db)
    db.pragma('user_version = 3')
    db.close()
    expect(SCHEMA_VERSION).toBeGreaterThanOrEqual(4)
    const s = open('old.iwsft')
    expect(s.listModels()).toEqual([])
    const { id } = s.putDataset(text(), 'file:/x.jsonl')
    s.setDatasetTokenization(id, { tokenizerHash: 'f', template: 'plain', modelName: 'm' })
    s.close()
    const raw = new Database(file, { readonly: true })
    expect(raw.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION)
    expect(raw.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('models', 'dataset_tokenization') ORDER BY name").all()).toEqual([
      { name: 'dataset_tokenization' },
      { name: 'models' }
    ])
    raw.close()
  })
})
