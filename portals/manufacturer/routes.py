"""URL map of the manufacturer portal."""
from flask import Blueprint

from portals.manufacturer import channel as ch
from portals.manufacturer import handlers as h

bp = Blueprint("manufacturer", __name__, url_prefix="/manufacturer")

bp.add_url_rule("/", view_func=h.RHDashboard.as_view("dashboard"))
bp.add_url_rule("/users", view_func=h.RHUsers.as_view("users"))
bp.add_url_rule("/users/new", view_func=h.RHInviteUser.as_view("invite_user"))
bp.add_url_rule("/users/<int:user_id>", view_func=h.RHUser.as_view("user"))
bp.add_url_rule("/users/<int:user_id>/active", view_func=h.RHUserActive.as_view("user_active"))
bp.add_url_rule("/dealers", view_func=ch.RHDealers.as_view("dealers"))
bp.add_url_rule("/dealers/new", view_func=ch.RHDealerNew.as_view("dealer_new"))
bp.add_url_rule("/dealers/<int:dealer_id>", view_func=ch.RHDealerDetail.as_view("dealer"))
bp.add_url_rule("/dealers/<int:dealer_id>/edit", view_func=ch.RHDealerEdit.as_view("dealer_edit"))
bp.add_url_rule("/dealers/<int:dealer_id>/terms", view_func=ch.RHDealerTerms.as_view("dealer_terms"))
bp.add_url_rule("/dealers/<int:dealer_id>/status", view_func=ch.RHDealerStatus.as_view("dealer_status"))
bp.add_url_rule("/dealers/<int:dealer_id>/review", view_func=ch.RHDealerSubmitReview.as_view("dealer_review"))
bp.add_url_rule("/dealers/<int:dealer_id>/qualifications", view_func=ch.RHQualificationUpload.as_view("qualification_upload"))
bp.add_url_rule("/hospitals", view_func=ch.RHHospitals.as_view("hospitals"))
bp.add_url_rule("/hospitals/new", view_func=ch.RHHospitalNew.as_view("hospital_new"))
bp.add_url_rule("/hospitals/<int:hospital_id>", view_func=ch.RHHospitalDetail.as_view("hospital"))
bp.add_url_rule("/hospitals/<int:hospital_id>/edit", view_func=ch.RHHospitalEdit.as_view("hospital_edit"))
bp.add_url_rule("/hospitals/<int:hospital_id>/status", view_func=ch.RHHospitalStatus.as_view("hospital_status"))
bp.add_url_rule("/regions", view_func=ch.RHRegions.as_view("regions"))
bp.add_url_rule("/regions/new", view_func=ch.RHRegionNew.as_view("region_new"))
bp.add_url_rule("/audit", view_func=h.RHAudit.as_view("audit"))
bp.add_url_rule("/audit/export", view_func=h.RHAuditExport.as_view("audit_export"))
bp.add_url_rule("/jobs", view_func=h.RHJobs.as_view("jobs"))
bp.add_url_rule("/approvals", view_func=h.RHApprovals.as_view("approvals"))
bp.add_url_rule("/approvals/<int:request_id>", view_func=h.RHApprovalRequest.as_view("approval_request"))
bp.add_url_rule("/approvals/delegate", view_func=h.RHDelegate.as_view("delegate"))
bp.add_url_rule("/approval-chains", view_func=h.RHApprovalChains.as_view("approval_chains"))

from portals.manufacturer import authorizations as auth_h  # noqa: E402
from portals.manufacturer import pricing as pricing_h  # noqa: E402

bp.add_url_rule("/authorizations", view_func=auth_h.RHAuthorizations.as_view("authorizations"))
bp.add_url_rule("/authorizations/new", view_func=auth_h.RHAuthorizationNew.as_view("authorization_new"))
bp.add_url_rule("/authorizations/<int:auth_id>", view_func=auth_h.RHAuthorization.as_view("authorization"))
bp.add_url_rule("/authorizations/<int:auth_id>/revoke", view_func=auth_h.RHAuthorizationRevoke.as_view("authorization_revoke"))
bp.add_url_rule("/authorizations/<int:auth_id>/extend", view_func=auth_h.RHAuthorizationExtend.as_view("authorization_extend"))
bp.add_url_rule("/authorizations/<int:auth_id>/letter", view_func=auth_h.RHAuthorizationLetter.as_view("authorization_letter"))
bp.add_url_rule("/price-lists", view_func=pricing_h.RHPriceLists.as_view("price_lists"))
bp.add_url_rule("/price-lists/new", view_func=pricing_h.RHPriceListNew.as_view("price_list_new"))
bp.add_url_rule("/price-lists/<int:price_list_id>", view_func=pricing_h.RHPriceList.as_view("price_list"))
bp.add_url_rule("/price-lists/<int:price_list_id>/edit", view_func=pricing_h.RHPriceListEdit.as_view("price_list_edit"))
bp.add_url_rule("/price-lists/<int:price_list_id>/items", view_func=pricing_h.RHPriceListItemAdd.as_view("price_list_item_add"))
bp.add_url_rule("/price-lists/<int:price_list_id>/items/<int:item_id>", view_func=pricing_h.RHPriceListItem.as_view("price_list_item"))
bp.add_url_rule("/price-bands", view_func=pricing_h.RHPriceBands.as_view("price_bands"))
bp.add_url_rule("/price-bands/new", view_func=pricing_h.RHPriceBandNew.as_view("price_band_new"))
bp.add_url_rule("/price-bands/<int:band_id>", view_func=pricing_h.RHPriceBand.as_view("price_band"))
bp.add_url_rule("/tender-prices", view_func=pricing_h.RHTenderPrices.as_view("tender_prices"))
bp.add_url_rule("/tender-prices/new", view_func=pricing_h.RHTenderPriceNew.as_view("tender_price_new"))
bp.add_url_rule("/tender-prices/<int:tender_id>", view_func=pricing_h.RHTenderPrice.as_view("tender_price"))
bp.add_url_rule("/price-check", view_func=pricing_h.RHPriceCheck.as_view("price_check"))
