"""The plain JSON HTTP API of `transcript-bot serve`: ``/api/ask``, ``/api/who``, ``/api/check``.

For scripts, curl and other programs: one POST with a JSON object, one JSON reply, the same
JSON as ``transcript-bot ask --json`` (``who --json``, ``check --json``). The Gradio endpoints
(``/gradio_api/call/ask`` ...) answer the same questions through Gradio's queue, which costs the
server several times the question itself (a session per call, an event stream per answer; see
docs/SCALING.md, "A question costs"); these routes skip it and run the core directly, at most
``WORKERS`` questions at a time (the machine's cores: more in parallel only contend for them).

Errors are one line in ``{"error": ...}``: 400 for a bad request (the core's own message),
401 without valid credentials when the server has logins (HTTP Basic, the same users and
passwords as the page's login), 404 for an unknown route, 413 for a body over ``MAX_BODY``.
"""

from __future__ import annotations

import base64
import binascii
import inspect
import json
import os
import sys
from typing import Any, Callable

from .core import TranscriptBot
from .errors import BotError
from .settings import Access

MAX_BODY = 256 * 1024  # bytes: a question, its filters and a conversation of 50 questions fit many times over
WORKERS = max(1, min(4, os.cpu_count() or 1))


class Refused(Exception):
    """A request refused with an HTTP status and a one-line message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def calls() -> dict[str, Callable[..., dict]]:
    """Each route's call into the core: the plain functions the Gradio endpoints call too. A
    request's fields are their keyword arguments, so the fields a route takes are their
    parameters (after ``bot``) and the values are checked where every request is, by the core."""
    from .web import api_answer, api_ranking
    from .web_tools import quote_result

    return {"ask": api_answer, "who": api_ranking, "check": quote_result}


def parameters(call: Callable[..., dict]) -> tuple[list[str], list[str]]:
    """(every field, the required ones) of a route's call."""
    params = list(inspect.signature(call).parameters.values())[1:]
    return [p.name for p in params], [p.name for p in params if p.default is inspect.Parameter.empty]


def parse_request(route: str, body: bytes) -> dict[str, Any]:
    """The fields of a request body for ``route``, or Refused (400/413) when the body is too
    large, not a JSON object, names a field the route does not take or lacks a required one.
    Their values are the core's to check (`core.check_request`), as for every front end."""
    if len(body) > MAX_BODY:
        raise Refused(413, f"the request body is {len(body):,} bytes; at most {MAX_BODY:,} are accepted")
    try:
        fields = json.loads(body.decode("utf-8")) if body.strip() else None
    except (UnicodeDecodeError, ValueError) as exc:
        raise Refused(400, f"the request body is not JSON ({str(exc).splitlines()[0]})") from None
    except RecursionError:  # "[[[[...]]]]" thousands deep
        raise Refused(400, "the request body is not JSON this program reads (nested too deeply)") from None
    known, required = parameters(calls()[route])
    if not isinstance(fields, dict):
        raise Refused(400, f'the request body must be a JSON object such as {{"{required[0]}": "..."}}')
    unknown = sorted(set(fields) - set(known))
    if unknown:
        raise Refused(400, f"unknown field {unknown[0]!r} for /api/{route}; it takes {', '.join(known)}")
    missing = [name for name in required if name not in fields]
    if missing:
        raise Refused(400, f"{missing[0]} is missing")
    return fields


def credentials_ok(access: Access | None, header: str | None) -> bool:
    """Whether an ``Authorization`` header lets a caller in (always, when the server has no logins)."""
    if access is None or not access.required:
        return True
    if not header or not header.lower().startswith("basic "):
        return False
    try:
        user, _, password = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return access.check_password(user, password)


def routes(bot: TranscriptBot, access: Access | None) -> list:
    """The Starlette routes to give the server's app (``demo.launch(app_kwargs={"routes": ...})``)."""
    import anyio
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    by_route = calls()
    limiter: list[Any] = []  # made on first use, inside the server's event loop

    async def endpoint(request: Request) -> JSONResponse:
        route = request.path_params["route"]
        try:
            if route not in by_route:
                raise Refused(404, f"no route /api/{route}; there are {', '.join('/api/' + r for r in by_route)}")
            if not credentials_ok(access, request.headers.get("authorization")):
                raise Refused(401, "this server has logins: send a user and password (HTTP Basic)")
            fields = parse_request(route, await _body(request))
            if not limiter:
                limiter.append(anyio.CapacityLimiter(WORKERS))
            try:
                result = await anyio.to_thread.run_sync(lambda: by_route[route](bot, **fields), limiter=limiter[0])
            except BotError as exc:
                raise Refused(400, str(exc)) from None
        except Refused as exc:
            print(f"transcript-bot serve: /api/{route} refused: {exc}", file=sys.stderr, flush=True)
            headers = {"WWW-Authenticate": 'Basic realm="transcript-bot"'} if exc.status == 401 else None
            return JSONResponse({"error": str(exc)}, status_code=exc.status, headers=headers)
        return JSONResponse(result)

    return [Route("/api/{route}", endpoint, methods=["POST"])]


async def _body(request) -> bytes:
    """The request body, read no further than one byte past MAX_BODY (a huge body is not buffered)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY:
        raise Refused(413, f"the request body is {int(declared):,} bytes; at most {MAX_BODY:,} are accepted")
    chunks, size = [], 0
    async for chunk in request.stream():
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_BODY:
            break
    return b"".join(chunks)
