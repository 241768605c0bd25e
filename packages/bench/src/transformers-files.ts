// The files Transformers.js needs beside a model directory that clipkit reads as it is: a
// `tokenizer.json` (Hugging Face's fast-tokenizer layout, built here from CLIP's vocab.json +
// merges.txt; Transformers.js reads no other format) and a `tokenizer_config.json`. The layout
// is the one openai/clip-vit-base-patch32 publishes: NFC + whitespace collapse + lower-case,
// CLIP's split regex, byte-level BPE with a `</w>` word suffix, <|startoftext|> … <|endoftext|>.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const BOS = '<|startoftext|>';
const EOS = '<|endoftext|>';
const SPLIT = "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+";

/** Writes tokenizer.json + tokenizer_config.json into `dir` from the vocabulary in `vocabDir`. */
export function writeTransformersTokenizer(dir: string, vocabDir: string): void {
  const vocab = JSON.parse(readFileSync(path.join(vocabDir, 'vocab.json'), 'utf8')) as Record<string, number>;
  const merges = readFileSync(path.join(vocabDir, 'merges.txt'), 'utf8')
    .split('\n')
    .filter((line, i) => line !== '' && !(i === 0 && line.startsWith('#version')));
  const special = (content: string) => ({
    id: vocab[content], content, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true,
  });
  if (vocab[BOS] === undefined || vocab[EOS] === undefined) throw new Error(`${vocabDir}/vocab.json has no ${BOS} / ${EOS}`);
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(BOS), special(EOS)],
    normalizer: {
      type: 'Sequence',
      normalizers: [{ type: 'NFC' }, { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' }, { type: 'Lowercase' }],
    },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: SPLIT }, behavior: 'Removed', invert: true },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: { type: 'RobertaProcessing', sep: [EOS, vocab[EOS]], cls: [BOS, vocab[BOS]], trim_offsets: false, add_prefix_space: false },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE', dropout: null, unk_token: EOS, continuing_subword_prefix: '', end_of_word_suffix: '</w>',
      fuse_unk: false, byte_fallback: false, vocab, merges,
    },
  };
  writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tokenizer));
  writeFileSync(
    path.join(dir, 'tokenizer_config.json'),
    JSON.stringify({
      tokenizer_class: 'CLIPTokenizer', model_max_length: 77, bos_token: BOS, eos_token: EOS, unk_token: EOS, pad_token: EOS,
      do_lower_case: true, clean_up_tokenization_spaces: false,
    }),
  );
}
