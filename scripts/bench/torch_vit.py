"""The ceiling for scripts/bench/gpu-embed.sh: PyTorch bf16 throughput of the same shape the
generated ONNX model has (ViT-L/14, 4 registers, 224 px, 257 + 4 tokens), on the same GPU.

timm's vit_large_patch14_reg4_dinov2 at img_size=224 is that architecture (random weights are as
fast as trained ones); without timm, the same blocks written here with PyTorch's fused attention.
Inputs are already on the GPU: this is the model's speed, no decoding, no transfer.

Usage: python3 scripts/bench/torch_vit.py [--batch 64 256] [--iters 20] [--compile]
Prints one JSON line per batch size.
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.ls1 = nn.Parameter(torch.full((dim,), 0.1))
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.fc1 = nn.Linear(dim, 4 * dim)
        self.fc2 = nn.Linear(4 * dim, dim)
        self.ls2 = nn.Parameter(torch.full((dim,), 0.1))

    def forward(self, x):
        b, n, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, d)
        x = x + self.proj(a) * self.ls1
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x)))) * self.ls2


class ViT(nn.Module):
    def __init__(self, dim=1024, layers=24, heads=16, registers=4):
        super().__init__()
        self.patch = nn.Conv2d(3, dim, 14, 14)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.reg = nn.Parameter(torch.zeros(1, registers, dim))
        self.pos = nn.Parameter(torch.zeros(1, 257, dim))
        self.blocks = nn.ModuleList(Block(dim, heads) for _ in range(layers))
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x):
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], 1) + self.pos
        x = torch.cat([x[:, :1], self.reg.expand(x.shape[0], -1, -1), x[:, 1:]], 1)
        for block in self.blocks:
            x = block(x)
        return self.norm(x)[:, 0]


def build():
    try:
        import timm
        model = timm.create_model('vit_large_patch14_reg4_dinov2', pretrained=False, img_size=224, num_classes=0)
        return model, 'timm vit_large_patch14_reg4_dinov2 img_size=224'
    except Exception as error:  # noqa: BLE001 - any failure falls back to the local definition
        return ViT(), f'local ViT-L/14 reg4 (timm unavailable: {type(error).__name__})'


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--batch', type=int, nargs='+', default=[64, 256])
    parser.add_argument('--iters', type=int, default=20)
    parser.add_argument('--compile', action='store_true')
    args = parser.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = True
    model, name = build()
    model = model.cuda().eval().to(torch.bfloat16).to(memory_format=torch.channels_last)
    if args.compile:
        model = torch.compile(model)
    for batch in args.batch:
        x = torch.randn(batch, 3, 224, 224, device='cuda', dtype=torch.bfloat16).to(memory_format=torch.channels_last)
        with torch.inference_mode():
            for _ in range(3):
                model(x)
            torch.cuda.synchronize()
            started = time.perf_counter()
            for _ in range(args.iters):
                model(x)
            torch.cuda.synchronize()
            seconds = time.perf_counter() - started
        print(json.dumps({
            'bench': 'torch-bf16-ceiling', 'model': name, 'compiled': args.compile, 'batch': batch, 'iters': args.iters,
            'imagesPerSecond': round(batch * args.iters / seconds, 1), 'gpu': torch.cuda.get_device_name(0), 'torch': torch.__version__,
        }), flush=True)


if __name__ == '__main__':
    main()
