"""mailgun/talon's quotation tests (text and HTML) run against the reply splitting of parsers.

The cases are read from talon's own test modules with ``ast`` (the strings each ``eq_`` compares,
the fixture files they open, the standard replies); nothing is copied into the project. Each input
goes through ``parse`` as a one-part mail (text/plain or text/html) and its ``reply_text`` is
compared as talon compares: exactly for plain text, without whitespace where talon removes it.
For HTML, talon's expected markup is read as text by ``html_to_text``; ``>`` prefixes (our text
rendering of a blockquote) are not counted.
"""

from __future__ import annotations

import ast
import dataclasses
import email.policy
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from parsers import parse
from parsers.html_text import html_to_text
from tests.support import SHARED, require

TALON = SHARED / "peer-corpora" / "talon"
MODULES = ("text_quotations_test.py", "quotations_test.py", "html_quotations_test.py")
RECEIVED = datetime(2026, 1, 1, tzinfo=UTC)
TARGET = 0.85

# Where the project's answer differs from talon's, and why. Each must still differ (the list is
# checked both ways), so it shrinks when the code gets better.
SIGNATURE = "deliberate: the gateway strips `-- ` signatures and 'Sent from/with' lines; talon keeps them"
FORWARD = (
    "deliberate: a forward's reply text is the forwarder's note; the forwarded mail stays in "
    "ParsedMail.text, apart from it (talon keeps the forward in the reply)"
)
QUOTED = (
    "deliberate: text the customer quotes (`>` or <blockquote>) is not their own words, even "
    "between their own lines; talon keeps quotes it finds no attribution for"
)
KNOWN: dict[str, str] = {
    "text_quotations_test::test_too_many_lines": (
        "talon patches its MAX_LINES_COUNT to 1 for this test; unpatched, the text above "
        "'-----Original Message-----' is 'Test reply\\nHi', which is what the gateway gives"
    ),
    "text_quotations_test::test_dont_parse_quotations_for_forwarded_messages": FORWARD,
    "html_quotations_test::test_gmail_forwarded_msg": FORWARD,
    "text_quotations_test::test_quotation_marker_false_positive": (
        "deliberate: a line that starts with '>' is read as quoted ('>>> >>>  http://... <<<' "
        "here); talon recognises this one as a link's decoration"
    ),
    "html_quotations_test::test_regular_blockquote": QUOTED,
    "html_quotations_test::test_gmail_quote_blockquote": QUOTED,
    "html_quotations_test::test_readable_html_empty": (
        "deliberate: a mail that is nothing but quoted history has no new words, so its reply "
        "text is empty; talon returns the whole mail when its cut leaves nothing"
    ),
    "html_quotations_test::test_reply_separated_by_hr": (
        "talon drops 'Bob', the customer's sign-off above the <hr>, with the element that holds "
        "the quoted block; the gateway keeps the sign-off"
    ),
    "standard_replies/iphone.eml": SIGNATURE,
    "standard_replies/sparrow.eml": SIGNATURE,
}


@dataclass(frozen=True)
class Case:
    id: str
    kind: str  # "plain" or "html": the one part the input is sent as; "eml": a whole mail
    text: str
    expected: str
    no_whitespace: bool  # talon compares with all whitespace removed
    expected_is_html: bool


@dataclass(frozen=True)
class _Extract:
    """What talon's extract_from_plain/html returns for ``text``, as a placeholder."""

    kind: str
    text: str
    as_text: bool = False  # talon's expected value is the text of its HTML answer


@dataclass(frozen=True)
class _File:
    path: Path


@dataclass(frozen=True)
class _NoSpace:
    value: Any


class _Evaluator:
    """Evaluates the few expression forms talon's tests build their strings with."""

    def __init__(self, names: dict[str, Any], routines: dict[str, ast.FunctionDef]) -> None:
        self.names = names
        self.routines = routines

    def value(self, node: ast.expr, env: dict[str, Any]) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return env.get(node.id, self.names.get(node.id))
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return self.value(node.left, env) + self.value(node.right, env)
        if isinstance(node, ast.Call):
            return self.call(node, env)
        return None

    def call(self, node: ast.Call, env: dict[str, Any]) -> Any:
        args = [self.value(arg, env) for arg in node.args]
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        target = self.value(func.value, env) if isinstance(func, ast.Attribute) else None
        if name in ("extract_from_plain", "extract_from_html"):
            return _Extract("plain" if name.endswith("plain") else "html", args[0])
        if name == "sub" and isinstance(func, ast.Attribute) and args[0] == "":
            return _NoSpace(args[1])  # RE_WHITESPACE.sub('', x)
        if name == "html_to_text" and isinstance(args[0], _Extract):
            return _Extract(args[0].kind, args[0].text, as_text=True)
        if name in ("text_type", "str"):
            return args[0]
        if name == "open":
            return _File(TALON / args[0])
        if name == "read" and isinstance(target, _File):
            return target.path.read_text(encoding="utf-8")
        if name in ("format", "replace") and isinstance(target, str):
            return getattr(target, name)(*args)
        return None

    def run(self, body: list[ast.stmt], env: dict[str, Any]) -> Iterator[tuple[Any, Any]]:
        """The (left, right) pairs of every eq_ reached, through the functions a test calls."""
        for stmt in body:
            if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name):
                env[stmt.targets[0].id] = self.value(stmt.value, env)
            elif isinstance(stmt, ast.With):
                for item in stmt.items:
                    if isinstance(item.optional_vars, ast.Name):
                        env[item.optional_vars.id] = self.value(item.context_expr, env)
                yield from self.run(stmt.body, env)
            elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
                call, func = stmt.value, stmt.value.func
                name = getattr(func, "id", "")
                if name == "eq_":
                    yield self.value(call.args[0], env), self.value(call.args[1], env)
                elif name in self.routines:
                    routine = self.routines[name]
                    params = [a.arg for a in routine.args.args]
                    bound = dict(zip(params, (self.value(a, env) for a in call.args), strict=True))
                    yield from self.run(routine.body, bound)


def _module_names(evaluator: _Evaluator, tree: ast.Module) -> None:
    """The names a module binds (fixtures/__init__.py reads its fixture files into them)."""
    for _ in evaluator.run(tree.body, evaluator.names):
        pass  # no eq_ at module level


def _case(case_id: str, left: Any, right: Any) -> Case | None:
    no_ws = isinstance(left, _NoSpace) or isinstance(right, _NoSpace)
    left = left.value if isinstance(left, _NoSpace) else left
    right = right.value if isinstance(right, _NoSpace) else right
    extract, expected = (right, left) if isinstance(right, _Extract) else (left, right)
    if not isinstance(extract, _Extract) or not isinstance(expected, str):
        return None
    html = extract.kind == "html" and not extract.as_text
    return Case(case_id, extract.kind, extract.text, expected, no_ws, html)


def talon_cases() -> list[Case]:
    fixtures = TALON / "tests" / "fixtures" / "__init__.py"
    evaluator = _Evaluator({}, {})
    _module_names(evaluator, ast.parse(fixtures.read_text(encoding="utf-8")))
    cases: list[Case] = []
    for module in MODULES:
        tree = ast.parse((TALON / "tests" / module).read_text(encoding="utf-8"))
        functions = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
        evaluator.routines = {f.name: f for f in functions if not f.name.startswith("test_")}
        for function in functions:
            if not function.name.startswith("test_"):
                continue
            found = [c for pair in evaluator.run(function.body, {})
                     if (c := _case(f"{module[:-3]}::{function.name}", *pair))]
            for n, case in enumerate(found, 1):
                suffix = f"#{n}" if len(found) > 1 else ""
                cases.append(dataclasses.replace(case, id=case.id + suffix))
            if function.name == "test_standard_replies":
                cases.extend(_standard_replies(function))
    return cases


def _standard_replies(function: ast.FunctionDef) -> Iterator[Case]:
    """talon's loop over fixtures/standard_replies: the text/plain part of each .eml, its
    ``_reply_text`` file as the expected reply, else the default the test assigns."""
    default = next(n.value.value for n in ast.walk(function)
                   if isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant))
    folder = TALON / "tests" / "fixtures" / "standard_replies"
    for path in sorted(folder.glob("*.eml")):
        answer = path.with_name(path.stem + "_reply_text")
        expected = answer.read_text(encoding="utf-8").strip() if answer.is_file() else default
        raw = path.read_text(encoding="utf-8")
        yield Case(f"standard_replies/{path.name}", "eml", raw, expected, False, False)


def reply_of(case: Case) -> str:
    """The gateway's reply text for a talon input, through the whole parser."""
    if case.kind == "eml":
        raw = case.text.encode("utf-8")
    else:
        message = EmailMessage(policy=email.policy.SMTP)
        message["From"] = "customer@example.com"
        message["Subject"] = "Re: talon"
        message.set_content(case.text, subtype=case.kind)
        raw = message.as_bytes()
    return parse(raw, received_at=RECEIVED).reply_text


_QUOTE_PREFIX = re.compile(r"^[> \t]+", re.MULTILINE)
_RULE = re.compile(r"^_{10,}$", re.MULTILINE)  # how html_to_text draws an <hr>: no words
_WHITESPACE = re.compile(r"\s")


def matches(case: Case, ours: str) -> bool:
    expected = case.expected
    if case.expected_is_html:
        expected = _RULE.sub("", html_to_text(expected))
    if not case.no_whitespace:
        return ours == expected
    flat_ours = _WHITESPACE.sub("", _QUOTE_PREFIX.sub("", ours))
    return flat_ours == _WHITESPACE.sub("", _QUOTE_PREFIX.sub("", expected))


def test_talon_quotations() -> None:
    require((TALON / "tests" / "text_quotations_test.py").is_file(),
            f"talon's tests not found at {TALON} (they live beside the project checkout)")
    cases = talon_cases()
    results = {case.id: matches(case, reply_of(case)) for case in cases}
    score = sum(results.values()) / len(results)
    print(f"\ntalon quotations: {sum(results.values())}/{len(results)} ({score:.0%})")
    failing = sorted(case_id for case_id, ok in results.items() if not ok)
    for case_id in failing:
        print(f"  differs: {case_id}: {KNOWN.get(case_id, 'NOT EXPLAINED')}")
    assert len(cases) == 95
    assert score >= TARGET
    assert set(failing) == set(KNOWN), "every case left must be listed with its reason"

