#!/usr/bin/env python3
"""pytorch/examples dcgan/main.py's loop, written out, on a folder of images: prints the mean colour
and spread of G(fixed noise) and the losses at epochs 1, 50 and 100. Used to check that Gantry's
`gantry train dcgan` and PyTorch's example behave alike on the same data (docs/training.md).

    /path/to/venv/bin/python benchmarks/dcgan_reference_check.py   # reads /tmp/dc/data/*.png
"""
import glob, torch, torch.nn as nn
from PIL import Image
import numpy as np
torch.manual_seed(0); torch.set_num_threads(2)
nz, ngf, ndf, nc = 32, 16, 16, 3
files = sorted(glob.glob('/tmp/dc/data/*.png'))
def load(f):
    im = Image.open(f).convert('RGB'); w, h = im.size; s = 64
    im = im.resize((s * w // min(w,h), s * h // min(w,h)) if w != h else (s, s), Image.BILINEAR)
    w, h = im.size; l, t = int(round((w - s) / 2)), int(round((h - s) / 2)); im = im.crop((l, t, l + s, t + s))
    return torch.tensor(np.asarray(im), dtype=torch.float32).permute(2, 0, 1) / 127.5 - 1
data = torch.stack([load(f) for f in files])
G = nn.Sequential(
    nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 8), nn.ReLU(True),
    nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
    nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
    nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
    nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh())
D = nn.Sequential(
    nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
    nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, inplace=True),
    nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2, inplace=True),
    nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 8), nn.LeakyReLU(0.2, inplace=True),
    nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False))
def init(m):
    n = m.__class__.__name__
    if 'Conv' in n: nn.init.normal_(m.weight, 0, 0.02)
    elif 'BatchNorm' in n: nn.init.normal_(m.weight, 1, 0.02); nn.init.zeros_(m.bias)
G.apply(init); D.apply(init)
oG = torch.optim.Adam(G.parameters(), 2e-4, betas=(0.5, 0.999)); oD = torch.optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.999))
bce = nn.BCEWithLogitsLoss(); fixed = torch.randn(64, nz, 1, 1)
for epoch in range(1, 101):
    perm = torch.randperm(len(data))
    for b in range(0, len(data), 16):
        x = data[perm[b:b+16]]
        D.zero_grad(); out = D(x).view(-1); errD_real = bce(out, torch.ones_like(out)); errD_real.backward()
        fake = G(torch.randn(len(x), nz, 1, 1)); out = D(fake.detach()).view(-1); errD_fake = bce(out, torch.zeros_like(out)); errD_fake.backward(); oD.step()
        G.zero_grad(); out = D(fake).view(-1); errG = bce(out, torch.ones_like(out)); errG.backward(); oG.step()
    if epoch in (1, 50, 100):
        with torch.no_grad(): y = G(fixed)
        m = ((y + 1) * 127.5).mean(dim=(0, 2, 3)); s = ((y + 1) * 127.5).std()
        print(epoch, [round(v, 1) for v in m.tolist()], round(s.item(), 1), 'D', round((errD_real + errD_fake).item(), 4), 'G', round(errG.item(), 3))
