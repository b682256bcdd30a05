// What a decoder layer reads from its model: the spec, a weight by canonical name, and a linear
// map by name (where a LoRA delta can be added). The Llama and GPT-2 layer functions take this,
// so they need nothing else of CausalLm (decoder.ts).
import type * as tf from '@tensorflow/tfjs'
import type { LlmSpec } from './spec.ts'

export interface DecoderWeights {
  readonly spec: LlmSpec
  weight(name: string): tf.Tensor
  linear(x: tf.Tensor2D, name: string): tf.Tensor2D
}

/** what the hand-differentiated Llama layer (llama-grad.ts) reads: every weight by name, the
 *  optional biases among them */
export interface NamedWeights {
  readonly spec: LlmSpec
  readonly weights: ReadonlyMap<string, tf.Tensor>
  weight(name: string): tf.Tensor
  /** bytes of activations the layers may keep for the backward (CausalLm's; none given: any) */
  readonly activationBudgetBytes?: number
}

/** What llama-grad.ts needs of an adapter (LoraAdapters.lora). */
export interface LoraView {
  module(name: string): { A: tf.Variable; B: tf.Variable } | undefined
  scale(): number
  dropout(): number
  nextMaskSeed(): number
}
