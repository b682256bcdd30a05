// Source patches `iwsft backend install` applies to tfjs-node 4.22's N-API binding before it
// builds it (issue 17). Each names what it enables; the manifest records the ids an install was
// built with, and an install that lacks one gets its binding rebuilt (install.ts).
//   attr-string-list  an array passed as a string attribute becomes a list(string) attribute
//                     (TFE_OpSetAttrStringList). tfjs-node passes only single strings, so kernels
//                     with a list(string) attribute (_FusedMatMul's fused_ops: matmul + bias +
//                     activation as one kernel) were out of reach (native-ops.ts matMulBias).
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

export interface BindingPatch {
  id: string
  /** the file under tfjs-node's folder */
  file: string
  /** the text the patch goes before (must occur exactly once) */
  anchor: string
  /** inserted before the anchor; its first line carries the marker that makes the patch idempotent */
  insert: string
}

const marker = (id: string): string => `// iwsft patch: ${id}`

export const BINDING_PATCHES: readonly BindingPatch[] = [
  {
    id: 'attr-string-list',
    file: 'binding/tfjs_backend.cc',
    anchor: `      // NOTE: String attribute values do not have to be utf8 encoded strings
      // (could be arbitrary byte sequences).
      std::string str_value;`,
    insert: `      ${marker('attr-string-list')} (an array is a list(string) attribute)
      if (IsArray(env, nstatus, &js_value)) {
        uint32_t length;
        nstatus = napi_get_array_length(env, js_value, &length);
        ENSURE_NAPI_OK(env, nstatus);
        std::vector<std::string> strs(length);
        for (uint32_t i = 0; i < length; ++i) {
          napi_value element;
          nstatus = napi_get_element(env, js_value, i, &element);
          ENSURE_NAPI_OK(env, nstatus);
          nstatus = GetStringParam(env, element, strs[i]);
          ENSURE_NAPI_OK(env, nstatus);
        }
        std::vector<const void *> ptrs(length);
        std::vector<size_t> lens(length);
        for (uint32_t i = 0; i < length; ++i) {
          ptrs[i] = strs[i].data();
          lens[i] = strs[i].size();
        }
        TFE_OpSetAttrStringList(tfe_op, attr_name, ptrs.data(), lens.data(),
                                static_cast<int>(length));
        break;
      }
`
  }
]

export const BINDING_PATCH_IDS: readonly string[] = BINDING_PATCHES.map((p) => p.id)

/** The source with the patch applied (unchanged when it already is); throws when its anchor is
 *  missing or repeated (another tfjs-node version: the patch needs a look, not a guess). */
export function applyPatchToSource(src: string, p: BindingPatch, file = p.file): string {
  if (src.includes(marker(p.id))) return src
  const at = src.indexOf(p.anchor)
  if (at < 0 || src.indexOf(p.anchor, at + 1) >= 0)
    throw new Error(`${file}: the text the binding patch "${p.id}" goes before is ${at < 0 ? 'not there' : 'there more than once'} (a tfjs-node other than 4.22.0?)`)
  return src.slice(0, at) + p.insert + src.slice(at)
}

/** Apply every patch to the binding sources in tfjs-node's folder `tnDir`; returns their ids. */
export function patchBindingSources(tnDir: string): string[] {
  for (const p of BINDING_PATCHES) {
    const f = join(tnDir, p.file)
    writeFileSync(f, applyPatchToSource(readFileSync(f, 'utf8'), p, f))
  }
  return [...BINDING_PATCH_IDS]
}

/** Whether an install's recorded patches include every current one. */
export const hasAllPatches = (ids: readonly string[] | undefined): boolean => BINDING_PATCH_IDS.every((id) => ids?.includes(id))
