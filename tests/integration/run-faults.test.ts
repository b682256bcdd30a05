// Runs under faults (issue 11): another process holding the project's write lock for longer
// than the busy timeout while a run writes; Ctrl+C (SIGINT) and SIGTERM on `iwsft run`; a run
// stuck as running (its pid alive but another process) resumed with --force or marked
// interrupted through the services; a damaged project opened from the command line and
// recovered with `iwsft project recover`.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { executeRun } from '../../src/main/jobs/execute-run.ts'
import { materializeBuiltin } from '../../src/main/jobs/builtin-datasets.ts'
import { openProject } from '../../src/main/store/index.ts'
import { processStart } from '../../src/main/store/process-owner.ts'
import { createServices } from '../../src/main/services/index.ts'
import { quickBandit } from '../helpers/configs.ts'

const BIN = resolve(import.meta.dirname, '../../bin/iwsft.mjs')
const dir = mkdtempSync(join(tmpdir(), 'iwsft-faults-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const iwsft = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { cwd: dir, encoding: 'utf8', timeout: 180_000 })

/** A second process that takes the project's write lock (BEGIN IMMEDIATE) when `trigger` appears
 *  and holds it for `holdMs`. */
function lockHolder(file: string, trigger: string, holdMs: number): ChildProcess {
  const script = `
    const Database = require(${JSON.stringify(require.resolve('better-sqlite3'))})
    const fs = require('node:fs')
    const wait = setInterval(() => {
      if (!fs.existsSync(${JSON.stringify(trigger)})) return
      clearInterval(wait)
      const db = new Database(${JSON.stringify(file)})
      db.exec('BEGIN IMMEDIATE')
      setTimeout(() => { db.exec('COMMIT'); db.close(); process.exit(0) }, ${holdMs})
    }, 5)`
  return spawn(process.execPath, ['-e', script], { stdio: 'ignore' })
}

/** Block until another connection holds the write lock (a try with busy_timeout 0 fails). */
function waitUntilLocked(file: string, ms = 20_000): void {
  const probe = new Database(file)
  probe.pragma('busy_timeout = 0')
  const t0 = Date.now()
  try {
    for (;;) {
      try {
        probe.exec('BEGIN IMMEDIATE')
        probe.exec('ROLLBACK')
      } catch (e) {
        if (String((e as { code?: string }).code).startsWith('SQLITE_BUSY')) return
        throw e
      }
      if (Date.now() - t0 > ms) throw new Error('the lock holder never took the lock')
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5)
    }
  } finally {
    probe.close()
  }
}

describe('a busy database', () => {
  it('a run writing metrics waits out another process holding the write lock longer than its busy timeout, and completes', async () => {
    const file = join(dir, 'busy.iwsft')
    const trigger = join(dir, 'lock-now')
    // busy timeout 200 ms; the other process holds the lock 1.5 s, from the run's 20th step on
    const store = openProject(file, { busyTimeoutMs: 200 })
    const config = quickBandit({ train: { ...quickBandit().train, steps: 60, log_every: 5 } })
    await materializeBuiltin(store, 'bandit', { seed: config.seed, ...config.dataset_options })
    const holder = lockHolder(file, trigger, 1500)
    const exited = new Promise((r) => holder.on('exit', r))
    let lockedAt = -1
    const t0 = Date.now()
    const end = await executeRun(store, config, {
      onEvent: (e) => {
        if (e.type === 'metrics' && e.step === 20) {
          writeFileSync(trigger, '')
          waitUntilLocked(file)
          lockedAt = Date.now()
        }
      }
    })
    await exited
    expect(lockedAt).toBeGreaterThan(0)
    expect(end.status).toBe('completed')
    expect(end.error).toBeUndefined()
    // the writes after step 20 waited for the lock to go
    expect(Date.now() - t0).toBeGreaterThan(1400)
    const run = store.getRun(end.runId)!
    expect(run.status).toBe('completed')
    expect(store.getMetrics(end.runId, ['loss']).map((m) => m.step)).toEqual(Array.from({ length: 12 }, (_, i) => 5 * (i + 1)))
    expect(store.listCheckpoints(end.runId).map((c) => c.step)).toEqual([60])
    store.close()
  }, 120_000)
})

/** Start `iwsft run` on a long bandit run and wait until it has logged `minMetrics` rows. */
async function startLongRun(file: string, cfg: string): Promise<ChildProcess> {
  writeFileSync(
    cfg,
    JSON.stringify({
      dataset: 'bandit',
      backend: 'cpu',
      dataset_options: { pulls: 300 },
      train: { steps: 1_000_000, batch_size: 16, log_every: 5, checkpoint_every: 1000, snapshot_every: 1000 }
    })
  )
  const child = spawn(process.execPath, [BIN, 'run', cfg, '--project', file], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
  const t0 = Date.now()
  for (;;) {
    await new Promise((r) => setTimeout(r, 200))
    if (existsSync(file)) {
      const db = new Database(file, { readonly: true, fileMustExist: true })
      let n = 0
      try {
        n = (db.prepare('select count(*) n from metrics').get() as { n: number }).n
      } catch (e) {
        // the file exists before the child's schema transaction commits: look again
        if (!/no such table/.test(String(e))) throw e
      } finally {
        db.close()
      }
      if (n > 40) return child
    }
    if (Date.now() - t0 > 90_000) throw new Error('the run never logged metrics')
  }
}

describe('signals on `iwsft run`', () => {
  for (const [sig, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143]
  ] as const) {
    it(`${sig} cancels the run: status cancelled, a last checkpoint where it stopped, exit ${code}`, async () => {
      const file = join(dir, `${sig}.iwsft`)
      const child = await startLongRun(file, join(dir, `${sig}.json`))
      let stderr = ''
      child.stderr!.on('data', (d) => (stderr += d))
      const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)))
      child.kill(sig)
      expect(await exited).toBe(code)
      expect(stderr).toMatch(new RegExp(`${sig}: cancelling run \\d+ at its next step`))
      // no reopen needed: the run is already marked, in the file as written
      const db = new Database(file, { readonly: true })
      const run = db.prepare('SELECT id, status, last_step FROM runs').get() as { id: number; status: string; last_step: number }
      const ckpts = db.prepare('SELECT step FROM checkpoints WHERE run_id = ? ORDER BY step').all(run.id) as Array<{ step: number }>
      db.close()
      expect(run.status).toBe('cancelled')
      // checkpoint_every 1000 was never reached: the one there is where the run stopped
      expect(ckpts).toHaveLength(1)
      expect(ckpts[0].step).toBeGreaterThanOrEqual(run.last_step)
      expect(ckpts[0].step).toBeLessThan(run.last_step + 5)
    }, 150_000)
  }
})

describe('a run stuck as running', () => {
  let other: ChildProcess
  beforeAll(async () => {
    other = spawn('sleep', ['600'], { stdio: 'ignore' })
    await new Promise((r) => other.once('spawn', r))
  })
  afterAll(() => void other.kill('SIGKILL'))

  /** A stopped run with a checkpoint, then recorded as running in a live, unrelated process. */
  async function stuckRun(file: string): Promise<number> {
    const store = openProject(file)
    const end = await executeRun(store, quickBandit({ train: { ...quickBandit().train, steps: 600, checkpoint_every: 100 } }), {
      signal: AbortSignal.timeout(300)
    })
    store.close()
    const db = new Database(file)
    db.prepare("UPDATE runs SET status = 'running', owner_pid = ?, owner_start = ?, owner_host = NULL WHERE id = ?").run(other.pid, processStart(other.pid!), end.runId)
    db.close()
    return end.runId
  }

  it('iwsft resume refuses it and says to use --force; --force marks it interrupted and resumes it to the end', async () => {
    const file = join(dir, 'stuck.iwsft')
    const id = await stuckRun(file)
    const plain = iwsft(['resume', String(id), '--project', file])
    expect(plain.status).toBe(2)
    expect(plain.stderr).toContain(`run ${id} is recorded as running; if no process is running it any more (it was killed, or the machine restarted), resume it with --force`)
    const forced = iwsft(['resume', String(id), '--force', '--project', file, '--json'])
    expect(forced.stderr).toContain(`run ${id} was running; marked interrupted (--force)`)
    expect(forced.status).toBe(0)
    const store = openProject(file)
    expect(store.getRun(id)).toMatchObject({ status: 'completed', lastStep: 600 })
    store.close()
  }, 150_000)

  it("runs.markInterrupted marks it (the app's action); a run this back end runs, or one that ended, is refused", async () => {
    const file = join(dir, 'mark.iwsft')
    const id = await stuckRun(file)
    const sv = await createServices({ projectFile: file, transport: 'http' })
    try {
      expect((await sv.call('runs.get', { runId: id })).status).toBe('running')
      expect(await sv.call('runs.markInterrupted', { runId: id })).toEqual({ ok: true })
      const run = await sv.call('runs.get', { runId: id })
      expect(run.status).toBe('interrupted')
      expect(run.error).toMatch(/^marked interrupted by hand on .*: its process was taken to be gone/)
      await expect(sv.call('runs.markInterrupted', { runId: id })).rejects.toThrow(/is interrupted, not stuck as running/)
      const c = quickBandit()
      const [live] = (await sv.call('runs.start', { config: { ...c, train: { ...c.train, steps: 100_000 } }, seeds: [0] })).runIds
      await expect(sv.call('runs.markInterrupted', { runId: live })).rejects.toThrow(/is running here, in this back end; cancel it instead/)
      await sv.call('runs.cancel', { runId: live })
    } finally {
      await sv.shutdown()
    }
  }, 150_000)
})

describe('a damaged project on the command line', () => {
  it('opens read-only with a warning, refuses to write, and `iwsft project recover` copies it into a sound project', () => {
    const file = join(dir, 'hurt.iwsft')
    const cfg = join(dir, 'q.yaml')
    writeFileSync(cfg, 'dataset: bandit\nbackend: cpu\ndataset_options: { pulls: 300 }\ntrain: { steps: 30, batch_size: 16, log_every: 1 }\n')
    for (let i = 0; i < 3; i++) expect(iwsft(['run', cfg, '--seed', String(i), '--project', file]).status).toBe(0)
    // rollback-journal mode, then garbage over a page in the middle of the file
    const db = new Database(file)
    db.pragma('journal_mode = DELETE')
    db.close()
    const size = statSync(file).size
    const fd = openSync(file, 'r+')
    writeSync(fd, Buffer.alloc(4096, 0x5a), 0, 4096, Math.floor(size / 4096 / 2) * 4096)
    closeSync(fd)

    const list = iwsft(['runs', '--project', file])
    expect(list.stderr).toMatch(
      /^warning: .*hurt\.iwsft is damaged: PRAGMA quick_check .*; it was opened read-only, so nothing more is lost; copy what can be read into a new project with `iwsft project recover .*hurt\.iwsft --out NEW\.iwsft`/m
    )
    const write = iwsft(['run', cfg, '--project', file])
    expect(write.status).not.toBe(0)
    // (the run's first write: its built-in dataset, or the run row)
    expect(write.stderr).toMatch(/cannot (put dataset|create run): the file is damaged and was opened read-only/)
    expect(existsSync(`${file}-wal`)).toBe(false)

    const out = join(dir, 'saved.iwsft')
    const r = iwsft(['project', 'recover', file, '--out', out, '--json'])
    expect(r.status).toBe(0)
    const report = JSON.parse(r.stdout.trim().split('\n').pop()!)
    expect(report.out).toBe(out)
    const runs = report.tables.find((t: { table: string }) => t.table === 'runs')
    expect(runs.copied).toBe(3)
    const check = new Database(out, { readonly: true })
    expect(check.pragma('integrity_check', { simple: true })).toBe('ok')
    expect(check.pragma('foreign_key_check')).toEqual([])
    check.close()
    const after = JSON.parse(iwsft(['runs', '--json', '--project', out]).stdout) as Array<{ status: string }>
    expect(after.map((x) => x.status)).toEqual(['completed', 'completed', 'completed'])
    expect(iwsft(['project', 'recover', file, '--out', out]).stderr).toMatch(/saved\.iwsft already exists/)
  }, 150_000)
})
