"""Exporting a list to Excel: every row the user sees there, with the page's filters,
never more, and nothing in the file can run as a formula."""
import io
import re
import uuid

from openpyxl import load_workbook
from sqlalchemy import func, select

from app.channel.models import Dealer, Region
from app.compliance.models import Job

from tests.data_world import world_tenant  # noqa: F401  (the "world" fixture)


def export(client, list_name, **filters):
    data = {"list": list_name, "request_id": uuid.uuid4().hex, **filters}
    return client.post("/manufacturer/exports", data, token_from="/manufacturer/dealers")


def exported_rows(client, run_worker, as_tenant, list_name, **filters) -> list[list]:
    response = export(client, list_name, **filters)
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    job_id = int(re.search(r"/jobs/(\d+)$", response.headers["Location"]).group(1))
    run_worker()
    with as_tenant(client.base_url.split("//", 1)[1].split(".", 1)[0]) as session:
        job = session.get(Job, job_id)
        assert job.status == "done", job.error
        document_id = job.document_id
    download = client.get(f"/documents/{document_id}")
    assert download.status_code == 200
    sheet = load_workbook(io.BytesIO(download.data)).worksheets[0]
    return [[c.value for c in row] for row in sheet.iter_rows()]


def test_dealer_export_holds_every_dealer_the_page_lists(world, signed_in, run_worker, as_tenant):
    rows = exported_rows(signed_in(world, "channel"), run_worker, as_tenant, "dealers")
    with as_tenant(world) as session:
        total = session.scalar(select(func.count()).select_from(Dealer))
    assert len(rows) == total + 1 and len(rows[0]) == 12
    names = {r[1] for r in rows[1:]}
    assert {"华东医疗器械有限公司", "北京康泰医疗器械有限公司"} <= names


def test_regional_manager_exports_only_their_regions(world, signed_in, run_worker, as_tenant):
    client = signed_in(world, "sales.east")
    names = {r[1] for r in exported_rows(client, run_worker, as_tenant, "dealers")[1:]}
    assert "华东医疗器械有限公司" in names and "江苏恒康医疗供应链有限公司" in names
    assert "北京康泰医疗器械有限公司" not in names and "广州百仕达医疗器械有限公司" not in names
    with as_tenant(world) as session:
        jjj = session.scalar(select(Region.id).where(Region.code == "JJJ"))
    widened = exported_rows(client, run_worker, as_tenant, "dealers", region=str(jjj))
    assert widened[1:] == []  # a filter narrows, it never widens the scope
    hospitals = {r[1] for r in exported_rows(client, run_worker, as_tenant, "hospitals")[1:]}
    assert "复旦大学附属中山医院" in hospitals and "北京协和医院" not in hospitals


def test_export_follows_the_page_filters(world, signed_in, run_worker, as_tenant):
    rows = exported_rows(signed_in(world, "channel"), run_worker, as_tenant, "dealers", q="苏州")
    assert [r[1] for r in rows[1:]] == ["苏州德尔医疗科技有限公司"]


def test_text_that_looks_like_a_formula_is_written_inert(world, signed_in, run_worker, as_tenant):
    from app.channel import operations as channel_ops

    with as_tenant(world) as session:
        region = session.scalar(select(Region).where(Region.code == "SH"))
        channel_ops.add_dealer(session, "D-EVIL-" + uuid.uuid4().hex[:6].upper(), '=HYPERLINK("http://evil.example","点我")',
                               region, contact_name="@SUM(A1)", contact_phone="+86 21 1234 5678")
    client = signed_in(world, "channel")
    response = export(client, "dealers", q="HYPERLINK")
    run_worker()
    job_id = int(re.search(r"/jobs/(\d+)$", response.headers["Location"]).group(1))
    with as_tenant(world) as session:
        document_id = session.get(Job, job_id).document_id
    sheet = load_workbook(io.BytesIO(client.get(f"/documents/{document_id}").data)).worksheets[0]
    cells = [c for row in sheet.iter_rows(min_row=2) for c in row]
    assert cells and all(c.data_type != "f" for c in cells)
    values = [c.value for c in cells]
    assert '\'=HYPERLINK("http://evil.example","点我")' in values and "'@SUM(A1)" in values


def test_list_pages_offer_the_export_with_their_filters(world, signed_in):
    page = signed_in(world, "channel").get("/manufacturer/dealers?q=苏州").get_data(as_text=True)
    form = re.search(r'<form method="post" action="/manufacturer/exports".*?</form>', page, re.S).group(0)
    assert 'name="list" value="dealers"' in form and 'name="q" value="苏州"' in form
    fragment = signed_in(world, "channel").get("/manufacturer/hospitals?q=上海", headers={"HX-Request": "true"})
    assert 'name="q" value="上海"' in fragment.get_data(as_text=True)


def test_sending_the_export_twice_gives_one_job(world, signed_in):
    client = signed_in(world, "channel")
    request_id = uuid.uuid4().hex
    first = client.post("/manufacturer/exports", {"list": "dealers", "request_id": request_id}, token_from="/manufacturer/dealers")
    second = client.post("/manufacturer/exports", {"list": "dealers", "request_id": request_id}, token_from="/manufacturer/dealers")
    assert first.headers["Location"] == second.headers["Location"]


def test_exports_are_closed_to_dealers_hospitals_other_people_and_tenants(world, signed_in, run_worker, as_tenant):
    for local in ("dealer1", "hospital1"):
        client = signed_in(world, local)
        token_page = "/dealer/" if local.startswith("dealer") else "/hospital/"
        response = client.post("/manufacturer/exports", {"list": "dealers", "request_id": uuid.uuid4().hex},
                               token_from=token_page)
        assert response.status_code == 403
    assert export(signed_in(world, "channel"), "nothing").status_code == 404
    bad = signed_in(world, "channel").post("/manufacturer/exports", {"list": "dealers", "request_id": "bad id!"},
                                            token_from="/manufacturer/dealers")
    assert bad.status_code == 400
    east = signed_in(world, "sales.east")
    location = export(east, "dealers").headers["Location"]
    run_worker()
    job_id = int(location.rsplit("/", 1)[1])
    with as_tenant(world) as session:
        document_id = session.get(Job, job_id).document_id
    assert east.get(location).status_code == 200
    assert signed_in(world, "sales.south").get(location).status_code == 404
    assert signed_in(world, "sales.south").get(f"/documents/{document_id}").status_code == 404
    assert signed_in(world, "dealer1").get(f"/documents/{document_id}").status_code == 404
    assert signed_in("globex", "admin").get(location).status_code == 404
