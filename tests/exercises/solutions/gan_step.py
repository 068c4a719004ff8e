"""Reference solution of exercise `gan_step` (must pass every part)."""

import tinynet as tn
import tinynet.nn.functional as F


def gan_step(G, D, opt_G, opt_D, real, z):
    fake = G(z)

    opt_D.zero_grad()
    real_logits = D(real)
    fake_logits = D(fake.detach())
    d_loss = F.binary_cross_entropy_with_logits(real_logits, tn.ones_like(real_logits))
    d_loss = d_loss + F.binary_cross_entropy_with_logits(fake_logits, tn.zeros_like(fake_logits))
    d_loss.backward()
    opt_D.step()

    opt_G.zero_grad()
    logits = D(fake)
    g_loss = F.binary_cross_entropy_with_logits(logits, tn.ones_like(logits))
    g_loss.backward()
    opt_G.step()
    return d_loss.item(), g_loss.item()
