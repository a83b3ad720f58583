"""std.resnet's reference: torchvision's resnet18 / resnet34 with the weights std.resnet exported, loaded by name.

usage: resnet_reference.py IN OUT DEPTH MODE        (MODE: image or frames)
IN (torch.save format, written by the C++ test with torch::pickle_save): a flat dict of float64 tensors,
"state.<name>" (every parameter and buffer of the C++ encoder, names as torchvision's), "x" (the batch: images
[B, C, H, W] or frames [B, T, C, H, W]) and "g" (the gradient applied to the output in train mode).
OUT: "eval_out" (eval mode), "train_out", "grad.<name>" (train mode, d(sum(out * g))/d param) and "buf.<name>"
(the batch-norm statistics after that train-mode forward).
The frames mode pools as OGM-GE's visual branch does: the per-frame map [B*T, 512, h, w] viewed as
[B, 512, T, h, w] and adaptive_avg_pool3d to 1. Exit 3 when torch or torchvision is missing.
"""
import sys

try:
    import torch
    import torch.nn.functional as F
    import torchvision
except ImportError as e:  # the C++ test fails, naming what to install
    print(f"missing: {e}", file=sys.stderr)
    sys.exit(3)

src, dst, depth, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
data = torch.load(src)
state = {k[len("state."):]: v for k, v in data.items() if k.startswith("state.")}
x, g = data["x"], data["g"]

net = {18: torchvision.models.resnet18, 34: torchvision.models.resnet34}[depth]()
channels = x.shape[-3]
if channels != 3:  # a spectrogram: conv1 takes its channels, as OGM-GE's audio ResNet
    net.conv1 = torch.nn.Conv2d(channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
net.fc = torch.nn.Identity()  # the encoder gives the pooled features; torchvision's classifier is not part of it
net = net.double()
net.load_state_dict(state, strict=True)  # names, shapes, and nothing missing or extra


def trunk(images):
    """torchvision's forward up to layer4 (the feature map before pooling)."""
    y = net.maxpool(net.relu(net.bn1(net.conv1(images))))
    return net.layer4(net.layer3(net.layer2(net.layer1(y))))


def forward(batch):
    if mode == "image":
        return net(batch)  # conv ... layer4, avgpool, flatten, fc = identity
    b, t = batch.shape[:2]
    v = trunk(batch.flatten(0, 1))                    # [B*T, 512, h, w]
    v = v.view(b, t, *v.shape[1:]).permute(0, 2, 1, 3, 4)  # [B, 512, T, h, w]
    return torch.flatten(F.adaptive_avg_pool3d(v, 1), 1)


out = {}
net.eval()
with torch.no_grad():
    out["eval_out"] = forward(x)
net.train()
y = forward(x)
(y * g).sum().backward()
out["train_out"] = y.detach()
for name, p in net.named_parameters():
    out["grad." + name] = p.grad
for name, b in net.named_buffers():
    out["buf." + name] = b
torch.save(out, dst)
