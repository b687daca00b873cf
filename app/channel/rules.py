"""Pure rules about the channel (no I/O): identifiers and territory/product overlap."""
from __future__ import annotations

from datetime import date

#: GB 32100-2015: the alphabet of the unified social credit code (no I, O, S, V, Z)
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def uscc_check_char(first17: str) -> str:
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, USCC_WEIGHTS))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def uscc_valid(code: str) -> bool:
    """Whether ``code`` is a well-formed unified social credit code (统一社会信用代码):
    18 characters of the GB 32100 alphabet whose last one is the check character."""
    if len(code) != 18 or any(c not in USCC_ALPHABET for c in code):
        return False
    return uscc_check_char(code[:17]) == code[17]


# --- uploaded scans ------------------------------------------------------------------

#: the largest scan a qualification may carry
MAX_SCAN_BYTES = 10 * 1024 * 1024

#: what a scan may be, known by its first bytes (never by its name or declared type)
SCAN_SIGNATURES = (
    (b"%PDF-", "pdf", "application/pdf"),
    (b"\xff\xd8\xff", "jpg", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png", "image/png"),
)


def scan_kind(data: bytes) -> tuple[str, str] | None:
    """``(extension, content type)`` of a PDF, JPEG or PNG by its magic bytes, else None."""
    for magic, ext, content_type in SCAN_SIGNATURES:
        if data.startswith(magic):
            return ext, content_type
    return None


# --- qualifications ----------------------------------------------------------------------

def qualification_gaps(held: list[tuple[str, date | None]], today: date) -> list[str]:
    """What keeps a dealer from trading, given the ``(kind, valid_until)`` of the
    qualifications it holds: a business licence, and a medical-device operating permit
    (class III) or class-II filing, each present and not expired (None: no expiry).
    Returns the missing kinds: "business_license" and/or "device_permit"."""
    valid = {kind for kind, until in held if until is None or until >= today}
    gaps = []
    if "business_license" not in valid:
        gaps.append("business_license")
    if not valid & {"operating_permit", "class2_filing"}:
        gaps.append("device_permit")
    return gaps
