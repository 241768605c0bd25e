// CLIP's pre-tokenizer: the regex that splits cleaned text into words before BPE.
// Python's pattern runs with re.IGNORECASE, so the contractions and special tokens also match
// case variants (e.g. "'ſ"); the `i` flag with `u` folds case the same (simple folding) way.
// `\s` is spelled \p{White_Space}, as the `regex` module means it (JavaScript's \s adds U+FEFF).
const CLIP_PATTERN =
  /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\p{White_Space}\p{L}\p{N}]+/giu;

/** Splits cleaned text into the words BPE encodes one by one. */
export function pretokenize(cleaned: string): string[] {
  return cleaned.match(CLIP_PATTERN) ?? [];
}
