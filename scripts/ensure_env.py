"""Write a development .env with freshly generated keys, unless one exists."""

import base64
import os
import secrets
import sys
from pathlib import Path

path = Path(__file__).resolve().parent.parent / ".env"
if path.exists():
    sys.exit(0)
key = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
path.write_text(
    "# Development settings written by `make run`. Never use these in production.\n"
    "DEBUG=True\n"
    f"SECRET_KEY={secrets.token_urlsafe(50)}\n"
    f"FIELD_ENCRYPTION_KEYS=dev1:{key}\n"
    f"BLIND_INDEX_KEY={secrets.token_urlsafe(32)}\n"
    f"AUDIT_SHIP_HMAC_KEY={secrets.token_urlsafe(32)}\n",
    encoding="utf-8",
)
print(f"wrote {path} with generated development keys")
