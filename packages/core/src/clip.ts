// Clip: a model directory (or hub repo) loaded behind one backend, with its tokenizer, turning
// images and texts into embeddings and images into zero-shot label scores.
import { ClipTokenizer, TokenizerError } from '@clipkit/tokenizer';
import { createBackend } from './backends/create.js';
import { DEFAULT_BATCH_SIZE } from './backends/inputs.js';
import { normalizeRows, zeroShotScores } from './embeddings.js';
import { ImagePreprocessor } from './image/preprocess.js';
import { ModelFormatError, UsageError } from './errors.js';
import { resolveModel } from './model/hub.js';
import { openModelDir, requireFiles, type ModelDir } from './model/model-dir.js';
import { fillTemplates, resolveTemplates } from './templates.js';
import type { Backend, ClassifyOptions, ClipLoadOptions, EncodeOptions, ImageInput, LabelScore, ModelInfo, PixelBatch, Precision } from './types.js';

export class Clip {
  private tokenizer: Promise<ClipTokenizer> | undefined;
  private disposed = false;

  private constructor(
    private readonly model: ModelDir,
    private readonly backend: Backend,
    private readonly images: ImagePreprocessor,
    private readonly batchSize: number,
  ) {}

  /** A model directory, or a hub repo id / alias fetched into the local cache. */
  static async load(dirOrRepo: string, opts: ClipLoadOptions = {}): Promise<Clip> {
    const dir = await resolveModel(dirOrRepo);
    const model = openModelDir(dir);
    const images = new ImagePreprocessor(model.config.preprocess, opts.image);
    const backend = await createBackend(model, opts);
    return new Clip(model, backend, images, opts.batchSize ?? DEFAULT_BATCH_SIZE);
  }

  get info(): ModelInfo {
    return this.model.info;
  }

  /** Which backend and device run the encoders. */
  get runtime(): { backend: Backend['name']; device: Backend['device'] } {
    return { backend: this.backend.name, device: this.backend.device };
  }

  /** What the encoders compute in: the load option resolved (auto becomes fp32 or bf16). */
  get precision(): Precision {
    return this.backend.precision;
  }

  /**
   * [n, projectionDim] embeddings of images: paths, encoded bytes or decoded pixels (decoded and
   * preprocessed as the model's preprocessor_config.json says), or an already preprocessed batch.
   * The first image that fails to decode throws its typed error naming it.
   */
  async encodeImages(images: readonly ImageInput[] | PixelBatch, opts: EncodeOptions = {}): Promise<Float32Array> {
    this.checkLive();
    const out = Array.isArray(images) ? await this.encodeImageInputs(images) : await this.backend.encodeImages(images as PixelBatch);
    return opts.normalize ? normalizeRows(out, this.info.projectionDim) : out;
  }

  /**
   * Runs both encoders once, on a blank image and an empty text, so that the weights are read
   * (the native backend reads each tower on its first use), packed for the GEMM and the first
   * call's buffers made now: a server, or an importer timed from its first batch, does not pay
   * for them in its first answer.
   */
  async warm(): Promise<void> {
    this.checkLive();
    const size = this.model.config.vision.imageSize;
    await this.backend.encodeImages({ data: new Float32Array(this.model.config.vision.numChannels * size * size), n: 1, size });
    await this.encodeTexts(['']);
  }

  /** [n, projectionDim] embeddings of texts (tokenized with the model's vocabulary, truncated to the context). */
  async encodeTexts(texts: readonly string[], opts: EncodeOptions = {}): Promise<Float32Array> {
    this.checkLive();
    if (!Array.isArray(texts) || texts.some((t) => typeof t !== 'string')) throw new UsageError('encodeTexts: expected an array of strings');
    const tokenizer = await this.getTokenizer();
    const ids = tokenizer.tokenize([...texts], { contextLength: this.info.contextLength, truncate: true });
    const out = await this.backend.encodeTexts(ids, texts.length);
    return opts.normalize ? normalizeRows(out, this.info.projectionDim) : out;
  }

  /**
   * Zero-shot classification: per image, the labels with softmax(logitScale · cos) probabilities,
   * best first. Each label's text embedding is the re-normalised mean of its normalised template
   * embeddings (the CLIP paper's prompt ensembling; one template = plain prompt).
   */
  async classify(images: readonly ImageInput[] | PixelBatch, labels: readonly string[], opts: ClassifyOptions = {}): Promise<LabelScore[][]> {
    this.checkLive();
    checkLabels(labels);
    const templates = resolveTemplates(opts.templates ?? 'simple');
    const labelEmbeds = await this.labelEmbeddings(labels, templates);
    const imageEmbeds = await this.encodeImages(images, { normalize: true });
    return zeroShotScores(imageEmbeds, labelEmbeds, labels, this.info.projectionDim, this.info.logitScale);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.backend.dispose();
  }

  private async labelEmbeddings(labels: readonly string[], templates: readonly string[]): Promise<Float32Array> {
    const dim = this.info.projectionDim;
    const prompts = labels.flatMap((label) => fillTemplates(templates, label));
    const embeds = await this.encodeTexts(prompts, { normalize: true });
    const perLabel = new Float32Array(labels.length * dim);
    for (let l = 0; l < labels.length; l++) {
      for (let t = 0; t < templates.length; t++) {
        const row = (l * templates.length + t) * dim;
        for (let j = 0; j < dim; j++) perLabel[l * dim + j]! += embeds[row + j]!;
      }
    }
    return normalizeRows(perLabel, dim);
  }

  /** Batch by batch, decoding the next batch while the current one encodes. */
  private async encodeImageInputs(inputs: readonly ImageInput[]): Promise<Float32Array> {
    const dim = this.info.projectionDim;
    const out = new Float32Array(inputs.length * dim);
    const prepare = (start: number) => {
      const pending = this.images.preprocessOrThrow(inputs.slice(start, start + this.batchSize));
      pending.catch(() => undefined); // awaited below; this only stops it counting as unhandled meanwhile
      return pending;
    };
    let next = inputs.length > 0 ? prepare(0) : undefined;
    for (let start = 0; next !== undefined; start += this.batchSize) {
      const pixels = await next;
      // The preprocessor's two reused buffers let one batch fill while the previous one encodes.
      next = start + this.batchSize < inputs.length ? prepare(start + this.batchSize) : undefined;
      out.set(await this.backend.encodeImages(pixels), start * dim);
    }
    return out;
  }

  /** Loaded on first use: image-only work never pays for the 49k-merge vocabulary. */
  private getTokenizer(): Promise<ClipTokenizer> {
    if (this.tokenizer === undefined) {
      requireFiles(this.model.files, { tokenizer: true });
      const dir = this.model.files.dir;
      const files = this.model.files.tokenizer!;
      this.tokenizer = ClipTokenizer.fromPath(files.kind === 'tokenizer.json' ? files.path : files.vocab).catch((err: unknown) => {
        this.tokenizer = undefined;
        if (err instanceof TokenizerError) throw new ModelFormatError(`tokenizer: ${err.message}`, dir, { cause: err });
        throw err;
      });
    }
    return this.tokenizer;
  }

  private checkLive(): void {
    if (this.disposed) throw new UsageError('this Clip was disposed');
  }
}

function checkLabels(labels: readonly string[]): void {
  if (!Array.isArray(labels) || labels.length === 0) throw new UsageError('classify: labels must be a non-empty array of strings');
  const seen = new Set<string>();
  labels.forEach((label, i) => {
    if (typeof label !== 'string' || label.trim() === '') throw new UsageError(`classify: labels[${i}] is empty`);
    if (seen.has(label)) throw new UsageError(`classify: label "${label}" appears twice`);
    seen.add(label);
  });
}
