// Renaming and deleting runs in the store (issue 16): a name is trimmed and 1–200 characters;
// deleting removes the run with everything it saved in one transaction, and refuses a run that a
// live process is still running (checked under the same write lock).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { defaultConfig } from '../../src/shared/config.ts'
import { openProject, SCHEMA_VERSION, StoreError, type ProjectStore } from '../../src/main/store/index.ts'
import { MIGRATIONS } from '../../src/main/store/migrations.ts'

let dir: string
let store: ProjectStore
let file: string
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'iwsft-runmanage-'))
  file = join(dir, 'p.iwsft')
  store = openProject(file)
})
afterEach(() => {
  store.close()
  rmSync(dir, { recursive: true, force: true })
})

function aRun(): number {
  const id = store.createRun({ name: 'first', config: defaultConfig('bandit'), datasetId: null, dataHash: null, backend: 'cpu', versions: {} })
  store.appendMetrics(id, [
    { step: 10, key: 'loss', value: 0.5 },
    { step: 20, key: 'loss', value: 0.25 }
  ])
  store.putWeightSnapshot(id, { step: 20, traceIndex: new Int32Array([0, 1]), logWRaw: new Float32Array([0.1, -0.2]), w: new Float32Array([1.1, 0.8]) })
  store.putCheckpoint(id, 20, [{ name: 'w', shape: [2], data: new Float32Array([1, 2]) }], { policy: null }, {})
  return id
}

describe('renaming a run', () => {
  it('trims the name and refuses an empty or too long one, or a run that is not there', () => {
    const id = aRun()
    store.renameRun(id, '  baseline  ')
    expect(store.getRun(id)!.name).toBe('baseline')
    expect(() => store.renameRun(id, '   ')).toThrow(/1 to 200 characters, got 0/)
    expect(() => store.renameRun(id, 'x'.repeat(201))).toThrow(/1 to 200 characters, got 201/)
    expect(store.getRun(id)!.name).toBe('baseline')
    expect(() => store.renameRun(id + 1, 'b')).toThrow(/there is no run/)
  })
})

describe('deleting a run', () => {
  it('removes it with its metrics, snapshots and checkpoints', () => {
    const id = aRun()
    const keep = aRun()
    store.setRunStatus(id, 'completed')
    store.deleteRun(id)
    expect(store.getRun(id)).toBeNull()
    expect(store.getMetrics(id)).toEqual([])
    expect(store.listSnapshotSteps(id)).toEqual([])
    expect(store.listCheckpoints(id)).toEqual([])
    // the other run keeps all of its own
    expect(store.getMetrics(keep)).toHaveLength(2)
    expect(store.listCheckpoints(keep)).toHaveLength(1)
  })

  it('refuses a run a live process is running, and changes nothing', () => {
    const id = aRun()
    // recorded as running by another live process (our parent; no start time: judged by pid)
    const raw = new Database(file)
    raw.prepare("UPDATE runs SET status = 'running', owner_pid = ?, owner_start = NULL, owner_host = NULL WHERE id = ?").run(process.ppid, id)
    raw.close()
    expect(() => store.deleteRun(id)).toThrow(StoreError)
    expect(() => store.deleteRun(id)).toThrow(/still running in process \d+; cancel it first/)
    expect(store.getRun(id)!.status).toBe('running')
    expect(store.getMetrics(id)).toHaveLength(2)
    expect(store.listCheckpoints(id)).toHaveLength(1)
  })
})

describe('migration 5: the BC reference cache', () => {
  it('adds an empty bc_references table to a version-4 project and keeps its runs', () => {
    const old = join(dir, 'v4.iwsft')
    const db = new Database(old)
    db.pragma('application_id = 0x49575346')
    for (const m of MIGRATIONS.slice(0, 4)) m.up(db)
    db.pragma('user_version = 4')
    db.prepare("INSERT INTO runs (name, method, status, seed, config, versions, created_at) VALUES ('kept', 'bc', 'completed', 0, ?, '{}', '2026-01-01')").run(
      JSON.stringify(defaultConfig('bandit'))
    )
    db.close()
    expect(SCHEMA_VERSION).toBeGreaterThanOrEqual(5)
    const s = openProject(old)
    expect(s.listRuns().map((r) => r.name)).toEqual(['kept'])
    expect(s.listBcReferences()).toEqual([])
    s.putBcReference({ key: 'k', dataHash: 'h', dataLabel: null, settings: { steps: 3 }, backend: 'cpu', tensors: [{ name: 'w', shape: [2], data: new Float32Array([1, 2]) }], trainMs: 12 })
    expect(Array.from(s.getBcReference('k')!.tensors[0].data)).toEqual([1, 2])
    expect(s.getBcReference('k')!.trainMs).toBe(12)
    expect(s.getBcReference('other')).toBeNull()
    s.close()
  })
})
