"""Independent reference implementations for the embedding tests (test/embed-reference.slow.test.ts).

recipes  the two preprocessing recipes with PIL and numpy, as torchvision/transformers users run them:
         full decode (no draft mode), EXIF orientation applied, embedded ICC profile converted to
         sRGB, transparency laid on white, then
           biomedica: resize((224, 224), BILINEAR), /255
           dinov2:    shortest edge 256 BICUBIC (long edge int(256 * long / short)), centre crop
                      224 with torchvision's round(), /255, (x - mean) / std in float32
         and compares with the tensors the embedder built, in units of [0, 1] pixel values.
vit      the DINOv2 forward pass in numpy, from the weights in a generated ONNX file, compared
         with what ONNX Runtime computed from the same input.

Usage: python embed_reference.py recipes SPEC.json
       python embed_reference.py vit MODEL.onnx INPUT.f32 OUTPUT.f32 BATCH REGISTERS
Prints one JSON document on stdout.
"""
import io
import json
import math
import sys

import numpy as np
from PIL import Image, ImageCms, ImageOps

MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def load_rgb(path):
    im = Image.open(path)
    im.seek(0)
    im = ImageOps.exif_transpose(im)
    icc = im.info.get('icc_profile')
    if im.mode in ('I;16', 'I;16B', 'I;16L', 'I'):
        im = Image.fromarray((np.asarray(im).astype(np.uint32) >> 8).astype(np.uint8), 'L')
    if im.mode in ('RGBA', 'LA', 'PA') or (im.mode == 'P' and 'transparency' in im.info):
        im = im.convert('RGBA')
        white = Image.new('RGBA', im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(white, im)
    if icc and im.mode in ('RGB', 'RGBA', 'CMYK', 'L'):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            im = ImageCms.profileToProfile(im.convert('RGB') if im.mode == 'RGBA' else im, source, ImageCms.createProfile('sRGB'),
                                           renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC, outputMode='RGB')
        except ImageCms.PyCMSError:
            pass
    return im.convert('RGB')


def recipe_tensor(path, recipe):
    im = load_rgb(path)
    w, h = im.size
    if recipe == 'biomedica':
        x = np.asarray(im.resize((224, 224), Image.BILINEAR), np.float32) / np.float32(255)
        return x.transpose(2, 0, 1)
    short, long = (w, h) if w <= h else (h, w)
    new_long = int(256 * long / short)
    nw, nh = (256, new_long) if w <= h else (new_long, 256)
    im = im.resize((nw, nh), Image.BICUBIC)
    top, left = int(round((nh - 224) / 2.0)), int(round((nw - 224) / 2.0))
    x = np.asarray(im.crop((left, top, left + 224, top + 224)), np.float32) / np.float32(255)
    return ((x - MEAN) / STD).transpose(2, 0, 1)


def recipes(spec_file):
    spec = json.load(open(spec_file))
    out = []
    for recipe, entries in spec.items():
        tensors = np.fromfile(entries['tensors'], np.float32).reshape(-1, 3, 224, 224)
        scale = np.ones(3, np.float32) if recipe == 'biomedica' else STD
        for i, path in enumerate(entries['paths']):
            ours = tensors[i]
            ref = recipe_tensor(path, recipe)
            # In [0, 1] pixel units, whatever the normalisation.
            d = np.abs(ours - ref) * scale[:, None, None]
            patches = (ours - ref).reshape(3, 16, 14, 16, 14).mean(axis=(2, 4)) * scale[:, None, None]
            out.append({
                'recipe': recipe, 'path': path,
                'meanAbs': float(d.mean()), 'p99': float(np.percentile(d, 99)), 'max': float(d.max()),
                'patchMax': float(np.abs(patches).max()),
            })
    # The value mapping alone, for every byte: (v/255 - mean)/std in float32, as torchvision does.
    v = np.arange(256, dtype=np.float32) / np.float32(255)
    table = {'biomedica': v.tolist(), 'dinov2': [((v - MEAN[c]) / STD[c]).astype(np.float32).tolist() for c in range(3)]}
    print(json.dumps({'images': out, 'table': table}))


def layer_norm(x, g, b, eps=1e-6):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


def vit(model_file, input_file, output_file, batch, registers):
    import onnx
    from onnx import numpy_helper
    model = onnx.load(model_file)
    onnx.checker.check_model(model, full_check=True)
    W = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in model.graph.initializer}
    x = np.fromfile(input_file, np.float32).reshape(batch, 3, 224, 224).astype(np.float64)
    ours = np.fromfile(output_file, np.float32)
    erf = np.vectorize(math.erf)

    conv = W['embeddings.patch.weight']
    dim = conv.shape[0]
    patches = x.reshape(batch, 3, 16, 14, 16, 14).transpose(0, 2, 4, 1, 3, 5).reshape(batch, 256, 3 * 14 * 14)
    h = patches @ conv.reshape(dim, -1).T + W['embeddings.patch.bias']
    cls = np.broadcast_to(W['embeddings.cls_token'], (batch, 1, dim))
    h = np.concatenate([cls, h], 1) + W['embeddings.position_embeddings']
    if registers:
        reg = np.broadcast_to(W['embeddings.register_tokens'], (batch, registers, dim))
        h = np.concatenate([h[:, :1], reg, h[:, 1:]], 1)
    layers = len({k.split('.')[2] for k in W if k.startswith('encoder.layer.')})
    head_dim = int(round(1 / float(W['attention.scale']) ** 2))
    heads = dim // head_dim
    for l in range(layers):
        p = lambda n: W[f'encoder.layer.{l}.{n}']
        n1 = layer_norm(h, p('norm1.weight'), p('norm1.bias'))
        split = lambda t: t.reshape(batch, -1, heads, dim // heads).transpose(0, 2, 1, 3)
        q, k, v = (split(n1 @ p(f'attention.{n}.weight') + p(f'attention.{n}.bias')) for n in ('query', 'key', 'value'))
        s = q @ k.transpose(0, 1, 3, 2) / math.sqrt(dim // heads)
        a = np.exp(s - s.max(-1, keepdims=True))
        a /= a.sum(-1, keepdims=True)
        o = (a @ v).transpose(0, 2, 1, 3).reshape(batch, -1, dim)
        h = h + (o @ p('attention.output.weight') + p('attention.output.bias')) * p('layer_scale1')
        n2 = layer_norm(h, p('norm2.weight'), p('norm2.bias'))
        u = n2 @ p('mlp.fc1.weight') + p('mlp.fc1.bias')
        u = 0.5 * u * (1 + erf(u / math.sqrt(2)))
        h = h + (u @ p('mlp.fc2.weight') + p('mlp.fc2.bias')) * p('layer_scale2')
    last = layer_norm(h, W['layernorm.weight'], W['layernorm.bias'])
    cls = last[:, 0, :].reshape(-1)
    print(json.dumps({
        'opset': model.opset_import[0].version, 'inputs': [i.name for i in model.graph.input], 'outputs': [o.name for o in model.graph.output],
        'tokens': int(last.shape[1]), 'dim': dim, 'heads': heads, 'layers': layers,
        'maxAbs': float(np.abs(cls - ours).max()), 'scale': float(np.abs(cls).max()),
    }))


if __name__ == '__main__':
    if sys.argv[1] == 'recipes':
        recipes(sys.argv[2])
    else:
        vit(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6]))
