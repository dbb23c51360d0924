"""``python -m <package>.serve.healthcheck``: exit 0 iff GET /readyz answers 200.

For Docker's HEALTHCHECK (images carry no curl). Standard library only, so it starts
fast; reads PORT like the server (default 8000) and HEALTHCHECK_TIMEOUT (seconds, 3).
"""

from __future__ import annotations

import http.client
import os
import sys


def check(port: int, timeout: float, path: str = "/readyz") -> tuple[bool, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"User-Agent": "healthcheck"})
        response = connection.getresponse()
        response.read()
        return response.status == 200, f"GET {path} -> {response.status}"
    except (OSError, http.client.HTTPException) as exc:
        return False, f"GET {path} failed: {exc}"
    finally:
        connection.close()


def main() -> int:
    try:
        port = int(os.environ.get("PORT", "8000"))
        timeout = float(os.environ.get("HEALTHCHECK_TIMEOUT", "3"))
    except ValueError as exc:
        print(f"healthcheck: bad PORT or HEALTHCHECK_TIMEOUT: {exc}", file=sys.stderr)
        return 1
    healthy, detail = check(port, timeout)
    print(f"healthcheck: {detail}", file=sys.stderr if not healthy else sys.stdout)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
