# Writes the TorchScript encoders tests/cli/torchscript_encoder.sh trains (into the working directory).
# torch.jit.script reads the classes' source, so they live in a file, not in a heredoc.
import torch, torch.nn as nn
torch.manual_seed(0)
class Enc(nn.Module):  # the gaussian dataset's 8-wide samples -> 12 features
    def __init__(self, norm: nn.Module):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(8, 16), norm, nn.ReLU())
        self.proj = nn.Linear(16, 12)
        self.register_buffer("scale", torch.tensor(0.5))
    def forward(self, x):
        return self.proj(self.body(x)) * self.scale
torch.jit.save(torch.jit.script(Enc(nn.LayerNorm(16))), "enc.pt")
torch.jit.save(torch.jit.script(Enc(nn.BatchNorm1d(16))), "enc_bn.pt")
class Flat(nn.Module):  # returns [B]: not features
    def forward(self, x):
        return x.sum(1)
torch.jit.save(torch.jit.script(Flat()), "flat.pt")
class Broken(nn.Module):  # fails on any input
    def forward(self, x):
        return x.view(3, -1, 5)
torch.jit.save(torch.jit.script(Broken()), "broken.pt")
