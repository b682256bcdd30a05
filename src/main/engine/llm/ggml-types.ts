// ggml tensor types: id → name, values a block and bytes a block (ggml's type traits). Used to
// size tensors in a GGUF file; which of them can be turned into float32 is dequant.ts's list.

export interface GgmlType {
  name: string
  /** values per block (1 for plain floats and ints) */
  blockSize: number
  /** bytes per block */
  typeSize: number
}

export const GGML_TYPES: Record<number, GgmlType> = {
  0: { name: 'F32', blockSize: 1, typeSize: 4 },
  1: { name: 'F16', blockSize: 1, typeSize: 2 },
  2: { name: 'Q4_0', blockSize: 32, typeSize: 18 },
  3: { name: 'Q4_1', blockSize: 32, typeSize: 20 },
  6: { name: 'Q5_0', blockSize: 32, typeSize: 22 },
  7: { name: 'Q5_1', blockSize: 32, typeSize: 24 },
  8: { name: 'Q8_0', blockSize: 32, typeSize: 34 },
  9: { name: 'Q8_1', blockSize: 32, typeSize: 36 },
  10: { name: 'Q2_K', blockSize: 256, typeSize: 84 },
  11: { name: 'Q3_K', blockSize: 256, typeSize: 110 },
  12: { name: 'Q4_K', blockSize: 256, typeSize: 144 },
  13: { name: 'Q5_K', blockSize: 256, typeSize: 176 },
  14: { name: 'Q6_K', blockSize: 256, typeSize: 210 },
  15: { name: 'Q8_K', blockSize: 256, typeSize: 292 },
  24: { name: 'I8', blockSize: 1, typeSize: 1 },
  25: { name: 'I16', blockSize: 1, typeSize: 2 },
  26: { name: 'I32', blockSize: 1, typeSize: 4 },
  27: { name: 'I64', blockSize: 1, typeSize: 8 },
  28: { name: 'F64', blockSize: 1, typeSize: 8 },
  30: { name: 'BF16', blockSize: 1, typeSize: 2 }
}

/** names of types this table cannot size (named in errors only) */
const OTHER_NAMES: Record<number, string> = {
  16: 'IQ2_XXS',
  17: 'IQ2_XS',
  18: 'IQ3_XXS',
  19: 'IQ1_S',
  20: 'IQ4_NL',
  21: 'IQ3_S',
  22: 'IQ2_S',
  23: 'IQ4_XS',
  29: 'IQ1_M',
  34: 'TQ1_0',
  35: 'TQ2_0',
  39: 'MXFP4'
}

export const GGML_TYPE_ID: Record<string, number> = Object.fromEntries(Object.entries(GGML_TYPES).map(([id, t]) => [t.name, Number(id)]))

export function ggmlTypeName(type: number): string {
  return GGML_TYPES[type]?.name ?? OTHER_NAMES[type] ?? `type ${type}`
}

/** bytes of a tensor of `dims` (ggml order) stored as `type`; every row (dims[0]) must be whole blocks */
export function tensorBytes(type: number, dims: number[]): number {
  const t = GGML_TYPES[type]
  if (!t) throw new Error(`unknown ggml type ${type}`)
  const count = dims.reduce((a, b) => a * b, 1)
  if (dims[0] % t.blockSize !== 0) throw new Error(`a ${t.name} tensor's rows must hold whole blocks of ${t.blockSize} values; this one has rows of ${dims[0]}`)
  return (count / t.blockSize) * t.typeSize
}
