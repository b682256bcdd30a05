// Plain data that the engine produces and the store keeps: named float tensors (policy
// parameters, checkpoints) and per-trace weight snapshots. No engine or store code here, so
// both layers may import it.

export interface NamedTensor {
  name: string
  shape: number[]
  data: Float32Array
}

/** Per-trace weights at one step, for the inspector (indices into the dataset), at each stage of
 *  the recipe (science.md, "Importance weights"): raw log w (eq. 11), the clamped w, and w as the
 *  loss uses it.
 *
 *  Version 2 (issue 15): `w` is the clamped weight self-normalised under the distribution the
 *  loss samples traces from — w_i · Σ_j μ_j / Σ_j μ_j w_j with μ the sampling mass (quality-bin
 *  multiplicity m(τ) for D_Q+ methods, 1 for D+), i.e. the expected per-batch normaliser —
 *  when weights.normalize is on, else the clamped weight; `wClamped` and `mass` are stored
 *  beside it, and `batch` holds the training batch of that step exactly as the loss weighted it.
 *  Version 1 (older snapshots): `w` normalised over the unique curated traces (mean 1), no
 *  other stage stored. For methods whose loss has no trace weight (SFT, SFT(Q), per-step) the
 *  snapshot holds the weights the config would give and no batch. */
export interface WeightSnapshot {
  step: number
  traceIndex: Int32Array
  logWRaw: Float32Array
  w: Float32Array
  /** 1 when absent */
  version?: 1 | 2
  wClamped?: Float32Array
  mass?: Float32Array
  /** the step's training batch: its rows' trace indices (with repeats) and their weights in the loss */
  batch?: { traceIndex: Int32Array; w: Float32Array } | null
}

/** The snapshot format this code writes. */
export const WEIGHT_SNAPSHOT_VERSION = 2
