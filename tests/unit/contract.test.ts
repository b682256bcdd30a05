// The contract: every request has a schema; inputs are validated with messages that name the
// field; event schemas accept what the engine emits and refuse malformed payloads; the direct
// transport (services.call) validates like IPC and HTTP do.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ApiError, EVENT_NAMES, eventSchemas, isEventName, isRequestName, parseInput, REQUEST_NAMES, requestSchemas, toWireError } from '../../src/shared/contract.ts'
import { configIssues, createServices, type Services } from '../../src/main/services/index.ts'

describe('contract schemas', () => {
  it('has a schema for every request and every event', () => {
    expect(REQUEST_NAMES.length).toBeGreaterThan(15)
    for (const n of REQUEST_NAMES) expect(requestSchemas[n]).toBeDefined()
    for (const e of EVENT_NAMES) expect(eventSchemas[e]).toBeDefined()
    expect(isRequestName('runs.start')).toBe(true)
    expect(isRequestName('constructor')).toBe(false)
    expect(isRequestName('__proto__')).toBe(false)
    expect(isEventName('run.metrics')).toBe(true)
    expect(isEventName('run.nope')).toBe(false)
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
    const issues = configIssues(new Error('config: invalid settings\n  optim.lr: Too small: expected number to be >0\n  weights.tmep: unknown key'))
    expect(issues).toEqual([
      { path: 'optim.lr', message: 'Too small: expected number to be >0' },
      { path: 'weights.tmep', message: 'unknown key' }
    ])
    expect(toWireError(new Error('boom'))).toEqual({ message: 'boom', code: 'failed' })
  })
})

describe('direct transport (services.call)', () => {
  let dir: string
  let services: Services
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'iwsft-contract-'))
    services = await createServices({ projectFile: join(dir, 'c.iwsft'), transport: 'ipc' })
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
