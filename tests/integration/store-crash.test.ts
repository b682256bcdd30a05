// A training worker killed with SIGKILL in the middle of writing metrics must leave a sound
// project file: integrity_check passes, its run becomes 'interrupted' on the next open, and
// every metrics batch it committed is there, whole.
import { describe, it, expect, afterAll } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import { openProject } from '../../src/main/store/index.ts'

const here = dirname(fileURLToPath(import.meta.url))
const root = resolve(here, '../..')
const writer = join(here, 'fixtures', 'store-writer.ts')
const dir = mkdtempSync(join(tmpdir(), 'iwsft-crash-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Spawn the writer; `waitFor(n)` resolves once it has printed "STEP n" (or later). */
function startWriter(file: string) {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', writer, file], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  let runId = -1
  let lastStep = -1
  const waiters: Array<{ n: number; resolve: () => void }> = []
  child.stdout!.setEncoding('utf8')
  child.stderr!.setEncoding('utf8')
  child.stderr!.on('data', (d: string) => (err += d))
  child.stdout!.on('data', (d: string) => {
    out += d
    const lines = out.split('\n')
    out = lines.pop()!
    for (const line of lines) {
      const run = /^RUN (\d+) PID (\d+)$/.exec(line)
      if (run) runId = Number(run[1])
      const step = /^STEP (\d+)$/.exec(line)
      if (step) lastStep = Number(step[1])
    }
    for (const w of waiters.splice(0)) {
      if (lastStep >= w.n) w.resolve()
      else waiters.push(w)
    }
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.on('close', (code, signal) => res({ code, signal })))
  const waitFor = (n: number): Promise<void> =>
    new Promise((res, rej) => {
      if (lastStep >= n) return res()
      const timer = setTimeout(() => rej(new Error(`writer did not reach step ${n} in 60 s (last ${lastStep}); stderr:\n${err}`)), 60_000)
      waiters.push({ n, resolve: () => (clearTimeout(timer), res()) })
      void exited.then(() => rej(new Error(`writer exited before step ${n} (last ${lastStep}); stderr:\n${err}`)))
    })
  return { child, exited, waitFor, runId: () => runId, lastStep: () => lastStep }
}

describe('store crash safety', () => {
  for (const killAt of [150, 400, 1000]) {
    it(`a worker killed with SIGKILL after step ${killAt} leaves a sound file and an interrupted run`, async () => {
      const file = join(dir, `crash-${killAt}.iwsft`)
      const w = startWriter(file)
      await w.waitFor(Math.floor(killAt / 2))

      // The UI opens the project while the worker writes: the live worker's run stays running,
      // and what it committed so far is readable.
      const ui = openProject(file)
      const runId = w.runId()
      expect(runId).toBeGreaterThan(0)
      expect(ui.getRun(runId)!.status).toBe('running')
      expect(ui.markInterrupted()).toEqual([])
      const seen = ui.getMetrics(runId, ['loss']).length
      expect(seen).toBeGreaterThanOrEqual(Math.floor(killAt / 2) + 1)

      await w.waitFor(killAt)
      w.child.kill('SIGKILL')
      const { signal } = await w.exited
      expect(signal).toBe('SIGKILL')
      const printed = w.lastStep() // every step printed was committed before the print
      ui.close()

      // reopen: openProject runs markInterrupted
      const store = openProject(file)
      try {
        const db = new Database(file, { readonly: true })
        expect(db.pragma('integrity_check', { simple: true })).toBe('ok')
        expect(db.pragma('foreign_key_check')).toEqual([])
        db.close()

        const run = store.getRun(runId)!
        expect(run.status).toBe('interrupted')
        expect(run.endedAt).not.toBeNull()
        expect(run.error).toMatch(/pid \d+\) ended before it finished/)

        const byKey = (k: string) => store.getMetrics(runId, [k])
        const loss = byKey('loss')
        const last = loss[loss.length - 1].step
        expect(last).toBeGreaterThanOrEqual(printed) // nothing committed was lost
        expect(last).toBeLessThanOrEqual(printed + 1) // at most the batch in flight when killed
        // steps 0..last, each one whole (three keys, from one transaction), with the right values
        expect(loss.map((m) => m.step)).toEqual(Array.from({ length: last + 1 }, (_, i) => i))
        expect(loss.every((m) => m.value === 1 / (m.step + 1))).toBe(true)
        expect(byKey('ess').map((m) => [m.step, m.value])).toEqual(loss.map((m) => [m.step, m.step % 7]))
        expect(byKey('lr').map((m) => m.step)).toEqual(loss.map((m) => m.step))
        expect(run.lastStep).toBe(last)
        expect(store.metricKeys(runId)).toEqual(['ess', 'loss', 'lr'])

        // the project is still writable after the crash
        store.appendMetrics(runId, [{ step: last + 1, key: 'loss', value: 0 }])
        expect(store.getRun(runId)!.lastStep).toBe(last + 1)
      } finally {
        store.close()
      }
    })
  }
})
