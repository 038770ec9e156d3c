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
    "learning_rate": {"ko": "학습률", "en": "learning rate"},
    "batch_size": {"ko": "미니배치 크기", "en": "mini-batch size"},
    "time_step": {"ko": "시점 t", "en": "time step t"},
    "sequence_length": {"ko": "시퀀스 길이", "en": "sequence length"},
    "train_loss": {"ko": "훈련 손실", "en": "training loss"},
    "test_accuracy": {"ko": "테스트 정확도", "en": "test accuracy"},
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
    "chance_accuracy": {"ko": "무작위 추측 수준 0.1", "en": "chance level 0.1"},
    "seed_runs": {"ko": "시드별 실행", "en": "individual seeds"},
    "seed_range": {"ko": "시드 간 최소–최대", "en": "min–max over seeds"},
    "relu_mlp_30": {"ko": "30층 ReLU MLP", "en": "30-layer ReLU MLP"},
    "test_accuracy_eval": {"ko": "테스트 정확도 (평가 모드)", "en": "test accuracy (eval mode)"},
    "sigmoid_input": {"ko": "시그모이드 입력", "en": "sigmoid input"},
    "percentiles_15_50_85": {"ko": "15·50·85번째 백분위수", "en": "15th, 50th, 85th percentiles"},
    "final_train_loss": {"ko": "최종 훈련 손실", "en": "final training loss"},
    "diverged": {"ko": "발산 (NaN/inf)", "en": "diverged (NaN/inf)"},
    "distribution_view": {"ko": "입력 분포의 이동", "en": "input-distribution drift"},
    "gradient_view": {"ko": "기울기 기준 내부 공변량 변화", "en": "gradient-based internal covariate shift"},
    "drift_w1": {"ko": "학습 전 대비 분포 이동 W₁", "en": "drift from step 0, W₁"},
    "grad_change_rel": {"ko": "‖G − G′‖ / ‖G‖", "en": "‖G − G′‖ / ‖G‖"},
    "hidden_layer_n": {"ko": "은닉층 {}의 시그모이드 입력", "en": "sigmoid input of hidden layer {}"},
    "weights_of_layer_n": {"ko": "층 {}의 가중치", "en": "weights of layer {}"},
    "after_n_steps": {"ko": "{} 단계 학습 후", "en": "after {} steps"},
    "batch_dependence": {"ko": "같은 샘플, 다른 미니배치", "en": "same sample, different mini-batches"},
    "sample_spread": {"ko": "한 샘플 출력의 표준편차", "en": "std of one sample's output"},
    "bn_mean_shift": {"ko": "(μₜ − μ) / σ", "en": "(μₜ − μ) / σ"},
    "bn_std_ratio": {"ko": "σₜ / σ", "en": "σₜ / σ"},
    "bn_mean_title": {"ko": "시점별 배치 평균 (유닛마다)", "en": "batch mean per step (per unit)"},
    "bn_std_title": {"ko": "시점별 배치 표준편차 (유닛마다)", "en": "batch std per step (per unit)"},
    "ln_sigma_title": {"ko": "층 정규화의 σ (샘플·시점마다)", "en": "LayerNorm's σ (per sample, step)"},
    "one_set_of_statistics": {"ko": "모든 시점에 통계량 한 벌", "en": "one set for all steps"},
    "median_over_units": {"ko": "유닛 중앙값", "en": "median over units"},
    "median_over_samples": {"ko": "샘플 중앙값", "en": "median over samples"},
    "band_10_90": {"ko": "10–90번째 백분위 범위", "en": "10th–90th percentile range"},
    "ln_sigma": {"ko": "샘플별 σ (유닛 방향)", "en": "per-sample σ over units"},
    "ln_output_std": {"ko": "층 정규화 출력의 σ", "en": "σ of the LayerNorm output"},
    "grad_norm_total": {"ko": "전체 기울기 노름 ‖g‖", "en": "total gradient norm ‖g‖"},
    "spectral_radius_n": {"ko": "스펙트럼 반경 ρ = {}", "en": "spectral radius ρ = {}"},
    "before_clipping": {"ko": "클리핑 전 (clip_grad_norm_ 반환값)", "en": "before clipping (returned by clip_grad_norm_)"},
    "after_clipping": {"ko": "클리핑 후", "en": "after clipping"},
    "clip_threshold": {"ko": "임계값", "en": "threshold"},
    "exploding_title": {"ko": "기울기 폭주", "en": "exploding gradient"},
    "clipping_title": {"ko": "기울기 클리핑", "en": "gradient clipping"},
    "training": {"ko": "훈련 한 단계", "en": "one training step (forward, backward, update)"},
    "inference": {"ko": "추론 한 번", "en": "inference (forward pass)"},
    "relative_time": {"ko": "정규화 없음 대비 CPU 시간", "en": "CPU time relative to no normalization"},
    "small_mlp": {"ko": "작은 MLP", "en": "small MLP"},
    "large_mlp": {"ko": "큰 MLP", "en": "large MLP"},
    "mlp_shape": {"ko": "{}: 은닉층 {}개, 너비 {}, 배치 {}", "en": "{}: {} hidden layers, width {}, batch {}"},
    "measured_on": {"ko": "측정 (gradnotes bench-norm)", "en": "measured (gradnotes bench-norm)"},
    "cores": {"ko": "코어", "en": "logical cores"},
    "threads": {"ko": "스레드", "en": "thread(s)"},
    "iqr": {"ko": "사분위 범위", "en": "interquartile range"},
    "wall_time_ratio": {"ko": "벽시계 시간 (중앙값)", "en": "wall time (median)"},
    "bn_eval": {"ko": "배치 정규화 (평가 모드)", "en": "BatchNorm (eval mode)"},
    "bn_folded": {"ko": "배치 정규화 (접어 넣음)", "en": "BatchNorm folded"},
    "batch_axis": {"ko": "배치 축 N (샘플)", "en": "batch axis N (samples)"},
    "feature_axis": {"ko": "특성 축 C (유닛)", "en": "feature axis C (units)"},
    "time_axis": {"ko": "시간 축 T", "en": "time axis T"},
    "bn_statistics": {"ko": "배치 정규화의 평균·분산", "en": "BatchNorm's mean and variance"},
    "ln_statistics": {"ko": "층 정규화의 평균·분산", "en": "LayerNorm's mean and variance"},
    "after_bn": {"ko": "배치 정규화 출력", "en": "BatchNorm output"},
    "after_ln": {"ko": "층 정규화 출력", "en": "LayerNorm output"},
    "mean_short": {"ko": "평균 μ", "en": "mean μ"},
    "variance_short": {"ko": "분산 σ²", "en": "variance σ²"},
    "mu_symbol": {"ko": "μ", "en": "μ"},
    "sigma2_symbol": {"ko": "σ²", "en": "σ²"},
    "sequence_case": {"ko": "시퀀스 (N, C, T)", "en": "sequences (N, C, T)"},
    # --- notebooks ---
    "nb_companion_spread": {"ko": "같은 샘플 출력의 흔들림(표준편차)", "en": "spread of the same sample's output (std)"},
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
