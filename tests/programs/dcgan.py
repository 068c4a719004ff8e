"""A tiny DCGAN in the style of pytorch/examples (ConvTranspose2d, BatchNorm2d, BCELoss, two Adam optimizers).

The "real" 16x16 images are synthetic (soft diagonal stripes made with NumPy), and so is the noise, so that
every run sees the same numbers. The only tinynet-specific lines are the imports.
Run: python tests/programs/dcgan.py
"""

import numpy as np

import tinynet as torch
import tinynet.nn as nn
import tinynet.optim as optim

nz, ngf, ndf, nc = 8, 8, 8, 1  # noise size, generator and discriminator widths, image channels
batch_size = 8
real_label, fake_label = 1.0, 0.0


def weights_init(m):
    """DCGAN's initialisation: N(0, 0.02) convolutions, N(1, 0.02) batch-norm scales."""
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        m.weight.data.normal_(0.0, 0.02)
    elif classname.find("BatchNorm") != -1:
        m.weight.data.normal_(1.0, 0.02)
        m.bias.data.fill_(0)


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 2, 4, 1, 0, bias=False),  # (N, 16, 4, 4)
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),  # (N, 8, 8, 8)
            nn.BatchNorm2d(ngf),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),  # (N, 1, 16, 16)
            nn.Tanh(),
        )

    def forward(self, z):
        return self.main(z)


class Discriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),  # (N, 8, 8, 8)
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),  # (N, 16, 4, 4)
            nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, 1, 4, 1, 0, bias=False),  # (N, 1, 1, 1)
            nn.Sigmoid(),
        )

    def forward(self, images):
        return self.main(images).view(-1, 1).squeeze(1)


def make_model() -> tuple:
    netG = Generator()
    netG.apply(weights_init)
    netD = Discriminator()
    netD.apply(weights_init)
    return netG, netD


def real_batches(steps: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    i, j = np.meshgrid(np.arange(16), np.arange(16), indexing="ij")
    for _ in range(steps):
        phase = rng.uniform(0, 2 * np.pi, (batch_size, 1, 1, 1))
        yield torch.from_numpy(np.sin((i + j) / 2.0 + phase).astype(np.float32))


def train(model: tuple, steps: int = 10) -> list[float]:
    """`steps` rounds of (update D on real and fake, update G); returns the discriminator's loss each round."""
    netG, netD = model
    criterion = nn.BCELoss()
    # (DCGAN's lr is 0.0002; these tiny networks take 0.001 to learn within a few steps.)
    optimizerD = optim.Adam(netD.parameters(), lr=0.001, betas=(0.5, 0.999))
    optimizerG = optim.Adam(netG.parameters(), lr=0.001, betas=(0.5, 0.999))
    noise_source = np.random.default_rng(1)
    losses = []
    for real in real_batches(steps):
        # (1) Update D: maximize log(D(x)) + log(1 - D(G(z)))
        netD.zero_grad()
        label = torch.full((batch_size,), real_label, dtype=real.dtype)
        output = netD(real)
        errD_real = criterion(output, label)
        errD_real.backward()

        noise = torch.from_numpy(noise_source.standard_normal((batch_size, nz, 1, 1)).astype(np.float32))
        fake = netG(noise)
        label.fill_(fake_label)
        output = netD(fake.detach())
        errD_fake = criterion(output, label)
        errD_fake.backward()
        errD = errD_real + errD_fake
        optimizerD.step()

        # (2) Update G: maximize log(D(G(z)))
        netG.zero_grad()
        label.fill_(real_label)  # fake labels are real for generator cost
        output = netD(fake)
        errG = criterion(output, label)
        errG.backward()
        optimizerG.step()
        losses.append(errD.item())
    return losses


def main() -> None:
    torch.manual_seed(0)
    losses = train(make_model(), steps=20)
    print(f"discriminator loss {losses[0]:.4f} -> {losses[-1]:.4f}")


if __name__ == "__main__":
    main()
