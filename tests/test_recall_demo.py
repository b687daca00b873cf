"""The demo's recalls: a closed one, an active one part-way accounted for with notices in
hospital1's and dealer2's portals, a draft under investigation."""
from sqlalchemy import select

from app.service import recall_queries as q
from app.service.models import RecallCampaign


def test_demo_recalls_show_every_stage(as_tenant, signed_in):
    with as_tenant("acme") as session:
        campaigns = {c.status: c for c in session.scalars(select(RecallCampaign))}
        assert set(campaigns) == {"draft", "active", "closed"}
        total, _regions = q.effectiveness(session, campaigns["closed"].id)
        assert total.percent == 100
        total, regions = q.effectiveness(session, campaigns["active"].id)
        assert 0 < total.percent < 100 and len(regions) >= 3
        active_id = campaigns["active"].id
        assert q.live_trace(session, campaigns["draft"].id)  # the draft's analyser is somewhere
    console = signed_in("acme", "qa").get(f"/manufacturer/recalls/{active_id}").get_data(as_text=True)
    assert "江苏恒康医疗供应链有限公司" in console and "首都医科大学附属北京安贞医院" in console
    hospital1 = signed_in("acme", "hospital1").get("/hospital/recalls").get_data(as_text=True)
    assert "MC-F100 光路模块自检偶发误报" in hospital1
    assert '<a href="/hospital/recalls" aria-current="page">召回通知 <span class="count"' in hospital1  # waiting for it
    assert "MC-F100 光路模块自检偶发误报" in signed_in("acme", "dealer2").get("/dealer/recalls").get_data(as_text=True)


def test_a_dealer_that_sold_every_affected_unit_follows_up_its_hospital(as_tenant, signed_in):
    dealer2 = signed_in("acme", "dealer2")
    listed = dealer2.get("/dealer/recalls").get_data(as_text=True)
    import re

    notice_id = re.search(r'href="/dealer/recalls/(\d+)"', listed).group(1)
    page = dealer2.get(f"/dealer/recalls/{notice_id}").get_data(as_text=True)
    assert 'id="notice-downstream"' in page and "中山大学附属第一医院" in page
    assert "首都医科大学附属北京安贞医院" not in page  # not one of its hospitals
