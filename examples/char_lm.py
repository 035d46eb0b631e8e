"""A character-level language model (GRU, LSTM or a small Transformer) on Python's own docs.

The text ships with Python: the Zen of Python (`import this`) and the docstrings of a
fixed list of standard-library modules, their classes and functions (about 480,000
characters of English about programming; no download). The last 10% is held out.
The model reads a window of characters and predicts each next one; the score is
validation **bits per character** (cross-entropy in base 2, lower is better) against a
bigram baseline computed from the same training text (add-one smoothed counts of which
character follows which). Every model must beat the bigram clearly.

    --model gru          Embedding(V, 64) -> GRU(64, 256) -> Linear(256, V)
    --model lstm         Embedding(V, 64) -> LSTM(64, 256) -> Linear(256, V)
    --model transformer  token + position embeddings (64) -> 2 pre-norm
                         TransformerEncoderLayer(64, 4 heads, ff 256) with a causal mask
                         -> LayerNorm -> Linear(64, V)

Full size, seed 0 (validation bits/char, bigram 3.90, uniform 6.58; CPU time on one core):
GRU 2.41 (125 s), LSTM 2.56 (146 s), Transformer 2.81 (115 s).

Trained with Adam, gradient norms clipped to 1. Prints samples at a few temperatures;
pictures: the loss curves, and for the transformer the attention of each head on a
validation snippet.

    python examples/char_lm.py --model transformer --out runs/char_lm
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import inspect
import io
import math
import time
import warnings
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure  # the object API renders with Agg, no pyplot state
from threadpoolctl import threadpool_limits  # installed with scikit-learn

import tinygrad_np as tg
from _common import (  # examples/_common.py
    add_compile_option, compile_report, ExampleParser, positive_float, positive_int, seed_int)
from tinygrad_np import nn
from tinygrad_np.nn import functional as F

MODULES = ("collections", "itertools", "functools", "json", "re", "string", "textwrap",
           "argparse", "pathlib", "typing", "dataclasses", "unittest", "logging",
           "subprocess", "statistics", "random", "decimal", "fractions", "heapq", "bisect",
           "shutil", "tempfile", "csv", "difflib", "inspect", "pydoc", "threading", "queue",
           "datetime", "calendar", "email.message", "http.client", "urllib.parse", "zipfile",
           "tarfile", "configparser", "optparse", "pickle", "copy", "pprint", "enum",
           "contextlib", "abc", "io", "os", "ftplib", "smtplib", "imaplib", "socket",
           "selectors", "asyncio.events", "asyncio.tasks", "concurrent.futures._base",
           "multiprocessing.pool", "sqlite3", "xml.dom.minidom", "wave", "gettext", "locale",
           "trace", "timeit", "doctest", "ast", "dis", "tokenize", "codecs")
TEMPERATURES = (0.5, 0.8, 1.0)
PROMPT = "The "
LN2 = math.log(2)


def build_parser() -> ExampleParser:
    """The command line: every option, its check and its default."""
    parser = ExampleParser(
        __file__, "Train a character-level language model on Python's own documentation and "
        "compare its bits per character with a bigram baseline.")
    parser.add_argument("--model", choices=("gru", "lstm", "transformer"), default="gru",
                        help="the network that reads the characters")
    parser.add_argument("--out", type=Path, default=Path("runs/char_lm"),
                        help="folder for the pictures (created if missing)")
    parser.add_argument("--steps", type=positive_int, default=None,
                        help="training steps (default: 900 for gru/lstm, 1500 for transformer)")
    parser.add_argument("--lr", type=positive_float, default=None,
                        help="Adam learning rate (default: 3e-3, transformer 2e-3)")
    parser.add_argument("--batch-size", type=positive_int, default=32, help="windows per step")
    parser.add_argument("--length", type=positive_int, default=64,
                        help="characters per training window")
    parser.add_argument("--seed", type=seed_int, default=0,
                        help="seeds the initial weights, the windows and the samples")
    add_compile_option(parser)
    parser.add_argument("--quick", action="store_true",
                        help="a short run (25 steps of 32-character windows, a small text) for "
                        "tests and smoke checks")
    return parser


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The checked options; --out exists and is writable (else a one-line error, exit 2)."""
    return build_parser().parse_args(argv)


# ------------------------------------------------------------------ the text
def zen_of_python() -> str:
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        importlib.import_module("this")
    return printed.getvalue()


def docstrings(module_name: str) -> list[str]:
    """The module's docstring and those of its public classes, functions and methods."""
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return []
    found = [inspect.getdoc(module) or ""]
    for name, obj in sorted(vars(module).items()):
        if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
            continue
        if inspect.isclass(obj) or inspect.isfunction(obj):
            found.append(inspect.getdoc(obj) or "")
        if inspect.isclass(obj):
            for member_name, member in sorted(vars(obj).items()):
                if not member_name.startswith("_") and inspect.isfunction(member):
                    found.append(inspect.getdoc(member) or "")
    return found


def corpus(quick: bool) -> str:
    """The Zen of Python and the docstrings, printable ASCII and newlines only."""
    parts = [zen_of_python()]
    with warnings.catch_warnings():  # reading a deprecated alias (typing.re) warns
        warnings.simplefilter("ignore", DeprecationWarning)
        for name in MODULES[:12] if quick else MODULES:
            parts += docstrings(name)
    text = "\n\n".join(p.strip() for p in parts if p.strip())
    return "".join(c for c in text if c == "\n" or " " <= c <= "~")


# ------------------------------------------------------------------ the models
class RecurrentLM(nn.Module):
    """Embedding -> GRU or LSTM -> Linear: logits of the next character at every step."""

    def __init__(self, vocab: int, cell: str, embed: int = 64, hidden: int = 256) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        self.rnn = (nn.GRU if cell == "gru" else nn.LSTM)(embed, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, idx: np.ndarray, state: object = None) -> tuple[tg.Tensor, object]:
        out, state = self.rnn(self.embed(idx), state)
        return self.head(out), state


class TransformerLM(nn.Module):
    """Token + position embeddings -> causal pre-norm encoder layers -> LayerNorm -> Linear."""

    def __init__(self, vocab: int, context: int, d_model: int = 64, heads: int = 4,
                 layers: int = 2, ff: int = 256) -> None:
        super().__init__()
        self.context = context
        self.embed = nn.Embedding(vocab, d_model)
        self.position = nn.Embedding(context, d_model)
        self.layers = nn.ModuleList([
            nn.TransformerEncoderLayer(d_model, heads, ff, dropout=0.0, batch_first=True,
                                       norm_first=True) for _ in range(layers)])
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab)

    def forward(self, idx: np.ndarray, state: object = None) -> tuple[tg.Tensor, object]:
        x = self.embed(idx) + self.position(np.arange(idx.shape[1]))
        mask = ~np.tri(idx.shape[1], dtype=bool)  # True = may not attend (a later position)
        for layer in self.layers:
            x = layer(x, src_mask=mask, is_causal=True)
        return self.head(self.norm(x)), None

    def attention(self, idx: np.ndarray) -> np.ndarray:
        """The first layer's attention weights per head, (heads, L, L), for one window."""
        with tg.no_grad():
            x = self.embed(idx[None]) + self.position(np.arange(len(idx)))
            first = self.layers[0]
            h = first.norm1(x)
            mask = ~np.tri(len(idx), dtype=bool)
            _, weights = first.self_attn(h, h, h, attn_mask=mask, need_weights=True,
                                         average_attn_weights=False)
        return weights.data[0]


def build_model(kind: str, vocab: int, context: int) -> nn.Module:
    return TransformerLM(vocab, context) if kind == "transformer" else RecurrentLM(vocab, kind)


# ------------------------------------------------------------------ scores
def bigram_bits(train: np.ndarray, valid: np.ndarray, vocab: int) -> float:
    """Validation bits per character of add-one smoothed bigram counts from the training text."""
    counts = np.ones((vocab, vocab))
    np.add.at(counts, (train[:-1], train[1:]), 1)
    probs = counts / counts.sum(axis=1, keepdims=True)
    return float(-np.log2(probs[valid[:-1], valid[1:]]).mean())


def windows(data: np.ndarray, length: int) -> np.ndarray:
    """Non-overlapping windows of length + 1 characters (input and next-character target)."""
    count = (len(data) - 1) // length
    starts = np.arange(count) * length
    return data[starts[:, None] + np.arange(length + 1)]


def evaluate_bits(model: nn.Module, valid: np.ndarray, length: int, batch: int = 64) -> float:
    """Mean bits per character over every position of the validation windows."""
    chunks = windows(valid, length)
    total, count = 0.0, 0
    with tg.no_grad():
        for i in range(0, len(chunks), batch):
            rows = chunks[i:i + batch]
            logits, _ = model(rows[:, :-1])
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), rows[:, 1:].ravel(),
                                   reduction="sum")
            total, count = total + loss.item(), count + rows[:, 1:].size
    return total / count / LN2


def sample(model: nn.Module, kind: str, stoi: dict, itos: str, temperature: float,
           length: int, rng: np.random.Generator, context: int) -> str:
    """PROMPT continued one character at a time, drawn from softmax(logits / temperature)."""
    idx = [stoi[c] for c in PROMPT]
    with tg.no_grad():
        logits, state = model(np.array([idx]))
        for _ in range(length):
            last = logits.data[0, -1].astype(np.float64) / temperature
            p = np.exp(last - last.max())
            nxt = int(rng.choice(len(p), p=p / p.sum()))
            idx.append(nxt)
            if kind == "transformer":
                logits, _ = model(np.array([idx[-context:]]))
            else:
                logits, state = model(np.array([[nxt]]), state)
    return "".join(itos[i] for i in idx)


# ------------------------------------------------------------------ pictures
def plot_curves(history: dict, bigram: float, kind: str, path: Path) -> None:
    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    ax.plot(history["step"], history["train_bits"], label="training (running mean)", alpha=0.8)
    ax.plot(history["eval_step"], history["valid_bits"], "o-", label="validation")
    ax.axhline(bigram, color="grey", ls="--", lw=1, label=f"bigram baseline {bigram:.2f}")
    ax.set(xlabel="step", ylabel="bits per character",
           title=f"Character-level {kind.upper() if kind != 'transformer' else 'Transformer'}")
    ax.set_ylim(top=min(ax.get_ylim()[1], bigram + 2.5))
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def plot_attention(weights: np.ndarray, text: str, path: Path) -> None:
    heads = len(weights)
    fig = Figure(figsize=(3.6 * heads, 4.2), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, heads))
    labels = [c if c not in " \n" else ("_" if c == " " else "/") for c in text]
    for h, ax in enumerate(axes):
        ax.imshow(weights[h], cmap="viridis", vmin=0, vmax=1)
        ax.set_xticks(range(len(labels)), labels, fontsize=6, family="monospace")
        ax.set_yticks(range(len(labels)), labels, fontsize=6, family="monospace")
        ax.set(title=f"head {h}", xlabel="attends to (key)", ylabel="query")
    fig.suptitle(f"First layer's attention on {text!r} (space _, newline /)")
    fig.savefig(path, dpi=100)


# ------------------------------------------------------------------ training
def main(argv: list[str] | None = None) -> dict:
    """Train, report and draw; returns the final metrics."""
    args = parse_args(argv)
    # NOTE: the matrices are small (32 x 256 per step of the GRU): BLAS threads only add
    # hand-over costs. One thread took the --quick GRU run from 207 s to 23 s of wall time
    # (75 s to 8 s of CPU time) on a busy 2-core machine.
    with threadpool_limits(limits=1, user_api="blas"):
        return run(args)


def run(args: argparse.Namespace) -> dict:
    """Train, report and draw; returns the final metrics."""
    default_steps = 1500 if args.model == "transformer" else 900
    steps = 25 if args.quick else (args.steps or default_steps)
    length = 32 if args.quick else args.length
    lr = args.lr or (2e-3 if args.model == "transformer" else 3e-3)
    start = time.perf_counter()

    text = corpus(args.quick)
    itos = "".join(sorted(set(text)))
    stoi = {c: i for i, c in enumerate(itos)}
    data = np.array([stoi[c] for c in text], dtype=np.int64)
    split = int(0.9 * len(data))
    train, valid = data[:split], data[split:split + 3000 if args.quick else None]
    vocab = len(itos)
    bigram = bigram_bits(train, valid, vocab)
    print(f"{len(text):,} characters ({vocab} distinct): {len(train):,} training, "
          f"{len(valid):,} validation; bigram baseline {bigram:.3f} bits/char "
          f"(uniform {math.log2(vocab):.3f})")

    tg.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    model = build_model(args.model, vocab, length)
    print(model)
    optimizer = tg.optim.Adam(model.parameters(), lr=lr)
    schedule = tg.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps, eta_min=lr / 10)
    history: dict[str, list] = {"step": [], "train_bits": [], "eval_step": [], "valid_bits": []}
    evals = steps if args.quick else max(1, steps // 6)  # steps between validations
    running = None

    def train_step(rows: np.ndarray) -> float:
        """One Adam step on a batch of windows (inputs rows[:, :-1], targets shifted by 1)."""
        optimizer.zero_grad()
        logits, _ = model(rows[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, vocab), rows[:, 1:].ravel())
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        return loss.item()

    run_step = tg.compile(train_step) if args.compile else train_step
    for step in range(1, steps + 1):
        starts = rng.integers(0, len(train) - length - 1, size=args.batch_size)
        rows = train[starts[:, None] + np.arange(length + 1)]
        bits = run_step(rows) / LN2
        schedule.step()
        running = bits if running is None else 0.95 * running + 0.05 * bits
        history["step"].append(step)
        history["train_bits"].append(running)
        if step % evals == 0 or step == steps:
            history["eval_step"].append(step)
            history["valid_bits"].append(evaluate_bits(model, valid, length))
            print(f"step {step:5d}/{steps}  training {running:.3f}  validation "
                  f"{history['valid_bits'][-1]:.3f} bits/char", flush=True)
    valid_bits = history["valid_bits"][-1]
    train_seconds = time.perf_counter() - start
    print(f"validation {valid_bits:.3f} bits/char, bigram {bigram:.3f} "
          f"({bigram - valid_bits:+.3f} better) after {steps} steps, {train_seconds:.0f} s"
          f"{compile_report(run_step)}")

    samples = {}
    for t in TEMPERATURES:
        samples[t] = sample(model, args.model, stoi, itos, t, 60 if args.quick else 240,
                            np.random.default_rng(args.seed), length)
        print(f"\n--- temperature {t}:\n{samples[t]}")

    files = [args.out / f"char_lm_{args.model}_loss.png"]
    plot_curves(history, bigram, args.model, files[0])
    if args.model == "transformer":
        snippet = text[split:split + 24]
        files.append(args.out / "char_lm_transformer_attention.png")
        plot_attention(model.attention(np.array([stoi[c] for c in snippet])), snippet, files[1])
    print("\npictures: " + ", ".join(str(f) for f in files))
    print(f"total {time.perf_counter() - start:.0f} s")
    return {"valid_bits": valid_bits, "bigram_bits": bigram, "uniform_bits": math.log2(vocab),
            "samples": samples, "history": history, "seconds": train_seconds,
            "files": [str(f) for f in files]}


if __name__ == "__main__":
    main()
