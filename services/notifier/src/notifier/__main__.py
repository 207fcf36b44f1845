"""`python -m notifier` serves the API; `python -m notifier render <template> --sample` previews."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import uvicorn
from wheeldesk.settings import load_settings

from notifier.settings import NotifierSettings


def serve() -> None:
    from notifier.app import build_app

    settings = load_settings(NotifierSettings)
    uvicorn.run(
        build_app(settings),
        host=settings.notifier_host,
        port=settings.notifier_port,
        log_config=None,
        timeout_graceful_shutdown=int(settings.email_shutdown_grace) + 5,
    )


def render_preview(argv: list[str]) -> int:
    """Write `<template>.html` and `.txt` (rendered from the sample context) to a folder."""
    from notifier.render import TEMPLATES, RenderError, render
    from notifier.samples import SAMPLES

    parser = argparse.ArgumentParser(prog="python -m notifier render")
    parser.add_argument("template", choices=TEMPLATES)
    parser.add_argument("--sample", action="store_true", help="use the built-in sample context")
    parser.add_argument("--context", type=Path, help="a JSON file with the context instead")
    parser.add_argument("--out", type=Path, default=Path("var/previews"))
    args = parser.parse_args(argv)
    if args.context:
        import json

        context = json.loads(args.context.read_text())
    elif args.sample:
        context = SAMPLES[args.template]
    else:
        parser.error("give --sample or --context FILE")
    settings = load_settings(NotifierSettings)
    try:
        rendered = render(args.template, context, web_url=settings.web_public_url)
    except RenderError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    html_path = args.out / f"{args.template}.html"
    html_path.write_text(rendered.html, encoding="utf-8")
    (args.out / f"{args.template}.txt").write_text(
        f"Subject: {rendered.subject}\n\n{rendered.text}", encoding="utf-8"
    )
    print(html_path)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] == "serve":
        serve()
        return 0
    if argv[0] == "render":
        return render_preview(argv[1:])
    print(
        f"usage: python -m notifier [serve | render <template> --sample]; got {argv[0]!r}",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
