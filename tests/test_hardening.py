"""What a tampered URL or form, a double submit or an out-of-region user meets on the
master-data pages: a page, never a 500, and never another region's documents."""
import base64
import json
import re
from datetime import date

from sqlalchemy import select

from app.channel import authorizations as auth_ops
from app.catalog.models import ProductLine
from app.channel.models import Dealer, Region
from app.compliance.models import Job
from app.core.coerce import as_id
from app.core.pagination import encode_cursor


def test_ids_are_ascii_digits_that_fit_a_bigint():
    assert as_id("42") == 42 and as_id(" 7 ") == 7
    assert as_id("²") is None and as_id("１２") is None  # str.isdigit() says yes to both
    assert as_id("9" * 19) is None and as_id("-1") is None and as_id("") is None and as_id(None) is None


def test_odd_ids_and_tampered_cursors_give_pages_not_errors(signed_in):
    channel = signed_in("acme", "channel")
    for path in ("/manufacturer/dealers?region=²", "/manufacturer/hospitals?dealer=²", "/manufacturer/authorizations?dealer=²",
                 "/manufacturer/price-check?sku=²", f"/manufacturer/dealers?region={'9' * 20}"):
        assert channel.get(path).status_code in (200, 400, 404), path
    bad = base64.urlsafe_b64encode(json.dumps(["x"]).encode()).decode().rstrip("=")
    pair = encode_cursor(["x", "y"])  # text where the key is (name, id)
    for path in ("/manufacturer/authorizations", "/manufacturer/dealers", "/manufacturer/price-lists", "/manufacturer/skus"):
        for cursor in (bad, pair):
            assert channel.get(f"{path}?after={cursor}").status_code == 200, (path, cursor)
    assert signed_in("acme", "dealer1").get(f"/dealer/authorizations?after={bad}").status_code == 200
    big = channel.post("/manufacturer/product-lines/save", {"line_id": "9" * 20, "code": "X", "name": "x", "name_en": "x"},
                       token_from="/manufacturer/product-lines")
    assert big.status_code == 404


def test_a_regional_manager_opens_letters_of_their_regions_only(signed_in, as_tenant, run_worker):
    with as_tenant("acme") as s:
        ids = {c: i for c, i in s.execute(select(Dealer.code, Dealer.id))}
        line = s.scalar(select(ProductLine.id).where(ProductLine.code == "IVD"))
        region = s.scalar(select(Region.id).where(Region.code == "SD-QD"))
        auth = auth_ops.create_authorization(s, {"dealer_id": ids["D-SD-001"], "product_line_id": line, "region_id": region,
                                                 "valid_from": date(2027, 1, 1), "valid_until": date(2027, 3, 31)})
        auth_id = auth.id
    with as_tenant("acme") as s:
        job_id = s.scalar(select(Job.id).where(Job.entity_type == "authorizations", Job.entity_id == str(auth_id)))
    run_worker()
    assert signed_in("acme", "sales.east").get(f"/jobs/{job_id}").status_code == 200  # 青岛 is in 华东
    assert signed_in("acme", "sales.south").get(f"/jobs/{job_id}").status_code == 404
    with as_tenant("acme") as s:
        document_id = s.scalar(select(Job.document_id).where(Job.id == job_id))
    assert signed_in("acme", "sales.south").get(f"/documents/{document_id}").status_code == 404
    download = signed_in("acme", "sales.east").get(f"/documents/{document_id}")
    assert download.status_code == 200 and download.headers["Content-Disposition"].isascii()


def test_a_scan_with_a_chinese_file_name_downloads(signed_in, as_tenant):
    from tests.test_channel import make_dealer, upload
    from tests.test_channel import TINY_PDF

    dealer_id = make_dealer(as_tenant)
    channel = signed_in("acme", "channel")
    assert upload(channel, dealer_id, TINY_PDF, filename="营业执照（副本）.pdf").status_code == 303
    page = channel.get(f"/manufacturer/dealers/{dealer_id}").get_data(as_text=True)
    link = sorted(set(re.findall(r'href="(/documents/\d+)"', page)))[-1]
    download = channel.get(link)
    assert download.status_code == 200 and download.data.startswith(b"%PDF")
    header = download.headers["Content-Disposition"]
    assert header.isascii() and "%E8%90%A5%E4%B8%9A" in header  # 营业 percent-encoded (RFC 5987)


def test_the_expiry_watch_links_each_item_to_its_page(signed_in):
    html = signed_in("acme", "channel").get("/manufacturer/expiry").get_data(as_text=True)
    assert "/manufacturer/authorizations/" in html and "/manufacturer/registrations/" in html


def test_list_filters_offer_only_the_dealers_in_the_users_reach(signed_in):
    south = signed_in("acme", "sales.south")
    east = signed_in("acme", "sales.east")
    assert "华东医疗器械有限公司" not in south.get("/manufacturer/hospitals").get_data(as_text=True)
    assert "华东医疗器械有限公司" in east.get("/manufacturer/hospitals").get_data(as_text=True)
    found = east.get("/manufacturer/authorizations?q=华东医疗").get_data(as_text=True)
    assert "华东医疗器械有限公司" in found and "上海联拓" not in found  # the search finds a dealer by name
    assert "华东医疗器械有限公司" not in south.get("/manufacturer/authorizations?q=华东医疗").get_data(as_text=True)
