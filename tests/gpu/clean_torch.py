"""clean_torch.py — a small training loop on the GPU with a DataLoader (num_workers=2, forked workers,
pin_memory thread). No known hazard: expected PASS, and no locksan report."""
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

if not torch.cuda.is_available():
    print("SKIP: no GPU (torch.cuda.is_available() is False)")
    sys.exit(0)

torch.manual_seed(0)
ds = TensorDataset(torch.randn(4096, 32), torch.randint(0, 4, (4096,)))
dl = DataLoader(ds, batch_size=128, shuffle=True, num_workers=2, pin_memory=True)
model = nn.Sequential(nn.Linear(32, 128), nn.ReLU(), nn.Linear(128, 4)).cuda()
opt = torch.optim.SGD(model.parameters(), lr=0.1)
t0 = time.time()
for epoch in range(3):
    total = 0.0
    for x, y in dl:
        x, y = x.cuda(non_blocking=True), y.cuda(non_blocking=True)
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item()
    print("epoch %d loss %.4f" % (epoch, total / len(dl)), flush=True)
torch.cuda.synchronize()
print("torch %s, %s, %.1f s" % (torch.__version__, torch.cuda.get_device_name(0), time.time() - t0))
print("PASS")
