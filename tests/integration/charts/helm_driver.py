"""Runs under the side virtualenv (.venv-helm, Python >= 3.12): the real Helm v4 library.

Called by helm.py as ``python helm_driver.py '{"op": ...}'``; prints one JSON object. Only the
calls that work in helm-sdkpy 0.1.32 (Pull crashes with a nil pointer in its shim): Package,
Push and Show, with plain HTTP for the local docker-registry servers.
"""

import asyncio
import json
import sys

from helm_sdkpy import Configuration
from helm_sdkpy.chart import Package, Push, Show


def main() -> None:
    req = json.loads(sys.argv[1])
    op = req["op"]
    cfg = Configuration(plain_http=bool(req.get("plain_http")))
    if op == "package":
        out = asyncio.run(Package(cfg).run(req["chart_dir"], req["dest"]))
    elif op == "push":
        asyncio.run(
            Push(cfg).run(req["tgz"], req["remote"], plain_http=bool(req.get("plain_http")))
        )
        out = ""
    elif op == "show":
        out = asyncio.run(Show(cfg).chart(req["ref"]))
    else:
        raise SystemExit(f"unknown op {op}")
    print(json.dumps({"result": out}))


if __name__ == "__main__":
    main()
