// @clipkit/core public API. Types first; each module below owns one job.
export * from './errors.js';
export type * from './types.js';
export { resolveModel, pullModel, parseRepoRef, cachedModelDir, MODEL_ALIASES, DEFAULT_MODEL } from './model/hub.js';
export type { HubOptions, PulledModel, RepoRef } from './model/hub.js';
export type { ClipConfig, VisionConfig, TextConfig, PreprocessConfig, HiddenAct, TextPooling } from './model/config.js';
export { loadClipConfig, parseClipConfig } from './model/config.js';
export { SafetensorsFile, writeSafetensors, readSafetensorsScalar } from './model/safetensors.js';
export type { TensorInfo, TensorToWrite, FloatDType, SafetensorsDType } from './model/safetensors.js';
export { expectedClipTensors, validateClipTensors } from './model/clip-tensors.js';
export type { TensorSpec } from './model/clip-tensors.js';
export { openModelDir, discoverModelFiles, requireFiles, openWeights } from './model/model-dir.js';
export type { ModelDir, ModelFiles, ModelNeeds, TokenizerFiles } from './model/model-dir.js';
export { createBackend } from './backends/create.js';
export { createOnnxBackend } from './backends/onnx.js';
export type { OnnxBackendOptions } from './backends/onnx.js';
export { Clip } from './clip.js';
export { SIMPLE_TEMPLATES, IMAGENET80_TEMPLATES } from './templates.js';
export type { NativeBackendOptions } from './backends/native/index.js';
export { decodeImage, DEFAULT_MAX_PIXELS } from './image/decode.js';
export type { DecodeOptions, DecodedImage } from './image/decode.js';
export { ImagePreprocessor, defaultImageConfig } from './image/preprocess.js';
export type { ImagePreprocessorOptions, PreprocessResult, ImageSizeConfig } from './image/preprocess.js';
export { readNpy, parseNpy, writeNpy, encodeNpy } from './util/npy.js';
export type { NpyArray } from './util/npy.js';
export { Library, ImportJob, parseQuery } from './library/index.js';
export { serve, DEFAULT_PORT } from './serve/index.js';
export type { ServeOptions, ServeHandle } from './serve/index.js';
export type {
  LibraryOptions,
  SearchOptions,
  ClassifyByIdOptions,
  FileLabelScores,
  FileInfo,
  ImageFormat,
  ImportOptions,
  ImportProgress,
  ImportStages,
  ImportSummary,
  SearchHit,
  DuplicateGroup,
  CatalogCounts,
  CatalogModel,
  CatalogStorage,
  QueueStatus,
  CopySummary,
  FileError,
  StoreFormat,
  QueryTerm,
  StageTiming,
} from './library/index.js';
