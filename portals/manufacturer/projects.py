"""Manufacturer pages: project registrations (项目报备), conflicting ones flagged; the
detail shows each conflicting registration side by side with this one."""
from __future__ import annotations

from flask import request
from flask_login import current_user

from app.channel.queries import ChannelScope
from app.compliance import queries as audit_q
from app.compliance.models import ApprovalRequest
from app.core.db import db
from app.core.i18n import shanghai_today
from app.core.handlers import RHManufacturer, get_or_404
from app.core.htmx import render_page
from app.orders import projects
from app.orders.models import PROJECT_STATUSES

VIEWERS = ("admin", "channel_manager", "regional_manager")


class RHProjects(RHManufacturer):
    roles = VIEWERS

    def get(self):
        status = request.args.get("status", "")
        status = status if status in PROJECT_STATUSES else ""
        conflicts = request.args.get("conflicts") == "1"
        page = projects.projects_page(db.session, ChannelScope.of(current_user), request.args.get("after"), status,
                                      conflicts)
        return render_page("manufacturer/projects.html", block="results", page=page, status_filter=status,
                           today=shanghai_today(), conflicts=conflicts)


class RHProject(RHManufacturer):
    roles = VIEWERS

    def _load(self, registration_id):
        self.registration = get_or_404(projects.project_for(db.session, ChannelScope.of(current_user), registration_id))

    def get(self, registration_id):
        r = self.registration
        approval = db.session.get(ApprovalRequest, r.approval_request_id) if r.approval_request_id else None
        return render_page("manufacturer/project.html", registration=r, approval=approval,
                           others=projects.conflicting_registrations(db.session, r),
                           history=audit_q.history(db.session, "project_registrations", str(r.id)))
