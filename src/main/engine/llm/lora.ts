// LoRA adapters on a CausalLm's linears (Hu et al. 2021, as PEFT's LoraLayer):
//   y = x·W (+ b) + s · (dropout(x)·A)·B,   s = alpha / rank (alpha / √rank with rsLoRA)
// A [in, r] starts Kaiming-uniform (PEFT: kaiming_uniform_(a=√5), bound 1/√in), B [r, out] starts
// at zero, so an adapted model starts exactly at its base model. The base weights stay the
// model's frozen tensors: an adapter holds only A and B, added through CausalLm.linearHook.
//
// Layouts: the engine stores a linear as W [in, out] (weights.ts); PEFT's lora_A.weight is
// [r, in] and lora_B.weight [out, r] (torch.nn.Linear's [out, in]), i.e. the transposes of A, B.
import * as tf from '@tensorflow/tfjs'
import { variableOf } from '../variables.ts'
import { LlmError } from './errors.ts'
import type { LlmSpec } from './spec.ts'
import type { LinearHookParams } from './decoder.ts'
import { dropoutMask } from './dropout.ts'
import type { LoraView } from './layer-weights.ts'
import { underGradientTape } from './tape.ts'

export const LORA_TARGETS = ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] as const
export type LoraTarget = (typeof LORA_TARGETS)[number]

export interface LoraSettings {
  rank: number
  alpha: number
  dropout: number
  targets: LoraTarget[]
  /** scale alpha/√rank instead of alpha/rank (PEFT use_rslora) */
  rslora?: boolean
}

/** [in, out] of linear `target` in a model of this spec; null when the architecture has none
 *  (GPT-2 has no gate) */
export function linearShape(spec: LlmSpec, target: LoraTarget): [number, number] | null {
  const { dModel: d, nHeads: H, nKvHeads: KV, headDim: dh, dFF: f } = spec
  switch (target) {
    case 'q':
      return [d, H * dh]
    case 'k':
    case 'v':
      return [d, KV * dh]
    case 'o':
      return [H * dh, d]
    case 'gate':
      return spec.arch === 'gpt2' ? null : [d, f]
    case 'up':
      return [d, f]
    case 'down':
      return [f, d]
  }
}

export const loraScale = (s: LoraSettings): number => (s.rslora ? s.alpha / Math.sqrt(s.rank) : s.alpha / s.rank)

let nextId = 0

/** One adapter: A and B for every targeted linear of every layer, as tf.Variables. */
export class LoraAdapters {
  /** canonical linear name (layers.N.q …) → its A [in, r] and B [r, out] */
  readonly modules = new Map<string, { A: tf.Variable; B: tf.Variable }>()
  readonly scale: number
  private dropoutCalls = 0

  private constructor(
    readonly settings: LoraSettings,
    private readonly dropoutSeed: number
  ) {
    this.scale = loraScale(settings)
  }

  /** fresh adapters: A ~ U(−1/√in, 1/√in) from `seed`, B = 0 */
  static create(spec: LlmSpec, settings: LoraSettings, seed: number, trainable = true): LoraAdapters {
    checkSettings(settings)
    const a = new LoraAdapters(settings, seed)
    const id = nextId++
    let k = 0
    for (let l = 0; l < spec.nLayers; l++) {
      for (const t of LORA_TARGETS) {
        if (!settings.targets.includes(t)) continue
        const shape = linearShape(spec, t)
        if (!shape) continue
        const [inD, outD] = shape
        const bound = 1 / Math.sqrt(inD)
        const name = `layers.${l}.${t}`
        const A = variableOf(() => tf.randomUniform([inD, settings.rank], -bound, bound, 'float32', seed + k++), trainable, `lora${id}/${name}/A`)
        const B = variableOf(() => tf.zeros([settings.rank, outD]), trainable, `lora${id}/${name}/B`)
        a.modules.set(name, { A, B })
      }
    }
    if (a.modules.size === 0) throw new LlmError(`LoRA: none of the targets ${settings.targets.join(', ')} exists in a ${spec.arch} model`)
    return a
  }

  /** A, B, A, B … in layer then target order (the policy's variables; checkpoints keep this order) */
  get variables(): tf.Variable[] {
    const out: tf.Variable[] = []
    for (const { A, B } of this.modules.values()) out.push(A, B)
    return out
  }

  /** a copy with its own variables (and the original's place in the dropout masks) */
  clone(trainable: boolean): LoraAdapters {
    const c = new LoraAdapters(this.settings, this.dropoutSeed)
    c.dropoutCalls = this.dropoutCalls // a copy trains on with the masks the original would draw next
    const id = nextId++
    for (const [name, { A, B }] of this.modules) {
      c.modules.set(name, { A: tf.variable(A, trainable, `lora${id}/${name}/A`), B: tf.variable(B, trainable, `lora${id}/${name}/B`) })
    }
    return c
  }

  /** the CausalLm.linearHook of this adapter: y + s·(dropout(x)·A)·B on targeted linears */
  hook = (name: string, x: tf.Tensor2D, y: tf.Tensor2D): tf.Tensor2D => {
    const m = this.modules.get(name)
    if (!m) return y
    const p = this.settings.dropout
    const xin = p > 0 && underGradientTape() ? x.mul(dropoutMask(x.shape, p, this.nextMaskSeed())) : x
    return y.add(tf.matMul(tf.matMul(xin, m.A), m.B).mul(this.scale)) as tf.Tensor2D
  }

  /** the seed of the next dropout mask (one a targeted linear a forward pass, in call order) */
  private nextMaskSeed(): number {
    return this.dropoutSeed + 7919 * ++this.dropoutCalls
  }

  /** The adapter as the hand-differentiated Llama layer (llama-grad.ts) reads it: the module of a
   *  linear, and the dropout seed of its next call (drawn exactly where the hook draws it). */
  readonly lora: LoraView = {
    module: (name: string) => this.modules.get(name),
    scale: () => this.scale,
    dropout: () => this.settings.dropout,
    nextMaskSeed: () => this.nextMaskSeed()
  }

  /** the decoder's view of this adapter's tensors and dropout state (a checkpointed layer replays
   *  its forward with the same dropout masks). Dropout acts only under a gradient tape, as
   *  PyTorch's train mode: scoring, sampling and weight snapshots see the deterministic model. */
  readonly params: LinearHookParams = {
    variables: (layer: number) => {
      const prefix = `layers.${layer}.`
      const out: tf.Variable[] = []
      for (const [name, { A, B }] of this.modules) if (name.startsWith(prefix)) out.push(A, B)
      return out
    },
    get: () => this.dropoutCalls,
    set: (n: number) => {
      this.dropoutCalls = n
    },
    lora: this.lora
  }

  /** ΔW = s·A·B [in, out] of one linear (merging into the base weights) */
  delta(name: string): tf.Tensor2D {
    const m = this.modules.get(name)
    if (!m) throw new LlmError(`LoRA: no adapter on "${name}"`)
    return tf.tidy(() => tf.matMul(m.A, m.B).mul(this.scale) as tf.Tensor2D)
  }

  dispose(): void {
    for (const { A, B } of this.modules.values()) {
      A.dispose()
      B.dispose()
    }
    this.modules.clear()
  }
}

export function checkSettings(s: LoraSettings): void {
  if (!Number.isInteger(s.rank) || s.rank < 1) throw new LlmError(`LoRA rank must be a positive integer, got ${s.rank}`)
  if (!(s.alpha > 0)) throw new LlmError(`LoRA alpha must be > 0, got ${s.alpha}`)
  if (!(s.dropout >= 0 && s.dropout < 1)) throw new LlmError(`LoRA dropout must be in [0, 1), got ${s.dropout}`)
  if (s.targets.length === 0) throw new LlmError('LoRA needs at least one target module (q, k, v, o, gate, up, down)')
  for (const t of s.targets) if (!LORA_TARGETS.includes(t)) throw new LlmError(`LoRA target "${t}" is not one of ${LORA_TARGETS.join(', ')}`)
}
