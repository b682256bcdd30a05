// Built-in control datasets report progress as they are made (issue 16: "importing…" sat without
// progress): in environment steps, from 0 to episodes × maxSteps, rising steadily — not in whole
// episodes, which end 16 at a time (the bar jumped from 0 straight to the end).
import { describe, expect, it } from 'vitest'
import { makeControlDataset, type ControlProgress } from '../../src/main/engine/datasets/control.ts'
import { getTask } from '../../src/main/engine/envs/registry.ts'

describe('control dataset progress', () => {
  it('counts environment steps from 0 to episodes × maxSteps, never backwards, in many small moves', async () => {
    const seen: ControlProgress[] = []
    const ds = await makeControlDataset('pendulum', 'expert', { seed: 0, episodes: 10, onProgress: (p) => seen.push({ ...p }) })
    const total = 10 * getTask('pendulum').maxSteps
    expect(ds.offsets.length - 1).toBe(10)
    expect(seen[0]).toEqual({ phase: 'expert', done: 0, total })
    expect(seen.at(-1)).toEqual({ phase: 'expert', done: total, total })
    for (let i = 1; i < seen.length; i++) expect(seen[i].done).toBeGreaterThanOrEqual(seen[i - 1].done)
    // all 10 episodes run side by side and end at the same step: counted by episode there would be 2 values
    expect(new Set(seen.map((p) => p.done)).size).toBeGreaterThan(50)
    // at most one report per 0.5 %
    expect(seen.length).toBeLessThanOrEqual(201)
  })
})
