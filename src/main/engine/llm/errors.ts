// One error type for a model that cannot be loaded or used as given: the message names the file
// (and the field, tensor or construct) and says what to do. GGUF parsing has its own GgufError
// (gguf.ts) and unsupported tensor types UnsupportedTensorType (dequant.ts).

export class LlmError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'LlmError'
  }
}
