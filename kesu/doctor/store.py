"""The database: it answers, and its schema is kesu's (migrations applied or pending)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kesu.doctor.model import Check, fail, ok, warn
from kesu.errors import explain
from kesu.settings import Settings, redact_url


@contextmanager
def _quiet(name: str) -> Iterator[None]:
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(level)


def _scripts() -> Any:
    from importlib import resources

    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(resources.files("kesu") / "migrations"))
    return ScriptDirectory.from_config(config)


def head_revision() -> str | None:
    return _scripts().get_current_head()


def check_store(settings: Settings) -> list[Check]:
    from sqlalchemy import text

    from kesu.store.db import current_revision, make_engine

    shown = redact_url(settings.store.url)
    try:
        engine = make_engine(settings.store.url, pool_size=1, max_overflow=0)
    except Exception as exc:  # noqa: BLE001 -- a bad URL: explained below or a bug
        failure = explain(exc, store_url=settings.store.url)
        if failure is None:
            raise
        return [fail("store.connect", failure.zh, failure.en)]
    try:
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            with _quiet("alembic"):  # "Context impl SQLiteImpl." is no finding of a check
                revision = current_revision(engine)
        except Exception as exc:  # noqa: BLE001
            failure = explain(exc, store_url=settings.store.url)
            if failure is None:
                raise
            return [fail("store.connect", failure.zh, failure.en)]
    finally:
        engine.dispose()
    out = [ok("store.connect", f"数据库可连接：{shown}", f"database reachable: {shown}")]
    head = head_revision()
    if revision == head:
        out.append(ok("store.schema", f"数据库结构为最新版本（{head}）", f"database schema up to date ({head})"))
    elif revision is None:
        out.append(warn("store.schema", "数据库还是空的（尚未建表）", "the database is empty (no tables yet)",
                        "运行 kesu db upgrade（kesu serve / worker 启动时也会自动执行）",
                        "run kesu db upgrade (kesu serve / worker also do it at start)"))
    elif _known(revision):
        out.append(warn("store.schema", f"数据库结构为 {revision}，最新为 {head}：有待执行的迁移",
                        f"database schema at {revision}, latest {head}: migrations pending",
                        "运行 kesu db upgrade（kesu serve / worker 启动时也会自动执行）",
                        "run kesu db upgrade (kesu serve / worker also do it at start)"))
    else:
        out.append(fail("store.schema", f"数据库结构 {revision} 不是此版本 kesu 所知的版本（最新 {head}）",
                        f"database schema {revision} is unknown to this kesu (latest {head})",
                        "这个数据库可能由更新版本的 kesu 升级过：升级 kesu，或换用对应的数据库",
                        "a newer kesu upgraded it: upgrade kesu or point [store] url at the right database"))
    return out


def _known(revision: str) -> bool:
    try:
        return _scripts().get_revision(revision) is not None
    except Exception:  # noqa: BLE001 -- alembic raises for an id it does not know
        return False
