// A sweep axis's values as a person types them ("1, 3, 10", "true", "iw-sft"): the same reading
// for `iwsft sweep --grid KEY=V1,V2` and New run's sweep panel.

export type GridValue = number | string | boolean

/** "1, 3, 10" → [1, 3, 10]; "true" → true; anything else stays text ("iw-sft"); empty items dropped. */
export function parseGridValues(text: string): GridValue[] {
  return text
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean)
    .map((v) => (v === 'true' ? true : v === 'false' ? false : Number.isFinite(Number(v)) ? Number(v) : v))
}
