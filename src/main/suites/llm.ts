// The LLM suite (issue 14, paper §5.1 in miniature on a real model): per seed
//   1. arithmetic word problems with verifiable answers, split into train and held-out prompts;
//   2. K samples per training prompt from the model through its chat template (jobs/model-ops.ts
//      sampleDataset, as `iwsft sample`), verified ("arithmetic"), stored with the model's own
//      log-probs as π_ref (the start model);
//   3. SFT, iw-SFT and per-step iw-SFT with LoRA from the model on the correct samples (the
//      authors' LLM settings: q = π_θ with stop-gradient, temp 1 on the mean log ratio, w in
//      [0, 16], token-normalised loss);
//   4. held-out greedy accuracy of the base model and of each method's final adapter.
// Every run is stored in the project (one group an invocation), with its weight diagnostics.
import { defaultConfig, LORA_DEFAULTS, type RunConfig } from '../../shared/config.ts'
import { initBackend } from '../engine/backend/index.ts'
import { makeVerifier, type PromptRow } from '../engine/datasets/verifiers.ts'
import type { LoadedLlm } from '../engine/llm/load.ts'
import { LlmPolicy } from '../engine/llm/policy.ts'
import type { Policy } from '../engine/policies/policy.ts'
import { Rng } from '../engine/rng.ts'
import { loadRunModel } from '../jobs/llm-policy.ts'
import { requireModel } from '../jobs/model-reference.ts'
import { modelRefKey, promptIds, sampleDataset } from '../jobs/model-ops.ts'
import { registerSuite, ResultTable, runInSuite, type Method, type SuiteContext, type SuiteResult } from './suite.ts'

export interface LlmSuiteSizes {
  trainPrompts: number
  testPrompts: number
  k: number
  maxTokens: number
  steps: number
  batch: number
  microBatch: number
  /** which samples count as correct (default "arithmetic"; tests on tiny random models pass
   *  every sample with "regex:.") */
  verify?: string
}

const QUICK: LlmSuiteSizes = { trainPrompts: 24, testPrompts: 24, k: 4, maxTokens: 24, steps: 24, batch: 8, microBatch: 4 }
const FULL: LlmSuiteSizes = { trainPrompts: 200, testPrompts: 100, k: 8, maxTokens: 48, steps: 200, batch: 8, microBatch: 4 }
const METHODS: Method[] = ['sft', 'iw-sft', 'iw-sft-step']
export const LLM_SUITE_MODEL = 'smollm2-135m-instruct'

/** Word problems "a op b" with small operands, seeded; the verifier reads the expression back. */
export function arithmeticPrompts(n: number, rng: Rng, offset = 0): PromptRow[] {
  const words: Record<string, string> = { '+': 'plus', '-': 'minus', '*': 'times' }
  return Array.from({ length: n }, (_, i) => {
    const op = (['+', '-', '*'] as const)[rng.int(3)]
    const a = 2 + rng.int(op === '*' ? 11 : 40)
    const b = 2 + rng.int(op === '*' ? 11 : 40)
    return { id: `q${offset + i}`, prompt: `What is ${a} ${op} ${b}? (${a} ${words[op]} ${b}) Answer with the number.`, expr: `${a} ${op} ${b}` }
  })
}

/** Greedy accuracy of `policy` on `rows` (the answer is the last integer of the completion). */
export function greedyAccuracy(policy: LlmPolicy, llm: LoadedLlm, rows: PromptRow[], maxTokens: number): number {
  const verifier = makeVerifier('arithmetic')
  const prompts = rows.map((r) => promptIds(llm, String(r.prompt), llm.chat !== null))
  let correct = 0
  for (let c = 0; c < prompts.length; c += 16) {
    const gens = policy.generate(prompts.slice(c, c + 16), { maxNewTokens: maxTokens, temperature: 0, stop: llm.tokenizer.eosIds })
    gens.forEach((g, i) => (correct += verifier.score(rows[c + i], llm.tokenizer.decode(g.tokens), `held-out prompt ${c + i + 1}`)))
  }
  return correct / Math.max(1, rows.length)
}

/** The suite on `model` (a model of the project): result rows per method. */
export async function runLlmSuite(ctx: SuiteContext, model: string, sizes: LlmSuiteSizes): Promise<SuiteResult[]> {
  const m = requireModel(ctx.store, model)
  // the models are loaded on the backend the runs train on
  await initBackend(ctx.backend ?? defaultConfig('sequence').backend)
  const table = new ResultTable()
  const template = m.details.chatTemplate !== null ? 'chat' : 'plain'
  for (let seed = 0; seed < ctx.seeds; seed++) {
    const rng = new Rng(10_000 + seed)
    const train = arithmeticPrompts(sizes.trainPrompts, rng)
    const test = arithmeticPrompts(sizes.testPrompts, rng, sizes.trainPrompts)
    // the base model: samples and its held-out accuracy (a frozen handle on the loaded model)
    const base = await loadRunModel(ctx.store, { kind: 'llm', model: m.name, finetune: 'lora', lora: LORA_DEFAULTS }, seed)
    let datasetId: number
    try {
      const frozen = new LlmPolicy(base.llm.model, { model: m.name })
      const bar = ctx.progress(`base model seed ${seed}: held-out accuracy`)
      table.add('base', 'accuracy', greedyAccuracy(frozen, base.llm, test, sizes.maxTokens))
      bar.done()
      const sbar = ctx.progress(`sampling ${sizes.k} × ${train.length} prompts, seed ${seed}`)
      const s = await sampleDataset(
        base.llm,
        m.name,
        train,
        {
          k: sizes.k,
          temperature: 1,
          maxTokens: sizes.maxTokens,
          seed,
          verify: sizes.verify ?? 'arithmetic',
          chat: template === 'chat',
          name: `llm suite samples · ${m.name} · seed ${seed}`
        },
        { onProgress: (d, t) => sbar.update('sample', d, t) }
      )
      sbar.done()
      if (s === 'cancelled') throw new Error('sampling was cancelled')
      table.add('samples', 'pass_rate', (s.passed ?? 0) / Math.max(1, train.length * sizes.k))
      if (!s.passed) throw new Error(`none of the ${train.length * sizes.k} samples of model "${m.name}" is correct: nothing to fine-tune on (use a stronger model or more samples)`)
      datasetId = ctx.store.transaction(() => {
        const stored = ctx.store.putImportedDataset(s.dataset, `sample:${m.name} k=${sizes.k} T=1 verify=${sizes.verify ?? 'arithmetic'}`, {
          ref: s.modelLogprobs,
          policy: s.samplingLogprobs,
          tokenizer: { kind: 'llm', path: m.path }
        })
        ctx.store.setDatasetTokenization(stored.id, { tokenizerHash: m.tokenizerHash, template, modelName: m.name })
        ctx.store.putRefLogProbs(modelRefKey(m.hash, template), stored.hash, s.modelLogprobs)
        return stored.id
      })
    } finally {
      base.dispose()
    }
    // held-out accuracy of each method's adapter, at the end of its run (the run's evaluation)
    const evalModel = await loadRunModel(ctx.store, { kind: 'llm', model: m.name, finetune: 'lora', lora: LORA_DEFAULTS }, seed)
    try {
      const evaluate = (p: Policy, step: number): Record<string, number> => (step === sizes.steps ? { accuracy: greedyAccuracy(p as LlmPolicy, evalModel.llm, test, sizes.maxTokens) } : {})
      for (const method of METHODS) {
        const d = defaultConfig('sequence')
        const cfg: RunConfig = {
          ...d,
          name: `llm ${method} seed ${seed}`,
          dataset: String(datasetId),
          seed,
          method,
          curation: { mode: 'threshold', threshold: 0.5 },
          policy: { kind: 'llm', model: m.name, finetune: 'lora', lora: LORA_DEFAULTS },
          reference: { kind: 'model', model: m.name },
          optim: { ...d.optim, kind: 'adamw', lr: 2e-4, warmup_steps: Math.round(0.05 * sizes.steps), weight_decay: 0 },
          train: {
            ...d.train,
            steps: sizes.steps,
            batch_size: sizes.batch,
            micro_batch: sizes.microBatch,
            loss_norm: 'token',
            log_every: 4,
            snapshot_every: sizes.steps,
            eval_every: sizes.steps,
            checkpoint_every: null
          }
        }
        const r = await runInSuite(ctx, `${method} seed ${seed}`, cfg, { evaluate })
        table.add(method, 'accuracy', r.final.accuracy)
        // the weight diagnostics that explain a (non-)separation of iw-SFT from SFT
        if (r.final.ess !== undefined) table.add(method, 'ess', r.final.ess)
        if (r.final.logw_raw_max !== undefined) table.add(method, 'logw_raw_spread', r.final.logw_raw_max - r.final.logw_raw_min)
      }
    } finally {
      evalModel.dispose()
    }
  }
  return table.results()
}

registerSuite('llm', {
  metric: 'accuracy',
  description: `arithmetic word problems on a real model (${LLM_SUITE_MODEL} by default; add it with \`iwsft models fetch ${LLM_SUITE_MODEL}\`): K verified samples, SFT vs iw-SFT vs per-step iw-SFT with LoRA from the model; held-out greedy accuracy`,
  expectation: 'paper (Qwen2.5-32B on s1K): iw-SFT above SFT; on a 135M model and a few hundred samples expect small differences, and read the ess / log-weight spread rows',
  run: (ctx) => runLlmSuite(ctx, ctx.model ?? LLM_SUITE_MODEL, ctx.quick ? QUICK : FULL)
})
