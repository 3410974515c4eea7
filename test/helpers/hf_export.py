"""A real transformers DINOv2 export for test/embed-hf-export.slow.test.ts: builds Dinov2Model or
Dinov2WithRegistersModel from a tiny config (random weights: no download), exports it with
torch.onnx (the dynamo exporter: the TorchScript one has no op for the antialiased bicubic
interpolation of the position embeddings), and computes transformers' own outputs for the input
tensors the test hands over, as the reference.

Usage: python hf_export.py reg|plain OUT.onnx INPUT.f32 BATCH
Prints JSON: versions, the CLS vectors (last_hidden_state[:, 0]) and whether pooler_output equals them.
"""
import json
import sys

import numpy as np
import torch
import transformers
from transformers import Dinov2Config, Dinov2Model, Dinov2WithRegistersConfig, Dinov2WithRegistersModel

kind, out, input_file, batch = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
torch.manual_seed(0)
# Trained at 518 px like the real checkpoints: at 224 the position embeddings are interpolated.
common = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=256, image_size=518, patch_size=14)
if kind == 'reg':
    model = Dinov2WithRegistersModel(Dinov2WithRegistersConfig(num_register_tokens=4, **common)).eval()
else:
    model = Dinov2Model(Dinov2Config(**common)).eval()
dynamic = {0: 'batch_size'}
torch.onnx.export(model, (torch.rand(2, 3, 224, 224),), out, opset_version=18, dynamo=True,
                  input_names=['pixel_values'], output_names=['last_hidden_state', 'pooler_output'],
                  dynamic_axes={'pixel_values': dynamic, 'last_hidden_state': dynamic, 'pooler_output': dynamic})
x = torch.from_numpy(np.fromfile(input_file, np.float32).reshape(batch, 3, 224, 224))
with torch.no_grad():
    y = model(pixel_values=x)
cls = y.last_hidden_state[:, 0]
print(json.dumps({
    'transformers': transformers.__version__, 'torch': torch.__version__,
    'tokens': int(y.last_hidden_state.shape[1]), 'cls': cls.numpy().tolist(),
    'poolerIsCls': bool(torch.equal(y.pooler_output, cls)),
}))
