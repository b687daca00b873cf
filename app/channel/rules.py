"""Pure rules about the channel (no I/O): identifiers and territory/product overlap."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Mapping

from flask_babel import lazy_gettext as _l

#: How the channel's codes read in the interface, reports and exports (one place).
TIER_LABELS = {"agent": _l("Agent"), "tier1": _l("Tier 1"), "tier2": _l("Tier 2")}
DEALER_STATUS_LABELS = {"pending": _l("Pending review"), "active": _l("Active"), "inactive": _l("Inactive"),
                        "rejected": _l("Rejected")}
QUALIFICATION_KIND_LABELS = {"business_license": _l("Business licence"),
                             "operating_permit": _l("Medical-device operating permit (class III)"),
                             "class2_filing": _l("Class-II medical-device filing")}
QUALIFICATION_STATUS_LABELS = {"pending": _l("In review"), "approved": _l("Approved"), "rejected": _l("Rejected"),
                               "superseded": _l("Superseded")}

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


# --- Authorizations (授权): overlap, containment, coverage, qualification gaps ----------
# An authorization's reach as values, so the rules are checked without a database.
# products: a product line id (int) or a frozenset of SKU ids; territory: a region's
# materialised path ("/1/4/17/", its subtree is every path with that prefix) or a
# frozenset of hospital ids; window: (valid_from, valid_until), both days inclusive.


@dataclass(frozen=True)
class Reach:
    dealer_id: int
    products: int | frozenset
    territory: str | frozenset
    valid_from: date
    valid_until: date
    exclusive: bool = False
    #: the dealer's upstream (逐级授权): a dealer never conflicts with its own upstream
    upstream_id: int | None = None
    #: what the caller wants back in a conflict (an id, a code)
    key: object = None


def products_overlap(a, b, sku_line: Mapping[int, int]) -> bool:
    """Whether two product reaches share a SKU (a line shares every SKU of that line)."""
    if isinstance(a, frozenset) and isinstance(b, frozenset):
        return bool(a & b)
    if isinstance(a, frozenset):
        a, b = b, a
    if isinstance(b, frozenset):
        return any(sku_line.get(s) == a for s in b)
    return a == b


def products_within(inner, outer, sku_line: Mapping[int, int]) -> bool:
    """Whether every SKU of ``inner`` is in ``outer``."""
    if isinstance(outer, frozenset):
        return isinstance(inner, frozenset) and inner <= outer
    if isinstance(inner, frozenset):
        return all(sku_line.get(s) == outer for s in inner)
    return inner == outer


def territories_overlap(a, b, hospital_path: Mapping[int, str]) -> bool:
    """Whether two territories share a hospital or a region (one subtree in the other)."""
    if isinstance(a, frozenset) and isinstance(b, frozenset):
        return bool(a & b)
    if isinstance(a, frozenset):
        a, b = b, a
    if isinstance(b, frozenset):
        return any(hospital_path.get(h, "").startswith(a) for h in b)
    return a.startswith(b) or b.startswith(a)


def territory_within(inner, outer, hospital_path: Mapping[int, str]) -> bool:
    if isinstance(outer, frozenset):
        return isinstance(inner, frozenset) and inner <= outer
    if isinstance(inner, frozenset):
        return all(h in hospital_path and hospital_path[h].startswith(outer) for h in inner)
    return inner.startswith(outer)


def windows_overlap(a_from: date, a_until: date | None, b_from: date, b_until: date | None) -> bool:
    """Whether two inclusive date windows share a day; an empty end runs forever."""
    return (a_until is None or b_from <= a_until) and (b_until is None or a_from <= b_until)


def overlaps(a: Reach, b: Reach, sku_line: Mapping[int, int] | None = None,
             hospital_path: Mapping[int, str] | None = None) -> bool:
    """Whether two authorizations reach a common SKU × hospital × day."""
    return (windows_overlap(a.valid_from, a.valid_until, b.valid_from, b.valid_until)
            and products_overlap(a.products, b.products, sku_line or {})
            and territories_overlap(a.territory, b.territory, hospital_path or {}))


def _related(a: Reach, b: Reach) -> bool:
    return a.dealer_id == b.dealer_id or a.upstream_id == b.dealer_id or b.upstream_id == a.dealer_id


def conflicts(new: Reach, existing, sku_line: Mapping[int, int] | None = None,
              hospital_path: Mapping[int, str] | None = None) -> list[Reach]:
    """The existing authorizations ``new`` may not coexist with: another dealer's (not
    its upstream's, nor its own sub-dealer's), either side exclusive, overlapping in
    products, territory and time."""
    return [e for e in existing
            if not _related(new, e) and (new.exclusive or e.exclusive) and overlaps(new, e, sku_line, hospital_path)]


def within(inner: Reach, outer: Reach, sku_line: Mapping[int, int] | None = None,
           hospital_path: Mapping[int, str] | None = None) -> bool:
    """Whether ``inner`` lies wholly inside ``outer`` (逐级授权: a second-tier dealer's
    authorization inside its upstream's)."""
    return (outer.valid_from <= inner.valid_from and inner.valid_until <= outer.valid_until
            and products_within(inner.products, outer.products, sku_line or {})
            and territory_within(inner.territory, outer.territory, hospital_path or {}))


def covers(reach: Reach, sku_id: int, line_id: int, hospital_id: int, hospital_region_path: str, day: date) -> bool:
    """Whether an authorization lets its dealer sell ``sku_id`` to ``hospital_id`` on ``day``."""
    if not reach.valid_from <= day <= reach.valid_until:
        return False
    products = sku_id in reach.products if isinstance(reach.products, frozenset) else reach.products == line_id
    if isinstance(reach.territory, frozenset):
        return products and hospital_id in reach.territory
    return products and hospital_region_path.startswith(reach.territory)


@dataclass(frozen=True)
class Licence:
    """A dealer's qualification as the gate reads it."""

    kind: str  # business_license | operating_permit | class2_filing
    device_classes: frozenset
    valid_until: date | None
    status: str = "approved"

    def good_on(self, day: date) -> bool:
        return self.status == "approved" and (self.valid_until is None or self.valid_until >= day)


def qualification_gaps(licences, day: date, device_class: str | None = None) -> list[str]:
    """What a dealer lacks on ``day``: a business licence always; then for a class III
    device an operating permit (经营许可证) covering III, for class II a permit covering II
    or a class-II filing (备案凭证), and with no class given (may it trade at all, e.g. to
    be activated) a permit or a filing. Returns the missing kinds ("device_permit" for
    the last case)."""
    good = [lic for lic in licences if lic.good_on(day)]
    gaps = []
    if not any(lic.kind == "business_license" for lic in good):
        gaps.append("business_license")
    if device_class == "III" and not any(lic.kind == "operating_permit" and "III" in lic.device_classes for lic in good):
        gaps.append("operating_permit")
    elif device_class == "II" and not any(
            (lic.kind == "operating_permit" and "II" in lic.device_classes) or lic.kind == "class2_filing" for lic in good):
        gaps.append("class2_filing")
    elif device_class is None and not any(lic.kind in ("operating_permit", "class2_filing") for lic in good):
        gaps.append("device_permit")
    return gaps
