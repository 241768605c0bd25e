// Prompt templates for zero-shot classification. `{}` marks where the label goes.
import { UsageError } from './errors.js';
import type { TemplateSet } from './types.js';

export const SIMPLE_TEMPLATES: readonly string[] = ['a photo of a {}.'];

/** The 80-prompt ImageNet ensemble of the CLIP paper (Radford et al. 2021), in its published order. */
export const IMAGENET80_TEMPLATES: readonly string[] = [
  'a bad photo of a {}.',
  'a photo of many {}.',
  'a sculpture of a {}.',
  'a photo of the hard to see {}.',
  'a low resolution photo of the {}.',
  'a rendering of a {}.',
  'graffiti of a {}.',
  'a bad photo of the {}.',
  'a cropped photo of the {}.',
  'a tattoo of a {}.',
  'the embroidered {}.',
  'a photo of a hard to see {}.',
  'a bright photo of a {}.',
  'a photo of a clean {}.',
  'a photo of a dirty {}.',
  'a dark photo of the {}.',
  'a drawing of a {}.',
  'a photo of my {}.',
  'the plastic {}.',
  'a photo of the cool {}.',
  'a close-up photo of a {}.',
  'a black and white photo of the {}.',
  'a painting of the {}.',
  'a painting of a {}.',
  'a pixelated photo of the {}.',
  'a sculpture of the {}.',
  'a bright photo of the {}.',
  'a cropped photo of a {}.',
  'a plastic {}.',
  'a photo of the dirty {}.',
  'a jpeg corrupted photo of a {}.',
  'a blurry photo of the {}.',
  'a photo of the {}.',
  'a good photo of the {}.',
  'a rendering of the {}.',
  'a {} in a video game.',
  'a photo of one {}.',
  'a doodle of a {}.',
  'a close-up photo of the {}.',
  'a photo of a {}.',
  'the origami {}.',
  'the {} in a video game.',
  'a sketch of a {}.',
  'a doodle of the {}.',
  'a origami {}.',
  'a low resolution photo of a {}.',
  'the toy {}.',
  'a rendition of the {}.',
  'a photo of the clean {}.',
  'a photo of a large {}.',
  'a rendition of a {}.',
  'a photo of a nice {}.',
  'a photo of a weird {}.',
  'a blurry photo of a {}.',
  'a cartoon {}.',
  'art of a {}.',
  'a sketch of the {}.',
  'a embroidered {}.',
  'a pixelated photo of a {}.',
  'itap of the {}.',
  'a jpeg corrupted photo of the {}.',
  'a good photo of a {}.',
  'a plushie {}.',
  'a photo of the nice {}.',
  'a photo of the small {}.',
  'a photo of the weird {}.',
  'the cartoon {}.',
  'art of the {}.',
  'a drawing of the {}.',
  'a photo of the large {}.',
  'a black and white photo of a {}.',
  'the plushie {}.',
  'a dark photo of a {}.',
  'itap of a {}.',
  'graffiti of the {}.',
  'a toy {}.',
  'itap of my {}.',
  'a photo of a cool {}.',
  'a photo of a small {}.',
  'a tattoo of the {}.',
];

/** The template strings a TemplateSet names; custom lists must each contain `{}`. */
export function resolveTemplates(set: TemplateSet): readonly string[] {
  if (set === 'simple') return SIMPLE_TEMPLATES;
  if (set === 'imagenet80') return IMAGENET80_TEMPLATES;
  if (typeof set === 'string') throw new UsageError(`unknown template set "${set}" (expected simple, imagenet80 or a list)`);
  if (set.length === 0) throw new UsageError('templates: the list is empty');
  set.forEach((t, i) => {
    if (!t.includes('{}')) throw new UsageError(`templates[${i}] "${t}" has no {} placeholder for the label`);
  });
  return set;
}

/** Every template with `{}` replaced by the label (all occurrences). */
export function fillTemplates(templates: readonly string[], label: string): string[] {
  return templates.map((t) => t.split('{}').join(label));
}
