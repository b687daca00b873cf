"""URL map of the manufacturer portal."""
from flask import Blueprint

from portals.manufacturer import handlers as h

bp = Blueprint("manufacturer", __name__, url_prefix="/manufacturer")

bp.add_url_rule("/", view_func=h.RHDashboard.as_view("dashboard"))
bp.add_url_rule("/users", view_func=h.RHUsers.as_view("users"))
bp.add_url_rule("/users/new", view_func=h.RHInviteUser.as_view("invite_user"))
bp.add_url_rule("/users/<int:user_id>", view_func=h.RHUser.as_view("user"))
bp.add_url_rule("/users/<int:user_id>/active", view_func=h.RHUserActive.as_view("user_active"))
bp.add_url_rule("/dealers", view_func=h.RHDealers.as_view("dealers"))
bp.add_url_rule("/hospitals", view_func=h.RHHospitals.as_view("hospitals"))
bp.add_url_rule("/audit", view_func=h.RHAudit.as_view("audit"))
bp.add_url_rule("/audit/export", view_func=h.RHAuditExport.as_view("audit_export"))
bp.add_url_rule("/jobs", view_func=h.RHJobs.as_view("jobs"))
bp.add_url_rule("/approvals", view_func=h.RHApprovals.as_view("approvals"))
bp.add_url_rule("/approvals/<int:request_id>", view_func=h.RHApprovalRequest.as_view("approval_request"))
bp.add_url_rule("/approvals/delegate", view_func=h.RHDelegate.as_view("delegate"))
bp.add_url_rule("/approval-chains", view_func=h.RHApprovalChains.as_view("approval_chains"))

from portals.manufacturer import imports as data  # noqa: E402  (data migration pages)

bp.add_url_rule("/imports", view_func=data.RHImports.as_view("imports"))
bp.add_url_rule("/imports/template/<entity>", view_func=data.RHImportTemplate.as_view("import_template"))
bp.add_url_rule("/imports/<int:run_id>", view_func=data.RHImportRun.as_view("import_run"))
bp.add_url_rule("/exports", view_func=data.RHExportList.as_view("export_list"))
from portals.manufacturer import catalog as cat  # noqa: E402  (catalog and expiry watch)

bp.add_url_rule("/skus", view_func=cat.RHSkus.as_view("skus"))
bp.add_url_rule("/skus/new", view_func=cat.RHSkuNew.as_view("sku_new"))
bp.add_url_rule("/skus/<int:sku_id>", view_func=cat.RHSku.as_view("sku"))
bp.add_url_rule("/skus/<int:sku_id>/edit", view_func=cat.RHSkuEdit.as_view("sku_edit"))
bp.add_url_rule("/skus/<int:sku_id>/row", view_func=cat.RHSkuRow.as_view("sku_row"))
bp.add_url_rule("/skus/<int:sku_id>/status", view_func=cat.RHSkuStatus.as_view("sku_status"))
bp.add_url_rule("/registrations", view_func=cat.RHRegistrations.as_view("registrations"))
bp.add_url_rule("/registrations/new", view_func=cat.RHRegistrationNew.as_view("registration_new"))
bp.add_url_rule("/registrations/<int:registration_id>", view_func=cat.RHRegistration.as_view("registration"))
bp.add_url_rule("/registrations/<int:registration_id>/edit", view_func=cat.RHRegistrationEdit.as_view("registration_edit"))
bp.add_url_rule("/registrations/<int:registration_id>/row", view_func=cat.RHRegistrationRow.as_view("registration_row"))
bp.add_url_rule("/product-lines", view_func=cat.RHProductLines.as_view("product_lines"))
bp.add_url_rule("/product-lines/save", view_func=cat.RHProductLineSave.as_view("product_line_save"))
bp.add_url_rule("/expiry", view_func=cat.RHExpiry.as_view("expiry"))
bp.add_url_rule("/expiry/report", view_func=cat.RHExpiryReport.as_view("expiry_report"))
