// Continuous-control trajectories whose actions follow a linear rule of the observation plus
// noise, the score higher for lower noise: curation and importance weights have something to find.
import { fromTraces, type TraceDataset } from '../../src/main/common/trace.ts'
import { Rng } from '../../src/main/engine/rng.ts'

export interface LinearControlShape {
  traces: number
  /** 2 or 3 */
  obsDim: number
  /** 1: a0 = tanh(0.5·o0 − 0.3·o1); 2: also a1 = tanh(0.2·o2) (needs obsDim 3) */
  actDim: number
  /** trajectory i has minLen + (i mod lenCycle) steps */
  minLen: number
  lenCycle: number
  /** score = −noise + tieBreak·i */
  tieBreak?: number
}

export function linearControl(seed: number, s: LinearControlShape): TraceDataset {
  const rng = new Rng(seed)
  return fromTraces(
    'lin',
    'continuous',
    s.obsDim,
    s.actDim,
    Array.from({ length: s.traces }, (_, i) => {
      const T = s.minLen + (i % s.lenCycle)
      const noise = 0.05 + (i % 10) * 0.05
      const obs: number[] = []
      const actions: number[] = []
      for (let t = 0; t < T; t++) {
        const o = Array.from({ length: s.obsDim }, () => rng.normal())
        obs.push(...o)
        actions.push(Math.tanh(0.5 * o[0] - 0.3 * o[1]) + noise * rng.normal())
        if (s.actDim > 1) actions.push(Math.tanh(0.2 * o[2]) + noise * rng.normal())
      }
      return { obs, actions, score: -noise + (s.tieBreak ?? 0) * i }
    })
  )
}
