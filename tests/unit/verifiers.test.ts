// Verifiers of sampled completions and the memory check that refuses a model before loading it:
// answers worked out by hand.
import { describe, expect, it } from 'vitest'
import { arithmeticAnswer, lastInteger, makeVerifier, VerifierError } from '../../src/main/engine/datasets/verifiers.ts'
import { checkDatasetIds, checkModelMemory } from '../../src/main/jobs/model-ops.ts'
import { fromTraces } from '../../src/main/common/trace.ts'

describe('verifiers', () => {
  it('finds the integer expression of a prompt and evaluates it with precedence', () => {
    expect(arithmeticAnswer('What is 12 + 7?')).toBe(19)
    expect(arithmeticAnswer('Compute 2 + 3 * 4 please')).toBe(14)
    expect(arithmeticAnswer('12+7*3=')).toBe(33)
    expect(arithmeticAnswer('3 - 7')).toBe(-4)
    expect(arithmeticAnswer('what is 6 × 7?')).toBe(42)
    expect(arithmeticAnswer('no numbers here')).toBeNull()
    expect(arithmeticAnswer('just 5')).toBeNull()
  })

  it('the arithmetic verifier takes the answer after "#", else the last integer', () => {
    const v = makeVerifier('arithmetic')
    const row = { prompt: 'What is 12 + 7?' }
    expect(v.score(row, '12 + 7 = 19', 'r1')).toBe(1)
    expect(v.score(row, '12 + 7 = 9\n\nThis is a classic example of', 'r1')).toBe(0)
    expect(v.score(row, 'The answer is 19.', 'r1')).toBe(1)
    expect(v.score(row, '7+12=19;#19', 'r1')).toBe(1)
    expect(v.score(row, '#18 then 19', 'r1')).toBe(1) // text after the '#': no '#' answer, so the last integer (19) counts
    expect(v.score(row, 'about 19, say #18', 'r1')).toBe(0) // the '#' answer wins over other numbers
    expect(v.score(row, 'no idea', 'r1')).toBe(0)
    expect(() => v.score({ prompt: 'Tell me a joke' }, '42', 'prompt row 3')).toThrow(/prompt row 3: the prompt "Tell me a joke" has no integer expression/)
  })

  it('the answer verifier compares numbers by value and text whole or by last line', () => {
    const v = makeVerifier('answer:gold')
    expect(v.score({ prompt: 'p', gold: '1,234' }, 'so it is 1234', 'r')).toBe(1)
    expect(v.score({ prompt: 'p', gold: 2.5 }, 'half of 5 is 2.5', 'r')).toBe(1)
    expect(v.score({ prompt: 'p', gold: 2.5 }, '2.5 is not 3', 'r')).toBe(0)
    expect(v.score({ prompt: 'p', gold: 'Paris' }, 'Let me think.\n  paris. ', 'r')).toBe(1)
    expect(v.score({ prompt: 'p', gold: 'Paris' }, 'Paris is nice', 'r')).toBe(0)
    expect(() => v.score({ prompt: 'p' }, 'x', 'prompt row 2')).toThrow(/prompt row 2: no "gold" column/)
  })

  it('the regex verifier matches the completion; a bad pattern or name is refused', () => {
    const v = makeVerifier('regex:^\\d+$')
    expect(v.score({ prompt: 'p' }, '123', 'r')).toBe(1)
    expect(v.score({ prompt: 'p' }, '12a', 'r')).toBe(0)
    expect(() => makeVerifier('regex:(')).toThrow(VerifierError)
    expect(() => makeVerifier('regex:(')).toThrow(/not a valid regular expression/)
    expect(() => makeVerifier('judge')).toThrow(/unknown verifier "judge"; use arithmetic, answer:COLUMN or regex:PATTERN/)
  })

  it('lastInteger reads signs and thousands separators', () => {
    expect(lastInteger('from -3 to -12')).toBe(-12)
    expect(lastInteger('total 1,024 items')).toBe(1024)
    expect(lastInteger('none')).toBeNull()
  })
})

describe('the memory check before a model is loaded', () => {
  const GB = 1024 ** 3
  it('refuses to add a model larger than all the memory there is, with the estimate', () => {
    expect(() => checkModelMemory('big', 3 * GB, 'add', { total: 2 * GB, available: 1 * GB })).toThrow(
      'model "big" needs about 3.00 GB of memory in float32 (weights and a scoring batch of 8 × 256 tokens); this machine has 2.00 GB in all'
    )
    expect(() => checkModelMemory('ok', 1.5 * GB, 'add', { total: 2 * GB, available: 0.1 * GB })).not.toThrow()
  })

  it('refuses to load what does not fit in the available memory, counting a model that is freed first', () => {
    expect(() => checkModelMemory('m', 1.5 * GB, 'load', { total: 4 * GB, available: 1 * GB })).toThrow(/needs about 1\.50 GB .*; 1\.00 GB is available now \(of 4\.00 GB\)/)
    expect(() => checkModelMemory('m', 1.5 * GB, 'load', { total: 4 * GB, available: 1 * GB }, 0.5 * GB)).not.toThrow()
  })
})

describe("a dataset's token ids against a model's vocabulary", () => {
  it('names the first trace and token outside it', () => {
    const ds = fromTraces('d', 'sequence', 0, 1000, [
      { id: 'ok', actions: [1, 2, 3], mask: [0, 1, 1], score: 1 },
      { id: 'x', actions: [1, 5, 400], mask: [0, 1, 1], score: 1 }
    ])
    expect(() => checkDatasetIds(ds, 384, 'llama')).toThrow(
      'dataset "d", trace "x" (index 1), token 2: id 400 is outside the vocabulary of model "llama" (0..383); import the data with this model\'s tokenizer'
    )
    expect(() => checkDatasetIds(ds, 401, 'big')).not.toThrow()
    expect(() => checkDatasetIds(fromTraces('c', 'continuous', 1, 1, [{ obs: [0], actions: [0.5], score: 0 }]), 10, 'm')).toThrow(/holds continuous actions, not tokens/)
  })
})
