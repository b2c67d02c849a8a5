"""Exercises that check themselves: a signature by hand, a polling loop, a recovery.

Each checker returns a result that renders as a short box (HTML in a notebook, plain text
elsewhere) saying what passed and what to fix. On a class server a result is also reported
to the teacher's view (``POST /_class/exercise``, signed as the student); a report that
fails is noted in the result, never raised. No result ever shows the app secret.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import inspect
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlencode, urlsplit

from webull_nb.core import signing
from webull_nb.core.endpoints import API_PROFILES, PROD_HOSTS, UAT_HOSTS
from webull_nb.core.errors import RateLimitError, WebullError
from webull_nb.core.query import Query, query_pairs
from webull_nb.core.secrets import Secret
from webull_nb.core.status import RATE_LIMIT, RATE_PERIOD

if TYPE_CHECKING:
    from webull_nb.session.session import Session

__all__ = [
    "EXERCISE_PATH",
    "ExerciseResult",
    "SignatureCheckResult",
    "check_polling",
    "check_recovery",
    "check_recovery_async",
    "check_signature",
]

#: Where a class server takes a student's exercise results.
EXERCISE_PATH = "/_class/exercise"
_WEBULL_HOSTS = frozenset(PROD_HOSTS.values()) | frozenset(UAT_HOSTS.values())
_CHECK_PATHS = tuple(profile.check_path for profile in API_PROFILES.values())
# What a canonical string holds besides the query: named as they are, not "parameter ...".
_SIGNING_NAMES = frozenset(
    [
        "host",
        "x-app-key",
        "x-timestamp",
        "x-signature-version",
        "x-signature-algorithm",
        "x-signature-nonce",
    ]
)
_HEX_DIGEST = re.compile(r"[0-9A-Fa-f]{32,64}")
_SHOWN = 72  # characters of one value in a table cell
_DETAIL = 300  # characters of a report's detail


def _clip(text: str, limit: int = _SHOWN) -> str:
    text = text.replace("\r", "\\r").replace("\n", "\\n")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _raised(exc: BaseException) -> str:
    """What a student's code raised, in one short line."""
    return f"{type(exc).__name__}: {_clip(str(exc), 160)}"


# --- showing a result -----------------------------------------------------------------------


def _text_box(
    title: str, message: str, header: tuple[str, ...], rows: list[tuple[str, ...]]
) -> str:
    lines = [f"{title}: {message}"]
    if rows:
        widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
        for row in [header, *rows] if any(header) else rows:
            lines.append(
                "  " + "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            )
    return "\n".join(lines)


def _html_box(
    title: str,
    passed: bool,
    message: str,
    header: tuple[str, ...],
    rows: list[tuple[str, ...]],
    note: str,
) -> str:
    color, light = ("#067647", "#ecfdf3") if passed else ("#b42318", "#fef3f2")
    cells = "".join(
        "<tr>"
        + "".join(
            f'<td style="padding:1px 8px;font-family:monospace">{escape(str(cell))}</td>'
            for cell in row
        )
        + "</tr>"
        for row in rows
    )
    head = "".join(f'<th style="padding:1px 8px;text-align:left">{escape(h)}</th>' for h in header)
    head = f"<tr>{head}</tr>" if any(header) else ""
    table = f'<table style="margin-top:4px">{head}{cells}</table>' if rows else ""
    foot = f'<div style="color:#475467;margin-top:4px">{escape(note)}</div>' if note else ""
    return (
        f'<div class="webull-nb-exercise" style="border:1px solid {color};border-left-width:4px;'
        f'border-radius:4px;padding:6px 10px;margin:4px 0;background:{light}">'
        f'<b style="color:{color}">{escape(title)}</b>: {escape(message)}{table}{foot}</div>'
    )


@dataclass(frozen=True)
class ExerciseResult:
    """What a checker found: passed or not, one line to read, the facts it counted."""

    exercise: str
    passed: bool
    message: str
    facts: tuple[tuple[str, str], ...] = ()
    reported: str = ""

    @property
    def ok(self) -> bool:
        """Same as ``passed``."""
        return self.passed

    def _title(self) -> str:
        return f"{self.exercise} exercise {'passed' if self.passed else 'not passed yet'}"

    def __repr__(self) -> str:
        """A few lines: the verdict, the facts, what became of the report."""
        text = _text_box(self._title(), self.message, ("", ""), list(self.facts))
        return f"{text}\n  ({self.reported})" if self.reported else text

    __str__ = __repr__

    def _repr_html_(self) -> str:
        """A short box: the verdict, the facts, what became of the report."""
        return _html_box(
            self._title(), self.passed, self.message, ("", ""), list(self.facts), self.reported
        )


@dataclass(frozen=True)
class SignatureCheckResult:
    """The parts of a hand-made signature, each compared with the right one."""

    ok: bool
    parts: list[tuple[str, str, str, bool]] = field(default_factory=list)
    message: str = ""
    reported: str = ""

    @property
    def passed(self) -> bool:
        """Same as ``ok``."""
        return self.ok

    def _rows(self) -> list[tuple[str, ...]]:
        return [(part, want, got, "✓" if good else "✗") for part, want, got, good in self.parts]

    def _title(self) -> str:
        return f"signature exercise {'passed' if self.ok else 'not passed yet'}"

    def __repr__(self) -> str:
        """The verdict and the parts table (the app secret is never part of it)."""
        header = ("part", "expected", "yours", "")
        text = _text_box(self._title(), self.message, header, self._rows())
        return f"{text}\n  ({self.reported})" if self.reported else text

    __str__ = __repr__

    def _repr_html_(self) -> str:
        """The verdict and the parts table, every value escaped."""
        header = ("part", "expected", "yours", "")
        return _html_box(self._title(), self.ok, self.message, header, self._rows(), self.reported)


# --- reporting to the class ------------------------------------------------------------------


def _report(session: Session | None, exercise: str, passed: bool, detail: str) -> str:
    """Tell a class server about a result; return what became of it (never raise)."""
    if session is None:
        return "not reported: no session (pass session=, or show webull_nb.panel() first)"
    base = session.base_url
    account = session.account
    if not base or account is None:
        return "not reported: the session has no credentials"
    if urlsplit(base).hostname in _WEBULL_HOSTS:
        return "not reported: the session talks to Webull, not to a class server"
    payload = {"exercise": exercise, "passed": bool(passed), "detail": _clip(detail, _DETAIL)}
    try:
        if session.status == "NORMAL":
            session.post(EXERCISE_PATH, json=payload)
        else:
            # No usable token: the class server takes a signed report without one.
            account.client.request("POST", EXERCISE_PATH, json=payload)
    except WebullError as exc:
        if exc.http_status == 404:
            return "not reported: this simulator is not a class server"
        return f"not reported: {_clip(str(exc), 160)}"
    except Exception as exc:  # a report is a courtesy: it must never break the exercise
        return f"not reported: {type(exc).__name__}"
    return "reported to the class"


def _current_session() -> Session | None:
    from webull_nb.session.session import current

    try:
        return current()
    except LookupError:
        return None


# --- check_signature -------------------------------------------------------------------------


def _expected_parts(
    app_key: str,
    host: str,
    path: str,
    pairs: list[tuple[str, str]],
    digest: str | None,
    algorithm: str,
    timestamp: str,
    nonce: str,
) -> list[tuple[str, str]]:
    """(part name, its text) in the canonical string's order, as ``signing`` builds it."""
    params = {
        "x-app-key": app_key,
        "x-timestamp": timestamp,
        "x-signature-version": signing.SIGNATURE_VERSION,
        "x-signature-algorithm": algorithm,
        "x-signature-nonce": nonce,
        "host": host,
    }
    for key, value in pairs:
        old = params.get(key)
        params[key] = value if old is None else old + "&" + value
    parts = [("path", path)]
    parts += [(_label(key), f"{key}={value}") for key, value in sorted(params.items())]
    if digest is not None:
        parts.append(("body digest", digest))
    return parts


def _label(key: str) -> str:
    return key if key in _SIGNING_NAMES else f"parameter {key}"


def _student_parts(text: str, path: str, has_digest: bool) -> tuple[str, list[str], str | None]:
    """Split a student's canonical string into (path, ["k=v", ...], body digest or None)."""
    tokens = text.split("&")
    count = path.count("&") + 1
    got_path, tokens = "&".join(tokens[:count]), tokens[count:]
    digest = None
    if tokens and "=" not in tokens[-1] and (has_digest or _HEX_DIGEST.fullmatch(tokens[-1])):
        digest = tokens.pop()
    params: list[str] = []
    for token in tokens:
        if "=" in token or not params:
            params.append(token)
        else:  # a repeated key's next value: "b=1&2"
            params[-1] += "&" + token
    return got_path, params, digest


def _digest_hint(body: bytes, got: str, algorithm: str) -> str:
    """Why a body digest differs, when one of the usual slips explains it."""
    from webull_nb.simulator.diagnose import json_styles

    name = signing.ALGORITHMS[algorithm][0]
    if got == hashlib.new(name, body).hexdigest():
        return " (write it in upper-case hex)"
    for other_name, _ in signing.ALGORITHMS.values():
        if other_name != name and got.upper() == hashlib.new(other_name, body).hexdigest().upper():
            return f" ({algorithm} hashes the body with {name.upper()}, not {other_name.upper()})"
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return ""
    for style, data in json_styles(value):
        if data != body and got.upper() == hashlib.new(name, data).hexdigest().upper():
            return f" (you hashed {style}: hash the exact bytes you send)"
    return ""


def _compare_canonical(
    expected: list[tuple[str, str]], got: str, path: str, body: bytes, algorithm: str
) -> tuple[list[tuple[str, str, str, bool]], str]:
    """Rows comparing each part, and the words for the first that differs ("" if none)."""
    has_digest = expected[-1][0] == "body digest"
    got_path, got_params, got_digest = _student_parts(got, path, has_digest)
    rows: list[tuple[str, str, str, bool]] = [("path", path, got_path, got_path == path)]
    theirs: dict[str, str] = {}
    repeated: list[tuple[str, str]] = []
    for text in got_params:
        key = text.split("=", 1)[0]
        if key in theirs:
            repeated.append((key, text))  # counted once, it would hide a wrong string
        else:
            theirs[key] = text
    mine = [(name, text) for name, text in expected if name not in ("path", "body digest")]
    for name, text in mine:
        key = text.split("=", 1)[0]
        value = theirs.pop(key, None)
        rows.append((name, text, "(missing)" if value is None else value, value == text))
    for key, text in theirs.items():
        rows.append((f"extra {_label(key)}", "(none)", text, False))
    for key, text in repeated:
        rows.append((f"repeated {_label(key)}", "(once)", text, False))
    order_ok = [t.split("=", 1)[0] for t in got_params] == sorted(
        t.split("=", 1)[0] for t in got_params
    )
    if not order_ok:
        rows.append(("order", "sorted by name", "not sorted", False))
    want_digest = expected[-1][1] if has_digest else None
    rows.append(
        (
            "body digest",
            want_digest or "(none: no body)",
            got_digest or "(none)",
            got_digest == want_digest,
        )
    )
    for part, want, mine_got, good in rows:
        if good:
            continue
        if mine_got == "(missing)":
            return rows, f"{part} is missing: expected {want!r}"
        if part.startswith("extra"):
            return rows, f"{part}: {mine_got!r} is not part of this request"
        if part.startswith("repeated"):
            return rows, (
                f"{part}: {mine_got!r} comes a second time; each name appears once "
                "(a repeated query parameter's values are joined: name=a&b)"
            )
        if part == "order":
            return rows, "the parameters are not sorted by name"
        words = f"{part} differs: expected {want!r}, yours {mine_got!r}"
        if part == "body digest" and body and got_digest:
            words += _digest_hint(body, got_digest, algorithm)
        return rows, words
    return rows, ""


def _first_difference(want: str, got: str) -> str:
    at = next(
        (i for i, (a, b) in enumerate(zip(want, got, strict=False)) if a != b),
        min(len(want), len(got)),
    )
    start = max(0, at - 12)
    return (
        f"percent-encoding differs at character {at}: expected {want[start : at + 12]!r}, "
        f"yours {got[start : at + 12]!r}"
    )


def check_signature(
    *,
    app_key: str,
    app_secret: str | Secret[str],
    host: str,
    path: str,
    timestamp: str,
    nonce: str,
    query: Query = None,
    body: bytes | str | None = None,
    algorithm: str = "HMAC-SHA1",
    signature: str | None = None,
    canonical: str | None = None,
    string_to_sign: str | None = None,
    session: Session | None = None,
    report: bool = True,
) -> SignatureCheckResult:
    """Compare a signature (and canonical string, string to sign) made by hand, part by part.

    The first part that differs is named with both values; then the signature, whose
    mismatch is explained by re-signing the usual slips. Reported to a class server through
    ``session`` (else ``webull_nb.current()``) when ``report``.
    """
    from webull_nb.simulator.diagnose import explain_signature, mask

    if signature is None and canonical is None and string_to_sign is None:
        raise ValueError("pass what you computed: signature=, canonical= or string_to_sign=")
    secret = app_secret if isinstance(app_secret, Secret) else Secret(app_secret)
    del app_secret  # boxed: no traceback of this frame shows it
    data = body.encode("utf-8") if isinstance(body, str) else (bytes(body) if body else b"")
    pairs = query_pairs(query)
    inputs: dict[str, Any] = {
        "host": host,
        "path": path,
        "query": pairs,
        "body": data,
        "algorithm": algorithm,
        "timestamp": timestamp,
        "nonce": nonce,
    }
    want = signing.canonical_string(app_key, **inputs)
    digest_name = signing.ALGORITHMS[algorithm][0]
    digest = hashlib.new(digest_name, data).hexdigest().upper() if data else None
    expected = _expected_parts(app_key, host, path, pairs, digest, algorithm, timestamp, nonce)
    parts: list[tuple[str, str, str, bool]] = []
    message = ""
    theirs = canonical
    if theirs is None and string_to_sign is not None:
        theirs = unquote(string_to_sign)
    if theirs is not None:
        if "&".join(text for _, text in expected) == want:
            parts, message = _compare_canonical(expected, theirs, path, data, algorithm)
            if not message and theirs != want:  # a difference the parts cannot name
                message = "the canonical string differs"
                parts.append(("canonical string", _clip(want), _clip(theirs), False))
        else:  # a shape this split does not know: compare the whole string
            message = "" if theirs == want else "the canonical string differs"
            parts = [("canonical string", _clip(want), _clip(theirs), theirs == want)]
    if string_to_sign is not None:
        encoded = signing.percent_encode(want)
        good = string_to_sign == encoded
        parts.append(("string to sign", _clip(encoded), _clip(string_to_sign), good))
        if not good and not message:
            message = (
                "string to sign differs: percent-encode the canonical string"
                if string_to_sign == want
                else _first_difference(encoded, string_to_sign)
            )
    if signature is not None:
        right = signing.sign(app_key, secret, **inputs)["x-signature"]
        good = hmac.compare_digest(right.encode(), signature.strip().encode())
        parts.append(("signature", mask(right), _clip(signature.strip()), good))
        if not good and not message:
            message = (
                explain_signature(
                    signature.strip(),
                    app_key=app_key,
                    app_secret=secret,
                    host=host,
                    path=path,
                    query=urlencode(pairs),
                    body=data,
                    algorithm=algorithm,
                    timestamp=timestamp,
                    nonce=nonce,
                )
                or "the signature differs"
            )
    ok = all(good for *_, good in parts)
    if ok:
        given = (("canonical string", canonical), ("string to sign", string_to_sign))
        checked = [name for name, value in (*given, ("signature", signature)) if value is not None]
        named = " and ".join([", ".join(checked[:-1]), checked[-1]] if checked[:-1] else checked)
        message = f"right: your {named} match{'es' if len(checked) == 1 else ''}"
    parts = [
        (_hide(p, secret), _hide(e, secret), _hide(g, secret), good) for p, e, g, good in parts
    ]
    message = _hide(message, secret)
    reported = ""
    if report:
        reported = _report(session or _current_session(), "signature", ok, message)
    return SignatureCheckResult(ok=ok, parts=parts, message=message, reported=reported)


def _hide(text: str, secret: Secret[str]) -> str:
    """The text with the secret masked, as typed or percent-encoded, and also the start of
    it that a clipped value ("…") ends on."""
    # A student may paste the secret into their canonical string: it is never shown back.
    value = secret.reveal()
    if not value:
        return text
    forms = {value, signing.percent_encode(value)}
    for form in forms:
        text = text.replace(form, "********")
    if text.endswith("…"):
        head = text[:-1]
        for form in forms:
            for length in range(len(form) - 1, 3, -1):
                if head.endswith(form[:length]):
                    return head[:-length] + "********…"
    return text


# --- check_polling ---------------------------------------------------------------------------


class _TimeUp(BaseException):
    """Ends a student's loop when the exercise's time is up (a student's except Exception
    must not swallow it)."""


class _Counter:
    """Counts a session's token checks and the rate-limit refusals they meet."""

    def __init__(self, session: Session, seconds: float) -> None:
        self.session = session
        self.start = session.now()
        self.deadline = self.start + seconds
        self.times: list[float] = []
        self.refused_here = 0  # the shared budget refused before sending
        self.refused_429 = 0  # the service answered 429

    def _counted(self, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        now = self.session.now()
        if now >= self.deadline:
            raise _TimeUp
        self.times.append(now)
        try:
            return call(*args, **kwargs)
        except RateLimitError as exc:
            if exc.http_status == 429:
                self.refused_429 += 1
            else:
                self.refused_here += 1
            raise

    def most_in_a_window(self) -> int:
        """The most checks in any RATE_PERIOD seconds (the service's sliding window)."""
        most, first = 0, 0
        times = sorted(self.times)
        for last, moment in enumerate(times):
            while moment - times[first] >= RATE_PERIOD:
                first += 1
            most = max(most, last - first + 1)
        return most


@contextlib.contextmanager
def _counting(session: Session, seconds: float) -> Iterator[_Counter]:
    """Count every ``check_token`` and signed request to a check path while inside."""
    counter = _Counter(session, seconds)
    check_token, request = session.check_token, session.request

    def counted_check(*args: Any, **kwargs: Any) -> str:
        return counter._counted(check_token, *args, **kwargs)

    def counted_request(method: str, path_or_url: str, **kwargs: Any) -> Any:
        target = urlsplit(path_or_url).path
        if target.rstrip("/").endswith(_CHECK_PATHS):
            return counter._counted(request, method, path_or_url, **kwargs)
        return request(method, path_or_url, **kwargs)

    own = vars(session)
    saved = {name: own[name] for name in ("check_token", "request") if name in own}
    session.check_token = counted_check  # type: ignore[method-assign]
    session.request = counted_request  # type: ignore[method-assign]
    try:
        yield counter
    finally:
        for name in ("check_token", "request"):
            if name in saved:
                setattr(session, name, saved[name])
            else:
                vars(session).pop(name, None)


def check_polling(
    poll: Callable[[Session], Any], session: Session, *, seconds: float = 30, report: bool = True
) -> ExerciseResult:
    """Run a polling loop on the student's account for up to ``seconds``; pass when it made
    at most 10 checks in any 30 s and met no rate-limit refusal (429).

    ``poll(session)`` checks with ``session.check_token()`` (or signed requests to the check
    path); it ends by returning, or at its first check after ``seconds``.
    """
    raised = ""
    with _counting(session, seconds) as counter:
        try:
            poll(session)
        except _TimeUp:
            pass
        except RateLimitError:
            pass  # counted: the loop met the limit and did not handle it
        except Exception as exc:  # the student's code: say what it raised, do not crash
            raised = _raised(exc)
    checks = len(counter.times)
    most = counter.most_in_a_window()
    limited = counter.refused_here + counter.refused_429
    elapsed = max(0.0, min(session.now(), counter.deadline) - counter.start)
    facts = [
        ("checks", str(checks)),
        (f"most in any {RATE_PERIOD:.0f} s", f"{most} (at most {RATE_LIMIT})"),
        ("429 from the service", str(counter.refused_429)),
        ("refused by the shared budget", str(counter.refused_here)),
        ("ran for", f"{elapsed:.0f} s"),
    ]
    if raised:
        facts.append(("your loop raised", raised))
    fixes = []
    if checks == 0:
        fixes.append("your function made no check: call session.check_token() in its loop")
    if most > RATE_LIMIT:
        spacing = RATE_PERIOD / RATE_LIMIT
        fixes.append(
            f"{most} checks in {RATE_PERIOD:.0f} s (at most {RATE_LIMIT}): wait at least "
            f"{spacing:.0f} s between checks"
        )
    if limited:
        fixes.append(f"rate-limited {limited} time{'s' if limited > 1 else ''}: slow down")
    if raised:
        fixes.append(f"your loop raised {raised}")
    passed = not fixes
    message = (
        f"{checks} checks, at most {most} in any {RATE_PERIOD:.0f} s, no 429"
        if passed
        else "; ".join(fixes)
    )
    reported = _report(session, "polling", passed, message) if report else ""
    return ExerciseResult("polling", passed, message, tuple(facts), reported)


# --- check_recovery --------------------------------------------------------------------------


def _recovery_start(session: Session, report: bool) -> tuple[str, str, ExerciseResult | None]:
    """(status before, token hint before, a result when there is nothing to recover)."""
    before = session.status
    if before == "NORMAL":
        # The view may be older than the service (the teacher just expired every token).
        with contextlib.suppress(WebullError):
            session.check_token()
        before = session.status
    if before in ("EXPIRED", "INVALID"):
        return before, session.token_hint, None
    message = (
        f"nothing to recover: the token is {before}; this exercise starts from an EXPIRED "
        "or INVALID token (wait for one, or for the teacher's expire_tokens)"
    )
    reported = _report(session, "recovery", False, message) if report else ""
    return before, "", ExerciseResult("recovery", False, message, (("before", before),), reported)


def _recovery_result(
    session: Session, before: str, hint_before: str, raised: str, report: bool
) -> ExerciseResult:
    after = session.status
    facts = [("before", before), ("after", after)]
    facts.append(("a new token", "yes" if session.token_hint != hint_before else "no"))
    if raised:
        facts.append(("your function raised", raised))
    passed = after == "NORMAL"
    if passed:
        message = f"recovered: {before} → NORMAL"
    elif after == "PENDING":
        message = (
            "the new token is PENDING: approve it on the phone, and have your function wait "
            "for it (session.wait(), or await session.wait_async() with check_recovery_async)"
        )
    elif raised:
        message = f"your function raised {raised}"
    else:
        message = (
            f"the token is {after} after your function: an {before} token never comes back, "
            "create a new one (session.create_token()) and approve it"
        )
    reported = _report(session, "recovery", passed, message) if report else ""
    return ExerciseResult("recovery", passed, message, tuple(facts), reported)


def check_recovery(
    session: Session, recover: Callable[[Session], Any], *, report: bool = True
) -> ExerciseResult:
    """Run ``recover(session)`` on an EXPIRED or INVALID token; pass when it is NORMAL after.

    In a notebook prefer ``check_recovery_async``: while a cell blocks (in ``session.wait()``,
    say), the kernel holds the panel's clicks back, so the phone cannot approve the new token.
    """
    before, hint_before, nothing = _recovery_start(session, report)
    if nothing is not None:
        return nothing
    raised = ""
    try:
        outcome = recover(session)
        if inspect.isawaitable(outcome):
            with contextlib.suppress(AttributeError):
                outcome.close()  # type: ignore[union-attr]  # never awaited: no warning
            raised = (
                "TypeError: your function is async: "
                "use await teach.check_recovery_async(session, recover)"
            )
    except Exception as exc:  # the student's code: say what it raised, do not crash
        raised = _raised(exc)
    return _recovery_result(session, before, hint_before, raised, report)


async def check_recovery_async(
    session: Session, recover: Callable[[Session], Any], *, report: bool = True
) -> ExerciseResult:
    """Like ``check_recovery``, awaiting ``recover(session)`` when it is async: in a notebook
    the panel and its phone keep working meanwhile (``await`` this in a cell)."""
    before, hint_before, nothing = _recovery_start(session, report)
    if nothing is not None:
        return nothing
    raised = ""
    try:
        outcome = recover(session)
        if inspect.isawaitable(outcome):
            await outcome
    except Exception as exc:  # the student's code: say what it raised, do not crash
        raised = _raised(exc)
    return _recovery_result(session, before, hint_before, raised, report)
