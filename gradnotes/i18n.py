"""Figure text in both languages: the glossary as data. ``t(key, lang)`` raises on a missing key or language."""

from __future__ import annotations

LANGS: tuple[str, ...] = ("ko", "en")

# One Korean term per concept, as in GLOSSARY.md. No sentences: captions live in the pages.
LABELS: dict[str, dict[str, str]] = {
    # generic axes
    "input": {"ko": "입력 x", "en": "input x"},
    "output": {"ko": "출력 φ(x)", "en": "output φ(x)"},
    "derivative": {"ko": "도함수 φ′(x)", "en": "derivative φ′(x)"},
    "layer": {"ko": "층 ℓ", "en": "layer ℓ"},
    "step": {"ko": "학습 단계", "en": "training step"},
    "count": {"ko": "개수", "en": "count"},
    "density": {"ko": "밀도", "en": "density"},
    "learning_rate": {"ko": "학습률", "en": "learning rate"},
    "batch_size": {"ko": "미니배치 크기", "en": "mini-batch size"},
    "depth": {"ko": "깊이 L", "en": "depth L"},
    "time_step": {"ko": "시점 t", "en": "time step t"},
    "sequence_length": {"ko": "시퀀스 길이", "en": "sequence length"},
    "weight_value": {"ko": "가중치 값", "en": "weight value"},
    "train_loss": {"ko": "훈련 손실", "en": "training loss"},
    "test_accuracy": {"ko": "테스트 정확도", "en": "test accuracy"},
    # quantities
    "weight_grad_norm": {"ko": "가중치 기울기 노름 ‖∂L/∂W‖", "en": "weight gradient norm ‖∂L/∂W‖"},
    "preact_grad_norm": {"ko": "역전파 기울기 노름 ‖∂L/∂a‖", "en": "back-propagated gradient norm ‖∂L/∂a‖"},
    "act_mean_square": {"ko": "활성값 크기 E[h²]", "en": "activation scale E[h²]"},
    "saturated_fraction": {"ko": "포화 비율", "en": "saturated fraction"},
    "dead_unit_fraction": {"ko": "죽은 유닛 비율", "en": "dead-unit fraction"},
    "log10_ratio": {"ko": "log₁₀(1층 / 마지막 층)", "en": "log₁₀(layer 1 / last layer)"},
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
    # activation_functions figure
    "saturation_region": {"ko": "포화 구간", "en": "saturation region"},
    "sigmoid_max_slope": {"ko": "시그모이드 최대 기울기 ¼", "en": "sigmoid's maximum slope ¼"},
    "functions": {"ko": "활성화 함수", "en": "activation functions"},
    "derivatives": {"ko": "도함수", "en": "derivatives"},
    "simulation": {"ko": "시뮬레이션", "en": "simulation"},
    "theory": {"ko": "이론(평균장)", "en": "theory (mean field)"},
    "vanishing": {"ko": "기울기 소실", "en": "vanishing"},
    "exploding": {"ko": "기울기 폭주", "en": "exploding"},
    "overflow": {"ko": "오버플로(inf/NaN)", "en": "overflow (inf/NaN)"},
    # --- engine figures (vanishing_exploding, init_*, dead_relu, saturation_histograms, bn_init_*, ...) ---
    # --- experiment figures (digits training, BN/LN/RNN experiments, clipping, cost, norm_axes) ---
    # --- notebooks and diagnose ---
    "diag_grad_norm": {"ko": "가중치 기울기 노름 ‖∂L/∂W‖", "en": "weight gradient norm ‖∂L/∂W‖"},
    "diag_backprop_rms": {"ko": "역전파 기울기 RMS ‖∂L/∂y‖", "en": "back-propagated gradient RMS ‖∂L/∂y‖"},
    "diag_gradient": {"ko": "기울기", "en": "gradient"},
    "diag_grad_data_ratio": {"ko": "기울기 대 가중치 비 ‖∂L/∂W‖/‖W‖", "en": "grad:data ratio ‖∂L/∂W‖/‖W‖"},
    "diag_act_std": {"ko": "출력의 표준편차", "en": "output standard deviation"},
    "diag_unit_fraction": {"ko": "유닛 비율", "en": "fraction of units"},
    "diag_threshold": {"ko": "경고 기준", "en": "threshold"},
    "diag_layer": {"ko": "층 (순전파 순서)", "en": "layer (forward order)"},
    "diag_weight_outputs": {"ko": "가중치 층", "en": "weight layers"},
    "diag_activation_outputs": {"ko": "활성화 함수", "en": "activation functions"},
}


def t(key: str, lang: str) -> str:
    """Return the label ``key`` in ``lang``; a missing key or language is a programming error and raises KeyError."""
    if lang not in LANGS:
        raise KeyError(f"unknown language {lang!r}; expected one of {', '.join(LANGS)}")
    try:
        entry = LABELS[key]
    except KeyError:
        raise KeyError(f"no label {key!r} in gradnotes.i18n.LABELS") from None
    return entry[lang]
