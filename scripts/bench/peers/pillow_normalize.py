"""Pillow doing the decode-resize-encode that src/images/normalize.ts does with sharp, on the same
files, one image at a time on one thread: open, bound the pixel count, shrink to fit maxSide (JPEG
draft mode, like libvips' shrink-on-load), apply EXIF orientation, convert through an embedded ICC
profile to sRGB, flatten alpha on white, encode a baseline 4:2:0 JPEG with optimised Huffman
tables and no metadata, hash it. Prints one JSON line: the timed pass after a warm-up pass over
the first --warmup images (default all).

    python pillow_normalize.py --dir DIR [--runs 1] [--warmup N] [--max-side 2048] [--quality 90]
"""
import argparse
import hashlib
import io
import json
import sys

import PIL
from PIL import Image, ImageCms, ImageOps

from timing import read_inputs, timed_passes

Image.MAX_IMAGE_PIXELS = None  # the pixel bound is checked below, as ours does, before decoding
SRGB = ImageCms.createProfile('sRGB')


def normalize(data, max_side, quality, max_pixels):
    im = Image.open(io.BytesIO(data))
    if im.width * im.height > max_pixels:
        raise ValueError('too many pixels')
    icc = im.info.get('icc_profile')
    # A square box: shrinking before or after the EXIF rotation gives the same size.
    im.thumbnail((max_side, max_side), Image.LANCZOS)
    ImageOps.exif_transpose(im, in_place=True)
    if im.mode == 'P':
        im = im.convert('RGBA' if 'transparency' in im.info else 'RGB')
    if icc and im.mode in ('RGB', 'RGBA', 'L', 'CMYK'):
        try:
            mode = 'RGBA' if im.mode == 'RGBA' else 'RGB'
            im = ImageCms.profileToProfile(im, ImageCms.ImageCmsProfile(io.BytesIO(icc)), SRGB, outputMode=mode)
        except ImageCms.PyCMSError:
            pass  # a broken profile: decode as if untagged, as libvips does
    if im.mode in ('RGBA', 'LA', 'PA'):
        rgba = im.convert('RGBA')
        flat = Image.new('RGB', rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel('A'))
        im = flat
    elif im.mode != 'RGB':
        im = im.convert('RGB')
    out = io.BytesIO()
    im.save(out, 'JPEG', quality=quality, optimize=True, progressive=False, subsampling=2)
    data = out.getvalue()
    hashlib.sha256(data).hexdigest()
    return len(data)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--dir', required=True)
    ap.add_argument('--runs', type=int, default=1)
    ap.add_argument('--warmup', type=int)
    ap.add_argument('--max-side', type=int, default=2048)
    ap.add_argument('--quality', type=int, default=90)
    ap.add_argument('--max-pixels', type=int, default=100_000_000)
    args = ap.parse_args()
    inputs = read_inputs(args.dir, r'\.(jpe?g|png)$')
    result = timed_passes(lambda data: {'outputBytes': normalize(data, args.max_side, args.quality, args.max_pixels)}, inputs, args.runs, args.warmup)
    print(json.dumps({
        'peer': f'Pillow {PIL.__version__}',
        'images': len(inputs),
        'failed': result['failed'],
        'inputMB': round(sum(map(len, inputs)) / 1e6, 1),
        'outputMB': round(result.get('outputBytes', 0) / 1e6, 1),
        'medianSeconds': round(result['seconds'], 3),
        'medianCpuSeconds': round(result['cpuSeconds'], 3),
        'imagesPerSecond': round(len(inputs) / result['seconds'], 1),
    }))


if __name__ == '__main__':
    sys.exit(main())
