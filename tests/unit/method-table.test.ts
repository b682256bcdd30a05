// The method table (shared/config.ts) against science.md's table of objectives, row by row.
import { describe, expect, it } from 'vitest'
import { isImportanceWeighted, isPerStep, METHODS, trainsOnAllData, usesQualityBins, type Method } from '../../src/shared/config.ts'

// science.md, "Objectives": data (D, D+, D_Q+), weighted by q/π_ref, per-step weights
const SCIENCE: Record<Method, [string, boolean, boolean]> = {
  bc: ['D', false, false],
  sft: ['D+', false, false],
  'sft-q': ['D_Q+', false, false],
  'iw-sft': ['D+', true, false],
  'iw-sft-q': ['D_Q+', true, false],
  'iw-sft-step': ['D+', true, true],
  'iw-sft-q-step': ['D_Q+', true, true]
}

describe('method table', () => {
  for (const m of METHODS) {
    it(m, () => {
      const [data, iw, perStep] = SCIENCE[m]
      expect(trainsOnAllData(m)).toBe(data === 'D')
      expect(usesQualityBins(m)).toBe(data === 'D_Q+')
      expect(isImportanceWeighted(m)).toBe(iw)
      expect(isPerStep(m)).toBe(perStep)
    })
  }
})
