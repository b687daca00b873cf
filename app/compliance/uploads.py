"""Uploaded files kept as evidence (qualification scans, tender documents, claim
evidence): the bytes in storage and one immutable ``documents`` row naming the record
and the dealer, so the dealer's users and whoever may see the record can download it.
What a file is comes from ``app.channel.operations.check_scan`` (its magic bytes), never
from its name."""
from __future__ import annotations

import re
import uuid

from sqlalchemy.orm import Session

from app.compliance.models import Document


def safe_stem(name: str | None, default: str) -> str:
    """A file name's stem reduced to word characters, dots and dashes (at most 80)."""
    stem = re.sub(r"[^\w.\-]+", "_", (name or default).rsplit(".", 1)[0]).strip("._")[:80]
    return stem or default


def store_upload(session: Session, name: str | None, data: bytes, ext: str, content_type: str,
                 entity: tuple[str, int], dealer_id: int | None, user=None, default_name: str = "evidence",
                 hospital_id: int | None = None) -> Document:
    """Store one checked upload for ``entity`` (table, id) and return its Document
    (downloadable by the users of ``dealer_id`` and of ``hospital_id``)."""
    from app.core.storage import get_storage
    from tenants.session import current_tenant

    key = f"{current_tenant(session).slug}/uploads/{entity[0]}/{uuid.uuid4().hex}.{ext}"
    document = Document(kind=ext, filename=f"{safe_stem(name, default_name)}.{ext}", content_type=content_type,
                        size=len(data), sha256=get_storage().put(key, data), storage_key=key, dealer_id=dealer_id,
                        hospital_id=hospital_id, entity_type=entity[0], entity_id=str(entity[1]),
                        created_by_id=getattr(user, "id", None))
    session.add(document)
    session.flush()
    return document
