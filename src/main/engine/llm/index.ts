// Real causal language models in the engine (issue 13): load a GGUF file or a Hugging Face
// folder, describe it, tokenise and render chats, score token ids, sample, and use it as a Policy.
//
// Typical use (the tfjs backend must be initialised first, engine/backend initBackend):
//
//   const d = await describeLlm(path)                  // metadata only: spec, parameters, memory
//   if (d.memoryBytes > available) refuse(d.memoryBytes)
//   const llm = await loadLlm(path, { onProgress })    // weights → frozen tfjs tensors
//   const { prompt, completion } = chatPromptCompletion(llm.tokenizer, llm.chat!, 'What is 12 + 7?', '19')
//   const [lp] = scoreSequences(llm.model, [[...prompt, ...completion]])   // lp[t] = log p(x_t | x_<t)
//   const gens = generate(llm.model, [prompt], { maxNewTokens: 32, temperature: 0, stop: llm.tokenizer.eosIds })
//   const policy = new LlmPolicy(llm.model, { model: path, prependBos: llm.tokenizer.addBos, bos: llm.tokenizer.bos })
//   llm.dispose()                                      // frees the weights (policies share them)
//
// Public surface:
//   describeLlm(path): Promise<LlmDescription>          format, name, spec, parameters, memoryBytes,
//                                                       files, tensorTypes, tokenizer, chatTemplate
//   loadLlm(path, { onProgress? }): Promise<LoadedLlm>  { description, spec, tokenizer, chat, model, dispose() }
//   hashLlmFiles(files, onProgress?): Promise<string>   sha256 of the model's files (the store's hash)
//   openLlmTokenizer(path): { description, tokenizer, chat } without the weights (tokenising data)
//   tokenizerFingerprint(tokenizer): sha256 of vocabulary, specials and a probe's ids (same
//                                       fingerprint = token ids mean the same to both models)
//   llmParameterCount(spec), llmMemoryBytes(spec, { batch?, seqLen? })   for refusing models that do not fit
//   LlmTokenizer: encode(text) (specials in the text matched, nothing added), decode(ids, skipSpecial = true),
//                 tokenText(id), idOf(token), bos/eos/pad (−1 = none), eosIds, addBos, vocabSize, info
//   ChatTemplate.render(messages, { addGenerationPrompt }); encodeChat; chatPromptCompletion(tok, tpl,
//                 prompt | messages, completion) → { prompt, completion } ids; plainPromptCompletion;
//                 chatLossMask(tok, tpl, messages) → { ids, mask } (1 on assistant tokens: issue 14's mask)
//   scoreSequences(model, seqs, { batchSize?, onProgress? }) → Float32Array per sequence;
//   scoreCompletions(model, [{ prompt, completion }], opts) → the completion tokens' log-probs (π_ref of a trace)
//   scoreBatch(model, ids, lengths, B, T) → Float32Array [B·T] (right-padded batch)
//   generate(model, prompts, { maxNewTokens, temperature, topP, stop, rng, batchSize, onStep })
//                 → { tokens, logprobs (sampling distribution), modelLogprobs (temperature 1), finish }[]
//   LlmPolicy(model, { model, prependBos?, bos? }): the Policy interface (logProbs of a trace batch)
//   CausalLm.linearHook: where issue 14's LoRA adds its delta to every linear (names layers.N.q … down);
//                 linearHookParams declares the hook's trainable tensors (LoRA's A, B) and dropout state
//   Under a gradient tape (training) each Llama-family layer is one op differentiated by hand
//                 (llama-grad.ts) that keeps its activations while they fit
//                 CausalLm.activationBudgetBytes and otherwise only its input, running again in
//                 the backward; GPT-2 layers are checkpointed (tape.ts); the head's log-softmax is
//                 one op that keeps no logits (CausalLm.targetLogProbs; its softmax where the
//                 budget allows)
// Errors: LlmError (model files, configs, templates, ids), GgufError (GGUF parsing),
// UnsupportedTensorType (a quantisation type outside DEQUANT_TYPES).
export { describeLlm, hashLlmFiles, loadLlm, openLlmTokenizer, tokenizerFingerprint, type LlmDescription, type LoadedLlm, type LoadOptions } from './load.ts'
export { llmMemoryBytes, llmParameterCount, specFromGguf, specFromHfConfig, HF_ARCHITECTURES, GGUF_ARCHITECTURES, type LlmArch, type LlmSpec, type RopeScaling } from './spec.ts'
export { LlmTokenizer, tokenizerFromGguf, tokenizerFromJson, GGUF_PRE_TOKENIZERS, type LlmTokenizerInfo } from './tokenizer.ts'
export { ChatTemplate, chatLossMask, chatPromptCompletion, chatTemplateFor, encodeChat, plainPromptCompletion, type ChatMessage } from './chat-template.ts'
export { CausalLm, type LinearHook } from './decoder.ts'
export { scoreBatch, scoreCompletions, scoreSequences, type ScoreOptions } from './score.ts'
export { generate, sampleRow, type GenerateOptions, type Generation } from './generate.ts'
export { LlmPolicy, type LlmPolicyOptions, type LlmPolicySpec } from './policy.ts'
export { LlmError } from './errors.ts'
export { GgufError, GgufFile, readGgufHeader, type GgufHeader, type GgufTensorInfo, type GgufValue } from './gguf.ts'
export { DEQUANT_TYPES, UnsupportedTensorType, dequantize } from './dequant.ts'
export { smollm2Path, SMOLLM2 } from './models.ts'
