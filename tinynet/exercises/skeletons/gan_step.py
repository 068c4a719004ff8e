"""Exercise `gan_step` (lesson 16_gan): one training step of a GAN.

A generator G turns noise z (N, latent) into fakes G(z) (N, features); a discriminator D gives each sample a
logit, (N, 1): large = "real". One step trains D, then G, on the same fakes:

 1. fake = G(z).
 2. D's step: opt_D.zero_grad(); d_loss = BCE(D(real), 1) + BCE(D(fake.detach()), 0); d_loss.backward();
    opt_D.step(). BCE(logits, t) = F.binary_cross_entropy_with_logits(logits, a tensor of t's like logits): the mean
    of -log sigmoid(logits) for t = 1 and of -log(1 - sigmoid(logits)) for t = 0. The fakes are DETACHED here:
    D's loss must not send gradients into G (they would add to G's own, or at best be computed for nothing).
 3. G's step: opt_G.zero_grad(); g_loss = BCE(D(fake), 1), the "non-saturating" loss -log D(G(z)), with D as it
    is after its step; g_loss.backward(); opt_G.step(). (Minimising log(1 - D(G(z))) instead, the loss of the
    original minimax game, "saturates": when D easily spots the fakes its gradient vanishes and G learns nothing.)
 4. return d_loss.item(), g_loss.item().

Each optimizer holds only its own network's parameters; zero_grad first, since backward adds to .grad.
Then: tinynet exercises check gan_step
"""

import tinynet as tn
import tinynet.nn.functional as F
from tinynet import Tensor, nn


def gan_step(
    G: nn.Module, D: nn.Module, opt_G: tn.optim.Optimizer, opt_D: tn.optim.Optimizer, real: Tensor, z: Tensor
) -> tuple[float, float]:
    """One step on D then G; real (N, features), z (N, latent) -> (d_loss, g_loss) as floats."""
    # TODO: the fakes; D's loss on real and on the detached fakes, its step; G's non-saturating loss, its step.
    raise NotImplementedError("gan_step: D's step on real and detached fakes, then G's step; return both losses")
