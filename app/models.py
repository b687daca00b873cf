"""Imports every model so that metadata, the audit listener and Alembic see all tables."""
from app.catalog.models import ProductLine, Registration, Sku
from app.channel.models import Authorization, Dealer, Hospital, Qualification, Region
from app.compliance.models import (ApprovalChain, ApprovalDecision, ApprovalRequest, ApprovalStep, AuditEvent, Delegation,
                                   Document, ImportRun, Job, Signature)
from app.core.settings import Setting
from app.identity.models import OutboxMessage, User, UserRegion
from app.inventory.models import (ConsignmentCount, ConsignmentCountLine, DealerWarehouse, Lot, SellOutLine, StockBalance,
                                  StockMovement, StockThreshold, Transfer, TransferLine, Warehouse)
from app.orders.models import (Allocation, Order, OrderEvent, OrderLine, ProjectRegistration, ProjectRegistrationLine, Quote,
                               QuoteLine, ReturnLine, ReturnRequest, Shipment, ShipmentLine, SurgeryReport, SurgeryReportLine)
from app.finance.models import (Invoice, InvoiceApplication, InvoiceLine, Payment, PaymentReminder, Statement,
                                StatementDispute, StatementLine, StatementRun, StatementRunItem)
from app.pricing.models import PriceBand, PriceList, PriceListItem, PriceRequest, PriceRequestLine, TenderPrice
from app.rebates.models import (PriceProtection, PriceProtectionLine, RebateClaim, RebateLedgerEntry, RebatePeriod,
                                RebatePolicy, SettlementRun)
from app.service.models import (InstalledUnit, RecallCampaign, RecallHolding, RecallNotice, RecallScope, ServicePart,
                                ServicePlan, ServiceTicket, ServiceVisit, SlaPolicy, TicketEvent)
from tenants.models import SchemaMigrationRun, Tenant, TenantDomain

__all__ = [
    "ApprovalChain", "ApprovalDecision", "ApprovalRequest", "ApprovalStep", "Delegation", "Signature",
    "AuditEvent", "Authorization", "Dealer", "Document", "ImportRun", "Job", "Hospital", "OutboxMessage", "PriceBand",
    "PriceList", "PriceListItem", "ProductLine", "Qualification", "Region", "Registration", "SchemaMigrationRun", "Sku",
    "Tenant", "TenantDomain", "TenderPrice", "User", "UserRegion", "Setting",
    "ConsignmentCount", "ConsignmentCountLine", "DealerWarehouse", "Lot", "SellOutLine", "StockBalance", "StockMovement",
    "StockThreshold", "Transfer", "TransferLine", "Warehouse", "Allocation", "Order", "OrderEvent", "OrderLine",
    "ProjectRegistration", "ProjectRegistrationLine", "Quote", "QuoteLine", "ReturnLine", "ReturnRequest", "Shipment",
    "ShipmentLine", "SurgeryReport", "SurgeryReportLine",
    "Invoice", "InvoiceApplication", "InvoiceLine", "Payment", "PaymentReminder", "Statement", "StatementDispute",
    "StatementLine", "StatementRun", "StatementRunItem", "PriceRequest", "PriceRequestLine", "PriceProtection", "PriceProtectionLine",
    "RebateClaim", "RebateLedgerEntry", "RebatePeriod", "RebatePolicy", "SettlementRun",
    "InstalledUnit", "RecallCampaign", "RecallHolding", "RecallNotice", "RecallScope", "ServicePart", "ServicePlan",
    "ServiceTicket", "ServiceVisit", "SlaPolicy", "TicketEvent",
]
