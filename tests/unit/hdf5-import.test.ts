// HDF5 import (D4RL and Minari layouts) on small files written by h5wasm in a temp dir:
// exact round trips, episode splitting, chunked streaming with progress, and every bad-input
// case refused with a DatasetError naming the file, the key and the index.
import { spawnSync } from 'node:child_process'
import { copyFileSync, mkdtempSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { importHdf5 } from '../../src/main/engine/data/import-hdf5.ts'
import { DatasetError } from '../../src/main/common/trace.ts'
import { actValue, d4rlArrays, minariEpisodes, obsValue, rewValue, writeD4rl, writeMinari, type FixtureSpec } from '../fixtures/control/h5-fixtures.ts'

const dir = mkdtempSync(join(tmpdir(), 'iwsft-h5-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let n = 0
const tmp = (name: string): string => join(dir, `${n++}-${name}.h5`)

const spec: FixtureSpec = { lengths: [5, 3, 4], obsDim: 3, actDim: 2, lastByTimeout: true }
const f32 = (x: number): number => Math.fround(x)

function expectContents(ds: Awaited<ReturnType<typeof importHdf5>>, lengths: number[]): void {
  expect(ds.kind).toBe('continuous')
  expect(ds.obsDim).toBe(3)
  expect(ds.actDim).toBe(2)
  expect(Array.from(ds.offsets)).toEqual(lengths.reduce((o, T) => [...o, o[o.length - 1] + T], [0]))
  lengths.forEach((T, e) => {
    const o = ds.offsets[e]
    let ret = 0
    for (let i = 0; i < T; i++) {
      for (let j = 0; j < 3; j++) expect(ds.obs[(o + i) * 3 + j]).toBe(f32(obsValue(e, i, j)))
      for (let j = 0; j < 2; j++) expect(ds.actions[(o + i) * 2 + j]).toBe(f32(actValue(e, i, j)))
      expect(ds.rewards![o + i]).toBe(f32(rewValue(e, i)))
      ret += f32(rewValue(e, i))
    }
    expect(ds.scores[e]).toBeCloseTo(ret, 6)
  })
  expect(ds.mask.every((m) => m === 1)).toBe(true)
}

async function expectRefused(file: string, ...patterns: RegExp[]): Promise<void> {
  const err = await importHdf5(file).then(
    () => null,
    (e: unknown) => e
  )
  expect(err).toBeInstanceOf(DatasetError)
  const msg = (err as Error).message
  expect(msg).toContain(file)
  for (const p of patterns) expect(msg).toMatch(p)
}

describe('D4RL files', () => {
  it('round trip: episodes split on terminals and timeouts, values exact', async () => {
    const file = tmp('d4rl')
    await writeD4rl(file, d4rlArrays(spec), spec)
    const ds = await importHdf5(file)
    expectContents(ds, spec.lengths)
    expect(ds.meta!.map((m) => [m.terminated, m.truncated, m.partial])).toEqual([
      [true, false, false],
      [true, false, false],
      [false, true, false]
    ])
    expect(ds.name).toBe(file.split('/').pop()!.replace('.h5', ''))
  })

  it('streams in chunks with progress and gives the same data', async () => {
    const file = tmp('d4rl-chunks')
    await writeD4rl(file, d4rlArrays(spec), spec)
    const whole = await importHdf5(file)
    const seen: number[] = []
    const chunked = await importHdf5(file, { chunkRows: 2, onProgress: (p) => p.phase === 'read' && seen.push(p.done / p.total) })
    expect(Array.from(chunked.obs)).toEqual(Array.from(whole.obs))
    expect(Array.from(chunked.actions)).toEqual(Array.from(whole.actions))
    expect(seen.length).toBeGreaterThanOrEqual(5 * 6) // 5 keys × ⌈12 / 2⌉ chunks
    expect(seen.every((x, i) => i === 0 || x >= seen[i - 1])).toBe(true)
    expect(seen[seen.length - 1]).toBe(1)
  })

  it('keeps a trailing partial episode (no end after it) as its own trace, flagged partial', async () => {
    const file = tmp('d4rl-partial')
    const a = d4rlArrays(spec)
    a.timeouts.fill(0) // the last episode (indices 8..11) now has no end
    await writeD4rl(file, a, spec)
    const ds = await importHdf5(file)
    expectContents(ds, spec.lengths)
    expect(ds.meta![2]).toMatchObject({ partial: true, terminated: false, truncated: false })
  })

  it('a missing key is refused, naming the key', async () => {
    const file = tmp('d4rl-missing')
    const a = d4rlArrays(spec)
    await writeD4rl(file, { ...a, timeouts: undefined }, spec)
    await expectRefused(file, /missing key "timeouts"/)
  })

  it('mismatched lengths are refused, naming the key and the first missing index', async () => {
    const file = tmp('d4rl-short')
    const a = d4rlArrays(spec)
    await writeD4rl(file, { ...a, actions: a.actions.slice(0, 11 * 2) }, spec)
    await expectRefused(file, /key "actions" has 11 rows but "observations" has 12/, /index 11/)
  })

  it('a NaN observation is refused, naming the key, the index and the column', async () => {
    const file = tmp('d4rl-nan')
    const a = d4rlArrays(spec)
    a.observations[7 * 3 + 1] = NaN
    await writeD4rl(file, a, spec)
    await expectRefused(file, /key "observations" has NaN at index 7, column 1/)
  })

  it('an infinite reward is refused, naming the key and the index', async () => {
    const file = tmp('d4rl-inf')
    const a = d4rlArrays(spec)
    a.rewards[4] = Infinity
    await writeD4rl(file, a, spec)
    await expectRefused(file, /key "rewards" has Infinity at index 4/)
  })

  it('a file with no episode end is refused, naming both keys and the index range', async () => {
    const file = tmp('d4rl-noend')
    const a = d4rlArrays(spec)
    a.terminals.fill(0)
    a.timeouts.fill(0)
    await writeD4rl(file, a, spec)
    await expectRefused(file, /no episode ends/, /"terminals" and "timeouts"/, /index 0\.\.11/)
  })
})

describe('Minari files', () => {
  it('round trip: episode groups in numeric order, the final observation dropped', async () => {
    const file = tmp('minari')
    const lengths = [5, 3, 4, 2, 1, 2, 3, 1, 2, 2, 6] // 11 episodes: episode_10 must come after episode_9
    const s = { ...spec, lengths }
    await writeMinari(file, minariEpisodes(s), s)
    const ds = await importHdf5(file)
    expectContents(ds, lengths)
    expect(ds.meta!.map((m) => m.episode)).toEqual(lengths.map((_, e) => e))
    expect(ds.meta![10]).toMatchObject({ truncated: true, terminated: false })
    expect(ds.meta![0]).toMatchObject({ truncated: false, terminated: true })
  })

  it('observations not one longer than actions are refused, naming the key and index', async () => {
    const file = tmp('minari-len')
    const eps = minariEpisodes(spec)
    eps[1].observations = eps[1].observations.slice(0, 3 * 3) // 3 rows, needs 4
    await writeMinari(file, eps, spec)
    await expectRefused(file, /key "episode_1\/observations" has 3 rows, expected 4/, /index 3/)
  })

  it('a NaN observation is refused, naming the episode key and the index', async () => {
    const file = tmp('minari-nan')
    const eps = minariEpisodes(spec)
    eps[2].observations[1 * 3 + 2] = NaN
    await writeMinari(file, eps, spec)
    await expectRefused(file, /key "episode_2\/observations" has NaN at index 1, column 2/)
  })

  it('a NaN in the final (dropped) observation is still refused', async () => {
    const file = tmp('minari-nan-last')
    const eps = minariEpisodes(spec)
    eps[0].observations[5 * 3] = NaN
    await writeMinari(file, eps, spec)
    await expectRefused(file, /key "episode_0\/observations" has NaN at index 5, column 0/)
  })

  it('a missing key is refused, naming the episode key', async () => {
    const file = tmp('minari-missing')
    const eps = minariEpisodes(spec)
    delete (eps[2] as Partial<(typeof eps)[0]>).rewards
    await writeMinari(file, eps, spec)
    await expectRefused(file, /missing key "episode_2\/rewards"/)
  })

  it('an episode without an end is refused, naming the keys and the last index', async () => {
    const file = tmp('minari-noend')
    const eps = minariEpisodes(spec)
    eps[0].terminations.fill(0)
    await writeMinari(file, eps, spec)
    await expectRefused(file, /no episode end in "episode_0"/, /"episode_0\/terminations"/, /last index 4/)
  })
})

describe('other bad files', () => {
  it('a file that is not HDF5 is refused, naming the file', async () => {
    const file = join(dir, 'not-hdf5.h5')
    writeFileSync(file, 'this is not an HDF5 file')
    await expectRefused(file, /not-hdf5\.h5: is not an HDF5 file: it has no HDF5 signature and looks like text; choose a D4RL or Minari/)
  })

  it("a zip posing as HDF5 and a truncated HDF5 file are refused in one line each, with nothing of HDF5's error stack on stderr", () => {
    // a zip (local file header "PK\3\4") named .h5
    const zip = join(dir, 'posing.h5')
    writeFileSync(zip, Buffer.concat([Buffer.from('PK\x03\x04'), Buffer.alloc(200, 7)]))
    // a real HDF5 file cut in half: the signature is there, the library fails inside
    const cut = join(dir, 'cut.hdf5')
    copyFileSync(join(import.meta.dirname, '../fixtures/control/d4rl-h5py.hdf5'), cut)
    truncateSync(cut, Math.floor(statSync(cut).size / 2))
    // in a child process: the C library writes to the process's own stderr, which a test cannot catch in-process
    const script = `
      const { importHdf5 } = await import(${JSON.stringify(resolve(import.meta.dirname, '../../src/main/engine/data/import-hdf5.ts'))})
      for (const f of ${JSON.stringify([zip, cut])}) {
        try { await importHdf5(f); console.log('IMPORTED') } catch (e) { console.log('REFUSED ' + e.message) }
      }
      const ok = await importHdf5(${JSON.stringify(join(import.meta.dirname, '../fixtures/control/d4rl-h5py.hdf5'))})
      console.log('AFTER ' + (ok.offsets.length - 1))`
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 })
    expect(r.stderr).not.toMatch(/HDF5-DIAG|#000|major:/)
    const lines = r.stdout.trim().split('\n')
    expect(lines).toHaveLength(3)
    expect(lines[0]).toBe(`REFUSED ${zip}: is not an HDF5 file: it has no HDF5 signature and looks like a zip archive (an .npz or a zipped folder?); choose a D4RL or Minari .hdf5 file`)
    expect(lines[1]).toMatch(new RegExp(`^REFUSED ${cut.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: is not a readable HDF5 file \\(truncated file: eof = \\d+`))
    // the library still works after its errors
    expect(lines[2]).toBe('AFTER 4')
  })

  it('a missing file is refused, naming the file', async () => {
    await expectRefused(join(dir, 'nope.h5'), /no such file/)
  })

  it('an HDF5 file of neither layout names the expected keys', async () => {
    const file = tmp('neither')
    await writeD4rl(file, { N: 0 }, spec)
    await expectRefused(file, /missing key "observations"/, /episode_N/)
  })
})

describe('files written by h5py (booleans as HDF5 enums, float64, extra groups)', () => {
  const fixtures = join(import.meta.dirname, '../fixtures/control')

  it('a D4RL file: split on terminal, timeout, terminal, trailing partial kept', async () => {
    const ds = await importHdf5(join(fixtures, 'd4rl-h5py.hdf5'))
    expect(Array.from(ds.offsets)).toEqual([0, 10, 20, 25, 30])
    expect(ds.obsDim).toBe(4)
    expect(ds.actDim).toBe(2)
    expect(Array.from(ds.obs.subarray(4 * 13, 4 * 14))).toEqual([13, f32(1.3), -13, 1])
    expect(ds.actions[2 * 7 + 1]).toBe(f32(Math.cos(7)))
    expect(ds.scores[0]).toBeCloseTo(0.45, 5) // Σ_{t<10} t/100
    expect(ds.meta!.map((m) => [m.terminated, m.truncated, m.partial])).toEqual([
      [true, false, false],
      [false, true, false],
      [true, false, false],
      [false, false, true]
    ])
  })

  it('a Minari file: float64 observations, one longer than actions', async () => {
    const ds = await importHdf5(join(fixtures, 'minari-h5py.hdf5'))
    expect(Array.from(ds.offsets)).toEqual([0, 3, 7, 12])
    expect(ds.obsDim).toBe(3)
    expect(ds.actDim).toBe(1)
    expect(Array.from(ds.obs.subarray(3 * 4, 3 * 5))).toEqual([1, 1, 0.5]) // episode 1, step 1
    expect(ds.actions[7 + 2]).toBe(f32(0.2 - 2)) // episode 2, step 2
    expect(Array.from(ds.scores)).toEqual([0 + 1 + 2, 1 + 2 + 3 + 4, 2 + 3 + 4 + 5 + 6])
    expect(ds.meta!.map((m) => m.truncated)).toEqual([false, true, false])
  })
})
