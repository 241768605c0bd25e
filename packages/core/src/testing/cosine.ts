// Fidelity of one encoder's output against another's (bf16 against fp32, clipkit against a
// reference): the worst row decides, since a search ranks rows one by one.

/** The smallest cosine between row i of a and row i of b ([n, dim] each), and its row. */
export function minRowCosine(a: Float32Array, b: Float32Array, dim: number): { cosine: number; row: number } {
  if (a.length !== b.length || dim <= 0 || a.length % dim !== 0) {
    throw new RangeError(`minRowCosine: ${a.length} and ${b.length} values are not two [n, ${dim}] matrices`);
  }
  let min = { cosine: Infinity, row: -1 };
  for (let r = 0; r * dim < a.length; r++) {
    let ab = 0;
    let aa = 0;
    let bb = 0;
    for (let j = r * dim; j < (r + 1) * dim; j++) {
      ab += a[j]! * b[j]!;
      aa += a[j]! ** 2;
      bb += b[j]! ** 2;
    }
    const c = ab / Math.sqrt(aa * bb);
    // A NaN row becomes and stays the minimum, so it fails any bound.
    if (!Number.isNaN(min.cosine) && (Number.isNaN(c) || c < min.cosine)) min = { cosine: c, row: r };
  }
  return min;
}
