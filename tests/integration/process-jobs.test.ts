// Jobs in a separate process (how the desktop app runs them, in an Electron utilityProcess):
// the same protocol as worker threads — input as the first message, progress and end events
// back, cancel — and a crash of the job process ends the job, not the caller.
import { fork } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { setJobSpawner, startRun, type JobChannel, type JobSpawner } from '../../src/main/jobs/runner.ts'
import type { RunEvent } from '../../src/main/jobs/types.ts'
import { openProject } from '../../src/main/store/index.ts'
import { quickBandit } from '../helpers/configs.ts'

const dir = mkdtempSync(join(tmpdir(), 'iwsft-procjobs-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
afterEach(() => setJobSpawner(null))

const SHIM = resolve(__dirname, 'fixtures/utility-shim.mjs')
const pids: number[] = []

/** Mirrors utilityProcessSpawner (src/main/electron/utility-jobs.ts) with child_process.fork. */
const processSpawner: JobSpawner = (input) => {
  const child = fork(SHIM, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
  pids.push(child.pid!)
  child.send({ type: 'start', input })
  return {
    on(event: 'message' | 'error' | 'exit', f: (x: never) => void): void {
      if (event === 'exit') child.on('exit', (code) => (f as (c: number) => void)(code ?? 1))
      else child.on(event, f as (x: unknown) => void)
    },
    postMessage: (m) => child.send(m)
  } as JobChannel
}

describe('jobs in a separate process', () => {
  it('a run completes with progress and its metrics in the project', async () => {
    setJobSpawner(processSpawner)
    const file = join(dir, 'a.iwsft')
    const events: RunEvent['type'][] = []
    const h = startRun(file, quickBandit(), (e) => events.push(e.type))
    const end = await h.done
    expect(end.status).toBe('completed')
    expect(events).toContain('start')
    expect(events).toContain('metrics')
    const store = openProject(file)
    expect(store.getMetrics(end.runId, ['loss']).length).toBe(6)
    store.close()
  })

  it('cancel stops it; killing the job process marks the run interrupted and leaves the caller running', async () => {
    setJobSpawner(processSpawner)
    const file = join(dir, 'b.iwsft')
    const long = quickBandit({ train: { ...quickBandit().train, steps: 500_000, log_every: 50 } })
    const h1 = startRun(file, long, () => {})
    await h1.runId
    await new Promise((r) => setTimeout(r, 500))
    h1.cancel()
    expect((await h1.done).status).toBe('cancelled')

    const h2 = startRun(file, long, () => {})
    const id = await h2.runId
    await new Promise((r) => setTimeout(r, 500))
    process.kill(pids[pids.length - 1], 'SIGKILL')
    await expect(h2.done).rejects.toThrow(/exited with code/)
    await new Promise((r) => setTimeout(r, 300))
    const store = openProject(file)
    expect(store.getRun(id)!.status).toBe('interrupted')
    store.close()
  })
})
