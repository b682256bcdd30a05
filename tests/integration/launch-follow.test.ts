// A job folder emitted for a cluster and followed back (issue 18): launch.emit writes a
// self-contained folder and records nothing; the test then plays the cluster, appending the
// stream in pieces (as a sync would bring them); launch.follow records the run once (by job id),
// follows it live to its end, and a second follow finds the same run row. Following stopped
// before the end leaves the run interrupted, and following again continues it.
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { EventPayloads } from '../../src/shared/contract.ts'
import type { Services } from '../../src/main/services/index.ts'
import { LLAMA, llmConfig, makeLlmProject, services } from './launch-helpers.ts'

const dir = mkdtempSync(join(tmpdir(), 'iwsft-launch-follow-'))
let s: Services
let datasetId = 0
let file = ''

beforeAll(async () => {
  ;({ datasetId, file } = await makeLlmProject(dir))
  s = await services(file)
})
afterAll(async () => {
  await s?.shutdown()
  rmSync(dir, { recursive: true, force: true })
})

const row = (job: string, r: Record<string, unknown>): void => appendFileSync(join(job, 'stream.jsonl'), JSON.stringify(r) + '\n')
const ended = (svc: Services, id: () => number | null): Promise<EventPayloads['run.end']> =>
  new Promise((res) => {
    const off = svc.subscribe((e, p) => {
      if (e === 'run.end' && (p as { runId: number }).runId === id()) {
        off()
        res(p as EventPayloads['run.end'])
      }
    })
  })
const until = async (f: () => Promise<boolean>): Promise<void> => {
  for (let i = 0; i < 200 && !(await f()); i++) await new Promise((r) => setTimeout(r, 50))
}

describe('launch.emit then launch.follow', () => {
  it('emits a self-contained folder and records nothing', async () => {
    const runs = (await s.call('runs.list', {})).length
    const out = join(dir, 'cluster-job')
    const e = await s.call('launch.emit', { config: llmConfig(datasetId), dir: out })
    expect(e.dir).toBe(out)
    expect(e.files).toEqual(expect.arrayContaining(['job.json', 'config.json', 'data.jsonl', 'batches.json', 'model/model.safetensors', 'slurm.sh', 'accelerate/ddp.yaml', 'README.md']))
    expect(readFileSync(join(out, 'model', 'model.safetensors')).equals(readFileSync(join(LLAMA, 'model.safetensors')))).toBe(true)
    expect(e.runCommands).toEqual([`cd ${out} && sbatch slurm.sh`, `cd ${out} && accelerate launch --config_file accelerate/ddp.yaml trainer/train.py .`])
    expect(e.followCommand).toBe(`npx iwsft follow ${out} --project ${file}`)
    expect((await s.call('runs.list', {})).length).toBe(runs)
    await expect(s.call('launch.emit', { config: llmConfig(datasetId), dir: out })).rejects.toMatchObject({ code: 'exists' })
  })

  it('follows a stream synced in pieces to its end; a second follow finds the same run', async () => {
    const job = join(dir, 'cluster-job')
    const { job_id } = JSON.parse(readFileSync(join(job, 'job.json'), 'utf8'))
    // the first piece: the job started and logged step 2
    row(job, { type: 'start', job_id, world_size: 2, device: 'cuda', total_steps: 6, versions: { python: '3.11.9', torch: '2.15.0', trl: '1.16.1' } })
    row(job, { type: 'metrics', step: 2, metrics: { loss: 1.5, lr: 0.001 } })
    let id: number | null = null
    const end = ended(s, () => id)
    const f = await s.call('launch.follow', { dir: job })
    id = f.runId
    expect(f).toEqual({ runId: id, created: true, status: 'running' })
    const run = await s.call('runs.get', { runId: id })
    expect(run).toMatchObject({ name: 'tiny llama iw-sft', backend: 'accelerate', status: 'running', datasetId, method: 'iw-sft' })
    expect(run.versions).toMatchObject({ job_id, world_size: '2', device: 'cuda', torch: '2.15.0', job_dir: job })
    expect((await s.call('runs.metrics', { runIds: [id], keys: ['loss'] }))[0].series.loss).toEqual({ steps: [2], values: [1.5] })
    await expect(s.call('launch.follow', { dir: job })).rejects.toThrow(/being followed already/)
    // the next piece, with half a line at its end (a sync mid-write)
    row(job, {
      type: 'weights',
      step: 3,
      trace_index: [1, 2],
      log_w_raw: [-0.5, 0.25],
      w: [0.6, 1.3],
      w_clamped: [0.6, 1.3],
      mass: [1, 1],
      batch: { trace_index: [2, 2, 1, 1], w: [1, 1, 1, 1] }
    })
    appendFileSync(join(job, 'stream.jsonl'), JSON.stringify({ type: 'metrics', step: 4, metrics: { loss: 1.25 } }).slice(0, 20))
    await until(async () => (await s.call('runs.snapshotSteps', { runId: id! })).length === 1)
    const snap = await s.call('runs.snapshot', { runId: id, step: 3 })
    expect(snap).toMatchObject({ traceIndex: [1, 2], logWRaw: [-0.5, 0.25], version: 2, batch: { traceIndex: [2, 2, 1, 1] } })
    expect((await s.call('runs.get', { runId: id })).status).toBe('running')
    // the rest, and the end
    appendFileSync(join(job, 'stream.jsonl'), JSON.stringify({ type: 'metrics', step: 4, metrics: { loss: 1.25 } }).slice(20) + '\n')
    row(job, { type: 'checkpoint', step: 6, path: 'checkpoints/step-6', format: 'peft' })
    row(job, { type: 'end', status: 'completed', final: { loss: 1.1 }, final_model: 'final-model' })
    const e = await end
    expect(e).toMatchObject({ runId: id, status: 'completed', final: { loss: 1.1, lr: 0.001 } })
    const done = await s.call('runs.get', { runId: id })
    expect(done.status).toBe('completed')
    expect(JSON.parse(done.versions.checkpoints)).toEqual({ '6': 'checkpoints/step-6 (peft)' })
    expect(done.versions.final_model_error).toMatch(/final-model is not there/)
    expect((await s.call('runs.metrics', { runIds: [id], keys: ['loss'] }))[0].series.loss).toEqual({ steps: [2, 4], values: [1.5, 1.25] })
    // following again (another session of the app): the same run, nothing doubled
    const again = await services(file)
    try {
      expect(await again.call('launch.follow', { dir: job })).toEqual({ runId: id, created: false, status: 'completed' })
      expect((await again.call('runs.list', {})).filter((r) => r.versions.job_id === job_id)).toHaveLength(1)
    } finally {
      await again.shutdown()
    }
  })

  it('stopping the follow leaves the run interrupted; following again continues it', async () => {
    const job = join(dir, 'second-job')
    await s.call('launch.emit', { config: llmConfig(datasetId, { name: 'second' }), dir: job })
    row(job, { type: 'start', world_size: 1, device: 'cpu', total_steps: 6 })
    row(job, { type: 'metrics', step: 2, metrics: { loss: 3 } })
    let id: number | null = null
    let end = ended(s, () => id)
    const f = await s.call('launch.follow', { dir: job })
    id = f.runId
    expect(f.created).toBe(true)
    await s.call('runs.cancel', { runId: id })
    expect((await end).status).toBe('cancelled')
    const stopped = await s.call('runs.get', { runId: id })
    expect(stopped.status).toBe('interrupted')
    expect(stopped.error).toMatch(/stopped following .*second-job before its stream ended; `iwsft follow .*` continues this run/)
    row(job, { type: 'metrics', step: 6, metrics: { loss: 2 } })
    writeFileSync(join(job, 'stray.txt'), 'x')
    end = ended(s, () => id)
    const g = await s.call('launch.follow', { dir: job })
    expect(g).toEqual({ runId: id, created: false, status: 'running' })
    row(job, { type: 'end', status: 'failed', error: 'CUDA out of memory' })
    expect(await end).toMatchObject({ status: 'failed', error: 'CUDA out of memory', final: { loss: 2 } })
    expect(await s.call('runs.get', { runId: id })).toMatchObject({ status: 'failed', error: 'CUDA out of memory', lastStep: 6 })
  })

  it('refuses a folder that is not a job, and bad stream rows are skipped', async () => {
    await expect(s.call('launch.follow', { dir: join(dir, 'nothing') })).rejects.toMatchObject({ code: 'invalid_data', message: expect.stringMatching(/job\.json: cannot read it/) })
    const job = join(dir, 'third-job')
    await s.call('launch.emit', { config: llmConfig(datasetId, { name: 'third' }), dir: job })
    const manifest = JSON.parse(readFileSync(join(job, 'job.json'), 'utf8'))
    writeFileSync(join(job, 'job.json'), JSON.stringify({ ...manifest, format: 'other/9' }))
    await expect(s.call('launch.follow', { dir: job })).rejects.toThrow(/job\.json: field "format"/)
    writeFileSync(join(job, 'job.json'), JSON.stringify(manifest))
    row(job, { type: 'metrics', step: -1, metrics: {} })
    row(job, { type: 'checkpoint', step: 1, path: '../../etc', format: 'hf' })
    row(job, { type: 'end', status: 'completed', final: {} })
    const f = await s.call('launch.follow', { dir: job })
    expect(f.status).toBe('completed')
    const run = await s.call('runs.get', { runId: f.runId })
    expect(run.versions.checkpoints).toBeUndefined()
    expect(run.lastStep).toBeNull()
    expect(existsSync(join(job, 'final-model'))).toBe(false)
  })
})
