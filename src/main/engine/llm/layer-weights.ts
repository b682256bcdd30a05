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
