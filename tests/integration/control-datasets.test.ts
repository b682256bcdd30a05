// The control suite's built-in datasets: made like D4RL's (an expert behaviour policy; the
// whole history of a real improvement run), seeded, with progress, and ordered in quality:
// expert mean return > replay median > uniform random policy's mean.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { cmdDatasets } from '../../src/main/cli/commands/datasets.ts'
import { datasetHash, fromTraces, totalSteps } from '../../src/main/common/trace.ts'
import { datasetFromJson, datasetToJson, makeControlDataset, returnStats } from '../../src/main/engine/datasets/control.ts'
import { getTask, listTasks } from '../../src/main/engine/envs/registry.ts'

const dir = mkdtempSync(join(tmpdir(), 'iwsft-ctl-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe.each(listTasks().map((t) => t.name))('%s datasets (quick)', (task) => {
  const spec = getTask(task)

  it('expert mean > replay median > random reference; traces are well formed', async () => {
    const progress: Array<[string, number, number]> = []
    const expert = await makeControlDataset(task, 'expert', { seed: 0, quick: true, onProgress: (p) => progress.push([p.phase, p.done, p.total]) })
    const replay = await makeControlDataset(task, 'replay', { seed: 0, quick: true, onProgress: (p) => progress.push([p.phase, p.done, p.total]) })
    const e = returnStats(expert)
    const r = returnStats(replay)
    expect(e.mean).toBeGreaterThan(r.median)
    expect(r.median).toBeGreaterThan(spec.refReturns.random)
    // the expert set is near the expert reference (noise costs a little)
    expect(e.mean).toBeGreaterThan(spec.refReturns.random + 0.8 * (spec.refReturns.expert - spec.refReturns.random))
    for (const ds of [expert, replay]) {
      expect(ds.kind).toBe('continuous')
      expect(ds.obsDim).toBe(spec.obsDim)
      expect(ds.actDim).toBe(spec.actDim)
      for (let i = 0; i < ds.scores.length; i++) {
        let s = 0
        for (let t = ds.offsets[i]; t < ds.offsets[i + 1]; t++) s += ds.rewards![t]
        expect(ds.scores[i]).toBeCloseTo(s, 2)
        expect(ds.meta![i]).toMatchObject({ task, episode: i })
        expect(ds.offsets[i + 1] - ds.offsets[i]).toBeLessThanOrEqual(spec.maxSteps)
      }
      expect(ds.actions.every((a) => a >= -1 && a <= 1)).toBe(true)
    }
    expect(expert.meta![0].kind).toBe('expert')
    expect(replay.meta![0].kind).toBe('replay')
    // progress reached the end of both phases
    expect(progress.some(([ph, d, t]) => ph === 'expert' && d === t)).toBe(true)
    expect(progress.some(([ph, d, t]) => ph === 'replay' && d === t)).toBe(true)
  })
})

describe('replay = the history of an improvement run', () => {
  it('holds every rollout in order; later iterations score higher than the first', async () => {
    const ds = await makeControlDataset('cartpole', 'replay', { seed: 3, episodes: 320 })
    expect(ds.scores.length).toBe(320)
    const it = ds.meta!.map((m) => m.iteration as number)
    expect(it.every((x, i) => i === 0 || x >= it[i - 1])).toBe(true)
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length
    const first = mean(Array.from(ds.scores).filter((_, i) => it[i] === 0))
    const last = mean(Array.from(ds.scores).filter((_, i) => it[i] === it[it.length - 1]))
    expect(last).toBeGreaterThan(first + 100)
    // quality ranges from poor to good
    const s = returnStats(ds)
    expect(s.min).toBeLessThan(getTask('cartpole').refReturns.random * 2)
    expect(s.max).toBeGreaterThan(0.9 * getTask('cartpole').refReturns.expert)
  })
})

describe('replay with action noise (replay-noisy-v1)', () => {
  it('a stochastic behaviour policy: actions jitter from step to step as white noise of σ 0.2 does; seeded', async () => {
    const det = await makeControlDataset('cartpole', 'replay', { seed: 0, quick: true })
    const noisy = await makeControlDataset('cartpole', 'replay-noisy-v1', { seed: 0, quick: true })
    const again = await makeControlDataset('cartpole', 'replay-noisy-v1', { seed: 0, quick: true })
    expect(datasetHash(again)).toBe(datasetHash(noisy))
    expect(datasetHash(noisy)).not.toBe(datasetHash(det))
    expect(noisy.name).toBe('cartpole-replay-noisy-v1')
    expect(noisy.meta![0].kind).toBe('replay-noisy-v1')
    expect(noisy.scores.length).toBe(det.scores.length)
    // mean |a_t − a_{t−1}| within episodes: the linear policies move smoothly with the cart
    // (measured 0.004); added noise ε ~ N(0, 0.2²) gives E|ε_t − ε_{t−1}| = 2·0.2/√π ≈ 0.226
    // (measured 0.228)
    const jitter = (ds: typeof det): number => {
      let s = 0
      let n = 0
      for (let i = 0; i < ds.scores.length; i++) {
        for (let t = ds.offsets[i] + 1; t < ds.offsets[i + 1]; t++) {
          s += Math.abs(ds.actions[t] - ds.actions[t - 1])
          n++
        }
      }
      return s / n
    }
    expect(jitter(det)).toBeLessThan(0.05)
    expect(jitter(noisy)).toBeGreaterThan(0.19)
    expect(jitter(noisy)).toBeLessThan(0.26)
  })
})

describe('cartpole2: curated returns that differ (issue 15)', () => {
  it("cartpole's top 10% sits at the 500 ceiling; cartpole2's spreads over tens of return points", async () => {
    // measured (seed 0): cartpole replay-noisy-v1 top 10% 497.7–499.4 (std 0.53);
    // cartpole2 replay-noisy-v1 404.0–466.7 (std 14.4), cartpole2 replay 460.7–493.9 (std 8.4)
    const old = returnStats(await makeControlDataset('cartpole', 'replay-noisy-v1', { seed: 0 })).top10
    const noisy = await makeControlDataset('cartpole2', 'replay-noisy-v1', { seed: 0 })
    const v2 = returnStats(noisy).top10
    const det = returnStats(await makeControlDataset('cartpole2', 'replay', { seed: 0 })).top10
    expect(old.max - old.min).toBeLessThan(3)
    expect(old.min).toBeGreaterThan(495)
    expect(v2.max - v2.min).toBeGreaterThan(30)
    expect(v2.std).toBeGreaterThan(5)
    expect(det.max - det.min).toBeGreaterThan(15)
    // the curated episodes balance to the end: the spread is how well, not how long
    const top = Array.from(noisy.scores.keys()).filter((i) => noisy.scores[i] >= v2.min)
    expect(top.length).toBe(v2.episodes)
    for (const i of top) expect(noisy.meta![i].length).toBe(500)
    expect(noisy.name).toBe('cartpole2-replay-noisy-v1')
    expect(noisy.ids[0]).toBe('cartpole2-replay-noisy-v1-s0-0')
  })

  it('returnStats.top10 keeps what top-10% curation keeps: scores 1…20 → 19 and 20', () => {
    // numpy's 90th percentile of 1…20 is 1 + 0.9·19 = 18.1, so 19 and 20 are kept: std 0.5
    const ds = fromTraces(
      'toy',
      'continuous',
      1,
      1,
      Array.from({ length: 20 }, (_, i) => ({ id: `t${i}`, obs: new Float32Array([0]), actions: new Float32Array([0]), score: 20 - i }))
    )
    expect(returnStats(ds).top10).toEqual({ episodes: 2, min: 19, max: 20, std: 0.5 })
  })
})

describe('the old names reproduce exactly', () => {
  it('cartpole, pendulum and hopper datasets hash as they did before cartpole2 existed', async () => {
    // content hashes measured on main at 6a27344 (before cartpole2), same options
    const cases: Array<[string, 'expert' | 'replay' | 'replay-noisy-v1', { seed: number; quick?: boolean; episodes?: number }, string]> = [
      ['cartpole', 'expert', { seed: 0, quick: true }, 'e12ba24ee045cee7498a2475b56753f4'],
      ['cartpole', 'replay', { seed: 0, quick: true }, '665db714890db977a0974de4a6abc6ed'],
      ['cartpole', 'replay-noisy-v1', { seed: 0 }, '17fb6668742ee6d2d5bd554bfeba3682'],
      ['pendulum', 'replay', { seed: 0, quick: true }, 'd7745909fd1a1ef8fc5a68f4131407e6'],
      ['hopper', 'expert', { seed: 0, episodes: 3 }, '9773fa4926ced180a25d77adc154250b']
    ]
    for (const [task, kind, o, hash] of cases) expect(datasetHash(await makeControlDataset(task, kind, o)), `${task}-${kind}`).toBe(hash)
  })
})

describe('built-in list', () => {
  it('lists an expert and a replay set per task', async () => {
    const { listControlDatasets } = await import('../../src/main/engine/datasets/control.ts')
    const l = listControlDatasets()
    expect(l.map((d) => d.id)).toEqual(listTasks().flatMap((t) => [`${t.name}-expert`, `${t.name}-replay`, `${t.name}-replay-noisy-v1`]))
  })
})

describe('seeding', () => {
  it('the same seed gives the same dataset; another seed a different one', async () => {
    const a = await makeControlDataset('pendulum', 'replay', { seed: 5, quick: true })
    const b = await makeControlDataset('pendulum', 'replay', { seed: 5, quick: true })
    const c = await makeControlDataset('pendulum', 'replay', { seed: 6, quick: true })
    expect(datasetHash(b)).toBe(datasetHash(a))
    expect(datasetHash(c)).not.toBe(datasetHash(a))
    const e1 = await makeControlDataset('hopper', 'expert', { seed: 2, episodes: 3 })
    const e2 = await makeControlDataset('hopper', 'expert', { seed: 2, episodes: 3 })
    expect(datasetHash(e2)).toBe(datasetHash(e1))
    expect(e1.scores.length).toBe(3)
  })

  it('refuses bad options', async () => {
    await expect(makeControlDataset('walker', 'expert', { seed: 0 })).rejects.toThrow(/unknown control task "walker"/)
    await expect(makeControlDataset('pendulum', 'medium' as never, { seed: 0 })).rejects.toThrow(/kind "medium"/)
    await expect(makeControlDataset('pendulum', 'expert', { seed: 0, episodes: 0 })).rejects.toThrow(/episodes/)
  })
})

/** what a command prints on stdout, and its exit code */
async function printedBy(run: () => Promise<number>): Promise<{ code: number; printed: string }> {
  const write = process.stdout.write
  let printed = ''
  process.stdout.write = ((s: string) => {
    printed += s
    return true
  }) as typeof process.stdout.write
  try {
    return { code: await run(), printed }
  } finally {
    process.stdout.write = write
  }
}

describe('datasets command', () => {
  it('make control --task pendulum --quick --out FILE writes both datasets as JSON', async () => {
    const out = join(dir, 'pendulum.json')
    const { code, printed } = await printedBy(() =>
      cmdDatasets(['make', 'control', '--task', 'pendulum', '--quick', '--seed', '1', '--out', out, '--cache-dir', join(dir, 'cli-cache'), '--json'])
    )
    expect(code).toBe(0)
    const summary = JSON.parse(printed.trim()) as Array<{ kind: string; episodes: number }>
    expect(summary.map((s) => s.kind)).toEqual(['expert', 'replay'])
    const file = JSON.parse(readFileSync(out, 'utf8')) as { format: string; datasets: Record<string, unknown>[] }
    expect(file.format).toBe('iwsft-control-datasets')
    const back = file.datasets.map(datasetFromJson)
    const again = await makeControlDataset('pendulum', 'expert', { seed: 1, quick: true })
    expect(datasetHash(back[0])).toBe(datasetHash(again))
    expect(totalSteps(back[1])).toBeGreaterThan(0)
    expect(datasetToJson(back[0]).name).toBe('pendulum-expert')
  })

  it('make control without --json prints each dataset with the return range of its top 10%', async () => {
    const { code, printed } = await printedBy(() =>
      cmdDatasets(['make', 'control', '--task', 'pendulum', '--kind', 'expert', '--quick', '--seed', '1', '--cache-dir', join(dir, 'cli-cache')])
    )
    expect(code).toBe(0)
    const m = printed.match(/pendulum-expert .* \[(-?[\d.]+), (-?[\d.]+)\] {2}top 10% \[(-?[\d.]+), (-?[\d.]+)\] std ([\d.]+)/)
    expect(m, printed).not.toBeNull()
    const [lo, hi, topLo, topHi] = m!.slice(1, 5).map(Number)
    // the top 10% lies inside the whole range, at its upper end
    expect(topLo).toBeGreaterThanOrEqual(lo)
    expect(topHi).toBe(hi)
    expect(topLo).toBeLessThanOrEqual(topHi)
  })

  it('rejects an unknown kind and subcommand with a usage message', async () => {
    await expect(cmdDatasets(['make', 'control', '--kind', 'medium'])).rejects.toThrow(/--kind takes expert, replay, replay-noisy-v1, got "medium"/)
    await expect(cmdDatasets(['make', 'atari'])).rejects.toThrow(/usage: iwsft datasets/)
  })
})

describe('made on first use, cached', () => {
  it('memo and disk cache return the same dataset; a corrupt cache file is remade', async () => {
    const { getControlDataset, clearControlMemo } = await import('../../src/main/engine/datasets/control-cache.ts')
    const { readdirSync, writeFileSync } = await import('node:fs')
    const cacheDir = join(dir, 'cache')
    const a = await getControlDataset('cartpole', 'expert', { seed: 4, quick: true, cacheDir })
    const b = await getControlDataset('cartpole', 'expert', { seed: 4, quick: true, cacheDir })
    expect(b).toBe(a) // memo
    clearControlMemo()
    const files = readdirSync(cacheDir)
    expect(files.length).toBe(1)
    const c = await getControlDataset('cartpole', 'expert', { seed: 4, quick: true, cacheDir })
    expect(c).not.toBe(a)
    expect(datasetHash(c)).toBe(datasetHash(a))
    expect(c.meta).toEqual(a.meta)
    clearControlMemo()
    writeFileSync(join(cacheDir, files[0]), 'garbage')
    const d = await getControlDataset('cartpole', 'expert', { seed: 4, quick: true, cacheDir })
    expect(datasetHash(d)).toBe(datasetHash(a))
  })
})
