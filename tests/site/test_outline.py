"""Every line of the student's outline is covered on the Korean page and on its English twin, at the same heading."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from support import ROOT

OUTLINE = ROOT / "tests" / "data" / "outline.ko.txt"
DOCS = ROOT / "docs"
NOT_CONTENT = {"In [None]:", '"""'}


@dataclass(frozen=True)
class Covered:
    """Where one outline line is explained: page, the heading in each language, and a phrase in each section."""

    line: str
    page: str
    ko_heading: str
    ko_phrase: str
    en_heading: str
    en_phrase: str


def _section(page: str, ko: str, en: str, *entries: tuple[str, str, str]) -> list[Covered]:
    return [Covered(line, page, ko, ko_phrase, en, en_phrase) for line, ko_phrase, en_phrase in entries]


VE, ACT, INIT, BN, BN_LIMITS, LN = (
    "vanishing-exploding",
    "activations",
    "initialization",
    "batch-normalization",
    "batch-normalization-limits",
    "layer-normalization",
)
XAVIER_FORMS = ("세이비어 초기화의 두 형태", "The two forms of Xavier initialization")
HE_FORMS = ("He 초기화의 두 형태", "The two forms of He initialization")
UNIFORM = ('=== "균등분포"', '=== "Uniform"')
NORMAL = ('=== "정규분포"', '=== "Normal"')

# In the outline's order. The phrases are taken from the explanation where there is one, not only from the quote.
COVERAGE: list[Covered] = [
    *_section(
        "index",
        "gradnotes: 기울기 소실과 폭주 문제 해결",
        "gradnotes: troubleshooting vanishing and exploding gradients",
        ("■ DeepLearning TroubleShooting", "문제 해결", "troubleshoot"),
    ),
    *_section(
        VE,
        "개념",
        "Definitions",
        (
            "● 기울기 소실(Gradient Vanishing), 폭주(Exploding)",
            "**기울기 소실(vanishing gradient)**",
            "A gradient **vanishes**",
        ),
        ("1. 기울기 소실, 폭주 개념", "같은 원인의 두 얼굴", "two faces of one mechanism"),
        (
            "1) 기울기 소실 : 역전파 과정에서 입력층으로 갈수록 기울기(Gradient)가 너무 소실되어 가중치 소실",
            "사라지는 것은 가중치가 아니라 가중치의 **갱신량**",
            "what actually vanishes is their **update**",
        ),
        (
            "2) 폭주 : 역전파 과정에서 입력층으로 갈수록 기울기(Gradient)가 너무 증가되어 가중치 발산",
            '노트가 말한 "가중치 발산"',
            'the outline\'s "the weights diverge"',
        ),
    ),
    *_section(
        VE,
        "해결 방안 한눈에",
        "The remedies at a glance",
        (
            "2. 기울기 소실, 폭주 해결방안",
            "곱의 인수 $\\sigma_w|\\varphi'|$를 1 근처로",
            "keeps the factor $\\sigma_w|\\varphi'|$ close to 1",
        ),
    ),
    *_section(
        ACT,
        "개요의 주장",
        "What the outline says",
        (
            "1) ReLU or Leaky ReLU in 은닉층",
            "ReLU나 리키 ReLU를 쓰라는 것",
            "use ReLU or Leaky ReLU in the hidden layers",
        ),
        ("1] 특징", "1] 특징", "1] Properties"),
    ),
    *_section(
        ACT,
        "시그모이드와 tanh: 포화",
        "Sigmoid and tanh: saturation",
        (
            "- Sigmoid 함수 or 하이퍼볼릭 탄젠트 함수 in 은닉층",
            "tanh는 $-1$과 $1$에 다가갑니다",
            "tanh tends to $-1$ and $1$",
        ),
        (
            "입력의 절대값이 크면 시그모이드 함수 출력값이 0 or 1 수렴",
            "입력의 절댓값이 크면 출력이 0 또는 1로 수렴합니다",
            "the output converges to 0 or 1",
        ),
        (">> 기울기가 0에 가까워짐", "**기울기가 0에 가까워집니다.**", "**The gradient gets close to 0.**"),
        (
            ">> 역전파 과정에서 전파시킬 기울기 소실",
            "역전파 과정에서 전파할 기울기가 사라지고",
            "The gradient to backpropagate vanishes",
        ),
        (
            ">> 입력층 방향으로 갈수록 역전파 성능 감소",
            "입력층 쪽으로 갈수록 역전파가 약해집니다",
            "backpropagation weakens toward the input layer",
        ),
    ),
    *_section(
        ACT,
        "ReLU: 포화는 없지만 죽은 ReLU가 생깁니다",
        "ReLU: no saturation, but dead units",
        ("- ReLU 함수 in 은닉층", "양수 쪽에서는 포화가 없습니다", "no saturation on the positive side"),
        ("입력의 값이 0 이하면 ReLU 함수 출력값이 0 수렴", "정확히 0이고", "the output is exactly 0"),
        (">> 기울기가 0이 됨", "**기울기도 정확히 0**", "**so is the gradient**"),
        (
            ">> 역전파 과정에서 전파시킬 기울기 없어짐",
            "어떤 샘플로도 기울기가 전달되지 않으므로",
            "No sample sends any gradient to its weights",
        ),
        (
            ">> 입력층 방향으로 갈수록 역전파 성능 없어짐",
            "그 아래 모든 층의 기울기가 0이 됩니다",
            "every layer below it receives a zero gradient",
        ),
        (">> 죽은 ReLU", "**죽은 ReLU(dead ReLU)**", "This is a **dead ReLU**"),
    ),
    *_section(
        ACT,
        "리키 ReLU",
        "Leaky ReLU",
        ("- Leaky ReLU 함수 in 은닉층", "음수 쪽에 작은 기울기 $a$", "gives the negative side a small slope $a$"),
        (
            "입력의 값과 상관없이 Leaky ReLU 출력값이 0 수렴x",
            "**도함수가 결코 0이 되지 않는다**",
            "**the derivative never becomes 0**",
        ),
    ),
    *_section(
        INIT,
        "분산을 보존한다는 생각",
        "The idea: preserve the variance",
        (
            "2) 가중치 초기화(Weight initialization)",
            "**분산이 변하지 않도록**",
            "**variance of the signal does not change**",
        ),
    ),
    *_section(
        INIT,
        "세이비어 초기화",
        "Xavier initialization",
        (
            "(1) 세이비어 초기화(Xavier initialization) = 글로럿 초기화(Glorot initialization)",
            "글로럿 초기화(Glorot initialization)라고도",
            "also called Glorot initialization",
        ),
        ("1] 특징", "1] 특징", "1] Properties"),
        (
            "- 여러 층 기울기 분산 사이의 균형 조절",
            "역전파의 기울기 분산을 함께 보존",
            "the variance of the gradients in the backward pass",
        ),
    ),
    *_section(
        INIT,
        "S자 형태 함수와 세이비어: tanh는 맞고 시그모이드는 틀립니다",
        "Xavier with S-shaped functions: right for tanh, wrong for the sigmoid",
        (
            "- S자 형태 함수(시그모이드 함수, 하이퍼볼릭 탄젠트 함수)에 높은 성능",
            "**시그모이드 + 세이비어**는",
            "**sigmoid + Xavier** still shrinks the gradient",
        ),
    ),
    *_section(
        INIT,
        "ReLU와 세이비어: 층마다 절반",
        "Xavier with ReLU: halved at every layer",
        ("- ReLU 형태 함수(ReLU, Leaky ReLU)에 낮은 성능", "제곱 평균이 층마다 절반이 됩니다", "halves at every layer"),
    ),
    *_section(
        INIT,
        *XAVIER_FORMS,
        ("2] 종류", "2] 종류", "2] Variants"),
        ("- 균등분포 초기화", *UNIFORM),
        (
            "W ~ Uniform(-{6/(n_in + n_out)}^(1/2), +{6/(n_in + n_out)}^(1/2))",
            "\\sqrt{\\frac{6}{n_\\text{in}+n_\\text{out}}}",
            "\\sqrt{\\frac{6}{n_\\text{in}+n_\\text{out}}}",
        ),
        (
            "- n_in : 이전층의 뉴런 개수",
            "$n_\\text{in}$은 이전 층의 뉴런 개수(fan-in)",
            "number of neurons of the previous layer (fan-in)",
        ),
        (
            "- n_out : 다음층의 뉴런 개수",
            "$n_\\text{out}$은 다음 층의 뉴런 개수(fan-out)",
            "the number of the next layer (fan-out)",
        ),
        ("- 정규분포 초기화", *NORMAL),
        (
            "W ~ σ(표준편차) = {2/(n_in + n_out)}^(1/2)",
            "\\sigma = \\sqrt{\\frac{2}{n_\\text{in}+n_\\text{out}}}",
            "\\sigma = \\sqrt{\\frac{2}{n_\\text{in}+n_\\text{out}}}",
        ),
    ),
    *_section(
        INIT,
        "He 초기화",
        "He initialization",
        (
            "(2) He 초기화(He initialization)",
            "카이밍 초기화(Kaiming initialization)",
            "also called Kaiming initialization",
        ),
        ("1] 특징", "1] 특징", "1] Properties"),
        ("- 여러 층 기울기 분산 사이의 균형 조절", "세이비어 초기화와 목표는 같지만", "Its goal is Xavier's"),
    ),
    *_section(
        INIT,
        "ReLU와 세이비어: 층마다 절반",
        "Xavier with ReLU: halved at every layer",
        (
            "- ReLU 형태 함수(ReLU, Leaky ReLU)에 높은 성능",
            "He 초기화는 이 절반을 정확히 보상합니다",
            "He initialization compensates that half",
        ),
    ),
    *_section(
        INIT,
        "He와 S자 형태 함수",
        "He with S-shaped functions",
        (
            "- S자 형태 함수(시그모이드 함수, 하이퍼볼릭 탄젠트 함수)에 낮은 성능",
            '"He 초기화는 S자 형태 함수에 낮은 성능"',
            '"He performs poorly with S-shaped functions"',
        ),
    ),
    *_section(
        INIT,
        *HE_FORMS,
        ("2] 종류", "2] 종류", "2] Variants"),
        ("- 균등분포 초기화", *UNIFORM),
        (
            "W ~ Uniform(-(6/n_in)^(1/2), +(-6/n_in)^(1/2))",
            "올바른 경계는 $\\pm\\sqrt{6/n_\\text{in}}$",
            "The correct bounds are $\\pm\\sqrt{6/n_\\text{in}}$",
        ),
        ("- 정규분포 초기화", *NORMAL),
        (
            "W ~ σ(표준편차) = (2/n_in)^(1/2)",
            "\\sigma = \\sqrt{\\frac{2}{n_\\text{in}}}",
            "\\sigma = \\sqrt{\\frac{2}{n_\\text{in}}}",
        ),
    ),
    *_section(
        BN,
        "공변량 변화와 내부 공변량 변화",
        "Covariate shift and internal covariate shift",
        (
            "3) 배치 정규화(Batch Normalization)",
            "배치 정규화는 이 변화를 줄이려는 동기",
            "Batch normalization was proposed to reduce",
        ),
        (
            "(1) 내부 공변량 변화(Internal Covariate Shift)",
            "**내부 공변량 변화(internal covariate shift, ICS)**",
            "**Internal covariate shift (ICS)**",
        ),
        ("1] 특징", "1] 특징", "1] Properties"),
        (
            "- 공변량 변화 : 훈련 데이터의 분포와 테스트 데이터의 분포가 다른 경우",
            "입력 분포가 훈련할 때와 테스트할 때 다른",
            "input distribution between training and test",
        ),
        (
            "- 내부 공변량 변화 : 신경망 층 사이에서 발생하는 입력 데이터 분포 변화",
            "층 $\\ell$이 보는 입력의 분포가 바뀝니다",
            "changes the distribution that layer $\\ell$ sees",
        ),
    ),
    *_section(
        BN,
        "알고리즘",
        "The algorithm",
        (
            "(2) 배치 정규화(Batch Normalization)",
            "Ioffe & Szegedy 2015, 알고리즘 1",
            "Ioffe & Szegedy 2015, Algorithm 1",
        ),
        ("1] 특징", "1] 특징", "1] Properties"),
        (
            "- 활성화 함수 통과 전, 배치 단위 정규화",
            "선형 변환과 활성화 함수 **사이**",
            "**between** the linear map and the activation",
        ),
    ),
    *_section(
        BN,
        "시그모이드와 tanh의 기울기 소실",
        "Vanishing gradients with sigmoid and tanh",
        (
            "- 시그모이드 함수, 하이퍼볼릭탄젠트 함수 기울기 소실문제 크게 개선",
            "포화 영역으로 밀려나지 않습니다",
            "do not drift into saturation",
        ),
    ),
    *_section(
        BN,
        "초기화에 덜 민감함",
        "Less sensitive to initialization",
        (
            "- 가중치 초기화에 훨씬 덜 민감해짐",
            "가중치 전체의 크기와 무관합니다",
            "does not depend on the overall scale of its weights",
        ),
    ),
    *_section(
        BN,
        "더 큰 학습률",
        "Larger learning rates",
        (
            "- 훨씬 큰 학습률 사용 가능하여 학습 속도 개선",
            "더 큰 학습률을 허용해 학습을 빠르게",
            "allows larger learning rates and hence faster",
        ),
    ),
    *_section(
        BN,
        "규제 효과와 드롭아웃",
        "The regularizing effect and dropout",
        (
            "- 미니배치마다 평균, 표준편차 계산으로 훈련데이터에 노이즈 넣는 과적합 방지 효과",
            "**Ioffe와 Szegedy의 주장**",
            "**Ioffe and Szegedy's claim**",
        ),
        (
            "but 부수적 효과이기 때문에 드롭아웃과 함께 사용하는 것이 좋음",
            "마지막 배치 정규화 **뒤에**",
            "**after** the last BN layer",
        ),
    ),
    *_section(
        BN,
        "알고리즘",
        "The algorithm",
        ("입력", "미니배치 $\\mathcal B = \\{a_1,\\dots,a_m\\}$", "For a mini-batch $\\mathcal B"),
        (">> 입력에 대한 평균 0으로 만듦, 정규화", "평균을 빼서 평균 0으로 만들고", "subtract the mean to center"),
        (">> 정규화된 데이터에 대한 스케일, 시프트 수행", "다시 늘이고 옮깁니다", "stretch and move again"),
        (
            "이때, 두 개의 매개변수 γ(스케일을 위한 매개변수)와 β(시프트를 위한 매개변수) 사용",
            "**스케일 매개변수 γ**와 **시프트 매개변수 β**",
            "**scale γ** and **shift β**",
        ),
        (">> 활성화 함수로 가자", "h = \\varphi(\\operatorname{BN}(Wu))", "h = \\varphi(\\operatorname{BN}(Wu))"),
    ),
    *_section(BN, "한계", "Limits", ("2] 한계", "2] 한계", "2] Limits")),
    *_section(
        BN_LIMITS,
        "미니배치 크기에 의존",
        "Dependence on the mini-batch size",
        (
            "- 미니배치 크기에 의존",
            "미니배치가 작을수록 추정이 부정확해집니다",
            "the smaller the mini-batch, the worse the estimate",
        ),
        (
            "미니배치 : 동일한 특성 개수들을 가진 다수의 샘플들",
            "특성 개수가 같은 샘플 여러 개",
            "samples with the same number of features",
        ),
        (
            "미니배치 크기 매우 작음 : 분산 0에 가까움 >> 배치 정규화 매우 극단적 작용",
            "분산이 정확히 0이어서",
            "the variance is exactly 0",
        ),
        ("미니배치 크기 적당 : 배치 정규화 효율적", "배치 정규화가 효율적으로 작동합니다", "BN works efficiently"),
    ),
    *_section(
        BN_LIMITS,
        "RNN에 적용하기 어려움",
        "Hard to apply to RNNs",
        (
            "- RNN에 적용 어려움",
            "시점마다 따로 이동 평균을 저장해야",
            "separate running statistics for every time step",
        ),
        (
            "RNN : 각 시점(time step)마다 다른 통계치 지니기 때문에 배치 정규화 어려움",
            "은닉 상태의 통계는 시점마다 다릅니다",
            "the statistics of its hidden state differ from step to step",
        ),
    ),
    *_section(
        BN_LIMITS,
        "실행 시간",
        "Run time",
        ("- 모델 복잡화 >> 실행시간 증가", "fuse_linear_bn_eval", "fuse_linear_bn_eval"),
    ),
    *_section(
        LN,
        "개요의 마지막 줄",
        "The outline's last line",
        ("4) 층 정규화(Layer Normalization)", "개요가 적지 못한 특징들", "What the outline did not get to write down"),
        ("1] 특징", "1] 특징", "1] Properties"),
    ),
    *_section(
        LN,
        "정의",
        "Definition",
        (
            "- 활성화 함수 통과 전, 배치가 아닌 층 단위 정규화",
            "$\\mu$와 $\\sigma$는 샘플마다 하나씩",
            "one $\\mu$ and one $\\sigma$ per sample",
        ),
    ),
]


def outline_lines() -> list[str]:
    """The outline's content lines, stripped, in order (the notebook wrapper and blank lines dropped)."""
    lines = [line.strip() for line in OUTLINE.read_text(encoding="utf-8").splitlines()]
    return [line for line in lines if line and line not in NOT_CONTENT]


def sections(text: str) -> list[tuple[str, str]]:
    """(heading, section text up to the next heading of the same or a higher level), headings in fences ignored."""
    lines, found, fenced = text.splitlines(), [], False
    for i, line in enumerate(lines):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and (match := re.match(r"^(#{1,6}) (.+)$", line)):
            found.append((i, len(match.group(1)), match.group(2).strip()))
    result = []
    for k, (start, level, title) in enumerate(found):
        end = next((j for j, lvl, _ in found[k + 1 :] if lvl <= level), len(lines))
        result.append((title, "\n".join(lines[start:end])))
    return result


def test_the_mapping_covers_every_outline_line_in_order():
    assert [c.line for c in COVERAGE] == outline_lines()


@pytest.mark.parametrize("covered", COVERAGE, ids=lambda c: f"{c.page}:{c.line[:40]}")
def test_outline_line_is_explained_in_both_languages(covered):
    ko = sections((DOCS / f"{covered.page}.md").read_text(encoding="utf-8"))
    en = sections((DOCS / f"{covered.page}.en.md").read_text(encoding="utf-8"))
    ko_titles = [title for title, _ in ko]
    assert covered.ko_heading in ko_titles, f"{covered.page}.md lost the heading {covered.ko_heading!r}"
    index = ko_titles.index(covered.ko_heading)
    assert covered.ko_phrase in ko[index][1], f"{covered.page}.md § {covered.ko_heading}: no {covered.ko_phrase!r}"
    assert len(en) > index, f"{covered.page}.en.md has fewer headings than the Korean page"
    en_title, en_text = en[index]
    assert en_title == covered.en_heading, f"{covered.page}.en.md heading #{index} is {en_title!r}"
    assert covered.en_phrase in en_text, f"{covered.page}.en.md § {en_title}: no {covered.en_phrase!r}"
