// Plain data that the engine produces and the store keeps: named float tensors (policy
// parameters, checkpoints) and per-trace weight snapshots. No engine or store code here, so
// both layers may import it.

export interface NamedTensor {
  name: string
  shape: number[]
  data: Float32Array
}

/** Per-trace weights at one step, for the inspector (indices into the dataset). */
export interface WeightSnapshot {
  step: number
  traceIndex: Int32Array
  logWRaw: Float32Array
  w: Float32Array
}
