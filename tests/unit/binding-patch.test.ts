// The binding patches of `iwsft backend install` (engine/backend/binding-patch.ts): applied once
// before the anchor they name, idempotent, and refused with the file's name when the source is not
// the tfjs-node they were written for. (That the patched binding passes list(string) attributes
// is tested on the real build: tests/integration/native-ops.test.ts, matMulBias.)
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { applyPatchToSource, BINDING_PATCHES, hasAllPatches, patchBindingSources } from '../../src/main/engine/backend/binding-patch.ts'

const stringList = BINDING_PATCHES.find((p) => p.id === 'attr-string-list')!
// tfjs-node 4.22.0's AssignOpAttr, the string case (binding/tfjs_backend.cc)
const SOURCE = `  switch (tf_attr_type) {
    case TF_ATTR_STRING: {
      // NOTE: String attribute values do not have to be utf8 encoded strings
      // (could be arbitrary byte sequences).
      std::string str_value;
      nstatus = GetStringParam(env, js_value, str_value);
`

describe('binding patches', () => {
  it('attr-string-list puts an array branch calling TFE_OpSetAttrStringList before the single-string code', () => {
    const out = applyPatchToSource(SOURCE, stringList)
    const branch = out.indexOf('if (IsArray(env, nstatus, &js_value))')
    expect(branch).toBeGreaterThan(out.indexOf('case TF_ATTR_STRING'))
    expect(branch).toBeLessThan(out.indexOf('std::string str_value;'))
    expect(out).toContain('TFE_OpSetAttrStringList(tfe_op, attr_name, ptrs.data(), lens.data()')
    // the original text is all still there, in order
    expect(out.replace(stringList.insert, '')).toBe(SOURCE)
  })

  it('is idempotent: a patched source is left as it is', () => {
    const once = applyPatchToSource(SOURCE, stringList)
    expect(applyPatchToSource(once, stringList)).toBe(once)
  })

  it('refuses a source without the anchor, or with it twice, naming the file', () => {
    expect(() => applyPatchToSource('int main() {}', stringList, 'x/tfjs_backend.cc')).toThrow(/x\/tfjs_backend\.cc.*"attr-string-list".*not there.*4\.22\.0/)
    expect(() => applyPatchToSource(SOURCE + SOURCE, stringList, 'y.cc')).toThrow(/y\.cc.*more than once/)
  })

  it('patchBindingSources patches the files in a tfjs-node folder and returns the ids for the manifest', () => {
    const dir = mkdtempSync(join(tmpdir(), 'iwsft-patch-'))
    mkdirSync(join(dir, 'binding'))
    writeFileSync(join(dir, 'binding', 'tfjs_backend.cc'), SOURCE)
    const ids = patchBindingSources(dir)
    expect(ids).toEqual(BINDING_PATCHES.map((p) => p.id))
    expect(readFileSync(join(dir, 'binding', 'tfjs_backend.cc'), 'utf8')).toContain('TFE_OpSetAttrStringList')
    expect(hasAllPatches(ids)).toBe(true)
    expect(hasAllPatches(undefined)).toBe(false) // an install from before the patches
    expect(hasAllPatches([])).toBe(false)
  })
})
