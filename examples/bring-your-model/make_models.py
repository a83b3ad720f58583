# Step 1 of docs/bring-your-model.md: the models a PyTorch user brings.
#  - audio_cnn.pt: an audio encoder defined in Python, scripted with torch.jit.script and saved with torch.jit.save;
#    mmdebias trains it as it trains its own encoders (std.torchscript).
#  - resnet18_1ch.pt: a ResNet-18 state dict in torchvision's names, saved with torch.save, for std.resnet's init:.
#    With network access it would hold ImageNet weights, conv1 summed over RGB for 1-channel images (OGM-GE's
#    audio trick); here nothing can be downloaded, so it holds torchvision's own random initialisation.
import torch
import torch.nn as nn
import torchvision


class AudioCNN(nn.Module):
    """Log-mel spectrograms [B, mels, frames] -> features [B, 64]."""

    def __init__(self, width: int = 32, out_dim: int = 64):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.BatchNorm2d(2 * width), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1))
        self.proj = nn.Linear(2 * width, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(self.features(x.unsqueeze(1)).flatten(1))


torch.manual_seed(0)
torch.jit.save(torch.jit.script(AudioCNN()), "audio_cnn.pt")

resnet = torchvision.models.resnet18()  # weights="IMAGENET1K_V1" where it can be downloaded
with torch.no_grad():
    conv1 = nn.Conv2d(1, 64, 7, stride=2, padding=3, bias=False)
    conv1.weight.copy_(resnet.conv1.weight.sum(1, keepdim=True))
    resnet.conv1 = conv1
torch.save(resnet.state_dict(), "resnet18_1ch.pt")
print("wrote audio_cnn.pt and resnet18_1ch.pt")
