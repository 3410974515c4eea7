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
  /** JPEG chroma subsampling of re-encoded images; default '4:2:0'. */
  chromaSubsampling?: '4:2:0' | '4:4:4';
  /** Store a JPEG that already meets the stored format as it is (default true); false re-encodes every image. */
  passThrough?: boolean;
}

export interface NormalizedImage {
  /** The stored bytes (baseline JPEG, sRGB, 3 channels, no EXIF/XMP/IPTC): the input itself when passThrough. */
  bytes: Buffer;
  /** True when `bytes` is the input, byte for byte; false when it was decoded and re-encoded. */
  passThrough: boolean;
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
