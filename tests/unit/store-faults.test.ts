// The project store under faults (issue 11): a run whose recorded owner pid now belongs to an
// unrelated process (or whose owner ran on another host) is interrupted; a stuck run can be
// marked interrupted by hand; a file damaged in its middle is found by quick_check, opened
// read-only (no WAL switch, not a byte changed), refuses writes and says how to recover.
import { spawn, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync, closeSync } from 'node:fs'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { openProject, SCHEMA_VERSION, StoreError, type ProjectStore } from '../../src/main/store/index.ts'
import { ownerGone, processStart, thisProcess } from '../../src/main/store/process-owner.ts'
import { MIGRATIONS } from '../../src/main/store/migrations.ts'
import { defaultConfig } from '../../src/shared/config.ts'

let dir: string
let stores: ProjectStore[]
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'iwsft-faults-'))
  stores = []
})
afterEach(() => {
  for (const s of stores) s.close()
  rmSync(dir, { recursive: true, force: true })
})
const open = (name = 'p.iwsft', opts?: Parameters<typeof openProject>[1]): ProjectStore => {
  const s = openProject(join(dir, name), opts)
  stores.push(s)
  return s
}
const newRun = (s: ProjectStore, name: string): number => s.createRun({ name, config: defaultConfig('bandit'), datasetId: null, dataHash: null, backend: 'cpu', versions: {} })
const sha = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex')

// a live process that is not us: the stand-in for "an unrelated process that got the pid"
let other: ChildProcess
beforeAll(async () => {
  other = spawn('sleep', ['600'], { stdio: 'ignore' })
  await new Promise((r) => other.once('spawn', r))
})
afterAll(() => void other.kill('SIGKILL'))

describe('run owners: pid, start time and host', () => {
  it('reads a process start time that tells two processes with one pid apart', () => {
    const me = thisProcess()
    expect(me.pid).toBe(process.pid)
    expect(me.host).toBe(hostname())
    if (process.platform !== 'linux') return
    // boot id + starttime in clock ticks: stable for a process, different for another one
    expect(me.start).toMatch(/^[0-9a-f-]{36}:\d+$/)
    expect(processStart(process.pid)).toBe(me.start)
    expect(processStart(other.pid!)).toMatch(/^[0-9a-f-]{36}:\d+$/)
    expect(processStart(2147483000)).toBeNull()
    expect(ownerGone({ pid: other.pid!, start: processStart(other.pid!), host: me.host })).toBeNull()
  })

  it('a run whose pid now belongs to another process, or whose owner ran on another host, is interrupted; a live owner keeps its run', () => {
    if (process.platform !== 'linux') return
    const s = open()
    const reused = newRun(s, 'reused')
    const elsewhere = newRun(s, 'elsewhere')
    const alive = newRun(s, 'alive')
    const legacy = newRun(s, 'legacy')
    for (const id of [reused, elsewhere, alive, legacy]) s.setRunStatus(id, 'running')
    const db = new Database(join(dir, 'p.iwsft'))
    const set = db.prepare('UPDATE runs SET owner_pid = ?, owner_start = ?, owner_host = ? WHERE id = ?')
    const start = processStart(other.pid!)!
    // the pid is alive, but that process started at another time than the run's owner did
    set.run(other.pid, start.replace(/:\d+$/, ':1'), hostname(), reused)
    set.run(other.pid, start, 'gpu-box-7', elsewhere)
    set.run(other.pid, start, hostname(), alive)
    // recorded before owners had a start time: judged by the pid (alive here)
    set.run(other.pid, null, null, legacy)
    db.close()
    expect(s.markInterrupted().sort()).toEqual([reused, elsewhere].sort())
    expect(s.getRun(reused)!.error).toBe(
      `the run was left running: its process (pid ${other.pid}) ended before it finished; that pid now belongs to another process; resume it from its last checkpoint (iwsft resume ${reused}) or start it again`
    )
    expect(s.getRun(elsewhere)!.error).toMatch(/it was started on host "gpu-box-7", and its process \(pid \d+\) cannot be seen from/)
    expect(s.getRun(alive)!.status).toBe('running')
    expect(s.getRun(legacy)!.status).toBe('running')
    // the same check guards deleting a run whose owner lives
    expect(() => s.deleteRun(alive)).toThrow(/still running in process/)
    expect(() => s.deleteRun(reused)).not.toThrow()
  })

  it('records the owner of a run it creates and sets running', () => {
    const s = open()
    const id = newRun(s, 'r')
    s.setRunStatus(id, 'running')
    const db = new Database(join(dir, 'p.iwsft'), { readonly: true })
    const row = db.prepare('SELECT owner_pid, owner_start, owner_host FROM runs WHERE id = ?').get(id)
    db.close()
    expect(row).toEqual({ owner_pid: process.pid, owner_start: thisProcess().start, owner_host: hostname() })
  })

  it('marks a stuck run interrupted on request, and only a running or queued one', () => {
    const s = open()
    const id = newRun(s, 'stuck')
    s.setRunStatus(id, 'running')
    s.markRunInterrupted(id, 'marked interrupted by hand')
    expect(s.getRun(id)).toMatchObject({ status: 'interrupted', error: 'marked interrupted by hand' })
    expect(s.getRun(id)!.endedAt).not.toBeNull()
    expect(() => s.markRunInterrupted(id, 'again')).toThrow(/run \d+ is interrupted, not running or queued/)
  })

  it('upgrades a schema-2 file: its runs keep their pid and get no start time', () => {
    const file = join(dir, 'old.iwsft')
    const db = new Database(file)
    db.pragma('application_id = 0x49575346')
    for (let v = 0; v < 2; v++) MIGRATIONS[v].up(db)
    db.pragma('user_version = 2')
    db.prepare(`INSERT INTO runs (name, method, status, seed, config, versions, owner_pid, created_at) VALUES ('old', 'sft', 'running', 0, ?, '{}', ?, 'x')`).run(
      JSON.stringify(defaultConfig('bandit')),
      other.pid
    )
    db.close()
    const s = open('old.iwsft')
    expect(s.listRuns()[0].status).toBe('running') // the pid lives, and nothing more is known
    const raw = new Database(file, { readonly: true })
    expect(raw.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION)
    expect(raw.prepare('SELECT owner_start, owner_host FROM runs').get()).toEqual({ owner_start: null, owner_host: null })
    raw.close()
  })
})

/** A project with enough metric rows that its middle pages are b-tree pages, in rollback-journal mode (as a copied file is). */
function makeProject(file: string): { runs: number[] } {
  const s = openProject(file)
  const runs: number[] = []
  for (let r = 0; r < 6; r++) {
    const id = newRun(s, `run ${r}`)
    runs.push(id)
    for (let step = 0; step < 600; step += 100)
      s.appendMetrics(
        id,
        Array.from({ length: 100 }, (_, k) => ({ step: step + k, key: 'loss', value: 1 / (step + k + 1) }))
      )
    s.setRunStatus(id, 'completed')
  }
  s.close()
  const db = new Database(file)
  db.pragma('journal_mode = DELETE')
  db.close()
  return { runs }
}

/** Overwrite one page in the middle of the file with garbage. */
function damageMiddle(file: string): void {
  const size = statSync(file).size
  const page = 4096
  const fd = openSync(file, 'r+')
  writeSync(fd, Buffer.alloc(page, 0xa5), 0, page, Math.floor(size / page / 2) * page)
  closeSync(fd)
}

describe('a damaged project file', () => {
  it('is found on open, opened read-only without touching a byte, and every write is refused with the way to recover', () => {
    const file = join(dir, 'hurt.iwsft')
    makeProject(file)
    damageMiddle(file)
    const before = sha(file)
    const s = open('hurt.iwsft')
    expect(s.readonly).toBe(true)
    expect(s.damage).toMatch(
      new RegExp(
        `^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is damaged: PRAGMA quick_check (found .+ \\(the first: ".+"\\)|stopped on it \\(".+"\\)); it was opened read-only, so nothing more is lost$`
      )
    )
    expect(() => newRun(s, 'x')).toThrow(StoreError)
    expect(() => newRun(s, 'x')).toThrow(
      `${file}: cannot create run: the file is damaged and was opened read-only; copy what can be read into a new project with \`iwsft project recover ${file} --out NEW.iwsft\``
    )
    expect(s.markInterrupted()).toEqual([])
    s.close()
    expect(sha(file)).toBe(before)
    // never switched to WAL
    expect(existsSync(`${file}-wal`)).toBe(false)
    const raw = new Database(file, { readonly: true })
    expect(raw.pragma('journal_mode', { simple: true })).toBe('delete')
    raw.close()
  })

  it('a sound file passes the check and opens for writing; quickCheck: false skips it', () => {
    const file = join(dir, 'fine.iwsft')
    makeProject(file)
    const s = open('fine.iwsft')
    expect(s.readonly).toBe(false)
    expect(s.damage).toBeNull()
    s.close()
    damageMiddle(file)
    expect(open('fine.iwsft', { quickCheck: false }).damage).toBeNull()
  })
})
