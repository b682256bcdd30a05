// The app's checkpoint, export, report, replay and backend requests through the services (the
// same code both transports call): a quick control run, its checkpoints, an export that refuses
// to replace files until asked, reports in every format, an episode replay, the backend check.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ApiError, type EpisodeReplayData } from '../../src/shared/contract.ts'
import { createServices, type Services } from '../../src/main/services/index.ts'

describe('services: checkpoints, export, reports, replay, backends', () => {
  let dir: string
  let sv: Services
  let runId: number
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'iwsft-svc-'))
    sv = await createServices({ projectFile: join(dir, 'p.iwsft'), transport: 'http' })
    const ended = new Promise<string>((res) => sv.subscribe((e, p) => e === 'run.end' && res((p as { status: string }).status)))
    const r = (await sv.call('runs.start', {
      config: { dataset: 'pendulum-expert', dataset_options: { quick: true, eval_episodes: 2 }, method: 'bc', train: { steps: 30, eval_every: 30, checkpoint_every: 10 } },
      seeds: [0]
    })) as { runIds: number[] }
    runId = r.runIds[0]
    expect(await ended).toBe('completed')
  }, 240_000)
  afterAll(async () => {
    await sv?.shutdown()
    rmSync(dir, { recursive: true, force: true })
  })

  it('lists checkpoints with their steps', async () => {
    const cks = (await sv.call('runs.checkpoints', { runId })) as Array<{ step: number }>
    expect(cks.map((c) => c.step)).toEqual([10, 20, 30])
  })

  it('exports, refuses to overwrite until asked', async () => {
    const out = join(dir, 'export')
    const r = (await sv.call('runs.export', { runId, format: 'safetensors', outDir: out })) as { files: string[]; step: number }
    expect(r.step).toBe(30)
    expect(r.files.some((f) => f.endsWith('model.safetensors') && existsSync(f))).toBe(true)
    await expect(sv.call('runs.export', { runId, format: 'safetensors', outDir: out })).rejects.toMatchObject({ code: 'exists' })
    const again = (await sv.call('runs.export', { runId, format: 'safetensors', outDir: out, overwrite: true, step: 10 })) as { step: number }
    expect(again.step).toBe(10)
    const tf = (await sv.call('runs.export', { runId, format: 'tfjs', outDir: join(dir, 'tfjs') })) as { files: string[] }
    expect(tf.files.some((f) => f.endsWith('model.json'))).toBe(true)
  })

  it('makes reports: HTML, Markdown and PDF to download, CSV, a file on disk', async () => {
    const run = (await sv.call('runs.get', { runId })) as { name: string }
    const html = (await sv.call('reports.make', { runIds: [runId], format: 'html' })) as { files: Array<{ name: string; content: string }> }
    expect(html.files[0].name).toMatch(/\.html$/)
    expect(html.files[0].content).toContain(run.name)
    const md = (await sv.call('reports.make', { runIds: [runId], format: 'md' })) as { files: Array<{ content: string }> }
    expect(md.files[0].content).toContain(run.name)
    const csv = (await sv.call('reports.make', { runIds: [runId], format: 'csv' })) as { files: Array<{ name: string }> }
    expect(csv.files.map((f) => f.name)).toContain('metrics.csv')
    const pdf = (await sv.call('reports.make', { runIds: [runId], format: 'pdf' })) as { files: Array<{ name: string; content: string; encoding: string }> }
    expect(pdf.files[0].encoding).toBe('base64')
    expect(Buffer.from(pdf.files[0].content, 'base64').subarray(0, 5).toString('latin1')).toBe('%PDF-')
    const file = join(dir, 'rep.html')
    const w = (await sv.call('reports.make', { runIds: [runId], format: 'html', out: file })) as { written: string[] }
    expect(w.written).toEqual([file])
    expect(readFileSync(file, 'utf8')).toContain(run.name)
    const e = await sv.call('reports.make', { runIds: [runId], format: 'html', out: file }).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(ApiError)
    expect((e as ApiError).code).toBe('exists')
  }, 120_000)

  it('replays an episode of the control policy', async () => {
    const r = (await sv.call('runs.replay', { runId })) as EpisodeReplayData
    expect(r.task).toBe('pendulum')
    expect(r.step).toBe(30)
    expect(r.length).toBeGreaterThan(10)
    expect(r.actions.length).toBe(r.length)
    expect(r.poses.length).toBe(r.length + 1)
    expect(r.geoms.length).toBeGreaterThan(0)
  }, 60_000)

  it('lists the four backends and which one runs', async () => {
    const st = (await sv.call('backend.status', {})) as { active: string; backends: Array<{ name: string; available: boolean }> }
    expect(st.backends.map((b) => b.name)).toEqual(['native-gpu', 'native-cpu', 'wasm', 'cpu'])
    expect(st.backends.find((b) => b.name === st.active)?.available).toBe(true)
  }, 60_000)
})
