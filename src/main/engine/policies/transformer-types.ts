// The causal transformer's shape and one block's parameters: their own file so that the policy
// (transformer.ts) and its hand-written backward pass (transformer-grad.ts) share them without
// importing each other.
import type * as tf from '@tensorflow/tfjs'

export interface TransformerConfig {
  vocabSize: number
  dModel: number
  nHeads: number
  nLayers: number
  dFF: number
  /** longest sequence (tokens, BOS not counted) the model accepts */
  maxLen: number
  /** output head = token embedding transposed (default true) */
  tied?: boolean
  /** id of the BOS context token (default 1, the character tokenizer's bos) */
  bos?: number
}

export interface Block {
  ln1g: tf.Variable
  ln1b: tf.Variable
  wqkv: tf.Variable
  bqkv: tf.Variable
  wo: tf.Variable
  bo: tf.Variable
  ln2g: tf.Variable
  ln2b: tf.Variable
  wfc: tf.Variable
  bfc: tf.Variable
  wproj: tf.Variable
  bproj: tf.Variable
}
