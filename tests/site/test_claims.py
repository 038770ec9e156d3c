"""The claims ledger (claims/<page>.toml): every sentence of a page that states a measured or causal result is
listed with its evidence — a figure whose check asserts it, a snippet that asserts it, or a paper with the section,
figure or table — or, for a page about a tool, a test (``test:tests/…/test_x.py::test_name``) that runs the page's
example and asserts its output. The test fails when a page has no ledger, an anchor is no longer on its page, or
its evidence is gone.

One file per page pair, e.g. claims/activations.toml:

    [[claim]]
    ko = "시그모이드 네트워크는 이득이 약 10일 때 임계점에 이릅니다"    # a phrase that is on docs/activations.md
    en = "a gain of about 10 makes a sigmoid network critical"      # ... and on docs/activations.en.md
    evidence = ["figure:sigmoid_gain", "cite:Pennington et al. 2017, §4"]
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
LEDGER = ROOT / "claims"
# Pages that state no results of their own: the reference list and the glossary.
NO_CLAIMS = {"references", "glossary"}
PAGES = sorted(p.stem for p in DOCS.glob("*.md") if not p.name.endswith(".en.md") and p.stem not in NO_CLAIMS)
CITATION = re.compile(
    r"(§|\bsec(tion)?\.?\s|\bfig(ure)?\.?\s|\btable\s|\beq(uation)?\.?\s|\balg(orithm)?\.?\s|\bp\.\s)", re.IGNORECASE
)


def normalise(text: str) -> str:
    """Page text for anchor matching: Markdown emphasis and line breaks do not matter."""
    text = re.sub(r"[*_`]", "", text)
    return re.sub(r"\s+", " ", text)


def ledger(page: str) -> list[dict]:
    path = LEDGER / f"{page}.toml"
    return tomllib.loads(path.read_text(encoding="utf-8")).get("claim", []) if path.is_file() else []


def asserts_something(path: Path, function: str | None = None) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    if function is not None:
        found = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == function]
        if not found:
            return False
        tree = found[0]
    return any(isinstance(n, ast.Assert) for n in ast.walk(tree))


@pytest.mark.parametrize("page", PAGES)
def test_every_page_has_a_ledger(page):
    assert (LEDGER / f"{page}.toml").is_file(), f"claims/{page}.toml is missing"
    assert ledger(page), f"claims/{page}.toml lists no claim"


@pytest.mark.parametrize("page", PAGES)
def test_every_anchor_is_on_its_page_in_both_languages(page):
    texts = {
        "ko": normalise((DOCS / f"{page}.md").read_text(encoding="utf-8")),
        "en": normalise((DOCS / f"{page}.en.md").read_text(encoding="utf-8")),
    }
    missing = []
    for number, claim in enumerate(ledger(page), 1):
        for lang in ("ko", "en"):
            anchor = claim.get(lang)
            if not anchor:
                missing.append(f"claim {number}: no {lang} anchor")
            elif normalise(anchor) not in texts[lang]:
                missing.append(f"claim {number}: {lang} anchor not on the page: {anchor!r}")
    assert missing == []


@pytest.mark.parametrize("page", PAGES)
def test_every_claim_has_evidence_that_exists(page):
    references = normalise((DOCS / "references.md").read_text(encoding="utf-8"))
    problems = []
    for number, claim in enumerate(ledger(page), 1):
        evidence = claim.get("evidence")
        evidence = [evidence] if isinstance(evidence, str) else list(evidence or [])
        if not evidence:
            problems.append(f"claim {number} ({claim.get('en', '')!r}): no evidence")
        for item in evidence:
            kind, _, what = item.partition(":")
            what = what.strip()
            if kind == "figure":
                path = ROOT / "figures" / f"{what}.py"
                if not path.is_file() or not asserts_something(path, "check"):
                    problems.append(f"claim {number}: figure {what!r} has no check() that asserts")
            elif kind == "snippet":
                path = ROOT / what
                if not (path.is_file() and path.is_relative_to(ROOT / "docs_src") and asserts_something(path)):
                    problems.append(f"claim {number}: snippet {what!r} is not a docs_src file that asserts")
            elif kind == "test":
                file, _, name = what.partition("::")
                path = ROOT / file
                if not (path.is_file() and path.is_relative_to(ROOT / "tests") and asserts_something(path, name)):
                    problems.append(f"claim {number}: test {what!r} is not a test function that asserts")
            elif kind == "cite":
                author = what.split()[0].rstrip(",") if what else ""
                if not re.search(r"\b(19|20)\d\d\b", what) or not CITATION.search(what):
                    problems.append(f"claim {number}: citation {what!r} needs a year and a section/figure/table")
                elif author and author not in references:
                    problems.append(f"claim {number}: {author!r} is not on the references page")
            else:
                problems.append(f"claim {number}: unknown evidence kind {kind!r} (figure:, snippet:, test:, cite:)")
    assert problems == []
