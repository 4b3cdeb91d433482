"""Guard the layout rules of style.md §3/§4.7."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_no_module_is_named_services_py():
    offenders = [
        str(p.relative_to(ROOT))
        for app in ("members", "services", "portal")
        for p in (ROOT / app).rglob("services.py")
    ]
    offenders += [
        str(p.relative_to(ROOT))
        for app in ("members", "services", "portal")
        for p in (ROOT / app).rglob("services")
        if p.is_dir()
    ]
    assert offenders == []


def test_every_test_directory_is_a_package():
    missing = [
        str(d.relative_to(ROOT))
        for d in [ROOT / "tests", *(ROOT / "tests").rglob("*")]
        if d.is_dir()
        and "__pycache__" not in d.parts
        and not (d / "__init__.py").exists()
    ]
    assert missing == []


def test_members_never_imports_services():
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "members").rglob("*.py")
        if "from services" in p.read_text(encoding="utf-8")
        or "import services" in p.read_text(encoding="utf-8")
    ]
    assert offenders == []
