// Tokenizers for the sequence suite. A tokenizer turns text into token ids and back; the
// special ids (bos, eos, pad) are part of its vocabulary. encode() never adds specials: the
// dataset builders append eos to completions themselves and the transformer puts its own BOS
// context in front of every sequence (see policies/transformer.ts).

export interface Tokenizer {
  /** 'char' | 'byte' | 'hf' */
  readonly kind: string
  readonly vocabSize: number
  /** text → ids, no special tokens added */
  encode(text: string): number[]
  /** ids → text; special tokens (bos, eos, pad, and the char tokenizer's unk) are dropped, so
   *  decoded text always encodes again */
  decode(ids: ArrayLike<number>): string
  readonly bos: number
  readonly eos: number
  readonly pad: number
  /** one token's text for per-token displays (the inspector's rho shading): specials as <eos>
   *  etc., bytes that are not printable ASCII as <0xNN> */
  tokenText(id: number): string
  /** JSON description, enough to rebuild it with tokenizerFromSpec (an 'hf' spec names its file) */
  spec(): TokenizerSpec
}

export type TokenizerSpec =
  | { kind: 'char'; alphabet: string; strict?: boolean }
  | { kind: 'byte' }
  | { kind: 'hf'; file: string }
  /** a real model's tokenizer (engine/llm), read from its GGUF file or Hugging Face folder */
  | { kind: 'llm'; path: string }

export class TokenizerError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'TokenizerError'
  }
}

/** Character tokenizer over a fixed alphabet. Ids: 0 = pad, 1 = bos, 2 = eos, 3 = unk,
 *  4.. = the alphabet's characters in order. With strict (the default) a character outside
 *  the alphabet is an error; otherwise it becomes unk. */
export class CharTokenizer implements Tokenizer {
  readonly kind = 'char'
  readonly pad = 0
  readonly bos = 1
  readonly eos = 2
  readonly unk = 3
  readonly vocabSize: number
  private readonly chars: string[]
  private readonly index = new Map<string, number>()

  constructor(
    readonly alphabet: string,
    readonly strict = true
  ) {
    this.chars = Array.from(alphabet)
    if (this.chars.length === 0) throw new TokenizerError('character tokenizer: the alphabet is empty')
    this.chars.forEach((c, i) => {
      if (this.index.has(c)) throw new TokenizerError(`character tokenizer: "${c}" appears twice in the alphabet`)
      this.index.set(c, i + 4)
    })
    this.vocabSize = this.chars.length + 4
  }

  encode(text: string): number[] {
    const out: number[] = []
    for (const c of text) {
      const id = this.index.get(c)
      if (id === undefined) {
        if (this.strict)
          throw new TokenizerError(`character tokenizer: "${c}" (U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}) is not in its alphabet "${this.alphabet}"`)
        out.push(this.unk)
      } else out.push(id)
    }
    return out
  }

  decode(ids: ArrayLike<number>): string {
    let s = ''
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]
      if (id >= 4 && id < this.vocabSize) s += this.chars[id - 4]
    }
    return s
  }

  /** the token's display text (specials as <pad>, <bos>, <eos>, <unk>) */
  tokenText(id: number): string {
    return id >= 4 && id < this.vocabSize ? this.chars[id - 4] : (['<pad>', '<bos>', '<eos>', '<unk>'][id] ?? `<${id}?>`)
  }

  spec(): TokenizerSpec {
    return { kind: 'char', alphabet: this.alphabet, strict: this.strict }
  }
}

/** UTF-8 byte tokenizer: ids 0..255 are bytes, 256 = pad, 257 = bos, 258 = eos (vocab 259). */
export class ByteTokenizer implements Tokenizer {
  readonly kind = 'byte'
  readonly vocabSize = 259
  readonly pad = 256
  readonly bos = 257
  readonly eos = 258
  private readonly enc = new TextEncoder()
  private readonly dec = new TextDecoder('utf-8', { fatal: false })

  encode(text: string): number[] {
    const b = this.enc.encode(text)
    const out = new Array<number>(b.length)
    for (let i = 0; i < b.length; i++) out[i] = b[i]
    return out
  }

  decode(ids: ArrayLike<number>): string {
    const bytes: number[] = []
    for (let i = 0; i < ids.length; i++) if (ids[i] >= 0 && ids[i] < 256) bytes.push(ids[i])
    return this.dec.decode(new Uint8Array(bytes))
  }

  tokenText(id: number): string {
    if (id === this.pad) return '<pad>'
    if (id === this.bos) return '<bos>'
    if (id === this.eos) return '<eos>'
    if (id >= 32 && id < 127) return String.fromCharCode(id)
    if (id === 10) return '\n'
    return id >= 0 && id < 256 ? `<0x${id.toString(16).toUpperCase().padStart(2, '0')}>` : `<${id}?>`
  }

  spec(): TokenizerSpec {
    return { kind: 'byte' }
  }
}
