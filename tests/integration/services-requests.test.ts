// The requests the command line needed and the app now has too (runs.resume, runs.weights,
// runs.eval, datasets.find), the followed log's byo.error events, and one error mapping in
// services.call: a config error carries its fields, a missing file to import is invalid_data.
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { curate } from '../../src/shared/curation.ts'
import type { EventName, EventPayloads } from '../../src/shared/contract.ts'
import { createServices, type Services } from '../../src/main/services/index.ts'
import { quickBandit } from '../helpers/configs.ts'

let dir: string
let sv: Services
const events: Array<[EventName, unknown]> = []
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'iwsft-svcreq-'))
  sv = await createServices({ projectFile: join(dir, 'p.iwsft'), transport: 'cli' })
  sv.subscribe((e, p) => void events.push([e, p]))
})
afterAll(async () => {
  await sv?.shutdown()
  rmSync(dir, { recursive: true, force: true })
})

async function waitFor<T>(f: () => T | undefined, ms = 60_000): Promise<T> {
  const t0 = Date.now()
  for (;;) {
    const v = f()
    if (v !== undefined) return v
    if (Date.now() - t0 > ms) throw new Error('timed out')
    await new Promise((r) => setTimeout(r, 25))
  }
}
const endOf = (runId: number, after = 0): Promise<EventPayloads['run.end']> =>
  waitFor(() => events.slice(after).find(([e, p]) => e === 'run.end' && (p as EventPayloads['run.end']).runId === runId)?.[1] as EventPayloads['run.end'] | undefined)

describe('runs through the services', () => {
  let runId = 0
  it('runs.resume continues a cancelled run from its checkpoint to the end', async () => {
    const c = quickBandit({ method: 'iw-sft' })
    const config = { ...c, train: { ...c.train, steps: 600, checkpoint_every: 100, snapshot_every: 300 } }
    ;[runId] = (await sv.call('runs.start', { config, seeds: [0] })).runIds
    // cancel once the first checkpoint is saved
    for (;;) {
      if ((await sv.call('runs.checkpoints', { runId })).length) break
      await new Promise((r) => setTimeout(r, 20))
    }
    await sv.call('runs.cancel', { runId })
    const first = await endOf(runId)
    expect(first.status).toBe('cancelled')
    const mark = events.length
    expect(await sv.call('runs.resume', { runId })).toEqual({ runId })
    const second = await endOf(runId, mark)
    expect(second.status).toBe('completed')
    const run = await sv.call('runs.get', { runId })
    expect(run.status).toBe('completed')
    expect(run.lastStep).toBe(600)
    await expect(sv.call('runs.resume', { runId })).rejects.toThrow(/only interrupted, cancelled or failed runs resume/)
  }, 180_000)

  it('runs.weights gives each trace its id, score and quality bin at a saved step', async () => {
    const last = await sv.call('runs.weights', { runId })
    expect(last.step).toBe(600)
    const at = await sv.call('runs.weights', { runId, step: 300 })
    const snap = await sv.call('runs.snapshot', { runId, step: 300 })
    const run = await sv.call('runs.get', { runId })
    const cols = await sv.call('datasets.columns', { datasetId: run.datasetId! })
    const bins = curate(cols.scores, run.config.curation).multiplicity
    expect(at.traces.map((t) => t.trace)).toEqual(snap.traceIndex)
    expect(at.traces.map((t) => t.w)).toEqual(snap.w)
    // every stage of the weights (snapshot version 2): the clamped w beside w, and the step's batch
    expect(snap.version).toBe(2)
    expect(snap.wClamped).toHaveLength(snap.w.length)
    expect(snap.mass).toHaveLength(snap.w.length)
    expect(run.method).toBe('iw-sft')
    expect(snap.batch!.w).toHaveLength(run.config.train.batch_size)
    at.traces.forEach((t) => {
      expect(t.id).toBe(cols.ids[t.trace])
      expect(t.score).toBe(cols.scores[t.trace])
      expect(t.bin).toBe(bins[t.trace])
    })
    await expect(sv.call('runs.weights', { runId, step: 7 })).rejects.toMatchObject({ code: 'not_found', message: `run ${runId} has no snapshot at step 7; saved steps: 300, 600` })
  })

  it('runs.diagnostics: the last snapshot ESS/N, shares and warnings; the ESS/N curve as logged', async () => {
    const d = (await sv.call('runs.diagnostics', { runId }))!
    const snap = await sv.call('runs.snapshot', { runId, step: 600 })
    expect(d.step).toBe(600)
    // ESS/N of the snapshot's weights under the curated multiset (bandit iw-SFT: uniform mass)
    const s1 = snap.w.reduce((a, v) => a + v, 0)
    const s2 = snap.w.reduce((a, v) => a + v * v, 0)
    expect(d.ess_n_final).toBeCloseTo((s1 * s1) / s2 / snap.w.length, 4)
    expect(d.top1_share).toBeGreaterThanOrEqual(1 / snap.w.length - 1e-9)
    expect(d.top5_share!).toBeGreaterThanOrEqual(d.top1_share!)
    expect(d.ess_n_curve.length).toBeGreaterThan(0)
    expect(Array.isArray(d.warnings)).toBe(true)
    await expect(sv.call('runs.diagnostics', { runId: 999 })).rejects.toMatchObject({ code: 'not_found' })
  })

  it('runs.eval evaluates a checkpoint in the bandit (expected reward) at a chosen step', async () => {
    const ev = await sv.call('runs.eval', { runId, step: 600 })
    expect(ev.step).toBe(600)
    expect(ev.metrics.expected_reward).toBeGreaterThan(0)
    expect(ev.metrics.expected_reward).toBeLessThanOrEqual(1)
    await expect(sv.call('runs.eval', { runId, step: 5 })).rejects.toThrow(/no checkpoint at step 5; saved steps: 100, .*600/)
  })

  it('a bad config is invalid_config with its fields', async () => {
    await expect(sv.call('runs.start', { config: { method: 'iw-sft', weights: { tmep: 1 } }, seeds: [0] })).rejects.toMatchObject({
      code: 'invalid_config',
      issues: [{ path: 'weights.tmep', message: expect.stringMatching(/^unknown key/) }]
    })
  })
})

describe('datasets and followed logs through the services', () => {
  it('datasets.find finds by id or by name, else not_found; a file that is not there is invalid_data', async () => {
    const [bandit] = await sv.call('datasets.list', {})
    expect((await sv.call('datasets.find', { ref: String(bandit.id) })).id).toBe(bandit.id)
    expect((await sv.call('datasets.find', { ref: bandit.name })).id).toBe(bandit.id)
    await expect(sv.call('datasets.find', { ref: 'nope' })).rejects.toMatchObject({ code: 'not_found' })
    await expect(sv.call('datasets.import', { path: join(dir, 'missing.jsonl'), importId: 'm' })).rejects.toMatchObject({
      code: 'invalid_data',
      message: expect.stringContaining('missing.jsonl')
    })
  })

  it('a bad line of a followed log is a byo.error event naming the line, as it happens', async () => {
    const f = join(dir, 'live.jsonl')
    const row = (id: string, n: number, m = n): string =>
      JSON.stringify({ id, tokens: Array(n).fill(3), ref_logprobs: Array(n).fill(-1), policy_logprobs: Array(m).fill(-1), score: 1 }) + '\n'
    writeFileSync(f, row('a', 2))
    await sv.call('byo.follow', { followId: 'f', path: f, minUpdateMs: 0 })
    await waitFor(() => events.find(([e]) => e === 'byo.update'))
    appendFileSync(f, row('b', 3, 2))
    const [, err] = await waitFor(() => events.find(([e]) => e === 'byo.error'))
    expect(err).toMatchObject({ followId: 'f', message: expect.stringMatching(/live\.jsonl", line 2, field "policy_logprobs"/) })
    await sv.call('byo.unfollow', { followId: 'f' })
  })
})
