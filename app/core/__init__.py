"""Cross-cutting pieces every domain and portal uses: the database and tenant
session, the request-handler base, htmx helpers, pagination, i18n and Redis."""
