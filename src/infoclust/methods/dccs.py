"""DCCS: deep clustering with category-style representation (Zhao et al., ECCV 2020).

An encoder maps an image to Z = [Zs, Zc]: a style code Zs and a category code Zc = softmax of K
logits. Three terms shape it (paper eq. (11)): the prior matching of Z to Zs ~ N(0, σ²), Zc =
one-hot of a uniform class, adversarially with a WGAN-GP critic; the mutual information I(X, Z),
estimated by a discriminator on (intermediate activation, Z) pairs with the Jensen–Shannon bound;
and the consistency KL(Zc(x) ‖ Zc(aug(x))). As the DCCS code: of every ``critic_steps + 1`` global
steps the last trains the encoder and the discriminator (one Adam) and the others the critic (its
own Adam); the critic's Z is computed without gradient by the training-mode encoder on the clean
view. A sample's cluster is the argmax of Zc. Variants: a decoder's reconstruction in place of
the MI term (``objective.information``), Sobel input (``views.sobel``), and any term dropped by a
zero weight (the ablation of Table 5).
"""
from __future__ import annotations

import torch

from ..distributed import DistContext, synchronise_batchnorm
from ..losses import augmentation_kl, gradient_penalty, jsd_mi_loss, reconstruction_loss
from ..models.dccs import Codes, build_decoder, build_encoder, mlp_critic
from .base import FeatureNetwork, Method, MethodSpec, StepContext, register
from .dccs_config import PRESET, DCCSRunConfig, build_views, resolve, validate

HEAD = "zc"  # the reported "head": the category code
CRITIC_LIMIT = 1e4  # |Wasserstein estimate| or gradient penalty above this: the critic has diverged


class DCCS(Method):
    """The encoder, the critic and the MI discriminator (or the decoder), with their two optimisers."""

    report_head = HEAD

    def __init__(self, cfg: DCCSRunConfig, sample_shape: tuple[int, ...], device: torch.device,
                 dist: DistContext = DistContext()):
        super().__init__(cfg, device, dist)
        m, o = cfg.model, cfg.objective
        self.views = build_views(cfg, sample_shape[0])
        channels, size = self.views.channels(sample_shape[0]), cfg.views.input_size
        encoder = build_encoder(m.encoder, channels, size, m.style_dim, m.n_clusters, m.width)
        self.encoder = synchronise_batchnorm(encoder, dist).to(device)
        z_dim = m.style_dim + m.n_clusters
        self.critic = mlp_critic(z_dim).to(device)
        # what keeps Z informative: state key "discriminator" (on (act, Z) pairs) or "decoder" (Z → image)
        self.informer_name = o.information
        informer = mlp_critic(encoder.act_dim + z_dim) if o.information == "discriminator" else \
            synchronise_batchnorm(build_decoder(m.encoder, z_dim, channels, size, m.width), dist)
        self.informer = informer.to(device)
        # the adversarial terms keep moving; KL(Zc(x) ‖ Zc(aug x)) goes flat at 0 in a collapse
        self.watched_loss = "aug" if o.beta_aug > 0 else "loss"
        betas = tuple(cfg.train.betas)
        self.optimizer = self.optimiser(torch.optim.Adam, [*self.encoder.parameters(), *self.informer.parameters()],
                                        lr=cfg.train.lr, betas=betas)
        self.critic_optimizer = self.optimiser(torch.optim.Adam, self.critic.parameters(), lr=cfg.train.lr, betas=betas)

    # ------------------------------------------------------------------ the contract
    def diagnose(self, parts: dict[str, float]) -> str | None:
        """The critic has diverged when its Wasserstein estimate or gradient penalty blows up."""
        w, gp = abs(parts.get("wasserstein", 0.0)), parts.get("gp", 0.0)
        if w > CRITIC_LIMIT or gp > CRITIC_LIMIT:
            return (f"the critic diverged (Wasserstein estimate {parts['wasserstein']:.4g}, gradient penalty {gp:.4g}, "
                    f"expected below {CRITIC_LIMIT:g}); try a lower train.lr or a larger objective.lambda_gp")
        return None

    def is_encoder_step(self, step: int) -> bool:
        """The last of every ``critic_steps + 1`` global steps trains the encoder (DCCS's schedule)."""
        cycle = self.cfg.objective.critic_steps + 1
        return step % cycle == cycle - 1

    def train_step(self, samples: torch.Tensor, ctx: StepContext) -> dict[str, torch.Tensor]:
        """A critic step ({"critic", "gp", "wasserstein"}) or an encoder step ({"loss", "prior",
        "mi", "aug"}), by the global step."""
        self.encoder.train()
        encoder_step = self.is_encoder_step(ctx.step)
        step = self._encoder_step if encoder_step else self._critic_step
        return self.run_step(encoder_step, lambda x, _: step(x, ctx), samples, ctx)

    @torch.no_grad()
    def predict(self, samples: torch.Tensor) -> dict[str, torch.Tensor]:
        """B images → {"zc": 1×B×K} category posteriors, eval-mode encoder on the clean view."""
        self.encoder.eval()
        _, logits, _ = self.encoder(self.views.clean(samples))
        return {HEAD: logits.softmax(dim=1)[None]}

    @torch.no_grad()
    def features(self, samples: torch.Tensor) -> torch.Tensor:
        """B images → B×(Ds + K) codes Z = [Zs, Zc], eval-mode encoder on the clean view."""
        self.encoder.eval()
        return self.feature_network()(samples)

    def feature_network(self) -> FeatureNetwork:
        """The clean view, then the encoder's codes Z."""
        return FeatureNetwork(self.views.clean, Codes(self.encoder))

    def state_dict(self) -> dict:
        return {"encoder": self.encoder.state_dict(), "critic": self.critic.state_dict(),
                self.informer_name: self.informer.state_dict(), "optimizer": self.optimizer.state_dict(),
                "critic_optimizer": self.critic_optimizer.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.encoder.load_state_dict(state["encoder"])
        self.critic.load_state_dict(state["critic"])
        self.informer.load_state_dict(state[self.informer_name])
        self.optimizer.load_state_dict(state["optimizer"])
        self.critic_optimizer.load_state_dict(state["critic_optimizer"])
        self.optimisers_loaded(self.optimizer, self.critic_optimizer)

    # ------------------------------------------------------------------ the objective
    def sample_prior(self, n: int, ctx: StepContext) -> torch.Tensor:
        """n×(Ds + K) prior codes: Zs ~ N(0, σ²), Zc = one-hot of a uniform class."""
        m = self.cfg.model
        style = m.style_std * ctx.rng.randn(n, m.style_dim)
        classes = ctx.rng.randint(0, m.n_clusters, n)
        return torch.cat([style, torch.nn.functional.one_hot(classes, m.n_clusters).float()], dim=1)

    def _encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(Z = [Zs, Zc], category logits, act) of a view."""
        zs, logits, act = self.encoder(x)
        return torch.cat([zs, logits.softmax(dim=1)], dim=1), logits, act

    def _critic_step(self, samples: torch.Tensor, ctx: StepContext) -> dict[str, torch.Tensor]:
        """The critic's loss β_adv·(−W + λ·GP); its gradient is the two parts' gradients, each taken
        alone, added in this order: in one backward, autograd would add the contributions of the
        penalty's double backward to the first layer's gradient in an order that, on CUDA, follows
        the engine thread's history (the same seed gave another critic)."""
        o = self.cfg.objective
        with torch.no_grad():
            fake, _, _ = self._encode(self.views.clean(samples))
        real = self.sample_prior(len(samples), ctx)
        alpha = ctx.rng.rand(len(samples), 1)
        wasserstein = self.critic(real).mean() - self.critic(fake).mean()
        gp = gradient_penalty(self.critic, real, fake, alpha)
        params = list(self.critic.parameters())
        grads = torch.autograd.grad(-o.beta_adv * wasserstein, params)
        penalty_grads = torch.autograd.grad(o.beta_adv * o.lambda_gp * gp, params, materialize_grads=True)  # 0 for the last bias
        for param, grad in zip(params, torch._foreach_add(grads, penalty_grads)):
            param.grad = grad
        ctx.dist.average_gradients(params)
        self.critic_optimizer.step()
        loss = o.beta_adv * (-wasserstein + o.lambda_gp * gp)
        return {"critic": loss.detach(), "gp": gp.detach(), "wasserstein": wasserstein.detach()}

    def _encoder_step(self, samples: torch.Tensor, ctx: StepContext) -> dict[str, torch.Tensor]:
        """The weighted sum of the prior term and whichever of "mi" / "rec" and "aug" have a
        weight above zero; each term is returned unweighted under its name."""
        o = self.cfg.objective
        clean = self.views.clean(samples)
        z, logits, act = self._encode(clean)
        aug_logits = self.encoder(self.views.augmented(samples, ctx.rng))[1] if o.beta_aug > 0 else None
        terms = {"prior": (o.beta_adv, -self.critic(z).mean())}
        if self.informer_name == "discriminator" and o.beta_mi > 0:
            shuffled = z[ctx.rng.rand(len(z)).argsort()]
            terms["mi"] = (o.beta_mi, jsd_mi_loss(self.informer(torch.cat([act, z], dim=1)),
                                                  self.informer(torch.cat([act, shuffled], dim=1))))
        if self.informer_name == "decoder" and o.beta_rec > 0:
            terms["rec"] = (o.beta_rec, reconstruction_loss(self.informer(z), clean))
        if aug_logits is not None:
            terms["aug"] = (o.beta_aug, augmentation_kl(logits, aug_logits))
        loss = sum(weight * value for weight, value in terms.values())
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        ctx.dist.average_gradients([*self.encoder.parameters(), *self.informer.parameters()])
        self.optimizer.step()
        return {"loss": loss.detach(), **{name: value.detach() for name, (_, value) in terms.items()}}


SUMMARY = "DCCS: category-style code Z = [Zs, Zc] with a prior matched by a WGAN-GP critic, JSD MI and augmentation KL (Zhao et al. 2020)"
QUICK = {"model.width": 8, "views.input_size": 12, "train.batch_size": 64, "train.lr": 1e-3}
ESTIMATOR_DOC = """DCCS (Zhao et al. 2020) of images: ``fit`` / ``predict`` (argmax of Zc) / ``predict_proba``
    (Zc) / ``transform`` (Z = [Zs, Zc], N×(50 + K)). ``X`` as for ``infoclust.IIC``; settings not
    given are chosen from the image size as ``infoclust train --method dccs`` chooses them."""
register(MethodSpec("dccs", DCCSRunConfig, PRESET, resolve, validate, DCCS, SUMMARY, QUICK,
                    estimator="DCCS", estimator_doc=ESTIMATOR_DOC))
