// Memory under tfjs' gradient tape (issue 14: LoRA on SmolLM2 in < 3 GB).
//
// tfjs keeps every taped op's saved inputs until the whole backward pass ends, and every
// intermediate gradient too (its backward runs in one tidy): a 30-layer forward over 4 × 256
// tokens held ~15 GB. `checkpointed` wraps one decoder layer so the tape keeps only the layer's
// input; its backward replays the layer's forward under a tape of its own and takes that layer's
// gradients there, freed before the next layer's (gradient checkpointing, Chen et al. 2016,
// "Training deep nets with sublinear memory cost"). The cost is one more forward pass per step.
import * as tf from '@tensorflow/tfjs'

interface EngineState {
  gradientDepth: number
  activeTape: unknown
}

/** tf.customGrad's argument (tfjs does not export its type) */
export type CustomGradient = Parameters<typeof tf.customGrad>[0]

const engineState = (): EngineState => (tf.engine() as unknown as { state: EngineState }).state

/** Is a gradient being taken right now (tf.variableGrads / tf.grads)? */
export function underGradientTape(): boolean {
  return engineState().gradientDepth > 0
}

/** What a replayed forward needs to repeat the first one exactly (the dropout masks' counter). */
export interface ReplayState {
  get(): number
  set(n: number): void
}

/**
 * y = f(x, consts) with the gradient to x and to `params` (the trainable tensors f reads), the
 * backward recomputing f. `consts` are tensors f reads that get no gradient (RoPE tables, the
 * mask): they are kept for the replay, which may come after their owner disposed them. Any other
 * tensor f reads gets no gradient through this op. Call only under a gradient tape.
 */
export function checkpointed<C extends Array<tf.Tensor | null>>(
  f: (x: tf.Tensor2D, consts: C) => tf.Tensor2D,
  x: tf.Tensor2D,
  consts: C,
  params: tf.Variable[],
  replay: ReplayState | null
): tf.Tensor2D {
  const kept = consts.filter((t): t is tf.Tensor => t !== null)
  const rebuild = (saved: tf.Tensor[]): C => {
    let i = 0
    return consts.map((t) => (t === null ? null : saved[i++])) as C
  }
  const state = replay?.get() ?? 0
  const op = tf.customGrad(((...args: unknown[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc
    const xin = args[0] as tf.Tensor2D
    save([xin, ...kept])
    return {
      value: f(xin, consts),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const st = engineState()
        const outerTape = st.activeTape
        const after = replay?.get() ?? 0
        try {
          replay?.set(state)
          return tf.tidy(() => {
            const xs = saved[0] as tf.Tensor2D
            const cs = rebuild(saved.slice(1))
            const { value, grads } = tf.engine().gradients(() => f(xs, cs), [xs, ...params], dy, true)
            value.dispose()
            return grads.map((g, i) => g ?? tf.zerosLike(i === 0 ? xs : params[i - 1]))
          })
        } finally {
          // the replay ran its own tape; the outer backward still walks (and then frees) its own
          st.activeTape = outerTape
          replay?.set(after)
        }
      }
    }
  }) as unknown as CustomGradient)
  return op(x, ...params) as tf.Tensor2D
}
