"""Surgery-use reports (手术报台) as a hospital files them, for the consignment
location at the hospital: the dealer portal's views with the hospital's scope."""
from __future__ import annotations

from app.core.handlers import RHHospital
from portals.dealer.surgery import SurgeryReportNewView, SurgeryReportsView, SurgeryReportView


class RHSurgeryReportNew(SurgeryReportNewView, RHHospital):
    portal_name = "hospital"


class RHSurgeryReports(SurgeryReportsView, RHHospital):
    portal_name = "hospital"
    new_view = RHSurgeryReportNew


class RHSurgeryReport(SurgeryReportView, RHHospital):
    portal_name = "hospital"
