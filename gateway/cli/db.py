"""``helpdesk db``: upgrade (migrate), check, backup FILE, copy --to URL."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gateway.cli import common
from gateway.errors import UsageError


def cmd_db(args: argparse.Namespace) -> int:
    from gateway.store.db import Database
    from gateway.tools import db_tools
    config = common.config(args)
    db = Database(config.database.url)
    try:
        if args.action == "upgrade":
            db.upgrade()
            print("database is at the latest schema")
        elif args.action == "check":
            problems = db_tools.check(db)
            for problem in problems:
                print(problem)
            if problems:
                return 1
            print("database is at the latest schema" + (" and passes SQLite's integrity check" if db.is_sqlite else ""))
        elif args.action == "backup":
            if not args.target:
                raise UsageError("give the file to write: helpdesk db backup FILE")
            size = db_tools.backup(db, Path(args.target))
            print(f"{args.target}: {size} bytes, a consistent copy of {db_tools.sqlite_path(db)}")
        else:  # copy
            if not args.to:
                raise UsageError("give the target: helpdesk db copy --to postgresql+psycopg://user@host/db")
            copied = db_tools.copy(db, Database(args.to), progress=_copy_progress)
            print(f"copied {sum(copied.values())} rows: " + ", ".join(f"{t} {n}" for t, n in copied.items() if n))
            print("point database.url at the new database, then start the gateway")
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    return common.EX_OK


def _copy_progress(table: str, rows: int) -> None:
    if rows % 10_000 == 0:
        print(f"  {table}: {rows} rows", file=sys.stderr)
