// Runs of other processes, live (issue 16): a run started by `iwsft run` in a child process
// appears through the services' event stream (run.start, project.changed), its metrics arrive as
// run.metrics with the values the child wrote to the project, its progress as run.progress, and
// its end as run.end — without any request from the app. runs.list marks it "elsewhere".
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { EventName, EventPayloads } from '../../src/shared/contract.ts'
import { resolveConfig } from '../../src/shared/config.ts'
import { createServices } from '../../src/main/services/index.ts'
import { openProject } from '../../src/main/store/index.ts'

const BIN = resolve('bin/iwsft.mjs')
const dir = mkdtempSync(join(tmpdir(), 'iwsft-watch-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

async function until<T>(f: () => T | undefined, what: string, ms = 90_000): Promise<T> {
  const t0 = Date.now()
  for (;;) {
    const v = f()
    if (v !== undefined && v !== false) return v
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

describe('the services follow the project file', () => {
  it('emit run.start, run.metrics, run.progress and run.end for a run of another process', async () => {
    const file = join(dir, 'w.iwsft')
    const sv = await createServices({ projectFile: file, transport: 'cli', watchMs: 100 })
    const events: Array<{ e: EventName; p: unknown }> = []
    sv.subscribe((e, p) => void events.push({ e, p }))
    const of = <E extends EventName>(e: E): Array<EventPayloads[E]> => events.filter((x) => x.e === e).map((x) => x.p as EventPayloads[E])
    try {
      expect(await sv.call('runs.list', {})).toEqual([])
      const cfg = join(dir, 'run.json')
      writeFileSync(
        cfg,
        JSON.stringify({ dataset: 'bandit', backend: 'cpu', dataset_options: { pulls: 300 }, train: { steps: 3000, batch_size: 16, log_every: 10, eval_every: 500, snapshot_every: 1000 } })
      )
      const child = spawn(process.execPath, [BIN, 'run', cfg, '--project', file], { cwd: dir, stdio: 'ignore' })
      const exited = new Promise<number | null>((r) => child.on('exit', r))

      const start = await until(() => of('run.start')[0], 'run.start')
      expect(start.total).toBe(3000)
      await until(() => of('project.changed').some((p) => p.what === 'runs'), 'project.changed runs')
      // while it runs: listed as running elsewhere, with the progress the watcher read
      await until(() => of('run.progress').length >= 2, 'two run.progress events')
      const listed = (await sv.call('runs.list', {})).find((r) => r.id === start.runId)!
      if (listed.status === 'running') {
        expect(listed.elsewhere).toBe(true)
        expect(listed.live?.total).toBe(3000)
      }
      const prog = of('run.progress')
      expect(prog.every((p) => p.runId === start.runId && p.phase === 'train' && p.total === 3000)).toBe(true)
      expect(prog.map((p) => p.step)).toEqual([...prog.map((p) => p.step)].sort((a, b) => a - b))

      expect(await exited).toBe(0)
      const end = await until(() => of('run.end')[0], 'run.end')
      expect(end).toMatchObject({ runId: start.runId, status: 'completed' })

      // every logged loss reached the event stream once, with the value the child stored
      const store = openProject(file, { readonly: true })
      const stored = store.getMetrics(start.runId, ['loss'])
      store.close()
      expect(stored.length).toBe(300)
      const streamed = of('run.metrics').filter((m) => 'loss' in m.metrics)
      expect(streamed.map((m) => m.step)).toEqual(stored.map((p) => p.step))
      expect(streamed.map((m) => m.metrics.loss)).toEqual(stored.map((p) => p.value))
      expect(end.final.loss).toBe(stored.at(-1)!.value)
      expect((await sv.call('runs.get', { runId: start.runId })).elsewhere).toBe(false)
    } finally {
      await sv.shutdown()
    }
  })

  it('stays quiet when nobody else writes, and announces a run deleted by another process', async () => {
    const file = join(dir, 'q.iwsft')
    const other = openProject(file)
    const sv = await createServices({ projectFile: file, transport: 'cli', watchMs: 50 })
    const events: EventName[] = []
    sv.subscribe((e) => void events.push(e))
    try {
      await new Promise((r) => setTimeout(r, 400))
      expect(events).toEqual([])
      // a second connection in this process stands for another process's finished run
      const id = other.createRun({ name: 'x', config: resolveConfig({ dataset: 'bandit' }), datasetId: null, dataHash: null, backend: 'cpu', versions: {} })
      await until(() => events.includes('project.changed'), 'project.changed for a new run')
      expect((await sv.call('runs.list', {})).map((r) => r.id)).toEqual([id])
      events.length = 0
      other.deleteRun(id)
      await until(() => events.includes('project.changed'), 'project.changed for a deleted run')
      expect(await sv.call('runs.list', {})).toEqual([])
    } finally {
      other.close()
      await sv.shutdown()
    }
  })
})
