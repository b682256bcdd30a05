// Sweeps: the grid (every combination, first axis slowest), grid keys checked against the
// resolved config, a sweep through the services as one stored group with its table, and
// `iwsft sweep --json` as a user runs it. On the quick bandit (seconds a run).
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ApiError } from '../../src/shared/contract.ts'
import { defaultConfig } from '../../src/shared/config.ts'
import { createServices } from '../../src/main/services/index.ts'
import { gridPoints, setPath } from '../../src/main/services/sweeps.ts'
import { parseGrid } from '../../src/main/cli/commands/sweep.ts'
import { UsageError } from '../../src/main/cli/args.ts'

const BIN = resolve(__dirname, '../../bin/iwsft.mjs')
const dir = mkdtempSync(join(tmpdir(), 'iwsft-sweep-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const QUICK = { dataset: 'bandit', backend: 'cpu', dataset_options: { pulls: 300 }, train: { steps: 30, batch_size: 32, log_every: 10, snapshot_every: 30, eval_every: 10 } }

describe('the grid', () => {
  it('every combination, the first axis varying slowest', () => {
    expect(
      gridPoints([
        { key: 'a', values: [1, 2] },
        { key: 'b', values: ['x', 'y', 'z'] }
      ])
    ).toEqual([
      { a: 1, b: 'x' },
      { a: 1, b: 'y' },
      { a: 1, b: 'z' },
      { a: 2, b: 'x' },
      { a: 2, b: 'y' },
      { a: 2, b: 'z' }
    ])
  })
  it('sets a setting at a dotted path, and names a key the config does not have', () => {
    const c = defaultConfig('control')
    const set = setPath(c, 'weights.q.beta', 0.99) as typeof c
    expect(set.weights.q).toEqual({ kind: 'ema', beta: 0.99 })
    expect(c.weights.q).toEqual({ kind: 'ema', beta: 0.9 }) // a copy
    expect(() => setPath(defaultConfig('bandit'), 'weights.q.beta', 0.9)).toThrow(/grid key "weights\.q\.beta": not a setting.*weights\.q has kind/)
    expect(() => setPath(c, 'weights.tmep', 1)).toThrow(/weights\.tmep/)
  })
  it('parses repeated --grid flags into typed values', () => {
    const { grid, rest } = parseGrid(['c.yaml', '--grid', 'weights.temp=1,3.5', '--grid=weights.normalize=true,false', '--grid', 'method=sft,iw-sft', '--seeds', '2'])
    expect(grid).toEqual([
      { key: 'weights.temp', values: [1, 3.5] },
      { key: 'weights.normalize', values: [true, false] },
      { key: 'method', values: ['sft', 'iw-sft'] }
    ])
    expect(rest).toEqual(['c.yaml', '--seeds', '2'])
    expect(() => parseGrid(['--grid', 'weights.temp'])).toThrow(UsageError)
    expect(() => parseGrid(['--grid', 'a=1', '--grid', 'a=2'])).toThrow(/given twice/)
  })
})

describe('sweeps through the services', () => {
  it('runs the grid × seeds as one group, one run after another, and tabulates it', async () => {
    const s = await createServices({ projectFile: join(dir, 's.iwsft'), transport: 'cli' })
    try {
      // a grid value that does not fit the config starts nothing
      const bad = (await s.call('sweeps.start', { config: QUICK, grid: [{ key: 'weights.temp', values: [1, -2] }], seeds: 1 }).catch((e: unknown) => e)) as ApiError
      expect(bad).toBeInstanceOf(ApiError)
      expect(bad.code).toBe('invalid_config')
      expect(bad.message).toMatch(/weights\.temp/)
      expect(await s.call('runs.list', {})).toHaveLength(0)

      const started = await s.call('sweeps.start', { config: { ...QUICK, method: 'iw-sft' }, grid: [{ key: 'weights.temp', values: [0.5, 3] }], seeds: 2 })
      expect(started.runs).toEqual([
        { params: { 'weights.temp': 0.5 }, seed: 0 },
        { params: { 'weights.temp': 0.5 }, seed: 1 },
        { params: { 'weights.temp': 3 }, seed: 0 },
        { params: { 'weights.temp': 3 }, seed: 1 }
      ])
      let status = await s.call('sweeps.status', { group: started.group })
      let most = 0
      while (status.status === 'running') {
        most = Math.max(most, s.activeRuns().length)
        await new Promise((r) => setTimeout(r, 50))
        status = await s.call('sweeps.status', { group: started.group })
      }
      expect(status).toMatchObject({ status: 'completed', total: 4, done: 4 })
      expect(most).toBeLessThanOrEqual(1) // one after another
      const runs = (await s.call('runs.list', {})).filter((r) => r.group === started.group).sort((a, b) => a.id - b.id)
      expect(runs.map((r) => [r.config.weights.temp, r.seed, r.status])).toEqual([
        [0.5, 0, 'completed'],
        [0.5, 1, 'completed'],
        [3, 0, 'completed'],
        [3, 1, 'completed']
      ])
      const res = await s.call('sweeps.results', { group: started.group })
      expect(res.metric).toBe('expected_reward')
      expect(res.results.map((r) => r.params)).toEqual([{ 'weights.temp': 0.5 }, { 'weights.temp': 3 }])
      // each point's values are its runs' last logged expected_reward; mean and sample std of them
      const metrics = await s.call('runs.metrics', { runIds: runs.map((r) => r.id), keys: ['expected_reward'] })
      const last = (id: number): number => {
        const m = metrics.find((x) => x.runId === id)!.series.expected_reward
        return m.values[m.values.length - 1]
      }
      for (const [k, r] of res.results.entries()) {
        const v = [last(runs[2 * k].id), last(runs[2 * k + 1].id)]
        expect(r.values).toEqual(v)
        expect(r.mean).toBeCloseTo((v[0] + v[1]) / 2, 12)
        expect(r.std).toBeCloseTo(Math.abs(v[0] - v[1]) / Math.SQRT2, 12)
        expect(r.seeds).toBe(2)
        expect(r.ess_n_final).toBeGreaterThan(0)
        expect(r.ess_n_final).toBeLessThanOrEqual(1)
      }
      // a hotter temperature spreads the weights more
      expect(res.results[1].ess_n_final!).toBeLessThan(res.results[0].ess_n_final!)
      // a stored group's table from its configs alone (no sweep state): the same points
      const again = await s.call('sweeps.results', { group: started.group, metric: 'p_right' })
      expect(again.metric).toBe('p_right')
      expect(again.results).toHaveLength(2)
    } finally {
      await s.shutdown()
    }
  }, 300_000)
})

describe('iwsft sweep', () => {
  it('--json prints the group and one result per grid point', () => {
    const cfg = join(dir, 'q.yaml')
    writeFileSync(cfg, JSON.stringify({ ...QUICK, method: 'iw-sft' }))
    const r = spawnSync(process.execPath, [BIN, 'sweep', cfg, '--grid', 'weights.temp=1,3', '--seeds', '1', '--json', '--project', 'c.iwsft'], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 200_000
    })
    expect(r.status, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(typeof out.group).toBe('string')
    expect(out.results).toHaveLength(2)
    for (const [i, x] of out.results.entries()) {
      expect(x.params).toEqual({ 'weights.temp': [1, 3][i] })
      expect(x).toMatchObject({ metric: 'expected_reward', seeds: 1, std: 0 })
      expect(typeof x.mean).toBe('number')
      expect(typeof x.ess_n_final).toBe('number')
    }
    expect(r.stderr).toMatch(/\[2\/2\] weights\.temp=3 seed 0/)
    // no grid: usage (exit 2)
    expect(spawnSync(process.execPath, [BIN, 'sweep', cfg, '--project', 'c.iwsft'], { cwd: dir, encoding: 'utf8' }).status).toBe(2)
  }, 300_000)

  it('reproduce --faithful is for the control suite only, and not with --quick', () => {
    const run = (args: string[]) => spawnSync(process.execPath, [BIN, 'reproduce', ...args, '--project', 'f.iwsft'], { cwd: dir, encoding: 'utf8' })
    const a = run(['bandit', '--faithful'])
    expect(a.status).toBe(2)
    expect(a.stderr).toMatch(/--faithful applies to reproduce control/)
    const b = run(['control', '--faithful', '--quick'])
    expect(b.status).toBe(2)
    expect(b.stderr).toMatch(/contradict/)
  })

  it('reproduce --task is for the control suite only and names a known task', () => {
    const run = (args: string[]) => spawnSync(process.execPath, [BIN, 'reproduce', ...args, '--project', 't.iwsft'], { cwd: dir, encoding: 'utf8' })
    const a = run(['bandit', '--task', 'cartpole2'])
    expect(a.status).toBe(2)
    expect(a.stderr).toMatch(/--task applies to reproduce control/)
    const b = run(['control', '--task', 'cartpole2,walker', '--quick'])
    expect(b.status).toBe(2)
    expect(b.stderr).toMatch(/unknown control task "walker"; tasks: pendulum, cartpole, cartpole2, hopper/)
  })
})
