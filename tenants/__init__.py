"""Everything about tenants: the registry in ``public``, resolution of a request's Host,
pinning a transaction to a tenant schema and role, provisioning from a template schema,
migrations across schemas, and the embedded runtime."""
from tenants.registry import TenantRef

__all__ = ["TenantRef"]
