"""Pure loss functions, usable in any PyTorch loop: each method's terms, with shapes and the
paper's equation in each docstring.

- ``posteriors``: on cluster posteriors (IIC for images and, per pixel, for segmentation; IMSAT; the
  KL regulariser of Peng et al.);
- ``divergences``: DCCS's gradient penalty, JSD MI, augmentation KL and reconstruction;
- ``swav``: IMC-SwAV's Sinkhorn codes, swapped prediction, MI with the prototypes, logit penalty;
- ``neighbours``: TEMI's weighted β-PMI between a sample and its neighbour.
"""
from .divergences import augmentation_kl, gradient_penalty, jsd_mi_loss, reconstruction_loss
from .posteriors import (EPS, Reduce, dense_iic_loss, displaced_joints, entropy, iic_loss, imsat_loss,
                         joint_distribution, joint_loss, kl_divergence, marginal_mi, no_reduce, paired_mi)
from .neighbours import temi_loss
from .swav import imc_mi_loss, logit_penalty, sinkhorn, swapped_prediction_loss

__all__ = ["EPS", "Reduce", "augmentation_kl", "dense_iic_loss", "displaced_joints", "entropy", "gradient_penalty", "iic_loss", "imc_mi_loss",
           "imsat_loss", "joint_distribution", "joint_loss", "jsd_mi_loss", "kl_divergence", "logit_penalty", "marginal_mi",
           "no_reduce", "paired_mi", "reconstruction_loss", "sinkhorn", "swapped_prediction_loss", "temi_loss"]
