// A loaded LLM behind the engine's Policy interface (policies/policy.ts), so the trainer, the
// evaluators and reference scoring can use it where they take a Policy.
//
// Token convention. A trace row holds the sequence's real tokens (prompt then completion, as the
// chat template and tokenizer produced them); `valid` marks real tokens, `mask` the scored
// (completion) ones. logProbs(batch)[b, t] = log π(token_t | token_<t). Position 0 has no
// context: with `prependBos` (default: the tokenizer's addBos, e.g. Llama 3) the model's BOS is
// fed in front and position 0 is scored under it, as the sequence suite's transformer does;
// otherwise position 0 gets 0 (a prompt token: chat templates begin with their own special token).
//
// Training (issue 14), `training` in the options:
//   null   the frozen model, no variables (scoring, sampling, π_ref)
//   lora   LoRA adapters (lora.ts) on the shared frozen model: the variables are A and B of every
//          targeted linear, added through CausalLm.linearHook only while this policy runs; a
//          clone copies the adapters, never the model
//   full   every base weight a tf.Variable: the policy owns a copy of the model's weights (made
//          once, when it is built or cloned; never per step)
// dispose() frees what the policy owns (adapters, a full copy), never the shared model
// (LoadedLlm.dispose does that).
import * as tf from '@tensorflow/tfjs'
import type { Batch, Policy, PolicySpec } from '../policies/policy.ts'
import type { CausalLm } from './decoder.ts'
import { LoraAdapters, type LoraSettings } from './lora.ts'
import { generate, type GenerateOptions, type Generation } from './generate.ts'
import { defaultChunkRows } from './score.ts'
import type { LlmArch } from './spec.ts'

export interface LlmPolicySpec extends PolicySpec {
  kind: 'llm'
  /** the model path or store id the policy was loaded from (rebuilding loads it again) */
  model: string
  arch: LlmArch
  vocabSize: number
  prependBos: boolean
  bos: number
  training: LlmTraining | null
  /** seeds A's initialisation and dropout (LoRA) */
  seed: number
}

export type LlmTraining = ({ mode: 'lora' } & LoraSettings) | { mode: 'full' }

let nextFull = 0

/** CausalLm.activationBudgetBytes of a fully fine-tuned copy */
export const FULL_ACTIVATION_BUDGET_BYTES = 2 * 2 ** 30

export interface LlmPolicyOptions {
  /** recorded in spec.model */
  model: string
  /** feed BOS before position 0 (default false); requires bos ≥ 0 */
  prependBos?: boolean
  bos?: number
  chunkRows?: number
  /** what is trained (see the header); default null, the frozen model */
  training?: LlmTraining | null
  seed?: number
}

export class LlmPolicy implements Policy {
  readonly spec: LlmPolicySpec
  readonly variables: tf.Variable[]
  /** the model this policy runs: the shared frozen one, or (full) its own trainable copy */
  readonly lm: CausalLm
  readonly adapters: LoraAdapters | null
  private readonly ownsLm: boolean
  private readonly chunkRows: number

  /** `base`: the loaded (frozen, shared) model. `own`: internal, for clones. */
  constructor(
    base: CausalLm,
    private readonly opts: LlmPolicyOptions,
    own?: { adapters?: LoraAdapters; lm?: CausalLm }
  ) {
    const prependBos = opts.prependBos ?? false
    const bos = opts.bos ?? -1
    if (prependBos && !(bos >= 0 && bos < base.spec.vocabSize)) throw new Error(`LlmPolicy: prependBos needs the model's BOS id, got ${bos}`)
    const training = opts.training ?? null
    const seed = opts.seed ?? 0
    this.spec = { kind: 'llm', obsDim: 0, actDim: base.spec.vocabSize, model: opts.model, arch: base.spec.arch, vocabSize: base.spec.vocabSize, prependBos, bos, training, seed }
    this.chunkRows = opts.chunkRows ?? defaultChunkRows(base.spec.vocabSize)
    if (training?.mode === 'lora') {
      this.lm = base
      this.ownsLm = false
      this.adapters = own?.adapters ?? LoraAdapters.create(base.spec, training, seed)
      this.variables = this.adapters.variables
    } else if (training?.mode === 'full') {
      this.lm = own?.lm ?? base.copyAsVariables(true, `llm-full${nextFull++}`)
      // full fine-tuning already holds the weights four times over (θ, its gradient, Adam's m
      // and v) and is not held to LoRA's memory bound: keep every layer's activations at the
      // benchmark's 4 × 256 tokens (~1 GB for SmolLM2) rather than run layers twice
      this.lm.activationBudgetBytes = FULL_ACTIVATION_BUDGET_BYTES
      this.ownsLm = true
      this.adapters = null
      this.variables = [...this.lm.weights.values()] as tf.Variable[]
    } else {
      this.lm = base
      this.ownsLm = false
      this.adapters = null
      this.variables = []
    }
  }

  /** run `f` with this policy's adapters on the (possibly shared) model; without adapters the
   *  model runs as it is (with whatever hook its owner set) */
  private withAdapters<T>(f: () => T): T {
    if (!this.adapters) return f()
    return this.lm.withHook(this.adapters.hook, this.adapters.params, f)
  }

  /** log π(token_t | token_<t) for every step: [B, T] (see the token convention above) */
  logProbs(batch: Batch): tf.Tensor2D {
    return this.withAdapters(() => this.logProbsRaw(batch))
  }

  private logProbsRaw(batch: Batch): tf.Tensor2D {
    const { B, T } = batch
    const lm = this.lm
    const acts = (batch.actions.dtype === 'int32' ? batch.actions : batch.actions.toInt()).reshape([B, T]) as tf.Tensor2D
    const bos = this.spec.prependBos
    // input ids and the row of hidden states that predicts each scored token
    const input = bos ? (T > 1 ? tf.concat([tf.fill([B, 1], this.spec.bos, 'int32'), acts.slice([0, 0], [B, T - 1])], 1) : tf.fill([B, 1], this.spec.bos, 'int32')) : acts
    const h = tf.tidy(() => {
      const ctx = lm.context(B, T, {}, lm.causalMask(T, T), null, false)
      return lm.hidden(input as tf.Tensor2D, ctx)
    })
    // targets: with BOS every position t is predicted by row t; without, t ≥ 1 by row t − 1
    const rowsN = B * T
    // under a tape, the head keeps its softmax for the backward when that is at most a quarter
    // of the model's activation budget (full fine-tuning of SmolLM2 at 4 × 256: 200 MB)
    const keepSoftmax = rowsN * this.spec.vocabSize * 4 <= lm.activationBudgetBytes / 4
    const parts: tf.Tensor[] = []
    try {
      for (let c = 0; c < rowsN; c += this.chunkRows) {
        const n = Math.min(this.chunkRows, rowsN - c)
        parts.push(
          tf.tidy(() => {
            const hc = h.slice([c, 0], [n, h.shape[1]]) as tf.Tensor2D
            // target of row r = b·T + t: acts[b, t] (BOS) or acts[b, t + 1] (no BOS; last row of a sequence: any id)
            const flatActs = acts.reshape([rowsN]) as tf.Tensor1D
            const tgtIds = bos ? flatActs.slice([c], [n]) : tf.concat([flatActs.slice([1], [rowsN - 1]), tf.zeros([1], 'int32')]).slice([c], [n])
            return lm.targetLogProbs(hc, tgtIds as tf.Tensor1D, keepSoftmax)
          })
        )
      }
      return tf.tidy(() => {
        const lp = tf.concat(parts).reshape([B, T]) as tf.Tensor2D
        if (bos) return lp
        // row t predicted token t + 1: shift right by one, position 0 gets 0
        return (T > 1 ? tf.concat([tf.zeros([B, 1]), lp.slice([0, 0], [B, T - 1])], 1) : tf.zeros([B, 1])) as tf.Tensor2D
      })
    } finally {
      tf.dispose(parts)
      h.dispose()
      if (input !== acts) input.dispose()
      if (acts !== batch.actions) acts.dispose()
    }
  }

  /** Continue prompts (ids as the tokenizer and chat template produced them). */
  generate(prompts: number[][], opts: GenerateOptions): Generation[] {
    return this.withAdapters(() => generate(this.lm, prompts, opts))
  }

  act(): Float32Array | Int32Array {
    throw new Error('LlmPolicy.act: not for sequences; use generate()')
  }

  /** LoRA: a copy of the adapters over the same frozen model; full: a copy of the weights;
   *  frozen: another handle on the same model (no copy) */
  clone(trainable: boolean): LlmPolicy {
    const t = this.spec.training
    if (t?.mode === 'lora') return new LlmPolicy(this.lm, this.opts, { adapters: this.adapters!.clone(trainable) })
    if (t?.mode === 'full') return new LlmPolicy(this.lm, this.opts, { lm: this.lm.copyAsVariables(trainable, `llm-full${nextFull++}`) })
    return new LlmPolicy(this.lm, this.opts)
  }

  randomState(): Record<string, number> {
    return this.adapters ? { lora_dropout_calls: this.adapters.params.get() } : {}
  }

  setRandomState(state: Record<string, number>): void {
    if (this.adapters && state.lora_dropout_calls !== undefined) this.adapters.params.set(state.lora_dropout_calls)
  }

  dispose(): void {
    // the shared model is freed by its loader; a full copy and adapters are this policy's
    this.adapters?.dispose()
    if (this.ownsLm) this.lm.dispose()
  }
}
