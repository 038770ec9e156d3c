"""The explorer page in a real browser: keyboard changes draw exactly the engine's numbers (decoded here in Python,
independently of the page's script), the URL holds the state, each change fetches exactly the shard it needs, both
languages agree, bad addresses and missing files degrade as promised, palettes recolour without a redraw, axe is clean.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from support import ARTIFACTS
from support_site import VIEWPORT, axe_script

from gradnotes.site import explorer

SERIOUS = {"serious", "critical"}
PAGES = {"ko": "explorer/", "en": "en/explorer/"}
READY = "document.querySelector('[data-gx-root]').dataset.gxState === 'ready'"
DRAWN = """() => {
  const root = document.querySelector('[data-gx-root]');
  const codes = sel => [...root.querySelectorAll(sel)].map(p => JSON.parse(p.dataset.codes));
  return {
    key: root.dataset.gxKey, state: root.dataset.gxState,
    grad: codes('svg[data-gx-plot=grad] .gx-seed'), act: codes('svg[data-gx-plot=act] .gx-seed'),
    gradMean: codes('svg[data-gx-plot=grad] .gx-mean')[0], actMean: codes('svg[data-gx-plot=act] .gx-mean')[0],
    theory: codes('svg[data-gx-plot=grad] .gx-theory'), frac: codes('svg[data-gx-plot=frac] .gx-frac'),
    decades: root.querySelector('.gx-summary').dataset.decades,
    summary: root.querySelector('.gx-summary').textContent,
    table: [...root.querySelectorAll('.gx-table tbody tr')]
      .map(tr => [...tr.querySelectorAll('td')].map(td => td.dataset.code)),
    command: root.querySelector('.gx-command').textContent,
    notice: root.querySelector('.gx-notice').hidden ? null : root.querySelector('.gx-notice').textContent,
    error: root.querySelector('.gx-error').hidden ? null : root.querySelector('.gx-error').textContent,
    staticShown: !document.querySelector('.gx-static').hidden,
    explain: [...root.querySelectorAll('[data-gx-topic]')].filter(a => !a.hidden).map(a => a.getAttribute('href')),
  };
}"""


def state_key(state: dict) -> str:
    return "/".join(str(state[k]) for k in ("a", "i", "n", "r", "d", "w", "b"))


def expected(state: dict) -> dict:
    """What the page must draw for a state, decoded in Python from the shard the build wrote."""
    shard = explorer.load_shard(state["a"], state["n"], bool(state["r"]), state["w"])
    view = explorer.view(shard, state["i"], state["d"], state["b"])
    depth = state["d"]

    def mean(runs):
        out = []
        for layer in range(depth):
            values = [r[layer] for r in runs]
            out.append(sum(values) / len(values) if all(isinstance(v, int) for v in values) else None)
        return out

    return {
        **view,
        "grad_mean": mean(view["grad"]),
        "act_mean": mean(view["act"]),
        "decades": explorer.mean_decades(view["grad"]),
    }


def query(state: dict) -> str:
    return "?" + "&".join(f"{k}={state[k]}" for k in ("a", "i", "n", "r", "d", "w", "b"))


DEFAULT = {
    "a": explorer.DEFAULT["activation"],
    "i": explorer.DEFAULT["init"],
    "n": explorer.DEFAULT["norm"],
    "r": int(explorer.DEFAULT["residual"]),
    "d": explorer.DEFAULT["depth"],
    "w": explorer.DEFAULT["width"],
    "b": explorer.DEFAULT["batch"],
}


class Tab:
    """One tab on the explorer, recording requests, console errors and failed responses."""

    def __init__(self, context, base: str) -> None:
        self.base = base
        self.page = context.new_page()
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def open(self, lang: str = "ko", search: str = "") -> dict:
        self.page.goto(self.base + PAGES[lang] + search, wait_until="load")
        self.page.wait_for_function(READY + " || document.querySelector('[data-gx-root]').dataset.gxState === 'error'")
        return self.drawn()

    def drawn(self) -> dict:
        return self.page.evaluate(DRAWN)

    def wait_for(self, state: dict) -> dict:
        self.page.wait_for_function(
            f"document.querySelector('[data-gx-root]').dataset.gxKey === {json.dumps(state_key(state))} && " + READY
        )
        return self.drawn()

    def shard_requests(self) -> list[str]:
        return [u.rsplit("/", 1)[1] for u in self.requests if "/assets/explorer/" in u]


@pytest.fixture(scope="module")
def context(browser):
    ctx = browser.new_context(viewport=VIEWPORT, color_scheme="light", locale="ko-KR")
    yield ctx
    ctx.close()


@pytest.fixture
def tab(context, site_base):
    t = Tab(context, site_base)
    yield t
    t.page.close()


def assert_draws(drawn: dict, state: dict) -> None:
    want = expected(state)
    assert drawn["key"] == state_key(state)
    assert drawn["grad"] == want["grad"], "the seed paths are not the shard's gradient codes"
    assert drawn["act"] == want["act"]
    assert len(drawn["grad"]) == len(explorer.SEEDS)
    for got, exp in zip(drawn["gradMean"], want["grad_mean"], strict=True):
        assert (got is None and exp is None) or abs(got - exp) < 1e-9
    assert drawn["theory"] == ([want["theory_grad"]] if want["theory_grad"] is not None else [])
    assert drawn["frac"] == [want["frac"]]
    table = drawn["table"]
    assert len(table) == state["d"]
    for row, exp in zip(table, want["grad_mean"], strict=True):
        assert (row[0] == "none" and exp is None) or abs(float(row[0]) - exp) < 1e-3
    if math.isnan(want["decades"]):
        assert drawn["decades"] == "nan"
    else:
        assert abs(float(drawn["decades"]) - want["decades"]) < 1e-3
    assert drawn["command"] == (
        f"gradnotes simulate --activation {state['a']} --init {state['i']} --norm {state['n']} --depth {state['d']} "
        f"--width {state['w']} --batch {state['b']} --seeds 0,1,2,3,4" + (" --residual" if state["r"] else "")
    )


def test_the_default_view_draws_the_engine_numbers_and_fetches_one_shard(tab):
    drawn = tab.open()
    assert drawn["state"] == "ready", drawn
    assert_draws(drawn, DEFAULT)
    assert not drawn["staticShown"]
    assert tab.shard_requests() == ["index.json", "sigmoid-none-0-w256.json"]
    assert all(u.startswith("http://127.0.0.1:") for u in tab.requests), [
        u for u in tab.requests if "127.0.0.1" not in u
    ]
    assert not tab.errors, tab.errors
    # the summary says it in words, with the number of decades as a power of ten
    sup = tab.page.text_content(".gx-summary sup")
    assert sup == f"{expected(DEFAULT)['decades']:.1f}".replace("-", "\u2212"), sup


def test_every_control_changes_the_view_by_keyboard(tab):
    tab.open()
    page, state = tab.page, dict(DEFAULT)
    steps = [
        ("select[name=a]", "ArrowDown", {"a": explorer.ACTIVATIONS[1]}),
        ("select[name=i]", "ArrowDown", {"i": explorer.INITS[1]}),
        ("input[name=d]", "ArrowRight", {"d": explorer.DEPTHS[explorer.DEPTHS.index(30) + 1]}),
        ("input[name=r]", " ", {"r": 1}),
        ("input[name=n][value=none]", "ArrowRight", {"n": "batchnorm"}),
        ("select[name=b]", "ArrowUp", {"b": explorer.BATCHES["batchnorm"][-2]}),
        ("input[name=w][value='256']", "ArrowLeft", {"w": 64}),
    ]
    for selector, key, change in steps:
        before = len(tab.shard_requests())
        page.focus(selector)
        page.keyboard.press(key)
        new = {**state, **change}
        drawn = tab.wait_for(new)
        assert_draws(drawn, new)
        fetched = tab.shard_requests()[before:]
        shard_changed = any(k in change for k in ("a", "n", "r", "w"))
        name = f"{new['a']}-{new['n']}-{new['r']}-w{new['w']}.json"
        assert fetched == ([name] if shard_changed else []), (change, fetched)
        params = {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}
        assert params == {k: str(v) for k, v in new.items()}
        state = new
    depth = page.locator("input[name=d]")
    assert depth.get_attribute("aria-valuetext").startswith(str(state["d"]))
    assert not tab.errors, tab.errors


def test_returning_to_a_loaded_shard_fetches_nothing_and_back_restores_the_view(tab):
    tab.open()
    page = tab.page
    page.select_option("select[name=a]", "relu")
    relu = {**DEFAULT, "a": "relu"}
    tab.wait_for(relu)
    count = len(tab.shard_requests())
    page.go_back()
    drawn = tab.wait_for(DEFAULT)
    assert_draws(drawn, DEFAULT)
    assert len(tab.shard_requests()) == count, "going back refetched a shard it had"
    page.go_forward()
    assert_draws(tab.wait_for(relu), relu)


def _sample_states(count: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    states = []
    for _ in range(count):
        norm = rng.choice(explorer.NORMS)
        states.append(
            {
                "a": rng.choice(explorer.ACTIVATIONS),
                "i": rng.choice(explorer.INITS),
                "n": norm,
                "r": rng.choice((0, 1)),
                "d": rng.choice(explorer.DEPTHS),
                "w": rng.choice(explorer.WIDTHS),
                "b": rng.choice(explorer.BATCHES[norm]),
            }
        )
    return states


@pytest.mark.parametrize("state", _sample_states(4, 1), ids=state_key)
def test_an_address_opens_its_view_in_both_languages_with_the_same_numbers(tab, state):
    drawn = {lang: tab.open(lang, query(state)) for lang in ("ko", "en")}
    for lang in drawn:
        assert_draws(drawn[lang], state)
    assert drawn["ko"]["table"] == drawn["en"]["table"]
    assert drawn["ko"]["summary"] != drawn["en"]["summary"]  # each in its own language
    assert not tab.errors, tab.errors


def test_the_language_switcher_keeps_the_view(tab):
    state = {**DEFAULT, "a": "tanh", "d": 100}
    tab.open("ko", query(state))
    href = tab.page.get_attribute("a.md-select__link[hreflang='en']", "href")
    assert href.endswith(query(state)), href


def test_an_address_outside_the_grid_shows_the_nearest_view_and_says_so(tab):
    drawn = tab.open("ko", "?a=swish&i=he_normal&n=none&r=0&d=37&w=300&b=30")
    nearest = {**DEFAULT, "a": DEFAULT["a"], "i": "he_normal", "d": 30, "w": 256}
    assert drawn["state"] == "ready"
    assert_draws(drawn, nearest)
    assert drawn["notice"] and "swish" in drawn["notice"] and "37" in drawn["notice"], drawn["notice"]
    assert not tab.errors, tab.errors


def test_a_missing_data_file_shows_a_message_and_the_static_figure(tab):
    tab.page.route("**/assets/explorer/v1/relu-none-0-w256.json", lambda route: route.fulfill(status=404, body=""))
    tab.page.on("console", lambda m: None)
    drawn = tab.open("ko", query({**DEFAULT, "a": "relu"}))
    assert drawn["state"] == "error"
    assert drawn["error"] and "relu-none-0-w256.json" in drawn["error"]
    assert drawn["staticShown"]


def test_a_corrupt_data_file_is_refused(tab):
    tab.page.route(
        "**/assets/explorer/v1/tanh-none-0-w256.json",
        lambda route: route.fulfill(status=200, body='{"key": "stale", "data": {}}', content_type="application/json"),
    )
    drawn = tab.open("en", query({**DEFAULT, "a": "tanh"}))
    assert drawn["state"] == "error" and drawn["staticShown"]
    assert "could not be loaded" in drawn["error"]


def test_without_javascript_the_static_figure_and_a_sentence_remain(browser, site_base):
    ctx = browser.new_context(viewport=VIEWPORT, java_script_enabled=False)
    page = ctx.new_page()
    page.goto(site_base + PAGES["ko"], wait_until="load")
    assert page.locator(".gx-static img").is_visible()
    assert not page.locator(".gx-live").is_visible()
    assert "자바스크립트" in page.locator(".gx-static").inner_text()
    ctx.close()


def test_the_explanation_link_names_the_page_that_explains_the_view(tab):
    assert tab.open("ko", query({**DEFAULT, "n": "batchnorm"}))["explain"] == ["../batch-normalization/"]
    assert tab.open("ko", query({**DEFAULT, "n": "batchnorm", "b": 2}))["explain"] == ["../batch-normalization-limits/"]
    assert tab.open("en", query({**DEFAULT, "a": "relu", "i": "he_normal"}))["explain"] == ["../initialization/"]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_palettes_recolour_without_a_redraw_and_axe_is_clean(browser, site_base, scheme):
    ctx = browser.new_context(viewport=VIEWPORT, color_scheme=scheme, locale="ko-KR")
    t = Tab(ctx, site_base)
    t.open("ko" if scheme == "light" else "en", query({**DEFAULT, "a": "relu", "i": "xavier_normal", "d": 100}))
    page = t.page
    # axe first, in the palette the system asked for (Material animates colour changes: never measure mid-way)
    page.add_script_tag(path=str(axe_script()))
    violations = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
             .map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))"""
    )
    bad = [v for v in violations if v["impact"] in SERIOUS]
    assert not bad, bad
    shots = ARTIFACTS / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / f"explorer-{scheme}.png"), full_page=True)
    stroke = "getComputedStyle(document.querySelector('svg[data-gx-plot=grad] .gx-mean')).stroke"
    d = "document.querySelector('svg[data-gx-plot=grad] .gx-mean').getAttribute('d')"
    before = (page.evaluate(stroke), page.evaluate(d))
    other = "slate" if scheme == "light" else "default"
    page.evaluate(f"document.body.setAttribute('data-md-color-scheme', '{other}')")
    after = (page.evaluate(stroke), page.evaluate(d))
    assert after[0] != before[0] and after[1] == before[1]
    assert not t.errors, t.errors
    ctx.close()


def test_the_page_is_usable_at_phone_width(browser, site_base):
    ctx = browser.new_context(
        viewport={"width": 360, "height": 780}, color_scheme="light", is_mobile=True, has_touch=True
    )
    t = Tab(ctx, site_base)
    drawn = t.open("ko")
    assert drawn["state"] == "ready"
    page = t.page
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1, f"the page scrolls sideways by {overflow} px at 360 px"
    box = page.locator("svg[data-gx-plot=grad]").bounding_box()
    assert box and box["width"] >= 300
    page.locator("select[name=a]").select_option("tanh")
    t.wait_for({**DEFAULT, "a": "tanh"})
    shots = ARTIFACTS / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "explorer-phone.png"), full_page=True)
    assert not t.errors, t.errors
    ctx.close()


def test_the_shards_are_published_once_for_both_languages(built_site):
    site, _ = built_site
    published = sorted(p.name for p in (site / "assets" / "explorer" / "v1").glob("*.json"))
    assert "index.json" in published and len(published) == len(explorer.shards()) + 1  # + index.json
    assert not (site / "en" / "assets" / "explorer").exists()
    for p in Path(site / "assets" / "explorer" / "v1").glob("*-w*.json"):
        assert p.read_bytes() == (explorer.out_dir() / p.name).read_bytes()


def test_a_pinned_curve_stays_as_a_grey_ghost_while_one_thing_changes(tab):
    tab.open()
    page = tab.page
    page.click(".gx-pin")
    assert page.get_attribute(".gx-pin", "aria-pressed") == "true"
    page.select_option("select[name=i]", "he_normal")
    tab.wait_for({**DEFAULT, "i": "he_normal"})
    assert page.locator("svg[data-gx-plot=grad] .gx-ghost").count() == 1
    assert page.locator(".gx-pinned").is_visible()
    page.click(".gx-pin")
    tab.wait_for({**DEFAULT, "i": "he_normal"})
    assert page.locator("svg[data-gx-plot=grad] .gx-ghost").count() == 0
    assert not tab.errors, tab.errors
