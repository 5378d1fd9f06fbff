"""Every registered method honours the contract of ``methods/base.py`` (in the spirit of
scikit-learn's ``check_estimator``): it trains a few steps on digits with named, finite loss parts
that the log records; predicts posteriors; saves, loads and resumes exactly."""
import json
import re
import tokenize
from pathlib import Path

import pytest
import torch

from infoclust.methods import load_config
from infoclust.data import load_dataset
from infoclust.engine import LOG_EVERY, Trainer, load_trainer
from infoclust.methods import METHODS, Method, StepContext
from infoclust.rng import Rng
from infoclust.runs import RunDir
from tests.conftest import kill_and_resume

SRC = Path(__file__).resolve().parents[2] / "src" / "infoclust"


def quick(name: str, *extra: str) -> list[str]:
    """The method's own quick settings as --set overrides, plus ``extra``."""
    return [f"{k}={json.dumps(v)}" for k, v in METHODS[name].quick.items()] + list(extra)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", progress=False)


@pytest.mark.parametrize("name", list(METHODS))
def test_a_method_trains_logs_its_parts_and_predicts(name, digits, tmp_path):
    cfg = load_config(None, quick(name, "train.epochs=2", "train.eval_every=1"), method=name, seed=0)
    run = RunDir(tmp_path / "run")
    trainer = Trainer(cfg, digits, run, progress=False)
    run.write_config(trainer.cfg)
    method = trainer.method
    assert isinstance(method, Method)

    idx = torch.arange(64)
    rng = Rng.seeded(0, trainer.device)
    steps = [method.train_step(trainer.images[idx], StepContext(0, step, rng, idx)) for step in range(LOG_EVERY)]
    parts = {key for step in steps for key in step}
    assert all(v.dim() == 0 and torch.isfinite(v) for step in steps for v in step.values())
    assert "loss" in parts  # the objective (the collapse check watches it) comes at least once a log window
    figures = trainer.fit()

    logged = [r for r in run.read_metrics() if r["kind"] == "train"]
    assert logged and parts <= set().union(*logged)  # every part is logged (a pass may return other parts)
    post = method.predict(trainer.images[:50])
    head = post[method.report_head]
    per_sample = 8 * 8 if method.dense else 1  # a dense method predicts every pixel of the 8×8 digits
    assert head.dim() == 3 and head.shape[1:] == (50 * per_sample, figures["n_clusters"])
    assert torch.allclose(head.sum(-1), torch.ones(head.shape[:2], device=head.device), atol=1e-5)
    scores = method.selection_scores(trainer.images[:64], StepContext(0, 0, Rng.seeded(0, trainer.device), idx))
    assert scores is None or scores.shape == (head.shape[0],)
    embedded = method.features(trainer.images[:7])
    assert embedded.shape[0] == 7
    # the feature network is the same computation with gradients, over the method's own parameters
    # (none where the method clusters a fixed embedding: TEMI's features are its standardised input)
    network = method.feature_network().eval()
    out = network(trainer.images[:7])
    assert torch.allclose(out, embedded, atol=1e-6) and out.requires_grad == any(True for _ in network.parameters())
    owned = {id(p) for name in dir(method) if isinstance(getattr(method, name, None), torch.nn.Module)
             for p in getattr(method, name).parameters()}
    assert {id(p) for p in network.parameters()} <= owned
    assert isinstance(method.pass_name(0), str) and isinstance(method.may_report(0), bool)
    assert sum(figures["cluster_sizes"]) == len(digits) * per_sample
    assert ("acc" in figures) != method.dense  # digits have a label per image: they cannot score pixels
    assert 0 <= figures.get("acc", 0) <= 1

    # save and load: a trainer read back from the run folder predicts the same posteriors
    loaded = load_trainer(run.root)
    again = loaded.method.predict(loaded.images[:50])[method.report_head]
    assert torch.equal(again, head)


@pytest.mark.parametrize("name", list(METHODS))
def test_a_method_resumes_exactly(name, digits, tmp_path, monkeypatch):
    # a quick setting may collapse (iic-vat does at this seed): that is an outcome, not a contract breach
    cfg = load_config(None, quick(name, "train.epochs=2", "train.checkpoint_every=7", "train.on_collapse=continue"),
                      method=name, seed=4)
    cls = type(Trainer(cfg, digits, progress=False).method)
    full, resumed = kill_and_resume(cfg, tmp_path, cls, 17, monkeypatch)  # 3 steps after the checkpoint at 14
    for key in ("acc", "nmi", "ari", "sub_head_loss", "cluster_sizes", "mean_confidence"):
        assert resumed.get(key) == full.get(key), key
    assert "cluster_sizes" in full
    a, b = (RunDir(tmp_path / r).load_checkpoint()["method"] for r in ("full", "cut"))
    flat = lambda state: {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}  # noqa: E731
    for part in a:
        if isinstance(a[part], dict):
            for key, value in flat(a[part]).items():
                assert torch.equal(value, b[part][key]), (part, key)


FSTRING_TEXT = getattr(tokenize, "FSTRING_MIDDLE", tokenize.STRING)  # from Python 3.12 an f-string's text is its own token


def method_names_in(code: str, heads: bool = True) -> list[str]:
    """Registered method names in ``code``: as a name (``iic``), or a word of any string (quoted
    "dccs", or "... use imsat" in a message); with ``heads``, head names quoted ("B")."""
    import io

    names = set(METHODS)
    word = re.compile(r"(?<![\w-])(%s)(?![\w-])" % "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)))
    found = []
    for token in tokenize.generate_tokens(io.StringIO(code).readline):
        if token.type == tokenize.NAME and token.string in names:
            found.append(token.string)
        elif token.type in (tokenize.STRING, FSTRING_TEXT):
            found += word.findall(token.string)
            found += re.findall(r"""^[rbuf]*["'](A|B)["']$""", token.string) if heads else []
    return found


def generic_modules() -> list[Path]:
    """Every module of the package outside ``methods/``: the generic layers know no method."""
    return sorted(p for p in SRC.rglob("*.py") if "methods" not in p.relative_to(SRC).parts)


def test_no_method_or_head_name_outside_the_methods():
    # heads are the concern of what reads posteriors; data/ speaks of bytes ("B")
    found = {str(p.relative_to(SRC)): names for p in generic_modules()
             if (names := method_names_in(p.read_text(), heads=p.parent.name != "data"))}
    assert found == {}


def test_a_planted_method_name_is_caught_with_or_without_quotes():
    config = (SRC / "config.py").read_text()
    assert method_names_in(config + "\nFALLBACK = iic\n") == ["iic"]  # unquoted
    assert method_names_in(config + '\nFALLBACK = "dccs"\n') == ["dccs"]  # quoted
    assert method_names_in(config + '\nraise ValueError(f"{x}: use imc-swav")\n') == ["imc-swav"]  # inside a message
    assert method_names_in('HEAD = "B"\nlabel = "Bold"\n') == ["B"]
    assert method_names_in("def iic_loss(p):\n    return p  # not a name: a part of one\n") == []


def test_the_tiny_image_defaults_are_one_resolution_for_cli_and_api(digits):
    """``infoclust train --data digits`` and ``infoclust.IIC()`` on the digits array resolve alike."""
    from infoclust.methods import resolve_config
    import infoclust

    cli = resolve_config(load_config(None, [], data__name="digits"), (1, 8, 8), 10, 1797)
    est = infoclust.IIC(n_clusters=10, epochs=1, config={"train__select_samples": 64})
    est.fit(digits.images[:200, 0] / 255.0)
    api = est.config_
    for section in ("model", "views", "objective"):
        assert getattr(api, section) == getattr(cli, section), section
    assert (api.train.batch_size, api.train.lr, api.train.head_schedule) == (cli.train.batch_size, cli.train.lr, cli.train.head_schedule)
    assert (cli.train.epochs, cli.model.width, cli.model.sub_heads) == (40, 16, 10)
