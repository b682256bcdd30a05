// Hugging Face `tokenizer.json` files through @huggingface/tokenizers (pure JS). Every
// failure to build one becomes a TokenizerError that names the file. Loading a file: load-hf.ts.
import { Tokenizer as HfLib } from '@huggingface/tokenizers'
import { TokenizerError, type Tokenizer, type TokenizerSpec } from './tokenizer.ts'

/** the model types the library implements (WordLevel runs through its 'Legacy' model) */
const MODEL_TYPES = new Set(['BPE', 'WordPiece', 'Unigram', 'WordLevel'])

const BOS_NAMES = ['<s>', '<|begin_of_text|>', '<bos>', '[CLS]', '<|im_start|>', '<|startoftext|>']
const EOS_NAMES = ['</s>', '<|endoftext|>', '<|end_of_text|>', '<eos>', '[SEP]', '<|im_end|>', '<|eot_id|>']
const PAD_NAMES = ['<pad>', '[PAD]', '<|pad|>', '<|finetune_right_pad_id|>']

type Json = Record<string, unknown>

const tokenName = (v: unknown): string | undefined =>
  typeof v === 'string' ? v : v && typeof v === 'object' && typeof (v as Json).content === 'string' ? ((v as Json).content as string) : undefined

export class HfTokenizer implements Tokenizer {
  readonly kind = 'hf'
  readonly vocabSize: number
  readonly bos: number
  readonly eos: number
  readonly pad: number
  private readonly lib: HfLib
  private readonly specials: Set<number>

  /** json: the parsed tokenizer.json; config: tokenizer_config.json (or {}); source: the file
   *  name used in error messages and in spec() */
  constructor(
    json: unknown,
    config: unknown,
    readonly source: string
  ) {
    const where = `tokenizer file "${source}"`
    if (!json || typeof json !== 'object' || Array.isArray(json)) throw new TokenizerError(`${where}: not a tokenizer.json (expected a JSON object)`)
    const j = json as Json
    const model = j.model as Json | undefined
    if (!model || typeof model !== 'object') throw new TokenizerError(`${where}: has no "model" section; is it a Hugging Face tokenizer.json?`)
    const type = model.type as string | undefined
    if (type !== undefined && !MODEL_TYPES.has(type)) {
      throw new TokenizerError(`${where}: unknown tokenizer model type "${type}" (supported: ${[...MODEL_TYPES].join(', ')})`)
    }
    if (!model.vocab || typeof model.vocab !== 'object') throw new TokenizerError(`${where}: model has no vocabulary ("model.vocab")`)
    if (type === 'BPE' && !Array.isArray(model.merges)) throw new TokenizerError(`${where}: BPE model has no "merges" list`)
    const cfg: Json = config && typeof config === 'object' ? { ...(config as Json) } : {}
    // the library's WordLevel path takes its unknown token from the config
    if (type === 'WordLevel' && cfg.unk_token === undefined && typeof model.unk_token === 'string') cfg.unk_token = model.unk_token
    const full: Json = {
      normalizer: null,
      pre_tokenizer: null,
      post_processor: null,
      decoder: null,
      ...j,
      added_tokens: Array.isArray(j.added_tokens) ? j.added_tokens : []
    }
    try {
      this.lib = new HfLib(full, cfg)
    } catch (e) {
      throw new TokenizerError(`${where}: could not be loaded: ${(e as Error).message}`)
    }
    const vocab = this.lib.get_vocab(true)
    let maxId = -1
    for (const id of vocab.values()) if (id > maxId) maxId = id
    if (maxId < 0) throw new TokenizerError(`${where}: the vocabulary is empty`)
    this.vocabSize = maxId + 1
    const find = (configured: unknown, names: string[]): number => {
      const n = tokenName(configured)
      if (n !== undefined && vocab.has(n)) return vocab.get(n)!
      for (const name of names) if (vocab.has(name)) return vocab.get(name)!
      return -1
    }
    const eos = find(cfg.eos_token, EOS_NAMES)
    const bos = find(cfg.bos_token, BOS_NAMES)
    const pad = find(cfg.pad_token, PAD_NAMES)
    // GPT-2 style vocabularies have one <|endoftext|> that serves as bos, eos and pad
    this.eos = eos >= 0 ? eos : bos >= 0 ? bos : 0
    this.bos = bos >= 0 ? bos : this.eos
    this.pad = pad >= 0 ? pad : this.eos
    this.specials = new Set(this.lib.get_added_tokens_decoder().keys())
    for (const id of [this.bos, this.eos, this.pad]) this.specials.add(id)
  }

  encode(text: string): number[] {
    if (text.length === 0) return []
    const ids = this.lib.encode(text, { add_special_tokens: false }).ids
    for (let i = 0; i < ids.length; i++) {
      if (typeof ids[i] !== 'number' || !Number.isInteger(ids[i])) {
        throw new TokenizerError(`tokenizer file "${this.source}": a piece of ${JSON.stringify(text.slice(0, 40))} has no id and the tokenizer has no unknown token`)
      }
    }
    return ids
  }

  decode(ids: ArrayLike<number>): string {
    const keep: number[] = []
    for (let i = 0; i < ids.length; i++) if (!this.specials.has(ids[i])) keep.push(ids[i])
    if (keep.length === 0) return ''
    return this.lib.decode(keep, { skip_special_tokens: true })
  }

  /** one token's text as the vocabulary spells it (for per-token displays) */
  tokenText(id: number): string {
    return this.lib.id_to_token(id) ?? `<${id}?>`
  }

  spec(): TokenizerSpec {
    return { kind: 'hf', file: this.source }
  }
}
