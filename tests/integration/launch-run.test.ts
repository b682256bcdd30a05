// Runs on the Python trainer through the services (issue 18), with a fake trainer standing in
// for python/trainer (tests/fixtures/fake-trainer.mjs writes the stream JOB_SPEC describes; the
// lead's end-to-end swaps in the real trainer by leaving out `trainerCommand`): metrics and
// weight snapshots reach the project while it runs, it ends completed with its final model added;
// SIGKILL of the trainer leaves the run interrupted; runs.cancel stops it (cancelled).
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { EventPayloads } from '../../src/shared/contract.ts'
import type { Services } from '../../src/main/services/index.ts'
import { FAKE_TRAINER, llmConfig, makeLlmProject, services } from './launch-helpers.ts'

const dir = mkdtempSync(join(tmpdir(), 'iwsft-launch-run-'))
const savedCache = process.env.IWSFT_CACHE_DIR
let s: Services
let datasetId = 0
let file = ''

beforeAll(async () => {
  process.env.IWSFT_CACHE_DIR = join(dir, 'cache') // no venv here: only the fake trainer runs
  ;({ datasetId, file } = await makeLlmProject(dir))
  s = await services(file, { trainerCommand: [process.execPath, FAKE_TRAINER, '--delay', '150'] })
})
afterAll(async () => {
  await s?.shutdown()
  if (savedCache === undefined) delete process.env.IWSFT_CACHE_DIR
  else process.env.IWSFT_CACHE_DIR = savedCache
  rmSync(dir, { recursive: true, force: true })
})

/** the first event `name` of run `runId` that `pred` accepts */
function next<E extends 'run.metrics' | 'run.end'>(name: E, runId: () => number | null, pred: (p: EventPayloads[E]) => boolean = () => true): Promise<EventPayloads[E]> {
  return new Promise((res) => {
    const off = s.subscribe((event, payload) => {
      const p = payload as EventPayloads[E]
      if ((event as string) === name && (p as { runId: number }).runId === runId() && pred(p)) {
        off()
        res(p)
      }
    })
  })
}

describe('launch.start with a fake trainer', () => {
  it('records the run live and ends completed, with its final model added', async () => {
    let id: number | null = null
    const firstMetrics = next('run.metrics', () => id)
    const ended = next('run.end', () => id)
    const started = await s.call('launch.start', {
      config: llmConfig(datasetId, { train: { steps: 6, batch_size: 4, loss_norm: 'token', log_every: 2, snapshot_every: 3, checkpoint_every: 3 } })
    })
    id = started.runId
    expect(started.dir).toBe(join(dir, 'jobs', `${id}-tiny-llama-iw-sft`))
    expect(started.command).toBe(`${process.execPath} ${FAKE_TRAINER} --delay 150 ${started.dir}`)
    const m = await firstMetrics
    expect(m).toEqual({ runId: id, step: 2, metrics: { loss: 2.5, lr: expect.any(Number), grad_norm: 1, tokens_per_s: 100 } })
    // while it runs: the row is running, live, and the metric is in the project
    const during = await s.call('runs.get', { runId: id })
    expect(during).toMatchObject({ status: 'running', backend: 'accelerate', elsewhere: false })
    expect(during.live).toMatchObject({ phase: 'train', total: 6 })
    expect((await s.call('runs.metrics', { runIds: [id], keys: ['loss'] }))[0].series.loss.steps).toContain(2)
    const end = await ended
    expect(end).toMatchObject({ runId: id, status: 'completed', final: { loss: 2 + 1 / 6 } })
    const run = await s.call('runs.get', { runId: id })
    expect(run.status).toBe('completed')
    expect(run.versions).toMatchObject({
      torch: 'fake-torch',
      trl: 'fake-trl',
      world_size: '1',
      device: 'cpu',
      job_dir: started.dir,
      final_model: 'tiny llama iw-sft',
      final_model_path: join(started.dir, 'final-model')
    })
    expect(JSON.parse(run.versions.checkpoints)).toEqual({ '3': 'checkpoints/step-3 (hf)', '6': 'checkpoints/step-6 (hf)' })
    expect(run.versions.job_id).toBe(JSON.parse(readFileSync(join(started.dir, 'job.json'), 'utf8')).job_id)
    const loss = (await s.call('runs.metrics', { runIds: [id], keys: ['loss'] }))[0].series.loss
    expect(loss).toEqual({ steps: [2, 4, 6], values: [2.5, 2 + 1 / 4, 2 + 1 / 6] })
    // the weight snapshots, as the fake trainer's formulas give them
    expect(await s.call('runs.snapshotSteps', { runId: id })).toEqual([3, 6])
    const snap = await s.call('runs.snapshot', { runId: id, step: 3 })
    expect(snap.traceIndex).toEqual([1, 2, 4, 5, 7])
    expect(snap.version).toBe(2)
    snap.logWRaw.forEach((v, k) => expect(v).toBeCloseTo(-(k + 1) / 13, 6))
    expect(snap.mass).toEqual([1, 1, 1, 1, 1])
    expect(snap.batch!.traceIndex).toEqual(JSON.parse(readFileSync(join(started.dir, 'batches.json'), 'utf8')).batches[2])
    // the final model is a model of the project, at the job's final-model folder
    const model = (await s.call('models.list', {})).find((x) => x.name === 'tiny llama iw-sft')
    expect(model?.path).toBe(join(started.dir, 'final-model'))
    expect(readFileSync(join(started.dir, 'trainer.log'), 'utf8')).toMatch(/fake trainer: world size 1/)
  })

  it('SIGKILL of the trainer leaves the run interrupted', async () => {
    let id: number | null = null
    const first = next('run.metrics', () => id)
    const ended = next('run.end', () => id)
    const started = await s.call('launch.start', { config: llmConfig(datasetId, { name: 'killed', train: { steps: 40, batch_size: 4, log_every: 1 } }) })
    id = started.runId
    await first
    process.kill(Number(readFileSync(join(started.dir, 'fake-trainer.pid'), 'utf8')), 'SIGKILL')
    const end = await ended
    expect(end.status).toBe('failed')
    expect(end.error).toMatch(/^interrupted: .*signal SIGKILL/)
    const run = await s.call('runs.get', { runId: id })
    expect(run.status).toBe('interrupted')
    expect(run.error).toMatch(/without the stream's end/)
    expect(readFileSync(join(started.dir, 'stream.jsonl'), 'utf8')).not.toMatch(/"type":"end"/)
    // an interrupted run of the Python trainer does not resume through the engine
    await expect(s.call('runs.resume', { runId: id })).rejects.toMatchObject({ code: 'invalid_input', message: expect.stringMatching(/ran on the Python trainer/) })
  })

  it('runs.cancel stops the trainer: cancelled', async () => {
    let id: number | null = null
    const first = next('run.metrics', () => id)
    const ended = next('run.end', () => id)
    const started = await s.call('launch.start', { config: llmConfig(datasetId, { name: 'cancelled', train: { steps: 40, batch_size: 4, log_every: 1 } }) })
    id = started.runId
    await first
    await s.call('runs.cancel', { runId: id })
    expect((await ended).status).toBe('cancelled')
    expect((await s.call('runs.get', { runId: id })).status).toBe('cancelled')
    expect(readFileSync(join(started.dir, 'stream.jsonl'), 'utf8')).toMatch(/"type":"end","status":"cancelled"/)
    expect(s.activeRuns()).not.toContain(id)
  })

  it('another back end cannot follow the folder of a run this one records', async () => {
    let id: number | null = null
    const first = next('run.metrics', () => id)
    const ended = next('run.end', () => id)
    const started = await s.call('launch.start', { config: llmConfig(datasetId, { name: 'watched', train: { steps: 40, batch_size: 4, log_every: 1 } }) })
    id = started.runId
    await first
    const other = await services(file)
    try {
      await expect(other.call('launch.follow', { dir: started.dir })).rejects.toThrow(/being recorded by another process of the workbench/)
    } finally {
      await other.shutdown()
    }
    await s.call('runs.cancel', { runId: id })
    expect((await ended).status).toBe('cancelled')
  })

  it('a trainer that fails says why', async () => {
    const f = await services(file, { trainerCommand: [process.execPath, FAKE_TRAINER, '--delay', '10', '--fail-at', '2'] })
    try {
      let id: number | null = null
      const ended = new Promise<EventPayloads['run.end']>((res) => f.subscribe((e, p) => e === 'run.end' && (p as { runId: number }).runId === id && res(p as EventPayloads['run.end'])))
      id = (await f.call('launch.start', { config: llmConfig(datasetId, { name: 'fails' }) })).runId
      expect(await ended).toMatchObject({ status: 'failed', error: 'fake failure at step 2' })
      expect(await f.call('runs.get', { runId: id })).toMatchObject({ status: 'failed', error: 'fake failure at step 2' })
    } finally {
      await f.shutdown()
    }
  })

  it('refuses what cannot run, writing nothing', async () => {
    const before = (await s.call('runs.list', {})).length
    const jobs = readdirSync(join(dir, 'jobs')).sort()
    await expect(s.call('launch.start', { config: { dataset: 'bandit', method: 'iw-sft' } })).rejects.toMatchObject({
      code: 'invalid_config',
      message: expect.stringMatching(/policy\.kind "llm"/)
    })
    await expect(s.call('launch.start', { config: llmConfig(datasetId), numProcesses: 3 })).rejects.toMatchObject({
      code: 'invalid_input',
      message: expect.stringMatching(/not divisible by 3/)
    })
    await expect(s.call('launch.start', { config: llmConfig(datasetId, { curation: { mode: 'threshold', threshold: 9 } }) })).rejects.toThrow(/keeps no trace/)
    // without a fake trainer: the real one needs the venv, which this cache does not have
    const real = await services(file)
    try {
      await expect(real.call('launch.start', { config: llmConfig(datasetId) })).rejects.toThrow(/no Python environment.*iwsft python install/)
    } finally {
      await real.shutdown()
    }
    expect((await s.call('runs.list', {})).length).toBe(before)
    expect(readdirSync(join(dir, 'jobs')).sort()).toEqual(jobs)
    expect(existsSync(join(dir, 'cache', 'python-trainer'))).toBe(false)
  })
})
