export interface ImageOptions {
  /** Output JPEG quality, 1–100. */
  quality: number;
  /** Longest side of the stored image; larger images are shrunk, smaller ones kept as they are. */
  maxSide: number;
  /** Decompression-bomb guard: images with more pixels than this fail with IMAGE_TOO_LARGE. */
  maxPixels: number;
  /** Inputs larger than this many bytes fail with IMAGE_TOO_LARGE before decoding. */
  maxInputBytes: number;
}

export interface NormalizedImage {
  /** The stored bytes (baseline JPEG, sRGB, no alpha, no metadata). */
  bytes: Buffer;
  width: number;
  height: number;
  /** What the input was: 'jpeg', 'png', 'gif', 'tiff', 'webp', ... */
  originalFormat: string;
  originalWidth: number;
  originalHeight: number;
  /** sha256 hex of `bytes`: a hash of what we store, independent of how it was decoded. */
  sha256: string;
}
