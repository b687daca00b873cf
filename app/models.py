"""Imports every model so that metadata, the audit listener and Alembic see all tables."""
from app.catalog.models import ProductLine, Sku
from app.channel.models import Dealer, Hospital, Region
from app.compliance.models import (ApprovalChain, ApprovalDecision, ApprovalRequest, ApprovalStep, AuditEvent, Delegation,
                                   Document, Job, Signature)
from app.identity.models import OutboxMessage, User, UserRegion
from tenants.models import SchemaMigrationRun, Tenant, TenantDomain

__all__ = [
    "ApprovalChain", "ApprovalDecision", "ApprovalRequest", "ApprovalStep", "Delegation", "Signature",
    "AuditEvent", "Dealer", "Document", "Job", "Hospital", "OutboxMessage", "ProductLine", "Region", "SchemaMigrationRun",
    "Sku", "Tenant", "TenantDomain", "User", "UserRegion",
]
