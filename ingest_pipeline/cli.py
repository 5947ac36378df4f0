"""`ingest-pipeline`: the local stack and everyday actions from a terminal."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ingest_pipeline.stack import druid_conf
from ingest_pipeline.stack.services import Stack, StackError
from ingest_pipeline.stack.settings import load_settings


def cmd_stack_up(args: argparse.Namespace) -> int:
    settings = load_settings(args.stack_dir)
    stack = Stack(settings)
    stack.up(service_timeout=args.timeout)
    print_status(stack)
    print(f"\nenv file: {settings.env_file}")
    print(f"  load it with: set -a; . {settings.env_file}; set +a")
    return 0


def cmd_stack_down(args: argparse.Namespace) -> int:
    stack = Stack(load_settings(args.stack_dir))
    stopped = stack.down(wipe=args.wipe)
    print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    if args.wipe:
        print(f"wiped {stack.settings.stack_dir}")
    return 0


def cmd_stack_status(args: argparse.Namespace) -> int:
    stack = Stack(load_settings(args.stack_dir))
    statuses = print_status(stack)
    return 0 if all(s.state in ("up", "external") for s in statuses) else 3


def print_status(stack: Stack) -> list:
    statuses = stack.status()
    print(f"{'service':<22}{'state':<11}{'pid':<9}endpoint")
    for status in statuses:
        print(f"{status.name:<22}{status.state:<11}{status.pid or '-'!s:<9}{status.url}")
    return statuses


def cmd_stack_logs(args: argparse.Namespace) -> int:
    stack = Stack(load_settings(args.stack_dir))
    names = [args.service] if args.service else ["postgres", "s3", *stack.java]
    for name in names:
        path = stack.service_log(name)
        print(f"==> {path} <==")
        from ingest_pipeline.stack.processes import tail

        print(tail(path, args.lines))
    return 0


def cmd_stack_compose_env(args: argparse.Namespace) -> int:
    for path in druid_conf.write_compose_env_files():
        print(f"wrote {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ingest-pipeline", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    stack = commands.add_parser("stack", help="the local Postgres + S3 + Druid stack")
    stack.add_argument(
        "--stack-dir",
        type=Path,
        default=None,
        help="stack folder (default $INGEST_STACK_DIR or ~/.ingest-pipeline/stack)",
    )
    stack_commands = stack.add_subparsers(dest="stack_command", required=True)
    up = stack_commands.add_parser("up", help="start every service and wait until healthy")
    up.add_argument("--timeout", type=float, default=300.0, help="seconds per service")
    up.set_defaults(func=cmd_stack_up)
    down = stack_commands.add_parser("down", help="stop the stack's own processes")
    down.add_argument("--wipe", action="store_true", help="also delete the stack's data")
    down.set_defaults(func=cmd_stack_down)
    stack_commands.add_parser("status", help="state of each service").set_defaults(
        func=cmd_stack_status
    )
    logs = stack_commands.add_parser("logs", help="tail service logs")
    logs.add_argument("service", nargs="?", help="one service (default: all)")
    logs.add_argument("-n", "--lines", type=int, default=40)
    logs.set_defaults(func=cmd_stack_logs)
    stack_commands.add_parser(
        "compose-env", help="regenerate druid/docker/*.env from druid/conf"
    ).set_defaults(func=cmd_stack_compose_env)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except StackError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
