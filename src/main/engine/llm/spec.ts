// One normalised description of a causal LM (LlmSpec), from GGUF metadata or a Hugging Face
// config.json, plus what it costs: parameter count and float32 memory.
import { metaArray, metaNumber, metaString, type GgufHeader } from './gguf.ts'
import { LlmError } from './errors.ts'

/** the decoder families the engine runs */
export type LlmArch = 'llama' | 'qwen2' | 'mistral' | 'gpt2'

export const HF_ARCHITECTURES: Record<string, LlmArch> = {
  LlamaForCausalLM: 'llama',
  Qwen2ForCausalLM: 'qwen2',
  MistralForCausalLM: 'mistral',
  GPT2LMHeadModel: 'gpt2'
}

/** GGUF general.architecture values (Mistral and SmolLM convert to "llama") */
export const GGUF_ARCHITECTURES: Record<string, LlmArch> = { llama: 'llama', qwen2: 'qwen2', gpt2: 'gpt2' }

export type RopeScaling = { type: 'linear'; factor: number } | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalContext: number }

export interface LlmSpec {
  arch: LlmArch
  nLayers: number
  dModel: number
  nHeads: number
  nKvHeads: number
  headDim: number
  dFF: number
  vocabSize: number
  /** longest sequence the model was trained for (positions beyond it are refused) */
  contextLength: number
  /** RMSNorm (Llama family) or LayerNorm with bias (GPT-2) */
  norm: 'rms' | 'layer'
  normEps: number
  /** SwiGLU (silu-gated) or GELU, tanh approximation (GPT-2's gelu_new) */
  activation: 'swiglu' | 'gelu_tanh'
  /** rotary embeddings (null for GPT-2's learned positions) */
  rope: { theta: number; scaling: RopeScaling | null; /** per-frequency divisors (GGUF rope_freqs), else null */ freqFactors?: number[] | null } | null
  /** output head = token embedding (transposed) */
  tiedHead: boolean
  /** which linears have a bias */
  bias: { qkv: boolean; o: boolean; mlp: boolean }
  /** Mistral's sliding attention window (tokens), null for full causal attention */
  slidingWindow: number | null
  bos: number | null
  /** ids that end a generation (Llama 3 lists several) */
  eos: number[]
  pad: number | null
}

const pos = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0

function need(src: string, key: string, v: unknown): number {
  if (!pos(v)) throw new LlmError(`${src}: "${key}" must be a positive integer, found ${JSON.stringify(v)}`)
  return v
}

function checkShape(s: LlmSpec, src: string): LlmSpec {
  if (s.nHeads % s.nKvHeads !== 0) throw new LlmError(`${src}: ${s.nHeads} attention heads are not a multiple of ${s.nKvHeads} key/value heads`)
  if (s.headDim % 2 !== 0 && s.rope) throw new LlmError(`${src}: head dimension ${s.headDim} must be even for rotary embeddings`)
  if (!(s.normEps > 0)) throw new LlmError(`${src}: the norm epsilon must be > 0, found ${s.normEps}`)
  return s
}

function ropeScalingFromHf(src: string, raw: unknown): RopeScaling | null {
  if (raw === null || raw === undefined) return null
  const r = raw as Record<string, unknown>
  const type = (r.rope_type ?? r.type) as string | undefined
  if (type === undefined || type === 'default') return null
  const factor = Number(r.factor)
  if (!(factor > 0)) throw new LlmError(`${src}: rope_scaling.factor must be > 0, found ${JSON.stringify(r.factor)}`)
  if (type === 'linear') return { type: 'linear', factor }
  if (type === 'llama3') {
    return {
      type: 'llama3',
      factor,
      lowFreqFactor: Number(r.low_freq_factor ?? 1),
      highFreqFactor: Number(r.high_freq_factor ?? 4),
      originalContext: need(src, 'rope_scaling.original_max_position_embeddings', r.original_max_position_embeddings)
    }
  }
  throw new LlmError(`${src}: rope_scaling type "${type}" is not supported (supported: default, linear, llama3)`)
}

const idList = (v: unknown): number[] => (Array.isArray(v) ? v.filter((x) => Number.isInteger(x)) : Number.isInteger(v) ? [v as number] : [])
const idOrNull = (v: unknown): number | null => (Number.isInteger(v) ? (v as number) : null)

/** LlmSpec from a Hugging Face config.json (parsed); `file` names it in errors. */
export function specFromHfConfig(config: unknown, file: string, generationConfig?: Record<string, unknown>): LlmSpec {
  if (!config || typeof config !== 'object' || Array.isArray(config)) throw new LlmError(`model config "${file}": not a JSON object`)
  const c = config as Record<string, unknown>
  const archs = Array.isArray(c.architectures) ? (c.architectures as unknown[]) : []
  const archName = archs.find((a) => typeof a === 'string' && HF_ARCHITECTURES[a]) as string | undefined
  if (!archName) {
    const found = archs.length ? archs.map(String).join(', ') : c.model_type ? `model_type "${String(c.model_type)}" without "architectures"` : 'no "architectures" field'
    throw new LlmError(`model config "${file}": architecture ${found} is not supported (supported: ${Object.keys(HF_ARCHITECTURES).join(', ')})`)
  }
  const arch = HF_ARCHITECTURES[archName]
  const eosGen = generationConfig ? idList(generationConfig.eos_token_id) : []
  if (arch === 'gpt2') {
    if (c.scale_attn_by_inverse_layer_idx === true || c.reorder_and_upcast_attn === true || c.scale_attn_weights === false) {
      throw new LlmError(`model config "${file}": GPT-2 options scale_attn_by_inverse_layer_idx, reorder_and_upcast_attn and scale_attn_weights: false are not supported`)
    }
    const act = (c.activation_function as string | undefined) ?? 'gelu_new'
    if (!['gelu_new', 'gelu_pytorch_tanh'].includes(act))
      throw new LlmError(`model config "${file}": GPT-2 activation_function "${act}" is not supported (supported: gelu_new, gelu_pytorch_tanh)`)
    const d = need(file, 'n_embd', c.n_embd)
    const H = need(file, 'n_head', c.n_head)
    if (d % H !== 0) throw new LlmError(`model config "${file}": n_embd ${d} is not divisible by n_head ${H}`)
    const eos = idList(c.eos_token_id)
    return checkShape(
      {
        arch,
        nLayers: need(file, 'n_layer', c.n_layer),
        dModel: d,
        nHeads: H,
        nKvHeads: H,
        headDim: d / H,
        dFF: c.n_inner === null || c.n_inner === undefined ? 4 * d : need(file, 'n_inner', c.n_inner),
        vocabSize: need(file, 'vocab_size', c.vocab_size),
        contextLength: need(file, 'n_positions', c.n_positions ?? c.n_ctx),
        norm: 'layer',
        normEps: Number(c.layer_norm_epsilon ?? 1e-5),
        activation: 'gelu_tanh',
        rope: null,
        tiedHead: c.tie_word_embeddings !== false,
        bias: { qkv: true, o: true, mlp: true },
        slidingWindow: null,
        bos: idOrNull(c.bos_token_id),
        eos: eosGen.length ? eosGen : eos,
        pad: idOrNull(c.pad_token_id)
      },
      file
    )
  }
  const ropeParams = c.rope_parameters && typeof c.rope_parameters === 'object' ? (c.rope_parameters as Record<string, unknown>) : undefined
  const act = (c.hidden_act as string | undefined) ?? 'silu'
  if (act !== 'silu') throw new LlmError(`model config "${file}": hidden_act "${act}" is not supported (the Llama family here uses silu)`)
  const d = need(file, 'hidden_size', c.hidden_size)
  const H = need(file, 'num_attention_heads', c.num_attention_heads)
  const KV = c.num_key_value_heads === undefined || c.num_key_value_heads === null ? H : need(file, 'num_key_value_heads', c.num_key_value_heads)
  const headDim = c.head_dim === undefined || c.head_dim === null ? d / H : need(file, 'head_dim', c.head_dim)
  if (!Number.isInteger(headDim)) throw new LlmError(`model config "${file}": hidden_size ${d} is not divisible by num_attention_heads ${H}`)
  if (c.partial_rotary_factor !== undefined && c.partial_rotary_factor !== 1)
    throw new LlmError(`model config "${file}": partial_rotary_factor ${String(c.partial_rotary_factor)} is not supported`)
  const attentionBias = c.attention_bias === true
  // Mistral attends within sliding_window tokens; Qwen2 only on layers ≥ max_window_layers when
  // use_sliding_window is set (its released models leave it off)
  const nLayers = need(file, 'num_hidden_layers', c.num_hidden_layers)
  if (arch === 'qwen2' && c.use_sliding_window === true && Number(c.max_window_layers ?? 0) < nLayers) {
    throw new LlmError(
      `model config "${file}": Qwen2 sliding-window attention (use_sliding_window with max_window_layers ${String(c.max_window_layers)} < ${nLayers} layers) is not supported`
    )
  }
  const window = arch === 'mistral' && pos(c.sliding_window) ? (c.sliding_window as number) : null
  const eos = idList(c.eos_token_id)
  return checkShape(
    {
      arch,
      nLayers,
      dModel: d,
      nHeads: H,
      nKvHeads: KV,
      headDim,
      dFF: need(file, 'intermediate_size', c.intermediate_size),
      vocabSize: need(file, 'vocab_size', c.vocab_size),
      contextLength: need(file, 'max_position_embeddings', c.max_position_embeddings),
      norm: 'rms',
      normEps: Number(c.rms_norm_eps ?? 1e-6),
      activation: 'swiglu',
      // transformers ≤ 4 writes rope_theta + rope_scaling; transformers 5 one rope_parameters object
      rope: { theta: Number(c.rope_theta ?? ropeParams?.rope_theta ?? 10000), scaling: ropeScalingFromHf(file, c.rope_scaling ?? ropeParams), freqFactors: null },
      tiedHead: c.tie_word_embeddings === true,
      bias: { qkv: arch === 'qwen2' || attentionBias, o: attentionBias, mlp: c.mlp_bias === true },
      slidingWindow: window,
      bos: idOrNull(c.bos_token_id),
      eos: eosGen.length ? eosGen : eos,
      pad: idOrNull(c.pad_token_id)
    },
    file
  )
}

/** LlmSpec from GGUF metadata and tensor infos. */
export function specFromGguf(h: GgufHeader): LlmSpec {
  const src = `GGUF file "${h.file}"`
  const archName = metaString(h, 'general.architecture')
  const arch = archName ? GGUF_ARCHITECTURES[archName] : undefined
  if (!arch) throw new LlmError(`${src}: architecture "${archName ?? '(none)'}" is not supported (supported: ${Object.keys(GGUF_ARCHITECTURES).join(', ')})`)
  const k = (key: string): number | undefined => metaNumber(h, `${archName}.${key}`)
  const req = (key: string): number => {
    const v = k(key)
    if (!pos(v)) throw new LlmError(`${src}: metadata "${archName}.${key}" must be a positive integer, found ${v === undefined ? 'nothing' : v}`)
    return v
  }
  const has = (name: string): boolean => h.tensors.some((t) => t.name === name)
  const embd = h.tensors.find((t) => t.name === 'token_embd.weight')
  if (!embd) throw new LlmError(`${src}: has no token_embd.weight tensor`)
  const tokens = metaArray(h, 'tokenizer.ggml.tokens')
  const vocabSize = k('vocab_size') ?? embd.dims[1] ?? tokens?.length
  const d = req('embedding_length')
  const H = req('attention.head_count')
  const KV = k('attention.head_count_kv') ?? H
  const headDim = k('attention.key_length') ?? d / H
  const tokId = (key: string): number | null => idOrNull(metaNumber(h, `tokenizer.ggml.${key}`))
  const eos = tokId('eos_token_id')
  const eot = tokId('eot_token_id')
  const eosList = [...new Set([eos, eot].filter((x): x is number => x !== null))]
  const common = {
    arch,
    nLayers: req('block_count'),
    dModel: d,
    nHeads: H,
    nKvHeads: KV,
    headDim,
    dFF: req('feed_forward_length'),
    vocabSize: need(src, 'vocabulary size', vocabSize),
    contextLength: req('context_length'),
    tiedHead: !has('output.weight'),
    bos: tokId('bos_token_id'),
    eos: eosList,
    pad: tokId('padding_token_id'),
    slidingWindow: null
  }
  if (arch === 'gpt2') {
    return checkShape({ ...common, norm: 'layer', normEps: k('attention.layer_norm_epsilon') ?? 1e-5, activation: 'gelu_tanh', rope: null, bias: { qkv: true, o: true, mlp: true } }, src)
  }
  const ropeDim = k('rope.dimension_count') ?? headDim
  if (ropeDim !== headDim) throw new LlmError(`${src}: partial rotary embeddings (rope.dimension_count ${ropeDim} < head dim ${headDim}) are not supported`)
  let scaling: RopeScaling | null = null
  const scalingType = metaString(h, `${archName}.rope.scaling.type`)
  if (scalingType && scalingType !== 'none') {
    const factor = k('rope.scaling.factor') ?? 1
    if (scalingType !== 'linear') throw new LlmError(`${src}: rope scaling "${scalingType}" is not supported (supported: none, linear; Llama 3 frequencies come as the rope_freqs tensor)`)
    scaling = { type: 'linear', factor }
  }
  return checkShape(
    {
      ...common,
      norm: 'rms',
      normEps: k('attention.layer_norm_rms_epsilon') ?? 1e-5,
      activation: 'swiglu',
      rope: { theta: k('rope.freq_base') ?? 10000, scaling, freqFactors: null },
      bias: { qkv: has('blk.0.attn_q.bias'), o: has('blk.0.attn_output.bias'), mlp: has('blk.0.ffn_up.bias') }
    },
    src
  )
}

/** the linears of one layer: name → [in, out] */
export function layerLinears(s: LlmSpec): Record<string, [number, number]> {
  const q = s.nHeads * s.headDim
  const kv = s.nKvHeads * s.headDim
  const out: Record<string, [number, number]> = { q: [s.dModel, q], k: [s.dModel, kv], v: [s.dModel, kv], o: [q, s.dModel] }
  if (s.activation === 'swiglu') out.gate = [s.dModel, s.dFF]
  out.up = [s.dModel, s.dFF]
  out.down = [s.dFF, s.dModel]
  return out
}

/** number of parameters (the tied head counted once) */
export function llmParameterCount(s: LlmSpec): number {
  const norm = s.norm === 'layer' ? 2 * s.dModel : s.dModel
  let perLayer = 2 * norm
  for (const [name, [i, o]] of Object.entries(layerLinears(s))) {
    perLayer += i * o
    const b = name === 'o' ? s.bias.o : name === 'q' || name === 'k' || name === 'v' ? s.bias.qkv : s.bias.mlp
    if (b) perLayer += o
  }
  let n = s.vocabSize * s.dModel + s.nLayers * perLayer + norm
  if (s.arch === 'gpt2') n += s.contextLength * s.dModel
  if (!s.tiedHead) n += s.vocabSize * s.dModel
  return n
}

/**
 * Bytes of memory the engine needs to hold the model in float32 and score a batch of
 * `batch` × `seqLen` tokens: the weights (plus the engine's transposed copy of a tied head),
 * one layer's activations, the key/value cache of every layer, and one chunk of logits.
 * An estimate for refusing models that cannot fit, not a measurement.
 */
export function llmMemoryBytes(s: LlmSpec, opts: { batch?: number; seqLen?: number; logitsChunk?: number } = {}): number {
  const B = opts.batch ?? 8
  const T = opts.seqLen ?? 256
  const chunk = opts.logitsChunk ?? 512
  const weights = llmParameterCount(s) + (s.tiedHead ? s.vocabSize * s.dModel : 0)
  const rows = B * T
  const layerActs = rows * (4 * s.dModel + 3 * s.dFF + (s.nHeads + 2 * s.nKvHeads) * s.headDim) + 2 * B * s.nHeads * T * T
  const kvCache = 2 * s.nLayers * B * s.nKvHeads * s.headDim * T
  const logits = 3 * chunk * s.vocabSize
  return 4 * (weights + layerActs + kvCache + logits)
}

const HF_CLASS: Record<Exclude<LlmArch, 'gpt2'>, { architecture: string; modelType: string }> = {
  llama: { architecture: 'LlamaForCausalLM', modelType: 'llama' },
  mistral: { architecture: 'MistralForCausalLM', modelType: 'mistral' },
  qwen2: { architecture: 'Qwen2ForCausalLM', modelType: 'qwen2' }
}

/** The Hugging Face config.json of a Llama-family spec: the inverse of specFromHfConfig (a model
 *  read from GGUF, exported as a Hugging Face folder). Llama 3's per-frequency rope factors
 *  (GGUF rope_freqs) have no config.json form here and are refused. */
export function hfConfigFromSpec(s: LlmSpec): Record<string, unknown> {
  if (s.arch === 'gpt2') throw new LlmError('a GPT-2 model has no Llama-family config.json (its q, k and v are one fused c_attn)')
  if (s.rope?.freqFactors) throw new LlmError("the model's rotary embeddings use per-frequency factors (GGUF rope_freqs), which this export cannot write as rope_scaling")
  if (s.arch !== 'qwen2' && s.bias.qkv !== s.bias.o)
    throw new LlmError('the model has biases on q, k, v but not on o (or the reverse), which a Llama config.json (attention_bias) cannot say')
  const scaling = s.rope?.scaling
  const eos = s.eos.length === 0 ? null : s.eos.length === 1 ? s.eos[0] : s.eos
  const cls = HF_CLASS[s.arch]
  return {
    architectures: [cls.architecture],
    model_type: cls.modelType,
    hidden_size: s.dModel,
    intermediate_size: s.dFF,
    num_hidden_layers: s.nLayers,
    num_attention_heads: s.nHeads,
    num_key_value_heads: s.nKvHeads,
    head_dim: s.headDim,
    hidden_act: 'silu',
    max_position_embeddings: s.contextLength,
    rms_norm_eps: s.normEps,
    rope_theta: s.rope?.theta ?? 10000,
    rope_scaling:
      scaling === null || scaling === undefined
        ? null
        : scaling.type === 'linear'
          ? { rope_type: 'linear', factor: scaling.factor }
          : {
              rope_type: 'llama3',
              factor: scaling.factor,
              low_freq_factor: scaling.lowFreqFactor,
              high_freq_factor: scaling.highFreqFactor,
              original_max_position_embeddings: scaling.originalContext
            },
    tie_word_embeddings: s.tiedHead,
    vocab_size: s.vocabSize,
    bos_token_id: s.bos,
    eos_token_id: eos,
    pad_token_id: s.pad,
    ...(s.arch === 'qwen2' ? {} : { attention_bias: s.bias.qkv, mlp_bias: s.bias.mlp }),
    ...(s.arch === 'mistral' ? { sliding_window: s.slidingWindow } : {}),
    ...(s.arch === 'qwen2' ? { use_sliding_window: false } : {}),
    torch_dtype: 'float32'
  }
}
