// `iwsft reproduce llm` end to end on the tiny fixture model (issue 14): prompts, K samples
// through the chat template, SFT / iw-SFT / per-step iw-SFT with LoRA, held-out greedy accuracy,
// all runs in the suite's group with their weight diagnostics. A random tiny model answers no
// arithmetic, so the plumbing test passes every sample ("regex:."); the arithmetic verifier and
// the prompts are checked on their own.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { makeVerifier } from '../../src/main/engine/datasets/verifiers.ts'
import { Rng } from '../../src/main/engine/rng.ts'
import { createServices } from '../../src/main/services/index.ts'
import { openProject, type ProjectStore } from '../../src/main/store/index.ts'
import { arithmeticPrompts, runLlmSuite } from '../../src/main/suites/llm.ts'

const FIX = resolve(__dirname, '../fixtures/llm')
const dir = mkdtempSync(join(tmpdir(), 'iwsft-llm-suite-'))
let store: ProjectStore
beforeAll(async () => {
  const s = await createServices({ projectFile: join(dir, 'p.iwsft'), transport: 'cli' })
  await s.call('models.add', { path: join(FIX, 'hf/llama'), name: 'llama' })
  await s.shutdown()
  store = openProject(join(dir, 'p.iwsft'))
})
afterAll(() => {
  store?.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('reproduce llm', () => {
  it('arithmetic prompts are seeded and the verifier reads their answers', () => {
    const a = arithmeticPrompts(20, new Rng(1))
    expect(arithmeticPrompts(20, new Rng(1))).toEqual(a)
    const v = makeVerifier('arithmetic')
    for (const r of a) {
      const [x, op, y] = String(r.expr).split(' ')
      const answer = op === '+' ? Number(x) + Number(y) : op === '-' ? Number(x) - Number(y) : Number(x) * Number(y)
      expect(v.score(r, `The answer is ${answer}.`, 'test')).toBe(1)
      expect(v.score(r, `The answer is ${answer + 1}.`, 'test')).toBe(0)
    }
  })

  it('runs every method with LoRA from the model and reports accuracy and weight diagnostics', async () => {
    const labels: string[] = []
    const results = await runLlmSuite({ store, seeds: 1, quick: true, group: 'llm-suite-test', progress: (l) => (labels.push(l), { update: () => {}, done: () => {} }) }, 'llama', {
      trainPrompts: 4,
      testPrompts: 3,
      k: 2,
      maxTokens: 6,
      steps: 2,
      batch: 4,
      microBatch: 2,
      verify: 'regex:.'
    })
    const acc = results.filter((r) => r.metric === 'accuracy').map((r) => r.method)
    expect(acc).toEqual(['base', 'sft', 'iw-sft', 'iw-sft-step'])
    for (const r of results.filter((x) => x.metric === 'accuracy')) expect(r.mean).toBeGreaterThanOrEqual(0)
    expect(results.find((r) => r.method === 'iw-sft' && r.metric === 'ess')).toBeDefined()
    const runs = store.listRuns().filter((r) => r.group === 'llm-suite-test')
    expect(runs.map((r) => r.status)).toEqual(['completed', 'completed', 'completed'])
    expect(runs.every((r) => r.config.policy.kind === 'llm' && r.config.reference.kind === 'model')).toBe(true)
  })

  it('a model that is not in the project is a clear error', async () => {
    await expect(
      runLlmSuite({ store, seeds: 1, quick: true, group: 'x', progress: () => ({ update: () => {}, done: () => {} }) }, 'nope', {
        trainPrompts: 1,
        testPrompts: 1,
        k: 1,
        maxTokens: 2,
        steps: 1,
        batch: 1,
        microBatch: 1
      })
    ).rejects.toThrow(/model "nope" is not in the project/)
  })
})

describe('iwsft reproduce llm --model', () => {
  const BIN = resolve(__dirname, '../../bin/iwsft.mjs')
  const iwsft = (args: string[]) => spawnSync(process.execPath, [BIN, ...args, '--project', join(dir, 'cli.iwsft')], { cwd: dir, encoding: 'utf8', timeout: 180_000 })

  it('takes the project model it names, and only for the llm suite', () => {
    const missing = iwsft(['reproduce', 'llm', '--quick', '--seeds', '1', '--model', 'nope'])
    expect(missing.status).toBe(1)
    expect(missing.stderr).toMatch(/model "nope" is not in the project/)
    const wrong = iwsft(['reproduce', 'bandit', '--model', 'llama'])
    expect(wrong.status).toBe(2)
    expect(wrong.stderr).toMatch(/--model applies to reproduce llm/)
  }, 200_000)
})
