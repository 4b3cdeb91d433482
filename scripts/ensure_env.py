"""Write a development .env with freshly generated keys; to an existing one, add
only the generated keys it lacks (a key introduced after it was written), never
changing a line that is there."""

import base64
import os
import secrets
from pathlib import Path

path = Path(__file__).resolve().parent.parent / ".env"


def generated() -> dict[str, str]:
    key = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
    return {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEYS": f"dev1:{key}",
        "BLIND_INDEX_KEY": secrets.token_urlsafe(32),
        # Keyed format (manifests name the key). An older .env keeps its
        # AUDIT_SHIP_HMAC_KEY: it still verifies the manifests written with it.
        "AUDIT_SHIP_HMAC_KEYS": f"dev1:{secrets.token_urlsafe(32)}",
    }


if not path.exists():
    lines = "".join(f"{name}={value}\n" for name, value in generated().items())
    path.write_text(
        "# Development settings written by `make run`. Never use these in production.\n"
        "DEBUG=True\n" + lines,
        encoding="utf-8",
    )
    print(f"wrote {path} with generated development keys")
else:
    text = path.read_text(encoding="utf-8")
    present = {
        line.split("=", 1)[0].strip()
        for line in text.splitlines()
        if "=" in line and not line.lstrip().startswith("#")
    }
    missing = {k: v for k, v in generated().items() if k not in present}
    if missing:
        if text and not text.endswith("\n"):
            text += "\n"
        text += "".join(f"{name}={value}\n" for name, value in missing.items())
        path.write_text(text, encoding="utf-8")
        print(f"added {', '.join(missing)} to {path}")
