// What a detection's score means, the same for every detector: the chance that a detection with
// this raw score is a face, measured on the dev set (../shared/fixtures/dev: detections matched
// to the annotated faces at IoU 0.5, an isotonic fit of "was a face" against the raw score). So
// min_confidence=0.5 keeps detections more likely faces than not, whichever detector made them.
// Each detector keeps its table beside it; `npm run bench -- --only=calibration` measures them.

/** Knots [raw, calibrated], raw ascending, calibrated non-decreasing; linear in between. */
export type Calibration = readonly (readonly [number, number])[];

export function calibrate(raw: number, table: Calibration): number {
  if (table.length === 0) return raw;
  const first = table[0]!;
  if (raw <= first[0]) return first[1];
  for (let i = 1; i < table.length; i++) {
    const [x1, y1] = table[i]!;
    if (raw <= x1) {
      const [x0, y0] = table[i - 1]!;
      return x1 === x0 ? y1 : y0 + ((raw - x0) / (x1 - x0)) * (y1 - y0);
    }
  }
  return table.at(-1)![1];
}
