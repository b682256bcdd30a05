// The contract: every request has a schema; inputs are validated with messages that name the
// field; event schemas accept what the engine emits and refuse malformed payloads; the direct
// transport (services.call) validates like HTTP does.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ApiError, EVENT_NAMES, eventSchemas, isEventName, isRequestName, parseInput, REQUEST_NAMES, requestSchemas, toWireError } from '../../src/shared/contract.ts'
import { configIssues, createServices, type Services } from '../../src/main/services/index.ts'
import { ConfigError, resolveConfig } from '../../src/shared/config.ts'

// Written out by hand: adding, renaming or removing a request or an event changes every front
// end (IPC, HTTP, command line) and must be done on purpose, here too.
const EXPECTED_REQUESTS = [
  'app.capabilities',
  'backend.install',
  'backend.status',
  'byo.follow',
  'byo.import',
  'byo.inspect',
  'byo.traceRho',
  'byo.unfollow',
  'config.validate',
  'datasets.addBuiltin',
  'datasets.builtins',
  'datasets.columns',
  'datasets.delete',
  'datasets.find',
  'datasets.import',
  'datasets.list',
  'datasets.preview',
  'datasets.scoreReference',
  'datasets.trace',
  'launch.emit',
  'launch.follow',
  'launch.plan',
  'launch.start',
  'models.add',
  'models.cancel',
  'models.fetch',
  'models.generate',
  'models.get',
  'models.list',
  'models.remove',
  'models.sample',
  'models.score',
  'models.scoreDataset',
  'models.weighDataset',
  'presets.list',
  'presets.save',
  'project.info',
  'project.open',
  'project.recover',
  'python.install',
  'python.status',
  'reports.make',
  'runs.cancel',
  'runs.checkpoints',
  'runs.delete',
  'runs.diagnostics',
  'runs.eval',
  'runs.export',
  'runs.get',
  'runs.heatmap',
  'runs.list',
  'runs.markInterrupted',
  'runs.metrics',
  'runs.referenceCost',
  'runs.rename',
  'runs.replay',
  'runs.resume',
  'runs.snapshot',
  'runs.snapshotSteps',
  'runs.start',
  'runs.traceRho',
  'runs.weights',
  'sweeps.cancel',
  'sweeps.results',
  'sweeps.start',
  'sweeps.status'
]
const EXPECTED_EVENTS = [
  'backend.install',
  'byo.error',
  'byo.update',
  'import.progress',
  'model.progress',
  'project.changed',
  'python.install',
  'run.end',
  'run.metrics',
  'run.progress',
  'run.start',
  'score.progress'
]

describe('contract schemas', () => {
  it('has exactly the requests and events written out above, each with a schema', () => {
    expect([...REQUEST_NAMES].sort()).toEqual(EXPECTED_REQUESTS)
    expect(Object.keys(requestSchemas).sort()).toEqual(EXPECTED_REQUESTS)
    expect([...EVENT_NAMES].sort()).toEqual(EXPECTED_EVENTS)
    expect(Object.keys(eventSchemas).sort()).toEqual(EXPECTED_EVENTS)
    for (const n of EXPECTED_REQUESTS) expect(isRequestName(n)).toBe(true)
    for (const e of EXPECTED_EVENTS) expect(isEventName(e)).toBe(true)
    expect(isRequestName('constructor')).toBe(false)
    expect(isRequestName('__proto__')).toBe(false)
    expect(isRequestName('runs')).toBe(false)
    expect(isEventName('run.nope')).toBe(false)
  })

  it('every request input is strict: an unknown key is refused by name', () => {
    for (const n of REQUEST_NAMES) {
      const r = requestSchemas[n].safeParse({ notAField: 1 })
      expect(r.success, n).toBe(false)
      expect(
        r.error!.issues.some((i) => i.code === 'unrecognized_keys' && 'keys' in i && (i.keys as string[]).includes('notAField')),
        n
      ).toBe(true)
    }
  })

  it('names the offending field of a bad input', () => {
    try {
      parseInput('runs.snapshot', { runId: 0, step: 1.5 })
      expect.unreachable()
    } catch (e) {
      expect(e).toBeInstanceOf(ApiError)
      const err = e as ApiError
      expect(err.code).toBe('invalid_input')
      expect(err.issues.map((i) => i.path).sort()).toEqual(['runId', 'step'])
      expect(err.message).toMatch(/^runs\.snapshot: invalid input: /)
    }
  })

  it('refuses unknown keys (strict inputs) and accepts good ones', () => {
    expect(() => parseInput('datasets.list', { extra: 1 })).toThrow(/extra: unknown key/)
    expect(parseInput('runs.metrics', { runIds: [1, 2] })).toEqual({ runIds: [1, 2] })
    expect(() => parseInput('runs.metrics', { runIds: [] })).toThrow(/runIds/)
    expect(() => parseInput('presets.save', { datasetId: 1, name: '  ', curation: { mode: 'all' } })).toThrow(/name/)
    expect(() => parseInput('presets.save', { datasetId: 1, name: 'x', curation: { mode: 'quality_bins', cutoffs: [95, 90] } })).toThrow(/increasing/)
    expect(() => parseInput('runs.start', { config: {}, seeds: [0, -1] })).toThrow(/seeds\.1/)
  })

  it('checks event payloads', () => {
    expect(eventSchemas['run.progress'].safeParse({ runId: 1, phase: 'train', step: 3, total: 10, elapsedMs: 5, etaMs: 12 }).success).toBe(true)
    expect(eventSchemas['run.progress'].safeParse({ runId: 1, phase: 'train', step: '3' }).success).toBe(false)
    expect(eventSchemas['run.end'].safeParse({ runId: 1, status: 'completed', final: { loss: 0.1 } }).success).toBe(true)
    expect(eventSchemas['run.end'].safeParse({ runId: 1, status: 'exploded', final: {} }).success).toBe(false)
  })

  it('turns config errors into field issues', () => {
    let err: unknown
    try {
      resolveConfig({ dataset: 'bandit', optim: { lr: 0 }, weights: { tmep: 1 } })
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(ConfigError)
    const issues = configIssues(err)
    expect(issues.map((i) => i.path).sort()).toEqual(['optim.lr', 'weights.tmep'])
    expect(issues.find((i) => i.path === 'optim.lr')!.message).toMatch(/>\s*0|too small/i)
    // a plain error is not a config error: its message is one issue, no field paths made up from its text
    expect(configIssues(new Error('config: invalid settings\n  optim.lr: Too small'))).toEqual([{ path: '', message: 'config: invalid settings\n  optim.lr: Too small' }])
    expect(toWireError(new Error('boom'))).toEqual({ message: 'boom', code: 'failed' })
  })
})

describe('direct transport (services.call)', () => {
  let dir: string
  let services: Services
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'iwsft-contract-'))
    services = await createServices({ projectFile: join(dir, 'c.iwsft'), transport: 'cli' })
  })
  afterAll(async () => {
    await services.shutdown()
    rmSync(dir, { recursive: true, force: true })
  })

  it('opens a default project with the built-in bandit', async () => {
    const ds = (await services.call('datasets.list', {})) as Array<{ source: string; numTraces: number }>
    expect(ds.some((d) => d.source === 'builtin:bandit' && d.numTraces > 0)).toBe(true)
  })

  it('validates inputs before a handler runs', async () => {
    await expect(services.call('datasets.columns', { datasetId: 'one' })).rejects.toMatchObject({ code: 'invalid_input' })
    await expect(services.call('no.such', {})).rejects.toMatchObject({ code: 'not_found' })
    await expect(services.call('runs.get', { runId: 999 })).rejects.toMatchObject({ code: 'not_found' })
  })

  it('reports an out-of-range hyper-parameter by field, and starts nothing', async () => {
    const err = (await services.call('runs.start', { config: { dataset: 'bandit', optim: { lr: -1 } }, seeds: [0, 1] }).catch((e: unknown) => e)) as ApiError
    expect(err).toBeInstanceOf(ApiError)
    expect(err.code).toBe('invalid_config')
    expect(err.issues).toContainEqual({ path: 'optim.lr', message: expect.stringMatching(/>0/) })
    expect(await services.call('runs.list', {})).toEqual([])
    const v = (await services.call('config.validate', { config: { dataset: 'bandit', train: { stpes: 3 } } })) as { ok: boolean; issues: Array<{ path: string }> }
    expect(v.ok).toBe(false)
    expect(v.issues[0].path).toBe('train.stpes')
  })

  it('returns dataset columns as plain arrays', async () => {
    const ds = (await services.call('datasets.list', {})) as Array<{ id: number; numTraces: number }>
    const cols = (await services.call('datasets.columns', { datasetId: ds[0].id })) as { scores: unknown; lengths: number[] }
    expect(Array.isArray(cols.scores)).toBe(true)
    expect(cols.lengths.length).toBe(ds[0].numTraces)
    const t = (await services.call('datasets.trace', { datasetId: ds[0].id, index: 0 })) as { actions: number[][] }
    expect(t.actions.length).toBe(1)
    await expect(services.call('datasets.trace', { datasetId: ds[0].id, index: 10 ** 7 })).rejects.toThrow(/out of range/)
  })
})
