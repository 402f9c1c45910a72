"""``lstm-forecast``: the command line. Every option is a field of :class:`tasks.adapters.settings.Settings`."""

from __future__ import annotations

import argparse
import sys
import types
import typing
from typing import Any

from flows import render
from tasks.adapters.secrets import redact, secrets_to_env
from tasks.adapters.settings import Settings, load_settings, quiet_environment

COMMANDS = {
    "ingest": ("CSV files -> the curated Delta table", ("storage", "ingest", "scale")),
    "train": ("train, evaluate, log and register a model", ("storage", "data", "model", "training", "tracking")),
    "forecast": ("forecast every series with the champion model", ("storage", "tracking", "scale")),
    "run": (
        "the main job: ingest -> train -> forecast",
        ("storage", "ingest", "data", "model", "training", "tracking", "scale"),
    ),
    "serve": ("run the scheduled deployments against the configured Prefect API", ("storage", "scale")),
    "ui": ("start the Prefect and MLflow servers on 127.0.0.1 (Ctrl-C stops both)", ("storage", "server")),
}


def _add_setting_options(p: argparse.ArgumentParser, groups: tuple[str, ...]) -> None:
    for group in groups:
        model = Settings.model_fields[group].annotation
        for name, field in model.model_fields.items():
            extra = field.json_schema_extra or {}
            flags = extra.get("flag", [f"--{name.replace('_', '-')}"])
            env = f"LSTMF_{group.upper()}__{name.upper()}"
            help_ = f"{field.description} [env {env}; default {field.default}]"
            kind, choices = _arg_type(field.annotation)
            kw: dict[str, Any] = {"dest": f"{group}.{name}", "default": None, "help": help_}
            if kind is bool:
                p.add_argument(*flags, action=argparse.BooleanOptionalAction, **kw)
            else:
                p.add_argument(*flags, type=kind, choices=choices, metavar=name.upper() if not choices else None, **kw)


def _arg_type(annotation: Any) -> tuple[type, list | None]:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) is typing.Literal:
        return str, list(typing.get_args(annotation))
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and args:
        return _arg_type(args[0])
    return (annotation if annotation in (int, float, bool) else str), None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lstm-forecast",
        description="Scheduled LSTM forecasting: Prefect flows, MLflow tracking and registry. "
        "Every option can also be set by its LSTMF_ environment variable.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for cmd, (help_, groups) in COMMANDS.items():
        p = sub.add_parser(cmd, help=help_, description=help_)
        _add_setting_options(p, groups)
        if cmd == "train":
            p.add_argument("--input", dest="ingest.input", default=None, help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    quiet_environment()
    args = vars(build_parser().parse_args(argv))
    command = args.pop("command")
    overrides = {k: v for k, v in args.items() if v is not None}
    s = load_settings(overrides)  # validate options before anything starts
    overrides = secrets_to_env(overrides)  # credentials reach the flows by the environment only
    if s.training.nproc > 1 and command != "train":
        print(f"lstm-forecast {command}: error: --nproc applies to the train command", file=sys.stderr)
        return 2
    try:
        return _dispatch(command, s, overrides)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a clear message, not a traceback, for the expected failures
        print(redact(f"lstm-forecast {command}: error: {exc}"), file=sys.stderr)
        return 1


def _dispatch(command: str, s: Settings, overrides: dict[str, Any]) -> int:
    if command == "ui":
        from tasks.adapters.servers import run_ui

        return run_ui(s)
    if command == "serve":
        from flows.serve import serve_all

        serve_all(overrides)
        return 0
    if command == "ingest":
        from flows.common import with_runner
        from flows.ingest import ingest_flow

        print(render.ingest_text(with_runner(ingest_flow, overrides)(overrides=overrides)))
    elif command == "train":
        if s.training.nproc > 1:
            from flows.ddp import launch

            return launch(s.training.nproc, overrides)
        from flows.train import train_flow

        print(render.train_text(train_flow(overrides=overrides)))
    elif command == "forecast":
        from flows.common import with_runner
        from flows.forecast import forecast_flow

        print(render.forecast_text(with_runner(forecast_flow, overrides)(overrides=overrides)))
    elif command == "run":
        from flows.pipeline import pipeline_flow

        print(render.pipeline_text(pipeline_flow(overrides=overrides)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
