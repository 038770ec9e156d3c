"""One colour per meaning, labels beside their figure, and a glossary without dead entries — read from the sources.

* Colours: an activation, an init or a norm is drawn in ``style.COLORS[name]`` on every figure. The check reads each
  ``figures/*.py`` (helpers included) with the AST and follows names through module constants, local assignments,
  loops, ``zip``/``items``/``enumerate`` and tuple unpacking, so that a per-figure table, a loop over names or a
  colour passed by position is caught as surely as a literal ``{"relu": "#0072B2"}``; a label whose key comes from
  the data (``t(init, lang)`` over ``data["inits"]``) may be a name, so it too must not get a hard-coded hue. Neutral
  colours (grey, black, white) stay allowed beside a label: they draw legend keys and reference lines, not a name.
  The ``BAD_FIGURES`` below are each written to a scratch file and must fail the check.
* Labels: a figure's own ``LABELS`` is a literal dict, gives every language, shadows no glossary term and is used.
* Glossary: every key is used somewhere (figures, the package, the notebooks, the snippets).
"""

from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from matplotlib.colors import is_color_like, to_rgb

from gradnotes import paths
from gradnotes.engine.spec import ACTIVATIONS, INITS, NORMS
from gradnotes.site import style
from gradnotes.site.labels import GLOSSARY, LANGS

NAMES = frozenset(ACTIVATIONS) | frozenset(INITS) | frozenset(NORMS) | frozenset(style.COLORS)
COLOUR_KEYWORDS = frozenset(
    {"color", "c", "colors", "facecolor", "fc", "edgecolor", "ec", "markerfacecolor", "mfc", "markeredgecolor", "mec"}
)
HEX = re.compile(r"#[0-9A-Fa-f]{3,8}")
HANGUL = re.compile("[\uac00-\ud7a3]")
FIGURE_FILES = sorted(paths.figures_dir().glob("*.py"))
DEPTH = 12  # how far a name is followed through assignments (cycles stop there)


# ------------------------------------------------------------------------------------------------ the colour check


@dataclass
class _Binding:
    """What a name is bound to: ``expr`` itself, or (``each``) an element of ``expr``; then ``path`` unpacks it."""

    expr: ast.expr
    each: bool = False
    path: tuple[int, ...] = ()


@dataclass
class _Scope:
    bindings: dict[str, list[_Binding]] = field(default_factory=dict)
    parent: _Scope | None = None

    def lookup(self, name: str) -> list[_Binding]:
        found = list(self.bindings.get(name, []))
        return found + (self.parent.lookup(name) if self.parent else [])


def _bind(scope: _Scope, target: ast.expr, binding: _Binding) -> None:
    if isinstance(target, ast.Name):
        scope.bindings.setdefault(target.id, []).append(binding)
    elif isinstance(target, ast.Tuple | ast.List):
        for k, elt in enumerate(target.elts):
            if isinstance(elt, ast.Starred):
                continue
            _bind(scope, elt, _Binding(binding.expr, binding.each, (*binding.path, k)))


def _own_nodes(node: ast.AST) -> Iterator[ast.AST]:
    """The nodes of a module or function body, without the bodies of the functions defined inside it."""
    for child in ast.iter_child_nodes(node):
        yield child
        if not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            yield from _own_nodes(child)


def _collect(scope: _Scope, owner: ast.AST) -> None:
    for node in _own_nodes(owner):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                _bind(scope, target, _Binding(node.value))
        elif isinstance(node, ast.AnnAssign | ast.AugAssign | ast.NamedExpr) and node.value is not None:
            _bind(scope, node.target, _Binding(node.value))
        elif isinstance(node, ast.For | ast.AsyncFor | ast.comprehension):
            _bind(scope, node.target, _Binding(node.iter, each=True))


class _Reader:
    """Static values of one figure file: which strings an expression can be, and which colours it can carry."""

    def __init__(self, tree: ast.Module) -> None:
        self.scopes: dict[ast.AST, _Scope] = {}
        module = _Scope()
        _collect(module, tree)
        self.scopes[tree] = module
        self._scope_functions(tree, module)

    def _scope_functions(self, owner: ast.AST, scope: _Scope) -> None:
        for node in _own_nodes(owner):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                inner = _Scope(parent=scope)
                _collect(inner, node)
                self.scopes[node] = inner
                self._scope_functions(node, inner)

    # -- following names

    def candidates(self, node: ast.expr, scope: _Scope, depth: int) -> list[ast.expr]:
        """The expressions ``node`` can stand for: itself, or what a name is bound to (element and unpacking)."""
        if depth <= 0:
            return []
        if not isinstance(node, ast.Name):
            return [node]
        found: list[ast.expr] = []
        for binding in scope.lookup(node.id):
            values = self.elements(binding.expr, scope, depth - 1) if binding.each else [binding.expr]
            for value in values:
                found += self.unpack(value, binding.path, scope, depth - 1)
        return found

    def unpack(self, node: ast.expr, path: tuple[int, ...], scope: _Scope, depth: int) -> list[ast.expr]:
        if not path:
            return [node]
        out: list[ast.expr] = []
        for value in self.resolve(node, scope, depth):
            if isinstance(value, ast.Tuple | ast.List) and path[0] < len(value.elts):
                out += self.unpack(value.elts[path[0]], path[1:], scope, depth - 1)
        return out

    def resolve(self, node: ast.expr, scope: _Scope, depth: int) -> list[ast.expr]:
        """Names followed and subscripts of literal tables looked into, down to expressions that are not either."""
        if depth <= 0:
            return []
        if isinstance(node, ast.Name):
            return [r for c in self.candidates(node, scope, depth) for r in self.resolve(c, scope, depth - 1)]
        if isinstance(node, ast.Subscript) and not _is_table_lookup(node):
            out: list[ast.expr] = []
            for base in self.resolve(node.value, scope, depth - 1):
                if isinstance(base, ast.Dict):
                    out += [r for v in base.values for r in self.resolve(v, scope, depth - 1)]
                elif isinstance(base, ast.Tuple | ast.List):
                    out += [r for v in base.elts for r in self.resolve(v, scope, depth - 1)]
            return out or [node]
        return [node]

    def elements(self, node: ast.expr, scope: _Scope, depth: int) -> list[ast.expr]:
        """What iterating over ``node`` yields, where it can be read off the source (zip/enumerate/items built)."""
        if depth <= 0:
            return []
        out: list[ast.expr] = []
        for value in self.resolve(node, scope, depth):
            if isinstance(value, ast.Tuple | ast.List | ast.Set):
                out += value.elts
            elif isinstance(value, ast.Dict):
                out += [k for k in value.keys if k is not None]
            elif isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "zip":
                columns = [self.elements(a, scope, depth - 1) for a in value.args]
                rows = max((len(c) for c in columns), default=0)
                hole = ast.Constant(value=None)
                out += [ast.Tuple(elts=[c[k] if k < len(c) else hole for c in columns]) for k in range(rows)]
            elif isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "enumerate":
                out += [
                    ast.Tuple(elts=[ast.Constant(value=None), e])
                    for e in self.elements(value.args[0], scope, depth - 1)
                ]
            elif isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute):
                method = value.func.attr
                for table in self.resolve(value.func.value, scope, depth - 1):
                    if isinstance(table, ast.Dict):
                        pairs = [(k, v) for k, v in zip(table.keys, table.values, strict=True) if k is not None]
                        if method == "items":
                            out += [ast.Tuple(elts=[k, v]) for k, v in pairs]
                        elif method == "keys":
                            out += [k for k, _ in pairs]
                        elif method == "values":
                            out += [v for _, v in pairs]
        return out

    # -- strings and names

    def strings(self, node: ast.expr, scope: _Scope, depth: int = DEPTH) -> set[str]:
        """The string constants ``node`` can evaluate to (as far as the source tells)."""
        out: set[str] = set()
        for value in self.resolve(node, scope, depth):
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                out.add(value.value)
            elif isinstance(value, ast.IfExp):
                out |= self.strings(value.body, scope, depth - 1) | self.strings(value.orelse, scope, depth - 1)
            elif isinstance(value, ast.Tuple | ast.List):
                for elt in value.elts:
                    out |= self.strings(elt, scope, depth - 1)
        return out

    def names_in(self, node: ast.expr, scope: _Scope, depth: int = DEPTH) -> set[str]:
        """Activation/init/norm names a label expression is built from (``t(name, lang)``, names of names, ...)."""
        if depth <= 0:
            return set()
        if isinstance(node, ast.Constant):
            return {node.value} & NAMES if isinstance(node.value, str) else set()
        if isinstance(node, ast.Name):
            found = self.strings(node, scope, depth) & NAMES
            for value in self.candidates(node, scope, depth):
                if not isinstance(value, ast.Name):
                    found |= self.names_in(value, scope, depth - 1)
            return found
        found = set()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                found |= self.names_in(child, scope, depth - 1)
        return found

    def unknown_key(self, node: ast.expr, scope: _Scope, depth: int = DEPTH) -> bool:
        """True if the label looks up ``t(key, ...)`` with a key the source does not show (e.g. read from the data)."""
        if depth <= 0:
            return False
        if isinstance(node, ast.Call) and _attr_name(node.func) == "t" and node.args:
            if not self.strings(node.args[0], scope, depth):
                return True
        if isinstance(node, ast.Name):
            values = [v for v in self.candidates(node, scope, depth) if not isinstance(v, ast.Name)]
            return any(self.unknown_key(v, scope, depth - 1) for v in values)
        return any(
            self.unknown_key(child, scope, depth - 1)
            for child in ast.iter_child_nodes(node)
            if isinstance(child, ast.expr)
        )

    # -- colours

    def colours(self, node: ast.expr, scope: _Scope, depth: int = DEPTH) -> list[tuple[str, ast.expr]]:
        """Hard-coded colours ``node`` can carry: ("raw", node) for PALETTE/hex/named/RGB, ("table", name) for
        ``style.COLORS[...]`` (the allowed lookup, reported so that a wrong name's colour can be caught)."""
        if depth <= 0:
            return []
        out: list[tuple[str, ast.expr]] = []
        for value in self.resolve(node, scope, depth):
            if _is_table_lookup(value):
                out.append(("table", value.slice))
            elif _is_palette_lookup(value) or _is_colour_literal(value):
                out.append(("raw", value))
            elif isinstance(value, ast.IfExp):
                out += self.colours(value.body, scope, depth - 1) + self.colours(value.orelse, scope, depth - 1)
        return out

    def carried(self, node: ast.expr, scope: _Scope) -> list[tuple[str, ast.expr]]:
        """Colours in a value that may be a (colour, line style) record: the value itself or one of its items."""
        found = self.colours(node, scope)
        for value in self.resolve(node, scope, DEPTH):
            if isinstance(value, ast.Tuple | ast.List) and not _is_colour_literal(value):
                for elt in value.elts:
                    found += self.colours(elt, scope)
        return found


def _attr_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _is_palette_lookup(node: ast.expr) -> bool:
    return isinstance(node, ast.Subscript) and _attr_name(node.value) == "PALETTE"


def _is_table_lookup(node: ast.expr) -> bool:
    """``style.COLORS[...]`` (or ``COLORS[...]`` imported from style): the one allowed source of a name's colour."""
    return (
        isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "COLORS"
        and _attr_name(node.value.value) == "style"
    )


def _is_colour_literal(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        text = node.value
        return bool(HEX.fullmatch(text)) or (text.lower() != "none" and is_color_like(text))
    if isinstance(node, ast.Tuple) and len(node.elts) in (3, 4):
        return all(isinstance(e, ast.Constant) and isinstance(e.value, int | float) for e in node.elts)
    return False


def _neutral(kind: str, node: ast.expr) -> bool:
    """Grey, black, white: a legend key or a reference line, allowed beside a label."""
    if kind != "raw":
        return False
    if _is_palette_lookup(node):
        key = node.slice.value if isinstance(node.slice, ast.Constant) else None
        if key not in style.PALETTE:
            return False
        rgb = to_rgb(style.PALETTE[key])
    elif isinstance(node, ast.Constant):
        rgb = to_rgb(node.value)
    else:
        rgb = tuple(float(e.value) for e in node.elts[:3])
    return max(rgb) - min(rgb) < 0.02


def colour_violations(source: str, filename: str = "<figure>") -> list[str]:
    """Every place where ``source`` gives an activation, init or norm a colour other than ``style.COLORS[name]``."""
    tree = ast.parse(source, filename)
    reader = _Reader(tree)
    problems: list[str] = []

    def where(node: ast.AST) -> str:
        return f"{filename}:{node.lineno}"

    def check_table_entry(node: ast.AST, names: set[str], value: ast.expr, scope: _Scope) -> None:
        for kind, colour in reader.carried(value, scope):
            if kind == "raw":
                problems.append(f"{where(node)}: {sorted(names)} mapped to a hard-coded colour {ast.unparse(colour)}")
            elif (looked_up := reader.strings(colour, scope)) and not (looked_up & names):
                problems.append(f"{where(node)}: {sorted(names)} mapped to the colour of {sorted(looked_up)}")

    def check_labelled(node: ast.AST, label: ast.expr, colour_args: list[ast.expr], scope: _Scope) -> None:
        names = reader.names_in(label, scope)
        if not names and reader.unknown_key(label, scope):
            names = {"<a key read from the data>"}  # it may well be a name: its colour must come from style.COLORS
        if not names:
            return
        for arg in colour_args:
            for kind, colour in reader.colours(arg, scope):
                if kind == "raw" and not _neutral(kind, colour):
                    problems.append(
                        f"{where(node)}: label of {sorted(names)} drawn in a hard-coded colour {ast.unparse(colour)}"
                    )
                elif kind == "table" and (looked_up := reader.strings(colour, scope)) and not (looked_up & names):
                    problems.append(
                        f"{where(node)}: label of {sorted(names)} drawn in the colour of {sorted(looked_up)}"
                    )

    def visit(owner: ast.AST, scope: _Scope) -> None:
        for node in _own_nodes(owner):
            if node in reader.scopes and node is not owner:
                visit(node, reader.scopes[node])
                continue
            if isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values, strict=True):
                    if key is None:
                        continue
                    names = reader.strings(key, scope) & NAMES
                    if names:
                        check_table_entry(node, names, value, scope)
                entries = {
                    k.value: v for k, v in zip(node.keys, node.values, strict=True) if isinstance(k, ast.Constant)
                }
                if "label" in entries:  # a keyword dict for a plotting call: {"color": ..., "label": ...}
                    colour_args = [v for k, v in entries.items() if k in COLOUR_KEYWORDS]
                    check_labelled(node, entries["label"], colour_args, scope)
            elif isinstance(node, ast.DictComp):
                names = reader.strings(node.key, scope) & NAMES
                if names:
                    check_table_entry(node, names, node.value, scope)
            elif isinstance(node, ast.Call):
                keywords = {k.arg: k.value for k in node.keywords if k.arg is not None}
                if _attr_name(node.func) == "dict":
                    for arg, value in keywords.items():
                        if arg in NAMES:
                            check_table_entry(node, {arg}, value, scope)
                    for arg in node.args:  # dict(zip(names, colours))
                        for pair in reader.elements(arg, scope, DEPTH):
                            if isinstance(pair, ast.Tuple) and len(pair.elts) == 2:
                                names = reader.strings(pair.elts[0], scope) & NAMES
                                if names:
                                    check_table_entry(node, names, pair.elts[1], scope)
                if "label" in keywords:
                    colour_args = [v for k, v in keywords.items() if k in COLOUR_KEYWORDS] + list(node.args)
                    check_labelled(node, keywords["label"], colour_args, scope)
            elif isinstance(node, ast.Assign | ast.AugAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Subscript) and _attr_name(target.value) == "COLORS":
                        problems.append(f"{where(node)}: style.COLORS is changed (it is the one table for the site)")

    visit(tree, reader.scopes[tree])
    return sorted(set(problems))


@pytest.mark.parametrize("path", FIGURE_FILES, ids=lambda p: p.stem)
def test_figure_takes_name_colours_from_style(path: Path):
    problems = colour_violations(path.read_text(encoding="utf-8"), path.name)
    assert not problems, "use style.COLORS[name] for an activation, init or norm:\n" + "\n".join(problems)


# Each of these is a way a figure has spelled out a name's colour; the check must catch every one.
BAD_FIGURES = {
    "norm_table": """
        COLORS = {"none": style.PALETTE["green"], "batchnorm": style.PALETTE["vermillion"]}
        def draw(data, lang):
            for norm in ("none", "batchnorm"):
                band(ax, xs, stats, COLORS[norm], label=t(norm, lang))
    """,
    "pair_keys": """
        COLORS = {("relu", "xavier_normal"): style.PALETTE["vermillion"], ("relu", "he_normal"): "#0072B2"}
    """,
    "colour_and_line_style_records": """
        INIT_STYLE = {
            "xavier_uniform": (style.PALETTE["orange"], "-"),
            "xavier_normal": (style.PALETTE["orange"], "-."),
        }
    """,
    "hex_beside_a_label": """
        def draw(data, lang):
            ax.plot(x, y, color="#0072B2", label=t("relu", lang))
    """,
    "named_colour_by_position": """
        def draw(data, lang):
            ax.plot(x, y, "tab:blue", label=f"{t('relu', lang)} + {t('he_normal', lang)}")
    """,
    "loop_over_module_names": """
        NORMS = ("none", "batchnorm")
        def draw(data, lang):
            for ax, norm in zip(axes, NORMS, strict=True):
                color = style.PALETTE["blue"] if norm == "batchnorm" else style.PALETTE["vermillion"]
                ax.plot(x, y, color=color, label=t(norm, lang))
    """,
    "unpacked_record": """
        STYLE = {"he_uniform": ("#0072B2", "-")}
        def draw(data, lang):
            for init in STYLE:
                color, linestyle = STYLE[init]
                ax.plot(x, y, color=color, linestyle=linestyle, label=t(init, lang))
    """,
    "label_through_a_variable": """
        CASES = (("relu", "he_normal"),)
        def draw(data, lang):
            for activation, init in CASES:
                label = f"{t(activation, lang)} + {t(init, lang)}"
                band(ax, xs, stats, style.PALETTE["sky"], label=label)
    """,
    "keyword_dict": """
        def draw(data, lang):
            kw = {"color": style.PALETTE["green"], "label": t("leaky_relu", lang)}
            ax.plot(x, y, **kw)
    """,
    "dict_call": """
        COLORS = dict(relu=style.PALETTE["blue"], tanh=style.PALETTE["orange"])
    """,
    "dict_of_zip": """
        COLORS = dict(zip(("none", "batchnorm"), (style.PALETTE["grey"], style.PALETTE["blue"])))
    """,
    "comprehension": """
        INITS = ("xavier_uniform", "he_uniform")
        COLORS = {init: style.PALETTE["orange"] for init in INITS}
    """,
    "another_names_colour": """
        def draw(data, lang):
            ax.plot(x, y, color=style.COLORS["relu"], label=t("sigmoid", lang))
    """,
    "table_of_another_name": """
        COLORS = {"layernorm": style.COLORS["batchnorm"]}
    """,
    "changed_site_table": """
        style.COLORS["relu"] = "#000000"
    """,
    "names_read_from_the_data": """
        def draw(data, lang):
            for init in data["inits"]:
                color = style.PALETTE["blue"] if init.startswith("he") else style.PALETTE["orange"]
                ax.plot(x, y, color=color, label=t(init, lang))
    """,
    "rgb_tuple": """
        def draw(data, lang):
            ax.fill_between(x, lo, hi, color=(0.0, 0.45, 0.7), label=t("batchnorm", lang))
    """,
}

GOOD_FIGURE = """
    import statistics
    CASES = (("vanishing", "sigmoid", "xavier_uniform"), ("exploding", "tanh", "standard_normal"))
    COLORS = {"vanishing": style.PALETTE["blue"], "exploding": style.PALETTE["vermillion"]}  # not names
    LINESTYLES = {"xavier_normal": "-.", "he_normal": "-."}
    def draw(data, lang):
        for name, activation, init in CASES:
            ax.plot(x, y, color=COLORS[name], label=t(name, lang))
        for norm in ("none", "batchnorm"):
            band(ax, xs, stats, style.COLORS[norm], label=t(norm, lang))
        for init in ("xavier_uniform", "xavier_normal"):
            ax.plot(x, y, color=style.COLORS[init], linestyle=LINESTYLES.get(init, "-"), label=t(init, lang))
        kw = {"color": style.COLORS["relu"], "label": t("relu", lang)}
        ax.axvspan(0, 0, color=style.PALETTE["grey"], alpha=0.35, label=t("saturation_region", lang))
        ax.plot([], [], color="#222222", linestyle=(0, (3, 2)), label=f"{t('theory', lang)}, {t('none', lang)}")
        label = f"{t('relu', lang)} + {t('he_normal', lang)}"
        ax.plot(x, y, "o-", color=style.COLORS["he_normal"], mfc="none", label=label)
"""


def _figure_file(folder: Path, name: str, body: str) -> Path:
    """A figure file in a scratch folder, as the real ones start (the check reads it from disk like theirs)."""
    path = folder / f"{name}.py"
    path.write_text("from gradnotes.site import style\n" + textwrap.dedent(body), encoding="utf-8")
    return path


@pytest.mark.parametrize("name", sorted(BAD_FIGURES))
def test_the_colour_check_catches_a_hard_coded_colour(tmp_path, name):
    path = _figure_file(tmp_path, name, BAD_FIGURES[name])
    assert colour_violations(path.read_text(), path.name), f"{name}: a hard-coded colour went unnoticed"


def test_the_colour_check_passes_colours_from_style_and_colours_of_other_things(tmp_path):
    path = _figure_file(tmp_path, "good", GOOD_FIGURE)
    assert colour_violations(path.read_text(), path.name) == []


def test_every_engine_name_has_one_colour_and_a_family_one_hue():
    missing = [name for name in (*ACTIVATIONS, *INITS, *NORMS) if name not in style.COLORS]
    assert not missing, f"no colour in style.COLORS for {missing}"
    assert all(is_color_like(colour) for colour in style.COLORS.values())
    for family in ("xavier", "he"):
        assert style.COLORS[f"{family}_uniform"] == style.COLORS[f"{family}_normal"], f"{family}: one hue"
    for group in (ACTIVATIONS, NORMS):
        hues = [style.COLORS[name] for name in group]
        assert len(set(hues)) == len(hues), f"two of {group} share a colour"


# ------------------------------------------------------------------------------------------------ labels


def _labels_node(tree: ast.Module) -> ast.Assign | ast.AnnAssign | None:
    """The module-level ``LABELS = {...}`` (what the gallery leaves out of the data key), if any."""
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id == "LABELS" for t in targets):
            return node
    return None


def _used_keys(texts: list[str]) -> tuple[set[str], list[re.Pattern[str]]]:
    """Quoted strings in the texts, and the f-string templates of the Python ones (``f"{family}_bound"``)."""
    quoted: set[str] = set()
    templates: list[re.Pattern[str]] = []
    for text in texts:
        quoted |= set(re.findall(r"""["']([A-Za-z0-9_]+)["']""", text))
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.JoinedStr):
                parts = [re.escape(v.value) if isinstance(v, ast.Constant) else "[A-Za-z0-9_]+" for v in node.values]
                constant = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
                if re.fullmatch(r"[A-Za-z0-9_]+", constant or "-"):  # a template for a key, not a sentence
                    templates.append(re.compile("".join(parts)))
    return quoted, templates


def _is_used(key: str, quoted: set[str], templates: list[re.Pattern[str]]) -> bool:
    return key in quoted or any(p.fullmatch(key) for p in templates)


def _has_labels(path: Path) -> bool:
    try:
        return _labels_node(ast.parse(path.read_text(encoding="utf-8"))) is not None
    except SyntaxError:
        return True  # the test then reports it


FIGURES_WITH_LABELS = [p for p in FIGURE_FILES if _has_labels(p)]


@pytest.mark.parametrize("path", FIGURES_WITH_LABELS, ids=lambda p: p.stem)
def test_figure_labels_give_every_language_and_shadow_no_glossary_term(path: Path):
    body = path.read_text(encoding="utf-8")
    tree = ast.parse(body, path.name)
    node = _labels_node(tree)
    try:
        labels = ast.literal_eval(node.value)
    except ValueError:
        pytest.fail(f"{path.name}: LABELS must be a literal dict (the gallery keys the SVG on the texts it draws)")
    assert isinstance(labels, dict), f"{path.name}: LABELS must be a dict"
    for key, entry in labels.items():
        assert set(entry) == set(LANGS), f"{path.name}: label {key!r} gives {sorted(entry)}, expected {list(LANGS)}"
        assert all(isinstance(text, str) and text.strip() for text in entry.values()), f"{key!r}: an empty text"
        assert not HANGUL.search(entry["en"]), f"{path.name}: Korean text in the English label {key!r}"
        assert key not in GLOSSARY, f"{path.name}: label {key!r} is a glossary term: use the glossary's"
    uses_translator = any(
        isinstance(n, ast.Call)
        and _attr_name(n.func) == "translator"
        and any(isinstance(a, ast.Name) and a.id == "LABELS" for a in n.args)
        for n in ast.walk(tree)
    )
    assert uses_translator, f"{path.name}: has LABELS but does not look them up (t = translator(LABELS))"
    lines = body.splitlines(keepends=True)
    without = "".join(lines[: node.lineno - 1] + lines[node.end_lineno :])  # LABELS itself is not a use of a key
    quoted, templates = _used_keys([without])
    unused = [key for key in labels if not _is_used(key, quoted, templates)]
    assert not unused, f"{path.name}: LABELS entries no line of the figure uses: {unused}"


def _sources() -> list[Path]:
    root = paths.ROOT
    package = [p for p in (root / "gradnotes").rglob("*.py") if p != root / "gradnotes" / "site" / "labels.py"]
    notebooks = sorted((root / "docs" / "notebooks").glob("*.md"))
    snippets = [p for p in (root / "docs_src").rglob("*") if p.is_file() and p.suffix in {".py", ".md"}]
    return FIGURE_FILES + package + notebooks + snippets


def test_every_glossary_key_is_used_somewhere():
    quoted, templates = _used_keys([p.read_text(encoding="utf-8") for p in _sources()])
    unused = [key for key in GLOSSARY if not _is_used(key, quoted, templates)]
    assert not unused, f"glossary keys no figure, module, notebook or snippet uses (remove them): {unused}"
