"""Figure text in both languages: the shared glossary as data, and per-figure tables merged over it.

``t(key, lang)`` looks a key up in the glossary; a figure with its own ``LABELS`` uses ``t = translator(LABELS)``,
which looks there first. Both raise on a missing key or language. Every lookup inside ``recording()`` is noted, so
that the gallery keys each SVG on exactly the label texts it drew (editing one figure's label re-renders only it).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator, Mapping

LANGS: tuple[str, ...] = ("ko", "en")

# One Korean term per concept, as in GLOSSARY.md. No sentences: captions live in the pages.
GLOSSARY: dict[str, dict[str, str]] = {
    # generic axes
    "input": {"ko": "입력 x", "en": "input x"},
    "output": {"ko": "출력 φ(x)", "en": "output φ(x)"},
    "derivative": {"ko": "도함수 φ′(x)", "en": "derivative φ′(x)"},
    "layer": {"ko": "층 ℓ", "en": "layer ℓ"},
    "step": {"ko": "학습 단계", "en": "training step"},
    "batch_size": {"ko": "미니배치 크기", "en": "mini-batch size"},
    # quantities
    "weight_grad_norm": {"ko": "가중치 기울기 노름 ‖∂L/∂W‖", "en": "weight gradient norm ‖∂L/∂W‖"},
    "preact_grad_norm": {"ko": "역전파 기울기 노름 ‖∂L/∂a‖", "en": "back-propagated gradient norm ‖∂L/∂a‖"},
    "act_mean_square": {"ko": "활성값 크기 E[h²]", "en": "activation scale E[h²]"},
    "saturated_fraction": {"ko": "포화 비율", "en": "saturated fraction"},
    "dead_unit_fraction": {"ko": "죽은 유닛 비율", "en": "dead-unit fraction"},
    # activations
    "sigmoid": {"ko": "시그모이드", "en": "sigmoid"},
    "tanh": {"ko": "tanh", "en": "tanh"},
    "relu": {"ko": "ReLU", "en": "ReLU"},
    "leaky_relu": {"ko": "리키 ReLU", "en": "Leaky ReLU"},
    "elu": {"ko": "ELU", "en": "ELU"},
    "gelu": {"ko": "GELU", "en": "GELU"},
    "silu": {"ko": "SiLU", "en": "SiLU"},
    # inits
    "standard_normal": {"ko": "N(0, 1)", "en": "N(0, 1)"},
    "small_normal": {"ko": "N(0, 0.01²)", "en": "N(0, 0.01²)"},
    "xavier_uniform": {"ko": "세이비어 균등분포", "en": "Xavier uniform"},
    "xavier_normal": {"ko": "세이비어 정규분포", "en": "Xavier normal"},
    "he_uniform": {"ko": "He 균등분포", "en": "He uniform"},
    "he_normal": {"ko": "He 정규분포", "en": "He normal"},
    "torch_default": {"ko": "nn.Linear 기본값", "en": "nn.Linear default"},
    "orthogonal": {"ko": "직교 초기화", "en": "orthogonal"},
    # norms
    "none": {"ko": "정규화 없음", "en": "no normalization"},
    "batchnorm": {"ko": "배치 정규화", "en": "BatchNorm"},
    "layernorm": {"ko": "층 정규화", "en": "LayerNorm"},
    "groupnorm": {"ko": "그룹 정규화", "en": "GroupNorm"},
    "instancenorm": {"ko": "인스턴스 정규화", "en": "InstanceNorm"},
    "rmsnorm": {"ko": "RMS 정규화", "en": "RMSNorm"},
    # the mean-field prediction
    "theory": {"ko": "이론(평균장)", "en": "theory (mean field)"},
    # --- engine figures (vanishing_exploding, init_*, dead_relu, saturation_histograms, bn_init_*, ...) ---
    "engine_seed_range": {"ko": "시드 {}개의 최소–최대", "en": "min–max over {} seeds"},
    # --- experiment figures (digits training, BN/LN/RNN experiments, clipping, cost, norm_axes) ---
    "chance_loss": {"ko": "무작위 추측 수준 ln 10", "en": "chance level ln 10"},
    "seed_runs": {"ko": "시드별 실행", "en": "individual seeds"},
    "seed_range": {"ko": "시드 간 최소–최대", "en": "min–max over seeds"},
    "test_accuracy_eval": {"ko": "테스트 정확도 (평가 모드)", "en": "test accuracy (eval mode)"},
    # --- notebooks ---
    "nb_companion_spread": {
        "ko": "같은 샘플 출력의 흔들림(표준편차)",
        "en": "spread of the same sample's output (std)",
    },
}


_RECORD: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar("gradnotes_labels", default=None)


@contextlib.contextmanager
def recording() -> Iterator[dict[str, str]]:
    """Collect ``{key@lang: text}`` of every label looked up inside the block."""
    used: dict[str, str] = {}
    token = _RECORD.set(used)
    try:
        yield used
    finally:
        _RECORD.reset(token)


def _lookup(tables: tuple[tuple[str, Mapping[str, Mapping[str, str]]], ...], key: str, lang: str) -> str:
    if lang not in LANGS:
        raise KeyError(f"unknown language {lang!r}; expected one of {', '.join(LANGS)}")
    for _, table in tables:
        if key in table:
            text = table[key][lang]
            break
    else:
        where = " or ".join(name for name, _ in tables)
        raise KeyError(f"no label {key!r} in {where}")
    used = _RECORD.get()
    if used is not None:
        used[f"{key}@{lang}"] = text
    return text


def t(key: str, lang: str) -> str:
    """Return the glossary label ``key`` in ``lang``; a missing key or language raises KeyError."""
    return _lookup((("the glossary", GLOSSARY),), key, lang)


def translator(local: Mapping[str, Mapping[str, str]]) -> Callable[[str, str], str]:
    """A ``t(key, lang)`` that looks in ``local`` (a figure's own ``LABELS``) first, then in the glossary.

    Every entry of ``local`` must give every language, and must not shadow a glossary term (one word per concept).
    """
    for key, entry in local.items():
        missing = [lang for lang in LANGS if not entry.get(lang)]
        if missing:
            raise KeyError(f"label {key!r} has no text for {', '.join(missing)}")
        if key in GLOSSARY:
            raise KeyError(f"label {key!r} is a glossary term: use the glossary's, do not redefine it")
    tables = (("the figure's LABELS", local), ("the glossary", GLOSSARY))

    def lookup(key: str, lang: str) -> str:
        return _lookup(tables, key, lang)

    return lookup
