/**
 * Which figures enter the dataset. BIOMEDICA keeps a figure only with a non-empty caption and an
 * image larger than 20×20; smaller images are icons, bullets and spacer pixels, not figures.
 */

export interface KeepRule {
  /** Fewest characters (code points) the trimmed caption must have. */
  minCaptionChars: number;
  /** Smallest accepted side in pixels, inclusive, checked on both width and height. */
  minSide: number;
}

/** BIOMEDICA's rule: "larger than 20×20" means both sides at least 21. */
export const DEFAULT_KEEP_RULE: Readonly<KeepRule> = Object.freeze({ minCaptionChars: 1, minSide: 21 });

/** Stable reason codes, written to the figure records. '' means kept. */
export const KeepReason = {
  kept: '',
  emptyCaption: 'EMPTY_CAPTION',
  captionTooShort: 'CAPTION_TOO_SHORT',
  imageTooSmall: 'IMAGE_TOO_SMALL',
} as const;
export type KeepReason = (typeof KeepReason)[keyof typeof KeepReason];

export interface KeepDecision {
  keep: boolean;
  reason: KeepReason;
}

export function keepFigure(caption: string, image: { width: number; height: number }, rule: KeepRule): KeepDecision {
  const text = caption.trim();
  // Empty and merely short captions get separate codes: BIOMEDICA's filter counts only the empty.
  if (text === '' && rule.minCaptionChars > 0) return { keep: false, reason: KeepReason.emptyCaption };
  if ([...text].length < rule.minCaptionChars) return { keep: false, reason: KeepReason.captionTooShort };
  // Written so that NaN or missing sizes fail the rule instead of passing it.
  if (!(image.width >= rule.minSide && image.height >= rule.minSide)) {
    return { keep: false, reason: KeepReason.imageTooSmall };
  }
  return { keep: true, reason: KeepReason.kept };
}
