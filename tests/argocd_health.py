"""deploy/argocd's health check of a ContactSync, run as Argo CD runs it: Lua 5.1 (Argo CD's
interpreter is gopher-lua, a 5.1), the object as the global ``obj``, a table returned."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lupa.lua51 import LuaRuntime

SCRIPT = Path(__file__).parents[1] / "deploy" / "argocd" / "contactsync-health.lua"


def health_of(live: dict[str, Any]) -> dict[str, str]:
    """{"status": Healthy|Progressing|Degraded|Suspended, "message"} for one object."""
    lua = LuaRuntime(unpack_returned_tuples=True)
    lua.globals().obj = lua.table_from(live, recursive=True)
    verdict = lua.execute(SCRIPT.read_text())
    return {"status": str(verdict["status"]), "message": str(verdict["message"] or "")}
