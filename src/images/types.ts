export interface ImageOptions {
  /** Output JPEG quality, 1–100. */
  quality: number;
  /** Longest side of the stored image; larger images are shrunk, smaller ones kept as they are. */
  maxSide: number;
  /** Decompression-bomb guard: images with more pixels than this fail with IMAGE_TOO_LARGE. */
  maxPixels: number;
  /** Inputs larger than this many bytes fail with IMAGE_TOO_LARGE before decoding. */
  maxInputBytes: number;
  /**
   * How strict decoding is (sharp's failOn). Default 'error': truncated or undecodable data fails
   * with IMAGE_CORRUPT instead of turning into grey pixels; libjpeg's benign warnings pass.
   */
  failOn?: 'truncated' | 'error' | 'warning';
  /** JPEG chroma subsampling; default '4:2:0'. */
  chromaSubsampling?: '4:2:0' | '4:4:4';
}

export interface NormalizedImage {
  /** The stored bytes (baseline JPEG, sRGB, no alpha, no metadata). */
  bytes: Buffer;
  width: number;
  height: number;
  /** What the input was: 'jpeg', 'png', 'gif', 'tiff', 'webp', ... */
  originalFormat: string;
  /** Size of the input as displayed (after EXIF orientation), before any shrinking. */
  originalWidth: number;
  originalHeight: number;
  /** Size of the input file in bytes. */
  originalBytes: number;
  /** sha256 hex of `bytes`: a hash of what we store, independent of how it was decoded. */
  sha256: string;
}
