import { describe, expect, it } from 'vitest'
import { parseGridValues } from '../../src/shared/sweep-grid.ts'
import { parseGrid } from '../../src/main/cli/commands/sweep.ts'

describe('sweep values as typed', () => {
  it('numbers, booleans and text; spaces and empty items dropped', () => {
    expect(parseGridValues('1, 3,10')).toEqual([1, 3, 10])
    expect(parseGridValues('0.9,0.99 ,')).toEqual([0.9, 0.99])
    expect(parseGridValues('true,false')).toEqual([true, false])
    expect(parseGridValues('sft-q, iw-sft-q')).toEqual(['sft-q', 'iw-sft-q'])
    expect(parseGridValues('1e-4,mean')).toEqual([1e-4, 'mean'])
    expect(parseGridValues(' , ')).toEqual([])
  })

  it('the command line reads --grid the same way', () => {
    expect(parseGrid(['c.yaml', '--grid', 'weights.temp=1, 3', '--grid=method=sft-q,iw-sft-q']).grid).toEqual([
      { key: 'weights.temp', values: [1, 3] },
      { key: 'method', values: ['sft-q', 'iw-sft-q'] }
    ])
  })
})
